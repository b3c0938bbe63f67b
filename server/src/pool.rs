//! Warm containers: for each sandbox, containers started ahead of demand,
//! each waiting for exactly one run. Creation and removal happen in a
//! background task, never on a request's path; a request that finds the
//! pool empty starts its own container instead of failing.
//!
//! Pools follow demand under one [`Budget`] for all sandboxes: a pool
//! keeps its minimum, grows by one each time a run finds it empty (so a
//! burst grows it quickly, up to its maximum and the budget), and gives
//! back one container per quiet period (no run taking a container and
//! none running) until it is at its minimum again.
//!
//! The pool reaches the engine through [`Launcher`], which [`Engine`]
//! implements; its tests use a fake one in paused time.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
// The runtime's clock, which tests can pause and advance.
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::{Container, ContainerSpec, Engine, EngineError};
use crate::metrics::Metrics;

/// What a pool needs of the engine: containers that start and then wait
/// for their one job.
pub trait Launcher: Send + Sync + 'static {
    type Container: Warm;
    /// A started container of `spec` whose agent is ready for a job.
    fn launch(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<Self::Container, EngineError>> + Send;
}

/// A started container as the pool holds it while it waits.
pub trait Warm: Send + 'static {
    fn id(&self) -> &str;
    /// The memory it holds while it waits, as its agent reported.
    fn idle_memory(&self) -> u64;
    /// Waits until `taken` says (`Some(true)`: taken; `Some(false)`: given
    /// up) or until it is unusable (`None`).
    fn idle(&mut self, taken: oneshot::Receiver<()>) -> impl Future<Output = Option<bool>> + Send;
}

impl Launcher for Engine {
    type Container = Container;

    async fn launch(&self, spec: &ContainerSpec) -> Result<Container, EngineError> {
        Container::launch(self, spec).await
    }
}

impl Warm for Container {
    fn id(&self) -> &str {
        Container::id(self)
    }

    fn idle_memory(&self) -> u64 {
        Container::idle_memory(self)
    }

    async fn idle(&mut self, taken: oneshot::Receiver<()>) -> Option<bool> {
        Container::idle(self, taken).await
    }
}

/// What a warm container is assumed to hold until one has been measured.
const IDLE_BYTES_GUESS: u64 = 8 << 20;

/// The warm containers of every sandbox together: at most `containers` of
/// them, holding at most `bytes` of memory while idle; a pool not used for
/// `quiet` (no take, no run in flight) gives one back.
pub struct Budget {
    containers: usize,
    bytes: u64,
    quiet: Duration,
    used: Mutex<(usize, u64)>,
    /// Wakes pools waiting for room when a reservation ends.
    freed: Notify,
}

impl Budget {
    pub fn new(containers: usize, bytes: u64, quiet: Duration) -> Arc<Self> {
        Arc::new(Budget {
            containers,
            bytes,
            quiet,
            used: Mutex::new((0, 0)),
            freed: Notify::new(),
        })
    }

    /// Room for one more warm container of `bytes`, if there is any.
    fn reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let mut used = self.used.lock().expect("not poisoned");
        if used.0 >= self.containers || used.1 + bytes > self.bytes {
            return None;
        }
        *used = (used.0 + 1, used.1 + bytes);
        Some(Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Warm containers and their bytes now.
    #[cfg(test)]
    fn used(&self) -> (usize, u64) {
        *self.used.lock().expect("not poisoned")
    }
}

/// One warm container's share of the budget, given back when dropped (the
/// container was taken by a run, or removed).
struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().expect("not poisoned");
        *used = (used.0 - 1, used.1 - self.bytes);
        drop(used);
        self.budget.freed.notify_waiters();
    }
}

/// How many warm containers a sandbox keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Kept even when the sandbox is not used.
    pub min: usize,
    /// At most, however busy it is.
    pub max: usize,
}

/// One sandbox's warm containers (of the engine's, or of a fake's).
pub struct Pool<L: Launcher = Engine> {
    slot: Arc<Slot<L::Container>>,
    stop: CancellationToken,
    refill: Mutex<Option<JoinHandle<()>>>,
}

struct Slot<C> {
    spec: ContainerSpec,
    size: Size,
    /// What the pool aims for now, between `size.min` and `size.max`.
    target: AtomicUsize,
    /// Runs in flight that took a container (or found none): their
    /// replacements wait until they end, so that starting a container
    /// never competes with the program it serves for the host's CPU.
    holding: AtomicUsize,
    /// When a run last took from the pool or ended, or the pool last
    /// shrank: a quiet period counts from the latest of these.
    last_busy: Mutex<Instant>,
    /// The memory an idle container of this sandbox was last seen to hold.
    idle_bytes: AtomicU64,
    idle: Mutex<VecDeque<Idle<C>>>,
    /// Wakes the refill task: after a take, or when an idle container died.
    wake: Notify,
    budget: Arc<Budget>,
    metrics: Arc<Metrics>,
}

/// An idle container, owned by a watcher task until a request takes it.
struct Idle<C> {
    take: oneshot::Sender<()>,
    watcher: JoinHandle<Option<C>>,
    _room: Reservation,
}

impl<C> Slot<C> {
    fn mark_busy(&self) {
        *self.last_busy.lock().expect("not poisoned") = Instant::now();
    }

    fn update_gauge(&self, idle: usize) {
        self.metrics
            .warm
            .get_or_create(&Metrics::sandbox(&self.spec.sandbox))
            .set(idle as i64);
    }

    /// Idle containers still usable, forgetting the ones that died.
    fn live(&self) -> usize {
        let mut idle = self.idle.lock().expect("not poisoned");
        idle.retain(|i| !i.watcher.is_finished());
        idle.len()
    }

    /// After a quiet period, aims one lower (down to the minimum) and
    /// removes what is over the aim.
    fn shrink_if_quiet(&self) {
        let quiet = self.holding.load(Ordering::SeqCst) == 0
            && self.last_busy.lock().expect("not poisoned").elapsed() >= self.budget.quiet;
        let target = self.target.load(Ordering::SeqCst);
        if !quiet || target <= self.size.min {
            return;
        }
        self.target.store(target - 1, Ordering::SeqCst);
        self.mark_busy();
        let mut idle = self.idle.lock().expect("not poisoned");
        while idle.len() > target - 1 {
            // Dropping the take sender makes the watcher drop (remove) it.
            idle.pop_back();
        }
    }
}

impl<L: Launcher> Pool<L> {
    /// Keeps between `size.min` and `size.max` containers of `spec` ready,
    /// within `budget` (none when the maximum is 0).
    pub fn start(
        engine: Arc<L>,
        spec: ContainerSpec,
        size: Size,
        budget: Arc<Budget>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let slot = Arc::new(Slot {
            spec,
            size,
            target: AtomicUsize::new(size.min),
            holding: AtomicUsize::new(0),
            last_busy: Mutex::new(Instant::now()),
            idle_bytes: AtomicU64::new(IDLE_BYTES_GUESS),
            idle: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            budget,
            metrics,
        });
        let stop = CancellationToken::new();
        let refill = (size.max > 0).then(|| {
            let (slot, stop) = (slot.clone(), stop.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = refill(slot, engine) => {}
                }
            })
        });
        Pool {
            slot,
            stop,
            refill: Mutex::new(refill),
        }
    }

    /// A ready container, or `None` when none is ready now (the pool then
    /// aims one higher). Either way the pool refills for this run only
    /// when the returned [`Hold`] is dropped: when the run has ended.
    pub async fn take(&self) -> (Option<L::Container>, Hold) {
        let slot = &self.slot;
        slot.mark_busy();
        slot.holding.fetch_add(1, Ordering::SeqCst);
        let hold = Hold(slot.clone());
        loop {
            let next = slot.idle.lock().expect("not poisoned").pop_front();
            let Some(idle) = next else {
                let grown = (slot.target.load(Ordering::SeqCst) + 1).min(slot.size.max);
                slot.target.store(grown, Ordering::SeqCst);
                return (None, hold);
            };
            let _ = idle.take.send(());
            // None: it died while idle; its watcher dropped (removed) it.
            if let Ok(Some(container)) = idle.watcher.await {
                return (Some(container), hold);
            }
        }
    }

    /// Stops refilling and removes every idle container.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let refill = self.refill.lock().expect("not poisoned").take();
        if let Some(r) = refill {
            let _ = r.await;
        }
        let idle: Vec<Idle<L::Container>> = self
            .slot
            .idle
            .lock()
            .expect("not poisoned")
            .drain(..)
            .collect();
        for i in idle {
            drop(i.take);
            let _ = i.watcher.await;
        }
        self.slot.update_gauge(0);
    }
}

/// A run's claim on its pool's refill, given up (and the refill woken)
/// when dropped.
pub struct Hold(Arc<dyn Held>);

/// What a [`Hold`] needs of its pool, whatever its containers.
trait Held: Send + Sync {
    fn release(&self);
}

impl<C: Send> Held for Slot<C> {
    fn release(&self) {
        self.mark_busy();
        self.holding.fetch_sub(1, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Keeps `slot` at its target, launching the missing containers side by
/// side as far as the budget allows, backing off while the engine fails
/// (down, image missing) and recovering when it answers.
async fn refill<L: Launcher>(slot: Arc<Slot<L::Container>>, engine: Arc<L>) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(250);
    let mut backoff = FIRST_BACKOFF;
    loop {
        slot.shrink_if_quiet();
        let count = slot.live();
        slot.update_gauge(count);
        let target = slot
            .target
            .load(Ordering::SeqCst)
            .saturating_sub(slot.holding.load(Ordering::SeqCst));
        let bytes = slot.idle_bytes.load(Ordering::SeqCst);
        let rooms: Vec<Reservation> = (count..target)
            .map_while(|_| slot.budget.reserve(bytes))
            .collect();
        if rooms.is_empty() {
            // Full, or waiting for room: a take, a death, freed budget or
            // the next quiet check wakes it.
            tokio::select! {
                _ = slot.wake.notified() => {}
                _ = slot.budget.freed.notified(), if count < target => {}
                _ = tokio::time::sleep(slot.budget.quiet / 2) => {}
            }
            continue;
        }
        let launches = rooms
            .into_iter()
            .map(|room| async { engine.launch(&slot.spec).await.map(|c| (c, room)) });
        let mut failed = None;
        for launched in futures_util::future::join_all(launches).await {
            match launched {
                Ok((container, room)) => {
                    // What its agent measured is what the next one reserves.
                    let measured = container.idle_memory();
                    if measured > 0 {
                        slot.idle_bytes.store(measured, Ordering::SeqCst);
                    }
                    let (take, taken) = oneshot::channel();
                    let watcher = tokio::spawn(watch(container, taken, Arc::downgrade(&slot)));
                    slot.idle.lock().expect("not poisoned").push_back(Idle {
                        take,
                        watcher,
                        _room: room,
                    });
                }
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            None => backoff = FIRST_BACKOFF,
            Some(e) => {
                if backoff == FIRST_BACKOFF {
                    tracing::warn!(sandbox = %slot.spec.sandbox, error = %e, "cannot fill the pool; retrying");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Holds an idle container until it is taken (then hands it over) or until
/// it becomes unusable (then drops it, which removes it, and wakes refill).
async fn watch<C: Warm>(
    mut container: C,
    taken: oneshot::Receiver<()>,
    slot: Weak<Slot<C>>,
) -> Option<C> {
    match container.idle(taken).await {
        Some(true) => return Some(container),
        // The pool is shutting down or shrinking.
        Some(false) => return None,
        None => {}
    }
    if let Some(slot) = slot.upgrade() {
        tracing::debug!(sandbox = %slot.spec.sandbox, container = container.id(), "idle container is gone");
        slot.wake.notify_one();
    }
    None
}

#[cfg(test)]
mod tests;

//! Warm containers: per sandbox, a few containers started ahead of demand,
//! each waiting for exactly one run. Creation and removal happen in
//! background tasks, never on a request's path; a request that finds the
//! pool empty starts its own container instead of failing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::{Container, ContainerSpec, Engine};
use crate::metrics::Metrics;

pub struct Pool {
    slots: HashMap<String, Arc<Slot>>,
    stop: CancellationToken,
    refills: Mutex<Vec<JoinHandle<()>>>,
}

struct Slot {
    spec: ContainerSpec,
    target: usize,
    idle: Mutex<VecDeque<Idle>>,
    /// Wakes the refill task: after a take, or when an idle container died.
    wake: Notify,
    metrics: Arc<Metrics>,
}

/// An idle container, owned by a watcher task until a request takes it.
struct Idle {
    take: oneshot::Sender<()>,
    watcher: JoinHandle<Option<Container>>,
}

impl Slot {
    fn update_gauge(&self, idle: usize) {
        self.metrics
            .warm
            .get_or_create(&Metrics::sandbox(&self.spec.sandbox))
            .set(idle as i64);
    }
}

impl Pool {
    /// Starts one refill task per sandbox whose pool size is above zero.
    pub fn start(
        engine: Arc<Engine>,
        specs: impl IntoIterator<Item = (ContainerSpec, usize)>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let stop = CancellationToken::new();
        let mut slots = HashMap::new();
        let mut refills = Vec::new();
        for (spec, target) in specs {
            if target == 0 {
                continue;
            }
            let slot = Arc::new(Slot {
                spec,
                target,
                idle: Mutex::new(VecDeque::new()),
                wake: Notify::new(),
                metrics: metrics.clone(),
            });
            slots.insert(slot.spec.sandbox.clone(), slot.clone());
            let (engine, stop) = (engine.clone(), stop.clone());
            refills.push(tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = refill(slot, engine) => {}
                }
            }));
        }
        Pool {
            slots,
            stop,
            refills: Mutex::new(refills),
        }
    }

    /// A ready container for `sandbox`, or `None` when none is ready now.
    pub async fn take(&self, sandbox: &str) -> Option<Container> {
        let slot = self.slots.get(sandbox)?;
        loop {
            let next = slot.idle.lock().expect("not poisoned").pop_front();
            slot.wake.notify_one();
            let idle = next?;
            let _ = idle.take.send(());
            // None: it died while idle; its watcher dropped (removed) it.
            if let Ok(Some(container)) = idle.watcher.await {
                return Some(container);
            }
        }
    }

    /// How many containers are ready for `sandbox` now.
    pub fn warm(&self, sandbox: &str) -> usize {
        self.slots.get(sandbox).map_or(0, |s| {
            let idle = s.idle.lock().expect("not poisoned");
            idle.iter().filter(|i| !i.watcher.is_finished()).count()
        })
    }

    /// Whether every sandbox's pool is full.
    pub fn is_full(&self) -> bool {
        self.slots
            .iter()
            .all(|(name, slot)| self.warm(name) >= slot.target)
    }

    /// Stops refilling and removes every idle container.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let refills = std::mem::take(&mut *self.refills.lock().expect("not poisoned"));
        for r in refills {
            let _ = r.await;
        }
        let mut watchers = Vec::new();
        for slot in self.slots.values() {
            let idle: Vec<Idle> = slot.idle.lock().expect("not poisoned").drain(..).collect();
            // Dropping the take sender makes the watcher drop its container.
            watchers.extend(idle.into_iter().map(|i| i.watcher));
            slot.update_gauge(0);
        }
        for w in watchers {
            let _ = w.await;
        }
    }
}

/// Keeps `slot` at its target size, launching the missing containers
/// side by side, backing off while the engine fails (down, image missing)
/// and recovering when it answers.
async fn refill(slot: Arc<Slot>, engine: Arc<Engine>) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(250);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let count = {
            let mut idle = slot.idle.lock().expect("not poisoned");
            idle.retain(|i| !i.watcher.is_finished());
            idle.len()
        };
        slot.update_gauge(count);
        if count >= slot.target {
            slot.wake.notified().await;
            continue;
        }
        let launches = (count..slot.target).map(|_| engine.launch(&slot.spec));
        let mut failed = None;
        for launched in futures_util::future::join_all(launches).await {
            match launched {
                Ok(container) => {
                    let (take, taken) = oneshot::channel();
                    let watcher = tokio::spawn(watch(container, taken, Arc::downgrade(&slot)));
                    slot.idle
                        .lock()
                        .expect("not poisoned")
                        .push_back(Idle { take, watcher });
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
async fn watch(
    mut container: Container,
    taken: oneshot::Receiver<()>,
    slot: Weak<Slot>,
) -> Option<Container> {
    let taken = {
        let unusable = container.until_unusable();
        tokio::select! {
            biased;
            r = taken => Some(r.is_ok()),
            _ = unusable => None,
        }
    };
    match taken {
        Some(true) => return Some(container),
        // The pool is shutting down.
        Some(false) => return None,
        None => {}
    }
    if let Some(slot) = slot.upgrade() {
        tracing::debug!(sandbox = %slot.spec.sandbox, container = container.id(), "idle container is gone");
        slot.wake.notify_one();
    }
    None
}

//! Warm containers: for one sandbox, a few containers started ahead of
//! demand, each waiting for exactly one run. Creation and removal happen in
//! a background task, never on a request's path; a request that finds the
//! pool empty starts its own container instead of failing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::{Container, ContainerSpec, Engine};
use crate::metrics::Metrics;

/// One sandbox's warm containers.
pub struct Pool {
    slot: Arc<Slot>,
    stop: CancellationToken,
    refill: Mutex<Option<JoinHandle<()>>>,
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
    /// Keeps `target` containers of `spec` ready (none when it is 0).
    pub fn start(
        engine: Arc<Engine>,
        spec: ContainerSpec,
        target: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        let slot = Arc::new(Slot {
            spec,
            target,
            idle: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            metrics,
        });
        let stop = CancellationToken::new();
        let refill = (target > 0).then(|| {
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

    /// A ready container, or `None` when none is ready now.
    pub async fn take(&self) -> Option<Container> {
        let slot = &self.slot;
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

    /// Stops refilling and removes every idle container.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let refill = self.refill.lock().expect("not poisoned").take();
        if let Some(r) = refill {
            let _ = r.await;
        }
        let idle: Vec<Idle> = self
            .slot
            .idle
            .lock()
            .expect("not poisoned")
            .drain(..)
            .collect();
        // Dropping the take sender makes the watcher drop its container.
        for i in idle {
            drop(i.take);
            let _ = i.watcher.await;
        }
        self.slot.update_gauge(0);
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
        let launches = (count..slot.target).map(|_| Container::launch(&engine, &slot.spec));
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

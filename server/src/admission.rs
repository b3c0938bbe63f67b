//! Admission: a bounded number of runs at once, whose memory limits
//! together stay within a budget, and a bounded queue behind them. Nothing
//! waits without a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

/// Every run slot and every queue place is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

pub struct Admission {
    slots: Arc<Semaphore>,
    /// MiB of memory limits the runs in flight may have together.
    memory: Arc<Semaphore>,
    memory_total: u32,
    waiting: AtomicUsize,
    max_waiting: usize,
    metrics: Arc<Metrics>,
}

impl Admission {
    pub fn new(
        max_running: usize,
        memory_mb: u32,
        max_waiting: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        let memory_total = memory_mb.max(1);
        Admission {
            slots: Arc::new(Semaphore::new(max_running.max(1))),
            memory: Arc::new(Semaphore::new(memory_total as usize)),
            memory_total,
            waiting: AtomicUsize::new(0),
            max_waiting,
            metrics,
        }
    }

    /// A run slot and `memory_mb` of the budget (all of it, for a sandbox
    /// larger than the budget), at once or after a wait in the queue;
    /// `Busy` when the queue is full. Dropping the future leaves the queue.
    pub async fn admit(&self, memory_mb: u64) -> Result<Slot, Busy> {
        let mb = memory_mb.clamp(1, self.memory_total as u64) as u32;
        if let Ok(run) = self.slots.clone().try_acquire_owned()
            && let Ok(memory) = self.memory.clone().try_acquire_many_owned(mb)
        {
            return Ok(Slot {
                _run: run,
                _memory: memory,
            });
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let _place = QueuePlace(self);
        self.metrics
            .queued
            .set(self.waiting.load(Ordering::SeqCst) as i64);
        let never_closed = "the semaphores are never closed";
        let run = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect(never_closed);
        let memory = self
            .memory
            .clone()
            .acquire_many_owned(mb)
            .await
            .expect(never_closed);
        Ok(Slot {
            _run: run,
            _memory: memory,
        })
    }
}

/// A run's place among the runs in flight, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    _run: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
}

/// A place in the queue, given up when the wait ends or is cancelled.
struct QueuePlace<'a>(&'a Admission);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        let left = self.0.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
        self.0.metrics.queued.set(left as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_and_queue_are_bounded() {
        let adm = Arc::new(Admission::new(1, 1000, 1, Arc::new(Metrics::new())));
        let first = adm.admit(10).await.unwrap();
        let queued = tokio::spawn({
            let adm = adm.clone();
            async move { adm.admit(10).await.map(drop) }
        });
        while adm.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(adm.admit(10).await.unwrap_err(), Busy);
        drop(first);
        assert_eq!(queued.await.unwrap(), Ok(()));
        assert_eq!(adm.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn runs_together_stay_within_the_memory_budget() {
        let adm = Arc::new(Admission::new(8, 300, 8, Arc::new(Metrics::new())));
        let a = adm.admit(200).await.unwrap();
        let b = tokio::spawn({
            let adm = adm.clone();
            async move { adm.admit(200).await.map(drop) }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !b.is_finished(),
            "a second 200 MB run waits while 300 MB is the budget"
        );
        drop(a);
        assert_eq!(b.await.unwrap(), Ok(()));
        let huge = adm.admit(100_000).await;
        assert!(
            huge.is_ok(),
            "a sandbox over the budget takes all of it, not forever"
        );
    }
}

//! Admission: a bounded number of runs at once and a bounded queue behind
//! them. Nothing waits without a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

/// Every run slot and every queue place is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

pub struct Admission {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    metrics: Arc<Metrics>,
}

impl Admission {
    pub fn new(max_running: usize, max_waiting: usize, metrics: Arc<Metrics>) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(max_running.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            metrics,
        }
    }

    /// A run slot, at once or after a wait in the queue; `Busy` when the
    /// queue is full. Dropping the future leaves the queue.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let _place = QueuePlace(self);
        self.metrics
            .queued
            .set(self.waiting.load(Ordering::SeqCst) as i64);
        Ok(self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed"))
    }
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
        let adm = Arc::new(Admission::new(1, 1, Arc::new(Metrics::new())));
        let first = adm.admit().await.unwrap();
        let queued = tokio::spawn({
            let adm = adm.clone();
            async move { adm.admit().await.map(drop) }
        });
        while adm.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(adm.admit().await.unwrap_err(), Busy);
        drop(first);
        assert_eq!(queued.await.unwrap(), Ok(()));
        assert_eq!(adm.waiting.load(Ordering::SeqCst), 0);
    }
}

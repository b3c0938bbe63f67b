//! Measuring for the benchmarks: latencies of repeated runs at a given
//! concurrency, and their percentiles.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Requests per cell, and the time after which a cell stops early.
pub const REQUESTS: usize = 200;
pub const CELL_TIME: Duration = Duration::from_secs(25);

/// Latencies of one way of running, and how many runs failed.
#[derive(Default)]
pub struct Cell {
    pub latencies: Vec<Duration>,
    pub failures: usize,
    pub elapsed: Duration,
}

impl Cell {
    /// The `p` quantile of the latencies, in ms.
    pub fn pct(&self, p: f64) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        if l.is_empty() {
            return f64::NAN;
        }
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l[i].as_secs_f64() * 1000.0
    }

    /// Runs per second.
    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `op` `REQUESTS` times (or for `CELL_TIME`) with `concurrency` in flight.
pub async fn measure<F, Fut>(concurrency: usize, op: F) -> Cell
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..REQUESTS {
        let permit = gate.clone().acquire_owned().await.expect("open");
        if started.elapsed() > CELL_TIME {
            break;
        }
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = op().await;
            drop(permit);
            (t.elapsed(), r)
        }));
    }
    let mut cell = Cell::default();
    for t in tasks {
        match t.await.expect("task") {
            (d, Ok(())) => cell.latencies.push(d),
            (_, Err(e)) => {
                if cell.failures == 0 {
                    eprintln!("  failure: {e}");
                }
                cell.failures += 1;
            }
        }
    }
    cell.elapsed = started.elapsed();
    cell
}

/// Runs `op` `n` times, one after the other, each after `pause` (a
/// reader's pace: the pools refill in the pause).
pub async fn paced<F, Fut>(n: usize, pause: Duration, op: F) -> Cell
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut cell = Cell::default();
    let started = Instant::now();
    for _ in 0..n {
        tokio::time::sleep(pause).await;
        let t = Instant::now();
        match op().await {
            Ok(()) => cell.latencies.push(t.elapsed()),
            Err(e) => {
                if cell.failures == 0 {
                    eprintln!("  failure: {e}");
                }
                cell.failures += 1;
            }
        }
    }
    cell.elapsed = started.elapsed();
    cell
}

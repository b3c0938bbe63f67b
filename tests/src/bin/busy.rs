//! The background load of `make test-busy`: a second snipbox server with
//! every sandbox's warm pool, serving a steady stream of runs (the load
//! test's mix, hostile share included) at `BUSY_CONCURRENCY` (default 2),
//! each stream pausing `BUSY_PAUSE_MS` between runs (default 500: about
//! two runs a second in all, a third of what the engine can start here),
//! plus `BUSY_HOGS` threads that spin on the CPU (default 0), until SIGTERM
//! or SIGINT. It prints a line a minute (runs answered, refused, malformed,
//! the load average) and a summary when it ends; it writes `BUSY_READY`'s
//! file (when set) once its server is warm and the stream has begun.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use snipbox_tests::traffic::{Answer, pick, send};
use snipbox_tests::{Server, client, load_average};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    program_failed: AtomicUsize,
    refused: AtomicUsize,
    malformed: AtomicUsize,
}

impl Tally {
    fn count(&self, answer: &Answer) {
        let n = match answer {
            Answer::Ran { ok: true } => &self.ok,
            Answer::Ran { ok: false } => &self.program_failed,
            Answer::Refused => &self.refused,
            Answer::Malformed(e) => {
                eprintln!("busy: malformed answer: {e}");
                &self.malformed
            }
        };
        n.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self, since: Instant) -> String {
        let ok = self.ok.load(Ordering::Relaxed);
        let failed = self.program_failed.load(Ordering::Relaxed);
        let secs = since.elapsed().as_secs_f64();
        format!(
            "busy: {:.0} s, {} runs ({:.1}/s): {ok} ok, {failed} program failed, {} refused, {} malformed; load average {}",
            secs,
            ok + failed,
            (ok + failed) as f64 / secs,
            self.refused.load(Ordering::Relaxed),
            self.malformed.load(Ordering::Relaxed),
            load_average(),
        )
    }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Threads that spin until `stop` is set.
fn hogs(n: usize, stop: &Arc<AtomicBool>) {
    for _ in 0..n {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        });
    }
}

#[tokio::main]
async fn main() {
    let concurrency = knob("BUSY_CONCURRENCY", 2);
    let pause = Duration::from_millis(knob("BUSY_PAUSE_MS", 500) as u64);
    // Its own instance name: `make check-leftovers` passes over busy-*.
    let instance = format!("busy-{}", std::process::id());
    let server = Server::start(&[("SNIPBOX_INSTANCE", &instance)]);
    server.wait_warm("python").await;
    let url = server.url("/v1/exec");
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let streams: Vec<_> = (0..concurrency)
        .map(|_| {
            let (url, tally, stop, next) = (url.clone(), tally.clone(), stop.clone(), next.clone());
            tokio::spawn(async move {
                let client = client();
                while !stop.load(Ordering::Relaxed) {
                    let (sandbox, code) = pick(next.fetch_add(1, Ordering::Relaxed));
                    tally.count(&send(&client, &url, sandbox, code).await);
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect();
    hogs(knob("BUSY_HOGS", 0), &stop);
    println!(
        "busy: a server with warm pools ({}), {concurrency} streams of runs {pause:?} apart, {} CPU hogs",
        server.base,
        knob("BUSY_HOGS", 0)
    );
    if let Ok(path) = std::env::var("BUSY_READY") {
        std::fs::write(path, "ready\n").expect("the ready file");
    }

    let mut term = signal(SignalKind::terminate()).expect("SIGTERM");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT");
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    minute.tick().await;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = minute.tick() => println!("{}", tally.line(started)),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in streams {
        let _ = tokio::time::timeout(Duration::from_secs(40), s).await;
    }
    println!("{} (end)", tally.line(started));
    server.stop(Duration::from_secs(60));
}

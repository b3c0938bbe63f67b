//! `make loadtest`: 2000 requests at concurrency 32 against a real server,
//! mixed sandboxes, with a share of hostile snippets. Every request must be
//! answered with well-formed JSON (200, or 429/503 with Retry-After), and no
//! container may remain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use snipbox_tests::traffic::{Answer, pick, send};
use snipbox_tests::{Server, client, containers, eventually};
use tokio::sync::Semaphore;

const REQUESTS: usize = 2000;
const CONCURRENCY: usize = 32;

#[derive(Default)]
struct Tally {
    ok: usize,
    program_failed: usize,
    refused: usize,
    malformed: Vec<String>,
    latencies: Vec<Duration>,
}

#[tokio::main]
async fn main() {
    let server = Server::start(&[]);
    let url = server.url("/v1/exec");
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let permit = gate.clone().acquire_owned().await.expect("open");
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (sandbox, code) = pick(i);
            let t = Instant::now();
            let answer = send(&client(), &url, sandbox, code).await;
            drop(permit);
            (t.elapsed(), answer)
        }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        let (elapsed, outcome) = t.await.expect("task");
        match outcome {
            Answer::Ran { ok: true } => tally.ok += 1,
            Answer::Ran { ok: false } => tally.program_failed += 1,
            Answer::Refused => tally.refused += 1,
            Answer::Malformed(e) => tally.malformed.push(e),
        }
        tally.latencies.push(elapsed);
    }
    let wall = started.elapsed();
    let peak_rss_mib = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    let instance = server.instance.clone();
    let status = server.stop(Duration::from_secs(30));
    let label = format!("snipbox.instance={instance}");
    eventually(Duration::from_secs(10), || containers(&label).is_empty());
    let left = containers(&label).len();

    tally.latencies.sort();
    let pct =
        |p: f64| tally.latencies[((tally.latencies.len() - 1) as f64 * p) as usize].as_millis();
    let answered = tally.ok + tally.program_failed + tally.refused;
    println!();
    println!(
        "| requests | answered, well-formed | 200 ok | 200 program failed | 429/503 + Retry-After | malformed or unanswered | p50 ms | p99 ms | wall s | server peak RSS | containers left |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {REQUESTS} | {answered} | {} | {} | {} | {} | {} | {} | {:.0} | {peak_rss_mib} | {left} |",
        tally.ok,
        tally.program_failed,
        tally.refused,
        tally.malformed.len(),
        pct(0.5),
        pct(0.99),
        wall.as_secs_f64()
    );
    println!(
        "concurrency {CONCURRENCY}; hostile share 4 % (loop, fork bomb, flood, memory bomb); server exit {status}"
    );
    for m in tally.malformed.iter().take(5) {
        println!("malformed: {m}");
    }
    if answered != REQUESTS || left > 0 || !status.success() {
        std::process::exit(1);
    }
}

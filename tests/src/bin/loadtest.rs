//! `make loadtest`: 2000 requests at concurrency 32 against a real server,
//! mixed sandboxes, with a share of hostile snippets. Every request must be
//! answered with well-formed JSON (200, or 429/503 with Retry-After), and no
//! container may remain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use snipbox_tests::{Server, client, containers, eventually, request};
use tokio::sync::Semaphore;

const REQUESTS: usize = 2000;
const CONCURRENCY: usize = 32;

/// (sandbox, code, share in a hundred)
const MIX: &[(&str, &str, usize)] = &[
    ("python", "print(sum(range(100)))", 40),
    (
        "javascript",
        "console.log([1, 2, 3].map(x => x * 2).join(','))",
        20,
    ),
    ("shell", "echo hello; ls / | wc -l", 15),
    ("sqlite", "select 1 + 1;", 10),
    (
        "c",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }",
        11,
    ),
    // Hostile: an infinite loop, a fork bomb, an output flood, a memory bomb.
    ("python", "while True: pass", 1),
    (
        "python",
        "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
        1,
    ),
    ("shell", "yes flood", 1),
    ("python", "a = []\nwhile True: a.append(' ' * 10**7)", 1),
];

#[derive(Default)]
struct Tally {
    ok: usize,
    program_failed: usize,
    refused: usize,
    malformed: Vec<String>,
    latencies: Vec<Duration>,
}

fn pick(i: usize) -> (&'static str, &'static str) {
    let slot = (i * 37) % 100;
    let mut acc = 0;
    for (sandbox, code, share) in MIX {
        acc += share;
        if slot < acc {
            return (sandbox, code);
        }
    }
    (MIX[0].0, MIX[0].1)
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
            let resp = client()
                .post(&url)
                .json(&request(sandbox, code))
                .send()
                .await;
            let elapsed = t.elapsed();
            drop(permit);
            let resp = match resp {
                Ok(r) => r,
                Err(e) => return (elapsed, Err(format!("no answer: {e}"))),
            };
            let status = resp.status().as_u16();
            let retry_after = resp.headers().contains_key("retry-after");
            let body = resp.text().await.unwrap_or_default();
            let parsed: Result<snipbox_wire::api::ExecResponse, _> = serde_json::from_str(&body);
            (
                elapsed,
                match (status, parsed) {
                    (200, Ok(r)) => Ok(Some(r.ok)),
                    (429 | 503, Ok(_)) if retry_after => Ok(None),
                    (s, _) => Err(format!("{s}: {body}")),
                },
            )
        }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        let (elapsed, outcome) = t.await.expect("task");
        match outcome {
            Ok(Some(true)) => tally.ok += 1,
            Ok(Some(false)) => tally.program_failed += 1,
            Ok(None) => tally.refused += 1,
            Err(e) => tally.malformed.push(e),
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

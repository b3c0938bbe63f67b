//! `make bench`, `snipbox verify`: its wall time on the seven generators'
//! test sites (built as the tests build them) against the baseline of the
//! same run, the sum of its runs' durations (as the server measured them,
//! from its JUnit file) divided by the concurrency; and its peak memory.
//! On a server with warm pools (`--server`), then on the local engine
//! (which starts its own server and pools first).
//! Target: at most 1.3 × the baseline.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Instant;

use snipbox_tests::sites::{self, GENERATORS};
use snipbox_tests::{Server, server_binary};

const CONCURRENCY: usize = 2;
const ROUNDS: usize = 3;

/// One `snipbox verify` of the pages: wall seconds, the sum of its runs'
/// durations in seconds, its peak resident memory in MiB, and the blocks.
fn verify_once(pages: &[String], server: Option<&str>) -> (f64, f64, f64, usize) {
    let junit = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(server_binary());
    cmd.arg("verify")
        .args(["--concurrency", &CONCURRENCY.to_string()])
        .args(["--junit", junit.path().to_str().unwrap()])
        .args(pages)
        .stdout(std::process::Stdio::null());
    if let Some(base) = server {
        cmd.args(["--server", base]);
    }
    let started = Instant::now();
    // Reaped by wait4 below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("snipbox verify starts");
    let (status, rusage) = wait4(child.id() as i32);
    let wall = started.elapsed().as_secs_f64();
    // The pages promise one wrong output each: exit 1 is the expected end.
    assert_eq!(status.code(), Some(1), "snipbox verify ended {status:?}");
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    let times: Vec<f64> = xml
        .split("<testcase ")
        .skip(1)
        .filter_map(|case| {
            let at = case.find(" time=\"")? + 7;
            case[at..].split('"').next()?.parse().ok()
        })
        .collect();
    (
        wall,
        times.iter().sum(),
        rusage.ru_maxrss as f64 / 1024.0,
        times.len(),
    )
}

/// Waits for the child `pid`: how it ended and what it used.
fn wait4(pid: i32) -> (std::process::ExitStatus, libc::rusage) {
    let mut status = 0;
    // SAFETY: plain out-parameters for a child this process started.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4");
    (std::process::ExitStatus::from_raw(status), usage)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(label: &str, samples: &[(f64, f64, f64, usize)]) {
    let wall = median(samples.iter().map(|s| s.0).collect());
    let runs = median(samples.iter().map(|s| s.1).collect());
    let baseline = runs / CONCURRENCY as f64;
    let rss = samples.iter().map(|s| s.2).fold(0.0, f64::max);
    let ratio = wall / baseline;
    println!(
        "| {label} | {} | {wall:.2} s | {runs:.2} s | {baseline:.2} s | {ratio:.2} × {} | {rss:.0} MiB |",
        samples[0].3,
        if ratio <= 1.3 {
            "(within 1.3 ×)"
        } else {
            "(over 1.3 ×)"
        }
    );
}

#[tokio::main]
async fn main() {
    let pages: Vec<String> = GENERATORS
        .iter()
        .map(|g| sites::build(g).join("index.html").display().to_string())
        .collect();
    println!(
        "## snipbox verify: the seven test sites, concurrency {CONCURRENCY}, median of {ROUNDS} (load average {})\n",
        snipbox_tests::load_average()
    );
    println!(
        "| runs on | blocks | wall | sum of runs | baseline: sum / concurrency | wall / baseline | peak memory of verify |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let server = Server::start(&[]);
    server.wait_warm("python").await;
    // One round first, unmeasured: every sandbox's pool has grown.
    verify_once(&pages, Some(&server.base));
    let remote: Vec<_> = (0..ROUNDS)
        .map(|_| verify_once(&pages, Some(&server.base)))
        .collect();
    report("a server with warm pools (`--server`)", &remote);
    drop(server);
    let local: Vec<_> = (0..ROUNDS).map(|_| verify_once(&pages, None)).collect();
    report("the local engine (its own server, pools started)", &local);
}

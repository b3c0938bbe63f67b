//! `make bench`, `snipbox verify`: its wall time on the seven generators'
//! test sites (built as the tests build them) against the baseline of the
//! same run, the sum of its runs' durations divided by the concurrency; and
//! its peak memory. A run's duration is the time verify waited for it
//! (request to answer: the JUnit file's `time`); the program's own time in
//! its container (the server's `duration`, the JUnit property
//! `duration_ms`) is printed beside it, and the difference is the
//! containers' start. On a server with warm pools (`--server`), then on the
//! local engine (which starts its own server and pools first).
//! Target: at most 1.3 × the baseline.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Instant;

use snipbox_tests::sites::{self, GENERATORS};
use snipbox_tests::{Server, server_binary};

const CONCURRENCY: usize = 2;
const ROUNDS: usize = 3;

/// One `snipbox verify` of the pages.
struct Sample {
    /// Seconds from start to exit.
    wall: f64,
    /// The sum of the runs' times as verify waited for them, seconds.
    runs: f64,
    /// The sum of the programs' times in their containers, seconds.
    programs: f64,
    /// Peak resident memory, MiB.
    rss: f64,
    blocks: usize,
}

fn verify_once(pages: &[String], server: Option<&str>) -> Sample {
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
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit file is XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let runs = cases
        .iter()
        .map(|c| {
            c.attribute("time")
                .and_then(|t| t.parse::<f64>().ok())
                .expect("a time")
        })
        .sum();
    let programs = cases
        .iter()
        .flat_map(|c| c.descendants())
        .filter(|p| p.has_tag_name("property") && p.attribute("name") == Some("duration_ms"))
        .filter_map(|p| p.attribute("value")?.parse::<f64>().ok())
        .sum::<f64>()
        / 1000.0;
    Sample {
        wall,
        runs,
        programs,
        rss: rusage.ru_maxrss as f64 / 1024.0,
        blocks: cases.len(),
    }
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

fn report(label: &str, samples: &[Sample]) {
    let wall = median(samples.iter().map(|s| s.wall).collect());
    let runs = median(samples.iter().map(|s| s.runs).collect());
    let programs = median(samples.iter().map(|s| s.programs).collect());
    let baseline = runs / CONCURRENCY as f64;
    let rss = samples.iter().map(|s| s.rss).fold(0.0, f64::max);
    let ratio = wall / baseline;
    println!(
        "| {label} | {} | {wall:.2} s | {runs:.2} s | {programs:.2} s | {baseline:.2} s | {ratio:.2} × {} | {:.2} × | {rss:.0} MiB |",
        samples[0].blocks,
        if ratio <= 1.3 {
            "(within 1.3 ×)"
        } else {
            "(over 1.3 ×)"
        },
        wall / (programs / CONCURRENCY as f64),
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
        "| runs on | blocks | wall | sum of runs | of which programs | baseline: sum of runs / concurrency | wall / baseline | wall / (programs / concurrency) | peak memory of verify |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
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

//! `make bench`, part: what snipbox's own containment costs, beside the
//! engine's defaults, in one run on one machine. The same Python image and
//! the same run user (a UID of the run range) under three syscall filters:
//! snipbox's profile (what every run gets), the engine's default profile
//! (what runs had before), and none. Two figures each: the time of one
//! system call (`getppid`, measured by the program itself over 300,000
//! calls, so that container start-up is not in it), and a whole `docker
//! run` of `python3 -c pass` (the filter is loaded at every start). The
//! rounds alternate between the filters, so a change in the machine's load
//! falls on all three alike.
//!
//! A UID per run adds nothing to a run's path: the UID is chosen when a
//! warm container is made, and the agent writes the container's user
//! database before it announces itself (`bench` prints the warm runs).

use std::process::Command;
use std::time::Instant;

use snipbox::engine::seccomp;
use snipbox::engine::uids::{self, UidRange};

const ROUNDS: usize = 7;
const CALLS: u32 = 300_000;
const IMAGE: &str = "snipbox/python:latest";

/// `docker run` of `python3 -c CODE` under `filter`; what it printed.
/// (`None`: the engine's default profile).
fn docker_run(filter: Option<&str>, code: &str) -> String {
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--rm", "--network", "none", "--read-only"])
        .args(["--tmpfs", "/tmp", "--cap-drop", "ALL"])
        .args(["--security-opt", "no-new-privileges"]);
    if let Some(filter) = filter {
        cmd.args(["--security-opt", filter]);
    }
    let out = cmd
        .args(["--user", &uids::user(UidRange::DEFAULT.first())])
        .args([
            "--label",
            "snipbox=1",
            "--label",
            "snipbox.instance=bench-seccomp",
        ])
        .args(["--entrypoint", "python3", IMAGE, "-c", code])
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "{filter:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let profile = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(profile.path(), seccomp::profile(false)).expect("the profile is written");
    let filters = [
        (
            "snipbox's profile",
            Some(format!("seccomp={}", profile.path().display())),
        ),
        ("the engine's default profile", None),
        (
            "no filter (unconfined)",
            Some("seccomp=unconfined".to_string()),
        ),
    ];
    let loop_code = format!(
        "import os, time\nt = time.perf_counter()\nfor _ in range({CALLS}): os.getppid()\n\
         print((time.perf_counter() - t) / {CALLS} * 1e9)"
    );
    let mut call_ns = vec![Vec::new(); filters.len()];
    let mut run_ms = vec![Vec::new(); filters.len()];
    for _ in 0..ROUNDS {
        for (i, (_, filter)) in filters.iter().enumerate() {
            let filter = filter.as_deref();
            let ns: f64 = docker_run(filter, &loop_code).parse().expect("a number");
            call_ns[i].push(ns);
            let started = Instant::now();
            docker_run(filter, "pass");
            run_ms[i].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    println!();
    println!(
        "What the syscall filter costs ({ROUNDS} rounds, alternating; medians; {IMAGE}, \
         the run user, runc):"
    );
    println!();
    println!("| filter | one getppid() call, ns | docker run of `python3 -c pass`, ms |");
    println!("| --- | ---: | ---: |");
    for (i, (name, _)) in filters.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0} |",
            median(call_ns[i].clone()),
            median(run_ms[i].clone())
        );
    }
}

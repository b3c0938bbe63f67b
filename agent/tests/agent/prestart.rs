//! `prestart`: the first step started ahead of its job, told go by a pipe.

use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use snipbox_wire::agent::{Boot, OutputCaps};

use crate::common::{Agent, argv, count_sleeps, encode, job, marker, sh, workdir};

fn boot_with(prestart: Vec<String>, workdir: &std::path::Path) -> Boot {
    Boot {
        prestart: Some(prestart),
        workdir: workdir.to_str().unwrap().into(),
        ..Boot::default()
    }
}

/// Waits for go on fd 3 the way a prestarted interpreter would.
const WAIT_FOR_GO: &str = "head -c1 <&$SNIPBOX_GO_FD >/dev/null";

#[test]
fn a_prestarted_step_runs_the_jobs_files_and_stdin_after_go() {
    let dir = workdir();
    let step = sh(&format!(
        "t0=$(date +%s%N); echo before go; echo oops >&2; {WAIT_FOR_GO}; \
         echo fd=$SNIPBOX_GO_FD started=$t0; cat main.txt; cat"
    ));
    let mut agent = Agent::host(Some(&boot_with(step.clone(), dir.path())));
    agent.expect_ready();
    sleep(Duration::from_millis(300));
    let sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let job = job(dir.path(), vec![step]);
    agent.send(&encode(&job, &[("main.txt", b"from the job\n")], b"typed"));
    let out = agent.outcome(OutputCaps::default());
    assert_eq!(out.exit.exit_code, 0, "{out:?}");
    assert_eq!(out.stderr, "", "what it said before go is dropped");
    let (head, rest) = out.stdout.split_once('\n').expect("a first line");
    assert_eq!(rest, "from the job\ntyped", "the job's files and stdin");
    let started: u128 = head
        .strip_prefix("fd=3 started=")
        .unwrap_or_else(|| panic!("{head:?}"))
        .parse()
        .unwrap();
    assert!(started < sent, "it was started before the job was sent");
}

#[test]
fn the_deadline_of_a_prestarted_step_counts_from_go() {
    let dir = workdir();
    let step = sh(&format!("{WAIT_FOR_GO}; sleep 0.3; echo done"));
    let mut agent = Agent::host(Some(&boot_with(step.clone(), dir.path())));
    agent.expect_ready();
    // Longer than the job's timeout: a deadline counted from the start
    // would already have passed. After go, 0.3 s of work has the rest of
    // 2.5 s: room for a busy host.
    sleep(Duration::from_millis(3000));
    let mut job = job(dir.path(), vec![step]);
    job.timeout_ms = 2500;
    agent.send(&encode(&job, &[], b""));
    let out = agent.outcome(OutputCaps::default());
    assert!(!out.exit.timed_out, "{out:?}");
    assert_eq!(out.stdout, "done\n");
}

#[test]
fn a_prestarted_step_still_has_a_deadline() {
    let dir = workdir();
    let step = sh(&format!("{WAIT_FOR_GO}; echo go; sleep 10"));
    let mut agent = Agent::host(Some(&boot_with(step.clone(), dir.path())));
    agent.expect_ready();
    let mut job = job(dir.path(), vec![step]);
    job.timeout_ms = 300;
    agent.send(&encode(&job, &[], b""));
    let out = agent.outcome(OutputCaps::default());
    assert!(out.exit.timed_out, "{out:?}");
    assert_eq!((out.stdout.as_str(), out.exit.signal), ("go\n", None));
}

#[test]
fn a_job_with_another_first_step_kills_the_prestarted_one() {
    let dir = workdir();
    let mark = marker();
    let prestart = argv(&["sleep", &mark.to_string()]);
    let mut agent = Agent::host(Some(&boot_with(prestart, dir.path())));
    agent.expect_ready();
    let job = job(dir.path(), vec![sh(&count_sleeps(mark))]);
    agent.send(&encode(&job, &[], b""));
    let out = agent.outcome(OutputCaps::default());
    assert_eq!(out.stdout, "0\n", "the prestarted program is gone");
}

#[test]
fn a_prestarted_program_that_ended_before_go_runs_again() {
    let dir = workdir();
    // It does not wait for go: by the time the job comes it has ended.
    let step = sh("echo run >> runs.log; echo hi");
    let mut agent = Agent::host(Some(&boot_with(step.clone(), dir.path())));
    agent.expect_ready();
    // Until it has run and ended (a fixed wait is too short on a busy host).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while (!dir.path().join("runs.log").exists() || agent.has_running_children())
        && std::time::Instant::now() < deadline
    {
        sleep(Duration::from_millis(20));
    }
    agent.send(&encode(&job(dir.path(), vec![step]), &[], b""));
    let out = agent.outcome(OutputCaps::default());
    assert_eq!(out.stdout, "hi\n");
    let runs = std::fs::read_to_string(dir.path().join("runs.log")).unwrap();
    assert_eq!(runs, "run\nrun\n", "once prestarted, once for the job");
}

#[test]
fn a_prestarted_first_step_hands_over_to_the_next() {
    let dir = workdir();
    let compile = sh(&format!("{WAIT_FOR_GO}; cp src.txt bin.txt; cat"));
    let mut agent = Agent::host(Some(&boot_with(compile.clone(), dir.path())));
    agent.expect_ready();
    let job = job(dir.path(), vec![compile, sh("cat bin.txt; cat")]);
    agent.send(&encode(&job, &[("src.txt", b"built\n")], b"stdin"));
    let out = agent.outcome(OutputCaps::default());
    // Only the last step reads the stdin: the first sees its end at once.
    assert_eq!(out.stdout, "built\nstdin");
    assert_eq!(out.exit.exit_code, 0);
}

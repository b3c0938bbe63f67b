//! Interactive jobs: the program's stdin is fed as the server sends it,
//! the agent says when the program no longer reads it, and the CPU time
//! the steps use is bounded apart from the wall-clock deadline.

use std::time::{Duration, Instant};

use snipbox_wire::agent::{Feed, Frame, Job, OutputCaps};

use crate::common::{Agent, encode, job, sh, workdir};

fn interactive(dir: &std::path::Path, script: &str, timeout_ms: u64, cpu_ms: u64) -> Job {
    Job {
        interactive: true,
        timeout_ms,
        cpu_ms,
        ..job(dir, vec![sh(script)])
    }
}

/// Starts `job` on a new agent and waits for its `Started`.
fn started(job: &Job) -> Agent {
    let mut agent = Agent::host(None);
    agent.expect_ready();
    agent.send(&encode(job, &[], b""));
    assert!(matches!(agent.next().1, Frame::Started));
    agent
}

/// Reads frames until stdout so far ends with `text`; what was read.
fn until_stdout(agent: &Agent, text: &str) -> String {
    let mut seen = String::new();
    while !seen.ends_with(text) {
        match agent.next().1 {
            Frame::Stdout(b) => seen += &String::from_utf8_lossy(&b),
            Frame::Exit(e) => panic!("the job ended before {text:?} (stdout {seen:?}): {e:?}"),
            _ => {}
        }
    }
    seen
}

#[test]
fn two_prompts_are_answered_in_turn_and_the_end_of_input_is_told() {
    let dir = workdir();
    let script =
        "printf 'name? '; read a; echo \"hi $a\"; printf 'age? '; read b; echo \"$a is $b\"";
    let mut agent = started(&interactive(dir.path(), script, 10_000, 5_000));
    assert_eq!(until_stdout(&agent, "name? "), "name? ");
    agent.send(&Feed::Data(b"Ada\n".to_vec()).encode());
    until_stdout(&agent, "hi Ada\nage? ");
    agent.send(&Feed::Data(b"36\n".to_vec()).encode());
    let out = agent.outcome(OutputCaps::default());
    assert_eq!(out.stdout, "Ada is 36\n");
    assert_eq!(out.exit.exit_code, 0, "{:?}", out.exit);
    let closed = out
        .frames
        .iter()
        .position(|(_, f)| *f == Frame::InputClosed);
    assert!(
        closed.is_some(),
        "the program's exit closes its input: {:?}",
        out.frames
    );
}

#[test]
fn end_of_input_ends_a_program_reading_to_the_end() {
    let dir = workdir();
    let mut agent = started(&interactive(dir.path(), "cat; echo done", 10_000, 5_000));
    agent.send(&Feed::Data(b"one\n".to_vec()).encode());
    until_stdout(&agent, "one\n");
    agent.send(&Feed::Eof.encode());
    let out = agent.outcome(OutputCaps::default());
    assert_eq!(out.stdout, "done\n");
    assert_eq!(out.exit.exit_code, 0);
    assert!(!out.exit.timed_out);
}

#[test]
fn a_program_that_closes_its_stdin_is_told_before_it_ends() {
    let dir = workdir();
    let agent = started(&interactive(
        dir.path(),
        "exec 0<&-; sleep 1; echo done",
        10_000,
        5_000,
    ));
    let started = Instant::now();
    let first = agent.next().1;
    assert_eq!(first, Frame::InputClosed, "told first");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "told while it still runs"
    );
    let out = agent.outcome(OutputCaps::default());
    assert_eq!(out.stdout, "done\n");
    // Said once.
    assert!(!out.frames.iter().any(|(_, f)| *f == Frame::InputClosed));
}

#[test]
fn a_busy_loop_ends_at_its_cpu_time_not_the_deadline() {
    let dir = workdir();
    let agent = started(&interactive(dir.path(), "while :; do :; done", 30_000, 700));
    let began = Instant::now();
    let out = agent.outcome(OutputCaps::default());
    let took = began.elapsed();
    assert!(out.exit.timed_out && out.exit.cpu_limited, "{:?}", out.exit);
    assert!(
        took >= Duration::from_millis(700),
        "ended after {took:?}, before its CPU time"
    );
    assert!(
        took < Duration::from_secs(20),
        "ended after {took:?}: the CPU limit did not hold"
    );
}

#[test]
fn a_reader_waiting_for_input_ends_at_the_deadline_not_its_cpu_time() {
    let dir = workdir();
    let agent = started(&interactive(dir.path(), "read a; echo never", 1_500, 500));
    let began = Instant::now();
    let out = agent.outcome(OutputCaps::default());
    assert!(
        out.exit.timed_out && !out.exit.cpu_limited,
        "{:?}",
        out.exit
    );
    assert!(
        began.elapsed() >= Duration::from_millis(1_400),
        "it waited past its CPU time"
    );
    assert_eq!(out.stdout, "");
}

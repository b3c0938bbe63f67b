//! How a step ended, and what a step may not do to the agent.

use crate::common::{job, run, sh, workdir};

#[test]
fn a_signal_that_ends_the_program_is_reported() {
    let dir = workdir();
    let out = run(
        None,
        &job(dir.path(), vec![sh("echo about to crash; kill -SEGV $$")]),
        &[],
        b"",
    );
    assert_eq!(out.stdout, "about to crash\n");
    assert_eq!((out.exit.exit_code, out.exit.signal), (139, Some(11)));
    assert!(!out.exit.timed_out && !out.exit.truncated);
}

#[test]
fn the_agents_own_kill_is_not_reported_as_a_signal() {
    let dir = workdir();
    let mut slow = job(dir.path(), vec![sh("sleep 10")]);
    slow.timeout_ms = 200;
    let out = run(None, &slow, &[], b"");
    assert!(out.exit.timed_out);
    assert_eq!((out.exit.exit_code, out.exit.signal), (137, None));

    let mut flood = job(dir.path(), vec![sh("yes")]);
    flood.output_limit = 1000;
    let out = run(None, &flood, &[], b"");
    assert!(out.exit.truncated);
    assert_eq!((out.stdout.len(), out.exit.signal), (1000, None));
}

#[test]
fn a_plain_exit_has_no_signal() {
    let dir = workdir();
    let out = run(None, &job(dir.path(), vec![sh("exit 139")]), &[], b"");
    assert_eq!((out.exit.exit_code, out.exit.signal), (139, None));
}

#[test]
fn programs_are_the_oom_killers_first_choice_and_dump_no_core() {
    let dir = workdir();
    let step = sh("cat /proc/self/oom_score_adj; ulimit -c; ulimit -H -c");
    let out = run(None, &job(dir.path(), vec![step]), &[], b"");
    assert_eq!(out.stdout, "1000\n0\n0\n");
}

#[test]
fn sigterm_from_a_program_is_ignored() {
    // Outside a container the agent is the step's parent; inside, PID 1.
    // Either way the sender has a pid in the agent's namespace.
    let dir = workdir();
    let step = sh("kill -TERM $PPID; sleep 0.2; echo still here");
    let out = run(None, &job(dir.path(), vec![step]), &[], b"");
    assert_eq!(
        (out.stdout.as_str(), out.exit.exit_code),
        ("still here\n", 0)
    );
}

#[test]
fn a_step_that_cannot_start_exits_127_with_the_reason() {
    let dir = workdir();
    let out = run(
        None,
        &job(dir.path(), vec![vec!["/nonexistent/python".into()]]),
        &[],
        b"",
    );
    assert_eq!(out.exit.exit_code, 127);
    assert!(
        out.stderr.starts_with("cannot start /nonexistent/python"),
        "{}",
        out.stderr
    );
}

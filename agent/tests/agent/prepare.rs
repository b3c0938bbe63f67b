//! `prepare`: programs run before `Ready`, whose daemons outlive the steps.

use std::time::{Duration, Instant};

use snipbox_wire::agent::Boot;

use crate::common::{Agent, count_sleeps, daemons_and_leftovers, job, marker, run, sh, workdir};

fn boot_with(prepare: Vec<Vec<String>>) -> Boot {
    Boot {
        prepare,
        ..Boot::default()
    }
}

#[test]
fn prepare_daemons_survive_the_steps_but_step_leftovers_do_not() {
    let dir = workdir();
    let (prepare, steps, expected) = daemons_and_leftovers();
    let boot = Boot {
        prepare: vec![prepare],
        workdir: dir.path().to_str().unwrap().into(),
        ..Boot::default()
    };
    let out = run(Some(&boot), &job(dir.path(), steps.to_vec()), &[], b"");
    assert_eq!(out.exit.error, None);
    assert_eq!(out.stdout, expected);
}

#[test]
fn daemons_end_with_the_agent() {
    let dir = workdir();
    let daemon = marker();
    let boot = boot_with(vec![sh(&format!("sleep {daemon} >/dev/null 2>&1 &"))]);
    let out = run(
        Some(&boot),
        &job(dir.path(), vec![sh(&count_sleeps(daemon))]),
        &[],
        b"",
    );
    assert_eq!(out.stdout, "1\n");
    // Outside a container nothing else would end them.
    let check = std::process::Command::new("sh")
        .args(["-c", &count_sleeps(daemon)])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout), "0\n");
}

#[test]
fn a_failing_prepare_step_is_reported_instead_of_ready() {
    let boot = boot_with(vec![
        sh("echo first ran"),
        sh("echo starting the database; echo 'db: cannot bind' >&2; exit 3"),
        sh("echo never runs"),
    ]);
    let exit = Agent::host(Some(&boot)).boot_failure();
    let error = exit.error.expect("an error");
    assert!(
        error.contains("prepare step `sh -c echo starting"),
        "{error}"
    );
    assert!(error.contains("exit status: 3"), "{error}");
    assert!(
        error.ends_with("starting the database\ndb: cannot bind"),
        "{error}"
    );
}

#[test]
fn an_overrunning_prepare_step_is_cut_at_its_timeout() {
    let boot = Boot {
        prepare: vec![sh("echo waiting; sleep 30")],
        prepare_timeout_ms: 300,
        ..Boot::default()
    };
    let started = Instant::now();
    let exit = Agent::host(Some(&boot)).boot_failure();
    let error = exit.error.expect("an error");
    assert!(
        error.contains("did not finish within the prepare timeout"),
        "{error}"
    );
    assert!(error.ends_with("waiting"), "{error}");
    assert!(
        started.elapsed().as_millis() < 2000,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_missing_prepare_program_is_reported() {
    let boot = boot_with(vec![vec!["/nonexistent/start-db".into()]]);
    let error = Agent::host(Some(&boot)).boot_failure().error.unwrap();
    assert!(
        error.starts_with("prepare step `/nonexistent/start-db` cannot start"),
        "{error}"
    );
}

#[test]
fn a_bad_boot_config_is_reported() {
    let mut cmd = crate::common::agent_command();
    cmd.arg("{\"prepare\": 1}");
    let error = Agent::spawn(cmd, None).boot_failure().error.unwrap();
    assert!(error.starts_with("bad boot config"), "{error}");
}

#[test]
fn no_argument_is_an_old_servers_start() {
    let dir = workdir();
    let out = run(None, &job(dir.path(), vec![sh("echo plain")]), &[], b"");
    assert_eq!((out.stdout.as_str(), out.exit.exit_code), ("plain\n", 0));
}

#[test]
fn a_huge_prepare_error_still_fits_in_a_frame() {
    // An argv of 100 KB quoted in the error would make a frame the server
    // refuses.
    let long = "x".repeat(100_000);
    let boot = boot_with(vec![sh(&format!("echo {long}; echo the end; exit 1"))]);
    let error = Agent::host(Some(&boot)).boot_failure().error.unwrap();
    assert!(error.len() < 9000, "{}", error.len());
    assert!(
        error.starts_with("prepare step `sh -c echo xxx"),
        "{}",
        &error[..50]
    );
    assert!(
        error.ends_with("xxxx\nthe end"),
        "{}",
        &error[error.len() - 50..]
    );
}

#[test]
fn an_agent_not_heard_from_gives_up_waiting_for_its_job() {
    let boot = Boot {
        idle_limit_ms: 400,
        ..Boot::default()
    };
    let mut agent = Agent::host(Some(&boot));
    agent.expect_ready();
    let started = Instant::now();
    let status = agent.wait_open();
    assert!(status.success(), "{status}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "exited after {waited:?}"
    );
}

#[test]
fn keepalives_hold_an_idle_agent_until_its_job_comes() {
    let boot = Boot {
        idle_limit_ms: 400,
        ..Boot::default()
    };
    let mut agent = Agent::host(Some(&boot));
    agent.expect_ready();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(150));
        agent.send(&snipbox_wire::agent::KEEPALIVE);
    }
    let dir = workdir();
    let job = job(dir.path(), vec![sh("echo still here")]);
    agent.send(&crate::common::encode(&job, &[], b""));
    let out = agent.outcome(snipbox_wire::agent::OutputCaps::default());
    assert_eq!(out.stdout, "still here\n");
}

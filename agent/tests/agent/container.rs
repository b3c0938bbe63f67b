//! What only PID 1 of a real container shows: signals from inside and
//! outside its pid namespace, the cgroup counters, and the kill-everything
//! of a container's init sparing `prepare`'s daemons. The containers are
//! hardened as the server makes them, with the agent mounted in.

use std::process::Command;
use std::time::{Duration, Instant};

use snipbox_wire::agent::{Boot, Job};

use crate::common::{
    AGENT, Agent, Outcome, check_alive, daemons_and_leftovers, encode, marker, sh, start_sleep,
};

const IMAGE: &str = "debian:trixie-slim";
const WORKDIR: &str = "/sandbox";

/// A boot config as the server gives it: the work dir named.
fn boot() -> Boot {
    Boot {
        workdir: WORKDIR.into(),
        ..Boot::default()
    }
}

/// Starts the agent as PID 1 of a fresh container.
fn container(boot: &Boot, memory: &str, pids: u32) -> Agent {
    let found = Command::new("docker")
        .args(["image", "inspect", "--format", "ok", IMAGE])
        .output()
        .expect("the docker CLI runs");
    assert!(
        found.status.success(),
        "the container tests need the image {IMAGE}: run scripts/base-image.sh {IMAGE}"
    );
    let name = format!("snipbox-agent-test-{}", marker());
    let mut cmd = Command::new("docker");
    cmd.args(["run", "-i", "--rm", "--name", &name])
        .args([
            "--label",
            "snipbox.agent-test=1",
            "--network",
            "none",
            "--read-only",
        ])
        .args([
            "--tmpfs",
            "/sandbox:rw,exec,nosuid,nodev,size=16m,mode=1777",
        ])
        .args(["--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=16m,mode=1777"])
        .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"])
        // No --workdir: Docker would make the missing folder under the
        // tmpfs root-owned, and the tmpfs would take its mode.
        .args(["--user", "65534:65534"])
        .args(["--memory", memory, "--memory-swap", memory])
        .args(["--pids-limit", &pids.to_string()])
        .args([
            "--volume",
            &format!("{AGENT}:/usr/local/bin/snipbox-agent:ro"),
        ])
        .args(["--entrypoint", "/usr/local/bin/snipbox-agent", IMAGE]);
    cmd.arg(boot.to_arg());
    Agent::spawn(cmd, Some(name))
}

fn job(steps: Vec<Vec<String>>) -> Job {
    crate::common::job(std::path::Path::new(WORKDIR), steps)
}

fn run_in_container(boot: &Boot, memory: &str, pids: u32, job: &Job) -> Outcome {
    let mut agent = container(boot, memory, pids);
    agent.expect_ready();
    agent.send(&encode(job, &[], b""));
    agent.outcome(job.output_caps)
}

#[test]
fn sigterm_from_inside_the_sandbox_is_ignored_by_pid_1() {
    let step = sh("echo parent=$PPID; kill -TERM 1; sleep 0.3; echo still here");
    let out = run_in_container(&boot(), "64m", 64, &job(vec![step]));
    assert_eq!(out.stdout, "parent=1\nstill here\n");
    assert_eq!(out.exit.exit_code, 0);
}

#[test]
fn programs_are_the_oom_killers_first_choice_and_dump_no_core_as_the_sandbox_user() {
    let step = sh("id -u; cat /proc/self/oom_score_adj; ulimit -c; ulimit -H -c");
    let out = run_in_container(&boot(), "64m", 64, &job(vec![step]));
    assert_eq!(out.stdout, "65534\n1000\n0\n0\n", "{out:?}");
}

#[test]
fn sigterm_from_the_engine_ends_the_container_at_once() {
    let daemon = marker();
    let boot = Boot {
        prepare: vec![sh(&format!("sleep {daemon} >/dev/null 2>&1 &"))],
        ..boot()
    };
    let mut agent = container(&boot, "64m", 64);
    agent.expect_ready();
    let name = agent.container_name().to_string();
    let sent = Instant::now();
    let killed = Command::new("docker")
        .args(["kill", "--signal", "TERM", &name])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{killed:?}");
    let status = agent.wait_open();
    let took = sent.elapsed();
    eprintln!("SIGTERM from the engine to the container's end: {took:?}");
    assert_eq!(status.code(), Some(143), "the agent's own exit, not a kill");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_program_over_the_memory_limit_is_oom_killed_and_counted() {
    let step = sh("echo allocating; perl -e '$x = \"a\" x (256 * 1024 * 1024); print \"fit\\n\"'");
    let out = run_in_container(&boot(), "64m", 64, &job(vec![step]));
    assert_eq!(out.stdout, "allocating\n", "{out:?}");
    assert!(out.exit.oom_kills >= 1, "{:?}", out.exit);
    // The shell reports the killed perl as 128 + 9; the agent survived to
    // tell.
    assert_eq!(out.exit.exit_code, 137, "{:?}", out.exit);
}

#[test]
fn the_oom_killed_step_itself_reports_its_signal() {
    let step = vec![
        "perl".into(),
        "-e".into(),
        "$x = 'a' x (256 * 1024 * 1024)".into(),
    ];
    let out = run_in_container(&boot(), "64m", 64, &job(vec![step]));
    assert!(out.exit.oom_kills >= 1, "{:?}", out.exit);
    assert_eq!((out.exit.exit_code, out.exit.signal), (137, Some(9)));
    assert!(!out.exit.timed_out);
}

#[test]
fn a_fork_bomb_hits_the_pids_limit_and_is_counted() {
    let mut bomb = job(vec![sh("b() { b | b & }; b; sleep 5")]);
    bomb.timeout_ms = 1500;
    let started = Instant::now();
    let out = run_in_container(&boot(), "128m", 32, &bomb);
    assert!(out.exit.pids_max >= 1, "{:?}", out.exit);
    assert_eq!(out.exit.error, None);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn prepare_daemons_survive_the_kill_of_pid_1_but_step_leftovers_do_not() {
    let (prepare, steps, expected) = daemons_and_leftovers();
    let boot = Boot {
        prepare: vec![prepare],
        ..boot()
    };
    let out = run_in_container(&boot, "64m", 64, &job(steps.to_vec()));
    assert_eq!(out.stdout, expected, "{out:?}");
}

#[test]
fn a_fork_bomb_dies_with_its_step_while_prepare_daemons_live() {
    // With daemons to spare, the agent cannot kill(-1): it kills pass by
    // pass what /proc shows, while the bomb forks.
    let boot = Boot {
        prepare: vec![sh(&start_sleep("daemon", false))],
        ..boot()
    };
    let mark = format!("fork-bomb-{}", marker());
    // The step's shell forks once, before the bomb, then waits on shell
    // builtins: at the limit a fork it needed would end it with status 2,
    // and so the job.
    let script = format!(
        "sh -c 'b() {{ b | b & }}; b' {mark}; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"
    );
    let bomb = sh(&script);
    let (name, digits) = mark.split_at(10);
    let count = format!(
        "grep -l '{name}[{}]{}' /proc/[0-9]*/cmdline 2>/dev/null | wc -l",
        &digits[..1],
        &digits[1..]
    );
    let check = sh(&format!("{}; {count}", check_alive("daemon")));
    let out = run_in_container(&boot, "128m", 32, &job(vec![bomb, check]));
    assert!(
        out.exit.pids_max >= 1,
        "the bomb reached the limit: {:?}",
        out.exit
    );
    assert_eq!(out.stdout, "daemon alive\n0\n", "{out:?}");
}

#[test]
fn links_to_the_agent_in_a_container_are_never_followed_files_are_returned() {
    let script = "set -e; ln -s /usr/local/bin/snipbox-agent agent.bin; ln -s /proc/1/exe init.bin; \
                  ! ln /usr/local/bin/snipbox-agent hard.bin 2>/dev/null; \
                  ! mknod dev.bin c 1 5 2>/dev/null; echo made > real.bin; ls | wc -l";
    let mut job = job(vec![sh(script)]);
    job.outputs = vec!["*.bin".into()];
    let out = run_in_container(&boot(), "64m", 64, &job);
    // Two links and a file made; a hard link and a device node refused.
    assert_eq!(out.stdout, "3\n", "{out:?}");
    let files: Vec<_> = out
        .files
        .iter()
        .map(|f| (f.name.as_str(), &f.data[..]))
        .collect();
    assert_eq!(files, [("real.bin", &b"made\n"[..])]);
}

#[test]
fn a_container_started_with_nobody_attached_ends_by_itself() {
    // As when a server dies between attaching to a container and starting
    // it: stdin open, nobody writing, nobody closing it.
    let boot = Boot {
        idle_limit_ms: 1000,
        ..boot()
    };
    let name = format!("snipbox-agent-test-{}", marker());
    let started = Command::new("docker")
        .args([
            "run",
            "-d",
            "-i",
            "--name",
            &name,
            "--label",
            "snipbox.agent-test=1",
        ])
        .args(["--network", "none", "--user", "65534:65534"])
        .args([
            "--volume",
            &format!("{AGENT}:/usr/local/bin/snipbox-agent:ro"),
        ])
        .args([
            "--entrypoint",
            "/usr/local/bin/snipbox-agent",
            IMAGE,
            &boot.to_arg(),
        ])
        .output()
        .expect("docker runs");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let t = Instant::now();
    let running = || {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Running}}", &name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "true"
    };
    while running() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ended = !running();
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    assert!(ended, "still waiting for a job after {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn an_interactive_busy_loop_ends_at_its_cpu_time_by_the_containers_cgroup() {
    let job = Job {
        interactive: true,
        timeout_ms: 30_000,
        cpu_ms: 700,
        ..job(vec![sh("while :; do :; done")])
    };
    let began = Instant::now();
    let out = run_in_container(&boot(), "64m", 64, &job);
    let took = began.elapsed();
    assert!(out.exit.timed_out && out.exit.cpu_limited, "{:?}", out.exit);
    assert!(
        took < Duration::from_secs(20),
        "ended after {took:?}: the CPU limit did not hold"
    );
}

//! Containers never outlive their run: client disconnects, shutdown,
//! crashes.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use snipbox_tests::{Server, containers, eventually, request};

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_run_leaves_no_container() {
    // A program that would sleep for minutes under a limit longer still:
    // only the client's going away can end it within the test's bound.
    let sandboxes =
        snipbox_tests::sandboxes_with(&[("python", "timeout_ms", toml::Value::Integer(300_000))]);
    let server = Server::start(&[
        ("SNIPBOX_POOL", "0"),
        ("SNIPBOX_SANDBOXES_ONLY", "python"),
        ("SNIPBOX_SANDBOXES", sandboxes.path().to_str().unwrap()),
    ]);
    let run = server.spawn_exec(request(
        "python",
        "import time
time.sleep(240)",
    ));
    server.wait_running();
    run.abort();
    let gone_by = Instant::now();
    assert!(
        eventually(Duration::from_secs(20), || server.containers().is_empty()),
        "containers left 20 s after the client went away: {:?}",
        server.containers()
    );
    println!(
        "the container was gone {:?} after the client went away",
        gone_by.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_runs_in_flight_and_removes_every_container() {
    let server = Server::start(&[("SNIPBOX_POOL", "1")]);
    let sandboxes = server.sandboxes().await.len();
    assert!(
        eventually(Duration::from_secs(60), || server.containers().len()
            >= sandboxes),
        "pools did not fill"
    );
    let run = server.spawn_exec(request("shell", "sleep 2; echo finished"));
    // Read by the server and running, before the signal.
    let in_flight = |t: &str| t.lines().any(|l| l == "snipbox_runs_in_flight 1");
    let text = server
        .metrics_until(Duration::from_secs(20), in_flight)
        .await;
    assert!(in_flight(&text), "{text}");
    let instance = server.instance.clone();
    // The run, then every sandbox's warm container removed: seconds on a
    // busy engine.
    let status = tokio::task::spawn_blocking(move || server.stop(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let answer: serde_json::Value = run.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(
        answer["stdout"],
        "finished
"
    );
    assert!(containers(&format!("snipbox.instance={instance}")).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_server_stops_at_once_not_at_the_end_of_its_grace() {
    // A minute's grace, no run in flight, one kept-alive connection idle
    // between requests (as a proxy holds them): nothing to wait for.
    let server = Server::start(&[
        ("SNIPBOX_SHUTDOWN_GRACE_MS", "60000"),
        ("SNIPBOX_SANDBOXES_ONLY", "python"),
        ("SNIPBOX_POOL", "1"),
    ]);
    assert!(
        eventually(Duration::from_secs(30), || server.containers().len() == 1),
        "the pool did not fill"
    );
    let mut idle = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nHost: snipbox\r\n\r\n")
        .unwrap();
    let mut head = [0; 12];
    idle.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let (instance, started) = (server.instance.clone(), Instant::now());
    let status = tokio::task::spawn_blocking(move || server.stop(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
    println!("stopped in {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "an idle server took {:?} to stop (grace 60 s)",
        started.elapsed()
    );
    assert!(containers(&format!("snipbox.instance={instance}")).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_removes_what_a_killed_server_left() {
    let first = Server::start(&[("SNIPBOX_POOL", "1")]);
    assert!(
        eventually(Duration::from_secs(60), || first.containers().len() >= 5),
        "pool did not fill"
    );
    let instance = first.instance.clone();
    // A container of the same instance that no longer runs, as a crash
    // between create and start, or a failed auto-removal, leaves behind.
    let stray = Command::new("docker")
        .args([
            "run",
            "--label",
            "snipbox=1",
            "--label",
            &format!("snipbox.instance={instance}"),
            "--entrypoint",
            "true",
            "snipbox/python",
        ])
        .output()
        .unwrap();
    assert!(stray.status.success());
    // Under load: runs in flight when the server dies.
    for _ in 0..4 {
        first.spawn_exec(request("shell", "sleep 4"));
    }
    assert!(
        eventually(Duration::from_secs(10), || first.containers().len() >= 7),
        "runs did not start"
    );
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(first.pid() as libc::pid_t, libc::SIGKILL) };
    std::mem::forget(first);
    let second = Server::start(&[("SNIPBOX_POOL", "0"), ("SNIPBOX_INSTANCE", &instance)]);
    assert_eq!(second.instance, instance);
    // The stray is removed at start-up; the killed server's running
    // containers end by themselves (their attach stream closed), the last
    // when its `sleep 4` does; what it created but never started is removed
    // by the second server's sweep once it is clearly nobody's (60 s).
    assert!(
        eventually(Duration::from_secs(90), || second.containers().is_empty()),
        "left over: {:?}",
        second.containers()
    );
    let r = second.exec(&request("shell", "echo back")).await;
    assert_eq!(r.stdout, "back\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_answers_every_request_and_leaves_nothing() {
    // Few warm containers: what is measured is the runs' shutdown, not the
    // removal of a warm pool for every sandbox.
    let server = Server::start(&[
        ("SNIPBOX_SHUTDOWN_GRACE_MS", "30000"),
        ("SNIPBOX_WARM_MAX", "4"),
        ("SNIPBOX_MAX_RUNS", "4"),
    ]);
    let runs: Vec<_> = (0..12)
        .map(|i| server.spawn_exec(request("shell", &format!("sleep 1; echo run {i}"))))
        .collect();
    // Every request read by the server before the signal (running, waiting
    // or done): one still in the listener's backlog is not under load yet.
    let read = |text: &str| -> f64 {
        text.lines()
            .filter(|l| {
                [
                    "snipbox_runs_total",
                    "snipbox_runs_in_flight ",
                    "snipbox_queue_length ",
                ]
                .iter()
                .any(|p| l.starts_with(p))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let text = server
        .metrics_until(Duration::from_secs(20), |t| read(t) >= 12.0)
        .await;
    assert!(read(&text) >= 12.0, "{text}");
    let instance = server.instance.clone();
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || server.stop(Duration::from_secs(45)))
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
    // The grace period at most, then the removal of what is left.
    assert!(
        started.elapsed() < Duration::from_secs(30 + 5),
        "took {:?}",
        started.elapsed()
    );
    let mut finished = 0;
    for (i, run) in runs.into_iter().enumerate() {
        // Each request was accepted before the signal: it finishes, or (if
        // still queued when the listener closed) gets a JSON error.
        let resp = run.await.unwrap().expect("every request is answered");
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.expect("JSON");
        if status == 200 {
            assert_eq!(body["stdout"], format!("run {i}\n"), "{body}");
            finished += 1;
        } else {
            assert_eq!(body["ok"], false, "{status}: {body}");
        }
    }
    assert_eq!(
        finished, 12,
        "runs in flight finish within the grace period"
    );
    assert!(eventually(Duration::from_secs(5), || containers(&format!(
        "snipbox.instance={instance}"
    ))
    .is_empty()));
}

/// Whether process `pid` has a handler for SIGTERM (`SigCgt` in its status).
fn catches_sigterm(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let mask = s.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_starting_leaves_nothing() {
    // Pools start filling before the server listens: a SIGTERM in that
    // window must still end gracefully, with every container removed.
    // A few sandboxes (a database among them) are race enough; all of
    // them would be dozens of launches to wait for on a busy engine.
    for delay in [50, 300, 900] {
        let server = Server::spawn(&[
            ("SNIPBOX_POOL", "2"),
            ("SNIPBOX_SANDBOXES_ONLY", "python,bash,postgres"),
        ]);
        // Counted from when the process takes SIGTERM (its first act), not
        // from its exec: on a loaded machine 50 ms may not reach that, and
        // the signal's default action would end it before it made anything.
        assert!(
            eventually(Duration::from_secs(20), || catches_sigterm(server.pid())),
            "the server never installed its SIGTERM handler; its log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(delay));
        let instance = server.instance.clone();
        let status = server.stop(Duration::from_secs(30));
        assert!(status.success(), "exit status {status} after {delay} ms");
        let label = format!("snipbox.instance={instance}");
        assert!(
            eventually(Duration::from_secs(10), || containers(&label).is_empty()),
            "left after a SIGTERM at {delay} ms: {:?}",
            containers(&label)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_that_outlast_the_grace_period_are_answered_not_dropped() {
    let server = Server::start(&[
        ("SNIPBOX_SHUTDOWN_GRACE_MS", "1000"),
        ("SNIPBOX_WARM_MAX", "4"),
        ("SNIPBOX_MAX_RUNS", "2"),
    ]);
    // Two run, two wait in the queue; none ends within the grace.
    let runs: Vec<_> = (0..4)
        .map(|_| server.spawn_exec(request("shell", "sleep 8; echo late")))
        .collect();
    // All four read by the server (warm containers alone would not say so).
    let all_in = |text: &str| {
        ["snipbox_runs_in_flight 2", "snipbox_queue_length 2"]
            .iter()
            .all(|line| text.lines().any(|l| l == *line))
    };
    let text = server.metrics_until(Duration::from_secs(20), all_in).await;
    assert!(all_in(&text), "{text}");
    let instance = server.instance.clone();
    let status = tokio::task::spawn_blocking(move || server.stop(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
    for run in runs {
        let resp = run.await.unwrap().expect("every request is answered");
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        let body: serde_json::Value = resp.json().await.expect("JSON");
        assert_eq!(body["error"], "shutting_down", "{body}");
    }
    assert!(eventually(Duration::from_secs(10), || containers(
        &format!("snipbox.instance={instance}")
    )
    .is_empty()));
}

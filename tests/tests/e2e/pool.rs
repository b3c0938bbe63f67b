//! Warm containers: single use, healed when they vanish, refilled, removed
//! at shutdown (see also `lifecycle`).

use std::process::Command;
use std::time::Duration;

use snipbox_tests::{Server, containers, eventually, request, token};

/// `docker inspect -f TEMPLATE` of each of `server`'s containers.
fn inspect_each(server: &Server, template: &str) -> Vec<String> {
    containers(&format!("snipbox.instance={}", server.instance))
        .iter()
        .map(|id| {
            let out = Command::new("docker")
                .args(["inspect", "-f", template, id])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect()
}

fn warm(server: &Server, sandbox: &str) -> usize {
    let template = "{{index .Config.Labels \"snipbox.sandbox\"}} {{.State.Running}}";
    let running = format!("{sandbox} true");
    inspect_each(server, template)
        .iter()
        .filter(|s| **s == running)
        .count()
}

#[tokio::test]
async fn a_warm_container_serves_one_run_only() {
    // One warm container: were containers reused, the second run would get
    // the first run's.
    let server = Server::start(&[("SNIPBOX_POOL", "1"), ("SNIPBOX_SANDBOXES_ONLY", "bash")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "bash") == 1),
        "pool did not fill"
    );
    let first = server
        .exec(&request(
            "shell",
            "echo secret > marker; echo secret > /tmp/marker; echo written",
        ))
        .await;
    assert_eq!(first.stdout, "written\n", "{first:?}");
    let second = server
        .exec(&request(
            "shell",
            "ls marker /tmp/marker 2>&1 | wc -l; cat marker /tmp/marker 2>/dev/null; true",
        ))
        .await;
    assert_ne!(token(&first.id), token(&second.id));
    assert_eq!(
        second.stdout, "2\n",
        "the second run saw the first run's files: {second:?}"
    );
}

#[tokio::test]
async fn a_run_takes_one_of_the_warm_containers() {
    // Each container carries its run token as a label from its creation;
    // a run answered by a warm container has that container's token.
    let server = Server::start(&[("SNIPBOX_POOL", "2"), ("SNIPBOX_SANDBOXES_ONLY", "python")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "python") == 2),
        "pool did not fill"
    );
    let tokens = inspect_each(&server, "{{index .Config.Labels \"snipbox.run\"}}");
    let run = server.exec(&request("python", "print(1)")).await;
    assert!(run.ok, "{run:?}");
    assert!(
        tokens.iter().any(|t| t == token(&run.id)),
        "run {} was not one of the warm containers {tokens:?}",
        run.id
    );
}

#[tokio::test]
async fn the_pool_refills_after_runs() {
    let server = Server::start(&[("SNIPBOX_POOL", "2"), ("SNIPBOX_SANDBOXES_ONLY", "python")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "python") == 2),
        "pool did not fill"
    );
    for _ in 0..3 {
        assert!(server.exec(&request("python", "print(1)")).await.ok);
    }
    // The server's count (a container counts once its agent is ready),
    // and the engine's: two running, the runs' own containers gone.
    let two = |t: &str| t.contains("snipbox_warm_containers{sandbox=\"python\"} 2");
    let metrics = server.metrics_until(Duration::from_secs(60), two).await;
    assert!(two(&metrics), "pool did not refill: {metrics}");
    assert!(
        eventually(Duration::from_secs(30), || warm(&server, "python") == 2),
        "the engine runs {} warm containers",
        warm(&server, "python")
    );
}

#[tokio::test]
async fn warm_containers_removed_on_the_engine_are_replaced_without_a_failed_request() {
    let server = Server::start(&[("SNIPBOX_POOL", "2"), ("SNIPBOX_SANDBOXES_ONLY", "python")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "python") == 2),
        "pool did not fill"
    );
    let ids = server.containers();
    let rm = Command::new("docker")
        .arg("rm")
        .arg("-f")
        .args(&ids)
        .output()
        .unwrap();
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    // At once, before the pool noticed: no request may fail.
    for i in 0..4 {
        let r = server
            .exec(&request("python", &format!("print({i})")))
            .await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.stdout, format!("{i}\n"));
    }
    assert!(
        eventually(Duration::from_secs(30), || warm(&server, "python") == 2),
        "pool did not heal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_pool_grows_and_a_quiet_one_shrinks_back_to_its_minimum() {
    // The quiet period counts from the last run's end, long enough for a
    // busy host to start the new containers before the first one goes.
    let server = Server::start(&[
        ("SNIPBOX_POOL_QUIET_MS", "5000"),
        ("SNIPBOX_SANDBOXES_ONLY", "python"),
    ]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "python") == 1),
        "python did not get its one warm container"
    );
    // Runs that find the pool empty make it aim higher.
    let runs: Vec<_> = (0..4)
        .map(|_| server.spawn_exec(request("python", "import time; time.sleep(1)")))
        .collect();
    for run in runs {
        assert!(run.await.unwrap().unwrap().status().is_success());
    }
    assert!(
        eventually(Duration::from_secs(20), || warm(&server, "python") >= 3),
        "the pool did not grow: {} warm",
        warm(&server, "python")
    );
    // Quiet: one back per quiet period, down to the minimum and no lower.
    assert!(
        eventually(Duration::from_secs(45), || warm(&server, "python") == 1),
        "the pool did not shrink: {} warm",
        warm(&server, "python")
    );
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(warm(&server, "python"), 1, "the minimum stays warm");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_pool_together_stays_within_the_budget() {
    let server = Server::start(&[("SNIPBOX_WARM_MAX", "3")]);
    assert!(
        eventually(Duration::from_secs(30), || server.containers().len() == 3),
        "the budget was not filled: {:?}",
        server.containers()
    );
    for _ in 0..20 {
        let n = server.containers().len();
        assert!(n <= 3, "{n} warm containers past a budget of 3");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A run still works: it starts its own container when none is warm.
    assert!(server.exec(&request("sqlite", "select 1;")).await.ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_warm_containers_are_kept_alive_past_the_agents_idle_limit() {
    // An agent that hears nothing for a minute exits (it would otherwise
    // wait for ever if its server died); the pool's keepalives hold it.
    let server = Server::start(&[("SNIPBOX_POOL", "1"), ("SNIPBOX_SANDBOXES_ONLY", "python")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "python") == 1),
        "pool did not fill"
    );
    let before = server.containers();
    tokio::time::sleep(snipbox_wire::agent::IDLE_LIMIT + Duration::from_secs(10)).await;
    let after = server.containers();
    assert_eq!(before.len(), after.len());
    assert!(
        before.iter().all(|id| after.contains(id)),
        "warm containers were replaced: {before:?} then {after:?}"
    );
    assert!(server.exec(&request("python", "print(1)")).await.ok);
}

//! Warm containers: single use, healed when they vanish, refilled, removed
//! at shutdown (see also `lifecycle`).

use std::process::Command;
use std::time::Duration;

use snipbox_tests::{Server, containers, eventually, request, token};

fn warm(server: &Server, sandbox: &str) -> usize {
    containers(&format!("snipbox.instance={}", server.instance))
        .iter()
        .filter(|id| {
            let out = Command::new("docker")
                .args([
                    "inspect",
                    "-f",
                    "{{index .Config.Labels \"snipbox.sandbox\"}} {{.State.Running}}",
                    id,
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim() == format!("{sandbox} true")
        })
        .count()
}

#[tokio::test]
async fn a_warm_container_serves_one_run_only() {
    let server = Server::start(&[("SNIPBOX_POOL", "2")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "bash") == 2),
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
async fn the_pool_refills_after_runs() {
    let server = Server::start(&[("SNIPBOX_POOL", "2")]);
    assert!(
        eventually(Duration::from_secs(60), || warm(&server, "python") == 2),
        "pool did not fill"
    );
    for _ in 0..3 {
        assert!(server.exec(&request("python", "print(1)")).await.ok);
    }
    assert!(
        eventually(Duration::from_secs(20), || warm(&server, "python") == 2),
        "pool did not refill"
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("snipbox_warm_containers{sandbox=\"python\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn warm_containers_removed_on_the_engine_are_replaced_without_a_failed_request() {
    let server = Server::start(&[("SNIPBOX_POOL", "2")]);
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

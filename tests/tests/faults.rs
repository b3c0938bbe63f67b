//! Engine faults, on a Docker engine of the test's own (its own socket,
//! data root, exec root, pid file and bridge), so that stopping it does not
//! disturb anything else: the engine stopping mid-run and coming back, and
//! a sandbox image deleted while serving.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use snipbox_tests::engine::TestEngine;
use snipbox_tests::{Server, client, eventually, request, root};

/// A test engine with the one sandbox image these tests use.
fn engine() -> TestEngine {
    let engine = TestEngine::start();
    engine.load("snipbox/bash:latest");
    engine
}

/// A sandboxes folder with only the bash sandbox (also called "shell"), the
/// one image the test engine has.
fn shell_only(dir: &Path) -> PathBuf {
    let sandboxes = dir.join("sandboxes");
    std::fs::create_dir_all(sandboxes.join("bash")).unwrap();
    for file in ["defaults.toml", "bash/sandbox.toml", "bash/Dockerfile"] {
        std::fs::copy(root().join("sandboxes").join(file), sandboxes.join(file)).unwrap();
    }
    sandboxes
}

async fn health(server: &Server) -> (u16, Value) {
    let resp = client().get(server.url("/v1/health")).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_stopping_mid_run_gets_a_prompt_503_and_the_server_recovers_by_itself() {
    let mut engine = engine();
    let sandboxes = shell_only(engine.dir());
    let host = engine.host();
    let server = Server::start(&[
        ("DOCKER_HOST", &host),
        ("SNIPBOX_SANDBOXES", sandboxes.to_str().unwrap()),
        ("SNIPBOX_POOL", "1"),
    ]);
    assert_eq!(health(&server).await.0, 200);
    assert!(
        eventually(Duration::from_secs(20), || engine
            .containers(&server.instance)
            .len()
            == 1),
        "pool did not fill"
    );

    let in_flight = server.spawn_exec(request("shell", "sleep 4; echo done"));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    engine.stop();
    let started = std::time::Instant::now();
    let resp = in_flight.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "docker_unavailable", "{body}");

    // Degraded, and says why; new runs get 503 too, promptly.
    let (status, body) = health(&server).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (503, Some("degraded")),
        "{body}"
    );
    assert!(body["docker"].as_str().unwrap().contains(&host), "{body}");
    let resp = server.post_exec(&request("shell", "echo hi")).await;
    assert_eq!(resp.status(), 503);

    // The engine returns: no server restart needed.
    engine.restart();
    let mut recovered = false;
    for _ in 0..100 {
        if health(&server).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "health did not recover");
    let r = server.exec(&request("shell", "echo back")).await;
    assert_eq!(r.stdout, "back\n", "{r:?}");
    assert!(
        eventually(Duration::from_secs(30), || engine
            .containers(&server.instance)
            .len()
            == 1),
        "the pool did not refill to exactly its size: {:?}",
        engine.containers(&server.instance)
    );
    let instance = server.instance.clone();
    server.stop(Duration::from_secs(20));
    assert!(eventually(Duration::from_secs(10), || engine
        .containers(&instance)
        .is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_image_deleted_while_serving_gets_503_naming_it() {
    let engine = engine();
    let sandboxes = shell_only(engine.dir());
    let server = Server::start(&[
        ("DOCKER_HOST", &engine.host()),
        ("SNIPBOX_SANDBOXES", sandboxes.to_str().unwrap()),
        ("SNIPBOX_POOL", "0"),
    ]);
    assert_eq!(
        server.exec(&request("shell", "echo before")).await.stdout,
        "before\n"
    );
    let out = engine
        .docker()
        .args(["rmi", "-f", "snipbox/bash:latest"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let resp = server.post_exec(&request("shell", "echo after")).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "image_missing", "{body}");
    let message = body["stderr"].as_str().unwrap();
    assert!(
        message.contains("snipbox/bash:latest") && message.contains("make images"),
        "{message}"
    );
    let (status, health) = health(&server).await;
    assert_eq!(status, 503);
    assert!(
        health["docker"]
            .as_str()
            .unwrap()
            .contains("snipbox/bash:latest"),
        "{health}"
    );

    let instance = server.instance.clone();
    server.stop(Duration::from_secs(20));
    assert!(
        eventually(Duration::from_secs(10), || engine
            .containers(&instance)
            .is_empty()),
        "left: {:?}",
        engine
            .docker()
            .args(["ps", "-a"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    );
}

//! A rolling update, as Coolify runs one: the new server starts beside the
//! old one with the same configuration (the same deployment on the same
//! engine), the proxy moves the traffic over, and the old one gets SIGTERM
//! with a run in flight. A steady stream of runs goes on throughout; every
//! one must be answered, and neither server may remove the other's
//! containers.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snipbox_tests::{Server, client, eventually, request};

/// The servers a proxy in front would send requests to, in turn.
type Targets = Arc<Mutex<Vec<String>>>;

/// Sends a run every 150 ms to the next of `targets`, without waiting for
/// the one before, until `stop` is set; each answer, tagged with its
/// number and the server it went to.
fn stream(targets: Targets, stop: Arc<Mutex<bool>>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut runs = Vec::new();
        for n in 0usize.. {
            if *stop.lock().unwrap() {
                break;
            }
            let base = {
                let t = targets.lock().unwrap();
                t[n % t.len()].clone()
            };
            runs.push(tokio::spawn(async move {
                let answer = client()
                    .post(format!("{base}/v1/exec"))
                    .json(&request("python", &format!("print({n})")))
                    .send()
                    .await;
                let body = match answer {
                    Ok(resp) => format!("{} {}", resp.status(), resp.text().await.unwrap()),
                    Err(e) => format!("no answer: {e}"),
                };
                (n, base, body)
            }));
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let mut failures = Vec::new();
        let total = runs.len();
        for run in runs {
            let (n, base, body) = run.await.unwrap();
            let ok = body.starts_with("200 ") && body.contains(&format!("\"stdout\":\"{n}\\n\""));
            if !ok {
                failures.push(format!("run {n} to {base}: {body}"));
            }
        }
        assert!(total > 30, "only {total} runs were sent");
        failures
    })
}

/// The deployment's containers of `sandbox`, by the server that made them.
fn by_server(instance: &str, sandbox: &str) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=snipbox.instance={instance}"),
            "--filter",
            &format!("label=snipbox.sandbox={sandbox}"),
            "--format",
            "{{.Label \"snipbox.server\"}} {{.ID}}",
        ])
        .output()
        .unwrap();
    let mut servers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((server, id)) = line.split_once(' ') {
            servers.entry(server.into()).or_default().insert(id.into());
        }
    }
    servers
}

/// Whether every container of `ids` still exists.
fn all_exist(ids: &BTreeSet<String>) -> bool {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--no-trunc"])
        .output()
        .unwrap();
    let present = String::from_utf8_lossy(&out.stdout).to_string();
    ids.iter()
        .all(|id| present.lines().any(|p| p.starts_with(id)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_update_answers_every_run_and_leaves_nothing_behind() {
    let instance = format!(
        "rolling-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    // The same configuration for both, as a redeploy has: a bash sandbox
    // beside python, whose warm containers no run takes.
    let env = [
        ("SNIPBOX_INSTANCE", instance.as_str()),
        ("SNIPBOX_SANDBOXES_ONLY", "python,bash"),
    ];
    let old = Server::start(&env);
    old.wait_warm("python").await;
    old.wait_warm("bash").await;
    let targets: Targets = Arc::new(Mutex::new(vec![old.base.clone()]));
    let stop = Arc::new(Mutex::new(false));
    let runs = stream(targets.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The new server starts on the same engine: its start-up sweep spares
    // the old one's containers, warm and in flight.
    let before = by_server(&instance, "bash");
    let (old_id, old_bash) = before.iter().next().expect("the old server's bash pool");
    let new = Server::start(&env);
    new.wait_warm("python").await;
    new.wait_warm("bash").await;
    assert!(
        all_exist(old_bash),
        "the new server removed the old one's containers"
    );
    targets.lock().unwrap().push(new.base.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The proxy takes the old server out; it gets SIGTERM with a run in
    // flight, which it finishes, then removes its own containers only.
    let slow = old.spawn_exec(request(
        "python",
        "import time\ntime.sleep(1.5)\nprint('finished')",
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    targets.lock().unwrap().retain(|t| *t != old.base);
    let new_bash = by_server(&instance, "bash")
        .into_iter()
        .find(|(server, _)| server != old_id)
        .map(|(_, ids)| ids)
        .expect("the new server's bash pool");
    let log = old.log();
    assert!(old.stop(Duration::from_secs(20)).success(), "{log}");
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 200);
    assert!(slow.text().await.unwrap().contains("finished\\n"));
    assert!(
        eventually(Duration::from_secs(10), || !by_server(&instance, "python")
            .contains_key(old_id)
            && !by_server(&instance, "bash").contains_key(old_id)),
        "the old server left containers"
    );
    assert!(
        all_exist(&new_bash),
        "the old server removed the new one's containers"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    *stop.lock().unwrap() = true;
    let failures = runs.await.unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(new.stop(Duration::from_secs(20)).success());
    assert!(
        eventually(Duration::from_secs(10), || snipbox_tests::containers(
            &format!("snipbox.instance={instance}")
        )
        .is_empty()),
        "containers left behind"
    );
}

//! snipbox on several cells behind HAProxy with the shipped configuration
//! (`scale-out/haproxy.cfg`), on loopback: three servers (distinct
//! instances, the python sandbox only, two run slots each) on the real
//! engine, and Debian's HAProxy in front. The balancer spreads runs, holds
//! a burst in its own queue, takes out a cell that dies, that has a broken
//! engine or that is drained, streams output as it comes, passes an
//! interactive run's WebSocket, and the cells see each client's own
//! address.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use snipbox_tests::browser::free_port;
use snipbox_tests::{Server, SseReader, end_with_parent, request, root, wall_clock};
use snipbox_wire::api::ExecResponse;

/// One test at a time: each has three cells and a balancer of its own, and
/// its measures (a burst's queue, streaming) are its own only alone.
async fn alone() -> tokio::sync::MutexGuard<'static, ()> {
    static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ONE.lock().await
}

/// Run slots of each cell: its `SNIPBOX_MAX_RUNS` and the balancer's
/// `SNIPBOX_CELL_SLOTS`.
const SLOTS: usize = 2;

/// A cell: a server with its own instance, serving python.
fn cell(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("SNIPBOX_SANDBOXES_ONLY", "python"),
        ("SNIPBOX_MAX_RUNS", "2"),
        ("SNIPBOX_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    env.extend_from_slice(extra);
    Server::start(&env)
}

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

struct Balancer {
    child: Child,
    base: String,
    admin: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// HAProxy with the shipped configuration in front of `cells`, once it
    /// has checked each healthy one (`up` of them).
    fn start(cells: &[&Server], up: usize, env: &[(&str, &str)]) -> Balancer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let (admin, log) = (
            dir.path().join("admin.sock"),
            dir.path().join("haproxy.log"),
        );
        let mut cmd = Command::new("haproxy");
        cmd.args(["-db", "-f"])
            .arg(root().join("scale-out/haproxy.cfg"))
            .env("SNIPBOX_LB_BIND", format!("127.0.0.1:{port}"))
            .env("SNIPBOX_LB_ADMIN", &admin)
            .env("SNIPBOX_CELL_SLOTS", SLOTS.to_string())
            // The tests send many runs from one address; the test of the
            // balancer's limit sets its own.
            .env("SNIPBOX_LB_RATE", "100000")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap());
        for (i, c) in cells.iter().enumerate() {
            cmd.env(format!("SNIPBOX_CELL_{}", i + 1), address(c));
        }
        end_with_parent(&mut cmd);
        let balancer = Balancer {
            child: cmd.spawn().expect("haproxy starts"),
            base: format!("http://127.0.0.1:{port}"),
            admin,
            log,
            _dir: dir,
        };
        let all = cells.len();
        balancer.wait_until(Duration::from_secs(30), |states| {
            let count = |prefix: &str| states.iter().filter(|(_, s)| s.starts_with(prefix)).count();
            states.iter().filter(|(_, s)| s == "UP").count() == up
                && count("DOWN") == all - up
                && states.iter().all(|(_, s)| s == "UP" || s == "DOWN")
        });
        balancer
    }

    /// What the admin socket answers to `command`.
    fn admin(&self, command: &str) -> String {
        let started = Instant::now();
        loop {
            if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&self.admin) {
                s.write_all(format!("{command}\n").as_bytes()).unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                return out;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no admin socket"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Each cell's name and status (`UP`, `DOWN`, `DRAIN`, …).
    fn states(&self) -> Vec<(String, String)> {
        self.admin("show stat")
            .lines()
            .filter(|l| l.starts_with("cells,cell"))
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[1].to_string(), f[17].to_string())
            })
            .collect()
    }

    fn wait_until(&self, within: Duration, check: impl Fn(&[(String, String)]) -> bool) {
        let started = Instant::now();
        loop {
            let states = self.states();
            if check(&states) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "the cells stayed {states:?}; the balancer's log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client whose connections come from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Runs `code` through the balancer: the status and the answer.
async fn run(client: &reqwest::Client, lb: &Balancer, code: &str) -> (u16, ExecResponse) {
    let resp = client
        .post(lb.url("/v1/exec"))
        .json(&request("python", code))
        .send()
        .await
        .expect("the balancer answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("an answer");
    let answer = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not a JSON answer ({e}): {text}"));
    (status, answer)
}

/// `n` runs of `code` at once; the statuses and answers.
async fn burst(lb: &Balancer, n: usize, code: &str) -> Vec<(u16, ExecResponse)> {
    let client = reqwest::Client::new();
    let runs = (0..n).map(|_| run(&client, lb, code));
    futures_util::future::join_all(runs).await
}

/// Runs a cell finished, by its own metrics.
async fn runs_of(cell: &Server) -> u64 {
    cell.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("snipbox_runs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn all_ok(answers: &[(u16, ExecResponse)]) {
    let bad: Vec<_> = answers.iter().filter(|(s, a)| *s != 200 || !a.ok).collect();
    assert!(
        bad.is_empty(),
        "{} of {} failed: {bad:?}",
        bad.len(),
        answers.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_spread_over_the_cells_and_a_burst_waits_in_the_balancers_queue() {
    let _alone = alone().await;
    let cells = [cell(&[]), cell(&[]), cell(&[])];
    let lb = Balancer::start(&cells.iter().collect::<Vec<_>>(), 3, &[]);
    // Four times what the cells run at once: without the balancer's queue,
    // each cell's own would hold some and refuse nothing either, but here
    // no cell ever has more than its slots.
    let started = Instant::now();
    let answers = burst(&lb, 4 * 3 * SLOTS, "import time\ntime.sleep(1)\nprint(1)").await;
    let took = started.elapsed();
    all_ok(&answers);
    for (i, c) in cells.iter().enumerate() {
        assert!(runs_of(c).await > 0, "cell {} got no run", i + 1);
    }
    // 24 one-second runs on 6 slots: four rounds, queued at the balancer.
    assert!(took >= Duration::from_secs(4), "{took:?}");
    let queued: u64 = lb
        .admin("show stat")
        .lines()
        .filter(|l| l.starts_with("cells,BACKEND"))
        .filter_map(|l| l.split(',').nth(3)?.parse::<u64>().ok())
        .sum();
    assert!(queued > 0, "the balancer queued nothing (qmax)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cell_that_dies_loses_only_its_own_runs_and_its_replacement_cleans_up() {
    let _alone = alone().await;
    let cells = [cell(&[]), cell(&[]), cell(&[])];
    let lb = Balancer::start(&cells.iter().collect::<Vec<_>>(), 3, &[]);
    let (instance, pid) = (cells[1].instance.clone(), cells[1].pid());
    let long = "import time\ntime.sleep(2)\nprint(1)";
    let during = tokio::spawn({
        let base = lb.base.clone();
        async move {
            let client = reqwest::Client::new();
            let runs = (0..12).map(|_| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let resp = client
                        .post(format!("{base}/v1/exec"))
                        .json(&request("python", long))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = resp.status().as_u16();
                    Ok::<_, String>((status, resp.text().await.unwrap_or_default()))
                }
            });
            futures_util::future::join_all(runs).await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    lb.wait_until(Duration::from_secs(10), |s| {
        s.iter()
            .any(|(n, st)| n == "cell2" && st.starts_with("DOWN"))
    });
    // Runs after the checks noticed: all on the other cells.
    all_ok(&burst(&lb, 8, "print(2)").await);
    // The runs the dead cell had in flight, or was handed as it died, were
    // lost with it, each told so (502 `cell_failed`); the rest of the burst
    // ran on the other cells.
    let statuses = during.await.unwrap();
    let lost: Vec<_> = statuses
        .iter()
        .filter(|s| !matches!(s, Ok((200, _))))
        .collect();
    assert!(
        lost.iter()
            .all(|s| matches!(s, Ok((502, body)) if body.contains("\"error\":\"cell_failed\""))),
        "{lost:?}"
    );
    assert!(
        lost.len() <= statuses.len() / 3,
        "{} lost: {statuses:?}",
        lost.len()
    );

    // What the dead cell left on the engine (warm containers whose agents
    // have not yet seen their server go, containers it was creating), all
    // removed by its replacement, the same instance: the ones that never
    // started once they are older than a launch could be (another server
    // of the instance may be launching them during a rolling update), by
    // the sweep it makes every 10 s.
    let label = format!("snipbox.instance={instance}");
    let left_behind = snipbox_tests::containers(&label);
    let replacement = cell(&[("SNIPBOX_INSTANCE", &instance)]);
    let gone = |id: &String| !snipbox_tests::containers(&label).contains(id);
    assert!(
        snipbox_tests::eventually(Duration::from_secs(120), || left_behind.iter().all(gone)),
        "the dead cell's containers stayed: {left_behind:?}; its replacement's log:\n{}",
        replacement.log()
    );
    drop(replacement);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cell_with_a_broken_engine_never_gets_a_run() {
    let _alone = alone().await;
    let good = [cell(&[]), cell(&[])];
    let broken = cell(&[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    let lb = Balancer::start(&[&good[0], &good[1], &broken], 2, &[]);
    assert!(
        lb.states()
            .iter()
            .any(|(n, s)| n == "cell3" && s.starts_with("DOWN")),
        "{:?}",
        lb.states()
    );
    // A run on the broken cell would fail with docker_unavailable.
    all_ok(&burst(&lb, 12, "print(3)").await);
    assert_eq!(runs_of(&broken).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn draining_a_cell_then_stopping_it_loses_no_request() {
    let _alone = alone().await;
    let mut cells = vec![cell(&[]), cell(&[]), cell(&[])];
    let lb = Balancer::start(&cells.iter().collect::<Vec<_>>(), 3, &[]);
    let stream = tokio::spawn({
        let base = lb.base.clone();
        async move {
            let client = reqwest::Client::new();
            let mut tasks = Vec::new();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(8) {
                let (client, base) = (client.clone(), base.clone());
                tasks.push(tokio::spawn(async move {
                    let resp = client
                        .post(format!("{base}/v1/exec"))
                        .json(&request("python", "import time\ntime.sleep(0.3)\nprint(4)"))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = resp.status().as_u16();
                    let text = resp.text().await.map_err(|e| e.to_string())?;
                    let answer: ExecResponse =
                        serde_json::from_str(&text).map_err(|_| format!("{status}: {text}"))?;
                    Ok::<_, String>((status, answer))
                }));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut answers = Vec::new();
            for t in tasks {
                answers.push(t.await.unwrap());
            }
            answers
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Out of rotation first; once its runs are done, SIGTERM.
    lb.admin("set server cells/cell1 state drain");
    lb.wait_until(Duration::from_secs(10), |s| {
        s.iter().any(|(n, st)| n == "cell1" && st == "DRAIN")
    });
    let drained = Instant::now();
    while lb
        .admin("show stat")
        .lines()
        .find(|l| l.starts_with("cells,cell1,"))
        .and_then(|l| l.split(',').nth(4)?.parse::<u32>().ok())
        != Some(0)
    {
        assert!(
            drained.elapsed() < Duration::from_secs(30),
            "cell1 kept its runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = cells.remove(0).stop(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    let answers = stream.await.unwrap();
    let failed: Vec<_> = answers
        .iter()
        .filter(|a| !matches!(a, Ok((200, r)) if r.ok))
        .collect();
    assert!(answers.len() > 60, "{}", answers.len());
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        answers.len()
    );
}

/// How long after a program wrote its first line the streamed answer
/// from `base` delivered it, in seconds; the program then waits 3 s, so a
/// buffered stream would deliver it at least that late.
async fn first_line_lateness(base: &str) -> f64 {
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/exec"))
        .header("accept", "text/event-stream")
        .json(&request(
            "python",
            "import time\nprint(time.time(), flush=True)\ntime.sleep(3)\nprint('end')",
        ))
        .send()
        .await
        .unwrap();
    let mut events = SseReader::new(resp);
    loop {
        let event = events.next().await.expect("a stdout event before the end");
        if event.event == "stdout" {
            let arrived = wall_clock();
            let data = event.json();
            let written: f64 = data["text"].as_str().unwrap().trim().parse().unwrap();
            return arrived - written;
        }
        assert_ne!(event.event, "end", "no stdout before the end");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_output_comes_through_the_balancer_as_it_is_written() {
    let _alone = alone().await;
    let cells = [cell(&[]), cell(&[]), cell(&[])];
    let lb = Balancer::start(&cells.iter().collect::<Vec<_>>(), 3, &[]);
    // What the balancer adds to what a cell delivers by itself: on an idle
    // machine the whole of it is a few milliseconds.
    let direct = first_line_lateness(&cells[0].base).await;
    let through = first_line_lateness(&lb.base).await;
    eprintln!(
        "first streamed line: {direct:.3} s late from a cell, {through:.3} s through the balancer"
    );
    assert!(
        through < 0.2 || through < direct + 0.2,
        "through the balancer {through:.3} s late, from a cell {direct:.3} s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interactive_run_goes_through_the_balancer() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let _alone = alone().await;
    let cells = [cell(&[]), cell(&[])];
    let lb = Balancer::start(&cells.iter().collect::<Vec<_>>(), 2, &[]);
    let url = format!("{}/v1/ws", lb.base.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let code = "print('name?', flush=True)\nprint('hi', input())";
    let first = serde_json::to_string(&request("python", code)).unwrap();
    socket.send(Message::text(first)).await.unwrap();
    let mut end = None;
    while let Some(Ok(message)) = tokio::time::timeout(Duration::from_secs(60), socket.next())
        .await
        .expect("a message within a minute")
    {
        let Message::Text(text) = message else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        if event["event"] == "stdout" && event["data"]["text"] == "name?\n" {
            let line = serde_json::json!({ "stdin": "Ada\n" }).to_string();
            socket.send(Message::text(line)).await.unwrap();
        }
        if event["event"] == "end" {
            end = Some(event["data"].clone());
            break;
        }
    }
    let end = end.expect("the run's end came through the balancer");
    assert_eq!(end["stdout"], "name?\nhi Ada\n", "{end}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_clients_own_address_reaches_the_cells_and_the_balancer_limits_each_client() {
    let _alone = alone().await;
    // The cells' own limit: one run a minute per client. Behind a balancer
    // whose address they took for every client's, a second client would be
    // refused as well.
    let limited = [("SNIPBOX_RATE_LIMIT", "1"), ("SNIPBOX_RATE_BURST", "1")];
    let cells = [cell(&limited), cell(&limited), cell(&limited)];
    let lb = Balancer::start(&cells.iter().collect::<Vec<_>>(), 3, &[]);
    let (a, b) = (client_from("127.0.0.2"), client_from("127.0.0.3"));
    let mut refused = None;
    for _ in 0..6 {
        let (status, answer) = run(&a, &lb, "print(5)").await;
        if status == 429 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the first client was never refused");
    assert_eq!(
        refused.error.as_deref(),
        Some("rate_limited"),
        "{refused:?}"
    );
    let (status, answer) = run(&b, &lb, "print(6)").await;
    assert_eq!((status, answer.stdout.as_str()), (200, "6\n"), "{answer:?}");
    drop(lb);

    // The balancer's own limit, over all cells: three runs a minute.
    let free = [cell(&[]), cell(&[]), cell(&[])];
    let lb = Balancer::start(
        &free.iter().collect::<Vec<_>>(),
        3,
        &[("SNIPBOX_LB_RATE", "3")],
    );
    for _ in 0..3 {
        assert_eq!(run(&a, &lb, "print(7)").await.0, 200);
    }
    let (status, answer) = run(&a, &lb, "print(7)").await;
    assert_eq!(status, 429, "{answer:?}");
    assert_eq!(answer.error.as_deref(), Some("rate_limited"));
    assert!(answer.stderr.contains("3 a minute"), "{answer:?}");
    assert_eq!(run(&b, &lb, "print(8)").await.0, 200);
}

/// The Traefik dynamic configuration for Coolify (Traefik itself is not
/// installed here): a router to one service of the cells, with health
/// checks on `/v1/health`, unbuffered streaming and one rate limit.
#[test]
fn the_traefik_configuration_routes_to_health_checked_cells_with_one_rate_limit() {
    let text = std::fs::read_to_string(root().join("scale-out/traefik-dynamic.yml")).unwrap();
    let config: serde_json::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let http = &config["http"];
    let router = &http["routers"]["snipbox"];
    let service = router["service"].as_str().expect("a service");
    let balancer = &http["services"][service]["loadBalancer"];
    assert_eq!(balancer["healthCheck"]["path"], "/v1/health");
    assert!(balancer["responseForwarding"]["flushInterval"].is_string());
    let servers = balancer["servers"].as_array().expect("servers");
    assert!(
        servers.len() >= 2
            && servers
                .iter()
                .all(|s| s["url"].as_str().is_some_and(|u| u.starts_with("http://"))),
        "{servers:?}"
    );
    let middleware = router["middlewares"][0].as_str().expect("a middleware");
    let rate = &http["middlewares"][middleware]["rateLimit"];
    assert!(rate["average"].is_u64() && rate["burst"].is_u64(), "{rate}");
}

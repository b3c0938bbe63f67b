//! `make bench`: the container create+start rate straight to the engine
//! and through snipbox-guard, in the same run, with the server's own
//! python body; then warm runs of a server behind the guard and of one
//! without it, at a reader's pace.
//!
//! The two paths are interleaved operation by operation: each of the
//! `concurrency` workers launches containers alternately straight and
//! through the guard (direct, guard, guard, direct, …; every other worker
//! starts with the guard), so whatever else the machine and the engine are
//! doing falls on both alike. A path's rate is the concurrency over its
//! median create+start time (on a shared machine a few stalls of seconds
//! would otherwise decide the mean). Each container is removed right after
//! it started, off the clock.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use snipbox::engine::spec::{Owner, create_body};
use snipbox::sandbox::{Catalog, Sandbox};
use snipbox_tests::{Guard, Server, containers, eventually, request, root};

/// Containers each worker launches, half on each path.
const PER_WORKER: [(usize, usize); 2] = [(1, 192), (4, 48)];
const PINGS: usize = 400;
const PACED_RUNS: usize = 30;
const PACE: Duration = Duration::from_millis(300);

/// Creates and starts one container of `python` the way the server does;
/// its ID.
async fn launch(docker: &Docker, instance: &str, python: &Sandbox) -> String {
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let owner = Owner {
        instance,
        server: "bench",
        sandbox: "python",
        run: &run,
    };
    let mut body = create_body(python);
    body.labels = Some(owner.labels());
    let options = CreateContainerOptionsBuilder::new()
        .name(&owner.name())
        .build();
    let id = docker
        .create_container(Some(options), body)
        .await
        .expect("created")
        .id;
    docker.start_container(&id, None).await.expect("started");
    id
}

/// Containers per second straight to the engine and through the guard, at
/// `concurrency`.
async fn rates(
    direct: &Docker,
    guarded: &Docker,
    instance: &str,
    concurrency: usize,
    each: usize,
) -> (f64, f64) {
    let catalog = Catalog::load(&[root().join("sandboxes")]).expect("sandboxes load");
    let python = catalog.get("python").expect("python").clone();
    let force = RemoveContainerOptionsBuilder::new().force(true).build();
    let workers = (0..concurrency).map(|w| {
        let (python, force) = (&python, &force);
        async move {
            let mut took = [Vec::new(), Vec::new()];
            for i in 0..each {
                let path = usize::from(matches!(i % 4, 1 | 2) != (w % 2 == 1));
                let docker = [direct, guarded][path];
                let t = Instant::now();
                let id = launch(docker, instance, python).await;
                took[path].push(t.elapsed().as_secs_f64());
                if let Err(e) = direct.remove_container(&id, Some(force.clone())).await {
                    eprintln!("  removal: {e}");
                }
            }
            took
        }
    });
    let took = futures_util::future::join_all(workers).await;
    let median = |path: usize| {
        let mut all: Vec<f64> = took.iter().flat_map(|t| t[path].iter().copied()).collect();
        all.sort_by(f64::total_cmp);
        pct(&all, 0.5)
    };
    (
        concurrency as f64 / median(0),
        concurrency as f64 / median(1),
    )
}

/// Median time in ms of `GET /_ping` straight and through the guard, the
/// two interleaved: what one forwarded call costs, apart from the engine.
async fn ping_p50(direct: &Docker, guarded: &Docker) -> (f64, f64) {
    let mut ms = [Vec::new(), Vec::new()];
    for i in 0..PINGS {
        let path = usize::from(matches!(i % 4, 1 | 2));
        let t = Instant::now();
        [direct, guarded][path].ping().await.expect("pong");
        ms[path].push(t.elapsed().as_secs_f64() * 1000.0);
    }
    for m in &mut ms {
        m.sort_by(f64::total_cmp);
    }
    (pct(&ms[0], 0.5), pct(&ms[1], 0.5))
}

/// Latencies in ms of python `print(1)` runs, one every `PACE`.
async fn paced(server: &Server) -> Vec<f64> {
    let client = reqwest::Client::new();
    let mut ms = Vec::new();
    for _ in 0..PACED_RUNS {
        tokio::time::sleep(PACE).await;
        let t = Instant::now();
        let resp = client
            .post(server.url("/v1/exec"))
            .json(&request("python", "print(1)"))
            .send()
            .await;
        let body: serde_json::Value = resp.expect("answered").json().await.expect("JSON");
        assert_eq!(body["stdout"], "1\n", "{body}");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    ms
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let instance = format!("guardbench-{id}");
    let guard = Guard::start(&instance);
    let direct = Docker::connect_with_defaults()
        .expect("the engine")
        .negotiate_version()
        .await
        .expect("version");
    let url = format!("http://{}", guard.addr);
    let guarded = Docker::connect_with_http(&url, 120, bollard::API_DEFAULT_VERSION)
        .expect("the guard")
        .negotiate_version()
        .await
        .expect("version through the guard");

    println!();
    println!(
        "Container create+start of the server's python body, both paths interleaved (containers/s)"
    );
    println!();
    println!(
        "| concurrency | containers per path | straight to the engine | through snipbox-guard | guard / direct |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let mut worst = f64::INFINITY;
    for (c, each) in PER_WORKER {
        let (d, g) = rates(&direct, &guarded, &instance, c, each).await;
        worst = worst.min(g / d);
        println!(
            "| {c} | {} | {d:.2} | {g:.2} | {:.3} |",
            c * each / 2,
            g / d
        );
    }
    let (ping_direct, ping_guard) = ping_p50(&direct, &guarded).await;
    drop(guard);

    // Warm runs: the job goes down an attach stream opened when the
    // container was pooled; the request path makes no Engine API call.
    let plain = Server::start(&[("SNIPBOX_POOL", "2")]);
    let warm_guard = Guard::start(&format!("{instance}-warm"));
    let behind = Server::start(&[
        ("SNIPBOX_POOL", "2"),
        ("SNIPBOX_INSTANCE", &format!("{instance}-warm")),
        ("DOCKER_HOST", &warm_guard.docker_host()),
    ]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (a, b) = (paced(&plain).await, paced(&behind).await);
    println!();
    println!("worst guard / direct create+start rate: {worst:.3}  (target at least 0.95)");
    println!(
        "GET /_ping p50 ({PINGS} calls): {ping_direct:.2} ms straight, {ping_guard:.2} ms through the guard"
    );
    println!(
        "warm runs, one every {} ms: p50 {:.1} ms / p99 {:.1} ms straight, p50 {:.1} ms / p99 {:.1} ms behind the guard",
        PACE.as_millis(),
        pct(&a, 0.5),
        pct(&a, 0.99),
        pct(&b, 0.5),
        pct(&b, 0.99)
    );
    println!(
        "  (a warm run makes no Engine API call; its bytes pass through the guard's attach splice)"
    );
    let instances = [plain.instance.clone(), behind.instance.clone()];
    plain.stop(Duration::from_secs(30));
    behind.stop(Duration::from_secs(30));
    let leaked: usize = [instance.clone(), instances[0].clone(), instances[1].clone()]
        .iter()
        .map(|i| {
            let label = format!("snipbox.instance={i}");
            eventually(Duration::from_secs(10), || containers(&label).is_empty());
            containers(&label).len()
        })
        .sum();
    println!("leaked containers: {leaked}");
    if leaked > 0 || worst < 0.95 {
        std::process::exit(1);
    }
}

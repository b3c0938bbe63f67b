//! `make bench`: Python `print(1)` four ways, in one run on one machine.
//!
//! (a) the server with warm pools, (b) the server with pools disabled,
//! (c) `docker run --rm` with the same hardening through the CLI (codapi's
//! model; rendered from the server's own create body), (d) the program alone on the host (the floor). For each: latency
//! at concurrency 1, and throughput with latency at concurrency 4 and 16.
//! Also: time from server start until the pools are full, memory per idle
//! warm container, failures and leaked containers (both must be 0).

use std::process::Stdio;
use std::time::{Duration, Instant};

use snipbox_tests::measure::{Cell, measure, paced};
use snipbox_tests::{Server, containers, eventually, request};

const CODE: &str = "print(1)";

const CONCURRENCY: [usize; 3] = [1, 4, 16];
/// Runs at a reader's pace, each after a pause.
const PACED_RUNS: usize = 40;
const PACE: Duration = Duration::from_millis(300);

async fn via_server(client: reqwest::Client, url: String) -> Result<(), String> {
    let resp = client
        .post(&url)
        .json(&request("python", CODE))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: snipbox_wire::api::ExecResponse = resp.json().await.map_err(|e| e.to_string())?;
    if body.ok && body.stdout == "1\n" {
        Ok(())
    } else {
        Err(format!("{body:?}"))
    }
}

/// `docker run` of `python3 -c CODE` with the hardening the server's spec
/// builds for the python sandbox (rendered from its create body).
fn docker_run_cli() -> snipbox_tests::docker_run::DockerRun {
    let catalog = snipbox::sandbox::Catalog::load(&[snipbox_tests::root().join("sandboxes")])
        .expect("the sandboxes load");
    let mut body =
        snipbox_tests::docker_run::body_of(catalog.get("python").expect("python"), "bench-cli");
    body.entrypoint = Some(vec!["python3".into(), "-c".into()]);
    body.cmd = Some(vec![CODE.into()]);
    snipbox_tests::docker_run::docker_run(&body, &[])
}

async fn command<S: AsRef<std::ffi::OsStr>>(
    program: &'static str,
    args: &'static [S],
) -> Result<(), String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if out.status.success() && out.stdout == b"1\n" {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The host's own interpreter, not a version manager's shim script.
fn host_python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn warm_total(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| l.starts_with("snipbox_warm_containers{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
        .sum()
}

/// Containers of `instance` still there once removals in progress ended.
fn leaked_containers(instance: &str) -> usize {
    let label = format!("snipbox.instance={instance}");
    eventually(Duration::from_secs(10), || containers(&label).is_empty());
    containers(&label).len()
}

/// Memory charged to each running container of `instance`, in MiB.
fn idle_memory_mib(instance: &str) -> Vec<f64> {
    let ids = containers(&format!("snipbox.instance={instance}"));
    let out = std::process::Command::new("docker")
        .args(["stats", "--no-stream", "--format", "{{.MemUsage}}"])
        .args(&ids)
        .output()
        .expect("docker stats");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let used = l.split('/').next()?.trim();
            let (num, unit) = used.split_at(used.find(|c: char| c.is_alphabetic())?);
            let n: f64 = num.trim().parse().ok()?;
            Some(match unit {
                "KiB" | "kB" => n / 1024.0,
                "MiB" | "MB" => n,
                "GiB" | "GB" => n * 1024.0,
                _ => n / (1024.0 * 1024.0),
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let client = reqwest::Client::new();
    let mut rows: Vec<(&str, Vec<Cell>)> = Vec::new();
    let mut leaked = 0;

    // (a) warm pools, a fixed two per sandbox.
    let started = Instant::now();
    let warm = Server::start(&[("SNIPBOX_POOL", "2")]);
    let sandboxes = warm.sandboxes().await.len();
    let metrics_url = warm.url("/metrics");
    let full = loop {
        let m = reqwest::get(&metrics_url)
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if warm_total(&m) >= 2 * sandboxes {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "pools did not fill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let memory = idle_memory_mib(&warm.instance);
    let mut cells = Vec::new();
    for c in CONCURRENCY {
        let (client, url) = (client.clone(), warm.url("/v1/exec"));
        cells.push(measure(c, move || via_server(client.clone(), url.clone())).await);
    }
    rows.push(("(a) snipbox, warm pools", cells));
    // A reader's pace: one run, then a pause in which the pool refills.
    let url = warm.url("/v1/exec");
    let paced = paced(PACED_RUNS, PACE, || via_server(client.clone(), url.clone())).await;
    let instance = warm.instance.clone();
    warm.stop(Duration::from_secs(30));
    leaked += leaked_containers(&instance);

    // (b) pools disabled.
    let cold = Server::start(&[("SNIPBOX_POOL", "0")]);
    let mut cells = Vec::new();
    for c in CONCURRENCY {
        let (client, url) = (client.clone(), cold.url("/v1/exec"));
        cells.push(measure(c, move || via_server(client.clone(), url.clone())).await);
    }
    rows.push(("(b) snipbox, pools disabled", cells));
    let instance = cold.instance.clone();
    cold.stop(Duration::from_secs(30));
    leaked += leaked_containers(&instance);

    // (c) docker run --rm, hardened, through the CLI.
    let cli = docker_run_cli();
    let args: &'static [String] = Box::leak(cli.args.clone().into_boxed_slice());
    let mut cells = Vec::new();
    for c in CONCURRENCY {
        cells.push(measure(c, || command("docker", args)).await);
    }
    drop(cli);
    rows.push(("(c) docker run --rm (CLI)", cells));
    eventually(Duration::from_secs(10), || {
        containers("snipbox.instance=bench-cli").is_empty()
    });
    leaked += containers("snipbox.instance=bench-cli").len();

    // (d) the program alone.
    let python = host_python();
    let mut cells = Vec::new();
    for c in CONCURRENCY {
        cells.push(measure(c, move || command(python, &["-c", CODE])).await);
    }
    rows.push(("(d) python3 on the host", cells));

    println!();
    println!(
        "Python `print(1)`, {} cores; latency in ms; throughput in runs/s",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| way | c=1 p50 | c=1 p90 | c=1 p99 | c=4 runs/s | c=4 p50 | c=4 p99 | c=16 runs/s | c=16 p50 | c=16 p99 | failures |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, cells) in &rows {
        let failures: usize = cells.iter().map(|c| c.failures).sum();
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {failures} |",
            cells[0].pct(0.5),
            cells[0].pct(0.9),
            cells[0].pct(0.99),
            cells[1].throughput(),
            cells[1].pct(0.5),
            cells[1].pct(0.99),
            cells[2].throughput(),
            cells[2].pct(0.5),
            cells[2].pct(0.99),
        );
    }
    let (a, b, c, d) = (&rows[0].1, &rows[1].1, &rows[2].1, &rows[3].1);
    let failures: usize = rows
        .iter()
        .flat_map(|(_, cells)| cells)
        .map(|c| c.failures)
        .sum::<usize>()
        + paced.failures;
    println!();
    println!(
        "warm p50 / docker run p50 (c=1):        {:.3}  (target at most 0.2)",
        a[0].pct(0.5) / c[0].pct(0.5)
    );
    println!(
        "warm p50 / bare program p50 (c=1):      {:.2}  (target at most 3)",
        a[0].pct(0.5) / d[0].pct(0.5)
    );
    println!(
        "warm / pools-disabled throughput (c=16): {:.2}  (target at least 3)",
        a[2].throughput() / b[2].throughput()
    );
    println!(
        "warm p99 / p50 (c=4):                   {:.2}  (target at most 2.5)",
        a[1].pct(0.99) / a[1].pct(0.5)
    );
    println!(
        "warm, one run every {} ms:             p50 {:.1} ms, p99 {:.1} ms = {:.2} x the bare program's p50",
        PACE.as_millis(),
        paced.pct(0.5),
        paced.pct(0.99),
        paced.pct(0.5) / d[0].pct(0.5)
    );
    println!(
        "server start until pools full:          {} ms ({sandboxes} sandboxes x 2)",
        full.as_millis()
    );
    if !memory.is_empty() {
        let avg = memory.iter().sum::<f64>() / memory.len() as f64;
        println!(
            "memory per idle warm container:         {avg:.2} MiB (mean of {})",
            memory.len()
        );
    }
    println!("failures: {failures}");
    println!("leaked containers: {leaked}");
    if failures > 0 || leaked > 0 {
        std::process::exit(1);
    }
}

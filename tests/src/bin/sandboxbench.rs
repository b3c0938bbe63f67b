//! `make bench`, after `bench`: every sandbox's example through the server
//! at a reader's pace, next to the floor for that language.
//!
//! The floor is the command's own cost inside an already running container
//! of the same image, with the same limits and hardening: `docker exec` of
//! the command's steps minus `docker exec` of `true`, each measured in the
//! same fresh container (after its prepare steps, as a warm container has
//! them), repeated, p50 of each. snipbox's figure is the client-side p50 of
//! the example, one run every 300 ms after a few unmeasured ones, against a
//! server whose only sandbox is this one, its pool on. Target: p50 <= floor + 20 ms or
//! <= 1.2 x floor, whichever is larger.
//!
//! The example sandboxes that extend one with packages
//! (`examples/sandboxes`) have rows too: a package must not make a run
//! slower than its own work (the Rust row with a crate, rust-itertools,
//! compiles only the example against the crate the image compiled).
//!
//! `sandboxbench [NAME ...]` measures only those sandboxes.

use std::time::{Duration, Instant};

use snipbox::sandbox::{Catalog, Sandbox};
use snipbox_tests::{Server, containers, eventually, request, root};

/// Fresh containers the floor is measured in, one command and one `true` each.
const FLOOR_RUNS: usize = 7;
/// Runs through the server, each after a reader's pause.
const PACED_RUNS: usize = 15;
const PACE: Duration = Duration::from_millis(300);
/// Runs not counted: they warm the page cache (as the floor's first exec
/// does) and let the pool grow to the pace, as a reader's first runs would.
const WARM_UP: usize = 3;
const FLOOR_INSTANCE: &str = "sandboxbench-floor";

fn p50(mut ms: Vec<f64>) -> f64 {
    if ms.is_empty() {
        return f64::NAN;
    }
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// Runs the docker CLI; its stdout, or why it failed.
async fn docker(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new("docker");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("piped");
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "docker {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `docker run` of an idle container of `sandbox` with the server's
/// hardening and the sandbox's limits (its create body, rendered), as the
/// run user, with `sleep` for the agent.
fn run_args(s: &Sandbox) -> snipbox_tests::docker_run::DockerRun {
    let mut body = snipbox_tests::docker_run::body_of(s, FLOOR_INSTANCE);
    body.entrypoint = Some(vec!["sleep".into()]);
    body.cmd = Some(vec!["infinity".into()]);
    snipbox_tests::docker_run::docker_run(&body, &["-d"])
}

/// The run command's steps as one shell line, stopping at a failing step.
fn steps_line(s: &Sandbox) -> String {
    let quote = |a: &String| format!("'{}'", a.replace('\'', r"'\''"));
    s.commands["run"]
        .steps
        .iter()
        .map(|step| step.iter().map(quote).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" && ")
}

async fn timed_exec(id: &str, line: &str) -> Result<(f64, String), String> {
    let t = Instant::now();
    let out = docker(&["exec", id, "sh", "-c", line], None).await?;
    Ok((t.elapsed().as_secs_f64() * 1000.0, out))
}

/// One fresh container: prepare, the files, then `true` and the command.
async fn floor_once(s: &Sandbox, run: &[String], line: &str) -> Result<(f64, f64, String), String> {
    let args: Vec<&str> = run.iter().map(String::as_str).collect();
    let id = docker(&args, None).await?.trim().to_owned();
    let result = async {
        for step in &s.prepare {
            let mut a = vec!["exec", id.as_str()];
            a.extend(step.iter().map(String::as_str));
            docker(&a, None).await?;
        }
        let entry = &s.commands["run"].entry;
        docker(
            &["exec", "-i", &id, "sh", "-c", &format!("cat > '{entry}'")],
            Some(&s.example),
        )
        .await?;
        timed_exec(&id, "true").await?; // the first exec of a container is slower
        let (t_true, _) = timed_exec(&id, "true").await?;
        let (t_cmd, out) = timed_exec(&id, line).await?;
        Ok((t_cmd, t_true, out))
    }
    .await;
    let _ = docker(&["rm", "-f", &id], None).await;
    result
}

struct Floor {
    command: f64,
    exec_true: f64,
    stdout: String,
}

async fn floor(s: &Sandbox) -> Result<Floor, String> {
    let (run, line) = (run_args(s), steps_line(s));
    let (mut cmd, mut tru, mut stdout) = (Vec::new(), Vec::new(), String::new());
    for _ in 0..FLOOR_RUNS {
        let (c, t, out) = floor_once(s, &run.args, &line).await?;
        cmd.push(c);
        tru.push(t);
        stdout = out;
    }
    Ok(Floor {
        command: p50(cmd),
        exec_true: p50(tru),
        stdout,
    })
}

fn warm(metrics: &str, name: &str) -> usize {
    let prefix = format!("snipbox_warm_containers{{sandbox=\"{name}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or(0)
}

/// The repository's sandboxes and the example sandboxes that extend them
/// with packages (`examples/sandboxes`), as `SNIPBOX_SANDBOXES` lists them.
fn folders() -> String {
    let root = root();
    format!(
        "{}:{}",
        root.join("sandboxes").display(),
        root.join("examples/sandboxes").display()
    )
}

/// Builds the images of the example sandboxes that are missing or out of
/// date (`make images` builds only the repository's).
fn build_examples(catalog: &Catalog) {
    let examples: Vec<&str> = catalog
        .iter()
        .filter(|s| s.extends.is_some())
        .map(|s| s.name.as_str())
        .collect();
    let status = std::process::Command::new(snipbox_tests::server_binary())
        .current_dir(root())
        .args(["images", "--only", &examples.join(",")])
        .env("SNIPBOX_SANDBOXES", folders())
        .status()
        .expect("snipbox images runs");
    assert!(status.success(), "the example sandboxes' images build");
}

struct Paced {
    p50: f64,
    p90: f64,
    failures: usize,
    leaked: usize,
}

async fn through_server(s: &Sandbox, want: &str) -> Paced {
    let server = Server::start(&[
        ("SNIPBOX_SANDBOXES", &folders()),
        ("SNIPBOX_SANDBOXES_ONLY", &s.name),
    ]);
    let started = Instant::now();
    while warm(&server.metrics().await, &s.name) < s.limits.pool_min.max(1) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}: the pool did not fill; the server's log:\n{}",
            s.name,
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let req = request(&s.name, &s.example);
    let (mut ms, mut failures) = (Vec::new(), 0);
    for i in 0..WARM_UP + PACED_RUNS {
        tokio::time::sleep(PACE).await;
        let t = Instant::now();
        let r = server.exec(&req).await;
        let took = t.elapsed().as_secs_f64() * 1000.0;
        if !(r.ok && r.stdout == want) {
            if failures == 0 {
                eprintln!("  {}: {r:?}", s.name);
            }
            failures += 1;
        } else if i >= WARM_UP {
            ms.push(took);
        }
    }
    let instance = server.instance.clone();
    server.stop(Duration::from_secs(30));
    let label = format!("snipbox.instance={instance}");
    eventually(Duration::from_secs(10), || containers(&label).is_empty());
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    Paced {
        p50: p50(ms),
        p90: sorted
            .get(sorted.len() * 9 / 10)
            .copied()
            .unwrap_or(f64::NAN),
        failures,
        leaked: containers(&label).len(),
    }
}

#[tokio::main]
async fn main() {
    let catalog = Catalog::load(&[root().join("sandboxes"), root().join("examples/sandboxes")])
        .expect("the sandboxes load");
    build_examples(&catalog);
    let only_these: Vec<String> = std::env::args().skip(1).collect();
    let mut rows = Vec::new();
    let (mut failures, mut leaked) = (0, 0);
    for s in catalog.iter() {
        if !only_these.is_empty() && !only_these.contains(&s.name) {
            continue;
        }
        eprintln!("{} ...", s.name);
        let floor = match floor(s).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("  {}: floor failed: {e}", s.name);
                failures += 1;
                continue;
            }
        };
        let paced = through_server(s, &floor.stdout).await;
        failures += paced.failures;
        leaked += paced.leaked;
        rows.push((s.name.clone(), floor, paced));
    }
    leaked += containers(&format!("snipbox.instance={FLOOR_INSTANCE}")).len();
    print_table(&rows);
    println!("failures: {failures}");
    println!("leaked containers: {leaked}");
    if failures > 0 || leaked > 0 || rows.iter().any(|(_, f, p)| !meets(f, p)) {
        std::process::exit(1);
    }
}

fn meets(f: &Floor, p: &Paced) -> bool {
    let floor = (f.command - f.exec_true).max(0.0);
    p.p50 <= (floor + 20.0).max(1.2 * floor)
}

fn print_table(rows: &[(String, Floor, Paced)]) {
    println!();
    println!(
        "Every sandbox's example: the floor (its command in a running container: \
         docker exec of it minus docker exec of true, p50 of {FLOOR_RUNS}) and snipbox \
         (warm pool, one run every {} ms, p50 of {PACED_RUNS}); ms; {} cores",
        PACE.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| sandbox | floor | snipbox p50 | snipbox p90 | p50 / floor | target | meets |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for (name, f, p) in rows {
        let floor = (f.command - f.exec_true).max(0.0);
        let target = (floor + 20.0).max(1.2 * floor);
        println!(
            "| {name} | {floor:.1} | {:.1} | {:.1} | {:.2} | {target:.1} | {} |",
            p.p50,
            p.p90,
            p.p50 / floor,
            if meets(f, p) { "yes" } else { "no" }
        );
    }
    println!();
}

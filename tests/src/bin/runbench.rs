//! `make bench`, second part: what each feature costs, next to its
//! baseline in the same run on the same machine.
//!
//! 1. A burst of 16 simultaneous runs after a quiet minute: pools that
//!    follow demand against a fixed pool of two per sandbox.
//! 2. A matplotlib plot saved as PNG: python-data with its preloaded
//!    interpreter, without it, and the same script in an already running
//!    container, with the plotting code's own time after its imports.
//! 3. gVisor (when the engine has runsc): warm latency at a reader's pace
//!    and containers started per second, runc against runsc.
//! 4. Streaming: time to the first output of a program that prints, then
//!    sleeps, streamed against plain; and how soon a closed stream's
//!    container dies and is removed (the engine's events).
//! 5. Interactive runs (`/v1/ws`): the time from a line sent to a warm
//!    Python echo loop to its reply arriving back, against a plain warm
//!    run; and how soon a closed socket's container dies and is removed,
//!    against a closed stream's.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use snipbox_tests::measure::{Cell, measure, paced};
use snipbox_tests::{Server, SseReader, client, containers, engine_event_at, request, token};
use snipbox_wire::api::ExecResponse;

const PACE: Duration = Duration::from_millis(300);

/// Runs `code` in `sandbox` on `server`; the answer, or why there is none.
async fn run(server: &str, sandbox: &str, code: &str) -> Result<ExecResponse, String> {
    let resp = client()
        .post(format!("{server}/v1/exec"))
        .json(&request(sandbox, code))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let r: ExecResponse = resp.json().await.map_err(|e| e.to_string())?;
    match r.ok {
        true => Ok(r),
        false => Err(format!(
            "{} failed: {:?}",
            r.id,
            r.reason_text.unwrap_or(r.stderr)
        )),
    }
}

async fn warm_server(env: &[(&str, &str)]) -> Server {
    let server = Server::start(env);
    server.wait_warm("python").await;
    server
}

/// 16 runs at once; the cell of their latencies.
async fn sixteen_at_once(server: &Server) -> Cell {
    let base = server.base.clone();
    let started = Instant::now();
    let runs: Vec<_> = (0..16)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                run(&base, "python", "print(1)").await.map(|_| t.elapsed())
            })
        })
        .collect();
    let mut cell = Cell::default();
    for r in runs {
        match r.await.expect("task") {
            Ok(d) => cell.latencies.push(d),
            Err(e) => {
                eprintln!("  failure: {e}");
                cell.failures += 1;
            }
        }
    }
    cell.elapsed = started.elapsed();
    cell
}

async fn bursts() {
    let adaptive = warm_server(&[]).await;
    let fixed = warm_server(&[("SNIPBOX_POOL", "2")]).await;
    println!("  a quiet minute…");
    tokio::time::sleep(Duration::from_secs(60)).await;
    let a = sixteen_at_once(&adaptive).await;
    let f = sixteen_at_once(&fixed).await;
    println!();
    println!("A burst of 16 runs of Python `print(1)` after a quiet minute (ms):");
    println!();
    println!("| pools | answered | p50 | p99 | max |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, c) in [
        ("following demand (pool_min 1, pool 4)", &a),
        ("fixed, 2 per sandbox", &f),
    ] {
        println!(
            "| {name} | {}/16 | {:.0} | {:.0} | {:.0} |",
            c.latencies.len(),
            c.pct(0.5),
            c.pct(0.99),
            c.pct(1.0)
        );
    }
}

const PLOT: &str = r#"import time
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
t = time.perf_counter()
plt.plot(range(100), [i * i for i in range(100)])
plt.savefig("plot.png")
print(f"{(time.perf_counter() - t) * 1000:.2f}")
"#;

/// A copy of the sandboxes whose python-data does not prestart.
fn without_preload() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = snipbox_tests::root().join("sandboxes");
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", src.display()))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let toml = dir.path().join("python-data/sandbox.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("prestart = true", "prestart = false")).unwrap();
    dir
}

/// Paced runs of the plot: the client's latencies and the plotting code's
/// own times (what the script printed), both p50 in ms.
async fn plot_runs(server: &Server) -> (Cell, f64) {
    server.wait_warm("python-data").await;
    let own = std::sync::Mutex::new(Vec::new());
    let cell = paced(20, Duration::from_millis(800), || async {
        let r = run(&server.base, "python-data", PLOT).await?;
        own.lock()
            .unwrap()
            .push(r.stdout.trim().parse::<f64>().unwrap_or(f64::NAN));
        Ok(())
    })
    .await;
    let mut own = own.into_inner().unwrap();
    own.sort_by(f64::total_cmp);
    (cell, own.get(own.len() / 2).copied().unwrap_or(f64::NAN))
}

/// The median wall time of `docker exec` of `args` in `container`, in ms,
/// and the median of what the command printed, read as a number (NaN when
/// it printed none).
fn exec_ms(container: &str, args: &[&str], stdin: &str) -> (f64, f64) {
    let (mut times, mut printed) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t = Instant::now();
        let mut child = Command::new("docker")
            .args(["exec", "-i", container])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        printed.push(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<f64>()
                .unwrap_or(f64::NAN),
        );
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(times), median(printed))
}

async fn plots() {
    let with = Server::start(&[]);
    let (preloaded, own_preloaded) = plot_runs(&with).await;
    let copy = without_preload();
    let sandboxes = copy.path().to_str().unwrap().to_string();
    let without = Server::start(&[("SNIPBOX_SANDBOXES", &sandboxes)]);
    let (plain, _) = plot_runs(&without).await;
    let image = format!(
        "{}/python-data:latest",
        std::env::var("SNIPBOX_IMAGE_REPOSITORY").unwrap_or("snipbox".into())
    );
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--rm",
            "--label",
            "snipbox.bench=1",
            "-w",
            "/tmp",
        ])
        .args(["--entrypoint", "sleep", &image, "300"])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // The plotting code's own time after its imports, as a reader's
    // machine runs it: a fresh interpreter, nothing drawn before.
    let (script, own) = exec_ms(&id, &["python3", "-"], PLOT);
    let (nothing, _) = exec_ms(&id, &["true"], "");
    let _ = Command::new("docker").args(["rm", "-f", &id]).output();
    println!();
    println!("A matplotlib line plot saved as PNG, python-data (ms, p50):");
    println!();
    println!("| way | p50 |");
    println!("| --- | ---: |");
    println!(
        "| snipbox, warm, preloaded interpreter | {:.0} |",
        preloaded.pct(0.5)
    );
    println!(
        "| snipbox, warm, without the preload | {:.0} |",
        plain.pct(0.5)
    );
    println!(
        "| the script in a running container (docker exec, minus exec of `true`: {script:.0} - {nothing:.0}) | {:.0} |",
        script - nothing
    );
    println!(
        "| the plotting code's own time after its imports (in that fresh interpreter) | {own:.1} |"
    );
    println!(
        "| the plotting code's own time in snipbox's preloaded interpreter | {own_preloaded:.1} |"
    );
    println!();
    println!(
        "preloaded p50 / plotting code's own time: {:.2}  (target at most 1.5)",
        preloaded.pct(0.5) / own
    );
}

async fn runtimes() {
    let info = Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .unwrap();
    if !String::from_utf8_lossy(&info.stdout).contains("\"runsc\"") {
        println!("\ngVisor: runsc is not registered with this engine (scripts/gvisor.sh)");
        return;
    }
    println!();
    println!("Python `print(1)` under runc and under gVisor (runsc):");
    println!();
    println!(
        "| runtime | warm p50, one run every 300 ms (ms) | warm p99 | containers started per second (pools off, c=4) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for runtime in ["runc", "runsc"] {
        let warm = Server::start(&[("SNIPBOX_RUNTIME", runtime)]);
        warm.wait_warm("python").await;
        let base = warm.base.clone();
        let paced = paced(40, PACE, || async {
            run(&base, "python", "print(1)").await.map(drop)
        })
        .await;
        drop(warm);
        let cold = Server::start(&[("SNIPBOX_RUNTIME", runtime), ("SNIPBOX_POOL", "0")]);
        let base = cold.base.clone();
        let rate = measure(4, move || {
            let base = base.clone();
            async move { run(&base, "python", "print(1)").await.map(drop) }
        })
        .await;
        println!(
            "| {runtime} | {:.1} | {:.1} | {:.1} |",
            paced.pct(0.5),
            paced.pct(0.99),
            rate.throughput()
        );
    }
}

async fn streaming() {
    let server = Server::start(&[]);
    server.wait_warm("python").await;
    let code = "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')";
    let plain = paced(10, PACE, || async {
        run(&server.base, "python", code).await.map(drop)
    })
    .await;
    let first = paced(10, PACE, || async {
        let mut events = SseReader::new(server.post_stream(&request("python", code)).await);
        while let Some(e) = events.next().await {
            if e.event == "stdout" {
                return Ok(());
            }
        }
        Err("no output event".to_string())
    })
    .await;
    let left = left_runs(&server, Leave::Stream).await;
    println!();
    println!("A program that prints, then sleeps 1 s (ms, p50):");
    println!();
    println!("| way | first output |");
    println!("| --- | ---: |");
    println!(
        "| streamed (`Accept: text/event-stream`) | {:.0} |",
        first.pct(0.5)
    );
    println!("| plain JSON answer | {:.0} |", plain.pct(0.5));
    println!();
    match left {
        Ok((died, destroyed)) => println!(
            "a closed stream's container, by the engine's events: died after p50 {:.0} ms (max {:.0}), \
             removed after p50 {:.0} ms (max {:.0})",
            died.pct(0.5),
            died.pct(1.0),
            destroyed.pct(0.5),
            destroyed.pct(1.0)
        ),
        Err(e) => println!("a closed stream: {e}"),
    }
}

/// How a client lets go of a run that is still going.
#[derive(Clone, Copy)]
enum Leave {
    /// Closes its `/v1/ws` socket while the program waits for input.
    Socket,
    /// Closes its event stream (`POST /v1/exec`, SSE) while the program
    /// sleeps.
    Stream,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `/v1/ws` socket on `server` that has asked for a run of Python `code`.
async fn python_socket(server: &Server, code: &str) -> Result<Socket, String> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let url = server.url("/v1/ws").replacen("http", "ws", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let first = serde_json::to_string(&request("python", code)).unwrap();
    socket
        .send(Message::text(first))
        .await
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// Ten runs on `server`, each let go of by its client (`leave`) once its
/// program printed: the time from letting go to the engine's `die` of the
/// container and to its `destroy`, by the engine's clock.
async fn left_runs(server: &Server, leave: Leave) -> Result<(Cell, Cell), String> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let (mut died, mut destroyed) = (Cell::default(), Cell::default());
    for _ in 0..10 {
        tokio::time::sleep(PACE).await;
        // The run's id, and what its client holds: dropping it lets go.
        let (id, held): (String, Box<dyn std::any::Any>) = match leave {
            Leave::Socket => {
                let mut socket =
                    python_socket(server, "print('ready', flush=True)\ninput()").await?;
                let mut id = String::new();
                loop {
                    let Some(Ok(Message::Text(text))) = socket.next().await else {
                        return Err("the socket ended before the program printed".to_string());
                    };
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    match v["event"].as_str() {
                        Some("start") => id = v["data"]["id"].as_str().unwrap_or_default().into(),
                        Some("stdout") => break,
                        Some("end") => return Err(format!("the run ended: {}", v["data"])),
                        _ => {}
                    }
                }
                (id, Box::new(socket))
            }
            Leave::Stream => {
                let code = "import time\nprint('up', flush=True)\ntime.sleep(30)";
                let mut events = SseReader::new(server.post_stream(&request("python", code)).await);
                let start = events.next().await.ok_or("no start event")?;
                let id = start.json()["id"].as_str().unwrap_or_default().to_string();
                while events.next().await.is_some_and(|e| e.event != "stdout") {}
                (id, Box::new(events))
            }
        };
        let label = format!("snipbox.run={}", token(&id));
        let Some(container) = containers(&label).pop() else {
            return Err(format!("no container for run {id}"));
        };
        let since = SystemTime::now();
        drop(held);
        let waited = Instant::now();
        while !containers(&label).is_empty() {
            if waited.elapsed() > Duration::from_secs(30) {
                return Err(format!("run {id}'s container outlived its client by 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (event, cell) in [("die", &mut died), ("destroy", &mut destroyed)] {
            let at = engine_event_at(&container, event, since)
                .ok_or_else(|| format!("no {event} event for run {id}'s container"))?;
            cell.latencies
                .push(at.duration_since(since).unwrap_or_default());
        }
    }
    Ok((died, destroyed))
}

/// The time from each of `lines` lines sent to an interactive Python echo
/// loop on `server` to the line coming back, one line every `PACE / 3`.
async fn echo_round_trips(server: &Server, lines: usize) -> Result<Cell, String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let code = "import sys\nfor line in sys.stdin:\n    print(line, end='', flush=True)";
    let mut socket = python_socket(server, code).await?;
    let mut cell = Cell::default();
    for i in 0..lines {
        tokio::time::sleep(PACE / 3).await;
        let line = format!("line {i}\n");
        let sent = Instant::now();
        let message = serde_json::json!({ "stdin": line }).to_string();
        socket
            .send(Message::text(message))
            .await
            .map_err(|e| e.to_string())?;
        let mut echoed = String::new();
        while echoed != line {
            let Some(Ok(Message::Text(text))) = socket.next().await else {
                return Err(format!("the socket ended before {line:?}"));
            };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            match v["event"].as_str() {
                Some("stdout") => echoed += v["data"]["text"].as_str().unwrap_or_default(),
                Some("end") => return Err(format!("the run ended: {}", v["data"])),
                _ => {}
            }
        }
        cell.latencies.push(sent.elapsed());
    }
    let _ = socket.send(Message::text(r#"{"stop": true}"#)).await;
    Ok(cell)
}

async fn interactive() {
    let server = Server::start(&[]);
    server.wait_warm("python").await;
    let plain = paced(20, PACE, || async {
        run(&server.base, "python", "print(1)").await.map(drop)
    })
    .await;
    // The first conversation warms the path; the second is measured.
    let _ = echo_round_trips(&server, 5).await;
    let echo = match echo_round_trips(&server, 100).await {
        Ok(cell) => cell,
        Err(e) => {
            println!("interactive: {e}");
            return;
        }
    };
    println!();
    println!("An interactive Python echo loop over /v1/ws, warm, a line every 100 ms (ms):");
    println!();
    println!("| what | p50 | p99 | max |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| a line sent to its reply back | {:.1} | {:.1} | {:.1} |",
        echo.pct(0.5),
        echo.pct(0.99),
        echo.pct(1.0)
    );
    println!(
        "| baseline: a plain warm run of print(1) | {:.1} | {:.1} | {:.1} |",
        plain.pct(0.5),
        plain.pct(0.99),
        plain.pct(1.0)
    );
    println!();
    println!(
        "line to reply p50: {:.1} ms (target at most 20 ms)",
        echo.pct(0.5)
    );

    closed_mid_run(&server).await;
}

/// A reader who closes the page mid-run: how soon the container dies and
/// is removed, against a closed event stream's.
async fn closed_mid_run(server: &Server) {
    println!();
    println!("Ten runs let go of by their client once they printed, by the engine's events (ms):");
    println!();
    println!("| client | died p50 | died max | removed p50 | removed max |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut socket_removed = f64::NAN;
    for (leave, what) in [
        (
            Leave::Socket,
            "`/v1/ws` socket closed, program waiting for input",
        ),
        (
            Leave::Stream,
            "baseline: SSE stream closed, program sleeping",
        ),
    ] {
        match left_runs(server, leave).await {
            Ok((died, destroyed)) => {
                println!(
                    "| {what} | {:.0} | {:.0} | {:.0} | {:.0} |",
                    died.pct(0.5),
                    died.pct(1.0),
                    destroyed.pct(0.5),
                    destroyed.pct(1.0)
                );
                if let Leave::Socket = leave {
                    socket_removed = destroyed.pct(1.0);
                }
            }
            Err(e) => println!("| {what} | {e} | | | |"),
        }
    }
    println!();
    println!(
        "a closed socket's container removed within {socket_removed:.0} ms (target under 1000 ms)"
    );
}

/// `runbench [PART…]`: every part, or only the named ones (streaming,
/// interactive, runtimes, plots, bursts).
#[tokio::main]
async fn main() {
    let parts: Vec<String> = std::env::args().skip(1).collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    if wanted("streaming") {
        streaming().await;
    }
    if wanted("interactive") {
        interactive().await;
    }
    if wanted("runtimes") {
        runtimes().await;
    }
    if wanted("plots") {
        plots().await;
    }
    if wanted("bursts") {
        bursts().await;
    }
}

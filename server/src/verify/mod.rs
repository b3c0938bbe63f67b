//! `snipbox verify`: the docs' test suite. Reads a built site, finds the
//! blocks the widget would enhance (by the same rules: `snipbox_page`),
//! runs each one, and compares what it printed and how it ended with what
//! its page says. Runs go to the local engine (an in-process server with
//! an instance name of its own, so nothing of another server's is
//! touched) or to a server (`--server`). `--bake` writes the outputs into
//! the pages.

mod bake;
mod report;
mod site;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use snipbox_page::bake::{Baked, BakedFile};
use snipbox_wire::api::{ExecRequest, ExecResponse, SandboxInfo};

use crate::config::Config;
use report::Outcome;
use site::Check;

/// `snipbox verify`: what to check and how.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Built pages: HTML files, or folders searched for them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Run on this snipbox (or codapi) server, `http://HOST:PORT` (default:
    /// the local Docker engine, through a server in this process).
    #[arg(long, env = "SNIPBOX_VERIFY_SERVER")]
    pub server: Option<String>,
    /// The server's API key (sent as `Authorization: Bearer KEY`).
    #[arg(long, env = "SNIPBOX_VERIFY_API_KEY")]
    pub api_key: Option<String>,
    /// Page-wide mode's selector for every page, over the pages' own
    /// settings.
    #[arg(long)]
    pub selector: Option<String>,
    /// Runs at a time (default: the number of CPUs).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Also write the report as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write each run's output (standard output and error, files,
    /// pictures) into its page, after its block; outputs baked before are
    /// replaced.
    #[arg(long)]
    pub bake: bool,
    /// Run nothing: print each block's request (the body of `POST
    /// /v1/exec`, as the widget would send it) and what its page expects,
    /// a JSON object per line.
    #[arg(long, conflicts_with_all = ["bake", "junit"])]
    pub list: bool,
}

/// Checks the pages; `Ok(true)` when every block passed.
pub async fn run(config: &Config, args: &VerifyArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let pages = site::pages(&args.paths)?;
    anyhow::ensure!(
        !pages.is_empty(),
        "no HTML files in {}",
        args.paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let (names, local) = match &args.server {
        Some(server) => {
            anyhow::ensure!(
                server.starts_with("http://"),
                "--server {server}: give an http:// address (a server on this machine or your \
                 network); leave --server out to run on the local Docker engine"
            );
            (
                remote_names(&http, server, args.api_key.as_deref()).await,
                None,
            )
        }
        None => (Some(local_names(config)?), Some(())),
    };
    let mut checks = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        checks.extend(site::checks(i, page, args.selector.as_deref(), &names));
    }
    if args.list {
        for c in &checks {
            println!("{}", listing(c, &pages));
        }
        return Ok(true);
    }
    let local = match local {
        Some(()) if !checks.is_empty() => Some(Local::start(config, &checks, &names).await?),
        _ => None,
    };
    let base = match (&args.server, &local) {
        (Some(s), _) => s.trim_end_matches('/').to_string(),
        (None, Some(l)) => l.base.clone(),
        (None, None) => String::new(),
    };
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let results = run_checks(
        &http,
        &base,
        args.api_key.as_deref(),
        checks,
        concurrency,
        &pages,
    )
    .await;
    if let Some(local) = local {
        local.stop().await;
    }
    finish(args, &pages, &results, started)
}

/// After the runs: the failures again under a progress bar, the JUnit
/// file, the baked pages and the summary; whether everything passed.
fn finish(
    args: &VerifyArgs,
    pages: &[site::PageFile],
    results: &[(Check, Judged, u64)],
    started: Instant,
) -> anyhow::Result<bool> {
    let plain: Vec<(Check, Outcome)> = results
        .iter()
        .map(|(c, o, _)| (c.clone(), o.0.clone()))
        .collect();
    let failed: Vec<_> = plain
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Passed))
        .collect();
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        for (c, o) in &failed {
            println!("{}", report::line(c, o, pages));
        }
    }
    if let Some(path) = &args.junit {
        let timed: Vec<_> = results
            .iter()
            .map(|(c, o, ms)| {
                (
                    c.clone(),
                    o.0.clone(),
                    *ms,
                    o.1.as_ref().map(|a| a.duration),
                )
            })
            .collect();
        report::junit(path, &timed, pages)?;
    }
    let mut ok = failed.is_empty();
    if args.bake {
        ok &= bake_pages(pages, results);
    }
    println!(
        "{}",
        report::summary(&plain, pages.len(), started.elapsed().as_secs_f64())
    );
    Ok(ok)
}

/// A check as `--list` prints it.
fn listing(check: &Check, pages: &[site::PageFile]) -> serde_json::Value {
    let mut v = serde_json::json!({
        "page": pages[check.page].name,
        "block": check.number,
        "line": check.line,
        "heading": check.heading,
        "expected": check.expected,
        "expect_exit": check.expect_exit,
    });
    match &check.job {
        Ok(job) => v["request"] = serde_json::to_value(request(job)).unwrap_or_default(),
        Err(problem) => v["error"] = problem.as_str().into(),
    }
    v
}

/// The body of `POST /v1/exec` for a job (of two files of the same name,
/// the later wins, as in the widget).
fn request(job: &snipbox_page::compose::Job) -> ExecRequest {
    ExecRequest {
        sandbox: job.sandbox.clone(),
        version: job.version.clone(),
        command: job.command.clone(),
        files: job.files.iter().cloned().collect(),
        stdin: job.stdin.clone(),
    }
}

/// An outcome with the answer it came from (none when there was no run).
struct Judged(Outcome, Option<ExecResponse>);

/// Runs the checks, `concurrency` at a time, reporting each as it ends: a
/// progress bar when the report goes to a terminal (its failures follow
/// at the end), a line per block otherwise. Each with its outcome and
/// the run's time as verify waited for it (request to answer, a wait for
/// a container and a busy server's retries included), in ms.
async fn run_checks(
    http: &reqwest::Client,
    base: &str,
    api_key: Option<&str>,
    checks: Vec<Check>,
    concurrency: usize,
    pages: &[site::PageFile],
) -> Vec<(Check, Judged, u64)> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(checks.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} blocks {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut results: Vec<(Check, Judged, u64)> = futures_util::stream::iter(checks)
        .map(|check| async move {
            let asked = Instant::now();
            let judged = match &check.job {
                Err(problem) => Judged(Outcome::Error(problem.clone()), None),
                Ok(job) => match exec(http, base, api_key, job).await {
                    Ok(answer) => Judged(report::judge(&check, &answer), Some(answer)),
                    Err(e) => Judged(Outcome::Error(e), None),
                },
            };
            let ms = asked.elapsed().as_millis() as u64;
            (check, judged, ms)
        })
        .buffer_unordered(concurrency)
        .inspect(|(check, judged, _)| match &bar {
            Some(bar) => bar.inc(1),
            None => println!("{}", report::line(check, &judged.0, pages)),
        })
        .collect()
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    results.sort_by_key(|(c, _, _)| (c.page, c.number));
    results
}

/// Runs one request, waiting out a busy server (429 or 503 with
/// `Retry-After`) a few times.
async fn exec(
    http: &reqwest::Client,
    base: &str,
    api_key: Option<&str>,
    job: &snipbox_page::compose::Job,
) -> Result<ExecResponse, String> {
    let body = request(job);
    let mut tries = 0;
    loop {
        let mut req = http.post(format!("{base}/v1/exec")).json(&body);
        if let Some(key) = api_key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("the server at {base} did not answer: {e}"))?;
        let status = resp.status();
        let retry = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let answer: ExecResponse = serde_json::from_str(&text)
            .map_err(|_| format!("the server answered HTTP {status}, not with a run's answer"))?;
        match retry {
            Some(secs) if tries < 20 && matches!(status.as_u16(), 429 | 503) => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(secs.clamp(1, 10))).await;
            }
            _ => return Ok(answer),
        }
    }
}

/// The sandboxes' names and aliases a server lists; `None` when it lists
/// none (a codapi server): then a block's language is its sandbox.
async fn remote_names(
    http: &reqwest::Client,
    server: &str,
    api_key: Option<&str>,
) -> Option<Vec<(String, String)>> {
    let mut req = http.get(format!("{}/v1/sandboxes", server.trim_end_matches('/')));
    if let Some(key) = api_key {
        req = req.bearer_auth(key);
    }
    let list: Vec<SandboxInfo> = req.send().await.ok()?.json().await.ok()?;
    Some(
        list.into_iter()
            .flat_map(|s| {
                let name = s.name.clone();
                std::iter::once(s.name)
                    .chain(s.aliases)
                    .map(move |n| (n, name.clone()))
            })
            .collect(),
    )
}

/// The local catalog's names and aliases.
fn local_names(config: &Config) -> anyhow::Result<Vec<(String, String)>> {
    let catalog = crate::catalog(config)?;
    Ok(catalog
        .iter()
        .flat_map(|s| {
            std::iter::once(s.name.clone())
                .chain(s.aliases.iter().cloned())
                .map(|n| (n, s.name.clone()))
        })
        .collect())
}

/// A server in this process, on a loopback port, for the pages' sandboxes
/// only; its containers carry an instance name of their own.
struct Local {
    app: crate::App,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<()>,
}

impl Local {
    async fn start(
        config: &Config,
        checks: &[Check],
        names: &Option<Vec<(String, String)>>,
    ) -> anyhow::Result<Local> {
        let mut config = config.clone();
        config.instance = format!(
            "verify-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        config.rate_limit = 0;
        config.api_keys.clear();
        let known = |s: &str| names.iter().flatten().any(|(n, _)| n == s);
        let mut used: Vec<String> = checks
            .iter()
            .filter(|c| known(&c.sandbox))
            .map(|c| c.sandbox.clone())
            .collect();
        used.sort();
        used.dedup();
        if !used.is_empty() {
            config.sandboxes_only = used;
        }
        let engine =
            Arc::new(crate::engine::Engine::new(&config.instance).with_uids(config.run_uids));
        let app = crate::App::new(&config, engine)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let limits = crate::listen::ConnLimits {
            max_connections: config.max_connections,
            header_timeout: Duration::from_millis(config.header_timeout_ms),
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            per_client: 0,
            exempt: Arc::from(Vec::new()),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(crate::listen::serve(
            listener,
            app.router.clone(),
            limits,
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Local {
            app,
            base,
            stop,
            serving,
        })
    }

    /// Stops serving and removes its containers.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.serving.await;
        self.app.shutdown().await;
    }
}

/// Writes the outputs into their pages (a page whose blocks could not be
/// placed is left as it is, and said so); false if one could not be
/// written.
fn bake_pages(pages: &[site::PageFile], results: &[(Check, Judged, u64)]) -> bool {
    let mut ok = true;
    for (i, page) in pages.iter().enumerate() {
        let ran: Vec<_> = results.iter().filter(|(c, _, _)| c.page == i).collect();
        if ran.is_empty() {
            continue;
        }
        if ran.iter().any(|(c, _, _)| c.line.is_none()) {
            eprintln!(
                "{}: its blocks could not be placed in its markup; not baked",
                page.name
            );
            ok = false;
            continue;
        }
        let outputs: Vec<(usize, String)> = ran
            .iter()
            .filter_map(|(c, j, _)| {
                let answer = j.1.as_ref().filter(|a| a.error.is_none())?;
                Some((c.slot, snipbox_page::bake::markup(&baked(answer))))
            })
            .collect();
        match bake::bake(&page.html, &outputs) {
            Ok(html) if html == page.html => {}
            Ok(html) => {
                if let Err(e) = std::fs::write(&page.path, html) {
                    eprintln!("{}: {e}", page.path.display());
                    ok = false;
                }
            }
            Err(e) => {
                eprintln!("{}: not baked: {e}", page.name);
                ok = false;
            }
        }
    }
    ok
}

/// A run's answer as baked into its page.
fn baked(answer: &ExecResponse) -> Baked {
    Baked {
        stdout: answer.stdout.clone(),
        stderr: answer.stderr.clone(),
        exit: answer.exit_code,
        files: answer
            .files
            .iter()
            .filter_map(|f| {
                Some(BakedFile {
                    name: f.name.clone(),
                    media_type: f.media_type.clone(),
                    data: f.data.clone()?,
                })
            })
            .collect(),
    }
}

//! snipbox: runs code snippets from documentation in fresh, locked-down
//! Docker containers, behind a codapi-compatible HTTP API.
//!
//! Layers, from the outside in: [`api`] (HTTP) → [`exec`] (one run) →
//! [`pool`] and [`engine`] (containers, through bollard). [`sandbox`] loads
//! the sandbox definitions, [`files`] checks a request's files, [`access`]
//! decides who may run code, [`admission`] bounds concurrency, [`check`]
//! finds what keeps runs from working, [`metrics`] counts. [`images`]
//! builds the sandbox images (`snipbox images`), [`verify`] checks built
//! documentation pages (`snipbox verify`).

pub mod access;
pub mod admission;
pub mod api;
pub mod check;
pub mod config;
pub mod engine;
pub mod exec;
pub mod files;
pub mod images;
pub mod listen;
pub mod metrics;
pub mod pool;
pub mod verify;
pub use snipbox_spec::sandbox;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;

use crate::access::Access;
use crate::admission::Admission;
use crate::api::{AppState, BodyLimits, Health};
use crate::config::{Config, ImagesArgs};
use crate::engine::Engine;
use crate::exec::Executor;
use crate::files::FileLimits;
use crate::metrics::Metrics;
use crate::pool::Budget;
use crate::sandbox::Catalog;

/// The server, built and ready to serve: its routes and what they share.
pub struct App {
    pub router: Router,
    /// `/metrics` alone, when it has a listener of its own.
    pub metrics_router: Option<(std::net::SocketAddr, Router)>,
    engine: Arc<Engine>,
    exec: Arc<Executor>,
    access: Arc<Access>,
}

impl App {
    /// Wires the server for `config` on `engine`: loads the sandboxes and
    /// starts their warm pools. Nothing else talks to the engine here.
    pub fn new(config: &Config, engine: Arc<Engine>) -> anyhow::Result<App> {
        let catalog = catalog(config)?;
        let access = Arc::new(Access::from_config(config)?);
        let images: Vec<String> = catalog.iter().map(|s| s.image()).collect();
        let metrics = Arc::new(Metrics::new());
        let exec = Arc::new(Executor::new(
            catalog,
            engine.clone(),
            Admission::new(
                config.max_runs(),
                config.max_run_memory_mb(),
                config.max_queue,
                metrics.clone(),
            ),
            Budget::new(
                config.warm_max,
                config.warm_memory_mb << 20,
                Duration::from_millis(config.pool_quiet_ms),
            ),
            metrics.clone(),
            FileLimits {
                max_files: config.max_files,
                max_file_bytes: config.max_file_bytes,
            },
        ));
        let state = AppState {
            exec: exec.clone(),
            access: access.clone(),
            health: Arc::new(Health::new(engine.clone(), images)),
            metrics,
            body: BodyLimits {
                max: config.max_body,
                timeout: Duration::from_millis(config.body_timeout_ms),
                memory: Arc::new(tokio::sync::Semaphore::new(config.body_memory_mb << 10)),
            },
            metrics_token: config.metrics_token.as_deref().map(Arc::from),
        };
        Ok(App {
            metrics_router: config
                .metrics_listen
                .map(|addr| (addr, api::metrics_app(state.clone()))),
            router: api::app(state, config),
            exec,
            access,
            engine,
        })
    }

    /// Stops the pools and removes every container of this server.
    pub async fn shutdown(&self) {
        self.exec.shutdown().await;
    }
}

/// Before serving: removes what earlier servers left behind and logs the
/// self-check. The engine may be away: the server then starts anyway and
/// says why in `/v1/health`.
async fn prepare_engine(engine: &Engine, config: &Config) -> anyhow::Result<()> {
    match engine.sweep_leftovers().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed containers left by an earlier server"),
        Err(e) => {
            tracing::warn!(error = %e, "the Docker engine does not answer yet; runs fail with 503 until it does")
        }
    }
    let catalog = catalog(config)?;
    let images: Vec<String> = catalog.iter().map(|s| s.image()).collect();
    log_findings(&check::run(engine, &images).await);
    log_runtimes(&catalog, config.listen);
    if let Some(warning) = shared_instance_warning(&config.instance) {
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// What to say when this server keeps the default instance name: two
/// deployments of that name on one engine take each other's containers for
/// their own (start-up removes the other's as leftovers).
fn shared_instance_warning(instance: &str) -> Option<String> {
    use config::DEFAULT_INSTANCE;
    (instance == DEFAULT_INSTANCE).then(|| {
        format!(
            "SNIPBOX_INSTANCE is the shared default \"{DEFAULT_INSTANCE}\": any other deployment \
             of that name on this Docker engine takes this server's containers for its own; give \
             each deployment a name of its own (the compose files use the compose project's name)"
        )
    })
}

/// Says which runtime each sandbox uses, and warns when a server that
/// others can reach runs code under the engine's default (runc) only.
fn log_runtimes(catalog: &Catalog, listen: std::net::SocketAddr) {
    let mut by_runtime = std::collections::BTreeMap::<&str, Vec<&str>>::new();
    for s in catalog.iter() {
        let runtime = s
            .limits
            .runtime
            .as_deref()
            .unwrap_or("the engine's default");
        by_runtime.entry(runtime).or_default().push(&s.name);
    }
    for (runtime, names) in &by_runtime {
        tracing::info!(runtime, sandboxes = %names.join(", "), "runtime");
    }
    let on_default = by_runtime.get("the engine's default").map_or(0, Vec::len);
    if on_default > 0 && !listen.ip().is_loopback() {
        tracing::warn!(
            "this server listens on {listen} and runs {on_default} sandboxes under the engine's \
             default runtime (runc): code from the web then has one kernel boundary between it \
             and this host; run them under gVisor with SNIPBOX_RUNTIME=runsc (scripts/gvisor.sh \
             installs it) or `runtime = \"runsc\"` in a sandbox's [limits]"
        );
    }
}

/// Leaves out (and says so) the sandboxes whose images cannot be built for
/// this machine's architecture (a sandbox's `architectures`): the server
/// runs beside the engine it drives.
fn leave_out_other_architectures(catalog: &mut Catalog) {
    let arch = std::env::consts::ARCH;
    for name in catalog.keep_architecture(arch) {
        tracing::info!(sandbox = %name, %arch, "left out: its image is not made for this machine's architecture");
    }
}

/// The sandboxes, with the operator's overrides of their files.
fn catalog(config: &Config) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::load(&config.sandboxes)?;
    catalog
        .keep_only(&config.sandboxes_only)
        .map_err(|e| anyhow::anyhow!("SNIPBOX_SANDBOXES_ONLY: {e}"))?;
    leave_out_other_architectures(&mut catalog);
    if let Some(size) = config.pool {
        catalog.set_pool(size);
    }
    catalog.set_repository(&config.image_repository);
    if let Some(runtime) = &config.runtime {
        catalog.set_runtime(runtime);
    }
    Ok(catalog)
}

fn log_findings(findings: &[check::Finding]) {
    for finding in findings {
        match finding.level {
            check::Level::Ok => tracing::info!("{}", finding.message),
            check::Level::Warning => tracing::warn!("{}", finding.message),
            check::Level::Error => tracing::error!(
                "{} (the server stays up; /v1/health reports it)",
                finding.message
            ),
        }
    }
}

/// Builds the app and serves it until `shutdown` resolves.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let engine = Arc::new(Engine::new(&config.instance).with_uids(config.run_uids));
    prepare_engine(&engine, &config).await?;
    let app = App::new(&config, engine)?;
    // /metrics' own listener first: once the main one accepts, both do.
    let metrics = match &app.metrics_router {
        Some((addr, _)) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /metrics"))?,
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    let limits = listen::ConnLimits {
        max_connections: config.max_connections,
        header_timeout: Duration::from_millis(config.header_timeout_ms),
        write_timeout: Duration::from_millis(config.write_timeout_ms),
        per_client: config.max_connections_per_client,
        exempt: app.access.trusted_proxies().into(),
    };
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    run(app, (listener, metrics), limits, grace, shutdown).await
}

/// Serves `app` on `listener` (and `/metrics` on `metrics`, when it has a
/// listener of its own). When `shutdown` resolves: stops accepting, lets
/// requests in flight finish within `grace`, removes this server's
/// containers.
pub async fn run(
    app: App,
    (listener, metrics): (tokio::net::TcpListener, Option<tokio::net::TcpListener>),
    limits: listen::ConnLimits,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (access, engine) = (app.access.clone(), app.engine.clone());
    let pruning = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(10));
        every.tick().await;
        loop {
            every.tick().await;
            access.prune();
            // What a server of this deployment that died abruptly left:
            // containers that no longer run, or never started.
            if let Ok(n @ 1..) = engine.sweep_leftovers().await {
                tracing::info!(removed = n, "removed containers a server left behind");
            }
        }
    });
    let metrics = match (metrics, &app.metrics_router) {
        (Some(listener), Some((addr, router))) => {
            tracing::info!(address = %addr, "serving /metrics");
            let served = listen::serve(
                listener,
                router.clone(),
                limits.clone(),
                std::future::pending(),
            );
            Some(tokio::spawn(served))
        }
        _ => None,
    };
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let serving = listen::serve(listener, app.router.clone(), limits, async {
        let _ = stopping.await;
    });
    tokio::pin!(serving);
    tokio::select! {
        () = shutdown => {}
        () = &mut serving => anyhow::bail!("the listener stopped"),
    }
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: letting runs in flight finish"
    );
    let _ = stopping_tx.send(());
    if tokio::time::timeout(grace, &mut serving).await.is_err() {
        tracing::warn!("runs still in flight after the grace period: ending them");
        app.exec.stop_runs();
        // Their answers (503, shutting down) still go out.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut serving).await;
    }
    pruning.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    app.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Prints every finding of the self-check; `Ok(true)` when none is an error.
pub async fn check(config: &Config) -> anyhow::Result<bool> {
    let catalog = catalog(config)?;
    println!(
        "ok: {} sandboxes in {}",
        catalog.iter().count(),
        folders(&config.sandboxes)
    );
    let engine = Engine::new(&config.instance);
    let images: Vec<String> = catalog.iter().map(|s| s.image()).collect();
    let findings = check::run(&engine, &images).await;
    for f in &findings {
        println!("{f}");
    }
    Ok(findings.iter().all(|f| f.level != check::Level::Error))
}

/// `snipbox images`: builds the sandbox images that are missing or out of
/// date, prints a line per step and a table; `Ok(false)` when one fails
/// (the error printed names the sandbox and how its build ended).
pub async fn images(config: &Config, args: &ImagesArgs) -> anyhow::Result<bool> {
    let mut all = Catalog::load(&config.sandboxes)?;
    all.set_repository(&config.image_repository);
    let mut chosen = all.clone();
    chosen
        .keep_only(&config.sandboxes_only)
        .map_err(|e| anyhow::anyhow!("SNIPBOX_SANDBOXES_ONLY: {e}"))?;
    chosen
        .keep_only(&args.only)
        .map_err(|e| anyhow::anyhow!("--only: {e}"))?;
    leave_out_other_architectures(&mut chosen);
    // What a chosen sandbox extends is built first, chosen or not.
    let mut sandboxes: Vec<crate::sandbox::Sandbox> = Vec::new();
    for s in chosen.iter() {
        for line in all.lineage(&s.name) {
            if !sandboxes.iter().any(|b| b.name == line.name) {
                sandboxes.push(line.clone());
            }
        }
    }
    if args.bases {
        let mut printed: Vec<String> = Vec::new();
        for s in &sandboxes {
            let Ok(dockerfile) = std::fs::read_to_string(s.dir.join("Dockerfile")) else {
                continue;
            };
            for base in images::bases(&dockerfile) {
                if !printed.contains(&base) {
                    println!("{base}");
                    printed.push(base);
                }
            }
        }
        return Ok(true);
    }
    let host_ca = args.host_ca.clone().or_else(|| {
        let path: std::path::PathBuf = std::env::var_os("SSL_CERT_FILE")
            .map_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into(), Into::into);
        path.is_file().then_some(path)
    });
    let plan = images::Plan {
        dirs: folders(&config.sandboxes),
        sandboxes,
        agents: args.agent.clone(),
        host_ca,
        network: args.network.clone().filter(|n| !n.is_empty()),
    };
    let started = std::time::Instant::now();
    match images::build_all(&Engine::new(&config.instance), &plan).await {
        Ok(reports) => {
            println!(
                "{}",
                images::table(&reports, started.elapsed().as_secs_f64())
            );
            Ok(true)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(false)
        }
    }
}

/// The sandboxes folders, as a person reads them.
fn folders(dirs: &[std::path::PathBuf]) -> String {
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    names.join(", ")
}

/// Asks the running server's `/v1/health` (the image's HEALTHCHECK).
pub async fn health(config: &Config) -> anyhow::Result<bool> {
    use http_body_util::BodyExt;
    let port = config.listen.port();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri = format!("http://127.0.0.1:{port}/v1/health").parse()?;
    let resp = tokio::time::timeout(Duration::from_secs(4), client.get(uri)).await??;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    println!("{status} {}", String::from_utf8_lossy(&body));
    Ok(status.is_success())
}

#[cfg(test)]
mod instance_tests {
    #[test]
    fn only_the_default_instance_name_is_warned_about() {
        let warning = super::shared_instance_warning("snipbox").expect("a warning");
        assert!(warning.contains("SNIPBOX_INSTANCE"), "{warning}");
        assert_eq!(super::shared_instance_warning("docs-prod"), None);
    }
}

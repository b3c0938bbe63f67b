//! snipbox: runs code snippets from documentation in fresh, locked-down
//! Docker containers, behind a codapi-compatible HTTP API.
//!
//! Layers, from the outside in: [`api`] (HTTP) → [`exec`] (one run) →
//! [`pool`] and [`engine`] (containers, through bollard). [`sandbox`] loads
//! the sandbox definitions, [`files`] checks a request's files, [`access`]
//! decides who may run code, [`limits`] bounds concurrency, [`check`] finds
//! what keeps runs from working, [`metrics`] counts.

pub mod access;
pub mod api;
pub mod check;
pub mod config;
pub mod engine;
pub mod exec;
pub mod files;
pub mod limits;
pub mod metrics;
pub mod pool;
pub mod sandbox;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::engine::Engine;
use crate::exec::Executor;
use crate::files::FileLimits;
use crate::limits::Admission;
use crate::metrics::Metrics;
use crate::sandbox::Catalog;

/// Serves until `shutdown` resolves, then lets runs in flight finish within
/// the grace period and removes every container of this instance.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut catalog = Catalog::load(&config.sandboxes)?;
    if let Some(size) = config.pool {
        catalog.set_pool(size);
    }
    let access = Arc::new(access::Access::from_config(&config)?);
    let engine = Arc::new(Engine::new(&config.instance));
    match engine.sweep().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed containers left by an earlier run"),
        Err(e) => {
            tracing::warn!(error = %e, "the Docker engine does not answer yet; runs fail with 503 until it does")
        }
    }
    for finding in check::run(&engine, &catalog).await {
        match finding.level {
            check::Level::Ok => tracing::info!("{}", finding.message),
            check::Level::Warning => tracing::warn!("{}", finding.message),
            check::Level::Error => tracing::error!(
                "{} (the server stays up; /v1/health reports it)",
                finding.message
            ),
        }
    }
    let metrics = Arc::new(Metrics::new());
    let admission = Admission::new(config.max_runs(), config.max_queue, metrics.clone());
    let file_limits = FileLimits {
        max_files: config.max_files,
        max_file_bytes: config.max_file_bytes,
    };
    let exec = Arc::new(Executor::new(
        catalog,
        engine,
        admission,
        metrics.clone(),
        file_limits,
    ));
    let app = api::app(
        api::AppState {
            exec: exec.clone(),
            metrics,
            health: Default::default(),
            access: access.clone(),
        },
        &config,
    );

    let pruning = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            access.prune();
        }
    });

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening");

    let stop = tokio_util::sync::CancellationToken::new();
    let graceful = stop.clone().cancelled_owned();
    let mut server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(graceful)
        .await
    });
    tokio::select! {
        () = shutdown => {}
        result = &mut server => {
            exec.shutdown().await;
            return Ok(result??);
        }
    }
    tracing::info!(
        grace_ms = config.shutdown_grace_ms,
        "shutting down: letting runs in flight finish"
    );
    stop.cancel();
    if tokio::time::timeout(Duration::from_millis(config.shutdown_grace_ms), &mut server)
        .await
        .is_err()
    {
        tracing::warn!("runs still in flight after the grace period: cancelling them");
        server.abort();
        let _ = server.await;
    }
    pruning.abort();
    exec.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Prints every finding of the self-check; `Ok(true)` when none is an error.
pub async fn check(config: &Config) -> anyhow::Result<bool> {
    let catalog = Catalog::load(&config.sandboxes)?;
    println!(
        "ok: {} sandboxes in {}",
        catalog.iter().count(),
        config.sandboxes.display()
    );
    let engine = Engine::new(&config.instance);
    let findings = check::run(&engine, &catalog).await;
    for f in &findings {
        println!("{f}");
    }
    Ok(findings.iter().all(|f| f.level != check::Level::Error))
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

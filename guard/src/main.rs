use clap::Parser;
use snipbox_guard::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        // Colours only on a terminal (see the server's main).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    snipbox_guard::serve(Config::parse(), shutdown_signal()).await
}

/// SIGTERM (what `docker stop` sends) or Ctrl+C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

use std::process::ExitCode;

use clap::Parser;
use snipbox::config::{Cli, Cmd};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,bollard=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            snipbox::serve(cli.config, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Health => Ok(if snipbox::health(&cli.config).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Cmd::Check => Ok(if snipbox::check(&cli.config).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}

/// SIGTERM (what `docker stop` and Coolify send) or Ctrl+C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

use std::process::ExitCode;

use clap::Parser;
use snipbox::config::{Cli, Cmd};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // Colours only on a terminal: a log file or a log viewer (Coolify's)
    // shows escape codes as they are. `verify` has a report of its own:
    // warnings only.
    let default = match cli.command {
        Some(Cmd::Verify(_)) => "warn",
        _ => "info,bollard=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            snipbox::serve(cli.config, shutdown_signal()?).await?;
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
        Cmd::Verify(args) => Ok(if snipbox::verify::run(&cli.config, &args).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Cmd::Images(args) => Ok(if snipbox::images(&cli.config, &args).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}

/// SIGTERM (what `docker stop` and Coolify send) or Ctrl+C. The handlers
/// are installed at once: a signal that comes while the server is still
/// starting (its pools already creating containers) waits for the
/// graceful shutdown instead of ending the process on the spot.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

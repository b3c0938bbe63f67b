//! snipbox-guard: a Docker Engine API guard for snipbox. It sits between
//! the server and the engine and forwards only the calls snipbox makes,
//! judged by content: a create body must be exactly the one the server's
//! own hardening spec ([`snipbox_spec::spec`]) builds for a configured
//! sandbox, and every other call must act on this deployment's containers.
//! So a compromised server still cannot ask the engine for a privileged
//! container, a host mount, another image, or anything of another app.
//!
//! Rooms: [`route`] (paths and the allow-list), [`query`] (query strings),
//! [`strict`] (JSON with each key once), [`policy`] (create bodies against
//! the spec), [`owned`] (which containers are this deployment's),
//! [`upstream`] (the engine), [`proxy`] (one request, start to end),
//! [`refusal`] (the JSON answer of a refusal), [`config`].

pub mod config;
pub mod owned;
pub mod policy;
pub mod proxy;
pub mod query;
pub mod refusal;
pub mod route;
pub mod strict;
pub mod upstream;

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use snipbox_spec::sandbox::Catalog;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::either::Either;

use crate::config::{Config, Listen};
use crate::policy::Policy;
use crate::proxy::Guard;
use crate::upstream::Upstream;

/// Loads the sandboxes, listens, and guards the engine until `shutdown`
/// resolves.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let catalog = catalog(&config)?;
    let images: Vec<String> = catalog.iter().map(|s| s.image()).collect();
    let guard = Arc::new(Guard {
        policy: Policy::new(catalog, &config.instance, config.run_uids),
        owned: Default::default(),
        engine: Upstream::new(config.docker_host.clone()),
    });
    let listener = Listener::bind(&config.listen).await?;
    tracing::info!(
        listen = ?config.listen,
        engine = %config.docker_host,
        instance = config.instance,
        run_uids = %config.run_uids,
        images = ?images,
        "guarding the Docker engine"
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(io) => spawn_connection(guard.clone(), io),
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// The sandboxes with the operator's overrides that change a create body,
/// applied as the server applies them: the guard must be given the same.
fn catalog(config: &Config) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::load(&config.sandboxes)?;
    catalog.set_repository(&config.image_repository);
    if let Some(runtime) = &config.runtime {
        catalog.set_runtime(runtime);
    }
    Ok(catalog)
}

fn spawn_connection<I>(guard: Arc<Guard>, io: I)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |req| proxy::handle(guard.clone(), req));
        let served = http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await;
        if let Err(e) = served {
            tracing::debug!(error = %e, "client connection ended");
        }
    });
}

/// The mode of the guard's Unix socket: connecting takes write permission,
/// which its user and its group have, nobody else.
const SOCKET_MODE: u32 = 0o660;

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    async fn bind(listen: &Listen) -> anyhow::Result<Listener> {
        match listen {
            Listen::Tcp(addr) => Ok(Listener::Tcp(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            )),
            Listen::Unix(path) => {
                // A socket left by an earlier guard; any other file stays.
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    std::fs::remove_file(path)?;
                }
                let listener = UnixListener::bind(path)
                    .with_context(|| format!("cannot listen on unix:{}", path.display()))?;
                // For the guard's user and group only: whoever may use the
                // guard is put in its group (the compose file's server).
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
                    .with_context(|| format!("cannot set the mode of {}", path.display()))?;
                Ok(Listener::Unix(listener))
            }
        }
    }

    async fn accept(
        &self,
    ) -> std::io::Result<Either<tokio::net::TcpStream, tokio::net::UnixStream>> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept().await?;
                // The attach stream carries small frames: send them at once.
                s.set_nodelay(true)?;
                Ok(Either::Left(s))
            }
            Listener::Unix(l) => Ok(Either::Right(l.accept().await?.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_unix_socket_is_for_the_guards_user_and_group_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let _listener = Listener::bind(&Listen::Unix(path.clone())).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660, "{mode:o}");
    }
}

//! The guard's configuration: flags, `SNIPBOX_GUARD_*` environment
//! variables (and `DOCKER_HOST` for the engine), or the defaults shown here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;
use snipbox_spec::uids::UidRange;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "snipbox-guard",
    version,
    about = "Forwards to the Docker engine only the calls snipbox makes, with the bodies snipbox's own spec builds"
)]
pub struct Config {
    /// Address to listen on: HOST:PORT, or unix:/path/to.sock.
    #[arg(long, env = "SNIPBOX_GUARD_LISTEN", default_value = "127.0.0.1:2375")]
    pub listen: Listen,
    /// Folders of sandbox definitions, separated by `:`: the same folders
    /// the server reads.
    #[arg(
        long,
        env = "SNIPBOX_GUARD_SANDBOXES",
        default_value = "./sandboxes",
        value_delimiter = ':'
    )]
    pub sandboxes: Vec<PathBuf>,
    /// Repository of the sandbox images: the server's `--image-repository`.
    #[arg(
        long,
        env = "SNIPBOX_GUARD_IMAGE_REPOSITORY",
        default_value = snipbox_spec::sandbox::DEFAULT_REPOSITORY
    )]
    pub image_repository: String,
    /// OCI runtime of every sandbox: the server's `--runtime`, if it has one.
    #[arg(long, env = "SNIPBOX_GUARD_RUNTIME")]
    pub runtime: Option<String>,
    /// The deployment's name (the server's `--instance`): only containers
    /// labelled with it may be created, listed, attached, started or removed.
    #[arg(long, env = "SNIPBOX_GUARD_INSTANCE", default_value = "snipbox")]
    pub instance: String,
    /// The UIDs containers may run as: the server's `--run-uids`.
    #[arg(long, env = "SNIPBOX_GUARD_RUN_UIDS", default_value_t = UidRange::DEFAULT)]
    pub run_uids: UidRange,
    /// The Docker engine: unix:///path or tcp://HOST:PORT.
    #[arg(
        long,
        env = "DOCKER_HOST",
        default_value = "unix:///var/run/docker.sock"
    )]
    pub docker_host: EngineAddr,
}

/// Where the guard listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if !path.starts_with('/') {
                return Err(format!("{s}: a socket path must be absolute"));
            }
            return Ok(Listen::Unix(path.into()));
        }
        s.parse()
            .map(Listen::Tcp)
            .map_err(|_| format!("{s}: expected HOST:PORT or unix:/path/to.sock"))
    }
}

/// Where the Docker engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineAddr {
    Unix(PathBuf),
    /// `HOST:PORT`, plain HTTP.
    Tcp(String),
}

impl FromStr for EngineAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix://") {
            return Ok(EngineAddr::Unix(path.into()));
        }
        match s.split_once("://") {
            Some(("tcp" | "http", addr)) if !addr.is_empty() && !addr.contains('/') => {
                Ok(EngineAddr::Tcp(addr.into()))
            }
            _ => Err(format!(
                "{s}: expected unix:///path/to/docker.sock or tcp://HOST:PORT (TLS is not supported)"
            )),
        }
    }
}

impl std::fmt::Display for EngineAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineAddr::Unix(path) => write!(f, "unix://{}", path.display()),
            EngineAddr::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_an_address_or_a_socket_path() {
        assert_eq!(
            "127.0.0.1:2375".parse(),
            Ok(Listen::Tcp("127.0.0.1:2375".parse().unwrap()))
        );
        assert_eq!(
            "unix:/run/guard.sock".parse(),
            Ok(Listen::Unix("/run/guard.sock".into()))
        );
        assert_eq!(
            "unix:///run/guard.sock".parse(),
            Ok(Listen::Unix("/run/guard.sock".into()))
        );
        assert!("unix:guard.sock".parse::<Listen>().is_err());
        assert!("localhost".parse::<Listen>().is_err());
    }

    #[test]
    fn the_engine_is_a_socket_or_plain_tcp() {
        assert_eq!(
            "unix:///var/run/docker.sock".parse(),
            Ok(EngineAddr::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            "tcp://docker:2375".parse(),
            Ok(EngineAddr::Tcp("docker:2375".into()))
        );
        assert!("https://docker:2376".parse::<EngineAddr>().is_err());
        assert!("tcp://docker:2375/x".parse::<EngineAddr>().is_err());
    }
}

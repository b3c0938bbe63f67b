//! The server's configuration: one struct, set by flags, `SNIPBOX_*`
//! environment variables, or the defaults shown here (and in
//! docs/configuration.md).
//! Per-sandbox limits live in `sandboxes/` instead.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::engine::uids::UidRange;

/// The agent `make images` builds for the machine this server is built
/// for.
const DEFAULT_AGENT: &str = if cfg!(target_arch = "aarch64") {
    "target/aarch64-unknown-linux-musl/release/snipbox-agent"
} else {
    "target/x86_64-unknown-linux-musl/release/snipbox-agent"
};

/// The instance name every deployment has unless told otherwise.
pub(crate) const DEFAULT_INSTANCE: &str = "snipbox";

#[derive(Debug, Parser)]
#[command(
    name = "snipbox",
    version,
    about = "Runs code snippets from documentation in locked-down Docker containers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve the API, the widget and the pages (the default).
    Serve,
    /// Check that everything a run needs works; exit 0 when it does.
    Check,
    /// Ask the server listening on `--listen`'s port for its health (exit 0 when healthy).
    Health,
    /// Build every sandbox image that is missing or out of date, through
    /// the Engine API; exit 0 when all are built.
    Images(ImagesArgs),
    /// Run every runnable block of built documentation pages and compare
    /// each output with the page's; exit 0 when all pass.
    Verify(crate::verify::VerifyArgs),
}

/// `snipbox images`: what to build and with what.
#[derive(Debug, Clone, Args)]
pub struct ImagesArgs {
    /// Only these sandboxes (names or aliases, comma-separated), and those
    /// they extend (default: `--sandboxes-only`, else every sandbox).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The agent binaries, separated by `:`, one per architecture: each
    /// sandbox image gets the one built for the engine's (x86_64,
    /// aarch64). Static (musl) builds; a dynamically linked one is refused.
    #[arg(
        long,
        env = "SNIPBOX_AGENT",
        value_delimiter = ':',
        default_value = DEFAULT_AGENT
    )]
    pub agent: Vec<std::path::PathBuf>,
    /// Certificates a sandbox Dockerfile may `COPY host-ca.crt`, and pip,
    /// npm and cargo packages are fetched with, for networks that inspect
    /// TLS; not part of the definition hash (default: `SSL_CERT_FILE`, else
    /// `/etc/ssl/certs/ca-certificates.crt`, else an empty file).
    #[arg(long, env = "SNIPBOX_HOST_CA")]
    pub host_ca: Option<std::path::PathBuf>,
    /// Network of the build steps' containers: `host` where the engine's
    /// bridge has no way out (default: the engine's).
    #[arg(long, env = "SNIPBOX_BUILD_NETWORK")]
    pub network: Option<String>,
    /// Build nothing: print the images the chosen sandboxes' Dockerfiles
    /// start `FROM` (not their own stages, nor the sandboxes they extend),
    /// one per line; `scripts/images.sh` bootstraps the Debian ones where
    /// none can be pulled.
    #[arg(long)]
    pub bases: bool,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "SNIPBOX_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// Folders of sandbox definitions, separated by `:`: the first holds
    /// `defaults.toml`, and a name defined twice is refused (an operator's
    /// own folder of sandboxes: docs/packages.md).
    #[arg(
        long,
        env = "SNIPBOX_SANDBOXES",
        default_value = "./sandboxes",
        value_delimiter = ':',
        global = true
    )]
    pub sandboxes: Vec<PathBuf>,
    /// Serve (and, for `snipbox images`, build) only these sandboxes: names
    /// or aliases, comma-separated; for small deployments (default: every
    /// sandbox).
    #[arg(
        long,
        env = "SNIPBOX_SANDBOXES_ONLY",
        value_delimiter = ',',
        global = true
    )]
    pub sandboxes_only: Vec<String>,
    /// Repository of the sandbox images: `REPOSITORY/NAME:latest`.
    #[arg(
        long,
        env = "SNIPBOX_IMAGE_REPOSITORY",
        default_value = "snipbox",
        global = true
    )]
    pub image_repository: String,
    /// Folder of static files (pages, built widget).
    #[arg(
        long = "static",
        env = "SNIPBOX_STATIC",
        default_value = "./static",
        global = true
    )]
    pub static_dir: PathBuf,
    /// This deployment's name on the engine: its containers carry the label
    /// `snipbox.instance=NAME`, and start-up removes leftovers with it
    /// (docs/deploy.md, rolling updates). Give each deployment its own: the
    /// compose files use the compose project's name, and the server warns
    /// when it keeps the default.
    #[arg(
        long,
        env = "SNIPBOX_INSTANCE",
        default_value = DEFAULT_INSTANCE,
        global = true
    )]
    pub instance: String,
    /// The UIDs runs get, FIRST-LAST within 65536-2147483646: each
    /// container runs as one of its own (UID and GID), so no two runs and no
    /// host account share a per-user kernel quota (docs/isolation.md). Keep
    /// it clear of host accounts, and give two deployments on one engine
    /// disjoint ranges.
    #[arg(
        long,
        env = "SNIPBOX_RUN_UIDS",
        default_value_t = UidRange::DEFAULT,
        global = true
    )]
    pub run_uids: UidRange,
    /// Runs at once (default: 2 × CPU cores).
    #[arg(long, env = "SNIPBOX_MAX_RUNS", global = true)]
    pub max_runs: Option<usize>,
    /// Memory limits of all runs in flight together, in MiB (default: half
    /// of this host's memory): a run waits in the queue until its
    /// sandbox's `memory_mb` fits.
    #[arg(long, env = "SNIPBOX_MAX_RUN_MEMORY_MB", global = true)]
    pub max_run_memory_mb: Option<u32>,
    /// OCI runtime for every sandbox, e.g. `runsc` (gVisor) (default: each
    /// sandbox's `runtime`).
    #[arg(long, env = "SNIPBOX_RUNTIME", global = true)]
    pub runtime: Option<String>,
    /// Requests waiting for a run slot; past it, 429.
    #[arg(long, env = "SNIPBOX_MAX_QUEUE", default_value_t = 32, global = true)]
    pub max_queue: usize,
    /// Largest request body, bytes (413 past it).
    #[arg(long, env = "SNIPBOX_MAX_BODY", default_value_t = 512 * 1024, global = true)]
    pub max_body: usize,
    /// Connections served at once; more wait in the kernel's backlog.
    #[arg(
        long,
        env = "SNIPBOX_MAX_CONNECTIONS",
        default_value_t = 1024,
        global = true
    )]
    pub max_connections: usize,
    /// How long a request's headers may take to arrive, and a kept-alive
    /// connection may wait for its next request, in ms.
    #[arg(
        long,
        env = "SNIPBOX_HEADER_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub header_timeout_ms: u64,
    /// How long an answer may make no progress (the client reads nothing of
    /// it) before its connection is closed, in ms.
    #[arg(
        long,
        env = "SNIPBOX_WRITE_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub write_timeout_ms: u64,
    /// Connections from one address at once (0: no cap); trusted proxies
    /// have none, as they carry many clients; one over it is closed at once.
    #[arg(
        long,
        env = "SNIPBOX_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64,
        global = true
    )]
    pub max_connections_per_client: usize,
    /// Request bodies being read, all together, at most (MiB); past it, 503
    /// `overloaded` with `Retry-After`.
    #[arg(
        long,
        env = "SNIPBOX_BODY_MEMORY_MB",
        default_value_t = 64,
        global = true
    )]
    pub body_memory_mb: usize,
    /// How long a request body may take to arrive, in ms (408 past it).
    #[arg(
        long,
        env = "SNIPBOX_BODY_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub body_timeout_ms: u64,
    /// Most files in one request (413).
    #[arg(long, env = "SNIPBOX_MAX_FILES", default_value_t = 64, global = true)]
    pub max_files: usize,
    /// Largest file after decoding a data URL, bytes (413).
    #[arg(long, env = "SNIPBOX_MAX_FILE_BYTES", default_value_t = 512 * 1024, global = true)]
    pub max_file_bytes: usize,
    /// A fixed number of warm containers for every sandbox; `0` turns the
    /// pools off (default: each sandbox's `pool` and `pool_min`).
    #[arg(long, env = "SNIPBOX_POOL", global = true)]
    pub pool: Option<usize>,
    /// Warm containers of all sandboxes together, at most.
    #[arg(long, env = "SNIPBOX_WARM_MAX", default_value_t = 128, global = true)]
    pub warm_max: usize,
    /// Memory that idle warm containers of all sandboxes may hold, in MiB,
    /// each as its agent measured it.
    #[arg(
        long,
        env = "SNIPBOX_WARM_MEMORY_MB",
        default_value_t = 2048,
        global = true
    )]
    pub warm_memory_mb: u64,
    /// A sandbox with no run taking a container or running for this long
    /// (ms) gives back one warm container, down to its `pool_min`.
    #[arg(
        long,
        env = "SNIPBOX_POOL_QUIET_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub pool_quiet_ms: u64,
    /// Page origins allowed to run code, comma-separated (a trailing `/` is
    /// ignored; `*` allows any): used for CORS, and a request whose `Origin`
    /// is not listed gets 403 `origin_not_allowed` (requests without
    /// `Origin` are not from pages and pass).
    #[arg(
        long,
        env = "SNIPBOX_CORS_ORIGINS",
        default_value = "*",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// Runs per minute per client (a token bucket); `0` turns it off; over
    /// it, 429 `rate_limited` with `Retry-After`.
    #[arg(long, env = "SNIPBOX_RATE_LIMIT", default_value_t = 60, global = true)]
    pub rate_limit: u32,
    /// IPv6 clients are limited per network of this prefix length (a
    /// host usually has a whole /64); 128 limits each address.
    #[arg(
        long,
        env = "SNIPBOX_RATE_LIMIT_IPV6_PREFIX",
        default_value_t = 64,
        global = true
    )]
    pub rate_limit_ipv6_prefix: u8,
    /// Runs a client may make at once before the per-minute rate applies.
    #[arg(long, env = "SNIPBOX_RATE_BURST", default_value_t = 10, global = true)]
    pub rate_burst: u32,
    /// Proxies (IPs or CIDR ranges, comma-separated, e.g. Coolify's
    /// Traefik) whose `X-Forwarded-For` names the client; anyone else's is
    /// ignored, and an entry that is not an address (or `address:port`)
    /// ends the walk at the proxy that wrote it.
    #[arg(
        long,
        env = "SNIPBOX_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,
    /// Keys for trusted clients, comma-separated: `Authorization: Bearer
    /// KEY` lifts the rate limit and the origin check; a wrong key gets 401
    /// `bad_api_key`.
    #[arg(
        long,
        env = "SNIPBOX_API_KEYS",
        value_delimiter = ',',
        global = true,
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// Serve `/metrics` on this address of its own (and not on `--listen`).
    #[arg(long, env = "SNIPBOX_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
    /// On `--listen`, `/metrics` answers this host only (loopback peers,
    /// and not a request a proxy forwarded: one with `X-Forwarded-For`,
    /// `Forwarded` or `X-Real-IP`), and anyone with `Authorization: Bearer
    /// TOKEN` when this is set.
    #[arg(
        long,
        env = "SNIPBOX_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// On SIGTERM, how long runs in flight may take to finish, in ms.
    #[arg(
        long,
        env = "SNIPBOX_SHUTDOWN_GRACE_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub shutdown_grace_ms: u64,
}

impl Config {
    /// The page origins allowed to run code, as browsers send them (no
    /// trailing slash); `None` when any origin may.
    pub fn origins(&self) -> Option<Vec<String>> {
        if self.cors_origins.iter().any(|o| o.trim() == "*") {
            return None;
        }
        Some(
            self.cors_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }

    pub fn max_run_memory_mb(&self) -> u32 {
        self.max_run_memory_mb.unwrap_or_else(|| {
            let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
            let total_kib = meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(8 << 20);
            (total_kib / 1024 / 2) as u32
        })
    }

    pub fn max_runs(&self) -> usize {
        self.max_runs
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

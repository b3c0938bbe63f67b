//! The connection to the Docker engine: the client after version
//! negotiation, what the engine's errors mean (with the fix), and the
//! sweeps that remove containers nobody uses any more.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use tokio_util::task::TaskTracker;

use super::spec::{LABEL_INSTANCE, LABEL_SERVER};
use super::uids::{UidRange, Uids};

/// How long a new container may take to start its agent.
pub(crate) const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// A launch starts its container within moments of creating it, but on a
/// loaded engine (or under gVisor) the start can take many seconds, and
/// every server of the instance sweeps: a container still "created" after
/// twice what a launch may take is nobody's (its server died in between).
pub(crate) const CREATED_GRACE: Duration = Duration::from_secs(2 * LAUNCH_TIMEOUT.as_secs());

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the Docker engine at {address} is unreachable: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("sandbox image {image} is missing: run `make images` (or `snipbox images`)")]
    ImageMissing { image: String },
    #[error("the sandbox container stopped before the run finished")]
    Lost {
        /// The agent had acknowledged the job: what it ran ended it.
        after_job: bool,
        /// The engine says the kernel's OOM killer ended it.
        oom_killed: bool,
    },
    #[error("the sandbox agent failed: {0}")]
    Agent(String),
    #[error("the Docker API in front of the engine refused {call}: {fix}")]
    Refused { call: String, fix: &'static str },
    #[error(
        "every UID of the run range {range} is taken by a live container: give --run-uids a \
         wider range"
    )]
    NoUid { range: String },
    #[error("Docker engine error: {0}")]
    Api(String),
}

impl EngineError {
    /// Whether the engine or its images are the problem (503), rather than
    /// something about this one run (500).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::PermissionDenied(_)
                | Self::ImageMissing { .. }
                | Self::Refused { .. }
                | Self::Lost { .. }
                | Self::NoUid { .. }
        )
    }
}

/// The Engine API calls snipbox makes, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call<'a> {
    Ping,
    Version,
    List,
    Create(&'a str),
    Attach,
    Start(&'a str),
    InspectImage(&'a str),
}

impl<'a> Call<'a> {
    fn image(self) -> Option<&'a str> {
        match self {
            Call::Create(image) | Call::Start(image) | Call::InspectImage(image) => Some(image),
            _ => None,
        }
    }

    fn describe(self) -> String {
        use snipbox_spec::calls;
        match self {
            Call::Ping => calls::PING.line(),
            Call::Version => calls::VERSION.line(),
            Call::List => calls::LIST.line(),
            Call::Create(image) => format!("{} (image {image})", calls::CREATE.line()),
            Call::Attach => calls::ATTACH.line(),
            Call::Start(_) => calls::START.line(),
            Call::InspectImage(image) => calls::INSPECT_IMAGE.with(image),
        }
    }

    /// What lets this call through a proxy in front of the engine.
    fn fix(self) -> &'static str {
        match self {
            Call::Ping => "allow it (docker-socket-proxy: PING=1)",
            Call::Version => "allow it (docker-socket-proxy: VERSION=1)",
            Call::List => "allow it (docker-socket-proxy: CONTAINERS=1)",
            Call::Create(_) | Call::Attach | Call::Start(_) => {
                "allow it (docker-socket-proxy: CONTAINERS=1 and POST=1; snipbox-guard: the image must be a sandbox's and the body snipbox's own)"
            }
            Call::InspectImage(_) => "allow it (docker-socket-proxy: IMAGES=1)",
        }
    }
}

/// A connection to the Docker engine, and this server's name on it.
pub struct Engine {
    /// The client after API version negotiation, once the engine answered.
    client: Mutex<Option<Docker>>,
    address: String,
    instance: String,
    /// This process's id: its containers carry it, so that two servers of
    /// one instance (a rolling update) never remove each other's.
    server: String,
    /// The UIDs its containers run as, one each.
    pub(crate) uids: Arc<Uids>,
    pub(crate) removals: TaskTracker,
}

impl Engine {
    /// Prepares a client for `DOCKER_HOST` (or the local socket); nothing is
    /// contacted yet, so the server starts even while the engine is down.
    pub fn new(instance: &str) -> Self {
        let address =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        Engine {
            client: Mutex::new(None),
            address,
            instance: instance.into(),
            server: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            uids: Uids::new(UidRange::DEFAULT),
            removals: TaskTracker::new(),
        }
    }

    /// Runs its containers as UIDs of `range` (see [`super::uids`]).
    pub fn with_uids(mut self, range: UidRange) -> Self {
        self.uids = Uids::new(range);
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    pub(crate) async fn docker(&self) -> Result<Docker, EngineError> {
        if let Some(d) = self.client.lock().expect("not poisoned").clone() {
            return Ok(d);
        }
        // Connecting checks that the socket exists: done here, not at
        // start-up, so that the server stays up (and says why) until it does.
        let d = Docker::connect_with_defaults().map_err(|e| self.error(e, Call::Version))?;
        // Engines from 20.10 (API 1.41) to the newest: speak the lower of
        // the two versions.
        let d = d
            .negotiate_version()
            .await
            .map_err(|e| self.error(e, Call::Version))?;
        *self.client.lock().expect("not poisoned") = Some(d.clone());
        Ok(d)
    }

    /// Answers when the engine does.
    pub async fn ping(&self) -> Result<(), EngineError> {
        let docker = self.docker().await?;
        docker.ping().await.map_err(|e| self.error(e, Call::Ping))?;
        Ok(())
    }

    /// Whether an image exists locally.
    pub async fn has_image(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker().await?.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.error(e, Call::InspectImage(image))),
        }
    }

    /// Removes this server's own containers (at shutdown).
    pub async fn sweep_own(&self) -> Result<usize, EngineError> {
        let label = format!("{LABEL_SERVER}={}", self.server);
        self.sweep(HashMap::from([("label", vec![label])])).await
    }

    /// Removes what servers of this instance left behind: containers that
    /// no longer run (a crash between create and start, an auto-removal
    /// that failed). Running ones belong to a live server, or end by
    /// themselves when their server's attach stream closes.
    pub async fn sweep_leftovers(&self) -> Result<usize, EngineError> {
        let label = format!("{LABEL_INSTANCE}={}", self.instance);
        let states = ["created", "exited", "dead"].map(String::from).to_vec();
        self.sweep(HashMap::from([("label", vec![label]), ("status", states)]))
            .await
    }

    async fn sweep(&self, filters: HashMap<&str, Vec<String>>) -> Result<usize, EngineError> {
        let docker = self.docker().await?;
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let found = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error(e, Call::List))?;
        // A container being launched right now is in "created" for a moment.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let stale = |c: &bollard::models::ContainerSummary| {
            c.state.as_ref().map(|s| s.to_string()).as_deref() != Some("created")
                || now - c.created.unwrap_or(0) > CREATED_GRACE.as_secs() as i64
        };
        let ids: Vec<String> = found
            .into_iter()
            .filter(stale)
            .filter_map(|c| c.id)
            .collect();
        futures_util::future::join_all(ids.iter().map(|id| remove(&docker, id))).await;
        Ok(ids.len())
    }

    /// Waits until every removal started so far has finished.
    pub async fn removals_done(&self) {
        self.removals.close();
        self.removals.wait().await;
        self.removals.reopen();
    }

    /// What a failed call means, in words with the fix.
    pub(crate) fn error(&self, e: bollard::errors::Error, call: Call) -> EngineError {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError {
                status_code: 404,
                message,
            } if message.contains("image") => EngineError::ImageMissing {
                image: call.image().unwrap_or("?").to_string(),
            },
            // The engine itself answers 403 only for plugin authorization;
            // a proxy or guard answers it for every call it does not allow.
            B::DockerResponseServerError {
                status_code: 403,
                message,
            } => EngineError::Refused {
                call: format!("{} ({})", call.describe(), message.trim()),
                fix: call.fix(),
            },
            B::DockerResponseServerError {
                status_code,
                message,
            } if names_unknown_runtime(&message) => EngineError::Api(format!(
                "{} answered {status_code}: {message}: register the runtime with the engine \
                 (for gVisor: scripts/gvisor.sh)",
                call.describe()
            )),
            B::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Api(format!(
                "{} answered {status_code}: {message}",
                call.describe()
            )),
            other => match io_kind(&other) {
                Some(std::io::ErrorKind::PermissionDenied) => {
                    EngineError::PermissionDenied(permission_message(&self.address))
                }
                _ => EngineError::Unreachable {
                    address: self.address.clone(),
                    reason: other.to_string(),
                },
            },
        }
    }
}

/// Removes a container, retrying a little; gone already is fine.
pub(crate) async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    for attempt in 0..3 {
        match docker.remove_container(id, Some(options.clone())).await {
            Ok(()) => return,
            // Gone already, or the engine is removing it (auto-remove).
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => return,
            Err(e) if attempt == 2 => {
                tracing::warn!(container = id, error = %e, "cannot remove container")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The I/O error kind somewhere in an error's chain of causes.
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// Why this process may not use the socket, with the numbers and the fix.
pub fn permission_message(address: &str) -> String {
    let path = address.strip_prefix("unix://").unwrap_or(address);
    let (uid, groups) = identity();
    match std::fs::metadata(path) {
        Ok(meta) => format!(
            "permission denied on the Docker socket {path}: it is owned by GID {sock} but this process \
             (UID {uid}) has groups {groups:?}: rebuild the server image with --build-arg DOCKER_GID={sock} \
             (compose and Coolify: set the variable DOCKER_GID={sock} and deploy again) or start the \
             container with --group-add {sock}",
            sock = meta.gid()
        ),
        Err(_) => format!(
            "permission denied on the Docker engine at {address} (UID {uid}, groups {groups:?})"
        ),
    }
}

/// This process's UID and every group it is in, its primary group first.
fn identity() -> (libc::uid_t, Vec<libc::gid_t>) {
    // SAFETY: getuid and getgid cannot fail; getgroups writes at most
    // `groups.len()` entries.
    let uid = unsafe { libc::getuid() };
    let mut groups = vec![0 as libc::gid_t; 256];
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    let gid = unsafe { libc::getgid() };
    if !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    (uid, groups)
}

/// Whether the engine refused a container for a runtime it does not know
/// ("Unknown runtime specified runsc", "unknown or invalid runtime name:
/// runsc"); other failures that mention the OCI runtime are not that.
fn names_unknown_runtime(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("unknown runtime") || m.contains("invalid runtime name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn a_missing_image_names_the_image_and_the_fix() {
        let e = Engine::new("t").error(
            server_error(404, "No such image: snipbox/go:latest"),
            Call::Create("snipbox/go:latest"),
        );
        assert!(matches!(e, EngineError::ImageMissing { .. }));
        assert!(e.is_unavailable());
        let text = e.to_string();
        assert!(
            text.contains("snipbox/go:latest") && text.contains("make images"),
            "{text}"
        );
    }

    #[test]
    fn a_refusal_names_the_call_and_what_allows_it() {
        let e = Engine::new("t").error(server_error(403, "forbidden"), Call::Attach);
        let text = e.to_string();
        assert!(text.contains("POST /containers/{id}/attach"), "{text}");
        assert!(text.contains("CONTAINERS=1 and POST=1"), "{text}");
        assert!(e.is_unavailable());
    }

    #[test]
    fn only_an_unknown_runtime_is_told_to_register_one() {
        for message in [
            "Unknown runtime specified runsc",
            "unknown or invalid runtime name: runsc",
        ] {
            let e = Engine::new("t").error(
                server_error(400, message),
                Call::Create("snipbox/python:latest"),
            );
            assert!(e.to_string().contains("register the runtime"), "{e}");
        }
        let oci = "OCI runtime create failed: container_linux.go: exec format error";
        let e = Engine::new("t").error(server_error(500, oci), Call::Start("x"));
        assert!(!e.to_string().contains("register the runtime"), "{e}");
        assert!(e.to_string().contains(oci), "{e}");
    }

    #[test]
    fn other_engine_answers_are_internal_errors_with_the_call() {
        let e = Engine::new("t").error(server_error(500, "disk full"), Call::Start("x"));
        assert!(!e.is_unavailable());
        assert_eq!(
            e.to_string(),
            "Docker engine error: POST /containers/{id}/start answered 500: disk full"
        );
    }

    #[test]
    fn permission_denied_names_the_socket_gid_and_this_process_groups() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("docker.sock");
        std::fs::write(&sock, "").unwrap();
        let gid = std::fs::metadata(&sock).unwrap().gid();
        let text = permission_message(&format!("unix://{}", sock.display()));
        let (uid, groups) = identity();
        assert!(text.contains(&format!("owned by GID {gid}")), "{text}");
        assert!(
            text.contains(&format!("(UID {uid}) has groups {groups:?}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("--build-arg DOCKER_GID={gid}")),
            "{text}"
        );
    }

    #[test]
    fn each_server_process_has_its_own_id() {
        let (a, b) = (Engine::new("same"), Engine::new("same"));
        assert_ne!(a.server(), b.server());
        assert_eq!(a.instance(), b.instance());
    }
}

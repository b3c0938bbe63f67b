//! The Docker engine, through bollard only: create a locked-down container,
//! attach to it, start it, hand its agent one job, collect the answer, and
//! remove it. Nothing here knows about HTTP.
//!
//! Engine API calls made (the list a socket proxy must allow): `GET /_ping`,
//! `GET /version`, `POST /containers/create`, `POST /containers/{id}/attach`,
//! `POST /containers/{id}/start`, `DELETE /containers/{id}`,
//! `GET /containers/json`, `GET /images/{name}/json` (self-check only).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt};
use snipbox_wire::agent::{Exit, Frame, FrameDecoder};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::task::TaskTracker;

use crate::sandbox::Sandbox;

/// Label on every container snipbox creates.
pub const LABEL: &str = "snipbox";
/// Label naming the server instance that owns a container.
pub const LABEL_INSTANCE: &str = "snipbox.instance";
/// Label with the run token (the last part of a run's id).
pub const LABEL_RUN: &str = "snipbox.run";
/// Label with the sandbox name.
pub const LABEL_SANDBOX: &str = "snipbox.sandbox";

/// Where the agent lives in every sandbox image (see `scripts/images.sh`).
const AGENT: &str = "/usr/local/bin/snipbox-agent";
/// How long a new container may take to start its agent.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Past the run's own timeout, how long the agent gets to report before the
/// container is killed regardless.
const DEADLINE_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the Docker engine at {address} is unreachable: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("sandbox image {image} is missing: run `make images`")]
    ImageMissing { image: String },
    #[error("the sandbox container stopped before the run finished")]
    Lost { after_output: bool },
    #[error("the sandbox agent failed: {0}")]
    Agent(String),
    #[error("the Docker API proxy refused {call}: allow it (docker-socket-proxy: {setting})")]
    Refused { call: String, setting: &'static str },
    #[error("Docker engine error: {0}")]
    Api(String),
}

impl EngineError {
    /// Whether the engine or its images are the problem (503), rather than
    /// something about this one run (500). A container that vanishes
    /// mid-run means the engine went away or someone removed it.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::PermissionDenied(_)
                | Self::ImageMissing { .. }
                | Self::Refused { .. }
                | Self::Lost { .. }
        )
    }
}

/// The container settings of one sandbox, built once at start-up.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub sandbox: String,
    pub image: String,
    body: ContainerCreateBody,
}

impl ContainerSpec {
    /// Every hardening setting lives here: no network, read-only root, small
    /// tmpfs scratch, no capabilities, no new privileges, a non-root user,
    /// and limits on pids, memory (swap included), CPU and open files.
    pub fn new(sandbox: &Sandbox) -> Self {
        let l = &sandbox.limits;
        let tmpfs = |exec: &str| format!("rw,{exec},nosuid,nodev,size={}m", l.tmpfs_mb);
        let memory = (l.memory_mb * 1024 * 1024) as i64;
        let nofile = l.nofile as i64;
        let mut env: Vec<String> = vec![format!("HOME={}", sandbox.workdir)];
        env.extend(sandbox.env.iter().map(|(k, v)| format!("{k}={v}")));
        let host = HostConfig {
            network_mode: Some("none".into()),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([
                (sandbox.workdir.clone(), tmpfs("exec")),
                ("/tmp".to_string(), tmpfs("noexec")),
            ])),
            // /dev/shm is writable too: as small as the scratch space.
            shm_size: Some((l.tmpfs_mb * 1024 * 1024) as i64),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(l.pids),
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((l.cpus * 1e9) as i64),
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(nofile),
                hard: Some(nofile),
            }]),
            runtime: l.runtime.clone(),
            // If the server dies, the agent sees its stdin close and exits;
            // the engine then removes the container by itself.
            auto_remove: Some(true),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(sandbox.image()),
            entrypoint: Some(vec![AGENT.into()]),
            cmd: Some(vec![]),
            user: Some(sandbox.user.clone()),
            working_dir: Some(sandbox.workdir.clone()),
            env: Some(env),
            network_disabled: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(true),
            stdin_once: Some(true),
            tty: Some(false),
            host_config: Some(host),
            ..Default::default()
        };
        ContainerSpec {
            sandbox: sandbox.name.clone(),
            image: sandbox.image(),
            body,
        }
    }
}

/// A connection to the Docker engine.
pub struct Engine {
    /// The client after API version negotiation, once the engine answered.
    client: Mutex<Option<Docker>>,
    address: String,
    instance: String,
    removals: TaskTracker,
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
            removals: TaskTracker::new(),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    async fn docker(&self) -> Result<Docker, EngineError> {
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

    /// Creates, attaches to and starts a container for `spec`, and waits
    /// until its agent is ready for a job.
    pub async fn launch(&self, spec: &ContainerSpec) -> Result<Container, EngineError> {
        let docker = self.docker().await?;
        let token = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let mut body = spec.body.clone();
        body.labels = Some(HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
            (LABEL_SANDBOX.to_string(), spec.sandbox.clone()),
            (LABEL_RUN.to_string(), token.clone()),
        ]));
        let name = format!("snipbox-{}-{token}", spec.sandbox);
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        // The create call runs in a task of its own: if this launch is
        // cancelled while the engine is still creating, the task still gets
        // the new container's id and removes it, so nothing leaks.
        let (created_tx, created_rx) = tokio::sync::oneshot::channel();
        let (creator, tracker) = (docker.clone(), self.removals.clone());
        self.removals.spawn(async move {
            let created = creator.create_container(Some(options), body).await;
            let removal = created.map(|c| Removal {
                id: c.id,
                docker: creator,
                tracker,
                self_removing: false,
            });
            // Unsent (the launch was cancelled): dropped here, which removes it.
            let _ = created_tx.send(removal);
        });
        // From here on, dropping the container (on any error, a timeout or a
        // cancelled request) removes it.
        let removal = created_rx
            .await
            .map_err(|_| EngineError::Api("the create task ended without an answer".into()))?
            .map_err(|e| self.error(e, Call::Create(&spec.image)))?;
        let options = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = docker
            .attach_container(&removal.id, Some(options))
            .await
            .map_err(|e| self.error(e, Call::Attach))?;
        docker
            .start_container(&removal.id, None)
            .await
            .map_err(|e| self.error(e, Call::Start(&spec.image)))?;
        let mut container = Container {
            token,
            removal,
            input: attached.input,
            output: attached.output,
            frames: FrameDecoder::default(),
            diagnostics: Vec::new(),
        };
        match tokio::time::timeout(LAUNCH_TIMEOUT, container.next_frame()).await {
            Ok(Ok(Some(Frame::Ready))) => Ok(container),
            Ok(Err(e)) => Err(e),
            _ => Err(EngineError::Agent(format!(
                "image {} did not start its agent{}: rebuild it with `make images`",
                spec.image,
                container.diagnostics()
            ))),
        }
    }

    /// Removes every container of this instance: at start-up, what a crash
    /// left behind; at shutdown, whatever is still there.
    pub async fn sweep(&self) -> Result<usize, EngineError> {
        let docker = self.docker().await?;
        let filters =
            HashMap::from([("label", vec![format!("{LABEL_INSTANCE}={}", self.instance)])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let found = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error(e, Call::List))?;
        let ids: Vec<String> = found.into_iter().filter_map(|c| c.id).collect();
        futures_util::future::join_all(ids.iter().map(|id| remove(&docker, id))).await;
        Ok(ids.len())
    }

    /// Waits until every removal started so far has finished.
    pub async fn removals_done(&self) {
        self.removals.close();
        self.removals.wait().await;
        self.removals.reopen();
    }

    fn error(&self, e: bollard::errors::Error, call: Call) -> EngineError {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError {
                status_code: 404,
                message,
            } if message.contains("image") => EngineError::ImageMissing {
                image: call.image().unwrap_or("?").to_string(),
            },
            // The engine itself answers 403 only for plugin authorization;
            // a socket proxy answers it for every call it does not allow.
            B::DockerResponseServerError {
                status_code: 403, ..
            } => EngineError::Refused {
                call: call.describe(),
                setting: call.proxy_setting(),
            },
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

/// The Engine API calls snipbox makes, for error messages.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
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
        match self {
            Call::Ping => "GET /_ping".into(),
            Call::Version => "GET /version".into(),
            Call::List => "GET /containers/json".into(),
            Call::Create(image) => format!("POST /containers/create (image {image})"),
            Call::Attach => "POST /containers/{id}/attach".into(),
            Call::Start(_) => "POST /containers/{id}/start".into(),
            Call::InspectImage(image) => format!("GET /images/{image}/json"),
        }
    }

    /// The docker-socket-proxy settings that allow this call.
    fn proxy_setting(self) -> &'static str {
        match self {
            Call::Ping => "PING=1",
            Call::Version => "VERSION=1",
            Call::List => "CONTAINERS=1",
            Call::Create(_) | Call::Attach | Call::Start(_) => "CONTAINERS=1 and POST=1",
            Call::InspectImage(_) => "IMAGES=1",
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
    // SAFETY: getuid cannot fail; getgroups writes at most `groups.len()` entries.
    let uid = unsafe { libc::getuid() };
    let mut groups = vec![0 as libc::gid_t; 256];
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    let gid = unsafe { libc::getgid() };
    if !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    match std::fs::metadata(path) {
        Ok(meta) => format!(
            "permission denied on the Docker socket {path}: it is owned by GID {sock} but this process \
             (UID {uid}) has groups {groups:?}: rebuild the server image with --build-arg DOCKER_GID={sock} \
             or start the container with --group-add {sock}",
            sock = meta.gid()
        ),
        Err(_) => format!(
            "permission denied on the Docker engine at {address} (UID {uid}, groups {groups:?})"
        ),
    }
}

/// Removes a container when dropped, off the caller's path.
struct Removal {
    id: String,
    docker: Docker,
    tracker: TaskTracker,
    /// The agent reported and exits by itself, and the engine removes the
    /// container then (auto-remove): a removal call would only add work.
    self_removing: bool,
}

impl Drop for Removal {
    fn drop(&mut self) {
        if self.self_removing {
            return;
        }
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.id));
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            self.tracker
                .spawn_on(async move { remove(&docker, &id).await }, &handle);
        }
    }
}

async fn remove(docker: &Docker, id: &str) {
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

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A started container whose agent waits for its one job. Dropping it
/// removes the container.
pub struct Container {
    token: String,
    removal: Removal,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    frames: FrameDecoder,
    /// What the agent wrote to its own stderr (kept short), for error messages.
    diagnostics: Vec<u8>,
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `None` when the server's deadline ended the run before the agent reported.
    pub exit: Option<Exit>,
    pub timed_out: bool,
    pub truncated: bool,
    pub duration: Duration,
}

impl Container {
    /// The run token: the container's label and the last part of the run id.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn id(&self) -> &str {
        &self.removal.id
    }

    fn diagnostics(&self) -> String {
        if self.diagnostics.is_empty() {
            String::new()
        } else {
            format!(" ({})", String::from_utf8_lossy(&self.diagnostics).trim())
        }
    }

    /// The next frame from the agent; `None` when the container's output ended.
    async fn next_frame(&mut self) -> Result<Option<Frame>, EngineError> {
        loop {
            if let Some(frame) = self
                .frames
                .next_frame()
                .map_err(|e| EngineError::Agent(e.to_string()))?
            {
                return Ok(Some(frame));
            }
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message })) => self.frames.push(&message),
                Some(Ok(LogOutput::StdErr { message })) => {
                    let room = 1024usize.saturating_sub(self.diagnostics.len());
                    self.diagnostics
                        .extend_from_slice(&message[..message.len().min(room)]);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Ok(None),
            }
        }
    }

    /// Resolves when an idle container does anything at all: an idle agent
    /// is silent, so any output or the end of the stream means it is unusable.
    pub async fn until_unusable(&mut self) {
        let _ = self.output.next().await;
    }

    /// Hands the agent its job and collects the answer. The run ends at the
    /// agent's exit frame, at the output cap, or at `timeout` plus a short
    /// grace, whichever comes first; the container is removed afterwards.
    pub async fn run(
        mut self,
        job: &[u8],
        timeout: Duration,
        output_limit: usize,
    ) -> Result<Outcome, EngineError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + timeout + DEADLINE_GRACE);
        let mut out = Outcome::default();
        let mut heard = false;
        let result = tokio::time::timeout_at(deadline, async {
            let sent = self
                .input
                .write_all(job)
                .await
                .and(self.input.flush().await);
            if sent.is_err() {
                return Err(EngineError::Lost {
                    after_output: false,
                });
            }
            loop {
                let frame = self.next_frame().await?;
                heard |= frame.is_some();
                let (buf, bytes) = match frame {
                    Some(Frame::Stdout(b)) => (&mut out.stdout, b),
                    Some(Frame::Stderr(b)) => (&mut out.stderr, b),
                    Some(Frame::Exit(exit)) => {
                        out.exit = Some(exit);
                        self.removal.self_removing = true;
                        return Ok(());
                    }
                    Some(Frame::Ready) => {
                        return Err(EngineError::Agent("unexpected ready frame".into()));
                    }
                    None => {
                        return Err(EngineError::Lost {
                            after_output: heard,
                        });
                    }
                };
                // The agent caps output itself; this holds even if the
                // program managed to speak in the agent's name.
                let room = output_limit.saturating_sub(buf.len());
                buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
                if bytes.len() > room {
                    out.truncated = true;
                    return Ok(());
                }
            }
        })
        .await;
        match result {
            Err(_) => out.timed_out = true,
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
        }
        if let Some(exit) = &out.exit {
            out.timed_out |= exit.timed_out;
            out.truncated |= exit.truncated;
            if let Some(error) = &exit.error {
                return Err(EngineError::Agent(error.clone()));
            }
        }
        out.duration = started.elapsed();
        Ok(out)
    }
}

//! One sandbox container: created from the spec, attached to, started,
//! handed its agent's one job, read frame by frame, removed.

use std::pin::Pin;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder};
use futures_util::{Stream, StreamExt};
use snipbox_wire::agent::{self, Exit, Feed, FileAssembler, Frame, FrameDecoder, ReturnedFile};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::exec::Io;
use tokio_util::task::TaskTracker;

use super::client::{Call, Engine, EngineError, LAUNCH_TIMEOUT, remove};
use super::spec::{Owner, auto_removes, container_body, create_body};
use super::uids::Lease;
use crate::sandbox::Sandbox;

/// Past the run's own timeout, how long the agent gets to report before the
/// container is removed regardless.
const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// The create body of one sandbox, built once at start-up.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub sandbox: String,
    pub image: String,
    body: ContainerCreateBody,
    auto_removes: bool,
}

impl ContainerSpec {
    pub fn new(sandbox: &Sandbox) -> Self {
        ContainerSpec {
            sandbox: sandbox.name.clone(),
            image: sandbox.image(),
            body: create_body(sandbox),
            auto_removes: auto_removes(sandbox),
        }
    }
}

/// A job as the agent reads it. Its header carries the run's limits (the
/// deadline, the output cap), which the server enforces again from there.
#[derive(Debug, Clone)]
pub struct Job {
    header: agent::Job,
    bytes: Vec<u8>,
}

impl Job {
    pub fn new(header: agent::Job, contents: &[&[u8]], stdin: &[u8]) -> Self {
        let bytes = agent::encode_job(&header, contents, stdin);
        Job { header, bytes }
    }
}

/// The run as it happens, for a client that streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// The agent has the job (the container's run token): the run starts.
    Started(String),
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// An interactive run's program no longer reads its stdin.
    InputClosed,
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
    /// The files the job asked for (see [`agent::Job::outputs`]).
    pub files: Vec<ReturnedFile>,
    /// The run was interactive (its deadline is a person's time).
    pub interactive: bool,
}

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A started container whose agent waits for its one job. Dropping it
/// removes the container.
pub struct Container {
    token: String,
    /// The memory it holds while it waits, as its agent reported.
    idle_memory: u64,
    removal: Removal,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    frames: FrameDecoder,
    /// What the agent wrote to its own stderr (kept short), for error messages.
    diagnostics: Vec<u8>,
}

impl Container {
    /// Creates, attaches to and starts a container for `spec`, and waits
    /// until its agent is ready for a job.
    pub async fn launch(engine: &Engine, spec: &ContainerSpec) -> Result<Container, EngineError> {
        let docker = engine.docker().await?;
        let token = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let owner = Owner {
            instance: engine.instance(),
            server: engine.server(),
            sandbox: &spec.sandbox,
            run: &token,
        };
        let mut removal = create(engine, &docker, spec, &owner).await?;
        removal.auto_removed = spec.auto_removes;
        let options = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = docker
            .attach_container(&removal.id, Some(options))
            .await
            .map_err(|e| engine.error(e, Call::Attach))?;
        docker
            .start_container(&removal.id, None)
            .await
            .map_err(|e| engine.error(e, Call::Start(&spec.image)))?;
        let mut container = Container {
            token,
            idle_memory: 0,
            removal,
            input: attached.input,
            output: attached.output,
            frames: FrameDecoder::default(),
            diagnostics: Vec::new(),
        };
        match tokio::time::timeout(LAUNCH_TIMEOUT, container.next_frame()).await {
            Ok(Ok(Some(Frame::Ready(ready)))) => {
                container.idle_memory = ready.memory_bytes;
                Ok(container)
            }
            // A `prepare` program failed: the agent says which, and how.
            Ok(Ok(Some(Frame::Exit(Exit {
                error: Some(error), ..
            })))) => Err(EngineError::Agent(format!(
                "image {} could not start its sandbox: {error}",
                spec.image
            ))),
            Ok(Err(e)) => Err(e),
            _ => Err(EngineError::Agent(format!(
                "image {} did not start its agent{}: rebuild it with `make images`",
                spec.image,
                container.diagnostics()
            ))),
        }
    }

    /// The run token: the container's label and the last part of the run id.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn id(&self) -> &str {
        &self.removal.id
    }

    /// The memory it holds while it waits for its job.
    pub fn idle_memory(&self) -> u64 {
        self.idle_memory
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

    /// The next frame from the agent, passing on to it what `feed` brings
    /// meanwhile (an interactive run's input). A feed that ends (the client
    /// went away) ends the program's input; one the agent no longer takes
    /// is dropped.
    async fn next_frame_fed(
        &mut self,
        feed: &mut Option<&mut UnboundedReceiver<Feed>>,
    ) -> Result<Option<Frame>, EngineError> {
        loop {
            let Some(rx) = feed.as_deref_mut() else {
                return self.next_frame().await;
            };
            tokio::select! {
                frame = self.next_frame() => return frame,
                input = rx.recv() => {
                    let message = match input {
                        Some(input) => input.encode(),
                        None => {
                            *feed = None;
                            Feed::Eof.encode()
                        }
                    };
                    if self.input.write_all(&message).await.is_err()
                        || self.input.flush().await.is_err()
                    {
                        *feed = None;
                    }
                }
            }
        }
    }

    /// Holds an idle container until `taken` says (`Some(true)`: taken;
    /// `Some(false)`: given up) or until it is unusable (`None`): an idle
    /// agent is silent, so any output or the end of the stream means it is
    /// gone. Meanwhile its agent hears a keepalive now and then, without
    /// which it exits (see [`agent::IDLE_LIMIT`]).
    pub async fn idle(&mut self, mut taken: tokio::sync::oneshot::Receiver<()>) -> Option<bool> {
        let mut keepalive = tokio::time::interval(agent::KEEPALIVE_EVERY);
        keepalive.tick().await;
        loop {
            tokio::select! {
                biased;
                r = &mut taken => return Some(r.is_ok()),
                _ = self.output.next() => return None,
                _ = keepalive.tick() => {
                    let sent = self.input.write_all(&agent::KEEPALIVE).await;
                    if sent.and(self.input.flush().await).is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Hands the agent its job and collects the answer, sending output to
    /// `chunks` as it arrives when a client streams. The run ends at the
    /// agent's exit frame, at the job's output cap, or at the job's timeout
    /// plus a short grace, whichever comes first; the container is removed
    /// afterwards.
    pub async fn run(mut self, job: &Job, io: Io<'_>) -> Result<Outcome, EngineError> {
        let started = Instant::now();
        let timeout = Duration::from_millis(job.header.timeout_ms);
        let deadline = tokio::time::Instant::from_std(started + timeout + DEADLINE_GRACE);
        let mut out = Outcome {
            interactive: job.header.interactive,
            ..Outcome::default()
        };
        let exchanged = tokio::time::timeout_at(deadline, self.exchange(job, &mut out, io)).await;
        match exchanged {
            Err(_) => out.timed_out = true,
            Ok(Err(EngineError::Lost { after_job, .. })) => {
                return Err(EngineError::Lost {
                    after_job,
                    oom_killed: self.removal.oom_killed().await,
                });
            }
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

    /// Sends the job, then reads frames into `out` until the agent's exit
    /// frame or the output cap, passing on what `io.feed` brings.
    async fn exchange(
        &mut self,
        job: &Job,
        out: &mut Outcome,
        io: Io<'_>,
    ) -> Result<(), EngineError> {
        let Io { chunks, mut feed } = io;
        let sent = self.input.write_all(&job.bytes).await;
        if sent.and(self.input.flush().await).is_err() {
            return Err(EngineError::Lost {
                after_job: false,
                oom_killed: false,
            });
        }
        if let Some(tx) = chunks {
            let _ = tx.send(Chunk::Started(self.token.clone()));
        }
        let cap = job.header.output_limit as usize;
        let mut files = FileAssembler::new(job.header.output_caps);
        let mut started = false;
        let protocol = |e: agent::ProtocolError| EngineError::Agent(e.to_string());
        loop {
            let next = self.next_frame_fed(&mut feed).await?;
            let (buf, bytes, chunk): (_, _, fn(Vec<u8>) -> Chunk) = match next {
                Some(Frame::Stdout(b)) => (&mut out.stdout, b, Chunk::Stdout),
                Some(Frame::Stderr(b)) => (&mut out.stderr, b, Chunk::Stderr),
                Some(Frame::Started) => {
                    started = true;
                    continue;
                }
                Some(Frame::File(f)) => {
                    files.file(f).map_err(protocol)?;
                    continue;
                }
                Some(Frame::FileData(b)) => {
                    files.data(&b).map_err(protocol)?;
                    continue;
                }
                Some(Frame::Exit(exit)) => {
                    out.exit = Some(exit);
                    out.files = files.finish().map_err(protocol)?;
                    // The agent exits now: the engine removes what it may.
                    self.removal.self_removing = self.removal.auto_removed;
                    return Ok(());
                }
                Some(Frame::InputClosed) => {
                    if let Some(tx) = chunks {
                        let _ = tx.send(Chunk::InputClosed);
                    }
                    continue;
                }
                Some(Frame::Ready(_)) => {
                    return Err(EngineError::Agent("unexpected ready frame".into()));
                }
                None => {
                    return Err(EngineError::Lost {
                        after_job: started,
                        oom_killed: false,
                    });
                }
            };
            // The agent caps output itself; this holds even if the program
            // managed to speak in the agent's name.
            let kept = &bytes[..bytes.len().min(cap.saturating_sub(buf.len()))];
            buf.extend_from_slice(kept);
            if let Some(tx) = chunks.filter(|_| !kept.is_empty()) {
                let _ = tx.send(chunk(kept.to_vec()));
            }
            if kept.len() < bytes.len() {
                out.truncated = true;
                return Ok(());
            }
        }
    }
}

/// Creates the container in a task of its own: if the launch is cancelled
/// while the engine is still creating, the task still gets the new
/// container's id and removes it, so nothing leaks. From here on, dropping
/// the returned removal (on any error, a timeout or a cancelled request)
/// removes the container.
async fn create(
    engine: &Engine,
    docker: &Docker,
    spec: &ContainerSpec,
    owner: &Owner<'_>,
) -> Result<Removal, EngineError> {
    let uid = engine.uids.lease().ok_or_else(|| EngineError::NoUid {
        range: engine.uids.range().to_string(),
    })?;
    let body = container_body(&spec.body, owner, uid.uid());
    let name = owner.name();
    let (created_tx, created_rx) = tokio::sync::oneshot::channel();
    let (creator, tracker) = (docker.clone(), engine.removals.clone());
    engine.removals.spawn(async move {
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let created = creator.create_container(Some(options), body).await;
        let removal = created.map(|c| Removal {
            id: c.id,
            docker: creator,
            tracker,
            auto_removed: true,
            self_removing: false,
            _uid: uid,
        });
        // Unsent (the launch was cancelled): dropped here, which removes it.
        let _ = created_tx.send(removal);
    });
    created_rx
        .await
        .map_err(|_| EngineError::Api("the create task ended without an answer".into()))?
        .map_err(|e| engine.error(e, Call::Create(&spec.image)))
}

/// Removes a container when dropped, off the caller's path.
struct Removal {
    id: String,
    docker: Docker,
    tracker: TaskTracker,
    /// The engine removes the container when it exits (auto-remove).
    auto_removed: bool,
    /// The agent reported and exits by itself, and the engine removes the
    /// container then (auto-remove): a removal call would only add work.
    self_removing: bool,
    /// The container's UID, free for another once this is dropped.
    _uid: Lease,
}

impl Removal {
    /// Whether the engine says the kernel's OOM killer ended the container
    /// (false when it cannot tell, or the container is gone already). The
    /// engine records it as it handles the exit: wait for that, up to 5 s
    /// (a loaded engine took over a second; only a lost container waits).
    async fn oom_killed(&self) -> bool {
        for _ in 0..100 {
            let Ok(c) = self.docker.inspect_container(&self.id, None).await else {
                return false;
            };
            let state = c.state.unwrap_or_default();
            if state.running != Some(true) {
                return state.oom_killed.unwrap_or(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
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

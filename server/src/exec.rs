//! One run, from a request to its outcome: pick the sandbox and command,
//! prepare the files, wait for a run slot, take a warm container (or start
//! one), run, and say how it ended. The HTTP layer calls this and shapes
//! the answer; it never builds a container itself.

use std::sync::Arc;
use std::time::Instant;

use snipbox_wire::agent::Feed;
use snipbox_wire::agent::{self, FileHeader};
use snipbox_wire::api::ExecRequest;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::admission::{Admission, Slot};
use crate::engine::{Chunk, Container, ContainerSpec, Engine, EngineError, Job, Outcome};
use crate::files::{self, FileLimits, FilesError};
use crate::metrics::{Metrics, RunLabels};
use crate::pool::{Budget, Launcher, Pool, Size};
use crate::sandbox::{Catalog, DEFAULT_VERSION, Sandbox};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("unknown sandbox {0:?}: GET /v1/sandboxes lists them")]
    UnknownSandbox(String),
    #[error("sandbox {sandbox} has no version {version:?} (it has: {DEFAULT_VERSION})")]
    UnknownVersion { sandbox: String, version: String },
    #[error("sandbox {sandbox} has no command {command:?} (it has: {known})")]
    UnknownCommand {
        sandbox: String,
        command: String,
        known: String,
    },
    #[error("the server is busy: every run slot and queue place is taken; retry in a moment")]
    Busy,
    #[error("the server is shutting down: retry in a moment (another server takes over)")]
    ShuttingDown,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Everything the server keeps for one sandbox: its definition, its
/// container spec and its warm pool.
pub struct Entry {
    pub sandbox: Sandbox,
    spec: ContainerSpec,
    pool: Pool,
}

/// A request checked and encoded, ready to run.
pub struct Prepared {
    entry: Arc<Entry>,
    command: String,
    job: Job,
}

/// How a run gets its stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdin {
    /// The request's `stdin`, all of it before the program starts.
    Fixed,
    /// The request's `stdin`, then what the client sends while the program
    /// runs: the wall-clock limit is the sandbox's `interactive_timeout_ms`
    /// and its `timeout_ms` bounds the CPU time.
    Interactive,
}

impl Prepared {
    /// Most bytes the client may send an interactive run.
    pub fn stdin_limit(&self) -> u64 {
        self.entry.sandbox.limits.interactive_stdin_bytes
    }

    /// What names this request's run.
    pub fn ids(&self) -> RunIds {
        RunIds {
            sandbox: self.entry.sandbox.name.clone(),
            command: self.command.clone(),
        }
    }
}

/// The parts of a run's id known before it has a container.
#[derive(Debug, Clone)]
pub struct RunIds {
    sandbox: String,
    command: String,
}

impl RunIds {
    /// `{sandbox}_{command}_{token}`, the token being the container's.
    pub fn id(&self, token: &str) -> String {
        format!("{}_{}_{token}", self.sandbox, self.command)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The program exited with this code, for none of the reasons below.
    Exit(i32),
    Timeout,
    /// The output cap was reached.
    Output,
    /// The program failed after the kernel's OOM killer ended one of its
    /// processes: it went over the memory limit.
    Memory,
    /// The program failed after forks were refused at the pids limit.
    Pids,
    /// An interactive run used its CPU time (the sandbox's `timeout_ms`).
    CpuTime,
    /// An interactive run went past its wall-clock limit (the sandbox's
    /// `interactive_timeout_ms`): the program waited for input too long.
    InteractiveTimeout,
    /// A signal nobody in snipbox sent ended the program.
    Signal(i32),
    /// The program ended its own sandbox (it killed the agent).
    SandboxEnded,
}

impl Ending {
    /// What the container's accounting says, in order: the server's own
    /// limits first, then what the kernel did, then the program's exit.
    pub fn of(out: &Outcome) -> Self {
        if out.timed_out && out.interactive {
            return match &out.exit {
                Some(e) if e.cpu_limited => Ending::CpuTime,
                _ => Ending::InteractiveTimeout,
            };
        }
        if out.timed_out {
            return Ending::Timeout;
        }
        if out.truncated {
            return Ending::Output;
        }
        match &out.exit {
            None => Ending::SandboxEnded,
            Some(e) if e.exit_code == 0 => Ending::Exit(0),
            Some(e) if e.oom_kills > 0 => Ending::Memory,
            Some(e) if e.pids_max > 0 => Ending::Pids,
            Some(e) => e.signal.map_or(Ending::Exit(e.exit_code), Ending::Signal),
        }
    }

    /// The `outcome` label of the runs metric.
    fn label(self) -> &'static str {
        match self {
            Ending::Exit(0) => "ok",
            Ending::Exit(_) => "exit",
            Ending::Timeout | Ending::CpuTime => "timeout",
            Ending::InteractiveTimeout => "interactive_timeout",
            Ending::Output => "truncated",
            Ending::Memory => "memory",
            Ending::Pids => "pids",
            Ending::Signal(_) => "signal",
            Ending::SandboxEnded => "sandbox_ended",
        }
    }
}

/// A run that happened, whatever the program did.
pub struct Finished {
    /// `{sandbox}_{command}_{token}`.
    pub id: String,
    pub outcome: Outcome,
    pub ending: Ending,
    /// The limits the run had, for the words of the answer.
    pub limits: crate::sandbox::Limits,
}

/// Runs snippets; shared by every request.
pub struct Executor {
    sandboxes: Catalog<Arc<Entry>>,
    engine: Arc<Engine>,
    /// Cancelled when the shutdown's grace period is over: what still runs
    /// or waits is answered instead of dropped.
    stopping: tokio_util::sync::CancellationToken,
    admission: Admission,
    metrics: Arc<Metrics>,
    file_limits: FileLimits,
}

impl Executor {
    /// Starts every sandbox's pool.
    pub fn new(
        catalog: Catalog,
        engine: Arc<Engine>,
        admission: Admission,
        budget: Arc<Budget>,
        metrics: Arc<Metrics>,
        file_limits: FileLimits,
    ) -> Self {
        let sandboxes = catalog.map(|sandbox| {
            let spec = ContainerSpec::new(&sandbox);
            let size = Size {
                min: sandbox.limits.pool_min,
                max: sandbox.limits.pool,
            };
            let pool = Pool::start(
                engine.clone(),
                spec.clone(),
                size,
                budget.clone(),
                metrics.clone(),
            );
            Arc::new(Entry {
                sandbox,
                spec,
                pool,
            })
        });
        Executor {
            sandboxes,
            engine,
            stopping: tokio_util::sync::CancellationToken::new(),
            admission,
            metrics,
            file_limits,
        }
    }

    pub fn sandboxes(&self) -> impl Iterator<Item = &Sandbox> {
        self.sandboxes.iter().map(|e| &e.sandbox)
    }

    /// Checks the request and encodes its job; nothing runs yet.
    pub fn prepare(&self, req: ExecRequest, mode: Stdin) -> Result<Prepared, ExecError> {
        let entry = self
            .sandboxes
            .get(&req.sandbox)
            .ok_or_else(|| ExecError::UnknownSandbox(req.sandbox.clone()))?
            .clone();
        let sandbox = &entry.sandbox;
        if !(req.version.is_empty() || req.version == DEFAULT_VERSION) {
            return Err(ExecError::UnknownVersion {
                sandbox: sandbox.name.clone(),
                version: req.version,
            });
        }
        let name = if req.command.is_empty() {
            "run"
        } else {
            req.command.as_str()
        };
        let command = sandbox
            .commands
            .get(name)
            .ok_or_else(|| ExecError::UnknownCommand {
                sandbox: sandbox.name.clone(),
                command: name.into(),
                known: sandbox
                    .commands
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let files = files::prepare(&req.files, &command.entry, self.file_limits)?;
        let stdin = req.stdin.unwrap_or_default();
        let interactive = mode == Stdin::Interactive;
        let limits = &sandbox.limits;
        let header = agent::Job {
            workdir: sandbox.workdir.clone(),
            files: files
                .iter()
                .map(|(name, b)| FileHeader {
                    name: name.clone(),
                    len: b.len() as u64,
                })
                .collect(),
            stdin_len: stdin.len() as u64,
            steps: command.steps.clone(),
            timeout_ms: match mode {
                Stdin::Fixed => limits.timeout_ms,
                Stdin::Interactive => limits.interactive_timeout_ms,
            },
            interactive,
            cpu_ms: if interactive { limits.timeout_ms } else { 0 },
            output_limit: sandbox.limits.output_bytes,
            outputs: command.outputs.clone(),
            output_caps: agent::OutputCaps {
                max_files: sandbox.limits.output_files,
                max_file_bytes: sandbox.limits.output_file_bytes,
                max_total_bytes: sandbox.limits.output_total_bytes,
            },
        };
        let contents: Vec<&[u8]> = files.iter().map(|(_, b)| b.as_slice()).collect();
        let job = Job::new(header, &contents, stdin.as_bytes());
        Ok(Prepared {
            command: name.to_string(),
            entry,
            job,
        })
    }

    /// A run slot for `prepared`, at once or after a wait in the bounded
    /// queue.
    pub async fn admit(&self, prepared: &Prepared) -> Result<Slot, ExecError> {
        let memory = prepared.entry.sandbox.limits.memory_mb;
        tokio::select! {
            slot = self.admission.admit(memory) => slot.map_err(|_| ExecError::Busy),
            () = self.stopping.cancelled() => Err(ExecError::ShuttingDown),
        }
    }

    /// Prepares, admits and runs a request.
    pub async fn exec(&self, req: ExecRequest) -> Result<Finished, ExecError> {
        let prepared = self.prepare(req, Stdin::Fixed)?;
        let slot = self.admit(&prepared).await?;
        self.run(prepared, slot, None, None).await
    }

    /// Runs a prepared job in its admitted slot; output goes to `chunks`
    /// as it arrives when a client streams, and an interactive run's
    /// program reads what `feed` brings.
    pub async fn run(
        &self,
        prepared: Prepared,
        _slot: Slot,
        chunks: Option<UnboundedSender<Chunk>>,
        mut feed: Option<UnboundedReceiver<Feed>>,
    ) -> Result<Finished, ExecError> {
        self.metrics.in_flight.inc();
        let _in_flight = scopeguard(|| {
            self.metrics.in_flight.dec();
        });
        let started = Instant::now();
        let result = tokio::select! {
            r = self.run_on_container(&prepared, chunks.as_ref(), feed.as_mut()) => r,
            () = self.stopping.cancelled() => return Err(ExecError::ShuttingDown),
        };
        let sandbox = &prepared.entry.sandbox;
        let result = result.map(|(token, out)| (token, Ending::of(&out), out));
        let outcome = match &result {
            Ok((_, ending, _)) => ending.label(),
            Err(_) => "error",
        };
        self.metrics
            .runs
            .get_or_create(&RunLabels {
                sandbox: sandbox.name.clone(),
                outcome,
            })
            .inc();
        self.metrics
            .duration
            .get_or_create(&Metrics::sandbox(&sandbox.name))
            .observe(started.elapsed().as_secs_f64());
        let command = &prepared.command;
        match result {
            Ok((token, ending, out)) => {
                let id = prepared.ids().id(&token);
                tracing::info!(%id, sandbox = %sandbox.name, %command, duration_ms = out.duration.as_millis() as u64, outcome, "run");
                Ok(Finished {
                    id,
                    ending,
                    outcome: out,
                    limits: sandbox.limits.clone(),
                })
            }
            Err(e) => {
                tracing::warn!(sandbox = %sandbox.name, %command, duration_ms = started.elapsed().as_millis() as u64, error = %e, "run failed");
                Err(e.into())
            }
        }
    }

    /// Runs the job in a warm container, or a new one when none is ready
    /// (`run_replacing_once`).
    async fn run_on_container(
        &self,
        prepared: &Prepared,
        chunks: Option<&UnboundedSender<Chunk>>,
        feed: Option<&mut UnboundedReceiver<Feed>>,
    ) -> Result<(String, Outcome), EngineError> {
        let entry = &prepared.entry;
        // Held to the end of the run: the pool refills behind it then.
        let (taken, _hold) = entry.pool.take().await;
        let (token, result) = run_replacing_once(
            &*self.engine,
            &entry.spec,
            taken,
            &prepared.job,
            Io { chunks, feed },
            &entry.sandbox.name,
        )
        .await?;
        self.lost_means_ended(result).await.map(|o| (token, o))
    }

    /// A container that stopped after taking its job while the engine
    /// still answers was ended by the program in it: it killed the agent,
    /// or (under gVisor, where the sandbox's kernel is one host process)
    /// went over its memory limit. An outcome of the run, not an engine
    /// failure.
    async fn lost_means_ended(
        &self,
        result: Result<Outcome, EngineError>,
    ) -> Result<Outcome, EngineError> {
        match result {
            Err(EngineError::Lost {
                after_job: true,
                oom_killed,
            }) if self.engine.ping().await.is_ok() => Ok(Outcome {
                exit: oom_killed.then(|| agent::Exit {
                    exit_code: 128 + 9,
                    signal: Some(9),
                    oom_kills: 1,
                    ..agent::Exit::default()
                }),
                ..Outcome::default()
            }),
            other => other,
        }
    }

    /// Ends every run still in flight or waiting: each is answered that the
    /// server is shutting down (its container is removed).
    pub fn stop_runs(&self) {
        self.stopping.cancel();
    }

    /// Stops the pools and removes every container of this server.
    pub async fn shutdown(&self) {
        futures_util::future::join_all(self.sandboxes.iter().map(|e| e.pool.shutdown())).await;
        if let Err(e) = self.engine.sweep_own().await {
            tracing::warn!(error = %e, "cannot remove the remaining containers");
        }
        self.engine.removals_done().await;
    }
}

/// Where a run's output goes as it arrives (a client that streams), and
/// where an interactive run's further stdin comes from.
#[derive(Default)]
pub struct Io<'a> {
    pub chunks: Option<&'a UnboundedSender<Chunk>>,
    pub feed: Option<&'a mut UnboundedReceiver<Feed>>,
}

impl Io<'_> {
    /// The same, borrowed again (a replaced container runs the job anew).
    fn again(&mut self) -> Io<'_> {
        Io {
            chunks: self.chunks,
            feed: self.feed.as_deref_mut(),
        }
    }
}

/// A container that takes a job: the executor's side of it (the pool's is
/// [`crate::pool::Warm`]); a seam for tests.
pub trait Runs: Send {
    /// The run token: the container's label and the run id's last part.
    fn token(&self) -> &str;
    /// Runs the job to its end.
    fn run(
        self,
        job: &Job,
        io: Io<'_>,
    ) -> impl Future<Output = Result<Outcome, EngineError>> + Send;
}

impl Runs for Container {
    fn token(&self) -> &str {
        Container::token(self)
    }

    fn run(
        self,
        job: &Job,
        io: Io<'_>,
    ) -> impl Future<Output = Result<Outcome, EngineError>> + Send {
        Container::run(self, job, io)
    }
}

/// Runs `job` on `taken`, a warm container, or on a new one from
/// `launcher` when none was ready: the run token and how the run went. A
/// warm container that vanished before it took the job (say, removed by
/// hand on the engine) is replaced once, so the request does not fail; a
/// second loss is the answer. A container lost after it took the job is
/// not replaced: the program may have ended it (`lost_means_ended`).
async fn run_replacing_once<L: Launcher>(
    launcher: &L,
    spec: &ContainerSpec,
    taken: Option<L::Container>,
    job: &Job,
    mut io: Io<'_>,
    sandbox: &str,
) -> Result<(String, Result<Outcome, EngineError>), EngineError>
where
    L::Container: Runs,
{
    let container = match taken {
        Some(c) => c,
        None => launcher.launch(spec).await?,
    };
    let token = container.token().to_owned();
    Ok(match container.run(job, io.again()).await {
        Err(EngineError::Lost {
            after_job: false, ..
        }) => {
            tracing::info!(%sandbox, "a warm container was gone; running on a new one");
            let container = launcher.launch(spec).await?;
            let token = container.token().to_owned();
            (token, container.run(job, io).await)
        }
        other => (token, other),
    })
}

/// Runs `f` when dropped, so a cancelled request still updates its gauges.
fn scopeguard<F: FnMut()>(f: F) -> impl Drop {
    struct Guard<F: FnMut()>(F);
    impl<F: FnMut()> Drop for Guard<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    Guard(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use snipbox_wire::agent::Exit;

    fn outcome(code: Option<i32>, timed_out: bool, truncated: bool) -> Outcome {
        Outcome {
            exit: code.map(|exit_code| Exit {
                exit_code,
                ..Exit::default()
            }),
            timed_out,
            truncated,
            ..Outcome::default()
        }
    }

    /// How a fake container's run goes.
    #[derive(Clone, Copy)]
    enum Goes {
        /// The program ran and exited 0.
        Ran,
        /// The container was gone before it took the job.
        Vanished,
        /// The container was lost after it took the job.
        LostInJob,
    }

    /// A container of the fake engine.
    struct Scripted {
        token: String,
        goes: Goes,
    }

    impl crate::pool::Warm for Scripted {
        fn id(&self) -> &str {
            &self.token
        }

        fn idle_memory(&self) -> u64 {
            0
        }

        async fn idle(&mut self, taken: tokio::sync::oneshot::Receiver<()>) -> Option<bool> {
            taken.await.ok().map(|()| true)
        }
    }

    impl Runs for Scripted {
        fn token(&self) -> &str {
            &self.token
        }

        async fn run(self, _: &Job, _: Io<'_>) -> Result<Outcome, EngineError> {
            match self.goes {
                Goes::Ran => Ok(outcome(Some(0), false, false)),
                Goes::Vanished => Err(EngineError::Lost {
                    after_job: false,
                    oom_killed: false,
                }),
                Goes::LostInJob => Err(EngineError::Lost {
                    after_job: true,
                    oom_killed: false,
                }),
            }
        }
    }

    /// An engine whose new containers go as `goes` says, in order; it
    /// counts its launches.
    struct Fake {
        goes: std::sync::Mutex<Vec<Goes>>,
        launched: std::sync::atomic::AtomicUsize,
    }

    impl Fake {
        fn new(goes: &[Goes]) -> Fake {
            Fake {
                goes: std::sync::Mutex::new(goes.iter().rev().copied().collect()),
                launched: Default::default(),
            }
        }

        fn launched(&self) -> usize {
            self.launched.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Launcher for Fake {
        type Container = Scripted;

        async fn launch(&self, _: &ContainerSpec) -> Result<Scripted, EngineError> {
            let n = self
                .launched
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let goes = self.goes.lock().unwrap().pop().expect("a launch too many");
            Ok(Scripted {
                token: format!("new{n}"),
                goes,
            })
        }
    }

    /// Runs a job through `run_replacing_once`: the token and whether the
    /// run ended (`Ok`) or how it was lost.
    async fn run(
        fake: &Fake,
        warm: Option<Goes>,
    ) -> Result<(String, Result<(), bool>), EngineError> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let spec = ContainerSpec::new(Catalog::load(&[&dir]).unwrap().get("python").unwrap());
        let warm = warm.map(|goes| Scripted {
            token: "warm".into(),
            goes,
        });
        let job = Job::new(agent::Job::default(), &[], b"");
        let (token, result) =
            run_replacing_once(fake, &spec, warm, &job, Io::default(), "python").await?;
        Ok((
            token,
            result.map(|_| ()).map_err(|e| match e {
                EngineError::Lost { after_job, .. } => after_job,
                other => panic!("{other}"),
            }),
        ))
    }

    #[tokio::test]
    async fn a_warm_container_runs_the_job_and_none_is_started() {
        let fake = Fake::new(&[]);
        assert_eq!(
            run(&fake, Some(Goes::Ran)).await.unwrap(),
            ("warm".into(), Ok(()))
        );
        assert_eq!(fake.launched(), 0);
    }

    #[tokio::test]
    async fn without_a_warm_container_a_new_one_runs_the_job() {
        let fake = Fake::new(&[Goes::Ran]);
        assert_eq!(run(&fake, None).await.unwrap(), ("new0".into(), Ok(())));
        assert_eq!(fake.launched(), 1);
    }

    #[tokio::test]
    async fn a_warm_container_gone_before_the_job_is_replaced_once() {
        let fake = Fake::new(&[Goes::Ran]);
        assert_eq!(
            run(&fake, Some(Goes::Vanished)).await.unwrap(),
            ("new0".into(), Ok(()))
        );
        assert_eq!(fake.launched(), 1);
        // Once: a replacement that is gone too is the answer.
        let fake = Fake::new(&[Goes::Vanished, Goes::Ran]);
        assert_eq!(
            run(&fake, Some(Goes::Vanished)).await.unwrap(),
            ("new0".into(), Err(false))
        );
        assert_eq!(fake.launched(), 1);
    }

    #[tokio::test]
    async fn a_container_lost_after_it_took_the_job_is_not_replaced() {
        let fake = Fake::new(&[Goes::Ran]);
        assert_eq!(
            run(&fake, Some(Goes::LostInJob)).await.unwrap(),
            ("warm".into(), Err(true))
        );
        assert_eq!(fake.launched(), 0);
    }

    #[test]
    fn every_ending_has_its_metric_label() {
        let cases = [
            (outcome(Some(0), false, false), Ending::Exit(0), "ok"),
            (outcome(Some(3), false, false), Ending::Exit(3), "exit"),
            (outcome(None, true, false), Ending::Timeout, "timeout"),
            (outcome(Some(137), false, true), Ending::Output, "truncated"),
            (
                outcome(None, false, false),
                Ending::SandboxEnded,
                "sandbox_ended",
            ),
        ];
        for (out, ending, label) in cases {
            assert_eq!(Ending::of(&out), ending);
            assert_eq!(ending.label(), label);
        }
        // An interactive run's two time limits: its CPU time, as the agent
        // reports it, and the person's time (the agent's or the server's
        // deadline).
        let interactive = |exit: Option<Exit>| Outcome {
            exit,
            timed_out: true,
            interactive: true,
            ..Outcome::default()
        };
        let cpu = Exit {
            exit_code: 137,
            timed_out: true,
            cpu_limited: true,
            ..Exit::default()
        };
        let wall = Exit {
            cpu_limited: false,
            ..cpu.clone()
        };
        assert_eq!(Ending::of(&interactive(Some(cpu))), Ending::CpuTime);
        assert_eq!(
            Ending::of(&interactive(Some(wall))),
            Ending::InteractiveTimeout
        );
        assert_eq!(Ending::of(&interactive(None)), Ending::InteractiveTimeout);
        assert_eq!(Ending::CpuTime.label(), "timeout");
        assert_eq!(Ending::InteractiveTimeout.label(), "interactive_timeout");
    }
}

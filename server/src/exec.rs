//! One run, from a validated request to the API's answer: pick the sandbox
//! and command, prepare the files, wait for a run slot, take a warm
//! container (or start one), run, and shape the result. The HTTP layer
//! calls this; it never builds a container itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use snipbox_wire::agent::{FileHeader, Job, encode_job};
use snipbox_wire::api::{ExecRequest, ExecResponse};

use crate::engine::{ContainerSpec, Engine, EngineError, Outcome};
use crate::files::{self, FileLimits, FilesError};
use crate::limits::Admission;
use crate::metrics::{Metrics, RunLabels};
use crate::pool::Pool;
use crate::sandbox::{Catalog, DEFAULT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("unknown sandbox {0:?}")]
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
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ExecError {
    /// The machine-readable kind in the response's `error` field.
    pub fn kind(&self) -> &'static str {
        match self {
            ExecError::Files(FilesError::TooMany { .. } | FilesError::TooLarge { .. }) => {
                "too_large"
            }
            ExecError::Files(FilesError::EmptyCode(_)) => "empty_code",
            ExecError::Files(_) => "invalid_files",
            ExecError::UnknownSandbox(_) => "unknown_sandbox",
            ExecError::UnknownVersion { .. } => "unknown_version",
            ExecError::UnknownCommand { .. } => "unknown_command",
            ExecError::Busy => "busy",
            ExecError::Engine(EngineError::ImageMissing { .. }) => "image_missing",
            ExecError::Engine(e) if e.is_unavailable() => "docker_unavailable",
            ExecError::Engine(_) => "internal",
        }
    }
}

/// Runs snippets; shared by every request.
pub struct Executor {
    catalog: Catalog,
    specs: HashMap<String, ContainerSpec>,
    engine: Arc<Engine>,
    pool: Pool,
    admission: Admission,
    metrics: Arc<Metrics>,
    file_limits: FileLimits,
}

impl Executor {
    pub fn new(
        catalog: Catalog,
        engine: Arc<Engine>,
        admission: Admission,
        metrics: Arc<Metrics>,
        file_limits: FileLimits,
    ) -> Self {
        let specs: HashMap<String, ContainerSpec> = catalog
            .iter()
            .map(|s| (s.name.clone(), ContainerSpec::new(s)))
            .collect();
        let pooled = catalog
            .iter()
            .map(|s| (specs[&s.name].clone(), s.limits.pool));
        let pool = Pool::start(engine.clone(), pooled, metrics.clone());
        Executor {
            catalog,
            specs,
            engine,
            pool,
            admission,
            metrics,
            file_limits,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs the request's code and answers as `POST /v1/exec` does.
    pub async fn exec(&self, req: ExecRequest) -> Result<ExecResponse, ExecError> {
        let sandbox = self
            .catalog
            .get(&req.sandbox)
            .ok_or_else(|| ExecError::UnknownSandbox(req.sandbox.clone()))?;
        if !(req.version.is_empty() || req.version == DEFAULT_VERSION) {
            return Err(ExecError::UnknownVersion {
                sandbox: sandbox.name.clone(),
                version: req.version,
            });
        }
        let command_name = if req.command.is_empty() {
            "run"
        } else {
            req.command.as_str()
        };
        let command =
            sandbox
                .commands
                .get(command_name)
                .ok_or_else(|| ExecError::UnknownCommand {
                    sandbox: sandbox.name.clone(),
                    command: command_name.into(),
                    known: sandbox
                        .commands
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
        let files = files::prepare(&req.files, &command.entry, self.file_limits)?;
        let stdin = req.stdin.unwrap_or_default();
        let limits = &sandbox.limits;
        let job = Job {
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
            timeout_ms: limits.timeout_ms,
            output_limit: limits.output_bytes,
        };
        let contents: Vec<&[u8]> = files.iter().map(|(_, b)| b.as_slice()).collect();
        let job = encode_job(&job, &contents, stdin.as_bytes());

        let _slot = self.admission.admit().await.map_err(|_| {
            self.metrics
                .rejected
                .get_or_create(&crate::metrics::ReasonLabels { reason: "busy" })
                .inc();
            ExecError::Busy
        })?;
        self.metrics.in_flight.inc();
        let _in_flight = scopeguard(|| {
            self.metrics.in_flight.dec();
        });

        let started = Instant::now();
        let spec = &self.specs[&sandbox.name];
        let timeout = Duration::from_millis(limits.timeout_ms);
        let limit = limits.output_bytes as usize;
        let result = self.run(spec, &job, timeout, limit).await;
        let elapsed = started.elapsed();

        let outcome = match &result {
            Ok((_, o)) if o.timed_out => "timeout",
            Ok((_, o)) if o.truncated => "truncated",
            Ok((_, o)) if o.exit.as_ref().is_some_and(|e| e.exit_code == 0) => "ok",
            Ok(_) => "exit",
            Err(_) => "error",
        };
        let sandbox_label = Metrics::sandbox(&sandbox.name);
        self.metrics
            .runs
            .get_or_create(&RunLabels {
                sandbox: sandbox.name.clone(),
                outcome,
            })
            .inc();
        self.metrics
            .duration
            .get_or_create(&sandbox_label)
            .observe(elapsed.as_secs_f64());
        match result {
            Ok((token, out)) => {
                let id = format!("{}_{command_name}_{token}", sandbox.name);
                tracing::info!(%id, sandbox = %sandbox.name, command = command_name, duration_ms = out.duration.as_millis() as u64, outcome, "run");
                Ok(response(id, out, limit))
            }
            Err(e) => {
                tracing::warn!(sandbox = %sandbox.name, command = command_name, duration_ms = elapsed.as_millis() as u64, outcome, error = %e, "run failed");
                Err(e.into())
            }
        }
    }

    /// Runs the job in a warm container, or a new one when none is ready. A
    /// warm container that vanished before it ran anything (say, removed by
    /// hand on the engine) is replaced once, so the request does not fail.
    async fn run(
        &self,
        spec: &ContainerSpec,
        job: &[u8],
        timeout: Duration,
        limit: usize,
    ) -> Result<(String, Outcome), EngineError> {
        if let Some(container) = self.pool.take(&spec.sandbox).await {
            let token = container.token().to_owned();
            match container.run(job, timeout, limit).await {
                Err(EngineError::Lost {
                    after_output: false,
                }) => {
                    tracing::info!(sandbox = %spec.sandbox, "a warm container was gone; running on a new one");
                }
                other => return other.map(|o| (token, o)),
            }
        }
        let container = self.engine.launch(spec).await?;
        let token = container.token().to_owned();
        container.run(job, timeout, limit).await.map(|o| (token, o))
    }

    /// Stops the pool and removes every container of this instance.
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
        if let Err(e) = self.engine.sweep().await {
            tracing::warn!(error = %e, "cannot remove the remaining containers");
        }
        self.engine.removals_done().await;
    }
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

/// Shapes an outcome as the API's answer, codapi-compatible: `(exit status
/// N)` or `code execution timeout` closes stderr, a marker line ends
/// truncated output. Output that is not UTF-8 is converted lossily (invalid
/// bytes become U+FFFD).
fn response(id: String, out: Outcome, limit: usize) -> ExecResponse {
    let exit_code = out.exit.as_ref().map(|e| e.exit_code);
    let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.truncated {
        let marker = format!("[output truncated at {limit} bytes]\n");
        let stderr_full = out.stderr.len() >= limit;
        if out.stdout.len() >= limit || !stderr_full {
            push_line(&mut stdout, &marker);
        }
        if stderr_full {
            push_line(&mut stderr, &marker);
        }
    }
    if out.timed_out {
        push_line(&mut stderr, "code execution timeout");
    } else if let Some(code) = exit_code.filter(|c| *c != 0 && !out.truncated) {
        push_line(&mut stderr, &format!("(exit status {code})"));
    }
    ExecResponse {
        id,
        ok: exit_code == Some(0) && !out.timed_out && !out.truncated,
        duration: out.duration.as_millis() as u64,
        stdout,
        stderr,
        exit_code,
        timed_out: out.timed_out,
        truncated: out.truncated,
        error: None,
    }
}

/// Appends `line` on a line of its own.
fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use snipbox_wire::agent::Exit;

    fn outcome(stdout: &[u8], stderr: &[u8], code: Option<i32>) -> Outcome {
        Outcome {
            stdout: stdout.to_vec(),
            stderr: stderr.to_vec(),
            exit: code.map(|exit_code| Exit {
                exit_code,
                ..Exit::default()
            }),
            ..Outcome::default()
        }
    }

    #[test]
    fn a_clean_exit_is_ok_and_untouched() {
        let r = response("i".into(), outcome(b"1\n", b"", Some(0)), 10);
        assert!(r.ok);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.exit_code),
            ("1\n", "", Some(0))
        );
    }

    #[test]
    fn a_failing_exit_closes_stderr_with_its_status() {
        let r = response("i".into(), outcome(b"", b"boom", Some(3)), 10);
        assert!(!r.ok);
        assert_eq!(r.stderr, "boom\n(exit status 3)");
    }

    #[test]
    fn a_timeout_says_so_in_stderr() {
        let mut o = outcome(b"", b"", None);
        o.timed_out = true;
        let r = response("i".into(), o, 10);
        assert!(!r.ok && r.timed_out);
        assert_eq!(r.stderr, "code execution timeout");
    }

    #[test]
    fn truncated_output_ends_with_a_marker() {
        let mut o = outcome(b"xxxx", b"e", Some(137));
        o.truncated = true;
        let r = response("i".into(), o, 4);
        assert!(!r.ok && r.truncated);
        assert_eq!(r.stdout, "xxxx\n[output truncated at 4 bytes]\n");
        assert_eq!(r.stderr, "e");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let r = response("i".into(), outcome(&[b'a', 0xff, b'b'], b"", Some(0)), 10);
        assert_eq!(r.stdout, "a\u{fffd}b");
    }
}

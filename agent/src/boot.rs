//! The container's start, before `Ready`: the `prepare` programs, then the
//! prestarted first step.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use snipbox_wire::agent::{Boot, DEFAULT_PREPARE_TIMEOUT_MS};

use crate::procs::{KILL_GRACE, Killer, reap_orphans};
use crate::spawn::{Event, Running, Spec, spawn};

/// How much of a failed `prepare` program's output its error quotes.
const TAIL_BYTES: usize = 2000;
/// How long a failed `prepare` program's last output may take to arrive.
const TAIL_GRACE: Duration = Duration::from_millis(200);

/// The agent once the container has started.
pub(crate) struct Agent {
    pub killer: Killer,
    /// How long to wait for the job without hearing from the server.
    pub idle_limit: Duration,
    prestarted: Option<Prestarted>,
}

impl Agent {
    /// Reads the boot config (the agent's argument), runs `prepare` and
    /// starts `prestart`. On failure everything started is killed and the
    /// error says why.
    pub(crate) fn start(arg: Option<&str>) -> Result<Agent, String> {
        let boot = Boot::from_arg(arg)?;
        let workdir = match boot.workdir.as_str() {
            "" => std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?,
            dir => PathBuf::from(dir),
        };
        let mut agent = Agent {
            killer: Killer::default(),
            idle_limit: boot.idle_limit(),
            prestarted: None,
        };
        let started = prepare(&boot, &workdir, &mut agent.killer)
            .and_then(|()| prestart(boot.prestart.as_deref(), &workdir));
        match started {
            Ok(prestarted) => {
                agent.prestarted = prestarted;
                Ok(agent)
            }
            Err(e) => {
                agent.killer.kill_everything();
                Err(e)
            }
        }
    }

    /// The prestarted program as the job's first step `argv` in `workdir`,
    /// sent go when it fits and is still waiting; with the instant of go.
    /// If it is the last step too, it reads what `stdin` brings (taken only
    /// then). Otherwise it is killed, and the step is to be started as
    /// usual.
    pub(crate) fn take_prestarted(
        &mut self,
        argv: Option<&Vec<String>>,
        workdir: &Path,
        stdin: Option<&mut Option<mpsc::Receiver<Vec<u8>>>>,
    ) -> Option<(Running, Instant)> {
        let p = self.prestarted.take()?;
        if argv == Some(&p.argv) && workdir == p.workdir {
            p.go(stdin, &mut self.killer)
        } else {
            p.discard(&mut self.killer);
            None
        }
    }
}

fn prepare(boot: &Boot, workdir: &Path, killer: &mut Killer) -> Result<(), String> {
    let ms = match boot.prepare_timeout_ms {
        0 => DEFAULT_PREPARE_TIMEOUT_MS,
        ms => ms,
    };
    let deadline = Instant::now() + Duration::from_millis(ms);
    for argv in &boot.prepare {
        run_prepare(argv, workdir, deadline)
            .map_err(|why| format!("prepare step `{}` {why}", argv.join(" ")))?;
    }
    if !boot.prepare.is_empty() {
        reap_orphans();
        killer.spare_running();
    }
    Ok(())
}

/// Runs one `prepare` program in a session of its own until it exits (what
/// it leaves running stays); the error quotes the end of its output.
fn run_prepare(argv: &[String], workdir: &Path, deadline: Instant) -> Result<(), String> {
    let spec = Spec {
        argv,
        workdir,
        stdin: None,
        go: None,
        session: true,
        merge_output: true,
    };
    let mut run = match spawn(spec) {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => return Err(format!("cannot start: {e}")),
        Err(e) => return Err(format!("cannot run: {e}")),
    };
    let mut tail = Vec::new();
    let status = loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match run.events.recv_timeout(wait) {
            Ok(Event::Output { bytes, .. }) => keep_tail(&mut tail, &bytes),
            Ok(Event::Closed) => run.open -= 1,
            Ok(Event::InputClosed) => {}
            Ok(Event::Exited(status)) => break Some(status),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break None,
        }
    };
    let why = match status {
        Some(Ok(st)) if st.success() => {
            // Daemons may keep its pipes and write to them for as long as
            // they run: read on, and drop it, so they never block.
            thread::spawn(move || for _ in run.events {});
            return Ok(());
        }
        Some(Ok(st)) => format!("failed ({st})"),
        Some(Err(e)) => format!("failed: {e}"),
        None => {
            // SAFETY: kill only sends a signal; -pgid names its session's
            // first group (the rest dies when the agent gives up).
            unsafe { libc::kill(-run.pgid, libc::SIGKILL) };
            "did not finish within the prepare timeout".to_string()
        }
    };
    let until = Instant::now() + TAIL_GRACE;
    while run.open > 0 {
        match run
            .events
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(Event::Output { bytes, .. }) => keep_tail(&mut tail, &bytes),
            Ok(Event::Closed) => run.open -= 1,
            Ok(Event::InputClosed | Event::Exited(_)) => {}
            Err(_) => break,
        }
    }
    match String::from_utf8_lossy(&tail).trim_end() {
        "" => Err(format!("{why}, without output")),
        tail => Err(format!("{why}; the end of its output:\n{tail}")),
    }
}

fn keep_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    tail.extend_from_slice(bytes);
    let over = tail.len().saturating_sub(TAIL_BYTES);
    tail.drain(..over);
}

/// A first step started ahead of its job, waiting to be told go.
struct Prestarted {
    argv: Vec<String>,
    workdir: PathBuf,
    run: Running,
    go: io::PipeWriter,
    stdin: mpsc::Sender<Vec<u8>>,
}

/// Starts `argv` with a go pipe; a program that cannot start is left to
/// the job, which then says why.
fn prestart(argv: Option<&[String]>, workdir: &Path) -> Result<Option<Prestarted>, String> {
    let Some(argv) = argv else { return Ok(None) };
    let cannot = |e: io::Error| format!("cannot prestart `{}`: {e}", argv.join(" "));
    let (go_r, go) = io::pipe().map_err(cannot)?;
    let (stdin, stdin_rx) = mpsc::channel();
    let spec = Spec {
        argv,
        workdir,
        stdin: Some(stdin_rx),
        go: Some(go_r),
        session: false,
        merge_output: false,
    };
    Ok(spawn(spec).map_err(cannot)?.ok().map(|run| Prestarted {
        argv: argv.to_vec(),
        workdir: workdir.to_path_buf(),
        run,
        go,
        stdin,
    }))
}

impl Prestarted {
    /// Tells the program go; `None` (and it is cleaned up) when it ended
    /// before, so it cannot be the step.
    fn go(
        mut self,
        stdin: Option<&mut Option<mpsc::Receiver<Vec<u8>>>>,
        killer: &mut Killer,
    ) -> Option<(Running, Instant)> {
        loop {
            match self.run.events.try_recv() {
                // Said or done before go: not the run's.
                Ok(Event::Output { .. } | Event::InputClosed) => {}
                Ok(Event::Closed) => self.run.open -= 1,
                Ok(Event::Exited(_)) | Err(TryRecvError::Disconnected) => {
                    self.discard(killer);
                    return None;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        let at = Instant::now();
        // It fails when the program is gone (its end of the pipe closed).
        if self.go.write_all(&[1]).is_err() {
            self.discard(killer);
            return None;
        }
        // Its stdin brings what the job's does, until that ends.
        if let Some(rx) = stdin.and_then(Option::take) {
            let tx = self.stdin;
            thread::spawn(move || {
                for bytes in rx {
                    if tx.send(bytes).is_err() {
                        return;
                    }
                }
            });
        }
        Some((self.run, at))
    }

    /// Kills the program and waits until its waiter has collected it, so
    /// that no later reaping takes its status away from that thread.
    fn discard(self, killer: &mut Killer) {
        killer.kill_all(self.run.pgid);
        let until = Instant::now() + KILL_GRACE;
        while let Ok(event) = self
            .run
            .events
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            if matches!(event, Event::Exited(_)) {
                break;
            }
        }
        reap_orphans();
    }
}

//! `snipbox-agent`: PID 1 of every sandbox container.
//!
//! It announces itself, reads one job from stdin (see `snipbox_wire::agent`),
//! writes the files, runs the steps with the job's deadline and output limit,
//! streams their output back as frames and exits. Because a started container
//! only waits for its job, the server can start containers ahead of demand
//! and run a snippet without any Engine API call on the request path.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use snipbox_wire::agent::{Exit, Frame, Job, MAX_FRAME, read_job_header};

fn main() -> ExitCode {
    // The program we run shares our UID. Being non-dumpable keeps it out of
    // /proc/1/fd and ptrace, so it cannot write frames in our name.
    // SAFETY: prctl with PR_SET_DUMPABLE only changes a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // `docker stop` (or the engine shutting down) sends SIGTERM to PID 1,
    // which ignores it unless handled: end at once instead of after the
    // engine's 10 s grace.
    // SAFETY: the handler only calls async-signal-safe functions.
    unsafe { libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t) };

    let mut out = io::stdout().lock();
    if Frame::Ready
        .write_to(&mut out)
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    let mut input = io::stdin().lock();
    let exit = match read_job_header(&mut input) {
        // The server went away before sending a job: nothing to do.
        Ok(None) => return ExitCode::SUCCESS,
        Ok(Some(job)) => run_job(&job, &mut input, &mut out),
        Err(e) => Exit {
            error: Some(format!("cannot read the job: {e}")),
            ..Exit::default()
        },
    };
    match Frame::Exit(exit)
        .write_to(&mut out)
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn run_job(job: &Job, input: &mut impl Read, out: &mut impl Write) -> Exit {
    let workdir = Path::new(&job.workdir);
    for file in &job.files {
        if let Err(e) = write_file(workdir, &file.name, &mut input.take(file.len)) {
            return Exit {
                error: Some(format!("cannot write {}: {e}", file.name)),
                ..Exit::default()
            };
        }
    }
    let mut stdin = Vec::new();
    if let Err(e) = input.take(job.stdin_len).read_to_end(&mut stdin) {
        return Exit {
            error: Some(format!("cannot read stdin: {e}")),
            ..Exit::default()
        };
    }

    let deadline = Instant::now() + Duration::from_millis(job.timeout_ms);
    let mut budget = [job.output_limit, job.output_limit];
    let mut exit = Exit::default();
    for (i, argv) in job.steps.iter().enumerate() {
        let last = i + 1 == job.steps.len();
        let step = Step {
            argv,
            workdir,
            stdin: last.then_some(stdin.as_slice()),
            deadline,
        };
        match step.run(&mut budget, out) {
            Ok(end) => {
                exit.exit_code = end.code;
                exit.timed_out = end.timed_out;
                exit.truncated = end.truncated;
            }
            Err(e) => {
                exit.error = Some(e.to_string());
                break;
            }
        }
        if exit.exit_code != 0 || exit.timed_out || exit.truncated {
            break;
        }
    }
    exit
}

/// Writes one file below `workdir`, refusing names that would leave it.
fn write_file(workdir: &Path, name: &str, contents: &mut impl Read) -> io::Result<()> {
    let rel = Path::new(name);
    if name.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(io::Error::other("not a plain relative path"));
    }
    let path: PathBuf = workdir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::File::create(&path)?;
    io::copy(contents, &mut f)?;
    Ok(())
}

struct Step<'a> {
    argv: &'a [String],
    workdir: &'a Path,
    stdin: Option<&'a [u8]>,
    deadline: Instant,
}

struct StepEnd {
    code: i32,
    timed_out: bool,
    truncated: bool,
}

enum Event {
    Output(usize, Vec<u8>),
    Closed,
    Exited(io::Result<ExitStatus>),
}

impl Step<'_> {
    fn run(&self, budget: &mut [u64; 2], out: &mut impl Write) -> io::Result<StepEnd> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err(io::Error::other("a step has no program"));
        };
        // Every thread is started before the program: once it runs, a fork
        // bomb may take every pid the container has, and a failed thread
        // spawn would bring the agent down.
        let (tx, rx) = mpsc::channel();
        let (out_r, out_w) = io::pipe()?;
        let (err_r, err_w) = io::pipe()?;
        forward(0, out_r, tx.clone());
        forward(1, err_r, tx.clone());
        let stdin = match self.stdin {
            Some(bytes) => {
                let (in_r, mut in_w) = io::pipe()?;
                let bytes = bytes.to_vec();
                // A program that never reads its stdin must not block us.
                thread::spawn(move || {
                    let _ = in_w.write_all(&bytes);
                });
                Stdio::from(in_r)
            }
            None => Stdio::null(),
        };
        let (child_tx, child_rx) = mpsc::channel::<Child>();
        thread::spawn(move || {
            if let Ok(mut child) = child_rx.recv() {
                let _ = tx.send(Event::Exited(child.wait()));
            }
        });

        // The Command holds our copies of the pipes' write ends: it must be
        // dropped right after the spawn, or the readers never see EOF.
        let spawned = Command::new(program)
            .args(args)
            .current_dir(self.workdir)
            .stdin(stdin)
            .stdout(out_w)
            .stderr(err_w)
            .process_group(0)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                // Reported like a shell would: the reader sees why, exit 127.
                let msg = format!("cannot start {program}: {e}\n");
                Frame::Stderr(msg.into_bytes()).write_to(out)?;
                return Ok(StepEnd {
                    code: 127,
                    timed_out: false,
                    truncated: false,
                });
            }
        };
        let pid = child.id() as libc::pid_t;
        child_tx.send(child).expect("the waiter thread is running");

        let mut open = 2;
        let mut status = None;
        let mut end = StepEnd {
            code: 0,
            timed_out: false,
            truncated: false,
        };
        let mut killed_at: Option<Instant> = None;
        while open > 0 || status.is_none() {
            let now = Instant::now();
            if killed_at.is_none() && now >= self.deadline {
                end.timed_out = true;
                kill_all(pid);
                killed_at = Some(now);
            }
            let wait = match killed_at {
                // Everything was killed: the pipes close at once, unless a
                // process is stuck in the kernel; do not wait for it forever.
                Some(at) if now.duration_since(at) > Duration::from_secs(2) => break,
                Some(_) => Duration::from_millis(100),
                None => self.deadline - now,
            };
            match rx.recv_timeout(wait) {
                Ok(Event::Output(stream, bytes)) => {
                    let keep = bytes.len().min(budget[stream] as usize);
                    if keep > 0 {
                        let data = bytes[..keep].to_vec();
                        let frame = if stream == 0 {
                            Frame::Stdout(data)
                        } else {
                            Frame::Stderr(data)
                        };
                        frame.write_to(out)?;
                        out.flush()?;
                        budget[stream] -= keep as u64;
                    }
                    if keep < bytes.len() && !end.truncated {
                        end.truncated = true;
                        kill_all(pid);
                        killed_at.get_or_insert_with(Instant::now);
                    }
                }
                Ok(Event::Closed) => open -= 1,
                Ok(Event::Exited(st)) => {
                    status = Some(st?);
                    // Whatever the step left running in the background ends
                    // with it, so its pipes close and the next step starts clean.
                    kill_all(pid);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        reap_orphans();
        end.code = status.map_or(128 + libc::SIGKILL, exit_code);
        Ok(end)
    }
}

fn forward(stream: usize, mut pipe: impl Read + Send + 'static, tx: mpsc::Sender<Event>) {
    thread::spawn(move || {
        let mut buf = vec![0u8; MAX_FRAME];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(Event::Output(stream, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Event::Closed);
    });
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Kills the step's process group and, as PID 1 of the container, every
/// other process we may signal: daemons and orphans die with the step.
fn kill_all(pgid: libc::pid_t) {
    // SAFETY: kill only sends signals; -pgid names the step's own group.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
        // Outside a container (PID != 1) kill(-1) would reach the user's
        // other processes: only the container's init may do this.
        if libc::getpid() == 1 {
            libc::kill(-1, libc::SIGKILL);
        }
    }
}

extern "C" fn on_sigterm(_: libc::c_int) {
    // SAFETY: kill and _exit are async-signal-safe.
    unsafe {
        libc::kill(-1, libc::SIGKILL);
        libc::_exit(143);
    }
}

/// As PID 1 we inherit orphans; collect the ones that have exited.
fn reap_orphans() {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG only collects exited children.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

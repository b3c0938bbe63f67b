//! Starting a program: its pipes, the threads that serve them, and the
//! limits it runs under.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use snipbox_wire::agent::{GO_FD, GO_FD_ENV, MAX_FRAME};

/// What happens to a running program, in the order the agent learns it.
pub(crate) enum Event {
    /// A read from its stdout (0) or stderr (1), and when it returned.
    Output {
        stream: usize,
        at: Instant,
        bytes: Vec<u8>,
    },
    /// One of its output pipes reached end of file.
    Closed,
    /// It no longer reads its stdin: it closed it, or exited (a write
    /// failed, or the pipe says its reader is gone).
    InputClosed,
    Exited(io::Result<ExitStatus>),
}

/// A started program.
pub(crate) struct Running {
    /// Its process id, which is also its process group (and, for a
    /// `prepare` program, its session).
    pub pgid: libc::pid_t,
    pub events: mpsc::Receiver<Event>,
    /// Output pipes not closed yet.
    pub open: usize,
}

/// How to start a program.
pub(crate) struct Spec<'a> {
    pub argv: &'a [String],
    pub workdir: &'a Path,
    /// Its stdin: a pipe fed with what this channel brings, closed when
    /// the sender goes; `None` is /dev/null.
    pub stdin: Option<mpsc::Receiver<Vec<u8>>>,
    /// The read end of a go pipe, to become its file descriptor 3.
    pub go: Option<io::PipeReader>,
    /// A session of its own (a `prepare` program, whose daemons are then
    /// told apart from user code), rather than a process group in ours.
    pub session: bool,
    /// Stderr into the stdout pipe, so the two keep their order (stream 0).
    pub merge_output: bool,
}

/// Starts a program. The outer error is the agent's own failure; the inner
/// one is the program's (it does not exist, is not executable...).
///
/// Every thread that serves the program is started before it runs: once it
/// runs, a fork bomb may take every pid the container has, and a failed
/// thread spawn would bring the agent down.
pub(crate) fn spawn(spec: Spec) -> io::Result<Result<Running, io::Error>> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(io::Error::other("a step has no program"));
    };
    // Bounded: a program writing faster than frames leave waits on its pipe
    // instead of the agent holding its output (the cap ends it soon).
    let (tx, rx) = mpsc::sync_channel(OUTPUT_QUEUE);
    let (out_r, out_w) = io::pipe()?;
    forward(0, out_r, tx.clone());
    let err_w = if spec.merge_output {
        out_w.try_clone()?
    } else {
        let (err_r, err_w) = io::pipe()?;
        forward(1, err_r, tx.clone());
        err_w
    };
    let stdin = match spec.stdin {
        Some(bytes) => feed(bytes, tx.clone())?,
        None => Stdio::null(),
    };
    let child_tx = wait_for_child(tx);

    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(spec.workdir)
        .stdin(stdin)
        .stdout(out_w)
        .stderr(err_w);
    if !spec.session {
        cmd.process_group(0);
    }
    let go = spec.go.as_ref().map(AsRawFd::as_raw_fd);
    if go.is_some() {
        cmd.env(GO_FD_ENV, GO_FD.to_string());
    }
    let session = spec.session;
    // SAFETY: runs in the forked child before exec and only makes
    // async-signal-safe calls.
    unsafe { cmd.pre_exec(move || limit_child(session, go)) };
    let spawned = cmd.spawn();
    // The Command and the go reader hold our copies of the pipes' ends:
    // dropped right after the spawn, or the readers never see EOF.
    drop(cmd);
    drop(spec.go);
    Ok(spawned.map(|child| {
        let pgid = child.id() as libc::pid_t;
        child_tx.send(child).expect("the waiter thread is running");
        Running {
            pgid,
            events: rx,
            open: if spec.merge_output { 1 } else { 2 },
        }
    }))
}

/// In the child, before exec: the OOM killer takes it before the agent
/// (raising oom_score_adj needs no privilege), it dumps no core (a core
/// file could fill the scratch space), and the go pipe becomes fd 3.
fn limit_child(session: bool, go: Option<RawFd>) -> io::Result<()> {
    // SAFETY: prctl, open, write, close, setrlimit, setsid, fcntl and dup2
    // are async-signal-safe; the path is a NUL-terminated literal.
    unsafe {
        if session {
            libc::setsid();
        }
        // The agent's non-dumpable flag, inherited, makes /proc/self
        // root's; exec would make the program dumpable again anyway. The
        // child no longer holds the agent's stdout here (fd 1 is its pipe).
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
        let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
        if fd >= 0 {
            libc::write(fd, b"1000".as_ptr().cast(), 4);
            libc::close(fd);
        }
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        match go {
            // dup2 onto itself would keep close-on-exec set.
            Some(GO_FD) if libc::fcntl(GO_FD, libc::F_SETFD, 0) < 0 => {
                return Err(io::Error::last_os_error());
            }
            Some(fd) if fd != GO_FD && libc::dup2(fd, GO_FD) < 0 => {
                return Err(io::Error::last_os_error());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads of a program's output waiting to become frames, at most: each is at
/// most `MAX_FRAME` bytes.
const OUTPUT_QUEUE: usize = 8;

/// Sends every read from `pipe` as an event the moment it returns.
fn forward(stream: usize, mut pipe: impl Read + Send + 'static, tx: mpsc::SyncSender<Event>) {
    thread::spawn(move || {
        let mut buf = vec![0u8; MAX_FRAME];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let event = Event::Output {
                        stream,
                        at: Instant::now(),
                        bytes: buf[..n].to_vec(),
                    };
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Event::Closed);
    });
}

/// How often a stdin pipe with nothing to write is checked for a reader
/// that has gone.
const READER_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// A stdin pipe fed from its own thread (a program that never reads its
/// stdin must not block the agent) with what `bytes` brings, until its
/// sender goes. Once the program no longer reads it, [`Event::InputClosed`]
/// says so.
fn feed(bytes: mpsc::Receiver<Vec<u8>>, events: mpsc::SyncSender<Event>) -> io::Result<Stdio> {
    let (in_r, mut in_w) = io::pipe()?;
    thread::spawn(move || {
        loop {
            let open = match bytes.recv_timeout(READER_CHECK) {
                Ok(bytes) => in_w.write_all(&bytes).is_ok(),
                Err(mpsc::RecvTimeoutError::Timeout) => reader_is_there(&in_w),
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            if !open {
                let _ = events.send(Event::InputClosed);
                return;
            }
        }
    });
    Ok(Stdio::from(in_r))
}

/// Whether the read end of the pipe `w` writes to is still open (a pipe
/// whose readers are all gone reports POLLERR to its writer).
fn reader_is_there(w: &io::PipeWriter) -> bool {
    let mut fd = libc::pollfd {
        fd: w.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one pollfd it is given.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n <= 0 || fd.revents & libc::POLLERR == 0
}

/// A thread that waits for the child it is handed and reports its status.
fn wait_for_child(tx: mpsc::SyncSender<Event>) -> mpsc::Sender<Child> {
    let (child_tx, child_rx) = mpsc::channel::<Child>();
    thread::spawn(move || {
        if let Ok(mut child) = child_rx.recv() {
            let _ = tx.send(Event::Exited(child.wait()));
        }
    });
    child_tx
}

//! Running the agent binary: on this host as a plain process, or as PID 1
//! of a container; its frames are decoded as they arrive.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime};

use snipbox_wire::agent::{
    Boot, Exit, FileAssembler, FileHeader, Frame, FrameDecoder, Job, OutputCaps, ReturnedFile,
    encode_job,
};

pub(crate) const AGENT: &str = env!("CARGO_BIN_EXE_snipbox-agent");

/// The command that starts the agent on this host: the binary, or, for an
/// agent built for another machine, `SNIPBOX_AGENT_RUNNER` (an emulator
/// such as `qemu-aarch64`) with the binary.
pub(crate) fn agent_command() -> Command {
    match std::env::var_os("SNIPBOX_AGENT_RUNNER") {
        Some(runner) => {
            let mut cmd = Command::new(runner);
            cmd.arg(AGENT);
            cmd
        }
        None => Command::new(AGENT),
    }
}

/// How long any test waits for a frame before it calls the agent stuck.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A step that runs a shell script.
pub(crate) fn sh(script: &str) -> Vec<String> {
    argv(&["sh", "-c", script])
}

/// A number no other test (or test run) uses at the same time: a marker
/// for a process's command line.
pub(crate) fn marker() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    4_000_000 + u64::from(std::process::id() % 100_000) * 100 + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A shell command that prints how many processes run `sleep MARK`.
pub(crate) fn count_sleeps(mark: u64) -> String {
    format!(
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done | grep -c '^sleep {mark} $'"
    )
}

/// A shell command that starts a `sleep` in the background, in a session
/// of its own with `setsid`, and writes its pid to `NAME.pid`.
pub(crate) fn start_sleep(name: &str, setsid: bool) -> String {
    let setsid = if setsid { "setsid " } else { "" };
    format!("{setsid}sleep 1000 >/dev/null 2>&1 & echo $! > {name}.pid")
}

/// A shell command that prints `NAME alive` or `NAME gone` for the
/// process of `NAME.pid` (a zombie is gone).
pub(crate) fn check_alive(name: &str) -> String {
    format!(
        "s=$(cut -d' ' -f3 /proc/$(cat {name}.pid)/stat 2>/dev/null); \
         if [ -n \"$s\" ] && [ \"$s\" != Z ]; then echo {name} alive; else echo {name} gone; fi"
    )
}

/// The script of a test that `prepare`'s daemons live through the steps
/// and the steps' leftovers do not: what `prepare` runs, the two steps, and
/// what the second prints.
pub(crate) fn daemons_and_leftovers() -> (Vec<String>, [Vec<String>; 2], &'static str) {
    // One daemon stays in the prepare program's session after it exits,
    // the other makes a session of its own, as real daemons do.
    let prepare = sh(&format!(
        "{}; {}",
        start_sleep("daemon", false),
        start_sleep("session", true)
    ));
    // The first step leaves a background process and one that tries to
    // escape in a session of its own.
    let first = sh(&format!(
        "{}; {}; echo first",
        start_sleep("bg", false),
        start_sleep("escaped", true)
    ));
    let checks = ["daemon", "session", "bg", "escaped"].map(check_alive);
    let second = sh(&checks.join("; "));
    let expected = "first\ndaemon alive\nsession alive\nbg gone\nescaped gone\n";
    (prepare, [first, second], expected)
}

/// A fresh work dir on a tmpfs, as a sandbox's is (where there is one: a
/// disk can take seconds for what a test does to it).
pub(crate) fn workdir() -> tempfile::TempDir {
    match Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm"),
        false => tempfile::tempdir(),
    }
    .expect("a temporary directory")
}

/// A job in `workdir` with generous limits.
pub(crate) fn job(workdir: &Path, steps: Vec<Vec<String>>) -> Job {
    Job {
        workdir: workdir.to_str().expect("a UTF-8 path").into(),
        files: Vec::new(),
        stdin_len: 0,
        steps,
        timeout_ms: 10_000,
        output_limit: 1 << 20,
        outputs: Vec::new(),
        output_caps: OutputCaps::default(),
        interactive: false,
        cpu_ms: 0,
    }
}

/// The job's bytes on the agent's stdin, with these files and stdin.
pub(crate) fn encode(job: &Job, files: &[(&str, &[u8])], stdin: &[u8]) -> Vec<u8> {
    let mut job = job.clone();
    job.files = files
        .iter()
        .map(|(name, bytes)| FileHeader {
            name: name.to_string(),
            len: bytes.len() as u64,
        })
        .collect();
    job.stdin_len = stdin.len() as u64;
    let contents: Vec<&[u8]> = files.iter().map(|(_, b)| *b).collect();
    encode_job(&job, &contents, stdin)
}

/// A running agent.
pub(crate) struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<(SystemTime, Frame)>,
    /// A container to remove if the test ends early.
    container: Option<String>,
}

/// What a job produced, from its frames.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub files: Vec<ReturnedFile>,
    pub exit: Exit,
    /// Every frame after `Ready`, with the time it arrived.
    pub frames: Vec<(SystemTime, Frame)>,
}

impl Agent {
    /// Starts the agent binary on this host with `boot` as its argument.
    pub(crate) fn host(boot: Option<&Boot>) -> Agent {
        let mut cmd = agent_command();
        if let Some(boot) = boot {
            cmd.arg(boot.to_arg());
        }
        Agent::spawn(cmd, None)
    }

    /// Starts `cmd` (which runs the agent) and reads its frames.
    pub(crate) fn spawn(mut cmd: Command, container: Option<String>) -> Agent {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the agent starts");
        let mut stdout = child.stdout.take().expect("piped");
        let (tx, frames) = mpsc::channel();
        thread::spawn(move || {
            let mut dec = FrameDecoder::default();
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                let at = SystemTime::now();
                dec.push(&buf[..n]);
                while let Some(frame) = dec.next_frame().expect("well-formed frames") {
                    if tx.send((at, frame)).is_err() {
                        return;
                    }
                }
            }
        });
        Agent {
            stdin: child.stdin.take(),
            child,
            frames,
            container,
        }
    }

    /// The next frame; panics when none comes in time.
    pub(crate) fn next(&self) -> (SystemTime, Frame) {
        self.frames
            .recv_timeout(PATIENCE)
            .expect("the agent sends a frame")
    }

    /// Whether the agent has a child process that still runs (a
    /// prestarted program, say; one that ended and awaits its reaping
    /// does not count).
    pub(crate) fn has_running_children(&self) -> bool {
        let pid = self.child.id();
        let running = |child: &str| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // After the command's name in parentheses: the state.
                stat.rsplit_once(')')
                    .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            })
        };
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| {
                std::fs::read_to_string(t.path().join("children"))
                    .is_ok_and(|c| c.split_whitespace().any(running))
            })
    }

    pub(crate) fn expect_ready(&self) {
        let (_, frame) = self.next();
        assert!(
            matches!(frame, Frame::Ready(_)),
            "the agent announces itself: {frame:?}"
        );
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("the agent reads its job");
        stdin.flush().expect("flushed");
    }

    /// Reads frames up to the exit frame, assembling files under `caps`.
    pub(crate) fn outcome(mut self, caps: OutputCaps) -> Outcome {
        let mut out = Outcome {
            stdout: String::new(),
            stderr: String::new(),
            files: Vec::new(),
            exit: Exit::default(),
            frames: Vec::new(),
        };
        let mut files = FileAssembler::new(caps);
        loop {
            let (at, frame) = self.next();
            out.frames.push((at, frame.clone()));
            match frame {
                Frame::Stdout(b) => out.stdout += &String::from_utf8_lossy(&b),
                Frame::Stderr(b) => out.stderr += &String::from_utf8_lossy(&b),
                Frame::File(f) => files.file(f).expect("a file within the caps"),
                Frame::FileData(b) => files.data(&b).expect("data within the file"),
                Frame::Exit(exit) => {
                    out.exit = exit;
                    break;
                }
                Frame::Started | Frame::InputClosed => {}
                Frame::Ready(_) => panic!("a second ready frame"),
            }
        }
        out.files = files.finish().expect("complete files");
        let status = self.wait();
        assert!(status.success(), "the agent exits cleanly: {status}");
        out
    }

    /// Closes its stdin and waits for it to exit.
    pub(crate) fn wait(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.child.wait().expect("the agent is waited for")
    }

    /// Waits for it to exit with its stdin still open (as if the server
    /// were still there).
    pub(crate) fn wait_open(&mut self) -> ExitStatus {
        self.child.wait().expect("the agent is waited for")
    }

    /// Reads frames until the exit frame, which must come instead of `Ready`.
    pub(crate) fn boot_failure(self) -> Exit {
        match self.next() {
            (_, Frame::Exit(exit)) => exit,
            (_, other) => panic!("expected an exit frame, got {other:?}"),
        }
    }
}

impl Agent {
    /// The container it runs in.
    pub(crate) fn container_name(&self) -> &str {
        self.container.as_deref().expect("a container")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(name) = &self.container {
            let _ = Command::new("docker")
                .args(["rm", "-f", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs one job on a fresh agent on this host.
pub(crate) fn run(
    boot: Option<&Boot>,
    job: &Job,
    files: &[(&str, &[u8])],
    stdin: &[u8],
) -> Outcome {
    let mut agent = Agent::host(boot);
    agent.expect_ready();
    agent.send(&encode(job, files, stdin));
    agent.outcome(job.output_caps)
}

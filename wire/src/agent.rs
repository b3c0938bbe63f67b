//! The protocol between the server and `snipbox-agent`, the main process of
//! every sandbox container.
//!
//! The server attaches to the container's stdin and stdout before starting
//! it. The agent announces itself with a [`Frame::Ready`], then waits for one
//! job on stdin: a 4-byte big-endian length, a JSON [`Job`] of that length,
//! then the raw bytes of every file in the order of [`Job::files`], then the
//! program's stdin. It acknowledges the job ([`Frame::Started`]), runs the
//! steps and answers on stdout with frames: a
//! kind byte, a 4-byte big-endian length, the payload. After the steps come
//! the files the job asked for ([`Frame::File`], each followed by its
//! [`Frame::FileData`]). The last frame is [`Frame::Exit`]. Then the agent
//! exits and the container is removed.
//!
//! How the container starts is the agent's one argument (the container's
//! Cmd): the JSON of a [`Boot`]. Its `prepare` programs run before `Ready`;
//! a failing one makes the agent answer with an [`Frame::Exit`] carrying the
//! error instead of `Ready`.
//!
//! Every field added after the first version has a serde default, so a new
//! agent reads an old server's job and an old server reads a new agent's
//! exit frame; a new agent sends file frames only when the job asks for files.
//!
//! The agent shares the container with untrusted code, so the server treats
//! everything it reads as untrusted too: frame sizes are bounded, output is
//! capped on the server side as well, and a wall-clock deadline kills the
//! container whatever the agent says.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::names::check_name;

/// The largest frame payload either side accepts.
pub const MAX_FRAME: usize = 64 * 1024;
/// The largest job header the agent accepts.
pub const MAX_HEADER: usize = 1024 * 1024;
/// The time all `prepare` programs get together when [`Boot`] sets none.
pub const DEFAULT_PREPARE_TIMEOUT_MS: u64 = 20_000;
/// How often a server tells an idle agent it is still there.
pub const KEEPALIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(20);
/// An agent waiting for its job that hears nothing for this long exits: its
/// server is gone (a container started after its server died waits on a
/// stdin nobody will close).
pub const IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);
/// A keepalive: a job header of length 0.
pub const KEEPALIVE: [u8; 4] = [0; 4];

/// Where a sandbox image keeps its own `passwd` and `group`: its
/// `/etc/passwd` and `/etc/group` are links into [`USERS_DIR`], where the
/// agent writes them at start with the container's own user added (every
/// container runs as a UID of its own, which no image can know).
pub const USERS_IMAGE_DIR: &str = "/etc/snipbox";
/// Where the agent writes the container's `passwd` and `group` (a tmpfs).
pub const USERS_DIR: &str = "/tmp/.snipbox";
/// The name the run's user has in every sandbox (images make an account
/// of that name to build with).
pub const RUN_USER: &str = "sandbox";

/// The environment variable that tells a prestarted program its go pipe.
pub const GO_FD_ENV: &str = "SNIPBOX_GO_FD";
/// The file descriptor of the go pipe in a prestarted program.
pub const GO_FD: i32 = 3;

/// How the container starts: the JSON of the agent's single argument (the
/// container's Cmd). No argument is the default: nothing to prepare or
/// prestart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Boot {
    /// Programs (argv each) run in order before `Ready`, in `workdir`, each
    /// in a session of its own. Each must exit 0. Processes they leave
    /// running (a database server) are spared by the agent's
    /// kill-everything between and after steps; they end with the container.
    pub prepare: Vec<Vec<String>>,
    /// Wall-clock limit of all `prepare` programs together; 0 means
    /// [`DEFAULT_PREPARE_TIMEOUT_MS`].
    pub prepare_timeout_ms: u64,
    /// A program started after `prepare`, before `Ready`, ahead of the job:
    /// stdin, stdout and stderr on pipes and file descriptor [`GO_FD`] the
    /// read end of a "go" pipe (env [`GO_FD_ENV`]). Its output before go is
    /// discarded. When the job's first step is exactly this argv (and its
    /// workdir this `workdir`), the agent writes the files, then one byte to
    /// the go pipe, and the program is the job's first step from there (its
    /// deadline counts from go). Otherwise it is killed and the job runs as
    /// usual.
    pub prestart: Option<Vec<String>>,
    /// Where `prepare` and `prestart` run; empty is the agent's own working
    /// directory (the container's).
    pub workdir: String,
    /// How long the agent waits for its job without hearing from the
    /// server (not even a keepalive) before it exits; 0 means
    /// [`IDLE_LIMIT`].
    pub idle_limit_ms: u64,
}

impl Boot {
    /// The idle limit this config sets.
    pub fn idle_limit(&self) -> std::time::Duration {
        match self.idle_limit_ms {
            0 => IDLE_LIMIT,
            ms => std::time::Duration::from_millis(ms),
        }
    }
}

impl Boot {
    /// The agent's argument for this config (the container's Cmd).
    pub fn to_arg(&self) -> String {
        serde_json::to_string(self).expect("a boot config always serializes")
    }

    /// Reads the agent's argument; none or an empty one is the default.
    pub fn from_arg(arg: Option<&str>) -> Result<Boot, String> {
        match arg {
            None | Some("") => Ok(Boot::default()),
            Some(json) => serde_json::from_str(json).map_err(|e| format!("bad boot config: {e}")),
        }
    }
}

/// What the agent is asked to do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Directory the files are written to and the steps run in.
    pub workdir: String,
    /// Files to write, relative to `workdir`; their bytes follow the header.
    pub files: Vec<FileHeader>,
    /// Length of the stdin bytes that follow the files.
    pub stdin_len: u64,
    /// Programs to run in order (argv each); a step that fails ends the run.
    /// The last step reads the stdin; earlier ones read nothing.
    pub steps: Vec<Vec<String>>,
    /// Wall-clock limit of all steps together.
    pub timeout_ms: u64,
    /// Bytes kept of stdout and of stderr each; past it the program is killed.
    pub output_limit: u64,
    /// Globs, relative to `workdir`, of the files to return after the steps
    /// (whatever their outcome): regular files that the run created or
    /// changed, as [`Frame::File`] frames. `*` and `?` do not cross `/` and
    /// do not match a leading `.`; `**` matches any number of directories.
    /// Request files still holding what the job wrote are not returned.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Caps on the returned files.
    #[serde(default)]
    pub output_caps: OutputCaps,
    /// An interactive run: after the job's stdin bytes, [`Feed`] messages
    /// follow on the agent's stdin, delivered to the last step's stdin as
    /// they come, and the agent says [`Frame::InputClosed`] when that
    /// step no longer reads. `timeout_ms` is then the time a person may
    /// take, and `cpu_ms` bounds the CPU time the steps use.
    #[serde(default)]
    pub interactive: bool,
    /// CPU time all the steps' processes together may use, in
    /// milliseconds; past it they are killed as at the deadline
    /// ([`Exit::cpu_limited`]). 0 means no limit but the deadline.
    #[serde(default)]
    pub cpu_ms: u64,
}

/// Caps on the files a job returns ([`Job::outputs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputCaps {
    /// Most files listed (as [`Frame::File`]); matching files past it are
    /// only counted, in [`Exit::files_omitted`].
    pub max_files: u64,
    /// Most bytes of one file; a larger file is listed with its size and
    /// [`OutputFile::omitted`].
    pub max_file_bytes: u64,
    /// Most bytes of all files together; a file that does not fit in what is
    /// left is listed with its size and [`OutputFile::omitted`].
    pub max_total_bytes: u64,
}

impl Default for OutputCaps {
    fn default() -> Self {
        OutputCaps {
            max_files: 10,
            max_file_bytes: 1024 * 1024,
            max_total_bytes: 2 * 1024 * 1024,
        }
    }
}

/// A file of a [`Job`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileHeader {
    pub name: String,
    pub len: u64,
}

/// How a job ended, the payload of [`Frame::Exit`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    /// The exit code of the last step run; `128 + N` when killed by signal N.
    pub exit_code: i32,
    pub timed_out: bool,
    pub truncated: bool,
    /// Set when the agent itself could not do the job (a file it could not
    /// write, a program it could not start, a `prepare` program that failed:
    /// then it names the program and ends with the tail of its output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The signal that ended the last step run, when the agent did not send
    /// it (a timeout or the output cap is not a signal here: see
    /// `timed_out` and `truncated`). `exit_code` is `128 + signal` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Processes the kernel's OOM killer ended in the container's memory
    /// cgroup during the job (cgroup v1 `memory.oom_control` `oom_kill`, v2
    /// `memory.events` `oom_kill`; 0 where the counter cannot be read).
    #[serde(default)]
    pub oom_kills: u64,
    /// Forks refused at the container's pids limit during the job (v1 and
    /// v2 `pids.events` `max`; 0 where the counter cannot be read).
    #[serde(default)]
    pub pids_max: u64,
    /// Files matching [`Job::outputs`] that were not listed at all: past
    /// [`OutputCaps::max_files`], or with a name [`check_name`](crate::names::check_name) refuses.
    #[serde(default)]
    pub files_omitted: u64,
    /// The steps were killed for using [`Job::cpu_ms`] of CPU time (then
    /// `timed_out` is set too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cpu_limited: bool,
}

/// A file the run returns, the payload of [`Frame::File`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Path relative to the job's workdir; passes [`check_name`](crate::names::check_name).
    pub name: String,
    /// Its size in bytes. Unless `omitted`, exactly this many bytes follow
    /// in [`Frame::FileData`] frames (none for an empty file).
    pub size: u64,
    /// Over [`OutputCaps::max_file_bytes`] or the bytes left of
    /// [`OutputCaps::max_total_bytes`]: no data follows, and `size` is what
    /// the agent saw of the file (more than the cap it hit; the file may
    /// still have been growing).
    #[serde(default)]
    pub omitted: bool,
}

/// What the agent says when it is ready for its job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ready {
    /// Memory the container holds while it waits (its cgroup's anonymous
    /// and shared memory: what `prepare` and `prestart` left running, the
    /// files on its tmpfs), for the server's budget of warm containers.
    pub memory_bytes: u64,
}

/// One message from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The agent waits for its job (after `prepare` and `prestart`).
    Ready(Ready),
    /// The agent has read the job's header: from here on, a container
    /// that ends early was ended by what the job runs.
    Started,
    /// Bytes the program wrote to stdout, sent as they were read.
    Stdout(Vec<u8>),
    /// Bytes the program wrote to stderr, sent as they were read.
    Stderr(Vec<u8>),
    /// A returned file; unless omitted, its bytes follow as `FileData`.
    File(OutputFile),
    /// The next bytes of the file of the last `File` frame.
    FileData(Vec<u8>),
    /// How the job ended; the last frame.
    Exit(Exit),
    /// An interactive job's last step no longer reads its stdin (it closed
    /// it, or exited): what the server feeds now is lost. Sent once, only
    /// for an interactive job.
    InputClosed,
}

impl Frame {
    const READY: u8 = b'R';
    const STARTED: u8 = b'S';
    const STDOUT: u8 = b'O';
    const STDERR: u8 = b'E';
    const FILE: u8 = b'F';
    const FILE_DATA: u8 = b'D';
    const EXIT: u8 = b'X';
    const INPUT_CLOSED: u8 = b'Q';

    /// Writes the frame; payloads over [`MAX_FRAME`] are split.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Frame::Ready(r) => write_raw(w, Self::READY, &serde_json::to_vec(r)?),
            Frame::Started => write_raw(w, Self::STARTED, &[]),
            Frame::Stdout(b) => write_chunks(w, Self::STDOUT, b),
            Frame::Stderr(b) => write_chunks(w, Self::STDERR, b),
            Frame::File(f) => write_raw(w, Self::FILE, &serde_json::to_vec(f)?),
            Frame::FileData(b) => write_chunks(w, Self::FILE_DATA, b),
            Frame::Exit(e) => write_raw(w, Self::EXIT, &serde_json::to_vec(e)?),
            Frame::InputClosed => write_raw(w, Self::INPUT_CLOSED, &[]),
        }
    }
}

fn write_chunks(w: &mut impl Write, kind: u8, bytes: &[u8]) -> io::Result<()> {
    for chunk in bytes.chunks(MAX_FRAME) {
        write_raw(w, kind, chunk)?;
    }
    Ok(())
}

fn write_raw(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(io::Error::other)?;
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&head)?;
    w.write_all(payload)
}

/// A protocol violation: the other side is broken or hostile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Splits the agent's byte stream, arriving in arbitrary chunks, into frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let kind = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(ProtocolError(format!(
                "frame of {len} bytes is over the limit"
            )));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let payload: Vec<u8> = self.buf.drain(..5 + len).skip(5).collect();
        let frame = match kind {
            // An empty payload is an agent from before `Ready` said more.
            Frame::READY if payload.is_empty() => Frame::Ready(Ready::default()),
            Frame::READY => Frame::Ready(
                serde_json::from_slice(&payload)
                    .map_err(|e| ProtocolError(format!("bad ready frame: {e}")))?,
            ),
            Frame::STARTED => Frame::Started,
            Frame::STDOUT => Frame::Stdout(payload),
            Frame::STDERR => Frame::Stderr(payload),
            Frame::FILE => Frame::File(
                serde_json::from_slice(&payload)
                    .map_err(|e| ProtocolError(format!("bad file frame: {e}")))?,
            ),
            Frame::FILE_DATA => Frame::FileData(payload),
            Frame::INPUT_CLOSED => Frame::InputClosed,
            Frame::EXIT => Frame::Exit(
                serde_json::from_slice(&payload)
                    .map_err(|e| ProtocolError(format!("bad exit frame: {e}")))?,
            ),
            other => return Err(ProtocolError(format!("unknown frame kind {other:#04x}"))),
        };
        Ok(Some(frame))
    }
}

/// A file a run returned, put together from its frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedFile {
    pub name: String,
    pub size: u64,
    /// Over a cap: `data` is empty.
    pub omitted: bool,
    pub data: Vec<u8>,
}

/// Puts the returned files together from [`Frame::File`] and
/// [`Frame::FileData`] frames, holding the agent to the job's caps: the
/// program may have spoken in the agent's name, so nothing it claims is
/// taken on trust.
#[derive(Debug, Default)]
pub struct FileAssembler {
    caps: OutputCaps,
    files: Vec<ReturnedFile>,
    bytes: u64,
}

impl FileAssembler {
    /// Expects at most what `caps` (the job's [`Job::output_caps`]) allow.
    pub fn new(caps: OutputCaps) -> Self {
        FileAssembler {
            caps,
            ..Self::default()
        }
    }

    /// Takes a [`Frame::File`]: the last file must be complete.
    pub fn file(&mut self, f: OutputFile) -> Result<(), ProtocolError> {
        self.check_complete()?;
        let bad = |why: &str| Err(ProtocolError(format!("file frame {:?}: {why}", f.name)));
        if self.files.len() as u64 >= self.caps.max_files {
            return bad("more files than the job allows");
        }
        if let Err(why) = check_name(&f.name) {
            return bad(why);
        }
        if !f.omitted {
            if f.size > self.caps.max_file_bytes {
                return bad("over the per-file cap");
            }
            if self.bytes + f.size > self.caps.max_total_bytes {
                return bad("over the total cap");
            }
            self.bytes += f.size;
        }
        self.files.push(ReturnedFile {
            name: f.name,
            size: f.size,
            omitted: f.omitted,
            data: Vec::new(),
        });
        Ok(())
    }

    /// Takes a [`Frame::FileData`]: the next bytes of the last file.
    pub fn data(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let Some(f) = self.files.last_mut().filter(|f| !f.omitted) else {
            return Err(ProtocolError("file data without a file".into()));
        };
        if f.data.len() as u64 + bytes.len() as u64 > f.size {
            return Err(ProtocolError(format!(
                "file {:?}: more data than its size",
                f.name
            )));
        }
        f.data.extend_from_slice(bytes);
        Ok(())
    }

    /// The files, once the exit frame came: the last one must be complete.
    pub fn finish(self) -> Result<Vec<ReturnedFile>, ProtocolError> {
        self.check_complete()?;
        Ok(self.files)
    }

    fn check_complete(&self) -> Result<(), ProtocolError> {
        match self.files.last() {
            Some(f) if !f.omitted && f.data.len() as u64 != f.size => Err(ProtocolError(format!(
                "file {:?}: {} bytes of {}",
                f.name,
                f.data.len(),
                f.size
            ))),
            _ => Ok(()),
        }
    }
}

/// Encodes a job as the agent reads it: header, file bytes, stdin bytes.
pub fn encode_job(job: &Job, contents: &[&[u8]], stdin: &[u8]) -> Vec<u8> {
    debug_assert_eq!(job.files.len(), contents.len());
    let header = serde_json::to_vec(job).expect("a job always serializes");
    let body: usize = contents.iter().map(|c| c.len()).sum::<usize>() + stdin.len();
    let mut out = Vec::with_capacity(4 + header.len() + body);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    for c in contents {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(stdin);
    out
}

/// What the server sends an interactive job after its stdin bytes: a kind
/// byte, a 4-byte big-endian length, the payload, as [`Frame`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// More bytes for the program's stdin (at most [`MAX_FRAME`]).
    Data(Vec<u8>),
    /// The end of the program's stdin.
    Eof,
}

impl Feed {
    const DATA: u8 = b'i';
    const EOF: u8 = b'e';

    /// The message as bytes; data over [`MAX_FRAME`] becomes several.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let written = match self {
            Feed::Data(b) => write_chunks(&mut out, Self::DATA, b),
            Feed::Eof => write_raw(&mut out, Self::EOF, &[]),
        };
        written.expect("writing to a Vec cannot fail");
        out
    }

    /// The next message; `None` at a clean end of the stream (the server
    /// went away, which ends the program's stdin as well).
    pub fn read(r: &mut impl Read) -> io::Result<Option<Feed>> {
        let mut head = [0u8; 5];
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::other(format!(
                "feed message of {len} bytes is over the limit"
            )));
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)?;
        match head[0] {
            Self::DATA => Ok(Some(Feed::Data(payload))),
            Self::EOF => Ok(Some(Feed::Eof)),
            other => Err(io::Error::other(format!(
                "unknown feed message kind {other:#04x}"
            ))),
        }
    }
}

/// What comes on the agent's stdin while it waits for its job.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The job's header; its files and stdin follow.
    Job(Job),
    /// The server is still there ([`KEEPALIVE`]).
    KeepAlive,
    /// A clean EOF: the server went away without sending a job.
    End,
}

/// Reads the next thing on the agent's stdin: a job header, or a keepalive.
pub fn read_incoming(r: &mut impl Read) -> io::Result<Incoming> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Incoming::End),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Ok(Incoming::KeepAlive);
    }
    if len > MAX_HEADER {
        return Err(io::Error::other(format!(
            "job header of {len} bytes is over the limit"
        )));
    }
    let mut header = vec![0u8; len];
    r.read_exact(&mut header)?;
    serde_json::from_slice(&header)
        .map(Incoming::Job)
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_messages_round_trip_and_large_data_is_split() {
        let big = vec![7u8; MAX_FRAME + 10];
        let mut bytes = Feed::Data(b"Ada\n".to_vec()).encode();
        bytes.extend(Feed::Data(big.clone()).encode());
        bytes.extend(Feed::Eof.encode());
        let mut r = &bytes[..];
        assert_eq!(
            Feed::read(&mut r).unwrap(),
            Some(Feed::Data(b"Ada\n".to_vec()))
        );
        assert_eq!(
            Feed::read(&mut r).unwrap(),
            Some(Feed::Data(big[..MAX_FRAME].to_vec()))
        );
        assert_eq!(
            Feed::read(&mut r).unwrap(),
            Some(Feed::Data(big[MAX_FRAME..].to_vec()))
        );
        assert_eq!(Feed::read(&mut r).unwrap(), Some(Feed::Eof));
        assert_eq!(Feed::read(&mut r).unwrap(), None);
        assert!(Feed::read(&mut &[b'z', 0, 0, 0, 0][..]).is_err());
        assert!(Feed::read(&mut &[b'i', 0xff, 0, 0, 0][..]).is_err());
    }

    #[test]
    fn input_closed_round_trips() {
        let mut bytes = Vec::new();
        Frame::InputClosed.write_to(&mut bytes).unwrap();
        let mut dec = FrameDecoder::default();
        dec.push(&bytes);
        assert_eq!(dec.next_frame().unwrap(), Some(Frame::InputClosed));
    }

    #[test]
    fn a_ready_frame_without_a_payload_is_an_older_agents() {
        let mut dec = FrameDecoder::default();
        dec.push(&[b'R', 0, 0, 0, 0]);
        assert_eq!(
            dec.next_frame().unwrap(),
            Some(Frame::Ready(Ready::default()))
        );
    }

    #[test]
    fn frames_survive_arbitrary_chunking() {
        let frames = vec![
            Frame::Ready(Ready {
                memory_bytes: 1 << 20,
            }),
            Frame::Started,
            Frame::Stdout(b"hello\n".to_vec()),
            Frame::Stderr(vec![0xff, 0, 1]),
            Frame::Exit(Exit {
                exit_code: 3,
                truncated: true,
                ..Exit::default()
            }),
        ];
        let mut bytes = Vec::new();
        for f in &frames {
            f.write_to(&mut bytes).unwrap();
        }
        for chunk in [1, 2, 3, 7, bytes.len()] {
            let mut dec = FrameDecoder::default();
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                dec.push(piece);
                while let Some(f) = dec.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "chunk size {chunk}");
        }
    }

    #[test]
    fn large_output_is_split_into_bounded_frames() {
        let mut bytes = Vec::new();
        Frame::Stdout(vec![b'x'; MAX_FRAME * 2 + 1])
            .write_to(&mut bytes)
            .unwrap();
        let mut dec = FrameDecoder::default();
        dec.push(&bytes);
        let mut total = 0;
        while let Some(Frame::Stdout(b)) = dec.next_frame().unwrap() {
            assert!(b.len() <= MAX_FRAME);
            total += b.len();
        }
        assert_eq!(total, MAX_FRAME * 2 + 1);
    }

    #[test]
    fn oversized_or_unknown_frames_are_refused() {
        let mut dec = FrameDecoder::default();
        dec.push(&[b'O', 0xff, 0xff, 0xff, 0xff]);
        assert!(dec.next_frame().is_err());
        let mut dec = FrameDecoder::default();
        dec.push(&[b'?', 0, 0, 0, 0]);
        assert!(dec.next_frame().is_err());
    }

    #[test]
    fn a_job_round_trips() {
        let job = Job {
            workdir: "/sandbox".into(),
            files: vec![FileHeader {
                name: "main.py".into(),
                len: 8,
            }],
            stdin_len: 2,
            steps: vec![vec!["python3".into(), "main.py".into()]],
            timeout_ms: 1000,
            output_limit: 10,
            outputs: vec!["*.png".into()],
            output_caps: OutputCaps::default(),
            interactive: true,
            cpu_ms: 500,
        };
        let bytes = encode_job(&job, &[b"print(1)"], b"hi");
        let mut with_keepalives = KEEPALIVE.to_vec();
        with_keepalives.extend_from_slice(&bytes);
        let mut r = &with_keepalives[..];
        assert_eq!(read_incoming(&mut r).unwrap(), Incoming::KeepAlive);
        assert_eq!(read_incoming(&mut r).unwrap(), Incoming::Job(job));
        assert_eq!(r, b"print(1)hi");
        assert_eq!(read_incoming(&mut &b""[..]).unwrap(), Incoming::End);
    }

    #[test]
    fn file_and_exit_frames_round_trip() {
        let frames = vec![
            Frame::File(OutputFile {
                name: "out/chart.png".into(),
                size: 3,
                omitted: false,
            }),
            Frame::FileData(vec![0x89, b'P', b'N']),
            Frame::File(OutputFile {
                name: "big.csv".into(),
                size: 1 << 40,
                omitted: true,
            }),
            Frame::Exit(Exit {
                exit_code: 139,
                signal: Some(11),
                oom_kills: 1,
                pids_max: 2,
                files_omitted: 9990,
                ..Exit::default()
            }),
        ];
        let mut bytes = Vec::new();
        for f in &frames {
            f.write_to(&mut bytes).unwrap();
        }
        let mut dec = FrameDecoder::default();
        dec.push(&bytes);
        let mut got = Vec::new();
        while let Some(f) = dec.next_frame().unwrap() {
            got.push(f);
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn an_old_servers_job_and_an_old_agents_exit_still_decode() {
        let job = br#"{"workdir":"/s","files":[],"stdin_len":0,"steps":[["true"]],"timeout_ms":1,"output_limit":1}"#;
        let job: Job = serde_json::from_slice(job).unwrap();
        assert!(job.outputs.is_empty());
        assert_eq!(job.output_caps, OutputCaps::default());
        let exit: Exit =
            serde_json::from_slice(br#"{"exit_code":0,"timed_out":false,"truncated":false}"#)
                .unwrap();
        assert_eq!(exit, Exit::default());
        let boot: Boot = serde_json::from_slice(b"{}").unwrap();
        assert_eq!(boot, Boot::default());
    }

    #[test]
    fn a_boot_round_trips() {
        let boot = Boot {
            prepare: vec![vec!["/usr/local/lib/snipbox/start-db".into()]],
            prepare_timeout_ms: 5000,
            prestart: Some(vec!["python3".into(), "main.py".into()]),
            workdir: "/sandbox".into(),
            idle_limit_ms: 1000,
        };
        assert_eq!(boot.idle_limit(), std::time::Duration::from_secs(1));
        assert_eq!(Boot::default().idle_limit(), IDLE_LIMIT);
        assert_eq!(Boot::from_arg(Some(&boot.to_arg())), Ok(boot));
        assert_eq!(Boot::from_arg(None), Ok(Boot::default()));
        assert_eq!(Boot::from_arg(Some("")), Ok(Boot::default()));
        assert!(Boot::from_arg(Some("[")).is_err());
    }

    fn file(name: &str, size: u64, omitted: bool) -> OutputFile {
        OutputFile {
            name: name.into(),
            size,
            omitted,
        }
    }

    #[test]
    fn the_assembler_puts_files_together() {
        let mut a = FileAssembler::new(OutputCaps::default());
        a.file(file("a.txt", 5, false)).unwrap();
        a.data(b"he").unwrap();
        a.data(b"llo").unwrap();
        a.file(file("big.bin", 10 << 20, true)).unwrap();
        a.file(file("empty", 0, false)).unwrap();
        let files = a.finish().unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].data, b"hello");
        assert!(files[1].omitted && files[1].data.is_empty());
        assert_eq!((files[2].size, files[2].data.len()), (0, 0));
    }

    #[test]
    fn the_assembler_refuses_what_the_caps_do_not_allow() {
        let caps = OutputCaps {
            max_files: 2,
            max_file_bytes: 4,
            max_total_bytes: 6,
        };
        let mut a = FileAssembler::new(caps);
        assert!(
            a.file(file("a", 5, false)).is_err(),
            "over the per-file cap"
        );
        assert!(a.file(file("a\u{202E}", 1, false)).is_err(), "bad name");
        assert!(a.data(b"x").is_err(), "data without a file");
        a.file(file("a", 4, false)).unwrap();
        assert!(a.data(b"12345").is_err(), "more data than the size");
        a.data(b"1234").unwrap();
        assert!(a.file(file("b", 3, false)).is_err(), "over the total cap");
        a.file(file("b", 2, false)).unwrap();
        a.data(b"1").unwrap();
        assert!(a.file(file("c", 0, true)).is_err(), "an incomplete file");
        let mut a = FileAssembler::new(caps);
        a.file(file("a", 1, true)).unwrap();
        a.file(file("b", 1, true)).unwrap();
        assert!(a.file(file("c", 1, true)).is_err(), "over the count cap");
        assert!(a.data(b"x").is_err(), "data for an omitted file");
    }
}

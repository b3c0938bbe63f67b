//! The protocol between the server and `snipbox-agent`, the main process of
//! every sandbox container.
//!
//! The server attaches to the container's stdin and stdout before starting
//! it. The agent announces itself with a [`Frame::Ready`], then waits for one
//! job on stdin: a 4-byte big-endian length, a JSON [`Job`] of that length,
//! then the raw bytes of every file in the order of [`Job::files`], then the
//! program's stdin. It runs the steps and answers on stdout with frames: a
//! kind byte, a 4-byte big-endian length, the payload. The last frame is
//! [`Frame::Exit`]. Then the agent exits and the container is removed.
//!
//! The agent shares the container with untrusted code, so the server treats
//! everything it reads as untrusted too: frame sizes are bounded, output is
//! capped on the server side as well, and a wall-clock deadline kills the
//! container whatever the agent says.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The largest frame payload either side accepts.
pub const MAX_FRAME: usize = 64 * 1024;
/// The largest job header the agent accepts.
pub const MAX_HEADER: usize = 1024 * 1024;

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
    /// write, a program it could not start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One message from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Ready,
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(Exit),
}

impl Frame {
    const READY: u8 = b'R';
    const STDOUT: u8 = b'O';
    const STDERR: u8 = b'E';
    const EXIT: u8 = b'X';

    /// Writes the frame; payloads over [`MAX_FRAME`] are split.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Frame::Ready => write_raw(w, Self::READY, &[]),
            Frame::Stdout(b) => write_chunks(w, Self::STDOUT, b),
            Frame::Stderr(b) => write_chunks(w, Self::STDERR, b),
            Frame::Exit(e) => write_raw(w, Self::EXIT, &serde_json::to_vec(e)?),
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
            Frame::READY => Frame::Ready,
            Frame::STDOUT => Frame::Stdout(payload),
            Frame::STDERR => Frame::Stderr(payload),
            Frame::EXIT => Frame::Exit(
                serde_json::from_slice(&payload)
                    .map_err(|e| ProtocolError(format!("bad exit frame: {e}")))?,
            ),
            other => return Err(ProtocolError(format!("unknown frame kind {other:#04x}"))),
        };
        Ok(Some(frame))
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

/// Reads a job header from the agent's stdin; `Ok(None)` on a clean EOF
/// (the server went away without sending a job).
pub fn read_job_header(r: &mut impl Read) -> io::Result<Option<Job>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_HEADER {
        return Err(io::Error::other(format!(
            "job header of {len} bytes is over the limit"
        )));
    }
    let mut header = vec![0u8; len];
    r.read_exact(&mut header)?;
    serde_json::from_slice(&header)
        .map(Some)
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_arbitrary_chunking() {
        let frames = vec![
            Frame::Ready,
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
        };
        let bytes = encode_job(&job, &[b"print(1)"], b"hi");
        let mut r = &bytes[..];
        assert_eq!(read_job_header(&mut r).unwrap(), Some(job));
        assert_eq!(r, b"print(1)hi");
        assert_eq!(read_job_header(&mut &b""[..]).unwrap(), None);
    }
}

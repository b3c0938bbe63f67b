//! Waiting for the job: keepalives from the server are skipped, and an
//! agent that hears nothing for its idle limit (`snipbox_wire::agent::IDLE_LIMIT`
//! unless its boot config says otherwise) gives up. A container whose
//! server died between attaching to it and starting it has a stdin that
//! nobody writes to and nobody closes: without the limit it would wait for
//! ever.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use snipbox_wire::agent::{Incoming, Job, read_incoming};

/// The agent's stdin, read without a buffer the agent cannot see into.
pub(crate) struct Input {
    reader: BufReader<File>,
}

impl Input {
    pub(crate) fn stdin() -> Self {
        // SAFETY: fd 0 is this process's stdin, open for its whole life;
        // nothing else in the agent reads it.
        let file = unsafe { File::from_raw_fd(0) };
        Input {
            reader: BufReader::new(file),
        }
    }

    /// The job, once it comes; `None` when the server went away (EOF) or
    /// was not heard from (not even a keepalive) for `idle_limit`.
    pub(crate) fn next_job(&mut self, idle_limit: Duration) -> io::Result<Option<Job>> {
        let mut heard = Instant::now();
        loop {
            let left = idle_limit.saturating_sub(heard.elapsed());
            if !self.readable_within(left.as_millis() as i32) {
                return Ok(None);
            }
            match read_incoming(&mut self.reader)? {
                Incoming::Job(job) => return Ok(Some(job)),
                Incoming::KeepAlive => heard = Instant::now(),
                Incoming::End => return Ok(None),
            }
        }
    }

    /// Whether there is something to read (or the end) within `ms`.
    fn readable_within(&mut self, ms: i32) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let mut fd = libc::pollfd {
            fd: self.reader.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: poll reads and writes the one pollfd it is given.
            let n = unsafe { libc::poll(&mut fd, 1, ms.max(0)) };
            if n >= 0 {
                return n > 0;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                // Cannot wait: read, and let the read say what is wrong.
                return true;
            }
        }
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.reader.consume(n)
    }
}

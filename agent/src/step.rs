//! Watching one step of a job: its output leaves as frames the moment it is
//! read, within the output budget, until it exits or the deadline passes.

use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use snipbox_wire::agent::Frame;

use crate::cgroup;
use crate::procs::{KILL_GRACE, Killer, reap_orphans};
use crate::spawn::{Event, Running};

/// How a step ended.
#[derive(Debug, Default)]
pub(crate) struct StepEnd {
    /// Its exit code; `128 + N` when killed by signal N.
    pub code: i32,
    pub timed_out: bool,
    pub truncated: bool,
    /// The signal that ended it, unless the agent sent it.
    pub signal: Option<i32>,
    /// It was killed for using the job's CPU time (`timed_out` too).
    pub cpu_limited: bool,
}

/// How often a step under a CPU limit has its CPU time read.
const CPU_CHECK: Duration = Duration::from_millis(50);

/// The CPU time the job's steps may use, counted from its creation.
pub(crate) struct CpuLimit {
    limit: Duration,
    start: Duration,
}

impl CpuLimit {
    pub(crate) fn new(limit: Duration) -> Self {
        CpuLimit {
            limit,
            start: cgroup::cpu_used(),
        }
    }

    fn reached(&self) -> bool {
        cgroup::cpu_used().saturating_sub(self.start) >= self.limit
    }
}

/// What a step's watch shares with the job.
pub(crate) struct Watch<'a, W> {
    pub out: &'a mut W,
    /// Bytes left of stdout and of stderr, across the job's steps.
    pub budget: &'a mut [u64; 2],
    pub deadline: Instant,
    /// The job's CPU time, when it has a limit.
    pub cpu: Option<&'a CpuLimit>,
    /// Whether the server knows the step no longer reads its stdin: while
    /// false, that is said ([`Frame::InputClosed`]) as soon as it is so.
    pub input_closed: &'a mut bool,
    pub killer: &'a mut Killer,
}

impl<W: Write> Watch<'_, W> {
    /// Forwards the step's output until it has exited and closed its pipes.
    /// Output read before `since` is dropped (a prestarted program's, from
    /// before go). Whatever the step leaves running is killed when it ends.
    pub(crate) fn run(&mut self, mut run: Running, since: Instant) -> io::Result<StepEnd> {
        let mut status = None;
        let mut end = StepEnd::default();
        let mut killed_at: Option<Instant> = None;
        while run.open > 0 || status.is_none() {
            let now = Instant::now();
            let over_cpu = killed_at.is_none() && self.cpu.is_some_and(CpuLimit::reached);
            if killed_at.is_none() && (now >= self.deadline || over_cpu) {
                end.timed_out = true;
                end.cpu_limited = over_cpu;
                self.killer.kill_all(run.pgid);
                killed_at = Some(now);
            }
            let wait = match killed_at {
                // Everything was killed: the pipes close at once, unless a
                // process is stuck in the kernel; do not wait for it forever.
                Some(at) if now.duration_since(at) > KILL_GRACE => break,
                Some(_) => Duration::from_millis(100),
                None if self.cpu.is_some() => (self.deadline - now).min(CPU_CHECK),
                None => self.deadline - now,
            };
            match run.events.recv_timeout(wait) {
                Ok(Event::Output { stream, at, bytes }) => {
                    if at >= since && !self.emit(stream, &bytes)? && !end.truncated {
                        end.truncated = true;
                        self.killer.kill_all(run.pgid);
                        killed_at.get_or_insert_with(Instant::now);
                    }
                }
                Ok(Event::Closed) => run.open -= 1,
                Ok(Event::InputClosed) => self.tell_input_closed()?,
                Ok(Event::Exited(st)) => {
                    self.tell_input_closed()?;
                    status = Some(st?);
                    // Whatever the step left running in the background ends
                    // with it, so its pipes close and the next step starts clean.
                    self.killer.kill_all(run.pgid);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        reap_orphans();
        end.code = status.map_or(128 + libc::SIGKILL, exit_code);
        if killed_at.is_none() {
            end.signal = status.and_then(|s| s.signal());
        }
        Ok(end)
    }

    /// Says (once) that the step no longer reads its stdin.
    fn tell_input_closed(&mut self) -> io::Result<()> {
        if !*self.input_closed {
            *self.input_closed = true;
            Frame::InputClosed.write_to(self.out)?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Sends what fits in the budget as a frame, at once; false when some
    /// did not fit.
    fn emit(&mut self, stream: usize, bytes: &[u8]) -> io::Result<bool> {
        let keep = bytes.len().min(self.budget[stream] as usize);
        if keep > 0 {
            let data = bytes[..keep].to_vec();
            let frame = if stream == 0 {
                Frame::Stdout(data)
            } else {
                Frame::Stderr(data)
            };
            frame.write_to(self.out)?;
            self.out.flush()?;
            self.budget[stream] -= keep as u64;
        }
        Ok(keep == bytes.len())
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

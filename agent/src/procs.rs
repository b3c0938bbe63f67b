//! The container's processes: which the agent kills after a step, which it
//! spares (what `prepare` left running), and how it answers SIGTERM.
//!
//! As PID 1 every process of the container is the agent's descendant; run
//! outside a container (in tests) the agent makes itself a child subreaper,
//! so orphans of its steps still become its children and it kills only its
//! own descendants.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libc::pid_t;

/// Passes over /proc when killing: each kills what the last one missed (a
/// fork that raced the kill); a fork bomb's generations die out long before.
const MAX_PASSES: usize = 100;

/// The fields of /proc/PID/stat the agent needs.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: pid_t,
    ppid: pid_t,
    sid: pid_t,
    /// Start time in clock ticks since boot: a pid with another start time
    /// is another process.
    start: u64,
    zombie: bool,
}

/// Every process visible in /proc; `None` when /proc cannot be read.
fn scan() -> Option<Vec<Proc>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let pids = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<pid_t>().ok());
    Some(pids.filter_map(read_stat).collect())
}

fn read_stat(pid: pid_t) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields that
    // follow it start after the last ')'.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split(' ').collect();
    Some(Proc {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        sid: f.get(3)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
        zombie: matches!(f.first(), Some(&("Z" | "X"))),
    })
}

/// Whether `p` descends from `ancestor`, through the parent links of `procs`.
fn descends(p: &Proc, ancestor: pid_t, parents: &HashMap<pid_t, pid_t>) -> bool {
    let mut cur = p.ppid;
    for _ in 0..parents.len() {
        if cur == ancestor {
            return true;
        }
        match parents.get(&cur) {
            Some(&next) if next != cur => cur = next,
            _ => return false,
        }
    }
    false
}

/// Kills what steps leave behind, sparing what `prepare` started.
///
/// Spared are the sessions of the processes that started before `prepare`
/// ended, whatever sessions they are in by now (a daemon may call `setsid`
/// after its starter exited), and so every process in those sessions (the
/// workers a database server forks later). User code cannot enter such a
/// session: `setsid` only makes new ones, and a process group can only be
/// joined within one's own session. A session is spared only while one of
/// those early processes is in it, so its id cannot have been reused.
#[derive(Debug, Default)]
pub(crate) struct Killer {
    /// The start time (in clock ticks since boot, as /proc counts) of the
    /// last tick `prepare` ran in; `None` without `prepare`.
    prepared_by: Option<u64>,
}

impl Killer {
    /// Marks every process running now as `prepare`'s, to be spared. Waits
    /// for the next clock tick, so that nothing started later shares a
    /// start time with them.
    pub(crate) fn spare_running(&mut self) {
        // SAFETY: sysconf cannot fail for _SC_CLK_TCK.
        let tick_ns = 1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let now = boot_time_ns();
        let tick = now / tick_ns;
        self.prepared_by = Some(tick);
        let next = Duration::from_nanos((tick + 1) * tick_ns - now);
        std::thread::sleep(next + Duration::from_micros(200));
    }

    /// Kills the process group `pgid` (a step) and every other process the
    /// agent may kill but the spared ones.
    pub(crate) fn kill_all(&mut self, pgid: pid_t) {
        if pgid > 0 {
            // SAFETY: kill only sends a signal; -pgid names the step's group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        // SAFETY: getpid cannot fail.
        let pid1 = unsafe { libc::getpid() } == 1;
        if pid1 && self.prepared_by.is_none() {
            // As the container's init, kill(-1) reaches every other process
            // of the container in one call. Outside a container it would
            // reach the user's other processes: never there.
            // SAFETY: kill only sends signals.
            unsafe { libc::kill(-1, libc::SIGKILL) };
            return;
        }
        let mut killed = HashSet::new();
        for _ in 0..MAX_PASSES {
            let Some(procs) = scan() else {
                if pid1 {
                    // Without /proc nothing can be told apart: user code
                    // must not outlive its step, so the daemons go too.
                    // SAFETY: kill only sends signals.
                    unsafe { libc::kill(-1, libc::SIGKILL) };
                }
                return;
            };
            let fresh: Vec<&Proc> = self
                .victims(&procs, pid1)
                .into_iter()
                .filter(|p| killed.insert((p.pid, p.start)))
                .collect();
            if fresh.is_empty() {
                return;
            }
            for p in fresh {
                // SAFETY: kill only sends a signal to a process we may end.
                unsafe { libc::kill(p.pid, libc::SIGKILL) };
            }
        }
    }

    /// Kills everything, spared processes too: the agent is about to exit.
    pub(crate) fn kill_everything(&mut self) {
        self.prepared_by = None;
        self.kill_all(0);
    }

    fn victims<'p>(&self, procs: &'p [Proc], pid1: bool) -> Vec<&'p Proc> {
        // SAFETY: getpid and getsid(0) cannot fail.
        let (me, my_sid) = unsafe { (libc::getpid(), libc::getsid(0)) };
        let spared: HashSet<pid_t> = match self.prepared_by {
            Some(tick) => procs
                .iter()
                .filter(|p| !p.zombie && p.pid != me && p.start <= tick && p.sid != my_sid)
                .map(|p| p.sid)
                .collect(),
            None => HashSet::new(),
        };
        let parents = procs.iter().map(|p| (p.pid, p.ppid)).collect();
        procs
            .iter()
            .filter(|p| !p.zombie && p.pid != me && !spared.contains(&p.sid))
            .filter(|p| pid1 || descends(p, me, &parents))
            .collect()
    }
}

/// CLOCK_BOOTTIME, the clock of the start times in /proc.
fn boot_time_ns() -> u64 {
    // SAFETY: a zeroed timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Collects the agent's exited children: as PID 1 (or subreaper) it
/// inherits every orphan. Only called when no step is being waited for, or
/// it could take that step's status from its waiter.
pub(crate) fn reap_orphans() {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG only collects exited children.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

/// Gives the agent's process its protections: out of reach of the program
/// it runs, the parent of every orphan, and deaf to SIGTERM from inside.
pub(crate) fn protect_self() {
    // The program we run shares our UID. Being non-dumpable keeps it out of
    // /proc/PID/fd and ptrace, so it cannot write frames in our name.
    // SAFETY: these prctl calls only change flags of this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    // SAFETY: a zeroed sigaction is valid; the handler only calls
    // async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigterm as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
    }
}

/// `docker stop` (or the engine shutting down) sends SIGTERM to PID 1: end
/// at once instead of after the engine's grace. The sandbox's own code may
/// send it too (`kill -TERM 1`), to end the run in the agent's name: such a
/// sender has a pid in our namespace, the engine does not (si_pid 0).
extern "C" fn on_sigterm(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler;
    // getpid, kill and _exit are async-signal-safe.
    unsafe {
        if (*info).si_pid() != 0 {
            return;
        }
        if libc::getpid() == 1 {
            libc::kill(-1, libc::SIGKILL);
        }
        libc::_exit(143);
    }
}

/// How long a step that was killed may take to let go of its pipes (a
/// process stuck in the kernel) before the agent stops waiting for it.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);

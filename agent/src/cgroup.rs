//! The container's cgroup counters, read before and after a job: they say
//! whether the kernel's OOM killer or the pids limit stepped in.

/// Where each counter lives: cgroup v2 first, then v1 (Docker mounts the
/// container's own cgroup at /sys/fs/cgroup in both).
const OOM_KILLS: [(&str, &str); 2] = [
    ("/sys/fs/cgroup/memory.events", "oom_kill"),
    ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
];
const PIDS_MAX: [(&str, &str); 2] = [
    ("/sys/fs/cgroup/pids.events", "max"),
    ("/sys/fs/cgroup/pids/pids.events", "max"),
];

/// A reading of the counters; 0 for a counter that cannot be read.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    /// Processes the OOM killer ended.
    pub oom_kills: u64,
    /// Forks refused at the pids limit.
    pub pids_max: u64,
}

impl Counters {
    pub(crate) fn read() -> Self {
        Counters {
            oom_kills: first(&OOM_KILLS),
            pids_max: first(&PIDS_MAX),
        }
    }

    /// What happened between `before` and this reading.
    pub(crate) fn since(self, before: Counters) -> Counters {
        Counters {
            oom_kills: self.oom_kills.saturating_sub(before.oom_kills),
            pids_max: self.pids_max.saturating_sub(before.pids_max),
        }
    }
}

/// The container's CPU time: v2 `cpu.stat` `usage_usec` (microseconds),
/// then v1 `cpuacct.usage` (nanoseconds) where Docker mounts it.
const CPU_V2: (&str, &str) = ("/sys/fs/cgroup/cpu.stat", "usage_usec");
const CPU_V1: [&str; 2] = [
    "/sys/fs/cgroup/cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage",
];

/// The CPU time used so far: the container's cgroup's, where the agent is
/// the container's first process and can read it; otherwise (a runtime
/// without cgroup files, the agent run on a host by its tests) that of
/// the agent's descendants, running or reaped (orphans become the agent's:
/// it is PID 1 or a subreaper).
pub(crate) fn cpu_used() -> std::time::Duration {
    use std::time::Duration;
    // SAFETY: getpid only reads.
    if unsafe { libc::getpid() } != 1 {
        return descendants_cpu();
    }
    if let Some(us) = counter(CPU_V2.0, CPU_V2.1) {
        return Duration::from_micros(us);
    }
    for path in CPU_V1 {
        if let Some(ns) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return Duration::from_nanos(ns);
        }
    }
    descendants_cpu()
}

/// CPU time of the agent's descendants, running and reaped.
fn descendants_cpu() -> std::time::Duration {
    // SAFETY: sysconf and getpid only read process facts.
    let (ticks, me) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::getpid()) };
    let ticks = ticks.max(1) as u64;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return std::time::Duration::ZERO;
    };
    let procs: std::collections::HashMap<i32, ProcStat> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, ProcStat::read(pid)?)))
        .collect();
    let descends = |mut pid: i32| {
        // Bounded: a parent chain read while processes come and go may loop.
        for _ in 0..256 {
            match procs.get(&pid) {
                Some(p) if p.ppid == me => return true,
                Some(p) if p.ppid > 1 => pid = p.ppid,
                _ => return false,
            }
        }
        false
    };
    let mut total: u64 = procs
        .iter()
        .filter(|(pid, _)| descends(**pid))
        .map(|(_, p)| p.utime + p.stime)
        .sum();
    if let Some(own) = procs.get(&me) {
        total += own.cutime + own.cstime;
    }
    std::time::Duration::from_millis(total * 1000 / ticks)
}

/// The fields of `/proc/PID/stat` the CPU count needs.
struct ProcStat {
    ppid: i32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl ProcStat {
    fn read(pid: i32) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        ProcStat::parse(&text)
    }

    /// The command name (field 2) may hold spaces and parentheses: the
    /// fields after it start past its last `)`.
    fn parse(text: &str) -> Option<ProcStat> {
        let rest = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state): field N is f[N - 3].
        let n = |i: usize| f.get(i - 3)?.parse::<i64>().ok();
        Some(ProcStat {
            ppid: n(4)? as i32,
            utime: n(14)? as u64,
            stime: n(15)? as u64,
            cutime: n(16)? as u64,
            cstime: n(17)? as u64,
        })
    }
}

/// Where the container's memory is broken down: v2, then v1.
const MEMORY_STAT: [&str; 2] = [
    "/sys/fs/cgroup/memory.stat",
    "/sys/fs/cgroup/memory/memory.stat",
];

/// The memory the container holds that the kernel cannot simply drop:
/// anonymous memory (v2 `anon`, v1 `rss`) and shared memory, which is
/// where tmpfs files live (`shmem`); page cache is left out. 0 where it
/// cannot be read.
pub(crate) fn idle_memory() -> u64 {
    MEMORY_STAT
        .iter()
        .find_map(|path| {
            let anon = counter(path, "anon").or_else(|| counter(path, "rss"))?;
            Some(anon + counter(path, "shmem").unwrap_or(0))
        })
        .unwrap_or(0)
}

/// The first of `places` (a file and a key in it) that can be read.
fn first(places: &[(&str, &str)]) -> u64 {
    places
        .iter()
        .find_map(|(path, key)| counter(path, key))
        .unwrap_or(0)
}

/// The value of `key` in a flat-keyed file of `key value` lines.
fn counter(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, text).unwrap();
        (dir, path.to_str().unwrap().to_string())
    }

    #[test]
    fn both_cgroup_versions_files_are_read() {
        // v1 memory.oom_control, v2 memory.events (which also has
        // oom_group_kill), v1/v2 pids.events.
        let (_d1, v1) = file("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        let (_d2, v2) = file("low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n");
        let (_d3, pids) = file("max 7\n");
        assert_eq!(counter(&v1, "oom_kill"), Some(3));
        assert_eq!(counter(&v2, "oom_kill"), Some(1));
        assert_eq!(counter(&pids, "max"), Some(7));
        assert_eq!(first(&[("/nonexistent", "max"), (&pids, "max")]), 7);
        assert_eq!(first(&[("/nonexistent", "max")]), 0);
        let (_d4, v1stat) = file("cache 900\nrss 40\nshmem 2\nmapped_file 5\n");
        let (_d5, v2stat) = file("anon 30\nfile 900\nshmem 3\n");
        assert_eq!(counter(&v1stat, "rss"), Some(40));
        assert_eq!(counter(&v2stat, "anon"), Some(30));
    }

    #[test]
    fn a_proc_stat_line_is_read_past_a_name_with_spaces_and_parentheses() {
        let line = "42 (a (b) c) R 1 42 7 0 -1 4194304 100 0 0 0 250 30 12 3 20 0 1 0 99 0 0";
        let s = ProcStat::parse(line).unwrap();
        assert_eq!(
            (s.ppid, s.utime, s.stime, s.cutime, s.cstime),
            (1, 250, 30, 12, 3)
        );
    }

    #[test]
    fn a_busy_child_is_counted() {
        let before = descendants_cpu();
        let mut busy = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        let used = descendants_cpu().saturating_sub(before);
        busy.kill().unwrap();
        busy.wait().unwrap();
        assert!(
            used >= std::time::Duration::from_millis(100),
            "a busy loop of 600 ms counted {used:?}"
        );
    }

    #[test]
    fn counters_that_went_backwards_count_nothing() {
        let before = Counters {
            oom_kills: 5,
            pids_max: 1,
        };
        let after = Counters {
            oom_kills: 2,
            pids_max: 4,
        };
        let d = after.since(before);
        assert_eq!((d.oom_kills, d.pids_max), (0, 3));
    }
}

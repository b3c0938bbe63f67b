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
pub struct Counters {
    /// Processes the OOM killer ended.
    pub oom_kills: u64,
    /// Forks refused at the pids limit.
    pub pids_max: u64,
}

impl Counters {
    pub fn read() -> Self {
        Counters {
            oom_kills: first(&OOM_KILLS),
            pids_max: first(&PIDS_MAX),
        }
    }

    /// What happened between `before` and this reading.
    pub fn since(self, before: Counters) -> Counters {
        Counters {
            oom_kills: self.oom_kills.saturating_sub(before.oom_kills),
            pids_max: self.pids_max.saturating_sub(before.pids_max),
        }
    }
}

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

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

//! snipbox's own seccomp profile, given to every sandbox in its create body
//! (`seccomp=<profile>` among the security options), so the calls a program
//! may make to the kernel are the same on every engine: Docker 20.10's
//! default profile allows io_uring, 25.0's does not, and neither says
//! anything about vsock. The guard compares it like every other field.
//!
//! An allow-list: what programs of every sandbox need, by purpose. What is
//! not listed fails with EPERM, as moby's profile has it (Docker 20.10
//! ignores a profile's own default errno); `clone3` fails with ENOSYS, as on
//! a kernel without it, so that glibc makes threads with `clone`, whose
//! flags the profile can see. Left out on purpose: io_uring; `ptrace`,
//! `process_vm_*`, `kcmp` and `pidfd_getfd` (no process may look into
//! another, the agent least of all); namespaces, mounts, keys, BPF,
//! perf events, `userfaultfd`, modules, clocks, swap, reboot; the 32-bit
//! ABIs (a second set of entry points a 64-bit sandbox never needs, and
//! one where `socketcall` would hide a socket's family). Some calls are
//! allowed only on the caller itself (`pid` 0): resource limits,
//! priorities and scheduling, so the program cannot change its agent's.
//!
//! Under gVisor the same profile filters the program's calls inside
//! gVisor's own kernel, when runsc is registered with `--oci-seccomp` (as
//! `scripts/gvisor.sh` does), with one difference: `clone3` is allowed.
//! runsc (2024-07) answers a refused call with EPERM whatever errno the
//! profile names, which glibc takes for a failure rather than a reason to
//! fall back; and a namespace made there is one of gVisor's kernel.

use std::sync::LazyLock;

use serde_json::{Value, json};

/// Files, folders and descriptors.
const FILES: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "lseek",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "mkdir",
    "mkdirat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "truncate",
    "ftruncate",
    "fallocate",
    "fsync",
    "fdatasync",
    "sync",
    "syncfs",
    "sync_file_range",
    "fadvise64",
    "readahead",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "umask",
    "chdir",
    "fchdir",
    "getcwd",
    "mknod",
    "mknodat",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "ioctl",
    "pipe",
    "pipe2",
    "sendfile",
    "splice",
    "tee",
    "vmsplice",
    "copy_file_range",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "memfd_create",
    "cachestat",
];

/// Memory.
const MEMORY: &[&str] = &[
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "membarrier",
    "remap_file_pages",
    "mseal",
    "map_shadow_stack",
];

/// Processes, threads, identities and signals.
const PROCESSES: &[&str] = &[
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "getpgrp",
    "setpgid",
    "getsid",
    "setsid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "capget",
    "capset",
    "prctl",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "futex",
    "futex_waitv",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "uname",
    "sysinfo",
    "getrusage",
    "times",
    "getrlimit",
    "setrlimit",
    "getpriority",
    "sched_yield",
    "sched_getaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_getattr",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "getcpu",
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "ioprio_get",
    "pidfd_open",
    "pidfd_send_signal",
    "process_mrelease",
    "kill",
    "tkill",
    "tgkill",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "rt_sigsuspend",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "pause",
    "restart_syscall",
];

/// Time and waiting.
const TIME: &[&str] = &[
    "alarm",
    "getitimer",
    "setitimer",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "eventfd",
    "eventfd2",
];

/// Asynchronous I/O of the old kind (databases use it), System V and POSIX
/// IPC (PostgreSQL's shared memory and semaphores), and sockets once made
/// (which family may be made is [`SOCKET_FAMILIES`]'s business).
const IPC: &[&str] = &[
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "socketpair",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "getrandom",
];

/// The socket families a sandbox may make: local sockets, IP (which the
/// network namespace confines to the sandbox's own loopback) and netlink
/// (the namespace's own routing tables, which runtimes read). Not vsock,
/// which no network namespace confines, nor any other.
const SOCKET_FAMILIES: &[u64] = &[
    libc::AF_UNIX as u64,
    libc::AF_INET as u64,
    libc::AF_INET6 as u64,
    libc::AF_NETLINK as u64,
];

/// `personality` values: Linux as it is, its 32-bit flavour, and the query.
const PERSONALITIES: &[u64] = &[0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

/// The namespace flags of `clone`: a new process or thread, never a new
/// namespace (an unprivileged user namespace above all).
const CLONE_NEW_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// The errno of a call the profile does not allow.
const REFUSED: i64 = libc::EPERM as i64;

fn allow(names: &[&str]) -> Value {
    json!({ "names": names, "action": "SCMP_ACT_ALLOW" })
}

/// Allows `name` when every `(argument index, value)` holds.
fn allow_when(name: &str, args: &[(u32, u64)]) -> Value {
    let args: Vec<Value> = args
        .iter()
        .map(|(index, value)| json!({ "index": index, "value": value, "op": "SCMP_CMP_EQ" }))
        .collect();
    json!({ "names": [name], "action": "SCMP_ACT_ALLOW", "args": args })
}

/// The profile, in the JSON form the engine takes (`docker run
/// --security-opt seccomp=FILE` sends the same text), for runc or for
/// gVisor (`runsc`).
pub fn profile(gvisor: bool) -> &'static str {
    static RUNC: LazyLock<String> = LazyLock::new(|| build(false).to_string());
    static GVISOR: LazyLock<String> = LazyLock::new(|| build(true).to_string());
    if gvisor { &GVISOR } else { &RUNC }
}

fn build(gvisor: bool) -> Value {
    let mut rules = vec![
        allow(FILES),
        allow(MEMORY),
        allow(PROCESSES),
        allow(TIME),
        allow(IPC),
    ];
    rules.extend(
        SOCKET_FAMILIES
            .iter()
            .map(|f| allow_when("socket", &[(0, *f)])),
    );
    rules.extend(
        PERSONALITIES
            .iter()
            .map(|p| allow_when("personality", &[(0, *p)])),
    );
    // On the caller itself only (pid, or `who`, 0): not on the agent.
    for name in [
        "prlimit64",
        "sched_setaffinity",
        "sched_setparam",
        "sched_setscheduler",
        "sched_setattr",
    ] {
        rules.push(allow_when(name, &[(0, 0)]));
    }
    let (prio_process, ioprio_who_process) = (libc::PRIO_PROCESS as u64, 1);
    rules.push(allow_when("setpriority", &[(0, prio_process), (1, 0)]));
    rules.push(allow_when("ioprio_set", &[(0, ioprio_who_process), (1, 0)]));
    rules.push(if gvisor {
        allow(&["clone3"])
    } else {
        json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS })
    });
    rules.push(json!({
        "names": ["clone"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{ "index": 0, "value": CLONE_NEW_NAMESPACES, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }],
    }));
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": REFUSED,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<Value> {
        let p: Value = serde_json::from_str(profile(false)).unwrap();
        p["syscalls"].as_array().unwrap().clone()
    }

    fn rules_for(name: &str) -> Vec<Value> {
        rules()
            .into_iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn what_is_not_listed_is_refused_on_the_64_bit_abis_only() {
        let p: Value = serde_json::from_str(profile(false)).unwrap();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], libc::EPERM);
        assert_eq!(
            p["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
        );
    }

    #[test]
    fn io_uring_tracing_and_namespaces_are_not_allowed() {
        for name in [
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "kcmp",
            "pidfd_getfd",
            "unshare",
            "setns",
            "mount",
            "bpf",
            "perf_event_open",
            "keyctl",
            "add_key",
            "userfaultfd",
            "socketcall",
        ] {
            assert!(rules_for(name).is_empty(), "{name} is allowed");
        }
        // Absent, so that glibc falls back to clone.
        let clone3 = rules_for("clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(clone3[0]["errnoRet"], libc::ENOSYS);
    }

    #[test]
    fn sockets_only_of_the_families_a_network_namespace_confines() {
        let families: Vec<u64> = rules_for("socket")
            .iter()
            .map(|r| {
                assert_eq!(r["args"].as_array().unwrap().len(), 1);
                assert_eq!(r["args"][0]["index"], 0);
                assert_eq!(r["args"][0]["op"], "SCMP_CMP_EQ");
                r["args"][0]["value"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(families, [1, 2, 10, 16]);
        assert!(!families.contains(&(libc::AF_VSOCK as u64)));
    }

    #[test]
    fn limits_and_priorities_only_of_the_caller_itself() {
        for name in [
            "prlimit64",
            "sched_setaffinity",
            "sched_setscheduler",
            "setpriority",
        ] {
            let rules = rules_for(name);
            assert_eq!(rules.len(), 1, "{name}");
            assert!(
                rules[0]["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["value"] == 0 && a["index"] != json!(null)),
                "{name}: {}",
                rules[0]
            );
        }
        assert_eq!(
            rules_for("setpriority")[0]["args"][1],
            json!({"index": 1, "value": 0, "op": "SCMP_CMP_EQ"})
        );
    }

    #[test]
    fn clone_makes_processes_and_threads_but_no_namespace() {
        let rules = rules_for("clone");
        assert_eq!(rules.len(), 1);
        let arg = &rules[0]["args"][0];
        assert_eq!(arg["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(arg["value"], 0x7E02_0000u64);
        assert_eq!(arg["valueTwo"], 0);
    }

    #[test]
    fn under_gvisor_only_clone3_differs() {
        let mut runc: Value = serde_json::from_str(profile(false)).unwrap();
        let mut gvisor: Value = serde_json::from_str(profile(true)).unwrap();
        let is_clone3 = |r: &Value| r["names"] == json!(["clone3"]);
        let take = |p: &mut Value| {
            let rules = p["syscalls"].as_array_mut().unwrap();
            let at = rules.iter().position(is_clone3).unwrap();
            rules.remove(at)
        };
        assert_eq!(take(&mut gvisor)["action"], "SCMP_ACT_ALLOW");
        assert_eq!(take(&mut runc)["action"], "SCMP_ACT_ERRNO");
        assert_eq!(runc, gvisor);
    }

    #[test]
    fn no_call_is_listed_twice_without_conditions() {
        let mut seen = std::collections::BTreeSet::new();
        for r in rules().iter().filter(|r| r.get("args").is_none()) {
            for n in r["names"].as_array().unwrap() {
                assert!(seen.insert(n.as_str().unwrap().to_owned()), "{n} twice");
            }
        }
    }
}

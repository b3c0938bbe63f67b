//! Attacks on the kernel's surface and on the sandbox's own agent, which
//! snipbox's seccomp profile answers the same on every engine (Docker
//! 20.10's default profile allows io_uring and vsock; later ones differ).
//! Each program reports the errno it met; each test fails when the profile
//! is not applied (on this engine, the default profile lets all of them
//! through but the user namespace).

use snipbox_tests::{request, shared};

/// Runs a Python program that prints one line per attempt.
async fn attempts(code: &str) -> Vec<String> {
    let r = shared().exec(&request("python", code)).await;
    assert!(r.ok, "{r:?}");
    r.stdout.lines().map(str::to_owned).collect()
}

const LIBC: &str = "import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def err(): return errno.errorcode.get(ctypes.get_errno())
";

#[tokio::test]
async fn io_uring_cannot_be_set_up() {
    // io_uring_setup(8, &params): 425 on x86_64 and aarch64 alike.
    let code = format!(
        "{LIBC}params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 8, params)
print(fd, err())"
    );
    assert_eq!(attempts(&code).await, ["-1 EPERM"]);
}

#[tokio::test]
async fn a_vsock_socket_cannot_be_made() {
    // vsock is outside every network namespace: a host with a vsock
    // transport (a VM, Firecracker, Kata) would be reachable through it.
    let code = "import socket, errno
try:
    socket.socket(40, socket.SOCK_STREAM)
    print('made')
except OSError as e:
    print(errno.errorcode[e.errno])
for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6):
    socket.socket(family, socket.SOCK_STREAM).close()
print('unix, inet and inet6 sockets work')";
    assert_eq!(
        attempts(code).await,
        ["EPERM", "unix, inet and inet6 sockets work"]
    );
}

#[tokio::test]
async fn a_user_namespace_cannot_be_made() {
    let code = format!(
        "{LIBC}print('unshare', libc.unshare(0x10000000), err())
print('threads and processes still start:', os.system('true') == 0)"
    );
    assert_eq!(
        attempts(&code).await,
        [
            "unshare -1 EPERM",
            "threads and processes still start: True"
        ]
    );
}

#[tokio::test]
async fn the_program_cannot_change_its_agents_limits_or_priority() {
    // PID 1 is the agent. Lowering its open files made the run an HTTP
    // 500; lowering its address space ended it and lost the output.
    let code = format!(
        "{LIBC}limit = (ctypes.c_ulong * 2)(3, 3)
print('prlimit agent', libc.syscall(302, 1, 7, limit, None), err())
print('prlimit self', libc.syscall(302, 0, 7, None, (ctypes.c_ulong * 2)()))
print('renice agent', libc.setpriority(0, 1, 19), err())
print('renice self', os.nice(1) >= 1)
print('sched agent', libc.sched_setscheduler(1, 5, (ctypes.c_int * 1)(0)), err())
open('left.txt', 'w').write('still returned')"
    );
    let r = shared().exec(&request("python", &code)).await;
    assert!(r.ok, "a plain run, answered: {r:?}");
    assert_eq!(
        r.stdout.lines().collect::<Vec<_>>(),
        [
            "prlimit agent -1 EPERM",
            "prlimit self 0",
            "renice agent -1 EPERM",
            "renice self True",
            "sched agent -1 EPERM"
        ],
        "{r:?}"
    );
    assert!(
        r.files.iter().any(|f| f.name == "left.txt"),
        "the agent still returns files: {r:?}"
    );
}

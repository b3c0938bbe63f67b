//! Every container runs as a UID of its own (the server's `--run-uids`),
//! so the kernel's per-user quotas are shared with no other run and no
//! host account. Each test fails when runs share a UID (as they all ran as
//! 1000 before), whatever the engine.

use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::process::Command;

use snipbox_tests::{SseReader, gvisor, request, shared};

/// The default run range's ends (the tests' servers keep it).
const FIRST: u32 = 1_900_000_000;
const LAST: u32 = 1_900_065_535;

/// Takes every inotify instance and all the message-queue bytes its user
/// may have, says so, and holds them until the run is ended. One process
/// may hold only `nofile` descriptors, so children hoard too.
const HOARD: &str = r#"import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
def err(): return errno.errorcode.get(ctypes.get_errno())
class Attr(ctypes.Structure):
    _fields_ = [('flags', ctypes.c_long), ('maxmsg', ctypes.c_long), ('msgsize', ctypes.c_long), ('cur', ctypes.c_long), ('pad', ctypes.c_long * 4)]
limit = int(open('/proc/sys/fs/inotify/max_user_instances').read())
held = 0
while held < limit:
    r, w = os.pipe()
    if os.fork() == 0:
        n = 0
        while n < 40 and libc.inotify_init() >= 0:
            n += 1
        os.write(w, bytes([n]))
        time.sleep(600)
    n = os.read(r, 1)[0]
    os.close(r); os.close(w)
    held += n
    if n < 40:
        break
queues = 0
while libc.mq_open(b'/q%d' % queues, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(Attr(0, 10, 8192, 0))) >= 0:
    queues += 1
mq = err()
print('uid', os.getuid(), os.getgid(), flush=True)
print('inotify held', held, 'of', limit, 'then', libc.inotify_init() >= 0 or err(), flush=True)
print('queues', queues, 'then', mq, flush=True)
print('holding', flush=True)
time.sleep(600)
"#;

/// Takes one inotify instance and one message queue.
const ONE_MORE: &str = r#"import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def err(): return errno.errorcode.get(ctypes.get_errno())
class Attr(ctypes.Structure):
    _fields_ = [('flags', ctypes.c_long), ('maxmsg', ctypes.c_long), ('msgsize', ctypes.c_long), ('cur', ctypes.c_long), ('pad', ctypes.c_long * 4)]
print('uid', os.getuid(), os.getgid())
print('inotify', libc.inotify_init() >= 0 or err())
print('mqueue', libc.mq_open(b'/q', os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(Attr(0, 10, 8192, 0))) >= 0 or err())
"#;

/// The UID a program's `uid U G` line names, checked to be one number of
/// the run range as both UID and GID.
fn run_uid(out: &str) -> u32 {
    let line = out.lines().find(|l| l.starts_with("uid ")).unwrap_or("");
    let ids: Vec<u32> = line
        .split(' ')
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        ids.len() == 2 && ids[0] == ids[1] && (FIRST..=LAST).contains(&ids[0]),
        "not a UID of the run range as UID and GID: {out:?}"
    );
    ids[0]
}

/// Whether a process of the host's UID (and GID) 1000 can take an inotify
/// instance now: a child that changes to that user and tries, before it
/// runs `true`. `None` when this test cannot act as that user.
fn host_user_1000_gets_an_inotify_instance() -> Option<Result<(), String>> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let mut cmd = Command::new("true");
    // SAFETY: between fork and exec the child calls only setgroups,
    // setgid, setuid and inotify_init1, all async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let ok = libc::setgroups(0, std::ptr::null()) == 0
                && libc::setgid(1000) == 0
                && libc::setuid(1000) == 0
                && libc::inotify_init1(libc::IN_CLOEXEC) >= 0;
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    Some(cmd.status().map(|_| ()).map_err(|e| e.to_string()))
}

#[tokio::test]
async fn a_run_that_takes_its_users_whole_quota_leaves_other_runs_and_the_host_user_theirs() {
    if gvisor() {
        // Each gVisor sandbox has a kernel of its own, with its own
        // per-user counters (and no /proc/sys/fs/inotify): nothing to share.
        eprintln!("under gVisor no kernel quota is shared; the UIDs are checked elsewhere");
        return;
    }
    let server = shared();
    let mut hoard = SseReader::new(server.post_stream(&request("python", HOARD)).await);
    let mut out = String::new();
    while !out.contains("holding") {
        let e = hoard.next().await.expect("the hoarding run's events");
        assert_ne!(
            e.event, "end",
            "the hoarding run ended first: {out}{}",
            e.data
        );
        if e.event == "stdout" {
            out += e.json()["text"].as_str().unwrap();
        }
    }
    // The hoard is real: its user has no instance and no queue bytes left.
    assert!(out.contains("then EMFILE\nqueues"), "{out}");
    let queues: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("queues "))
        .and_then(|l| l.split(' ').next()?.parse().ok())
        .unwrap();
    assert!(
        (1..40).contains(&queues) && out.ends_with("then EMFILE\nholding\n"),
        "the queues stopped at the byte quota, not at open files: {out}"
    );

    let other = server.exec(&request("python", ONE_MORE)).await;
    assert!(other.ok, "{other:?}");
    assert!(
        other.stdout.ends_with("inotify True\nmqueue True\n"),
        "a run beside the hoard got no inotify instance or queue: {other:?}"
    );
    match host_user_1000_gets_an_inotify_instance() {
        Some(got) => assert_eq!(got, Ok(()), "the host's UID 1000 beside the hoard"),
        None => eprintln!("not root: the host's UID 1000 was not tried"),
    }
    assert_ne!(
        run_uid(&other.stdout),
        run_uid(&out),
        "two runs at once share a UID"
    );
    drop(hoard);
}

#[tokio::test]
async fn runs_get_uids_of_the_range_each_its_own_and_a_name() {
    let code = "import os, pwd, grp\nprint('uid', os.getuid(), os.getgid())\nprint(pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name, pwd.getpwuid(os.getuid()).pw_dir)\n";
    let req = request("python", code);
    let runs = futures_util::future::join_all((0..4).map(|_| shared().exec(&req))).await;
    let mut uids = HashSet::new();
    for r in &runs {
        assert!(r.ok, "{r:?}");
        uids.insert(run_uid(&r.stdout));
        assert!(
            r.stdout.ends_with("sandbox sandbox /sandbox\n"),
            "the run's user has a name: {r:?}"
        );
    }
    assert_eq!(uids.len(), runs.len(), "each run its own UID: {runs:?}");
}

#[tokio::test]
async fn the_database_servers_start_and_log_in_as_the_runs_own_user() {
    // PostgreSQL's server will not start as a UID without a name, MariaDB
    // logs `sandbox` in by the name of the socket's peer.
    for (sandbox, code) in [
        ("postgres", "select current_user, 6 * 7 as answer;"),
        ("mysql", "select current_user() as who, 6 * 7 as answer;"),
    ] {
        let r = shared().exec(&request(sandbox, code)).await;
        assert!(r.ok && r.stdout.contains("42"), "{sandbox}: {r:?}");
        assert!(r.stdout.contains("sandbox"), "{sandbox}: {r:?}");
    }
}

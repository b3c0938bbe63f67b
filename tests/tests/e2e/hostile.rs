//! Programs that attack the sandbox, named after the attack.

use std::time::Duration;

use snipbox_tests::{request, run_container_gone, shared};

#[tokio::test]
async fn infinite_loop_times_out() {
    shared().wait_warm("python").await;
    let r = shared().exec(&request("python", "while True: pass")).await;
    let limit = snipbox_tests::limit("python", "timeout_ms") as u64;
    let took = Duration::from_millis(r.duration);
    assert!(
        took < Duration::from_millis(limit + 1000),
        "ended after {took:?}"
    );
    assert!(took >= Duration::from_millis(limit), "ended after {took:?}");
    assert!(r.timed_out && !r.ok, "{r:?}");
    assert!(
        r.stderr.ends_with("code execution timeout"),
        "{:?}",
        r.stderr
    );
    assert!(run_container_gone(&r.id));
}

#[tokio::test]
async fn output_flood_is_truncated_and_server_memory_stays_flat() {
    let server = shared();
    let flood = request(
        "python",
        "import sys\nwhile True: sys.stdout.write('x' * 65536)",
    );
    // Warm up allocator arenas before measuring.
    let first = server.exec(&flood).await;
    let before = server.rss_kib();
    for _ in 0..5 {
        let r = server.exec(&flood).await;
        assert!(r.truncated && !r.ok, "{r:?}");
        assert!(
            r.stdout.ends_with("[output truncated at 65536 bytes]\n"),
            "{:?}",
            &r.stdout[r.stdout.len() - 60..]
        );
        assert_eq!(
            r.stdout.len(),
            65536 + "\n[output truncated at 65536 bytes]\n".len()
        );
        assert!(
            !r.timed_out,
            "a flood is cut when it reaches the cap, not at the timeout"
        );
    }
    let after = server.rss_kib();
    assert!(
        after < before + 20 * 1024,
        "server RSS grew from {before} KiB to {after} KiB"
    );
    assert!(run_container_gone(&first.id));
}

#[tokio::test]
async fn stderr_flood_is_truncated() {
    let r = shared().exec(&request("shell", "yes error >&2")).await;
    assert!(r.truncated && !r.ok, "{r:?}");
    assert!(r.stderr.ends_with("[output truncated at 65536 bytes]\n"));
}

#[tokio::test]
async fn memory_bomb_is_contained() {
    let r = shared()
        .exec(&request(
            "python",
            "a = []\nwhile True: a.append(' ' * 10**7)",
        ))
        .await;
    assert!(!r.ok && !r.timed_out, "{r:?}");
    if snipbox_tests::gvisor() && r.reason.as_deref() == Some("sandbox_ended") {
        // Under gVisor the host's OOM killer ends the sandbox's kernel, and
        // the engine does not always record it: the words say both.
        assert!(r.reason_text.unwrap().contains("memory"));
    } else {
        // Killed by the kernel's OOM killer (SIGKILL), or MemoryError.
        assert!(matches!(r.exit_code, Some(137) | Some(1)), "{r:?}");
    }
    assert!(run_container_gone(&r.id));
    assert!(
        shared().exec(&request("python", "print(1)")).await.ok,
        "the server still runs code"
    );
}

#[tokio::test]
async fn fork_bomb_is_contained() {
    let bomb =
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    let r = shared().exec(&request("python", bomb)).await;
    let limit = snipbox_tests::limit("python", "timeout_ms") as u64;
    assert!(r.duration < limit + 1000, "took {} ms: {r:?}", r.duration);
    if snipbox_tests::gvisor() {
        // Under gVisor the sandbox's kernel needs host threads of its own:
        // at the pids limit it ends, and the answer says the sandbox ended.
        assert!(!r.ok && r.reason.is_some(), "{r:?}");
    } else {
        assert!(r.timed_out && !r.ok, "{r:?}");
    }
    assert!(run_container_gone(&r.id));
    assert!(
        shared().exec(&request("shell", "echo alive")).await.ok,
        "the server still runs code"
    );
}

#[tokio::test]
async fn no_network_interface_but_loopback() {
    // Asked of the kernel (gVisor has no /sys/class/net).
    let r = shared()
        .exec(&request(
            "python",
            "import socket\nprint(sorted(name for _, name in socket.if_nameindex()))",
        ))
        .await;
    assert_eq!(r.stdout, "['lo']\n", "{r:?}");
}

#[tokio::test]
async fn root_filesystem_is_read_only() {
    // /var/tmp is writable by anyone (mode 1777) on the image's own
    // filesystem: only a read-only root refuses it.
    let r = shared()
        .exec(&request(
            "shell",
            "stat -c %a /var/tmp; touch /var/tmp/pwned; echo $?; touch ./scratch && echo scratch ok",
        ))
        .await;
    assert!(r.stderr.contains("Read-only file system"), "{r:?}");
    assert_eq!(r.stdout, "1777\n1\nscratch ok\n");
}

#[tokio::test]
async fn program_does_not_run_as_root() {
    // PR_GET_NO_NEW_PRIVS (39) asked of the kernel, as gVisor does not
    // show the flag in /proc.
    let r = shared()
        .exec(&request(
            "python",
            "import ctypes, os\nprint(os.getuid(), os.geteuid())\nprint(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\nprint(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))",
        ))
        .await;
    let (uid, rest) = r.stdout.split_once(' ').expect("two UIDs");
    let uid: u32 = uid.parse().expect("a UID");
    assert!((1_900_000_000..=1_900_065_535).contains(&uid), "{r:?}");
    assert_eq!(rest, format!("{uid}\n0000000000000000\n1\n"), "{r:?}");
}

#[tokio::test]
async fn background_process_dies_with_the_run() {
    let r = shared()
        .exec(&request(
            "shell",
            "(sleep 60; echo leaked) & disown; nohup sleep 60 >/dev/null 2>&1 & echo started",
        ))
        .await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "started\n");
    assert!(run_container_gone(&r.id));
}

#[tokio::test]
async fn path_traversal_file_names_are_rejected() {
    for name in [
        "../escape.py",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        "nul\0byte",
    ] {
        let mut req = request("python", "print(1)");
        req.files.insert(name.into(), "x".into());
        let resp = snipbox_tests::shared().post_exec(&req).await;
        assert_eq!(resp.status(), 400, "{name:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_files", "{name:?}: {body}");
        assert!(
            body["stderr"]
                .as_str()
                .unwrap()
                .contains("invalid file name"),
            "{body}"
        );
    }
}

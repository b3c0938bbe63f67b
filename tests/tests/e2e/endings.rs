//! Every ending explained: a program stopped by a limit is told which one,
//! in words and by a machine-readable reason, from the container's own
//! accounting; codapi's fields stay as codapi fills them.

use snipbox_tests::{gvisor, limit, request, shared};

#[tokio::test]
async fn a_memory_bomb_is_told_it_went_over_the_memory_limit() {
    let r = shared()
        .exec(&request(
            "python",
            "x = 'a' * (2048 * 1024 * 1024)\nprint(len(x))",
        ))
        .await;
    assert!(!r.ok);
    let mb = limit("python", "memory_mb");
    if gvisor() && r.reason.as_deref() == Some("sandbox_ended") {
        // Under gVisor the host's OOM killer ends the sandbox's kernel,
        // and the engine does not always record it (docs/isolation.md):
        // then the words name the memory limit as one of two causes.
        let words = r.reason_text.unwrap();
        assert!(words.contains(&format!("{mb} MB of memory")), "{words}");
        return;
    }
    assert_eq!(r.reason.as_deref(), Some("memory"), "{r:?}");
    let words = r.reason_text.unwrap();
    assert!(words.contains(&format!("{mb} MB")), "{words}");
    assert_eq!(r.exit_code, Some(137));
    assert!(r.stderr.ends_with("(exit status 137)"), "{:?}", r.stderr);
}

#[tokio::test]
async fn an_endless_loop_is_told_its_time_ran_out() {
    let r = shared().exec(&request("python", "while True: pass")).await;
    assert!(r.timed_out && !r.ok);
    assert_eq!(r.reason.as_deref(), Some("timeout"));
    let secs = limit("python", "timeout_ms") / 1000;
    let words = r.reason_text.unwrap();
    assert!(words.contains(&format!("{secs} s")), "{words}");
    assert!(r.stderr.ends_with("code execution timeout"));
}

#[tokio::test]
async fn a_flood_is_told_its_output_was_cut() {
    let r = shared()
        .exec(&request("python", "while True: print('x' * 1000)"))
        .await;
    assert!(r.truncated && !r.ok);
    assert_eq!(r.reason.as_deref(), Some("output"));
    assert!(r.reason_text.unwrap().starts_with("output cut"));
}

#[tokio::test]
async fn a_segfault_is_named() {
    let r = shared()
        .exec(&request(
            "c",
            "#include <stdio.h>\nint main(void) { puts(\"before\"); fflush(stdout); volatile int *p = 0; return *p; }",
        ))
        .await;
    assert_eq!(r.stdout, "before\n");
    assert_eq!(r.reason.as_deref(), Some("signal"), "{r:?}");
    assert_eq!(r.signal.as_deref(), Some("SIGSEGV"));
    assert_eq!(
        r.reason_text.as_deref(),
        Some("killed by SIGSEGV (segmentation fault)")
    );
    assert_eq!(r.exit_code, Some(139));
}

#[tokio::test]
async fn too_many_threads_are_told_the_process_limit() {
    let threads = |n: usize| {
        format!(
            "import threading, time\nts = [threading.Thread(target=time.sleep, args=(2,)) for _ in range({n})]\nfor t in ts: t.start()"
        )
    };
    if gvisor() {
        // gVisor 2024-07: a sandbox's threads are tasks of its own kernel,
        // not host tasks, and its pids limit does not count them; the
        // memory limit still bounds them. Twice the limit shows it: 500
        // threads came close to the 128 MB that gVisor's own kernel shares
        // with the program, and were once ended for memory on a loaded
        // machine.
        let pids = limit("python", "pids") as usize;
        let r = shared().exec(&request("python", &threads(2 * pids))).await;
        assert!(r.ok, "{r:?}");
        return;
    }
    let r = shared().exec(&request("python", &threads(500))).await;
    assert!(!r.ok);
    assert!(
        r.stderr.contains("can't start new thread"),
        "{:?}",
        r.stderr
    );
    assert_eq!(r.reason.as_deref(), Some("pids"), "{r:?}");
    let pids = limit("python", "pids");
    let words = r.reason_text.unwrap();
    assert!(words.contains(&format!("limit of {pids}")), "{words}");
}

#[tokio::test]
async fn a_plain_failure_has_no_reason_to_explain() {
    let r = shared()
        .exec(&request("python", "raise SystemExit(4)"))
        .await;
    assert_eq!(r.exit_code, Some(4));
    assert_eq!((r.reason, r.reason_text, r.signal), (None, None, None));
}

#[tokio::test]
async fn a_program_cannot_end_its_supervisor() {
    // SIGTERM to PID 1 from inside is ignored; SIGKILL and SIGSTOP cannot
    // reach a pid namespace's init from inside at all.
    let r = shared()
        .exec(&request(
            "shell",
            "kill -TERM 1; kill -KILL 1; kill -STOP 1; sleep 0.2; echo alive",
        ))
        .await;
    if gvisor() {
        // gVisor 2024-07 lets SIGKILL reach the sandbox's init: the
        // program ends its own sandbox, and is told so (never a 503,
        // never a second run).
        assert_eq!(r.reason.as_deref(), Some("sandbox_ended"), "{r:?}");
        assert!(!r.ok);
        return;
    }
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "alive\n");
    assert_eq!(r.reason, None);
}

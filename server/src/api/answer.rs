//! The shape of a run's answer, the same for the plain and the streamed
//! form: codapi's fields exactly as codapi fills them, and snipbox's
//! extensions (`exit_code`, `reason` and its words, `signal`, `files`).

use base64::Engine as _;
use snipbox_wire::agent::ReturnedFile;
use snipbox_wire::api::{ExecResponse, OutputFile};

use crate::exec::{Ending, Finished};
use crate::sandbox::Limits;

/// Shapes a run as the API's answer, codapi-compatible: `(exit status N)`
/// or `code execution timeout` closes stderr, a marker line ends
/// truncated output. Output that is not UTF-8 is converted lossily (invalid
/// bytes become U+FFFD).
pub fn answer(finished: Finished) -> ExecResponse {
    let Finished {
        id,
        outcome: out,
        ending,
        limits,
    } = finished;
    let limit = limits.output_bytes as usize;
    let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if ending == Ending::Output {
        let marker = format!("[output truncated at {limit} bytes]\n");
        let stderr_full = out.stderr.len() >= limit;
        if out.stdout.len() >= limit || !stderr_full {
            push_line(&mut stdout, &marker);
        }
        if stderr_full {
            push_line(&mut stderr, &marker);
        }
    }
    let exit_code = out.exit.as_ref().map(|e| e.exit_code);
    match (ending, exit_code) {
        (Ending::Timeout | Ending::CpuTime | Ending::InteractiveTimeout, _) => {
            push_line(&mut stderr, "code execution timeout")
        }
        (Ending::Output, _) => {}
        (Ending::SandboxEnded, _) => push_line(&mut stderr, "the program ended its sandbox"),
        (_, Some(code)) if code != 0 => push_line(&mut stderr, &format!("(exit status {code})")),
        _ => {}
    }
    let signal = out
        .exit
        .as_ref()
        .and_then(|e| e.signal)
        .map(|n| signal_name(n).0.to_string());
    ExecResponse {
        id,
        ok: ending == Ending::Exit(0),
        duration: out.duration.as_millis() as u64,
        stdout,
        stderr,
        exit_code,
        timed_out: matches!(
            ending,
            Ending::Timeout | Ending::CpuTime | Ending::InteractiveTimeout
        ),
        truncated: ending == Ending::Output,
        error: None,
        reason: reason(ending).map(str::to_string),
        reason_text: words(ending, &limits),
        signal,
        files: out.files.into_iter().map(file).collect(),
        files_omitted: out.exit.map_or(0, |e| e.files_omitted),
    }
}

/// The machine-readable reason, when the run did not end in a plain exit.
fn reason(ending: Ending) -> Option<&'static str> {
    Some(match ending {
        Ending::Exit(_) => return None,
        Ending::Timeout | Ending::CpuTime => "timeout",
        Ending::InteractiveTimeout => "interactive_timeout",
        Ending::Output => "output",
        Ending::Memory => "memory",
        Ending::Pids => "pids",
        Ending::Signal(_) => "signal",
        Ending::SandboxEnded => "sandbox_ended",
    })
}

/// The reason in words, with the limit that was reached.
fn words(ending: Ending, limits: &Limits) -> Option<String> {
    Some(match ending {
        Ending::Exit(_) => return None,
        Ending::Timeout => format!(
            "timed out: the program ran past the sandbox's {} limit",
            seconds(limits.timeout_ms)
        ),
        Ending::CpuTime => format!(
            "timed out: the program used the sandbox's {} of CPU time",
            seconds(limits.timeout_ms)
        ),
        Ending::InteractiveTimeout => format!(
            "timed out: the interactive run went past the sandbox's {} limit (it may have \
             been waiting for input)",
            seconds(limits.interactive_timeout_ms)
        ),
        Ending::Output => format!(
            "output cut: the program wrote more than the sandbox's {} per stream",
            bytes(limits.output_bytes)
        ),
        Ending::Memory => format!(
            "out of memory: the program needed more than the sandbox's {} MB and was killed",
            limits.memory_mb
        ),
        Ending::Pids => format!(
            "too many processes: the program hit the sandbox's limit of {} processes and threads",
            limits.pids
        ),
        Ending::Signal(n) => {
            let (name, what) = signal_name(n);
            format!("killed by {name} ({what})")
        }
        Ending::SandboxEnded if limits.runtime.as_deref() == Some("runsc") => format!(
            "the sandbox ended before the program did: under gVisor this is the program going \
             over the sandbox's {} MB of memory, or stopping the process that runs it",
            limits.memory_mb
        ),
        Ending::SandboxEnded => {
            "the program ended its sandbox: it stopped the process that runs it".to_string()
        }
    })
}

fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MB", n >> 20),
        n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => format!("{} KB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// A Linux signal's name and what it means.
fn signal_name(n: i32) -> (&'static str, &'static str) {
    const SIGNALS: [(&str, &str); 31] = [
        ("SIGHUP", "hangup"),
        ("SIGINT", "interrupt"),
        ("SIGQUIT", "quit"),
        ("SIGILL", "illegal instruction"),
        ("SIGTRAP", "trace or breakpoint trap"),
        ("SIGABRT", "aborted"),
        ("SIGBUS", "bus error"),
        ("SIGFPE", "arithmetic error"),
        ("SIGKILL", "killed"),
        ("SIGUSR1", "user signal 1"),
        ("SIGSEGV", "segmentation fault"),
        ("SIGUSR2", "user signal 2"),
        ("SIGPIPE", "broken pipe"),
        ("SIGALRM", "alarm clock"),
        ("SIGTERM", "terminated"),
        ("SIGSTKFLT", "stack fault"),
        ("SIGCHLD", "child status changed"),
        ("SIGCONT", "continued"),
        ("SIGSTOP", "stopped"),
        ("SIGTSTP", "stopped at the terminal"),
        ("SIGTTIN", "stopped for terminal input"),
        ("SIGTTOU", "stopped for terminal output"),
        ("SIGURG", "urgent I/O condition"),
        ("SIGXCPU", "CPU time limit exceeded"),
        ("SIGXFSZ", "file size limit exceeded"),
        ("SIGVTALRM", "virtual timer expired"),
        ("SIGPROF", "profiling timer expired"),
        ("SIGWINCH", "window changed"),
        ("SIGIO", "I/O possible"),
        ("SIGPWR", "power failure"),
        ("SIGSYS", "bad system call"),
    ];
    usize::try_from(n - 1)
        .ok()
        .and_then(|i| SIGNALS.get(i).copied())
        .unwrap_or(("a signal", "unknown"))
}

/// A returned file as the answer lists it, its media type from its name.
fn file(f: ReturnedFile) -> OutputFile {
    let media_type = mime_guess::from_path(&f.name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string();
    OutputFile {
        data: (!f.omitted).then(|| base64::engine::general_purpose::STANDARD.encode(&f.data)),
        name: f.name,
        media_type,
        size: f.size,
        omitted: f.omitted,
    }
}

/// Appends `line` on a line of its own.
fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;
    use snipbox_wire::agent::Exit;

    fn limits() -> Limits {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let mut limits = crate::sandbox::Catalog::load(&[&dir])
            .unwrap()
            .get("python")
            .unwrap()
            .limits
            .clone();
        limits.output_bytes = 4;
        limits.memory_mb = 128;
        limits.timeout_ms = 5000;
        limits
    }

    fn finished(stdout: &[u8], stderr: &[u8], exit: Option<Exit>, ending: Ending) -> Finished {
        Finished {
            id: "i".into(),
            outcome: Outcome {
                stdout: stdout.to_vec(),
                stderr: stderr.to_vec(),
                exit,
                ..Outcome::default()
            },
            ending,
            limits: limits(),
        }
    }

    fn exit(exit_code: i32) -> Option<Exit> {
        Some(Exit {
            exit_code,
            ..Exit::default()
        })
    }

    #[test]
    fn a_clean_exit_is_ok_and_untouched() {
        let r = answer(finished(b"1\n", b"", exit(0), Ending::Exit(0)));
        assert!(r.ok);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.exit_code),
            ("1\n", "", Some(0))
        );
        assert_eq!((r.reason, r.reason_text, r.signal), (None, None, None));
    }

    #[test]
    fn a_failing_exit_closes_stderr_with_its_status() {
        let r = answer(finished(b"", b"boom", exit(3), Ending::Exit(3)));
        assert!(!r.ok);
        assert_eq!(r.stderr, "boom\n(exit status 3)");
        assert_eq!(r.reason, None, "a plain exit needs no reason");
    }

    #[test]
    fn a_timeout_says_so_in_stderr_and_in_words() {
        let r = answer(finished(b"", b"", None, Ending::Timeout));
        assert!(!r.ok && r.timed_out);
        assert_eq!(r.stderr, "code execution timeout");
        assert_eq!(r.reason.as_deref(), Some("timeout"));
        assert!(r.reason_text.unwrap().contains("5 s"));
    }

    #[test]
    fn truncated_output_ends_with_a_marker() {
        let r = answer(finished(b"xxxx", b"e", exit(137), Ending::Output));
        assert!(!r.ok && r.truncated);
        assert_eq!(r.stdout, "xxxx\n[output truncated at 4 bytes]\n");
        assert_eq!(r.stderr, "e");
        assert_eq!(r.reason.as_deref(), Some("output"));
    }

    #[test]
    fn a_memory_kill_names_the_limit_and_keeps_codapis_status_line() {
        let mut e = exit(137);
        e.as_mut().unwrap().signal = Some(9);
        let r = answer(finished(b"", b"", e, Ending::Memory));
        assert_eq!(r.stderr, "(exit status 137)");
        assert_eq!(r.reason.as_deref(), Some("memory"));
        assert!(r.reason_text.unwrap().contains("128 MB"));
        assert_eq!(r.signal.as_deref(), Some("SIGKILL"));
    }

    #[test]
    fn a_signal_is_named_and_explained() {
        let mut e = exit(139);
        e.as_mut().unwrap().signal = Some(11);
        let r = answer(finished(b"", b"", e, Ending::Signal(11)));
        assert_eq!(r.signal.as_deref(), Some("SIGSEGV"));
        assert_eq!(
            r.reason_text.as_deref(),
            Some("killed by SIGSEGV (segmentation fault)")
        );
        assert_eq!(signal_name(0), ("a signal", "unknown"));
        assert_eq!(signal_name(64), ("a signal", "unknown"));
    }

    #[test]
    fn files_carry_their_type_and_base64_data_or_are_marked_omitted() {
        let mut f = finished(b"", b"", exit(0), Ending::Exit(0));
        f.outcome.files = vec![
            ReturnedFile {
                name: "plot.png".into(),
                size: 3,
                omitted: false,
                data: vec![1, 2, 3],
            },
            ReturnedFile {
                name: "big.csv".into(),
                size: 9_999_999,
                omitted: true,
                data: vec![],
            },
        ];
        let r = answer(f);
        assert_eq!(r.files[0].media_type, "image/png");
        assert_eq!(r.files[0].data.as_deref(), Some("AQID"));
        assert_eq!(r.files[1].media_type, "text/csv");
        assert_eq!(
            (r.files[1].data.as_deref(), r.files[1].omitted),
            (None, true)
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let r = answer(finished(&[b'a', 0xff, b'b'], b"", exit(0), Ending::Exit(0)));
        assert_eq!(r.stdout, "a\u{fffd}b");
    }
}

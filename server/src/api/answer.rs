//! The shape of a run's answer, the same for the plain and the streamed
//! form.

use snipbox_wire::api::ExecResponse;

use crate::exec::{Ending, Finished};

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
    match ending {
        Ending::Timeout => push_line(&mut stderr, "code execution timeout"),
        Ending::Exit(code) if code != 0 => push_line(&mut stderr, &format!("(exit status {code})")),
        Ending::SandboxEnded => push_line(&mut stderr, "the program ended its sandbox"),
        _ => {}
    }
    ExecResponse {
        id,
        ok: ending == Ending::Exit(0),
        duration: out.duration.as_millis() as u64,
        stdout,
        stderr,
        exit_code: out.exit.as_ref().map(|e| e.exit_code),
        timed_out: ending == Ending::Timeout,
        truncated: ending == Ending::Output,
        error: None,
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

    fn finished(stdout: &[u8], stderr: &[u8], code: Option<i32>, ending: Ending) -> Finished {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let mut limits = crate::sandbox::Catalog::load(&dir)
            .unwrap()
            .get("python")
            .unwrap()
            .limits
            .clone();
        limits.output_bytes = 4;
        Finished {
            id: "i".into(),
            outcome: Outcome {
                stdout: stdout.to_vec(),
                stderr: stderr.to_vec(),
                exit: code.map(|exit_code| Exit {
                    exit_code,
                    ..Exit::default()
                }),
                ..Outcome::default()
            },
            ending,
            limits,
        }
    }

    #[test]
    fn a_clean_exit_is_ok_and_untouched() {
        let r = answer(finished(b"1\n", b"", Some(0), Ending::Exit(0)));
        assert!(r.ok);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.exit_code),
            ("1\n", "", Some(0))
        );
    }

    #[test]
    fn a_failing_exit_closes_stderr_with_its_status() {
        let r = answer(finished(b"", b"boom", Some(3), Ending::Exit(3)));
        assert!(!r.ok);
        assert_eq!(r.stderr, "boom\n(exit status 3)");
    }

    #[test]
    fn a_timeout_says_so_in_stderr() {
        let r = answer(finished(b"", b"", None, Ending::Timeout));
        assert!(!r.ok && r.timed_out);
        assert_eq!(r.stderr, "code execution timeout");
    }

    #[test]
    fn truncated_output_ends_with_a_marker() {
        let r = answer(finished(b"xxxx", b"e", Some(137), Ending::Output));
        assert!(!r.ok && r.truncated);
        assert_eq!(r.stdout, "xxxx\n[output truncated at 4 bytes]\n");
        assert_eq!(r.stderr, "e");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let r = answer(finished(&[b'a', 0xff, b'b'], b"", Some(0), Ending::Exit(0)));
        assert_eq!(r.stdout, "a\u{fffd}b");
    }
}

//! Returned files: what the run made, and nothing the program can use to
//! read what it should not, to block the agent, or to deceive the reader.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use snipbox_wire::agent::{Boot, Frame, Job, OutputCaps};

use crate::common::{AGENT, Agent, Outcome, encode, job, run, sh, workdir};

fn returning(dir: &std::path::Path, script: &str, outputs: &[&str]) -> Job {
    let mut job = job(dir, vec![sh(script)]);
    job.outputs = outputs.iter().map(|g| g.to_string()).collect();
    job
}

fn names(out: &Outcome) -> Vec<&str> {
    out.files.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn created_and_changed_files_are_returned_but_unchanged_inputs_are_not() {
    let dir = workdir();
    let script = "echo more >> edit.txt; printf 'same' > rewritten.txt; echo made > new.txt; \
                  mkdir -p out/deep; printf '\\211PNG' > out/deep/chart.png; \
                  echo no > skip.log; echo hidden > .hidden.txt";
    let job = returning(dir.path(), script, &["*.txt", "out/**/*.png"]);
    let files: &[(&str, &[u8])] = &[
        ("keep.txt", b"input"),
        ("edit.txt", b"input\n"),
        ("rewritten.txt", b"same"),
    ];
    let out = run(None, &job, files, b"");
    assert_eq!(out.exit.error, None);
    assert_eq!(names(&out), ["edit.txt", "new.txt", "out/deep/chart.png"]);
    assert_eq!(out.files[0].data, b"input\nmore\n");
    assert_eq!(out.files[1].data, b"made\n");
    assert_eq!(out.files[2].data, b"\x89PNG");
    assert_eq!(out.exit.files_omitted, 0);
}

#[test]
fn links_to_etc_passwd_the_agent_and_outside_the_work_dir_are_never_followed() {
    let dir = workdir();
    let outside = workdir();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "outside\n").unwrap();
    let script = format!(
        "set -e; ln -s /etc/passwd passwd.txt; ln -s {AGENT} agent.txt; ln -s {secret} secret.txt; \
         ln -s ../{name}/secret.txt relative.txt; ln -s /etc etc; ln -s / root; \
         mkdir sub; ln -s {outside} sub/dir; echo made",
        secret = secret.display(),
        outside = outside.path().display(),
        name = outside.path().file_name().unwrap().to_str().unwrap(),
    );
    let globs = [
        "*.txt",
        "etc/passwd",
        "etc/*",
        "root/etc/passwd",
        "sub/dir/*",
        "**/*",
    ];
    let out = run(None, &returning(dir.path(), &script, &globs), &[], b"");
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("made\n", ""));
    assert_eq!(names(&out), Vec::<&str>::new());
    assert_eq!(out.exit.files_omitted, 0);
}

#[test]
fn a_fifo_never_blocks_the_agent() {
    let dir = workdir();
    let started = Instant::now();
    let out = run(
        None,
        &returning(dir.path(), "mkfifo pipe.txt", &["*.txt"]),
        &[],
        b"",
    );
    assert_eq!((out.exit.exit_code, names(&out)), (0, vec![]));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_device_node_is_never_opened() {
    // Root on this host may make them (a sandbox's user may not): an
    // endless /dev/zero and a terminal, both under an output name.
    let dir = workdir();
    let script = "mknod zero.txt c 1 5 && mknod tty.txt c 5 0 && head -c 3 zero.txt | wc -c";
    let out = run(None, &returning(dir.path(), script, &["*.txt"]), &[], b"");
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(out.stdout, "3\n", "the nodes work: {}", out.stderr);
    }
    assert_eq!(names(&out), Vec::<&str>::new());
    assert_eq!(out.exit.files_omitted, 0);
}

#[test]
fn a_growing_file_is_read_at_most_one_byte_past_its_cap() {
    let dir = workdir();
    let mut job = returning(dir.path(), "echo go; sleep 0.3", &["*.bin"]);
    job.output_caps.max_file_bytes = 100_000;
    let mut agent = Agent::host(None);
    agent.expect_ready();
    agent.send(&encode(&job, &[], b""));
    assert_eq!(agent.next().1, Frame::Started, "the job is acknowledged");
    assert_eq!(agent.next().1, Frame::Stdout(b"go\n".to_vec()));
    // Something the run left behind keeps writing while the agent reads.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), dir.path().join("grow.bin"));
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(path).unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..2048 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                f.write_all(&chunk).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let out = agent.outcome(job.output_caps);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(names(&out), ["grow.bin"]);
    let grow = &out.files[0];
    assert!(
        grow.omitted && grow.data.is_empty(),
        "{:?}",
        (grow.size, grow.omitted)
    );
    assert!(grow.size > 100_000);
}

#[test]
fn ten_thousand_tiny_files_are_counted_not_listed() {
    let dir = workdir();
    let script = "seq -f 'f%05g.txt' 10000 | xargs touch; echo made";
    let mut job = returning(dir.path(), script, &["*.txt"]);
    job.output_caps.max_files = 5;
    let out = run(None, &job, &[], b"");
    assert!(!out.exit.timed_out, "the files were made in time");
    let expected: Vec<String> = (1..=5).map(|i| format!("f{i:05}.txt")).collect();
    assert_eq!(names(&out), expected);
    assert_eq!(out.exit.files_omitted, 9995);
    let made = out
        .frames
        .iter()
        .find(|(_, f)| matches!(f, Frame::Stdout(_)))
        .unwrap()
        .0;
    let done = out.frames.last().unwrap().0;
    let collecting = done.duration_since(made).unwrap();
    eprintln!("from the step's last line to the exit frame: {collecting:?}");
    assert!(collecting < Duration::from_secs(2), "{collecting:?}");
}

#[test]
fn names_that_deceive_or_cannot_be_shown_are_counted_not_listed() {
    let dir = workdir();
    // Right-to-left override (shows as "reportxt.png"), a zero-width space,
    // a newline, a backslash, a control character, bytes that are not UTF-8.
    let script = r#"for n in 'report\342\200\256gnp.txt' 'a\342\200\213b.txt' 'line\nbreak.txt' \
                   'back\\slash.txt' 'ctl\001.txt' 'bad\377.txt' 'ok.txt'; do
                       echo x > "$(printf "$n")"; done; ls -b | wc -l"#;
    let out = run(None, &returning(dir.path(), script, &["*.txt"]), &[], b"");
    assert_eq!(out.stdout.trim(), "7", "every file was made");
    assert_eq!(names(&out), ["ok.txt"]);
    assert_eq!(out.exit.files_omitted, 6);
}

#[test]
fn files_over_a_cap_are_listed_with_their_size_and_no_data() {
    let dir = workdir();
    let script = "printf 12345678 > a.txt; printf 12345678901 > b.txt; \
                  printf 12345678 > c.txt; printf 1234567 > d.txt";
    let mut job = returning(dir.path(), script, &["*.txt"]);
    job.output_caps = OutputCaps {
        max_files: 10,
        max_file_bytes: 10,
        max_total_bytes: 15,
    };
    let out = run(None, &job, &[], b"");
    let got: Vec<_> = out
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.size, f.omitted, f.data.len()))
        .collect();
    // b is over the per-file cap; c over what is left of the total (7).
    let expected = [
        ("a.txt", 8, false, 8),
        ("b.txt", 11, true, 0),
        ("c.txt", 8, true, 0),
        ("d.txt", 7, false, 7),
    ];
    assert_eq!(got, expected);
}

#[test]
fn files_are_returned_after_a_failure_and_after_a_timeout() {
    let dir = workdir();
    let out = run(
        None,
        &returning(dir.path(), "echo 1 > a.txt; exit 3", &["*.txt"]),
        &[],
        b"",
    );
    assert_eq!((out.exit.exit_code, names(&out)), (3, vec!["a.txt"]));

    let dir = workdir();
    let mut job = returning(dir.path(), "echo 2 > b.txt; sleep 10", &["*.txt"]);
    job.timeout_ms = 300;
    let out = run(None, &job, &[], b"");
    assert!(out.exit.timed_out);
    assert_eq!(names(&out), ["b.txt"]);
}

#[test]
fn files_prepare_left_are_returned_only_when_the_run_changed_them() {
    let dir = workdir();
    let boot = Boot {
        prepare: vec![sh("echo base > kept.txt; echo base > touched.txt")],
        workdir: dir.path().to_str().unwrap().into(),
        ..Boot::default()
    };
    let job = returning(dir.path(), "echo run >> touched.txt", &["*.txt"]);
    let out = run(Some(&boot), &job, &[], b"");
    assert_eq!(names(&out), ["touched.txt"]);
    assert_eq!(out.files[0].data, b"base\nrun\n");
}

#[test]
fn an_invalid_output_glob_is_reported_before_anything_runs() {
    let dir = workdir();
    let out = run(None, &returning(dir.path(), "echo ran", &["a**"]), &[], b"");
    let error = out.exit.error.expect("an error");
    assert!(error.contains("output glob \"a**\" is invalid"), "{error}");
    assert_eq!(out.stdout, "");
}

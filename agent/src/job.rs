//! One job: write the files, run the steps, return the files, report.

use std::io::{self, Read, Write};
use std::path::{Component, Path};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use snipbox_wire::agent::{Exit, Feed, Frame, Job};

use crate::boot::Agent;
use crate::cgroup::Counters;
use crate::outputs::{self, Baseline, Globs};
use crate::spawn::{Running, Spec, spawn};
use crate::step::{CpuLimit, Watch};

/// Runs `job`, whose file and stdin bytes follow on `input` (then, for an
/// interactive job, its [`Feed`]), and answers on `out`; the exit frame is
/// left to the caller.
pub(crate) fn run(
    job: &Job,
    mut input: impl Read + Send + 'static,
    out: &mut impl Write,
    agent: &mut Agent,
) -> Exit {
    let failed = |error: String| Exit {
        error: Some(error),
        ..Exit::default()
    };
    let before = Counters::read();
    let workdir = Path::new(&job.workdir);
    let globs = match Globs::new(&job.outputs) {
        Ok(globs) => globs,
        Err(e) => return failed(e),
    };
    let mut baseline = Baseline::new();
    for file in &job.files {
        if let Err(e) = write_file(
            workdir,
            &file.name,
            &mut (&mut input).take(file.len),
            &mut baseline,
        ) {
            return failed(format!("cannot write {}: {e}", file.name));
        }
    }
    let mut stdin = Vec::new();
    if let Err(e) = (&mut input).take(job.stdin_len).read_to_end(&mut stdin) {
        return failed(format!("cannot read stdin: {e}"));
    }
    if let Err(e) = baseline.stamp_others(workdir, &globs) {
        return failed(format!("cannot read the work dir: {e}"));
    }
    // The last step's stdin: the job's bytes, then (interactive) what the
    // server feeds as it comes; earlier steps read nothing.
    let (tx, rx) = mpsc::channel();
    if !stdin.is_empty() || !job.interactive {
        tx.send(stdin).expect("the receiver is here");
    }
    if job.interactive {
        thread::spawn(move || relay_feed(input, tx));
    } else {
        drop(tx);
    }

    let mut exit = run_steps(job, rx, out, agent);
    let counters = Counters::read().since(before);
    exit.oom_kills = counters.oom_kills;
    exit.pids_max = counters.pids_max;
    match outputs::send(workdir, &globs, &baseline, job.output_caps, out) {
        Ok(omitted) => exit.files_omitted = omitted,
        Err(e) => {
            exit.error
                .get_or_insert_with(|| format!("cannot return the files: {e}"));
        }
    }
    exit
}

/// Delivers what the server feeds an interactive job to `tx`, the last
/// step's stdin, until the server says end of input or goes away.
fn relay_feed(mut input: impl Read, tx: mpsc::Sender<Vec<u8>>) {
    while let Ok(Some(Feed::Data(bytes))) = Feed::read(&mut input) {
        if tx.send(bytes).is_err() {
            return;
        }
    }
}

/// Runs the steps in order until one fails, times out or is cut short.
fn run_steps(
    job: &Job,
    stdin: mpsc::Receiver<Vec<u8>>,
    out: &mut impl Write,
    agent: &mut Agent,
) -> Exit {
    let workdir = Path::new(&job.workdir);
    let timeout = Duration::from_millis(job.timeout_ms);
    let single = job.steps.len() == 1;
    let mut stdin = Some(stdin);
    let mut first = agent.take_prestarted(job.steps.first(), workdir, single.then_some(&mut stdin));
    let mut budget = [job.output_limit, job.output_limit];
    let mut deadline = None;
    let cpu = (job.cpu_ms > 0).then(|| CpuLimit::new(Duration::from_millis(job.cpu_ms)));
    // Whether the server was told the program's stdin is closed (only an
    // interactive job's server is); steps before the last read nothing.
    let mut input_closed = !job.interactive;
    let mut not_fed = true;
    let mut exit = Exit::default();
    for (i, argv) in job.steps.iter().enumerate() {
        let last = i + 1 == job.steps.len();
        let (run, since) = match first.take() {
            Some(prestarted) => prestarted,
            None => match start(argv, workdir, if last { stdin.take() } else { None }, out) {
                Ok(Some(started)) => started,
                Ok(None) => {
                    exit.exit_code = 127;
                    break;
                }
                Err(e) => {
                    exit.error = Some(e.to_string());
                    break;
                }
            },
        };
        // The deadline counts from the first step's start (a prestarted
        // one's go).
        let deadline = *deadline.get_or_insert(since + timeout);
        let mut watch = Watch {
            out: &mut *out,
            budget: &mut budget,
            deadline,
            cpu: cpu.as_ref(),
            input_closed: if last {
                &mut input_closed
            } else {
                &mut not_fed
            },
            killer: &mut agent.killer,
        };
        match watch.run(run, since) {
            Ok(end) => {
                exit.exit_code = end.code;
                exit.timed_out = end.timed_out;
                exit.truncated = end.truncated;
                exit.signal = end.signal;
                exit.cpu_limited = end.cpu_limited;
            }
            Err(e) => {
                exit.error = Some(e.to_string());
                break;
            }
        }
        if exit.exit_code != 0 || exit.timed_out || exit.truncated {
            break;
        }
    }
    exit
}

/// Starts a step; `None` when its program cannot start, which is reported
/// like a shell would: the reader sees why, and the exit code is 127.
fn start(
    argv: &[String],
    workdir: &Path,
    stdin: Option<mpsc::Receiver<Vec<u8>>>,
    out: &mut impl Write,
) -> io::Result<Option<(Running, Instant)>> {
    let spec = Spec {
        argv,
        workdir,
        stdin,
        go: None,
        session: false,
        merge_output: false,
    };
    let since = Instant::now();
    match spawn(spec)? {
        Ok(run) => Ok(Some((run, since))),
        Err(e) => {
            let msg = format!("cannot start {}: {e}\n", argv[0]);
            Frame::Stderr(msg.into_bytes()).write_to(out)?;
            out.flush()?;
            Ok(None)
        }
    }
}

/// Writes one file below `workdir`, refusing names that would leave it.
fn write_file(
    workdir: &Path,
    name: &str,
    contents: &mut impl Read,
    baseline: &mut Baseline,
) -> io::Result<()> {
    let rel = Path::new(name);
    if name.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(io::Error::other("not a plain relative path"));
    }
    let path = workdir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::File::create(&path)?;
    baseline.copy(rel, contents, &mut f)
}

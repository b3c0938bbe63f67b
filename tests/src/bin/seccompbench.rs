//! `make bench`, part: what snipbox's own containment costs, beside the
//! engine's defaults, in one run on one machine. The same Python image and
//! the same run user (a UID of the run range) under three syscall filters:
//! snipbox's profile (what every run gets), the engine's default profile
//! (what runs had before), and none. Two figures each: the time of one
//! system call (`getppid`, measured by the program itself over 300,000
//! calls, so that container start-up is not in it), and a whole `docker
//! run` of `python3 -c pass` (the filter is loaded at every start). The
//! rounds alternate between the filters, so a change in the machine's load
//! falls on all three alike. Everything else is the python sandbox's create
//! body, rendered as `docker run` flags.
//!
//! A UID per run adds nothing to a run's path: the UID is chosen when a
//! warm container is made, and the agent writes the container's user
//! database before it announces itself (`bench` prints the warm runs).

use std::process::Command;
use std::time::Instant;

use bollard::models::ContainerCreateBody;
use snipbox::sandbox::Catalog;

const ROUNDS: usize = 7;
const CALLS: u32 = 300_000;
const IMAGE: &str = "snipbox/python:latest";

/// `docker run` of `python3 -c CODE` with the python sandbox's create body
/// (rendered), its security options `options`; what it printed.
fn docker_run(base: &ContainerCreateBody, options: &[String], code: &str) -> String {
    let mut body = base.clone();
    if let Some(h) = body.host_config.as_mut() {
        h.security_opt = Some(options.to_vec());
    }
    body.cmd = Some(vec![code.into()]);
    let run = snipbox_tests::docker_run::docker_run(&body, &[]);
    let out = Command::new("docker")
        .args(&run.args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "{options:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let catalog =
        Catalog::load(&[snipbox_tests::root().join("sandboxes")]).expect("the sandboxes load");
    let mut base =
        snipbox_tests::docker_run::body_of(catalog.get("python").expect("python"), "bench-seccomp");
    base.entrypoint = Some(vec!["python3".into(), "-c".into()]);
    let own = base
        .host_config
        .as_ref()
        .and_then(|h| h.security_opt.clone())
        .expect("the spec's security options");
    let nnp = vec!["no-new-privileges".to_string()];
    let filters = [
        ("snipbox's profile", own),
        ("the engine's default profile", nnp.clone()),
        (
            "no filter (unconfined)",
            [nnp, vec!["seccomp=unconfined".into()]].concat(),
        ),
    ];
    let loop_code = format!(
        "import os, time\nt = time.perf_counter()\nfor _ in range({CALLS}): os.getppid()\n\
         print((time.perf_counter() - t) / {CALLS} * 1e9)"
    );
    let mut call_ns = vec![Vec::new(); filters.len()];
    let mut run_ms = vec![Vec::new(); filters.len()];
    for _ in 0..ROUNDS {
        for (i, (_, options)) in filters.iter().enumerate() {
            let ns: f64 = docker_run(&base, options, &loop_code)
                .parse()
                .expect("a number");
            call_ns[i].push(ns);
            let started = Instant::now();
            docker_run(&base, options, "pass");
            run_ms[i].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    println!();
    println!(
        "What the syscall filter costs ({ROUNDS} rounds, alternating; medians; {IMAGE}, \
         the run user, runc):"
    );
    println!();
    println!("| filter | one getppid() call, ns | docker run of `python3 -c pass`, ms |");
    println!("| --- | ---: | ---: |");
    for (i, (name, _)) in filters.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0} |",
            median(call_ns[i].clone()),
            median(run_ms[i].clone())
        );
    }
}

//! `docker run` rendered from a create body, so that the benchmarks'
//! baselines run containers with exactly the hardening the server's spec
//! builds (`snipbox::engine::spec::create_body`), never a hand copy of it.
//! A caller changes the body first where its baseline differs (another
//! entrypoint, its own labels). A field the spec sets that this renderer
//! does not know stops it: a new part of the spec must reach the baselines
//! too. Attaching and stdin are the caller's (`-i`, `-d`).

use bollard::models::{ContainerCreateBody, HostConfig};
use snipbox::engine::spec::create_body;
use snipbox::engine::uids::{self, UidRange};
use snipbox::sandbox::Sandbox;

/// The create body of `sandbox`'s containers as the server makes them, as
/// the first UID of the run range, labelled for `instance` (so that
/// `check-leftovers` and the benchmarks' own counts find what is left).
pub fn body_of(sandbox: &Sandbox, instance: &str) -> ContainerCreateBody {
    let mut body = create_body(sandbox);
    body.user = Some(uids::user(UidRange::DEFAULT.first()));
    body.labels = Some(
        [("snipbox", "1"), ("snipbox.instance", instance)]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
    );
    body
}

/// The arguments of `docker run` (from `run` on) and the seccomp profile's
/// file they name; keep it until the container has started.
pub struct DockerRun {
    pub args: Vec<String>,
    _profile: Option<tempfile::NamedTempFile>,
}

/// `docker run EXTRA… FLAGS… IMAGE CMD…` for `body`.
pub fn docker_run(body: &ContainerCreateBody, extra: &[&str]) -> DockerRun {
    let mut args: Vec<String> = ["run"].iter().chain(extra).map(|s| s.to_string()).collect();
    let mut flag = |name: &str, value: String| args.push(format!("--{name}={value}"));
    let mut profile = None;
    if let Some(h) = &body.host_config {
        check_known(h);
        if h.auto_remove == Some(true) {
            flag("rm", "true".into());
        }
        if let Some(v) = &h.network_mode {
            flag("network", v.clone());
        }
        if h.readonly_rootfs == Some(true) {
            flag("read-only", "true".into());
        }
        let mut tmpfs: Vec<_> = h.tmpfs.iter().flatten().collect();
        tmpfs.sort();
        for (path, options) in tmpfs {
            flag("tmpfs", format!("{path}:{options}"));
        }
        if let Some(v) = h.shm_size {
            flag("shm-size", v.to_string());
        }
        for cap in h.cap_drop.iter().flatten() {
            flag("cap-drop", cap.clone());
        }
        for opt in h.security_opt.iter().flatten() {
            match opt.strip_prefix("seccomp=") {
                // The CLI takes a profile's file; the API, its text.
                Some(json) if json.starts_with('{') => {
                    let file = tempfile::NamedTempFile::new().expect("a temp file");
                    std::fs::write(file.path(), json).expect("the profile is written");
                    flag("security-opt", format!("seccomp={}", file.path().display()));
                    profile = Some(file);
                }
                _ => flag("security-opt", opt.clone()),
            }
        }
        if let Some(v) = h.pids_limit {
            flag("pids-limit", v.to_string());
        }
        if let Some(v) = h.memory {
            flag("memory", format!("{v}b"));
        }
        if let Some(v) = h.memory_swap {
            flag("memory-swap", format!("{v}b"));
        }
        if let Some(v) = h.nano_cpus {
            flag("cpus", format!("{}", v as f64 / 1e9));
        }
        if let Some(v) = h.oom_score_adj {
            flag("oom-score-adj", v.to_string());
        }
        for u in h.ulimits.iter().flatten() {
            let (name, soft, hard) = (u.name.clone(), u.soft, u.hard);
            flag(
                "ulimit",
                format!(
                    "{}={}:{}",
                    name.unwrap_or_default(),
                    soft.unwrap_or(0),
                    hard.unwrap_or(0)
                ),
            );
        }
        if let Some(v) = &h.runtime {
            flag("runtime", v.clone());
        }
        if let Some(v) = h.log_config.as_ref().and_then(|l| l.typ.clone()) {
            flag("log-driver", v);
        }
    }
    if let Some(v) = &body.working_dir {
        flag("workdir", v.clone());
    }
    if let Some(v) = &body.user {
        flag("user", v.clone());
    }
    for e in body.env.iter().flatten() {
        flag("env", e.clone());
    }
    let mut labels: Vec<_> = body.labels.iter().flatten().collect();
    labels.sort();
    for (k, v) in labels {
        flag("label", format!("{k}={v}"));
    }
    let mut entrypoint = body.entrypoint.clone().unwrap_or_default().into_iter();
    if let Some(first) = entrypoint.next() {
        flag("entrypoint", first);
    }
    args.push(body.image.clone().expect("an image"));
    args.extend(entrypoint);
    args.extend(body.cmd.clone().unwrap_or_default());
    DockerRun {
        args,
        _profile: profile,
    }
}

/// Stops at a host setting the spec makes that the CLI rendering above
/// leaves out.
fn check_known(h: &HostConfig) {
    let rest = HostConfig {
        auto_remove: None,
        network_mode: None,
        readonly_rootfs: None,
        tmpfs: None,
        shm_size: None,
        cap_drop: None,
        security_opt: None,
        pids_limit: None,
        memory: None,
        memory_swap: None,
        nano_cpus: None,
        oom_score_adj: None,
        ulimits: None,
        runtime: None,
        log_config: None,
        ..h.clone()
    };
    assert_eq!(
        rest,
        HostConfig::default(),
        "the spec sets host settings docker_run does not render"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use snipbox::sandbox::Catalog;

    #[test]
    fn the_python_sandboxs_spec_renders_as_the_cli_writes_it() {
        let catalog = Catalog::load(&[crate::root().join("sandboxes")]).unwrap();
        let mut body = create_body(catalog.get("python").unwrap());
        body.entrypoint = Some(vec!["python3".into(), "-c".into()]);
        body.cmd = Some(vec!["print(1)".into()]);
        let run = docker_run(&body, &["-d"]);
        let args = run.args.join(" ");
        for want in [
            "run -d --rm=true --network=none --read-only=true",
            "--tmpfs=/sandbox:rw,exec,nosuid,nodev,size=16m",
            "--cap-drop=ALL --security-opt=no-new-privileges --security-opt=seccomp=/",
            "--memory=134217728b --memory-swap=134217728b --cpus=1",
            "--ulimit=nofile=256:256 --ulimit=core=0",
            "--log-driver=none",
            "--entrypoint=python3 snipbox/python:latest -c print(1)",
        ] {
            assert!(args.contains(want), "{want:?} missing from {args}");
        }
    }

    /// The rendering runs: the container is the run user's, with a
    /// read-only root and the spec's memory limit.
    #[test]
    fn the_rendered_command_runs_a_container_of_the_spec() {
        let catalog = Catalog::load(&[crate::root().join("sandboxes")]).unwrap();
        let mut body = body_of(catalog.get("python").unwrap(), "test-docker-run");
        let uid = UidRange::DEFAULT.first();
        body.entrypoint = Some(vec!["python3".into(), "-c".into()]);
        body.cmd = Some(vec![
            "import os\nprint(os.getuid())\ntry:\n    open('/x', 'w')\nexcept OSError as e:\n    print(e.errno)\n\
             print(open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip() \
             if os.path.exists('/sys/fs/cgroup/memory') else open('/sys/fs/cgroup/memory.max').read().strip())"
                .into(),
        ]);
        let run = docker_run(&body, &[]);
        let out = std::process::Command::new("docker")
            .args(&run.args)
            .output()
            .expect("docker runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout,
            format!("{uid}\n30\n134217728\n"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

//! The hardening spec: a pure function from a sandbox to the body of
//! `POST /containers/create`. Every setting that locks a run down lives
//! here, so the server builds bodies with it and a Docker API guard can
//! judge a body against exactly the same code.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use snipbox_wire::agent::Boot;

use crate::sandbox::Sandbox;
use crate::{seccomp, uids};

/// Label on every container snipbox creates.
pub const LABEL: &str = "snipbox";
/// Label naming the deployment (`--instance`) a container belongs to.
pub const LABEL_INSTANCE: &str = "snipbox.instance";
/// Label naming the server process that created a container.
pub const LABEL_SERVER: &str = "snipbox.server";
/// Label with the sandbox name.
pub const LABEL_SANDBOX: &str = "snipbox.sandbox";
/// Label with the run token (the last part of a run's id).
pub const LABEL_RUN: &str = "snipbox.run";

/// Where the agent lives in every sandbox image (see `scripts/images.sh`).
pub const AGENT: &str = "/usr/local/bin/snipbox-agent";

/// Who a container belongs to: its labels and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner<'a> {
    pub instance: &'a str,
    pub server: &'a str,
    pub sandbox: &'a str,
    pub run: &'a str,
}

impl Owner<'_> {
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL.into(), "1".into()),
            (LABEL_INSTANCE.into(), self.instance.into()),
            (LABEL_SERVER.into(), self.server.into()),
            (LABEL_SANDBOX.into(), self.sandbox.into()),
            (LABEL_RUN.into(), self.run.into()),
        ])
    }

    /// The container's name on the engine.
    pub fn name(&self) -> String {
        format!("snipbox-{}-{}", self.sandbox, self.run)
    }
}

/// The create body for `sandbox`'s containers, labels and user aside (see
/// [`container_body`]): no network, read-only root, small tmpfs scratch, no
/// capabilities, no new privileges, snipbox's own seccomp profile, limits
/// on pids, memory (swap included), CPU, open files and core dumps, no log
/// kept by the engine.
pub fn create_body(sandbox: &Sandbox) -> ContainerCreateBody {
    let mut env: Vec<String> = vec![format!("HOME={}", sandbox.workdir)];
    env.extend(sandbox.env.iter().map(|(k, v)| format!("{k}={v}")));
    ContainerCreateBody {
        image: Some(sandbox.image()),
        entrypoint: Some(vec![AGENT.into()]),
        cmd: Some(boot(sandbox).map(|b| b.to_arg()).into_iter().collect()),
        working_dir: Some(sandbox.workdir.clone()),
        env: Some(env),
        network_disabled: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(false),
        host_config: Some(host_config(sandbox)),
        ..Default::default()
    }
}

/// The create body of one container: `sandbox_body` (from [`create_body`])
/// with its owner's labels, running as `uid` (UID and GID), a user of its
/// own that no other container and no host account has (see [`uids`]).
pub fn container_body(
    sandbox_body: &ContainerCreateBody,
    owner: &Owner<'_>,
    uid: u32,
) -> ContainerCreateBody {
    ContainerCreateBody {
        labels: Some(owner.labels()),
        user: Some(uids::user(uid)),
        ..sandbox_body.clone()
    }
}

/// How the agent starts the container, when there is anything to do before
/// a job: the sandbox's `prepare` programs, and the first step of its
/// `run` command when that command is prestarted.
pub fn boot(sandbox: &Sandbox) -> Option<Boot> {
    let prestart = sandbox
        .commands
        .get("run")
        .filter(|c| c.prestart)
        .and_then(|c| c.steps.first().cloned());
    (!sandbox.prepare.is_empty() || prestart.is_some()).then(|| Boot {
        prepare: sandbox.prepare.clone(),
        prepare_timeout_ms: sandbox.limits.prepare_timeout_ms,
        prestart,
        workdir: sandbox.workdir.clone(),
        ..Boot::default()
    })
}

/// Whether the engine removes the sandbox's containers when they exit.
pub fn auto_removes(sandbox: &Sandbox) -> bool {
    sandbox.limits.runtime.as_deref() != Some("runsc")
}

fn host_config(sandbox: &Sandbox) -> HostConfig {
    let l = &sandbox.limits;
    let mb = |n: u64| (n * 1024 * 1024) as i64;
    let tmpfs = |exec: &str| format!("rw,{exec},nosuid,nodev,size={}m", l.tmpfs_mb);
    let ulimit = |name: &str, n: i64| ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(n),
        hard: Some(n),
    };
    HostConfig {
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([
            (sandbox.workdir.clone(), tmpfs("exec")),
            ("/tmp".to_string(), tmpfs("noexec")),
        ])),
        // /dev/shm is writable too: as small as the scratch space.
        shm_size: Some(mb(l.tmpfs_mb)),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec![
            "no-new-privileges".into(),
            format!(
                "seccomp={}",
                seccomp::profile(l.runtime.as_deref() == Some("runsc"))
            ),
        ]),
        pids_limit: Some(l.pids),
        memory: Some(mb(l.memory_mb)),
        memory_swap: Some(mb(l.memory_mb)),
        nano_cpus: Some((l.cpus * 1e9) as i64),
        // The agent's; the program's processes raise theirs to 1000, so
        // the OOM killer inside the sandbox takes the program first.
        oom_score_adj: Some(l.oom_score_adj.min(999)),
        ulimits: Some(vec![ulimit("nofile", l.nofile as i64), ulimit("core", 0)]),
        runtime: l.runtime.clone(),
        // Output reaches the server over the attach stream; the engine
        // keeps no copy of untrusted bytes in its logs.
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".into()),
            config: None,
        }),
        // If the server dies, the agent sees its stdin close and exits;
        // the engine then removes the container by itself. Not under
        // gVisor: there a memory kill ends the whole sandbox, and only the
        // engine's record of the exited container (removed by the server
        // once read, or by the next start's sweep) can tell.
        auto_remove: Some(auto_removes(sandbox)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::sandbox::Catalog;

    fn python() -> Sandbox {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let mut s = Catalog::load(&[&dir])
            .unwrap()
            .get("python")
            .unwrap()
            .clone();
        s.limits.memory_mb = 100;
        s.limits.tmpfs_mb = 8;
        s.limits.pids = 32;
        s.limits.cpus = 0.5;
        s.limits.nofile = 99;
        s
    }

    #[test]
    fn the_container_runs_the_agent_in_its_image() {
        let b = create_body(&python());
        assert_eq!(b.image.as_deref(), Some("snipbox/python:latest"));
        assert_eq!(b.entrypoint, Some(vec![AGENT.to_string()]));
        assert_eq!(b.cmd, Some(vec![]));
        assert_eq!(b.working_dir.as_deref(), Some("/sandbox"));
        assert_eq!(b.env.as_ref().unwrap()[0], "HOME=/sandbox");
        assert_eq!(b.labels, None, "labels come from the owner");
        assert_eq!(b.user, None, "the user comes with the container");
    }

    #[test]
    fn each_container_runs_as_its_own_uid_and_gid_with_its_owners_labels() {
        let base = create_body(&python());
        let owner = Owner {
            instance: "docs",
            server: "s1",
            sandbox: "python",
            run: "r1",
        };
        let b = container_body(&base, &owner, 1_900_000_123);
        assert_eq!(b.user.as_deref(), Some("1900000123:1900000123"));
        assert_eq!(b.labels, Some(owner.labels()));
        assert_eq!(
            ContainerCreateBody {
                user: None,
                labels: None,
                ..b
            },
            base,
            "nothing else changes"
        );
    }

    #[test]
    fn the_agent_talks_over_an_attached_stdin_and_stdout_only() {
        let b = create_body(&python());
        assert_eq!(
            (b.attach_stdin, b.attach_stdout, b.attach_stderr),
            (Some(true), Some(true), Some(true))
        );
        assert_eq!((b.open_stdin, b.stdin_once), (Some(true), Some(true)));
        assert_eq!(b.tty, Some(false));
        assert!(b.exposed_ports.is_none() && b.volumes.is_none());
    }

    #[test]
    fn there_is_no_network() {
        let b = create_body(&python());
        assert_eq!(b.network_disabled, Some(true));
        let h = b.host_config.unwrap();
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        assert!(h.port_bindings.is_none() && h.extra_hosts.is_none() && h.dns.is_none());
    }

    #[test]
    fn the_root_filesystem_is_read_only_and_scratch_is_small_tmpfs() {
        let h = create_body(&python()).host_config.unwrap();
        assert_eq!(h.readonly_rootfs, Some(true));
        let tmpfs = h.tmpfs.unwrap();
        assert_eq!(tmpfs.len(), 2);
        assert_eq!(tmpfs["/sandbox"], "rw,exec,nosuid,nodev,size=8m");
        assert_eq!(tmpfs["/tmp"], "rw,noexec,nosuid,nodev,size=8m");
        assert_eq!(h.shm_size, Some(8 << 20));
        assert!(h.binds.is_none() && h.mounts.is_none() && h.volumes_from.is_none());
        assert!(h.devices.is_none() && h.device_requests.is_none());
    }

    #[test]
    fn no_capabilities_and_no_new_privileges() {
        let h = create_body(&python()).host_config.unwrap();
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_string()]));
        assert!(h.cap_add.is_none());
        let profile = format!("seccomp={}", seccomp::profile(false));
        assert_eq!(
            h.security_opt,
            Some(vec!["no-new-privileges".to_string(), profile]),
            "snipbox's own seccomp profile, not the engine's default"
        );
        assert_eq!(h.privileged, None);
        assert!(h.sysctls.is_none() && h.group_add.is_none());
        for ns in [
            &h.pid_mode,
            &h.ipc_mode,
            &h.uts_mode,
            &h.userns_mode,
            &h.cgroup,
        ] {
            assert!(ns.is_none(), "a namespace is shared: {h:?}");
        }
    }

    #[test]
    fn resources_are_limited() {
        let h = create_body(&python()).host_config.unwrap();
        assert_eq!(h.memory, Some(100 << 20));
        assert_eq!(h.memory_swap, Some(100 << 20), "no swap");
        assert_eq!(h.nano_cpus, Some(500_000_000));
        assert_eq!(
            h.oom_score_adj,
            Some(999),
            "the host's first OOM victim, one below the program's 1000"
        );
        assert_eq!(h.pids_limit, Some(32));
        let ulimits = h.ulimits.unwrap();
        let get = |name: &str| {
            let u = ulimits.iter().find(|u| u.name.as_deref() == Some(name));
            u.map(|u| (u.soft, u.hard))
        };
        assert_eq!(get("nofile"), Some((Some(99), Some(99))));
        assert_eq!(get("core"), Some((Some(0), Some(0))), "no core dumps");
    }

    #[test]
    fn the_engine_keeps_no_log_and_removes_the_container_itself() {
        let h = create_body(&python()).host_config.unwrap();
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(h.runtime, None);
        let mut gvisor = python();
        gvisor.limits.runtime = Some("runsc".into());
        let h = create_body(&gvisor).host_config.unwrap();
        assert_eq!(h.runtime.as_deref(), Some("runsc"));
        assert_eq!(h.auto_remove, Some(false), "kept to read a memory kill");
        let gvisor_profile = format!("seccomp={}", seccomp::profile(true));
        assert_eq!(h.security_opt.unwrap()[1], gvisor_profile);
    }

    #[test]
    fn prepare_and_prestart_reach_the_agent_as_its_argument() {
        let mut s = python();
        assert_eq!(create_body(&s).cmd, Some(vec![]), "nothing to do first");
        s.prepare = vec![vec!["/bin/start-db".into()]];
        s.commands.get_mut("run").unwrap().prestart = true;
        let cmd = create_body(&s).cmd.unwrap();
        assert_eq!(cmd.len(), 1);
        let boot = Boot::from_arg(Some(&cmd[0])).unwrap();
        assert_eq!(boot.prepare, s.prepare);
        assert_eq!(boot.prestart.as_ref(), s.commands["run"].steps.first());
        assert_eq!(boot.workdir, "/sandbox");
        assert_eq!(boot.prepare_timeout_ms, s.limits.prepare_timeout_ms);
    }

    #[test]
    fn an_owner_names_and_labels_its_container() {
        let o = Owner {
            instance: "docs",
            server: "s1",
            sandbox: "python",
            run: "abc",
        };
        assert_eq!(o.name(), "snipbox-python-abc");
        let labels = o.labels();
        assert_eq!(labels.len(), 5);
        assert_eq!(labels[LABEL], "1");
        assert_eq!(labels[LABEL_INSTANCE], "docs");
        assert_eq!(labels[LABEL_SERVER], "s1");
        assert_eq!(labels[LABEL_SANDBOX], "python");
        assert_eq!(labels[LABEL_RUN], "abc");
    }
}

//! The hosts users have: cgroup v2 and a current engine. A Debian 13 guest
//! (scripts/guest.sh: kernel 6.12, systemd, cgroup v2, Docker 26) under
//! QEMU's software emulation, about 20–40 times slower than this machine,
//! runs this workspace's own server, guard and agent against its own
//! engine: `snipbox images` builds the bash sandbox there; a server talks
//! to the engine directly (negotiating the API version), another through
//! the guard. From here, over QEMU's forwarded loopback ports, a focused
//! subset: a warm run, the memory, pids, timeout and output endings with
//! their reasons (the OOM kill read from cgroup v2's `memory.events`), the
//! seccomp profile and per-run UIDs, an interactive run and its CPU limit
//! (cgroup v2's `cpu.stat`), and the guard refusing a privileged container.
//! What ran and how long each step took is printed; a failure shows the
//! guest's console and logs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use snipbox_tests::browser::free_port;
use snipbox_tests::{
    agent_binary, client, end_with_parent, guard_binary, request, root, sandboxes_with,
    server_binary,
};
use snipbox_wire::api::ExecResponse;
use tokio_tungstenite::tungstenite::Message;

/// What the guest runs once Docker is up: the image build, the guard, and
/// two servers (straight to the engine, and through the guard).
const GUEST_SCRIPT: &str = r#"set -eu
cd /mnt/host
say() { echo "snipbox-guest: $*"; }
say "$(docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'), cgroup v$(docker info --format '{{.CgroupVersion}}') ($(stat -fc %T /sys/fs/cgroup)), kernel $(uname -r)"
t=$(date +%s)
docker load -i base.tar >/dev/null
say "base image loaded in $(($(date +%s) - t)) s"
t=$(date +%s)
if ! SNIPBOX_SANDBOXES=/mnt/host/sandboxes ./snipbox images --only bash --agent /mnt/host/snipbox-agent >images.log 2>&1; then
  say "snipbox images failed:"
  cat images.log
  exit 1
fi
say "the bash image built in $(($(date +%s) - t)) s"
export SNIPBOX_SANDBOXES=/mnt/host/sandboxes SNIPBOX_SANDBOXES_ONLY=bash SNIPBOX_RATE_LIMIT=0 RUST_LOG=info
SNIPBOX_GUARD_LISTEN=0.0.0.0:2375 SNIPBOX_GUARD_SANDBOXES=/mnt/host/sandboxes SNIPBOX_GUARD_INSTANCE=guarded ./snipbox-guard >guard.log 2>&1 &
SNIPBOX_LISTEN=0.0.0.0:8080 SNIPBOX_INSTANCE=direct ./snipbox >direct.log 2>&1 &
SNIPBOX_LISTEN=0.0.0.0:8081 SNIPBOX_INSTANCE=guarded DOCKER_HOST=tcp://127.0.0.1:2375 ./snipbox >guarded.log 2>&1 &
say "servers started"
wait
"#;

/// The guest, running; killed when dropped.
struct Guest {
    qemu: Child,
    share: tempfile::TempDir,
    console: PathBuf,
    /// Loopback ports forwarded to the guest's server, guarded server and
    /// guard.
    direct: u16,
    guarded: u16,
    guard: u16,
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

impl Guest {
    /// Makes the share (the binaries, the sandboxes, the Debian base image,
    /// the script) and boots the guest on a copy-on-write layer of its disk.
    fn boot() -> Guest {
        let made = Command::new(root().join("scripts/guest.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/guest.sh runs");
        assert!(made.status.success(), "the guest could not be made");
        let image = PathBuf::from(String::from_utf8(made.stdout).unwrap().trim());
        let share = tempfile::tempdir().unwrap();
        let dir = share.path();
        for (from, to) in [
            (server_binary(), "snipbox"),
            (guard_binary(), "snipbox-guard"),
            (agent_binary(), "snipbox-agent"),
        ] {
            std::fs::copy(&from, dir.join(to))
                .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        }
        // The bash sandbox with pools of one and the tests' time limits.
        let sandboxes = sandboxes_with(&[("bash", "pool", toml::Value::Integer(1))]);
        let copied = Command::new("cp")
            .arg("-r")
            .arg(sandboxes.path())
            .arg(dir.join("sandboxes"))
            .status()
            .unwrap();
        assert!(copied.success());
        let saved = Command::new("docker")
            .args(["save", "debian:trixie-slim", "-o"])
            .arg(dir.join("base.tar"))
            .status()
            .unwrap();
        assert!(saved.success(), "docker save debian:trixie-slim");
        std::fs::write(dir.join("guest.sh"), GUEST_SCRIPT).unwrap();
        let overlay = dir.join("overlay.qcow2");
        let layered = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(image.join("disk.img"))
            .arg(&overlay)
            .status()
            .unwrap();
        assert!(layered.success(), "qemu-img create");
        let (direct, guarded, guard) = (free_port(), free_port(), free_port());
        let console = dir.join("console.log");
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args([
            "-accel",
            "tcg",
            "-m",
            "3072",
            "-smp",
            "2",
            "-nographic",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(image.join("vmlinuz"))
        .arg("-initrd")
        .arg(image.join("initrd.img"))
        .args(["-append", "root=/dev/vda rw console=ttyS0 quiet"])
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=qcow2", overlay.display()))
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=host,security_model=none,id=host",
            dir.display()
        ))
        .args([
            "-netdev",
            &format!(
                "user,id=net,hostfwd=tcp:127.0.0.1:{direct}-:8080,\
                     hostfwd=tcp:127.0.0.1:{guarded}-:8081,hostfwd=tcp:127.0.0.1:{guard}-:2375"
            ),
            "-device",
            "virtio-net-pci,netdev=net",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&console).unwrap())
        .stderr(Stdio::inherit());
        end_with_parent(&mut cmd);
        Guest {
            qemu: cmd.spawn().expect("qemu-system-x86_64 starts"),
            share,
            console,
            direct,
            guarded,
            guard,
        }
    }

    fn url(&self, port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}{path}")
    }

    /// The guest's console (its end) and the logs its script wrote.
    fn logs(&self) -> String {
        let console = std::fs::read_to_string(&self.console).unwrap_or_default();
        let tail: Vec<&str> = console.lines().rev().take(60).collect();
        let mut out = format!(
            "--- the guest's console (end) ---\n{}\n",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        for log in ["images.log", "direct.log", "guarded.log", "guard.log"] {
            if let Ok(text) = std::fs::read_to_string(self.share.path().join(log)) {
                let lines: Vec<&str> = text.lines().rev().take(30).collect();
                out += &format!(
                    "--- {log} (end) ---\n{}\n",
                    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        out
    }

    /// The guest's own lines (`snipbox-guest: …`) on its console.
    fn said(&self) -> Vec<String> {
        std::fs::read_to_string(&self.console)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("snipbox-guest: ").map(|(_, s)| s.to_string()))
            .collect()
    }

    /// Waits until the server on `port` says its engine is fine.
    async fn healthy(&mut self, port: u16, within: Duration) {
        let started = Instant::now();
        loop {
            if let Ok(resp) = client().get(self.url(port, "/v1/health")).send().await
                && resp.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.qemu.try_wait() {
                panic!(
                    "the guest stopped ({status}) before its server was up\n{}",
                    self.logs()
                );
            }
            if started.elapsed() > within {
                panic!(
                    "the guest's server was not up within {within:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn exec(&self, port: u16, code: &str) -> ExecResponse {
        let resp = client()
            .post(self.url(port, "/v1/exec"))
            .timeout(Duration::from_secs(300))
            .json(&request("bash", code))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}\n{}", self.logs()));
        resp.json().await.unwrap()
    }
}

/// Timings of the steps, printed at the end.
#[derive(Default)]
struct Steps(Vec<(String, Duration)>);

impl Steps {
    fn done(&mut self, what: &str, since: Instant) -> Instant {
        self.0.push((what.to_string(), since.elapsed()));
        Instant::now()
    }
}

/// An interactive bash run over the guest's `/v1/ws`: the events up to
/// `end` (sending `line` once `prompt` was printed, if given).
async fn interactive(guest: &Guest, code: &str, reply: Option<(&str, &str)>) -> Vec<Value> {
    let url = format!("ws://127.0.0.1:{}/v1/ws", guest.direct);
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let first = serde_json::to_string(&request("bash", code)).unwrap();
    socket.send(Message::text(first)).await.unwrap();
    let mut events = Vec::new();
    let mut stdout = String::new();
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["event"] == "stdout" {
            stdout += event["data"]["text"].as_str().unwrap_or_default();
            if let Some((prompt, line)) = reply
                && stdout == prompt
            {
                let message = json!({ "stdin": format!("{line}\n") }).to_string();
                socket.send(Message::text(message)).await.unwrap();
            }
        }
        let end = event["event"] == "end";
        events.push(event);
        if end {
            break;
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cgroup_v2_host_with_docker_26_runs_contains_and_guards() {
    let mut steps = Steps::default();
    let t = Instant::now();
    let mut guest = Guest::boot();
    guest.healthy(guest.direct, Duration::from_secs(900)).await;
    guest.healthy(guest.guarded, Duration::from_secs(300)).await;
    let t = steps.done(
        "boot, load the base image, build the bash image, start the servers",
        t,
    );
    let said = guest.said();
    println!("the guest: {}", said.join("; "));
    assert!(
        said.iter().any(|l| l.contains("cgroup v2 (cgroup2fs)")),
        "the guest runs cgroup v2: {said:?}"
    );

    // A run, warm (the pool's container started while the server came up).
    let r = guest
        .exec(guest.direct, "echo \"hello from $(uname -r)\"")
        .await;
    assert!(
        r.ok && r.stdout.starts_with("hello from 6."),
        "{r:?}\n{}",
        guest.logs()
    );
    let t = steps.done("a run", t);

    // The endings and their reasons.
    let r = guest
        .exec(guest.direct, "head -c 400M /dev/zero | tail")
        .await;
    assert_eq!(
        r.reason.as_deref(),
        Some("memory"),
        "{r:?}\n{}",
        guest.logs()
    );
    // dash (sh) gives up on the first fork the pids limit refuses.
    let r = guest
        .exec(
            guest.direct,
            "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done; wait'",
        )
        .await;
    assert_eq!(r.reason.as_deref(), Some("pids"), "{r:?}");
    let r = guest.exec(guest.direct, "while :; do :; done").await;
    assert_eq!(r.reason.as_deref(), Some("timeout"), "{r:?}");
    let r = guest.exec(guest.direct, "yes").await;
    assert_eq!(r.reason.as_deref(), Some("output"), "{r:?}");
    let t = steps.done("memory, pids, timeout and output endings", t);

    // Containment: no user namespace (seccomp), a UID of its own per run.
    let r = guest
        .exec(guest.direct, "unshare --user true 2>&1; echo \"exit $?\"")
        .await;
    assert!(
        !r.stdout.ends_with("exit 0\n"),
        "a user namespace was made: {r:?}"
    );
    let first = guest.exec(guest.direct, "id -u").await.stdout;
    let second = guest.exec(guest.direct, "id -u").await.stdout;
    assert_ne!(first, second, "two runs, one UID");
    assert_ne!(first.trim(), "0");
    let t = steps.done("seccomp, per-run UIDs", t);

    // Interactive: a reply, and a busy loop ended at its CPU time.
    let events = interactive(
        &guest,
        "printf 'name? '; read name; echo \"hi $name\"",
        Some(("name? ", "Ada")),
    )
    .await;
    let end = &events.last().unwrap()["data"];
    assert_eq!(end["stdout"], "name? hi Ada\n", "{events:?}");
    let events = interactive(&guest, "while :; do :; done", None).await;
    let end = &events.last().unwrap()["data"];
    assert_eq!(end["reason"], "timeout", "{end}");
    assert!(
        end["reason_text"]
            .as_str()
            .unwrap_or_default()
            .contains("CPU time"),
        "{end}"
    );
    let t = steps.done("interactive: a reply, a busy loop's CPU time", t);

    // The guard: a run through it, and a privileged container refused.
    let r = guest.exec(guest.guarded, "echo guarded").await;
    assert!(r.ok && r.stdout == "guarded\n", "{r:?}\n{}", guest.logs());
    let resp = client()
        .post(guest.url(guest.guard, "/v1.45/containers/create"))
        .json(&json!({"Image": "snipbox/bash", "HostConfig": {"Privileged": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        403,
        "{}",
        resp.text().await.unwrap()
    );
    steps.done(
        "the guard: a run through it, a privileged create refused",
        t,
    );

    println!();
    println!("| step in the guest (QEMU TCG, Debian 13, Docker 26, cgroup v2) | seconds |");
    println!("| --- | ---: |");
    for (what, took) in &steps.0 {
        println!("| {what} | {:.1} |", took.as_secs_f64());
    }
}

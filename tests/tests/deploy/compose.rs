//! Both compose files deployed as Coolify deploys them, `docker compose up
//! --build` of a checkout of this repository, on a Docker engine of the
//! test's own that holds no snipbox image: the server image is built, the
//! `images` service builds the sandbox images and exits, the server starts
//! once that has succeeded, `/v1/health` turns ok and a Python run through
//! the published port works. A second deploy builds nothing; a change to
//! one sandbox's file rebuilds that image only; an operator's own sandbox
//! from a folder on the host (`SNIPBOX_OWN_SANDBOXES`) is built and served.
//!
//! The deployments serve two sandboxes (SNIPBOX_SANDBOXES_ONLY): building
//! all of them takes far longer than the rest of the tests. The engine's
//! data (the base images, copied from the machine's engine, and the build
//! cache) is kept under target/ between runs: all of it can be rebuilt.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use snipbox_tests::engine::TestEngine;
use snipbox_tests::{browser::free_port, client, machine_cache, request, root, target_dir};

use super::{docker, python_prints, run};

/// What the compose files build from: the Rust image, the server's base,
/// and the sandboxes'.
const SEEDS: [&str; 3] = [
    "rust:1-bookworm",
    "debian:bookworm-slim",
    "debian:trixie-slim",
];
/// The sandboxes the deployments serve.
const SANDBOXES: &str = "python,bash";

/// The test engine, with the base images and no snipbox image: images an
/// earlier run tagged are untagged (their layers stay, as build cache).
fn engine() -> TestEngine {
    run(&mut Command::new(root().join("scripts/rust-image.sh")));
    for base in &SEEDS[1..] {
        run(Command::new(root().join("scripts/base-image.sh")).arg(base));
    }
    let engine = TestEngine::start_cached(&machine_cache().join("compose-engine/data"));
    for seed in SEEDS {
        let ours = engine.output(&["image", "inspect", "-f", "{{.Id}}", seed]);
        if ours != docker(&["image", "inspect", "-f", "{{.Id}}", seed]) {
            engine.load(seed);
        }
    }
    for image in engine
        .output(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .filter(|i| !SEEDS.contains(i) && !i.contains("<none>"))
    {
        engine.output(&["rmi", "--no-prune", image]);
    }
    // Untagged images no layer depends on any more.
    engine.output(&["image", "prune", "-f"]);
    engine
}

/// The files of a deploy: the repository's, as git lists them (committed
/// or not, ignored ones aside), in a folder of their own.
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(target_dir()).unwrap();
    let out = run(Command::new("git").current_dir(root()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    for file in out.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = Path::new(std::str::from_utf8(file).unwrap());
        let from = root().join(file);
        if from.is_file() {
            std::fs::create_dir_all(dir.path().join(file).parent().unwrap()).unwrap();
            std::fs::copy(&from, dir.path().join(file)).unwrap();
        }
    }
    dir
}

/// One compose project on the test engine.
struct Deployment<'a> {
    engine: &'a TestEngine,
    checkout: &'a Path,
    file: &'static str,
    project: String,
    port: u16,
    _open: Option<OpenBridge>,
    /// Variables a person set in the resource's settings, over the test's.
    settings: std::sync::Mutex<Vec<(String, String)>>,
}

/// This machine's firewall drops traffic forwarded between containers on
/// bridges its own engine did not make (bridged packets pass the FORWARD
/// chain, whose policy that engine sets to DROP), and the test engine
/// leaves the firewall alone (`--iptables=false`). Traffic within one
/// bridge of the test's is let through while the test runs, that bridge
/// only, in the chain meant for such rules (DOCKER-USER, else FORWARD).
struct OpenBridge {
    rule: Vec<String>,
}

impl OpenBridge {
    fn new(bridge: String) -> OpenBridge {
        let has_chain = |c: &str| {
            Command::new("iptables")
                .args(["-S", c])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let chain = if has_chain("DOCKER-USER") {
            "DOCKER-USER"
        } else {
            "FORWARD"
        };
        let rule: Vec<String> = [chain, "-i", &bridge, "-o", &bridge, "-j", "ACCEPT"]
            .map(String::from)
            .to_vec();
        // Where there is no iptables, nothing is dropped either.
        let _ = Command::new("iptables").arg("-I").args(&rule).output();
        OpenBridge { rule }
    }
}

impl Drop for OpenBridge {
    fn drop(&mut self) {
        let _ = Command::new("iptables").arg("-D").args(&self.rule).output();
    }
}

impl<'a> Deployment<'a> {
    /// The compose file `file`, plus what a person on a plain Docker host
    /// adds: the server published on loopback (the commented `ports`
    /// line); and what this machine needs: the builds on the host's
    /// network (this engine's bridges have no way out), and the guard
    /// variant's network on a bridge of a known name, opened in the
    /// firewall for the test's time (see [`OpenBridge`]), so that a
    /// stranger on it reaches the server.
    fn new(engine: &'a TestEngine, checkout: &'a Path, file: &'static str) -> Self {
        let port = free_port();
        let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let project = format!("sbx{id}");
        let mut extra = format!(
            "services:\n  images:\n    build:\n      network: host\n  snipbox:\n    \
             build:\n      network: host\n    ports: [\"127.0.0.1:{port}:8080\"]\n"
        );
        let open = file.contains("proxy").then(|| {
            let bridge = format!("sbxa-{id}");
            extra += &format!(
                "  guard:\n    build:\n      network: host\nnetworks:\n  default:\n    \
                 driver_opts:\n      com.docker.network.bridge.name: {bridge}\n"
            );
            OpenBridge::new(bridge)
        });
        std::fs::write(checkout.join(format!("{project}.yml")), extra).unwrap();
        Deployment {
            engine,
            checkout,
            file,
            project,
            port,
            _open: open,
            settings: std::sync::Mutex::default(),
        }
    }

    /// Sets a variable of the deployment, as in Coolify's settings.
    fn set(&self, name: &str, value: &str) {
        self.settings
            .lock()
            .unwrap()
            .push((name.into(), value.into()));
    }

    fn compose(&self, args: &[&str]) -> Output {
        let gid = run(Command::new("stat")
            .arg("-c")
            .arg("%g")
            .arg(self.engine.socket()));
        let overrides = format!("{}.yml", self.project);
        Command::new("docker")
            .current_dir(self.checkout)
            .args([
                "compose",
                "-p",
                &self.project,
                "-f",
                self.file,
                "-f",
                &overrides,
            ])
            .args(args)
            .env("DOCKER_HOST", self.engine.host())
            .env("DOCKER_GID", String::from_utf8_lossy(&gid.stdout).trim())
            .env("DOCKER_SOCKET", self.engine.socket())
            .env("SNIPBOX_SANDBOXES_ONLY", SANDBOXES)
            .env("SNIPBOX_INSTANCE", &self.project)
            .env("SNIPBOX_BUILD_NETWORK", "host")
            .envs(self.settings.lock().unwrap().clone())
            .output()
            .expect("docker compose runs")
    }

    /// A deploy: `up -d --build`, which must succeed; what the builder
    /// printed this time, and how long it all took.
    fn up(&self) -> (String, Duration) {
        let started = Instant::now();
        let out = self.compose(&["up", "-d", "--build"]);
        let took = started.elapsed();
        // The engine's own log of the container (compose decorates its
        // copy), from its last start on: a deploy starts it again.
        let logs = self
            .engine
            .docker()
            .args(["logs", &self.container("images")])
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
        let builder = all
            .rfind("snipbox images: ")
            .map_or(all.as_str(), |at| &all[at..])
            .to_string();
        assert!(
            out.status.success(),
            "docker compose up failed:\n{}\n--- the builder's log ---\n{builder}",
            String::from_utf8_lossy(&out.stderr)
        );
        (builder, took)
    }

    fn logs(&self) -> String {
        String::from_utf8_lossy(&self.compose(&["logs", "--no-color"]).stdout).to_string()
    }

    /// The id of the image `image` on the test engine.
    fn image_id(&self, image: &str) -> String {
        self.engine
            .output(&["image", "inspect", "-f", "{{.Id}}", image])
    }

    fn container(&self, service: &str) -> String {
        let out = self.compose(&["ps", "-aq", service]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The one-shot `images` service ran to its end, successfully.
    fn builder_exited_ok(&self) {
        let exited = self.engine.output(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &self.container("images"),
        ]);
        assert_eq!(exited, "exited 0", "the builder; logs:\n{}", self.logs());
    }

    /// `/v1/health` is ok, then a Python run works, through the port.
    async fn serves(&self) {
        let base = format!("http://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let health = client().get(format!("{base}/v1/health")).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "never healthy; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        python_prints(&base, "print(6 * 7)", "42\n").await;
    }

    /// The answer to a run of `code` in `sandbox`, through the port.
    async fn exec(&self, sandbox: &str, code: &str) -> serde_json::Value {
        let resp = client()
            .post(format!("http://127.0.0.1:{}/v1/exec", self.port))
            .json(&request(sandbox, code))
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap()
    }

    /// `down`: the server stops and removes its containers.
    fn down(&self) {
        let out = self.compose(&["down", "--remove-orphans"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left = self.engine.containers(&self.project);
        assert!(left.is_empty(), "containers left behind: {left:?}");
    }
}

/// The names of the sandboxes a builder's log says it built, and of those
/// it found unchanged.
fn built_and_unchanged(log: &str) -> (Vec<String>, Vec<String>) {
    let names = |what: &str| -> Vec<String> {
        let mut names: Vec<String> = log
            .lines()
            .filter_map(|l| {
                l.split_once(": ")
                    .filter(|(_, rest)| rest.starts_with(what))
            })
            .map(|(name, _)| name.to_string())
            .collect();
        names.sort();
        names
    };
    (names("built in"), names("unchanged"))
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_up_builds_everything_then_nothing_then_only_what_changed() {
    let engine = engine();
    assert!(!engine.has_image("snipbox:latest") && !engine.has_image("snipbox/python:latest"));
    let checkout = checkout();
    let deploy = Deployment::new(&engine, checkout.path(), "docker-compose.yml");

    let (log, took) = deploy.up();
    eprintln!("first deploy: {:.0} s", took.as_secs_f64());
    assert_eq!(
        built_and_unchanged(&log),
        (strings(&["bash", "python"]), vec![]),
        "{log}"
    );
    deploy.serves().await;
    deploy.builder_exited_ok();
    let server = deploy.image_id("snipbox:latest");
    let python = deploy.image_id("snipbox/python:latest");

    // The same commit again: nothing is built.
    let (log, took) = deploy.up();
    eprintln!("second deploy: {:.0} s", took.as_secs_f64());
    assert_eq!(
        built_and_unchanged(&log),
        (vec![], strings(&["bash", "python"])),
        "{log}"
    );
    assert!(log.contains("0 built, 2 up to date"), "{log}");
    assert_eq!(deploy.image_id("snipbox:latest"), server);
    assert_eq!(deploy.image_id("snipbox/python:latest"), python);
    deploy.serves().await;

    // One sandbox's file changes: that image only.
    let dockerfile = checkout.path().join("sandboxes/bash/Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).unwrap();
    text.push_str("ENV SNIPBOX_DEPLOYED=again\n");
    std::fs::write(&dockerfile, text).unwrap();
    let (log, _) = deploy.up();
    assert_eq!(
        built_and_unchanged(&log),
        (strings(&["bash"]), strings(&["python"])),
        "{log}"
    );
    assert_eq!(deploy.image_id("snipbox/python:latest"), python);
    deploy.serves().await;
    let answer = deploy.exec("bash", "echo $SNIPBOX_DEPLOYED").await;
    assert_eq!(answer["stdout"], "again\n", "{answer}");

    // An operator's own sandbox, from a folder on the host outside the
    // checkout: built on bash's image with its package, and served.
    let own = tempfile::tempdir().unwrap();
    std::fs::create_dir(own.path().join("bash-jq")).unwrap();
    std::fs::copy(
        root().join("examples/sandboxes/bash-jq/sandbox.toml"),
        own.path().join("bash-jq/sandbox.toml"),
    )
    .unwrap();
    deploy.set("SNIPBOX_OWN_SANDBOXES", own.path().to_str().unwrap());
    deploy.set("SNIPBOX_SANDBOXES_ONLY", &format!("{SANDBOXES},bash-jq"));
    let (log, _) = deploy.up();
    assert_eq!(
        built_and_unchanged(&log),
        (strings(&["bash-jq"]), strings(&["bash", "python"])),
        "{log}"
    );
    deploy.serves().await;
    let answer = deploy
        .exec("bash-jq", "echo '[1, 2, 3]' | jq -c 'map(. * 2)'")
        .await;
    assert_eq!(answer["stdout"], "[2,4,6]\n", "{answer}");
    deploy.down();
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_up_of_the_guard_variant_builds_with_the_socket_and_serves_without() {
    let engine = engine();
    let checkout = checkout();
    let deploy = Deployment::new(&engine, checkout.path(), "docker-compose.proxy.yml");
    let (log, _) = deploy.up();
    assert_eq!(
        built_and_unchanged(&log),
        (strings(&["bash", "python"]), vec![]),
        "{log}"
    );
    deploy.serves().await;
    // The engine's socket: the guard's, and the builder's, which has
    // exited; the guard's socket: the guard's and the server's; the
    // operator's sandboxes, read-only, for all three.
    let mounts = |service: &str| {
        let out = engine.output(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Destination}} {{end}}",
            &deploy.container(service),
        ]);
        let mut mounts: Vec<String> = out.split_whitespace().map(String::from).collect();
        mounts.sort();
        mounts
    };
    assert_eq!(
        mounts("guard"),
        [
            "/run/snipbox-guard",
            "/srv/snipbox/sandboxes",
            "/var/run/docker.sock"
        ]
    );
    assert_eq!(
        mounts("images"),
        ["/srv/snipbox/sandboxes", "/var/run/docker.sock"]
    );
    assert_eq!(
        mounts("snipbox"),
        ["/run/snipbox-guard", "/srv/snipbox/sandboxes"]
    );
    deploy.builder_exited_ok();
    a_stranger_on_the_stacks_network_reaches_the_server_and_no_guard(&engine, &deploy);
    deploy.down();
}

/// A container of nobody's on the stack's network, as Coolify's proxy or
/// another service of the stack would be: the server answers it, the guard
/// is on no network at all, and its socket is in a volume the stranger
/// does not have.
fn a_stranger_on_the_stacks_network_reaches_the_server_and_no_guard(
    engine: &TestEngine,
    deploy: &Deployment<'_>,
) {
    let network = format!("{}_default", deploy.project);
    let stranger = |script: &str| {
        let out = engine
            .docker()
            .args([
                "run",
                "--rm",
                "--network",
                &network,
                SEEDS[2],
                "bash",
                "-c",
                script,
            ])
            .output()
            .expect("docker runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let server = stranger(
        "exec 3<>/dev/tcp/snipbox/8080 && printf 'GET /v1/health HTTP/1.0\\r\\n\\r\\n' >&3 \
         && timeout 10 head -c 12 <&3",
    );
    assert!(
        server.starts_with("HTTP/1.") && server.get(9..12) == Some("200"),
        "the stranger is on the stack's network: {server}"
    );
    let guard = stranger(
        "getent hosts guard || echo no guard by name; \
         timeout 5 bash -c 'exec 3<>/dev/tcp/guard/2375' 2>/dev/null && echo reached || echo not reached; \
         ls /run/snipbox-guard 2>&1 | head -1",
    );
    assert!(
        guard.starts_with("no guard by name\nnot reached\n") && guard.contains("No such file"),
        "{guard}"
    );
    let guard_container = deploy.container("guard");
    assert_eq!(
        engine.output(&[
            "inspect",
            "-f",
            "{{.HostConfig.NetworkMode}} {{range $n, $_ := .NetworkSettings.Networks}}{{$n}}{{end}}",
            &guard_container,
        ]),
        "none none",
        "the guard is on no network"
    );
}

#[test]
fn both_compose_files_validate() {
    for file in ["docker-compose.yml", "docker-compose.proxy.yml"] {
        run(Command::new("docker")
            .current_dir(root())
            .args(["compose", "-f", file, "config", "-q"]));
    }
}

#[test]
fn the_server_and_the_guard_run_read_only_without_capabilities() {
    for (file, services) in [
        ("docker-compose.yml", &["snipbox"][..]),
        ("docker-compose.proxy.yml", &["snipbox", "guard"][..]),
    ] {
        let out = Command::new("docker")
            .current_dir(root())
            .args(["compose", "-f", file, "config", "--format", "json"])
            .output()
            .expect("docker compose runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        for name in services {
            let s = &config["services"][name];
            assert_eq!(s["read_only"], true, "{file}: {name}");
            assert_eq!(s["cap_drop"], serde_json::json!(["ALL"]), "{file}: {name}");
            assert_eq!(
                s["security_opt"],
                serde_json::json!(["no-new-privileges:true"]),
                "{file}: {name}"
            );
        }
    }
}

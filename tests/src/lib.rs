//! A harness for end-to-end tests: starts the real `snipbox` binary against
//! the real Docker engine, talks to it over loopback HTTP, and inspects the
//! engine with the `docker` CLI. With `SNIPBOX_TEST_GUARD=1`, every server
//! reaches the engine through a `snipbox-guard` of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use snipbox_wire::api::{ExecRequest, ExecResponse};

pub mod browser;
pub mod docker_run;
pub mod engine;
pub mod measure;
pub mod sites;
pub mod traffic;

/// The repository's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// The server binary: `SNIPBOX_BIN`, or the workspace's debug build.
pub fn server_binary() -> PathBuf {
    binary("SNIPBOX_BIN", "snipbox", "snipbox")
}

/// The workspace's target folder: `CARGO_TARGET_DIR`, or `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The agent this workspace builds for this machine (`make images` does),
/// wherever the target folder is.
pub fn agent_binary() -> PathBuf {
    target_dir().join(format!(
        "{}-unknown-linux-musl/release/snipbox-agent",
        std::env::consts::ARCH
    ))
}

/// Where tests keep what is slow to make and always rebuildable (a test
/// engine's images and build layers) across checkouts, as the machine's
/// engine keeps its image cache: `SNIPBOX_TEST_CACHE`, or
/// `/var/cache/snipbox-tests` when it can be written, or the target folder.
pub fn machine_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("SNIPBOX_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let shared = PathBuf::from("/var/cache/snipbox-tests");
    if std::fs::create_dir_all(&shared).is_ok() {
        shared
    } else {
        target_dir()
    }
}

/// A binary of this workspace: `$var`, or the workspace's debug build.
fn binary(var: &str, name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join(name));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {package}` first (`make test` does)",
        path.display()
    );
    path
}

/// The guard binary: `SNIPBOX_GUARD_BIN`, or the workspace's debug build.
pub fn guard_binary() -> PathBuf {
    binary("SNIPBOX_GUARD_BIN", "snipbox-guard", "snipbox-guard")
}

/// Whether servers reach the engine through a guard (`SNIPBOX_TEST_GUARD=1`).
pub fn through_guard() -> bool {
    std::env::var("SNIPBOX_TEST_GUARD").is_ok_and(|v| v == "1")
}

/// Lets `cmd` receive SIGTERM when the thread that started it ends, so
/// nothing outlives a test process that dies.
pub fn end_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and only sets a flag of the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// The machine's load average over 1, 5 and 15 minutes, as
/// `/proc/loadavg` has it, for messages that must tell a loaded machine
/// from a regression.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Makes every failing test of this process say the machine's load when
/// it failed (after its own message). Called by whatever starts a server.
fn report_load_on_failure() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!(
                "(load average when this failed: {}; {} cores)",
                load_average(),
                std::thread::available_parallelism().map_or(0, |n| n.get())
            );
        }));
    });
}

/// Sends SIGTERM to a child and waits for it.
fn terminate(child: &mut Child) {
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
}

/// Sends a process's log (stdout, where tracing writes) and whatever it
/// prints to stderr (a panic) to one file.
fn log_to(cmd: &mut Command, path: &Path) {
    let file = std::fs::File::create(path).expect("log file");
    cmd.stdout(file.try_clone().expect("log file")).stderr(file);
}

/// Waits up to 30 s until something listens on `addr` (`host:port`).
fn listening(addr: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A running `snipbox-guard` on a loopback port, in front of the real
/// engine, for the deployment `instance`.
pub struct Guard {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: PathBuf,
}

impl Guard {
    /// Starts a guard for `instance` with the repository's sandboxes and
    /// waits until it listens.
    pub fn start(instance: &str) -> Guard {
        Guard::start_with(instance, &[])
    }

    /// Starts a guard for a server with the settings `server_env`: the
    /// server's overrides that change its create bodies are the guard's too.
    pub fn start_with(instance: &str, server_env: &[(&str, &str)]) -> Guard {
        let addr = format!("127.0.0.1:{}", browser::free_port());
        let log = std::env::temp_dir().join(format!("snipbox-guard-{instance}.log"));
        let mut cmd = Command::new(guard_binary());
        cmd.env("SNIPBOX_GUARD_LISTEN", &addr)
            .env("SNIPBOX_GUARD_SANDBOXES", test_sandboxes())
            .env("SNIPBOX_GUARD_INSTANCE", instance)
            .env("RUST_LOG", "info,snipbox_guard=debug");
        log_to(&mut cmd, &log);
        // The server inherits this process's environment, then `server_env`.
        for knob in ["RUNTIME", "IMAGE_REPOSITORY", "SANDBOXES"] {
            let name = format!("SNIPBOX_{knob}");
            let inherited = std::env::var(&name).ok();
            let given = server_env
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string());
            if let Some(v) = given.or(inherited) {
                cmd.env(format!("SNIPBOX_GUARD_{knob}"), v);
            }
        }
        end_with_parent(&mut cmd);
        let guard = Guard {
            child: cmd.spawn().expect("the guard starts"),
            addr,
            log,
        };
        assert!(
            listening(&guard.addr),
            "the guard did not start; its log:\n{}",
            guard.log()
        );
        guard
    }

    /// The `DOCKER_HOST` that reaches the engine through this guard.
    pub fn docker_host(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// A running `snipbox` process with its own instance name, so that its
/// containers can be told apart from other tests' servers.
pub struct Server {
    child: Child,
    pub base: String,
    pub instance: String,
    log: PathBuf,
    /// The server's guard, if it has one; it ends after the server, whose
    /// shutdown removes containers through it.
    guard: Option<Guard>,
}

impl Server {
    /// Starts a server with extra `SNIPBOX_*` settings and waits until it
    /// answers; through a guard of its own when [`through_guard`] and the
    /// settings name no `DOCKER_HOST`.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let server = Server::spawn(env);
        server.wait_until_up();
        server
    }

    /// Starts a server with extra `SNIPBOX_*` settings, without waiting.
    pub fn spawn(env: &[(&str, &str)]) -> Server {
        report_load_on_failure();
        let port = browser::free_port();
        let instance = env
            .iter()
            .find(|(k, _)| *k == "SNIPBOX_INSTANCE")
            .map_or_else(
                || format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                |(_, v)| v.to_string(),
            );
        let log = std::env::temp_dir().join(format!("snipbox-{instance}.log"));
        let mut cmd = Command::new(server_binary());
        cmd.current_dir(root())
            .env("SNIPBOX_LISTEN", format!("127.0.0.1:{port}"))
            .env("SNIPBOX_INSTANCE", &instance)
            .env("SNIPBOX_SANDBOXES", test_sandboxes())
            .env("SNIPBOX_STATIC", root().join("static"))
            // The agent package images are built with: this workspace's.
            .env("SNIPBOX_AGENT", agent_binary())
            .env("RUST_LOG", "info,snipbox=debug")
            // Tests send many runs from one address; those about the rate
            // limit turn it back on.
            .env("SNIPBOX_RATE_LIMIT", "0");
        log_to(&mut cmd, &log);
        let guard = (through_guard() && !env.iter().any(|(k, _)| *k == "DOCKER_HOST"))
            .then(|| Guard::start_with(&instance, env));
        if let Some(guard) = &guard {
            cmd.env("DOCKER_HOST", guard.docker_host());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        // If the test process dies, the server gets SIGTERM and cleans up.
        end_with_parent(&mut cmd);
        let child = cmd.spawn().expect("the server starts");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            instance,
            log,
            guard,
        }
    }

    fn wait_until_up(&self) {
        if !listening(self.base.trim_start_matches("http://")) {
            panic!("the server did not start; its log:\n{}", self.log());
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log, and its guard's after it.
    pub fn log(&self) -> String {
        let server = std::fs::read_to_string(&self.log).unwrap_or_default();
        match &self.guard {
            Some(guard) => format!("{server}\n--- its guard's log ---\n{}", guard.log()),
            None => server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What `GET /v1/sandboxes` lists.
    pub async fn sandboxes(&self) -> Vec<snipbox_wire::api::SandboxInfo> {
        reqwest::get(self.url("/v1/sandboxes"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("server alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(mut self, within: Duration) -> ExitStatus {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {within:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// IDs of the containers this server owns now.
    pub fn containers(&self) -> Vec<String> {
        containers(&format!("snipbox.instance={}", self.instance))
    }

    /// Waits until this server's only container runs its program: the
    /// container, its agent's host process and the program's (the agent's
    /// child; `None` under gVisor, where the host sees the sandbox's
    /// kernel). A container exists before it runs, and its agent before
    /// the program: on a busy host each step can take seconds.
    pub fn wait_running(&self) -> (String, u32, Option<u32>) {
        let mut seen = None;
        let running = eventually(Duration::from_secs(60), || {
            let Some(id) = self.containers().pop() else {
                return false;
            };
            let agent = host_pid(&id);
            let children = std::fs::read_to_string(format!("/proc/{agent}/task/{agent}/children"))
                .unwrap_or_default();
            let program = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok());
            seen = Some((id, agent, program));
            agent != 0 && (gvisor() || program.is_some())
        });
        assert!(running, "the run never started: {seen:?}");
        seen.expect("seen")
    }

    /// Starts a run in the background, as a client would.
    pub fn spawn_exec(
        &self,
        req: ExecRequest,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let url = self.url("/v1/exec");
        tokio::spawn(async move { client().post(url).json(&req).send().await })
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Posts `req` to `/v1/exec` and returns the raw answer.
    pub async fn post_exec(&self, req: &ExecRequest) -> reqwest::Response {
        client()
            .post(self.url("/v1/exec"))
            .json(req)
            .send()
            .await
            .expect("request sent")
    }

    /// Posts `req` to `/v1/exec` and expects a 200 with the API's JSON.
    pub async fn exec(&self, req: &ExecRequest) -> ExecResponse {
        let resp = self.post_exec(req).await;
        let status = resp.status();
        let body = resp.text().await.expect("body");
        assert!(status.is_success(), "status {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// One server shared by the tests that need no settings of their own. It
/// is started from a thread that never ends, because the parent-death
/// signal follows the thread that spawned the child.
pub fn shared() -> &'static Server {
    static SHARED: OnceLock<&'static Server> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let server: &'static Server = Box::leak(Box::new(Server::start(&[])));
            tx.send(server).expect("the test waits");
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the shared server starts")
    })
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A request for `sandbox` with `code` as its entry file.
pub fn request(sandbox: &str, code: &str) -> ExecRequest {
    ExecRequest {
        sandbox: sandbox.into(),
        files: [(String::new(), code.to_string())].into_iter().collect(),
        ..ExecRequest::default()
    }
}

/// The run token: the last part of a run id, also its containers' label.
pub fn token(id: &str) -> &str {
    id.rsplit('_').next().expect("an id")
}

/// IDs of containers with the given label filter (`key=value`).
pub fn containers(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={label}")])
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// When the engine removed a container (its `destroy` event), looked up
/// once the container is gone: the engine's own clock, not the time a
/// caller polling `docker ps` happened to notice.
pub fn removed_at(container: &str, since: SystemTime) -> Option<SystemTime> {
    engine_event_at(container, "destroy", since)
}

/// When the engine recorded `event` (`die`, `destroy`...) of a container
/// after `since`, by its own clock.
pub fn engine_event_at(container: &str, event: &str, since: SystemTime) -> Option<SystemTime> {
    let unix = |t: SystemTime| {
        let d = t.duration_since(UNIX_EPOCH).expect("after 1970");
        format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
    };
    let out = Command::new("docker")
        .args([
            "events",
            "--since",
            &unix(since),
            "--until",
            &unix(SystemTime::now()),
        ])
        .args(["--filter", &format!("container={container}")])
        .args([
            "--filter",
            &format!("event={event}"),
            "--format",
            "{{.TimeNano}}",
        ])
        .output()
        .expect("the docker CLI runs");
    let nanos: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// Waits up to `within` for `check` to hold; false if it never did.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the run's container is gone, waiting for the removal that
/// happens off the response path (seconds on a loaded engine, or under
/// gVisor, where the server removes what the engine does not).
pub fn run_container_gone(id: &str) -> bool {
    let label = format!("snipbox.run={}", token(id));
    eventually(Duration::from_secs(30), || containers(&label).is_empty())
}

/// One Server-Sent Event and when it arrived.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub at: Instant,
}

impl SseEvent {
    /// The event's data as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// Reads the events of a streaming answer as they arrive.
pub struct SseReader {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        let content_type = resp.headers()["content-type"].to_str().unwrap_or_default();
        assert!(
            content_type.starts_with("text/event-stream"),
            "not a stream: {content_type}"
        );
        SseReader {
            resp,
            buf: Vec::new(),
        }
    }

    /// The next event (keep-alive comments skipped); `None` at the end.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8(block).expect("events are UTF-8");
                let (mut event, mut data) = (String::new(), Vec::new());
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                return Some(SseEvent {
                    event,
                    data: data.join("\n"),
                    at: Instant::now(),
                });
            }
            let chunk = self.resp.chunk().await.ok()??;
            self.buf.extend_from_slice(&chunk);
        }
    }
}

impl Server {
    /// Posts `req` asking for the streaming form.
    pub async fn post_stream(&self, req: &ExecRequest) -> reqwest::Response {
        client()
            .post(self.url("/v1/exec"))
            .header("accept", "text/event-stream")
            .json(req)
            .send()
            .await
            .expect("request sent")
    }
}

/// The wall clock in seconds, which a program in a container reads too
/// (`time.time()`), so latencies can be measured across the two.
pub fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

impl Server {
    /// Waits until `sandbox` has a warm container ready (its pool's gauge).
    pub async fn wait_warm(&self, sandbox: &str) {
        let gauge = format!("snipbox_warm_containers{{sandbox=\"{sandbox}\"}} ");
        let warm = |metrics: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&gauge))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        };
        let found = self.metrics_until(Duration::from_secs(60), warm).await;
        assert!(warm(&found), "{sandbox} never had a warm container");
    }

    /// Polls `/metrics` until `check` holds of its text or `within` has
    /// passed; the last text read.
    pub async fn metrics_until(&self, within: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.metrics().await;
            if check(&text) || Instant::now() >= deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A limit of a sandbox as the test servers have it (see
/// [`test_sandboxes`]): its `[limits]` table, else `defaults.toml`.
fn limit_value(sandbox: &str, key: &str) -> toml::Value {
    let read = |path: PathBuf| -> toml::Table {
        // A sandbox's own file must exist: an alias ("shell") has none.
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let dir = test_sandboxes();
    let own = read(dir.join(sandbox).join("sandbox.toml"));
    let defaults = read(dir.join("defaults.toml"));
    own.get("limits")
        .and_then(|l| l.get(key))
        .or_else(|| defaults.get(key))
        .cloned()
        .unwrap_or_else(|| panic!("no limit {key} for {sandbox}"))
}

/// An integer limit of a sandbox (see [`limit_value`]).
pub fn limit(sandbox: &str, key: &str) -> i64 {
    limit_value(sandbox, key)
        .as_integer()
        .unwrap_or_else(|| panic!("{key} is not an integer"))
}

/// A limit of a sandbox that may have a fraction (`cpus`).
pub fn limit_f64(sandbox: &str, key: &str) -> f64 {
    let v = limit_value(sandbox, key);
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .unwrap_or_else(|| panic!("{key} is not a number"))
}

/// Whether the servers under test run sandboxes under gVisor
/// (`SNIPBOX_RUNTIME=runsc`): some behaviours differ there, and the tests
/// that meet them say how.
pub fn gvisor() -> bool {
    std::env::var("SNIPBOX_RUNTIME").is_ok_and(|r| r == "runsc")
}

/// The host process of a container (its init, or gVisor's sandbox).
pub fn host_pid(container: &str) -> u32 {
    // A loaded engine may fail a call now and then: three tries, and the
    // engine's own words if all fail.
    let mut said = String::new();
    for _ in 0..3 {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Pid}}", container])
            .output()
            .expect("the docker CLI runs");
        if let Ok(pid) = String::from_utf8_lossy(&out.stdout).trim().parse() {
            return pid;
        }
        said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!(
        "no host process for {container}: docker inspect said {said:?} (load average {})",
        load_average()
    )
}

/// CPU time a container has used, in ns, as the host's cgroup counts it
/// (whatever the runtime shows inside).
pub fn host_cpu_ns(container: &str) -> u64 {
    let pid = host_pid(container);
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("its cgroups");
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if controllers.split(',').any(|c| c == "cpuacct") {
            let file = format!("/sys/fs/cgroup/{controllers}{path}/cpuacct.usage");
            let alt = format!("/sys/fs/cgroup/cpuacct{path}/cpuacct.usage");
            let text = std::fs::read_to_string(&file).or_else(|_| std::fs::read_to_string(&alt));
            return text
                .expect("cpuacct.usage")
                .trim()
                .parse()
                .expect("a number");
        }
        if controllers.is_empty() {
            let stat = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cpu.stat"))
                .expect("cpu.stat");
            let usec: u64 = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse().ok())
                .expect("usage_usec");
            return usec * 1000;
        }
    }
    panic!("no CPU accounting for {container}: {cgroups}");
}

/// How many times the shipped time limits the test servers' sandboxes
/// have: `SNIPBOX_TEST_TIME_SCALE`, default 3 (see [`test_sandboxes`]).
pub fn time_scale() -> i64 {
    std::env::var("SNIPBOX_TEST_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(3)
}

/// The sandbox definitions every test server and guard reads unless a test
/// names its own: a copy of `sandboxes/`, made once per test process, with
/// every run's time limit (`timeout_ms`) [`time_scale`] times the shipped
/// one (and `prepare_timeout_ms` as far as the server allows). A test whose subject is not the time limit must
/// not fail because a loaded machine, or gVisor, made a compiler slow; the
/// tests of the limits read them with [`limit`] and see them enforced.
pub fn test_sandboxes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        // Copies of test processes that have ended.
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("snipbox-test-sandboxes-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = tmp.join(format!("snipbox-test-sandboxes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the test sandboxes");
        copy_scaled(&root().join("sandboxes"), &dir, time_scale());
        dir
    })
}

/// Copies the sandbox definitions in `from` to `to`, every time limit
/// multiplied by `scale`.
fn copy_scaled(from: &Path, to: &Path, scale: i64) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success(), "copying {}", from.display());
    // A `prepare` must end within a container's launch: the server bounds
    // its limit (25 s), and the test copy goes up to that bound only.
    let scale_keys = |table: &mut toml::Table| {
        for (key, most) in [("timeout_ms", i64::MAX), ("prepare_timeout_ms", 25_000)] {
            if let Some(toml::Value::Integer(ms)) = table.get_mut(key) {
                *ms = (*ms * scale).min(most.max(*ms));
            }
        }
    };
    edit_toml(&to.join("defaults.toml"), |t| scale_keys(t));
    for e in std::fs::read_dir(to).expect("the copy").flatten() {
        let file = e.path().join("sandbox.toml");
        if file.exists() {
            edit_toml(&file, |t| {
                if let Some(toml::Value::Table(limits)) = t.get_mut("limits") {
                    scale_keys(limits);
                }
            });
        }
    }
}

fn edit_toml(path: &Path, edit: impl FnOnce(&mut toml::Table)) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    edit(&mut table);
    std::fs::write(path, toml::to_string(&table).expect("TOML")).expect("written");
}

/// A copy of the test servers' sandbox definitions ([`test_sandboxes`])
/// with some limits changed: `(sandbox, key, value)`. Keep it while the
/// server runs.
pub fn sandboxes_with(limits: &[(&str, &str, toml::Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    copy_scaled(test_sandboxes(), dir.path(), 1);
    for (sandbox, key, value) in limits {
        edit_toml(&dir.path().join(sandbox).join("sandbox.toml"), |table| {
            let section = table
                .entry("limits")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            section
                .as_table_mut()
                .expect("a [limits] table")
                .insert(key.to_string(), value.clone());
        });
    }
    dir
}

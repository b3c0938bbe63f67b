//! A Docker engine of a test's own: its own socket, data root, exec root,
//! pid file and bridge, so that stopping it, filling it or emptying it
//! disturbs nothing else on the machine's engine.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::eventually;

/// A dockerd of the test's own, stopped and cleaned up when dropped.
pub struct TestEngine {
    /// Its socket, exec root, pid file and log (short paths: socket
    /// paths have a length limit).
    dir: PathBuf,
    /// Its data root: under `dir`, or a cache that outlives the test.
    data: PathBuf,
    /// Held while a cached data root is in use: one engine at a time.
    _lock: Option<std::fs::File>,
    /// Its bridge: `--bridge=none` would make dockerd delete the machine
    /// engine's docker0, so it gets an (unused) bridge of its own.
    bridge: String,
    child: Option<Child>,
}

impl TestEngine {
    /// An engine with an empty data root of its own.
    pub fn start() -> TestEngine {
        TestEngine::start_on(None)
    }

    /// An engine on the data root `data`, kept when the engine ends (a
    /// cache of images and build layers, all rebuildable). One engine at a
    /// time uses it: this waits for any other. Containers and networks an
    /// earlier engine left there are removed first.
    pub fn start_cached(data: &Path) -> TestEngine {
        let engine = TestEngine::start_on(Some(data));
        let leftovers = engine.output(&["ps", "-aq"]);
        if !leftovers.is_empty() {
            let mut rm = engine.docker();
            rm.args(["rm", "-f"]).args(leftovers.split_whitespace());
            let _ = rm.output();
        }
        let _ = engine.docker().args(["network", "prune", "-f"]).output();
        engine
    }

    fn start_on(cached: Option<&Path>) -> TestEngine {
        let id = uuid::Uuid::new_v4().simple().to_string()[..6].to_string();
        let dir = PathBuf::from(format!("/tmp/sbx-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let lock = cached.map(|data| {
            std::fs::create_dir_all(data).unwrap();
            let lock = std::fs::File::create(data.with_extension("lock")).unwrap();
            // SAFETY: flock on a file this process holds open.
            let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
            assert_eq!(locked, 0, "cannot lock {}", data.display());
            lock
        });
        let bridge = format!("sbx-{id}");
        let made = Command::new("ip")
            .args(["link", "add", &bridge, "type", "bridge"])
            .status()
            .unwrap();
        assert!(made.success(), "cannot make bridge {bridge}");
        let mut engine = TestEngine {
            data: cached.map_or_else(|| dir.join("data"), Path::to_owned),
            dir,
            _lock: lock,
            bridge,
            child: None,
        };
        engine.restart();
        engine
    }

    /// Its folder: socket, exec root, log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its address, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// The docker CLI, talking to this engine.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", self.host());
        cmd
    }

    /// What `docker ARGS` prints on this engine (trimmed), whether it
    /// succeeds or not.
    pub fn output(&self, args: &[&str]) -> String {
        let out = self.docker().args(args).output().expect("docker runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn answers(&self) -> bool {
        self.docker()
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts (again) on the same folders.
    pub fn restart(&mut self) {
        let d = &self.dir;
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(d.join("dockerd.log"))
            .unwrap();
        let mut cmd = Command::new("dockerd");
        cmd.arg("--host")
            .arg(self.host())
            .arg("--data-root")
            .arg(&self.data)
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg(format!("--bridge={}", self.bridge))
            .args(["--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(log);
        // A test process that dies takes its engine with it.
        crate::end_with_parent(&mut cmd);
        let child = cmd.spawn().expect("dockerd starts");
        self.child = Some(child);
        assert!(
            eventually(Duration::from_secs(30), || self.answers()),
            "the test engine did not start"
        );
    }

    /// The engine stops, as with `systemctl stop docker`: it stops its
    /// containers and exits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill only sends a signal to our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Copies an image from the machine's engine into this one.
    pub fn load(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let status = self
            .docker()
            .arg("load")
            .stdin(save.stdout.take().unwrap())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success() && save.wait().unwrap().success(),
            "cannot load {image}"
        );
    }

    /// Whether this engine has an image of that name.
    pub fn has_image(&self, image: &str) -> bool {
        self.docker()
            .args(["image", "inspect", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// IDs of the containers of the deployment `instance`.
    pub fn containers(&self, instance: &str) -> Vec<String> {
        self.output(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=snipbox.instance={instance}"),
        ])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Remove what is left, stop, and clean the folders.
            let ids = self.output(&["ps", "-aq"]);
            if !ids.is_empty() {
                let mut rm = self.docker();
                rm.args(["rm", "-f"]).args(ids.split_whitespace());
                let _ = rm.output();
            }
            self.stop();
        }
        // What dockerd mounted under its folders (its network namespace
        // file, among others), innermost first.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in ours {
            let _ = Command::new("umount").arg(mount).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

//! `snipbox images` on the machine's engine, building into an image
//! repository of the test's own (removed afterwards): what it rebuilds and
//! what it leaves, and how it fails — a broken Dockerfile, a base image no
//! one can pull, no right to build (through snipbox-guard), and a socket it
//! may not use.

use std::path::{Path, PathBuf};
use std::process::Command;

use snipbox_tests::{Guard, root, server_binary};

use super::{docker, server_image, socket_gid};

/// A sandboxes folder of the test's own, and the image repository its
/// images are built into; the images are removed when dropped.
struct Sandboxes {
    dir: tempfile::TempDir,
    repository: String,
}

impl Sandboxes {
    /// Sandboxes named `names`, each with a plain `sandbox.toml` and the
    /// Dockerfile `FROM debian:trixie-slim` plus `steps`.
    fn new(names: &[(&str, &str)]) -> Sandboxes {
        let dir = tempfile::tempdir().unwrap();
        let defaults = root().join("sandboxes/defaults.toml");
        std::fs::copy(defaults, dir.path().join("defaults.toml")).unwrap();
        for (name, steps) in names {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(
                dir.path().join(name).join("sandbox.toml"),
                "title = \"T\"\nlanguage = \"bash\"\n[commands.run]\nentry = \"main.sh\"\n\
                 steps = [[\"bash\", \"main.sh\"]]\n",
            )
            .unwrap();
            let dockerfile = format!("FROM debian:trixie-slim\n{steps}\n");
            std::fs::write(dir.path().join(name).join("Dockerfile"), dockerfile).unwrap();
        }
        let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
        Sandboxes {
            dir,
            repository: format!("snipbox-test-{id}"),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn append(&self, file: &str, text: &str) {
        let mut old = std::fs::read_to_string(self.path(file)).unwrap();
        old.push_str(text);
        std::fs::write(self.path(file), old).unwrap();
    }

    fn image(&self, name: &str) -> String {
        format!("{}/{name}:latest", self.repository)
    }

    /// `snipbox images` on these sandboxes: whether it succeeded, and what
    /// it printed (stdout, then stderr).
    fn build(&self, agent: &Path, env: &[(&str, &str)]) -> (bool, String) {
        let out = Command::new(server_binary())
            .arg("images")
            .env("SNIPBOX_SANDBOXES", self.dir.path())
            .env("SNIPBOX_IMAGE_REPOSITORY", &self.repository)
            .env("SNIPBOX_AGENT", agent)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// The image's id and its definition label.
    fn inspect(&self, name: &str) -> (String, String) {
        let out = docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{index .Config.Labels \"snipbox.definition\"}}",
            &self.image(name),
        ]);
        let (id, hash) = out.split_once(' ').unwrap();
        (id.into(), hash.into())
    }
}

impl Drop for Sandboxes {
    fn drop(&mut self) {
        let out = Command::new("docker")
            .args(["images", "-q", &format!("{}/*", self.repository)])
            .output()
            .unwrap();
        let ids = String::from_utf8_lossy(&out.stdout).to_string();
        if !ids.trim().is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(ids.split_whitespace())
                .output();
        }
    }
}

/// The static agent `make images` builds.
fn agent() -> PathBuf {
    let path = snipbox_tests::agent_binary();
    assert!(
        path.exists(),
        "{} is missing: `make images` builds it",
        path.display()
    );
    path
}

fn built_and_unchanged(log: &str) -> (Vec<&str>, Vec<&str>) {
    let names = |what: &str| {
        log.lines()
            .filter_map(|l| {
                l.split_once(": ")
                    .filter(|(_, rest)| rest.starts_with(what))
            })
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
    };
    (names("built in"), names("unchanged"))
}

#[test]
fn an_unchanged_sandbox_is_never_rebuilt_and_a_changed_one_always_is() {
    let s = Sandboxes::new(&[("one", "RUN echo 1 > /one"), ("two", "RUN echo 2 > /two")]);
    let agent = agent();
    let (ok, log) = s.build(&agent, &[]);
    assert!(ok, "{log}");
    assert_eq!(
        built_and_unchanged(&log),
        (vec!["one", "two"], vec![]),
        "{log}"
    );
    let row = |name: &str| {
        log.lines()
            .any(|l| l.starts_with(&format!("{name} ")) && l.contains(" built "))
    };
    assert!(row("one") && row("two"), "the table: {log}");
    let entrypoint = docker(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Entrypoint}}",
        &s.image("one"),
    ]);
    assert_eq!(entrypoint, "[\"/usr/local/bin/snipbox-agent\"]");
    let (one, one_hash) = s.inspect("one");
    let (two, _) = s.inspect("two");
    assert!(one_hash.starts_with("sha256:"), "{one_hash}");

    let (ok, log) = s.build(&agent, &[]);
    assert!(ok, "{log}");
    assert_eq!(
        built_and_unchanged(&log),
        (vec![], vec!["one", "two"]),
        "{log}"
    );
    assert!(log.contains("0 built, 2 up to date"), "{log}");

    // A file of one sandbox: that image only. Its old image goes.
    s.append("two/Dockerfile", "RUN echo changed > /two\n");
    // The server's own file is no part of the image.
    s.append("one/sandbox.toml", "# a comment\n");
    let (ok, log) = s.build(&agent, &[]);
    assert!(ok, "{log}");
    assert_eq!(
        built_and_unchanged(&log),
        (vec!["two"], vec!["one"]),
        "{log}"
    );
    assert_eq!(s.inspect("one").0, one);
    assert_ne!(s.inspect("two").0, two);
    let old = Command::new("docker")
        .args(["image", "inspect", &two])
        .output()
        .unwrap();
    assert!(!old.status.success(), "the replaced image is still there");

    // A new agent: every image.
    let new_agent = s.path("agent");
    let mut bytes = std::fs::read(&agent).unwrap();
    bytes.push(0);
    std::fs::write(&new_agent, bytes).unwrap();
    let (ok, log) = s.build(&new_agent, &[]);
    assert!(ok, "{log}");
    assert_eq!(
        built_and_unchanged(&log),
        (vec!["one", "two"], vec![]),
        "{log}"
    );
    assert_ne!(s.inspect("one").1, one_hash);

    // A subset.
    let (ok, log) = s.build(&new_agent, &[("SNIPBOX_SANDBOXES_ONLY", "two")]);
    assert!(
        ok && log.contains("1 sandbox from") && !log.contains("one:"),
        "{log}"
    );
}

#[test]
fn a_broken_dockerfile_names_the_sandbox_and_shows_the_end_of_its_output() {
    let s = Sandboxes::new(&[(
        "broken",
        "RUN echo 'Reading package lists...' && echo 'E: Unable to locate package nosuch' >&2 && exit 100",
    )]);
    let (ok, log) = s.build(&agent(), &[]);
    assert!(!ok, "{log}");
    for needle in [
        "error: sandbox broken failed to build",
        "returned a non-zero code: 100",
        "--- the end of its build output ---",
        "E: Unable to locate package nosuch",
    ] {
        assert!(log.contains(needle), "no {needle:?} in: {log}");
    }
    let missing = Command::new("docker")
        .args(["image", "inspect", &s.image("broken")])
        .output()
        .unwrap();
    assert!(!missing.status.success(), "a failed build leaves no image");
}

#[test]
fn a_base_image_no_one_can_pull_is_named_with_the_fix() {
    let s = Sandboxes::new(&[("orphan", "")]);
    // A registry on a loopback port where nothing listens: the pull fails
    // here, without a request leaving this machine.
    let base = "127.0.0.1:1/snipbox-no-such-base:latest";
    std::fs::write(s.path("orphan/Dockerfile"), format!("FROM {base}\n")).unwrap();
    let (ok, log) = s.build(&agent(), &[]);
    assert!(!ok, "{log}");
    for needle in [
        format!("sandbox orphan: its base image {base} is missing and cannot be pulled"),
        format!("load it into the engine (`docker pull {base}` where a registry answers"),
    ] {
        assert!(log.contains(&needle), "no {needle:?} in: {log}");
    }
}

/// snipbox-guard lets a server run sandboxes and nothing else: no builds,
/// no look-ups of other images.
#[test]
fn through_snipbox_guard_the_refused_call_and_the_fix_are_named() {
    let s = Sandboxes::new(&[]);
    let repo = [("SNIPBOX_IMAGE_REPOSITORY", s.repository.as_str())];
    let guard = Guard::start_with("images-test", &repo);
    let out = Command::new(server_binary())
        .args(["images", "--only", "bash"])
        .env("SNIPBOX_SANDBOXES", root().join("sandboxes"))
        .env("SNIPBOX_IMAGE_REPOSITORY", &s.repository)
        .env("SNIPBOX_AGENT", agent())
        .env("DOCKER_HOST", guard.docker_host())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    for needle in [
        "refused GET /images/debian:trixie-slim/json",
        "snipbox-guard refused",
        "the image builder needs the engine itself",
        "run `snipbox images` with the Docker socket",
    ] {
        assert!(log.contains(needle), "no {needle:?} in: {log}");
    }
}

/// The server image with a GID that is not the socket's: the builder, a
/// member of the wrong group, says which GID to build with.
#[test]
fn a_socket_it_may_not_use_is_named_with_the_gid_to_use() {
    let gid = socket_gid();
    let wrong = if gid == "4242" { "4243" } else { "4242" };
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
        ])
        .args([server_image(wrong).as_str(), "images", "--only", "bash"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    for needle in [
        format!(
            "permission denied on the Docker socket /var/run/docker.sock: it is owned by GID {gid}"
        ),
        format!("DOCKER_GID={gid}"),
    ] {
        assert!(log.contains(&needle), "no {needle:?} in: {log}");
    }
}

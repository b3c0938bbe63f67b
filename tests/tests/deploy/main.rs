//! The deployment, on the real engine: the server's image run by hand
//! (`image`), both compose files deployed as Coolify deploys them on an
//! engine of their own (`compose`), `snipbox images` and how it fails
//! (`builder`), and a rolling update of two servers of one deployment
//! (`rolling`). These are the steps docs/deploy.md gives.

mod builder;
mod compose;
mod image;
mod rolling;

use std::process::{Command, Output};
use std::sync::Mutex;

use snipbox_tests::{client, request, root};

/// Runs a command that must succeed; its output.
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `docker ARGS` on the machine's engine, which must succeed; its output.
fn docker(args: &[&str]) -> String {
    String::from_utf8_lossy(&run(Command::new("docker").args(args)).stdout)
        .trim()
        .to_string()
}

/// The GID that owns the engine's socket, as the guide finds it.
fn socket_gid() -> String {
    String::from_utf8_lossy(
        &run(Command::new("stat").args(["-c", "%g", "/var/run/docker.sock"])).stdout,
    )
    .trim()
    .to_string()
}

/// Builds the server image once per GID on the machine's engine, as the
/// guide does:
/// `docker build --build-arg DOCKER_GID=$(stat -c '%g' /var/run/docker.sock) -t snipbox .`
fn server_image(gid: &str) -> String {
    // One build at a time: the second finds the first's stages cached.
    static BUILDS: Mutex<()> = Mutex::new(());
    let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    run(&mut Command::new(root().join("scripts/rust-image.sh")));
    let tag = format!("snipbox-server:gid{gid}");
    run(Command::new("docker")
        .current_dir(root())
        .env("DOCKER_BUILDKIT", "0")
        .args([
            "build",
            "--quiet",
            "--build-arg",
            &format!("DOCKER_GID={gid}"),
            "--tag",
            &tag,
            ".",
        ]));
    tag
}

/// Runs `code` in the python sandbox through the server at `base` and
/// checks what it printed.
async fn python_prints(base: &str, code: &str, expected: &str) {
    let resp = client()
        .post(format!("{base}/v1/exec"))
        .json(&request("python", code))
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["stdout"], expected, "{answer}");
}

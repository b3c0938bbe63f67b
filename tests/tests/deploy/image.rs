//! The server's own image as docs/deploy.md runs it by hand: a non-root
//! container beside the host's Docker, with the right GID, a wrong one, no
//! socket; a path-filtering socket proxy in front of the host server; and
//! the guard's image with the socket, the server's without.

use std::process::Command;
use std::time::Duration;

use snipbox_tests::{Server, client, eventually, request, root};

use super::{docker, python_prints, run, server_image as image, socket_gid};

/// A container of the server image, removed when dropped.
struct Deployed {
    id: String,
    port: u16,
}

impl Deployed {
    fn start(image: &str, extra: &[&str]) -> Deployed {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let instance = format!("deploy-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let publish = format!("127.0.0.1:{port}:8080");
        let env = format!("SNIPBOX_INSTANCE={instance}");
        let mut args = vec!["run", "-d", "-p", &publish, "-e", &env];
        args.extend_from_slice(extra);
        args.push(image);
        let id = docker(&args);
        let d = Deployed { id, port };
        assert!(
            eventually(Duration::from_secs(30), || std::net::TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "the server never listened; log:\n{}",
            d.logs()
        );
        d
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn logs(&self) -> String {
        let out = Command::new("docker")
            .args(["logs", &self.id])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// `docker stop`: SIGTERM, as Coolify sends; the exit code.
    fn stop(&self) -> String {
        docker(&["stop", "--time", "20", &self.id]);
        docker(&["inspect", "-f", "{{.State.ExitCode}}", &self.id])
    }

    /// `/v1/health`, once the server behind the published port answers
    /// (the port itself accepts connections as soon as the container runs).
    async fn health(&self) -> (u16, String) {
        for _ in 0..300 {
            if let Ok(resp) = client().get(self.url("/v1/health")).send().await {
                return (resp.status().as_u16(), resp.text().await.unwrap());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server never answered; log:\n{}", self.logs());
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}

#[tokio::test]
async fn the_image_runs_code_as_a_non_root_user_in_the_socket_group() {
    let gid = socket_gid();
    let server = Deployed::start(
        &image(&gid),
        &["-v", "/var/run/docker.sock:/var/run/docker.sock"],
    );
    let (status, body) = server.health().await;
    assert_eq!(status, 200, "{body}\n{}", server.logs());

    python_prints(&server.url(""), "print(6 * 7)", "42\n").await;

    // The image carries the widget, built from source.
    for (path, kind) in [
        ("/widget/snipbox.js", "javascript"),
        ("/widget/snipbox_widget_bg.wasm", "application/wasm"),
    ] {
        let resp = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.contains(kind), "{path}: {content_type}");
    }
    // Precompressed at brotli's best quality in the build stage (the server
    // compresses on the fly only where no .br file exists, less well).
    let wasm = server.url("/widget/snipbox_widget_bg.wasm");
    let raw = client()
        .get(&wasm)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let resp = client()
        .get(&wasm)
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "br");
    let sent = resp.bytes().await.unwrap().len();
    let mut best = Vec::new();
    let quality = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &raw[..], &mut best, &quality).unwrap();
    assert!(
        sent * 100 <= best.len() * 101,
        "{sent} bytes sent for {} at brotli's best",
        best.len()
    );

    // The server process itself, seen from the host.
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &server.id]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some("10001"),
        "{uid_line}"
    );
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert!(groups.split_whitespace().any(|g| g == gid), "{groups}");
    assert!(
        !server.logs().contains("running as root"),
        "{}",
        server.logs()
    );

    // The image's HEALTHCHECK command.
    let healthy = docker(&["exec", &server.id, "snipbox", "health"]);
    assert!(healthy.starts_with("200 OK"), "{healthy}");

    assert_eq!(server.stop(), "0", "{}", server.logs());
}

#[tokio::test]
async fn a_wrong_gid_is_explained_with_both_numbers_and_the_fix() {
    let gid = socket_gid();
    let wrong = if gid == "4242" { "4243" } else { "4242" };
    let server = Deployed::start(
        &image(wrong),
        &["-v", "/var/run/docker.sock:/var/run/docker.sock"],
    );
    let (status, body) = server.health().await;
    assert_eq!(status, 503, "{body}");
    for needle in [
        format!("owned by GID {gid}"),
        wrong.to_string(),
        format!("--build-arg DOCKER_GID={gid}"),
        format!("--group-add {gid}"),
    ] {
        assert!(body.contains(&needle), "health lacks {needle:?}: {body}");
        assert!(
            server.logs().contains(&needle),
            "log lacks {needle:?}: {}",
            server.logs()
        );
    }
    let probe = Command::new("docker")
        .args(["exec", &server.id, "snipbox", "health"])
        .output()
        .unwrap();
    assert!(!probe.status.success(), "the HEALTHCHECK must fail");
    // It stays up rather than crash-looping.
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &server.id]);
    assert_eq!(running, "true");
}

#[tokio::test]
async fn without_a_socket_the_address_tried_is_named() {
    let server = Deployed::start(&image(&socket_gid()), &[]);
    let (status, body) = server.health().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unix:///var/run/docker.sock"), "{body}");
    assert!(
        server.logs().contains("unix:///var/run/docker.sock"),
        "{}",
        server.logs()
    );
}

/// haproxy in front of the socket, a path-filtering proxy configured as
/// tecnativa's docker-socket-proxy is with `CONTAINERS=1 POST=1`: /_ping,
/// /version and /containers only, GET, HEAD, POST and DELETE.
struct Proxy {
    child: std::process::Child,
    port: u16,
    _dir: std::path::PathBuf,
}

impl Proxy {
    fn start() -> Proxy {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("snipbox-proxy-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10m\n  timeout server 10m\n  timeout tunnel 1h\n\
                 frontend api\n  bind 127.0.0.1:{port}\n\
                 \x20 http-request deny unless METH_GET || METH_HEAD || METH_POST || {{ method DELETE }}\n\
                 \x20 http-request deny unless {{ path,url_dec -m reg ^(/v[0-9.]+)?/(_ping|version|containers)(/|$) }}\n\
                 \x20 default_backend engine\n\
                 backend engine\n  server docker /var/run/docker.sock\n"
            ),
        )
        .unwrap();
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .spawn()
            .expect("haproxy starts");
        assert!(eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }));
        Proxy {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn runs_work_through_a_proxy_that_refuses_everything_else() {
    let proxy = Proxy::start();
    let docker_host = format!("tcp://127.0.0.1:{}", proxy.port);
    let server = Server::start(&[("DOCKER_HOST", &docker_host), ("SNIPBOX_POOL", "1")]);
    for _ in 0..3 {
        let r = server
            .exec(&request("python", "print('through the proxy')"))
            .await;
        assert_eq!(r.stdout, "through the proxy\n", "{r:?}");
    }
    let health = client().get(server.url("/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // Calls outside the list are refused by the proxy.
    for path in ["/images/json", "/volumes", "/v1.41/networks", "/info"] {
        let resp = client()
            .get(format!("http://127.0.0.1:{}{path}", proxy.port))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
    let exec = client()
        .post(format!(
            "http://127.0.0.1:{}/v1.41/exec/x/start",
            proxy.port
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(exec.status(), 403);
    let instance = server.instance.clone();
    server.stop(Duration::from_secs(20));
    assert!(snipbox_tests::containers(&format!("snipbox.instance={instance}")).is_empty());
}

/// The guard's image (the Dockerfile's `guard` stage), built after the
/// server's so that its build stage is cached.
fn guard_image() -> String {
    image(&socket_gid());
    let tag = "snipbox-guard:test".to_string();
    run(Command::new("docker")
        .current_dir(root())
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--quiet", "--target", "guard", "--tag", &tag, "."]));
    tag
}

/// A network and a guard container on it, both removed when dropped.
struct GuardDeployed {
    network: String,
    id: String,
}

impl Drop for GuardDeployed {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// docker-compose.proxy.yml's deployment, by hand: the guard image holds
/// the socket (non-root, the socket's group added at run time), the server
/// image has none and reaches the engine through the guard.
#[tokio::test]
async fn the_server_image_runs_code_through_the_guard_image() {
    let gid = socket_gid();
    let (server_image, guard_image) = (image(&gid), guard_image());
    let name = format!("deploy-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    docker(&["network", "create", &name]);
    let guard = GuardDeployed {
        network: name.clone(),
        id: docker(&[
            "run",
            "-d",
            "--name",
            &format!("{name}-guard"),
            "--network",
            &name,
            "--group-add",
            &gid,
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-e",
            &format!("SNIPBOX_GUARD_INSTANCE={name}"),
            &guard_image,
        ]),
    };
    let docker_host = format!("DOCKER_HOST=tcp://{name}-guard:2375");
    let instance = format!("SNIPBOX_INSTANCE={name}");
    let server = Deployed::start(
        &server_image,
        &["--network", &name, "-e", &docker_host, "-e", &instance],
    );
    let (status, body) = server.health().await;
    assert_eq!(status, 200, "{body}\n{}", server.logs());
    python_prints(
        &server.url(""),
        "print('through the guard')",
        "through the guard\n",
    )
    .await;
    let uid = docker(&["exec", &guard.id, "id", "-u"]);
    assert_eq!(uid, "10002", "the guard runs as its own non-root user");
    let out = run(Command::new("docker").args(["logs", &guard.id]));
    let logs = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).to_string();
    assert!(logs.contains("created"), "{logs}");
    assert_eq!(server.stop(), "0", "{}", server.logs());
    assert!(snipbox_tests::containers(&format!("snipbox.instance={name}")).is_empty());
}

/// The server's image builds on the platform it is built on (x86_64 or
/// ARM64): the agent's target is the build machine's (`uname -m`), the
/// server and the guard are built for the build machine by default, and
/// no stage names a machine of its own.
#[test]
fn the_dockerfile_builds_for_the_machine_it_is_built_on() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    for machine in ["x86_64", "aarch64", "amd64", "arm64", "--platform"] {
        assert!(
            !dockerfile.contains(machine),
            "the Dockerfile names {machine}"
        );
    }
    let agent_builds: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.contains("-p snipbox-agent"))
        .collect();
    assert!(!agent_builds.is_empty());
    for line in agent_builds {
        assert!(
            line.contains("--target \"$(uname -m)-unknown-linux-musl\""),
            "{line}"
        );
    }
}

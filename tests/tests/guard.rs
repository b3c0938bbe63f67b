//! A compromised server against snipbox-guard, on the real engine. Each
//! test is one attack, sent as the server could send it, and asserts that
//! the guard refused it with a JSON message naming the rule, and that the
//! engine has nothing new of what the suite could have made (containers,
//! images, volumes and networks named after the suite, the swarm state).
//! One test runs the genuine body the server builds and sees its agent
//! start.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use snipbox::engine::spec::{Owner, container_body, create_body};
use snipbox::engine::uids::UidRange;
use snipbox::sandbox::{Catalog, Sandbox};
use snipbox_tests::{Guard, root};

/// The guard under attack, and what the suite made to attack with.
struct Suite {
    guard: Guard,
    /// Part of the name of everything an attack could create.
    id: String,
    /// The deployment the guard is pinned to.
    instance: String,
    /// A running container that is not snipbox's (it removes itself).
    foreign: String,
    /// What the engine held of the suite's names before any attack.
    before: Snapshot,
}

fn suite() -> &'static Suite {
    static SUITE: OnceLock<&'static Suite> = OnceLock::new();
    SUITE.get_or_init(|| {
        // The guard ends with the thread that started it: one that never ends.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
            let instance = format!("guard-attack-{id}");
            let guard = Guard::start(&instance);
            let foreign = docker(&[
                "run",
                "-d",
                "--rm",
                "--network",
                "none",
                "--name",
                &format!("snipbox-attack-foreign-{id}"),
                "--entrypoint",
                "sleep",
                "snipbox/python:latest",
                "300",
            ]);
            let before = Snapshot::take(&id);
            let s: &'static Suite = Box::leak(Box::new(Suite {
                guard,
                id,
                instance,
                foreign,
                before,
            }));
            tx.send(s).expect("the test waits");
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the suite starts")
    })
}

fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What the engine holds whose name carries the suite's id.
#[derive(Debug, PartialEq)]
struct Snapshot {
    containers: Vec<String>,
    images: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
    swarm: String,
}

impl Snapshot {
    fn take(id: &str) -> Snapshot {
        let named = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = docker(args)
                .lines()
                .filter(|l| l.contains(id))
                .map(String::from)
                .collect();
            v.sort();
            v
        };
        Snapshot {
            containers: named(&["ps", "-a", "--format", "{{.Names}}"]),
            images: named(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
            volumes: named(&["volume", "ls", "--format", "{{.Name}}"]),
            networks: named(&["network", "ls", "--format", "{{.Name}}"]),
            swarm: docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]),
        }
    }
}

/// The guard's answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Bytes,
}

/// Sends one request to the guard, exactly as given: the path is not
/// normalised on the way.
async fn send(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(&suite().guard.addr)
        .await
        .expect("the guard listens");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "docker");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(body.into())).expect("a request"))
        .await
        .expect("an answer");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map_or(String::new(), |v| v.to_str().unwrap_or("").to_string());
    let body = resp.into_body().collect().await.expect("a body").to_bytes();
    Answer {
        status,
        content_type,
        body,
    }
}

/// Asserts a refusal: `status`, JSON naming `rule`, a message that says
/// `says`; and that the engine has nothing new.
fn assert_refused(a: &Answer, status: u16, rule: &str, says: &str) {
    let text = String::from_utf8_lossy(&a.body);
    assert_eq!(a.status, status, "{text}");
    assert_eq!(a.content_type, "application/json", "{text}");
    let v: Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["rule"], rule, "{text}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("snipbox-guard refused "), "{text}");
    assert!(message.contains(says), "{message:?} lacks {says:?}");
    assert_eq!(
        Snapshot::take(&suite().id),
        suite().before,
        "the engine has something new"
    );
}

fn python() -> Sandbox {
    let catalog = Catalog::load(&[root().join("sandboxes")]).expect("the sandboxes load");
    catalog.get("python").expect("python").clone()
}

/// The body and name the server would send for a python container, with a
/// run token of the suite's.
fn genuine() -> (Value, String) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let run = format!("{}x{}", suite().id, N.fetch_add(1, Ordering::Relaxed));
    let owner = Owner {
        instance: &suite().instance,
        server: "attacker",
        sandbox: "python",
        run: &run,
    };
    // The server's body: the sandbox's, its labels and a UID of the range.
    let body = container_body(&create_body(&python()), &owner, UidRange::DEFAULT.first());
    (
        serde_json::to_value(&body).expect("serialises"),
        owner.name(),
    )
}

async fn create_text(name: &str, body: String) -> Answer {
    let path = format!("/v1.41/containers/create?name={name}");
    send("POST", &path, &[("content-type", "application/json")], body).await
}

/// Sends the genuine body changed by `change`.
async fn create_changed(change: impl FnOnce(&mut Value)) -> Answer {
    let (mut body, name) = genuine();
    change(&mut body);
    create_text(&name, body.to_string()).await
}

async fn refused_create(change: impl FnOnce(&mut Value), says: &str) {
    assert_refused(&create_changed(change).await, 403, "create-body", says);
}

fn host(field: &str, value: Value) -> impl FnOnce(&mut Value) {
    let field = field.to_string();
    move |b: &mut Value| b["HostConfig"][field] = value
}

#[tokio::test]
async fn privileged_container_is_refused() {
    refused_create(
        host("Privileged", json!(true)),
        "`HostConfig.Privileged` is not part of snipbox's spec",
    )
    .await;
}

#[tokio::test]
async fn cap_add_is_refused() {
    refused_create(host("CapAdd", json!(["SYS_ADMIN"])), "`HostConfig.CapAdd`").await;
}

#[tokio::test]
async fn bind_mount_of_the_host_root_is_refused() {
    refused_create(host("Binds", json!(["/:/host"])), "`HostConfig.Binds`").await;
}

#[tokio::test]
async fn bind_mount_in_mounts_is_refused() {
    let mount = json!([{"Type": "bind", "Source": "/", "Target": "/host"}]);
    refused_create(host("Mounts", mount), "`HostConfig.Mounts`").await;
}

#[tokio::test]
async fn volume_mount_in_mounts_is_refused() {
    let volume = format!("snipbox-attack-{}", suite().id);
    let mount = json!([{"Type": "volume", "Source": volume, "Target": "/data"}]);
    refused_create(host("Mounts", mount), "`HostConfig.Mounts`").await;
}

#[tokio::test]
async fn host_devices_are_refused() {
    let dev = json!([{"PathOnHost": "/dev/mem", "PathInContainer": "/dev/mem", "CgroupPermissions": "rwm"}]);
    refused_create(host("Devices", dev), "`HostConfig.Devices`").await;
}

#[tokio::test]
async fn device_requests_are_refused() {
    let req = json!([{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]);
    refused_create(host("DeviceRequests", req), "`HostConfig.DeviceRequests`").await;
}

#[tokio::test]
async fn host_pid_namespace_is_refused() {
    refused_create(host("PidMode", json!("host")), "`HostConfig.PidMode`").await;
}

#[tokio::test]
async fn host_ipc_namespace_is_refused() {
    refused_create(host("IpcMode", json!("host")), "`HostConfig.IpcMode`").await;
}

#[tokio::test]
async fn host_uts_namespace_is_refused() {
    refused_create(host("UTSMode", json!("host")), "`HostConfig.UTSMode`").await;
}

#[tokio::test]
async fn host_user_namespace_is_refused() {
    refused_create(host("UsernsMode", json!("host")), "`HostConfig.UsernsMode`").await;
}

#[tokio::test]
async fn host_cgroup_namespace_is_refused() {
    refused_create(
        host("CgroupnsMode", json!("host")),
        "`HostConfig.CgroupnsMode`",
    )
    .await;
}

#[tokio::test]
async fn host_network_is_refused() {
    refused_create(
        host("NetworkMode", json!("host")),
        r#"`HostConfig.NetworkMode` is "host", snipbox's spec says "none""#,
    )
    .await;
}

#[tokio::test]
async fn another_containers_network_is_refused() {
    let mode = json!(format!("container:{}", suite().foreign));
    refused_create(host("NetworkMode", mode), "`HostConfig.NetworkMode`").await;
}

#[tokio::test]
async fn seccomp_unconfined_is_refused() {
    let opt = json!(["no-new-privileges", "seccomp=unconfined"]);
    refused_create(host("SecurityOpt", opt), "`HostConfig.SecurityOpt[1]`").await;
}

#[tokio::test]
async fn the_engines_default_seccomp_profile_is_refused() {
    // Without snipbox's own profile the engine's default applies, which
    // differs by version (Docker 20.10's allows io_uring).
    let opt = json!(["no-new-privileges"]);
    refused_create(host("SecurityOpt", opt), "`HostConfig.SecurityOpt`").await;
}

#[tokio::test]
async fn apparmor_unconfined_is_refused() {
    refused_create(
        host("SecurityOpt", json!(["apparmor=unconfined"])),
        "`HostConfig.SecurityOpt`",
    )
    .await;
}

#[tokio::test]
async fn sysctls_are_refused() {
    refused_create(
        host("Sysctls", json!({"kernel.msgmax": "65536"})),
        "`HostConfig.Sysctls`",
    )
    .await;
}

#[tokio::test]
async fn raised_memory_limit_is_refused() {
    refused_create(host("Memory", json!(1u64 << 34)), "`HostConfig.Memory`").await;
}

#[tokio::test]
async fn another_image_is_refused() {
    refused_create(
        |b| b["Image"] = json!("debian:bookworm-slim"),
        "image debian:bookworm-slim is not a sandbox image",
    )
    .await;
}

#[tokio::test]
async fn another_deployments_label_is_refused() {
    refused_create(
        |b| b["Labels"]["snipbox.instance"] = json!("other"),
        "`Labels.snipbox.instance`",
    )
    .await;
}

#[tokio::test]
async fn lowercase_hostconfig_beside_the_real_one_is_refused() {
    // The engine would merge both into one HostConfig: privileged.
    refused_create(
        |b| b["hostconfig"] = json!({"Privileged": true}),
        "`hostconfig` is not spelled as `HostConfig`",
    )
    .await;
}

#[tokio::test]
async fn privileged_under_a_lowercase_parent_is_refused() {
    refused_create(
        |b| {
            let mut hc = b.as_object_mut().unwrap().remove("HostConfig").unwrap();
            hc["Privileged"] = json!(true);
            b["hostconfig"] = hc;
        },
        "`hostconfig` is not spelled as `HostConfig`",
    )
    .await;
}

#[tokio::test]
async fn lowercase_privileged_is_refused() {
    refused_create(
        host("privileged", json!(true)),
        "`HostConfig.privileged` is not part",
    )
    .await;
}

#[tokio::test]
async fn unicode_folded_key_is_refused() {
    // U+017F folds to "s" in the engine's decoder: an empty SecurityOpt
    // would drop no-new-privileges.
    refused_create(
        host("\u{17f}ecurityOpt", json!([])),
        "ecurityOpt` is not part",
    )
    .await;
}

#[tokio::test]
async fn duplicate_key_is_refused() {
    let (body, name) = genuine();
    let mut loose = body["HostConfig"].clone();
    loose["Privileged"] = json!(true);
    // The engine keeps the last HostConfig.
    let text = body.to_string();
    let text = format!("{},\"HostConfig\":{loose}}}", &text[..text.len() - 1]);
    let a = create_text(&name, text).await;
    assert_refused(&a, 403, "create-body", "key \"HostConfig\" appears twice");
}

#[tokio::test]
async fn body_larger_than_the_cap_is_refused() {
    let (mut body, name) = genuine();
    body["Env"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("PAD={}", "x".repeat(1 << 20))));
    let a = create_text(&name, body.to_string()).await;
    assert_refused(&a, 413, "body-size", "larger than");
}

#[tokio::test]
async fn platform_parameter_is_refused() {
    let (body, name) = genuine();
    let path = format!("/containers/create?name={name}&platform=linux/arm64");
    let a = send(
        "POST",
        &path,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await;
    assert_refused(&a, 403, "query", "`platform`");
}

#[tokio::test]
async fn foreign_container_name_is_refused() {
    let (body, _) = genuine();
    let a = create_text("web", body.to_string()).await;
    assert_refused(&a, 403, "create-name", "must be \"snipbox-python-");
}

#[tokio::test]
async fn old_api_version_is_refused() {
    let (body, name) = genuine();
    let path = format!("/v1.24/containers/create?name={name}");
    let a = send(
        "POST",
        &path,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await;
    assert_refused(&a, 403, "path", "API version v1.24");
}

#[tokio::test]
async fn exec_create_is_refused() {
    let path = format!("/v1.41/containers/{}/exec", suite().foreign);
    let a = send(
        "POST",
        &path,
        &[("content-type", "application/json")],
        r#"{"Cmd":["id"]}"#,
    )
    .await;
    assert_refused(&a, 403, "allow-list", "not a call snipbox makes");
}

#[tokio::test]
async fn archive_get_is_refused() {
    let path = format!("/containers/{}/archive?path=/etc/shadow", suite().foreign);
    assert_refused(
        &send("GET", &path, &[], "").await,
        403,
        "allow-list",
        "not a call",
    );
}

#[tokio::test]
async fn archive_put_is_refused() {
    let path = format!("/containers/{}/archive?path=/", suite().foreign);
    let a = send(
        "PUT",
        &path,
        &[("content-type", "application/x-tar")],
        vec![0u8; 1024],
    )
    .await;
    assert_refused(&a, 403, "allow-list", "not a call");
}

#[tokio::test]
async fn inspect_of_a_foreign_container_is_refused() {
    // Inspection is allowed of this deployment's containers only (their
    // environment is the spec's; another app's may hold its secrets).
    let path = format!("/containers/{}/json", suite().foreign);
    assert_refused(
        &send("GET", &path, &[], "").await,
        403,
        "own-containers",
        "not one of this deployment's",
    );
}

#[tokio::test]
async fn logs_of_a_foreign_container_are_refused() {
    let path = format!("/containers/{}/logs?stdout=1", suite().foreign);
    assert_refused(
        &send("GET", &path, &[], "").await,
        403,
        "allow-list",
        "not a call",
    );
}

#[tokio::test]
async fn delete_of_a_foreign_container_is_refused() {
    let foreign = &suite().foreign;
    let a = send(
        "DELETE",
        &format!("/containers/{foreign}?force=true"),
        &[],
        "",
    )
    .await;
    assert_refused(&a, 403, "own-containers", "is not one of this deployment's");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", foreign]),
        "true"
    );
}

#[tokio::test]
async fn start_of_a_foreign_container_is_refused() {
    let path = format!("/containers/{}/start", suite().foreign);
    assert_refused(
        &send("POST", &path, &[], "").await,
        403,
        "own-containers",
        "not one of",
    );
}

#[tokio::test]
async fn attach_to_a_foreign_container_is_refused() {
    let path = format!(
        "/containers/{}/attach?stream=1&stdin=1&stdout=1",
        suite().foreign
    );
    let upgrade = [("connection", "Upgrade"), ("upgrade", "tcp")];
    assert_refused(
        &send("POST", &path, &upgrade, "").await,
        403,
        "own-containers",
        "not one of",
    );
}

#[tokio::test]
async fn container_named_instead_of_by_id_is_refused() {
    let path = format!("/containers/snipbox-attack-foreign-{}/start", suite().id);
    assert_refused(
        &send("POST", &path, &[], "").await,
        403,
        "own-containers",
        "not a full container ID",
    );
}

#[tokio::test]
async fn image_pull_is_refused() {
    let path = format!(
        "/images/create?fromImage=snipbox-attack-{}&tag=latest",
        suite().id
    );
    assert_refused(
        &send("POST", &path, &[], "").await,
        403,
        "allow-list",
        "not a call",
    );
}

#[tokio::test]
async fn image_build_is_refused() {
    let path = format!("/build?t=snipbox-attack-{}", suite().id);
    let a = send(
        "POST",
        &path,
        &[("content-type", "application/x-tar")],
        vec![0u8; 1024],
    )
    .await;
    assert_refused(&a, 403, "allow-list", "not a call");
}

#[tokio::test]
async fn inspect_of_another_image_is_refused() {
    let a = send("GET", "/images/debian:bookworm-slim/json", &[], "").await;
    assert_refused(&a, 403, "image-inspect", "not a sandbox image");
}

#[tokio::test]
async fn volume_create_is_refused() {
    let body = json!({"Name": format!("snipbox-attack-{}", suite().id)}).to_string();
    let a = send(
        "POST",
        "/volumes/create",
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_refused(&a, 403, "allow-list", "not a call");
}

#[tokio::test]
async fn network_create_is_refused() {
    let body = json!({"Name": format!("snipbox-attack-{}", suite().id)}).to_string();
    let a = send(
        "POST",
        "/networks/create",
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_refused(&a, 403, "allow-list", "not a call");
}

#[tokio::test]
async fn swarm_init_is_refused() {
    let body = r#"{"ListenAddr":"127.0.0.1:2377"}"#;
    let a = send(
        "POST",
        "/swarm/init",
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_refused(&a, 403, "allow-list", "not a call");
}

#[tokio::test]
async fn plugin_install_is_refused() {
    let path = format!("/plugins/pull?remote=snipbox-attack-{}", suite().id);
    let a = send("POST", &path, &[("content-type", "application/json")], "[]").await;
    assert_refused(&a, 403, "allow-list", "not a call");
}

#[tokio::test]
async fn container_prune_is_refused() {
    assert_refused(
        &send("POST", "/containers/prune", &[], "").await,
        403,
        "allow-list",
        "not a call",
    );
}

#[tokio::test]
async fn dot_dot_path_is_refused() {
    let a = send("GET", "/v1.41/containers/../images/json", &[], "").await;
    assert_refused(&a, 403, "path", "a dot segment");
}

#[tokio::test]
async fn percent_encoded_dot_dot_path_is_refused() {
    let a = send("GET", "/v1.41/containers/%2e%2e/images/json", &[], "").await;
    assert_refused(&a, 403, "path", "a dot segment");
}

#[tokio::test]
async fn double_slash_path_is_refused() {
    let (body, name) = genuine();
    let path = format!("//containers/create?name={name}");
    let a = send(
        "POST",
        &path,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await;
    assert_refused(&a, 403, "path", "an empty segment");
}

#[tokio::test]
async fn a_list_shows_only_this_deployments_containers() {
    let a = send("GET", "/containers/json?all=1", &[], "").await;
    assert_eq!(a.status, 200);
    let listed: Vec<Value> = serde_json::from_slice(&a.body).unwrap();
    assert!(
        listed
            .iter()
            .all(|c| c["Labels"]["snipbox.instance"] == suite().instance.as_str()),
        "{listed:?}"
    );
    assert!(!listed.iter().any(|c| c["Id"] == suite().foreign.as_str()));
}

#[tokio::test]
async fn the_servers_own_body_is_accepted_and_its_agent_runs() {
    use bollard::query_parameters::{
        AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    };
    let url = format!("http://{}", suite().guard.addr);
    let docker = bollard::Docker::connect_with_http(&url, 60, bollard::API_DEFAULT_VERSION)
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let owner = Owner {
        instance: &suite().instance,
        server: "genuine",
        sandbox: "python",
        run: &run,
    };
    let body = container_body(&create_body(&python()), &owner, UidRange::DEFAULT.first());
    let options = CreateContainerOptionsBuilder::new()
        .name(&owner.name())
        .build();
    let id = docker
        .create_container(Some(options), body)
        .await
        .unwrap()
        .id;
    let attach = AttachContainerOptionsBuilder::new()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let mut attached = docker.attach_container(&id, Some(attach)).await.unwrap();
    docker.start_container(&id, None).await.unwrap();
    // The agent's first frame says it is ready for a job.
    let mut frames = snipbox_wire::agent::FrameDecoder::default();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(out)) = attached.output.next().await {
            if let bollard::container::LogOutput::StdOut { message } = out {
                frames.push(&message);
            }
            if let Some(frame) = frames.next_frame().unwrap() {
                return Some(frame);
            }
        }
        None
    })
    .await;
    let force = RemoveContainerOptionsBuilder::new().force(true).build();
    docker.remove_container(&id, Some(force)).await.unwrap();
    assert!(
        matches!(ready, Ok(Some(snipbox_wire::agent::Frame::Ready(_)))),
        "{ready:?}\n{}",
        suite().guard.log()
    );
}

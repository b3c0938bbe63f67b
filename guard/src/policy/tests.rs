use std::path::Path;

use serde_json::json;
use snipbox_spec::uids::UidRange;

use super::*;

fn policy() -> Policy {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
    Policy::new(Catalog::load(&[&dir]).unwrap(), "docs", UidRange::DEFAULT)
}

/// A UID of the default run range.
const UID: u32 = 1_900_000_007;

const NAME: &str = "snipbox-python-run1";

/// The body the server sends for a python container, as JSON.
fn genuine(policy: &Policy) -> Value {
    let sandbox = policy.sandbox("snipbox/python:latest").unwrap();
    let owner = Owner {
        instance: "docs",
        server: "s1",
        sandbox: "python",
        run: "run1",
    };
    serde_json::to_value(container_body(&create_body(sandbox), &owner, UID)).unwrap()
}

fn judge_text(text: &str) -> Result<Approved, Refusal> {
    policy().judge_create(Some(NAME), text.as_bytes())
}

fn judge(body: &Value) -> Result<Approved, Refusal> {
    judge_text(&body.to_string())
}

/// The refusal of `body` changed by `change`, as text.
fn refused(change: impl FnOnce(&mut Value)) -> String {
    let mut body = genuine(&policy());
    change(&mut body);
    let r = judge(&body).expect_err("refused");
    assert_eq!(r.rule, Rule::CreateBody, "{r}");
    r.to_string()
}

#[test]
fn the_servers_own_body_passes_and_is_forwarded_as_the_spec_encodes_it() {
    let p = policy();
    let body = genuine(&p);
    let approved = judge(&body).unwrap();
    assert_eq!(approved.name, NAME);
    assert_eq!(approved.sandbox, "python");
    let forwarded: Value = serde_json::from_slice(&approved.body).unwrap();
    assert_eq!(forwarded, body);
}

#[test]
fn every_sandbox_of_the_repository_passes_with_its_own_image() {
    let p = policy();
    for s in p.catalog.iter() {
        let owner = Owner {
            instance: "docs",
            server: "s1",
            sandbox: &s.name,
            run: "r",
        };
        let body = container_body(&create_body(s), &owner, UID);
        let text = serde_json::to_vec(&body).unwrap();
        let approved = p.judge_create(Some(&owner.name()), &text).unwrap();
        assert_eq!(approved.sandbox, s.name);
    }
}

#[test]
fn loosened_host_settings_are_refused_by_field() {
    let cases: Vec<(&str, Value)> = vec![
        ("Privileged", json!(true)),
        ("CapAdd", json!(["SYS_ADMIN"])),
        ("Binds", json!(["/:/host"])),
        (
            "Mounts",
            json!([{"Type": "bind", "Source": "/", "Target": "/host"}]),
        ),
        (
            "Devices",
            json!([{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}]),
        ),
        (
            "DeviceRequests",
            json!([{"Count": -1, "Capabilities": [["gpu"]]}]),
        ),
        ("PidMode", json!("host")),
        ("IpcMode", json!("host")),
        ("UTSMode", json!("host")),
        ("UsernsMode", json!("host")),
        ("CgroupnsMode", json!("host")),
        ("Sysctls", json!({"kernel.msgmax": "65536"})),
        ("VolumesFrom", json!(["other"])),
        ("GroupAdd", json!(["0"])),
    ];
    for (field, value) in cases {
        let text = refused(|b| {
            b["HostConfig"][field] = value;
        });
        assert!(
            text.contains(&format!(
                "`HostConfig.{field}` is not part of snipbox's spec"
            )),
            "{text}"
        );
    }
}

#[test]
fn changed_spec_values_are_refused_with_both_values() {
    let text = refused(|b| b["HostConfig"]["NetworkMode"] = json!("host"));
    assert!(
        text.contains(r#"`HostConfig.NetworkMode` is "host", snipbox's spec says "none""#),
        "{text}"
    );
    // Without snipbox's seccomp profile (the engine's default would
    // apply), or with none at all.
    let text = refused(|b| b["HostConfig"]["SecurityOpt"] = json!(["no-new-privileges"]));
    assert!(text.contains("`HostConfig.SecurityOpt` is"), "{text}");
    let text = refused(|b| {
        b["HostConfig"]["SecurityOpt"] = json!(["no-new-privileges", "seccomp=unconfined"])
    });
    assert!(text.contains("`HostConfig.SecurityOpt[1]`"), "{text}");
    let text = refused(|b| b["HostConfig"]["SecurityOpt"][0] = json!("apparmor=unconfined"));
    assert!(text.contains("`HostConfig.SecurityOpt[0]`"), "{text}");
    let text = refused(|b| b["HostConfig"]["Memory"] = json!(1u64 << 34));
    assert!(text.contains("`HostConfig.Memory`"), "{text}");
    let text = refused(|b| b["HostConfig"]["ReadonlyRootfs"] = json!(false));
    assert!(text.contains("`HostConfig.ReadonlyRootfs`"), "{text}");
    let text = refused(|b| b["HostConfig"]["CapDrop"] = json!([]));
    assert!(text.contains("`HostConfig.CapDrop`"), "{text}");
    let text = refused(|b| b["User"] = json!("0:0"));
    assert!(text.contains("`User`"), "{text}");
    let text = refused(|b| {
        b.as_object_mut().unwrap().remove("NetworkDisabled");
    });
    assert!(text.contains("`NetworkDisabled` is missing"), "{text}");
}

#[test]
fn a_key_spelled_in_another_case_is_refused_naming_the_field() {
    let text = refused(|b| {
        let hc = b.as_object_mut().unwrap().remove("HostConfig").unwrap();
        b["hostconfig"] = hc;
    });
    assert!(
        text.contains("`hostconfig` is not spelled as `HostConfig`"),
        "{text}"
    );
    let text = refused(|b| b["hostconfig"] = json!({"Privileged": true}));
    assert!(
        text.contains("`hostconfig` is not spelled as `HostConfig`"),
        "{text}"
    );
    let text = refused(|b| b["HostConfig"]["privileged"] = json!(true));
    assert!(
        text.contains("`HostConfig.privileged` is not part"),
        "{text}"
    );
    let text = refused(|b| b["HostConfig"]["readonlyrootfs"] = json!(false));
    assert!(
        text.contains("`HostConfig.readonlyrootfs` is not spelled as `HostConfig.ReadonlyRootfs`"),
        "{text}"
    );
}

#[test]
fn a_duplicate_key_is_refused_even_when_both_are_harmless() {
    let body = genuine(&policy()).to_string();
    let text = body.replacen("{", r#"{"Image":"snipbox/python:latest","#, 1);
    let r = judge_text(&text).unwrap_err();
    assert!(r.to_string().contains("\"Image\" appears twice"), "{r}");
}

#[test]
fn another_image_is_refused() {
    let text = refused(|b| b["Image"] = json!("debian:bookworm-slim"));
    assert!(
        text.contains("image debian:bookworm-slim is not a sandbox image"),
        "{text}"
    );
    let text = refused(|b| {
        b.as_object_mut().unwrap().remove("Image");
    });
    assert!(text.contains("names no `Image`"), "{text}");
}

#[test]
fn labels_are_this_deployments_and_plain() {
    let text = refused(|b| b["Labels"]["snipbox.instance"] = json!("other"));
    assert!(
        text.contains("`Labels.snipbox.instance` is \"other\""),
        "{text}"
    );
    let text = refused(|b| b["Labels"]["snipbox.sandbox"] = json!("c"));
    assert!(text.contains("`Labels.snipbox.sandbox`"), "{text}");
    let text = refused(|b| b["Labels"]["com.example"] = json!("x"));
    assert!(text.contains("`Labels.com.example` is not part"), "{text}");
    let text = refused(|b| b["Labels"]["snipbox.run"] = json!("../x"));
    assert!(
        text.contains("label `snipbox.run` must be a plain token"),
        "{text}"
    );
    let text = refused(|b| {
        b.as_object_mut().unwrap().remove("Labels");
    });
    assert!(text.contains("label `snipbox.server`"), "{text}");
}

#[test]
fn the_name_must_be_the_one_the_labels_give() {
    let p = policy();
    let body = genuine(&p).to_string();
    for name in [None, Some("snipbox-python-other"), Some("web"), Some("")] {
        let r = p.judge_create(name, body.as_bytes()).unwrap_err();
        assert_eq!(r.rule, Rule::CreateName, "{name:?}");
        assert!(r.to_string().contains(NAME), "{r}");
    }
}

#[test]
fn what_is_not_a_json_object_is_refused() {
    for text in ["", "null", "[]", "{\"Image\": 1}", "{"] {
        assert_eq!(
            judge_text(text).unwrap_err().rule,
            Rule::CreateBody,
            "{text}"
        );
    }
}

#[test]
fn only_sandbox_images_may_be_inspected() {
    let p = policy();
    assert!(p.check_image("snipbox/python:latest").is_ok());
    for image in [
        "debian:bookworm-slim",
        "snipbox/python",
        "snipbox/nothing:latest",
    ] {
        assert_eq!(p.check_image(image).unwrap_err().rule, Rule::ImageInspect);
    }
}

#[test]
fn the_operators_repository_and_runtime_are_part_of_the_spec() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
    let mut catalog = Catalog::load(&[&dir]).unwrap();
    catalog.set_repository("registry.example/sb");
    catalog.set_runtime("runsc");
    let p = Policy::new(catalog, "docs", UidRange::DEFAULT);
    assert!(p.check_image("snipbox/python:latest").is_err());
    let sandbox = p.sandbox("registry.example/sb/python:latest").unwrap();
    let owner = Owner {
        instance: "docs",
        server: "s1",
        sandbox: "python",
        run: "run1",
    };
    let body = container_body(&create_body(sandbox), &owner, UID);
    let mut value = serde_json::to_value(&body).unwrap();
    assert!(
        p.judge_create(Some(NAME), value.to_string().as_bytes())
            .is_ok()
    );
    value["HostConfig"]
        .as_object_mut()
        .unwrap()
        .remove("Runtime");
    let r = p
        .judge_create(Some(NAME), value.to_string().as_bytes())
        .unwrap_err();
    assert!(
        r.to_string().contains("`HostConfig.Runtime` is missing"),
        "{r}"
    );
}

#[test]
fn each_container_may_run_as_any_uid_of_the_run_range_and_as_no_other_user() {
    let p = policy();
    let mut body = genuine(&p);
    body["User"] = json!("1900065535:1900065535");
    let forwarded: Value = serde_json::from_slice(&judge(&body).unwrap().body).unwrap();
    assert_eq!(forwarded["User"], "1900065535:1900065535");
    for user in [
        "1000:1000",
        "0:0",
        "root",
        "1900065536:1900065536",
        "1899999999:1899999999",
        "1900000007:0",
        "1900000007:1900000008",
        "1900000007",
        "sandbox",
        "",
    ] {
        let text = refused(|b| b["User"] = json!(user));
        assert!(
            text.contains("`User`") && text.contains("run range"),
            "{user}: {text}"
        );
    }
    let text = refused(|b| {
        b.as_object_mut().unwrap().remove("User");
    });
    assert!(text.contains("`User`"), "{text}");
}

#[test]
fn the_operators_run_range_is_the_one_judged() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
    let p = Policy::new(
        Catalog::load(&[&dir]).unwrap(),
        "docs",
        "70000-70999".parse().unwrap(),
    );
    let mut body = genuine(&p);
    body["User"] = json!("70500:70500");
    assert!(judge_with(&p, &body).is_ok());
    body["User"] = json!(format!("{UID}:{UID}"));
    assert!(judge_with(&p, &body).is_err(), "the default range's UID");
}

fn judge_with(p: &Policy, body: &Value) -> Result<Approved, Refusal> {
    p.judge_create(Some(NAME), body.to_string().as_bytes())
}

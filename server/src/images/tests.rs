use std::path::Path;

use super::context::check_agent;
use super::*;
use snipbox_spec::testing::folder;

const DOCKERFILE: &str = "FROM debian:trixie-slim\nRUN true\n";

/// The Dockerfile a definition's context builds with (`RECIPE`).
fn recipe_of(def: &Definition) -> String {
    let tar = def.context(b"").unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find_map(|mut e| {
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            (path == context::RECIPE).then_some(text)
        })
        .expect("a recipe in the context")
}

fn hash_of(dir: &Path, agent: &[u8]) -> String {
    Definition::read(dir, agent).unwrap().hash
}

#[test]
fn the_hash_follows_the_image_files_and_the_agent_not_sandbox_toml() {
    let dir = folder(&[
        ("Dockerfile", DOCKERFILE),
        ("sandbox.toml", "title = \"A\"\n"),
        ("lib/start", "#!/bin/sh\n"),
    ]);
    let first = hash_of(dir.path(), b"agent 1");
    assert!(first.starts_with("sha256:") && first.len() == 71, "{first}");
    assert_eq!(first, hash_of(dir.path(), b"agent 1"), "stable");

    std::fs::write(dir.path().join("sandbox.toml"), "title = \"B\"\n").unwrap();
    assert_eq!(
        first,
        hash_of(dir.path(), b"agent 1"),
        "sandbox.toml is the server's"
    );

    assert_ne!(first, hash_of(dir.path(), b"agent 2"), "a new agent");

    std::fs::write(dir.path().join("lib/start"), "#!/bin/sh\nexit 0\n").unwrap();
    let changed = hash_of(dir.path(), b"agent 1");
    assert_ne!(first, changed, "a file the image copies");

    use std::os::unix::fs::PermissionsExt;
    let start = dir.path().join("lib/start");
    std::fs::set_permissions(&start, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(
        changed,
        hash_of(dir.path(), b"agent 1"),
        "its executable bit"
    );
}

#[test]
fn the_context_holds_the_folder_the_agent_the_recipe_and_the_certificates() {
    let dir = folder(&[("Dockerfile", DOCKERFILE), ("sandbox.toml", "")]);
    let def = Definition::read(dir.path(), b"AGENT").unwrap();
    let tar = def.context(b"CERTS").unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mode = entry.header().mode().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        files.insert(path, (mode, text));
    }
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".snipbox/Dockerfile",
            ".snipbox/snipbox-agent",
            "Dockerfile",
            "host-ca.crt"
        ]
    );
    assert_eq!(files["host-ca.crt"].1, "CERTS");
    assert_eq!(files[".snipbox/snipbox-agent"], (0o755, "AGENT".into()));
    let recipe = &files[".snipbox/Dockerfile"].1;
    assert!(recipe.starts_with(DOCKERFILE), "{recipe}");
    assert!(
        recipe.ends_with(
            "COPY .snipbox/snipbox-agent /usr/local/bin/snipbox-agent\n\
             ENTRYPOINT [\"/usr/local/bin/snipbox-agent\"]\nCMD []\n"
        ),
        "{recipe}"
    );
    assert!(
        recipe.contains("RUN mkdir -p /etc/snipbox && mv /etc/passwd /etc/group /etc/snipbox/")
            && recipe.contains(
                "&& ln -s /tmp/.snipbox/passwd /etc/passwd && ln -s /tmp/.snipbox/group /etc/group\n\
                 USER 65534:65534\n"
            ),
        "the user database the agent writes, and nobody by default: {recipe}"
    );
    // The certificates are not part of the definition.
    assert_eq!(
        def.hash,
        Definition::read(dir.path(), b"AGENT").unwrap().hash
    );
}

#[test]
fn bases_are_the_images_stages_start_from() {
    let dockerfile = "# syntax comment\nARG V=1\nFROM debian:trixie-slim AS fetch\nRUN x\n\
                      from --platform=linux/amd64 alpine:3 as other\nFROM fetch\n\
                      FROM debian:trixie-slim\nFROM scratch\nFROM img:$V\nFROM Other\n";
    assert_eq!(bases(dockerfile), ["debian:trixie-slim", "alpine:3"]);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
    for name in ["python", "duckdb"] {
        let text = std::fs::read_to_string(repo.join(name).join("Dockerfile")).unwrap();
        assert_eq!(bases(&text), ["debian:trixie-slim"], "{name}");
    }
}

#[test]
fn every_sandbox_image_starts_with_the_preamble_written_once() {
    use super::context::{PREAMBLE_FILE, PREAMBLE_LINE, with_preamble};
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
    let preamble = std::fs::read_to_string(repo.join(PREAMBLE_FILE)).unwrap();
    let mut images = 0;
    for entry in std::fs::read_dir(&repo).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(dockerfile) = std::fs::read_to_string(dir.join("Dockerfile")) else {
            continue;
        };
        images += 1;
        let name = dir.display();
        assert!(
            !dockerfile.contains("useradd"),
            "{name}: the preamble's steps written out again"
        );
        let expanded = with_preamble(&dockerfile, &dir).unwrap();
        // Once, right after the FROM of the image's (last) stage.
        assert_eq!(expanded.matches(preamble.as_str()).count(), 1, "{name}");
        let before = &expanded[..expanded.find(preamble.as_str()).unwrap()];
        let from = before.lines().last().unwrap();
        assert!(from.starts_with("FROM "), "{name}: after {from:?}");
        assert!(!expanded[before.len()..].contains("\nFROM "), "{name}");
        assert!(!expanded.lines().any(|l| l == PREAMBLE_LINE), "{name}");
    }
    assert!(images > 1, "{images} Dockerfiles in {}", repo.display());
}

#[test]
fn the_preamble_line_takes_its_folders_file_or_says_it_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("mine");
    std::fs::create_dir(&dir).unwrap();
    let dockerfile = "FROM debian:trixie-slim\n# snipbox: preamble.Dockerfile\nRUN mine\n";
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let e = Definition::read(&dir, b"AGENT").unwrap_err().to_string();
    assert!(e.contains("preamble.Dockerfile"), "{e}");

    std::fs::write(root.path().join("preamble.Dockerfile"), "RUN first\n").unwrap();
    let recipe = recipe_of(&Definition::read(&dir, b"AGENT").unwrap());
    assert!(
        recipe.starts_with("FROM debian:trixie-slim\nRUN first\nRUN mine\n"),
        "{recipe}"
    );
}

#[test]
fn an_agent_that_needs_a_dynamic_loader_is_refused_with_the_fix() {
    let dynamic = std::fs::read("/bin/sh").unwrap();
    let e = check_agent(Path::new("/bin/sh"), &dynamic)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dynamic loader") && e.contains("x86_64-unknown-linux-musl"),
        "{e}"
    );
    let e = check_agent(Path::new("x"), b"#!/bin/sh\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a 64-bit"), "{e}");
    // An ELF64 header with one program header, of type PT_LOAD.
    let mut elf = vec![0u8; 64 + 56];
    elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
    elf[0x20] = 64;
    elf[0x36] = 56;
    elf[0x38] = 1;
    elf[64] = 1;
    check_agent(Path::new("static"), &elf).unwrap();
}

/// A static ELF64 executable's header for `machine` (e_machine).
fn static_elf(machine: u16) -> Vec<u8> {
    let mut elf = vec![0u8; 64 + 56];
    elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
    elf[18..20].copy_from_slice(&machine.to_le_bytes());
    elf[0x20] = 64;
    elf[0x36] = 56;
    elf[0x38] = 1;
    elf[64] = 1;
    elf
}

#[test]
fn each_engine_gets_the_agent_built_for_its_architecture() {
    let (x86, arm) = (static_elf(0x3e), static_elf(0xb7));
    check_agent(Path::new("x86"), &x86).unwrap();
    check_agent(Path::new("arm"), &arm).unwrap();
    let both = || {
        vec![
            (PathBuf::from("x86/snipbox-agent"), x86.clone()),
            (PathBuf::from("arm/snipbox-agent"), arm.clone()),
        ]
    };
    // An engine on ARM64 (`GET /version` says `arm64`), and on x86_64.
    let (path, bytes) = pick_agent("arm64", both()).unwrap();
    assert_eq!(
        (path.to_str().unwrap(), &bytes),
        ("arm/snipbox-agent", &arm)
    );
    let (path, bytes) = pick_agent("amd64", both()).unwrap();
    assert_eq!(
        (path.to_str().unwrap(), &bytes),
        ("x86/snipbox-agent", &x86)
    );
    // None for it: the architecture, what each agent is, and the fix.
    let only_x86 = vec![(PathBuf::from("x86/snipbox-agent"), x86.clone())];
    let e = pick_agent("arm64", only_x86).unwrap_err().to_string();
    assert!(
        e.contains("the engine runs on aarch64")
            && e.contains("x86/snipbox-agent is built for x86_64")
            && e.contains("--target aarch64-unknown-linux-musl"),
        "{e}"
    );
    let e = pick_agent("riscv64", both()).unwrap_err().to_string();
    assert!(e.contains("the engine runs on riscv64"), "{e}");
}

#[test]
fn build_output_prints_steps_and_keeps_the_tail() {
    let mut out = Output::default();
    for i in 0..50 {
        out.add("x", &format!("line {i}\n"));
    }
    out.add("x", "Step 2/3 : RUN fa");
    out.add("x", "il\n\u{1b}[91mno newline\u{1b}[0m at the end");
    let tail = out.tail();
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), TAIL_LINES + 1);
    assert_eq!(lines[lines.len() - 2], "Step 2/3 : RUN fail");
    assert_eq!(lines[lines.len() - 1], "no newline at the end");
}

#[test]
fn a_missing_debian_base_names_the_bootstrap_script() {
    let fix = base_fix("debian:trixie-slim");
    assert!(
        fix.contains("scripts/base-image.sh debian:trixie-slim"),
        "{fix}"
    );
    assert!(base_fix("alpine:3").contains("docker load"));
}

#[test]
fn a_sandbox_that_extends_another_is_its_parents_image_and_its_packages() {
    use snipbox_spec::packages::{Crate, CrateEntry, Packages};
    let dir = folder(&[("sandbox.toml", "")]);
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let python = |pip: &[&str]| {
        Packages {
            pip: strings(pip),
            apt: strings(&["jq"]),
            ..Packages::default()
        }
        .check("python")
        .unwrap()
    };
    let rich = python(&["rich==13.7.1"]);
    let def = |parent_hash: &str, p| {
        Definition::extending(dir.path(), ("snipbox/python:latest", parent_hash), p, b"A").unwrap()
    };
    let first = def("sha256:1", &rich);
    assert_eq!(first.bases, ["snipbox/python:latest"]);
    assert_eq!(first.hash, def("sha256:1", &rich).hash, "stable");
    assert_ne!(first.hash, def("sha256:2", &rich).hash, "a rebuilt parent");
    let other = python(&["rich==13.7.0"]);
    assert_ne!(first.hash, def("sha256:1", &other).hash, "a changed list");

    let recipe = recipe_of(&first);
    assert!(
        recipe.starts_with("# The image of the sandbox this one extends (definition sha256:1)"),
        "{recipe}"
    );
    for want in [
        "FROM snipbox/python:latest\n",
        "apt-get install -y --no-install-recommends 'jq'",
        "pip install --no-cache-dir --break-system-packages",
        "'rich==13.7.1'",
        "apt-get purge -y --auto-remove $added",
        "ENTRYPOINT [\"/usr/local/bin/snipbox-agent\"]",
    ] {
        assert!(recipe.contains(want), "{want:?} missing from\n{recipe}");
    }
    assert!(!recipe.contains("npm install") && !recipe.contains("cargo build"));

    let crates = Packages {
        cargo: vec![
            CrateEntry::Plain("itertools@0.13.0".into()),
            CrateEntry::Table(Crate {
                name: "serde".into(),
                version: "1.0.210".into(),
                features: strings(&["derive"]),
                default_features: false,
            }),
        ],
        ..Packages::default()
    }
    .check("rust")
    .unwrap();
    let recipe =
        String::from_utf8(def("sha256:1", &crates).context(b"").unwrap()).unwrap_or_default();
    assert!(
        recipe.contains(
            "itertools = { version = \"=0.13.0\", default-features = true, features = [] }"
        ) && recipe.contains(
            "serde = { version = \"=1.0.210\", default-features = false, features = [\"derive\"] }"
        ) && recipe.contains("--extern \"itertools=$1\""),
        "{recipe}"
    );
}

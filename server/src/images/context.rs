//! What goes into one sandbox image, and its content hash: the sandbox
//! folder's files (`sandbox.toml` aside: the server reads it, the image
//! never does), the agent binary, and the recipe, the sandbox's own
//! Dockerfile with the agent added as the container's main process. The
//! hash covers exactly the build context, so an agent change rebuilds every
//! image and a change to any file of a folder rebuilds that image. The
//! certificates a Dockerfile may `COPY host-ca.crt` are in the context but
//! not in the hash: they let a build reach a registry through a network
//! that inspects TLS, and are no part of what the image is.
//!
//! A sandbox that `extends` another has no Dockerfile: its recipe is made
//! here, the parent's image and one step per ecosystem of its `[packages]`
//! (see [`packages_dockerfile`]), and names the parent's definition hash,
//! so that a rebuilt parent rebuilds it too.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use snipbox_spec::packages::Checked;
use snipbox_wire::agent::{USERS_DIR, USERS_IMAGE_DIR};

use crate::engine::spec::AGENT;

/// The recipe's path inside the build context.
pub(super) const RECIPE: &str = ".snipbox/Dockerfile";
/// The agent's path inside the build context.
const AGENT_FILE: &str = ".snipbox/snipbox-agent";
/// The certificates a sandbox Dockerfile may `COPY` (see the module's doc).
const HOST_CA: &str = "host-ca.crt";
/// The server's own file in each sandbox folder.
const SANDBOX_TOML: &str = "sandbox.toml";

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a static executable ({why}): the agent runs in images of any libc; \
         build it with `cargo build --release -p snipbox-agent --target x86_64-unknown-linux-musl` \
         (aarch64-unknown-linux-musl for ARM64; make images does) and point SNIPBOX_AGENT at it"
    )]
    AgentNotStatic { path: PathBuf, why: &'static str },
}

/// One file of the build context.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    /// 0o755 or 0o644: only the executable bit of the source counts.
    mode: u32,
    data: Vec<u8>,
}

/// One sandbox's build: its context (the certificates aside) and hash.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Sorted by path.
    entries: Vec<Entry>,
    /// `sha256:` and the hex digest of the entries.
    pub hash: String,
    /// The images its Dockerfile starts from (earlier stages aside).
    pub bases: Vec<String>,
}

impl Definition {
    /// Reads the sandbox folder `dir`, whose `Dockerfile` must exist, and
    /// adds `agent` (the binary's bytes).
    pub fn read(dir: &Path, agent: &[u8]) -> Result<Definition, ContextError> {
        let dockerfile_path = dir.join("Dockerfile");
        let dockerfile =
            std::fs::read_to_string(&dockerfile_path).map_err(read_err(&dockerfile_path))?;
        Self::with_dockerfile(dir, &with_preamble(&dockerfile, dir)?, agent)
    }

    /// The definition of a sandbox in `dir` that extends `parent` (its
    /// image, and its definition's hash) and adds `packages`.
    pub fn extending(
        dir: &Path,
        parent: (&str, &str),
        packages: &Checked,
        agent: &[u8],
    ) -> Result<Definition, ContextError> {
        Self::with_dockerfile(dir, &packages_dockerfile(parent, packages), agent)
    }

    fn with_dockerfile(
        dir: &Path,
        dockerfile: &str,
        agent: &[u8],
    ) -> Result<Definition, ContextError> {
        let mut entries = Vec::new();
        walk(dir, "", &mut entries).map_err(read_err(dir))?;
        entries.push(Entry {
            path: RECIPE.into(),
            mode: 0o644,
            data: recipe(dockerfile).into_bytes(),
        });
        entries.push(Entry {
            path: AGENT_FILE.into(),
            mode: 0o755,
            data: agent.to_vec(),
        });
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Definition {
            hash: hash(&entries),
            bases: bases(dockerfile),
            entries,
        })
    }

    /// The build context as a tar: the entries and `host-ca.crt` (`ca`,
    /// empty where the building machine has none), unless the folder has a
    /// file of that name itself.
    pub fn context(&self, ca: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        let ca_entry = Entry {
            path: HOST_CA.into(),
            mode: 0o644,
            data: ca.to_vec(),
        };
        let own_ca = self.entries.iter().any(|e| e.path == HOST_CA);
        let extra = (!own_ca).then_some(&ca_entry);
        for entry in self.entries.iter().chain(extra) {
            let mut header = tar::Header::new_gnu();
            header.set_size(entry.data.len() as u64);
            header.set_mode(entry.mode);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, &entry.path, entry.data.as_slice())?;
        }
        tar.into_inner()
    }
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> ContextError {
    let path = path.to_owned();
    move |source| ContextError::Read { path, source }
}

/// Where the pip, npm and cargo steps keep what the image needs of them.
const PACKAGES_DIR: &str = "/usr/local/lib/snipbox";

/// The Dockerfile of a sandbox that extends the image `parent.0` (whose
/// definition hash is `parent.1`): the parent's image, the image's user
/// database back in `/etc` while packages install (the recipe's end moves
/// it out again), then a step per ecosystem. Each step installs the tool it
/// needs and removes it again in the same layer, so the image holds the
/// packages and not pip, npm or cargo; the run has no network and cannot
/// install anything. Entries were checked when the catalog loaded
/// ([`snipbox_spec::packages`]): they are plain words, quoted here anyway.
fn packages_dockerfile(parent: (&str, &str), packages: &Checked) -> String {
    let (image, hash) = parent;
    let quoted = |list: &[String]| {
        list.iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!(
        "# The image of the sandbox this one extends (definition {hash}) and the\n\
         # packages its sandbox.toml adds.\n\
         FROM {image}\n\
         USER 0:0\n\
         RUN rm -f /etc/passwd /etc/group \\\n \
          && mv {USERS_IMAGE_DIR}/passwd {USERS_IMAGE_DIR}/group /etc/\n\
         ARG DEBIAN_FRONTEND=noninteractive\n"
    );
    // pip, npm and cargo reach their registries through whatever inspects
    // TLS on the building machine's network; apt's mirror is plain HTTP.
    let registries =
        !(packages.pip.is_empty() && packages.npm.is_empty() && packages.cargo.is_empty());
    if registries {
        out += "COPY host-ca.crt /tmp/host-ca.crt\n";
    }
    if !packages.apt.is_empty() {
        out += &format!(
            "RUN apt-get update \\\n \
              && apt-get install -y --no-install-recommends {} \\\n \
              && rm -rf /var/lib/apt/lists/*\n",
            quoted(&packages.apt)
        );
    }
    let tool_step = |tool: &str, install: String| {
        // The tool goes again unless the image had it already.
        format!(
            "RUN if [ -s /tmp/host-ca.crt ]; then export PIP_CERT=/tmp/host-ca.crt \
             NODE_EXTRA_CA_CERTS=/tmp/host-ca.crt CARGO_HTTP_CAINFO=/tmp/host-ca.crt; fi \\\n \
              && added=$(dpkg -s {tool} >/dev/null 2>&1 || echo {tool}) \\\n \
              && apt-get update && apt-get install -y --no-install-recommends {tool} \\\n \
              && {install} \\\n \
              && if [ -n \"$added\" ]; then apt-get purge -y --auto-remove $added; fi \\\n \
              && rm -rf /var/lib/apt/lists/* /root/.cache /root/.npm /tmp/cargo-home\n"
        )
    };
    if !packages.pip.is_empty() {
        out += &tool_step(
            "python3-pip",
            format!(
                "python3 -m pip install --no-cache-dir --break-system-packages \
                 --root-user-action=ignore --no-warn-script-location {}",
                quoted(&packages.pip)
            ),
        );
    }
    if !packages.npm.is_empty() {
        // Node looks for packages in each folder's node_modules up to /,
        // for `require` and `import` alike: /node_modules serves the work
        // dir's program.
        out += &tool_step(
            "npm",
            format!(
                "mkdir -p {PACKAGES_DIR}/npm && cd {PACKAGES_DIR}/npm \\\n \
                  && npm install --no-audit --no-fund --no-update-notifier --save-exact {} \\\n \
                  && ln -sfn {PACKAGES_DIR}/npm/node_modules /node_modules",
                quoted(&packages.npm)
            ),
        );
    }
    if !packages.cargo.is_empty() {
        out += &tool_step("cargo", cargo_install(packages));
    }
    if registries {
        out += "RUN rm -f /tmp/host-ca.crt\n";
    }
    out
}

/// Compiles the crates once (a cargo project depending on them) and writes
/// the arguments that let `rustc` link a program against them:
/// `{PACKAGES_DIR}/rustc.args`, which the rust sandbox's compile step
/// reads (`rustc @…`), so a run compiles only the reader's program.
fn cargo_install(packages: &Checked) -> String {
    let project = format!("{PACKAGES_DIR}/cargo");
    let deps = format!("{project}/target/debug/deps");
    let mut manifest = vec![
        "[package]".to_string(),
        "name = \"snipbox-crates\"".into(),
        "version = \"0.0.0\"".into(),
        "edition = \"2021\"".into(),
        "[profile.dev]".into(),
        "debug = false".into(),
        "[dependencies]".into(),
    ];
    for c in &packages.cargo {
        let features: Vec<String> = c.features.iter().map(|f| format!("\"{f}\"")).collect();
        manifest.push(format!(
            "{} = {{ version = \"={}\", default-features = {}, features = [{}] }}",
            c.name,
            c.version,
            c.default_features,
            features.join(", ")
        ));
    }
    let lines: Vec<String> = manifest.iter().map(|l| format!("'{l}'")).collect();
    let mut args = format!("printf '%s\\n' -L 'dependency={deps}'");
    for c in &packages.cargo {
        let lib = c.rust_name();
        // Exactly one build of each crate the program may name.
        args += &format!(
            " && set -- {deps}/lib{lib}-*.rlib && [ $# = 1 ] && [ -e \"$1\" ] \
             || {{ echo \"crate {lib}: no single build in {deps}\" >&2; exit 1; }}; \
             printf '%s\\n' --extern \"{lib}=$1\""
        );
    }
    format!(
        "mkdir -p {project}/src && cd {project} && : > src/lib.rs \\\n \
          && printf '%s\\n' {} > Cargo.toml \\\n \
          && CARGO_HOME=/tmp/cargo-home cargo build \\\n \
          && {{ {args}; }} > {PACKAGES_DIR}/rustc.args \\\n \
          && rm -rf target/debug/build target/debug/incremental target/debug/.fingerprint \\\n \
          && chmod -R a+rX {PACKAGES_DIR}",
        lines.join(" ")
    )
}

/// Every regular file under `dir`, its path relative to the sandbox folder
/// (`prefix` for the folders below it); the folder's `sandbox.toml` aside.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}{name}");
        // `metadata` follows symlinks: a link's target is what Docker copies.
        let meta = std::fs::metadata(item.path())?;
        if meta.is_dir() {
            walk(&item.path(), &format!("{path}/"), out)?;
        } else if meta.is_file() && path != SANDBOX_TOML {
            let executable = meta.permissions().mode() & 0o111 != 0;
            out.push(Entry {
                path,
                mode: if executable { 0o755 } else { 0o644 },
                data: std::fs::read(item.path())?,
            });
        }
    }
    Ok(())
}

/// The sandbox's Dockerfile with the agent added on top of its last stage
/// as the container's main process (the server gives it its boot config
/// as the one argument).
fn recipe(dockerfile: &str) -> String {
    format!(
        "{dockerfile}\n\
         # Added by `snipbox images`: the agent, every sandbox container's main process;\n\
         # the user database as links to the one it writes at start, with the\n\
         # container's own UID (the image's stays in {USERS_IMAGE_DIR}); nobody as\n\
         # the user of a container made without snipbox's spec.\n\
         USER root\n\
         RUN mkdir -p {USERS_IMAGE_DIR} && mv /etc/passwd /etc/group {USERS_IMAGE_DIR}/ \\\n \
          && ln -s {USERS_DIR}/passwd /etc/passwd && ln -s {USERS_DIR}/group /etc/group\n\
         USER 65534:65534\n\
         COPY {AGENT_FILE} {AGENT}\n\
         ENTRYPOINT [\"{AGENT}\"]\n\
         CMD []\n"
    )
}

fn hash(entries: &[Entry]) -> String {
    let mut sha = Sha256::new();
    for e in entries {
        sha.update((e.path.len() as u64).to_le_bytes());
        sha.update(e.path.as_bytes());
        sha.update(e.mode.to_le_bytes());
        sha.update((e.data.len() as u64).to_le_bytes());
        sha.update(&e.data);
    }
    format!("sha256:{:x}", sha.finalize())
}

/// A Dockerfile line that stands for the first steps every sandbox shares:
/// the text of [`PREAMBLE_FILE`] in the folder of sandboxes the sandbox is
/// in. Written once, the same in every image, so Docker builds those
/// layers once.
pub(super) const PREAMBLE_LINE: &str = "# snipbox: preamble.Dockerfile";
pub(super) const PREAMBLE_FILE: &str = "preamble.Dockerfile";

/// `dockerfile` (of the sandbox in `dir`) with each [`PREAMBLE_LINE`]
/// replaced by the preamble's text.
pub(super) fn with_preamble(dockerfile: &str, dir: &Path) -> Result<String, ContextError> {
    if !dockerfile.lines().any(|l| l.trim_end() == PREAMBLE_LINE) {
        return Ok(dockerfile.to_string());
    }
    let path = dir.parent().unwrap_or(dir).join(PREAMBLE_FILE);
    let preamble = std::fs::read_to_string(&path).map_err(read_err(&path))?;
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(|l| {
            if l.trim_end() == PREAMBLE_LINE {
                preamble.trim_end_matches('\n')
            } else {
                l
            }
        })
        .collect();
    let end = if dockerfile.ends_with('\n') { "\n" } else { "" };
    Ok(lines.join("\n") + end)
}

/// The images a Dockerfile's stages start `FROM`, in order, without the
/// stages it names itself, `scratch`, or names made of build arguments.
pub fn bases(dockerfile: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let mut words = words.filter(|w| !w.starts_with("--"));
        let Some(image) = words.next() else { continue };
        let image = image.to_string();
        // A stage may start from an earlier one, by its name.
        let own_stage = stages.contains(&image.to_lowercase());
        if let (Some(r#as), Some(stage)) = (words.next(), words.next())
            && r#as.eq_ignore_ascii_case("AS")
        {
            stages.push(stage.to_lowercase());
        }
        if own_stage || image == "scratch" || image.contains('$') || bases.contains(&image) {
            continue;
        }
        bases.push(image);
    }
    bases
}

/// Refuses an agent that is not a static ELF executable: it would not run
/// in images of another libc, and fail only when a sandbox starts.
pub(super) fn check_agent(path: &Path, bytes: &[u8]) -> Result<(), ContextError> {
    let why = if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        Some("not a 64-bit little-endian ELF file")
    } else if has_interpreter(bytes) {
        Some("it asks for a dynamic loader")
    } else {
        None
    };
    match why {
        Some(why) => Err(ContextError::AgentNotStatic {
            path: path.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// The machine an ELF file is built for, as `uname -m` names it (those
/// snipbox builds for), if it is one of them.
pub(super) fn elf_machine(elf: &[u8]) -> Option<&'static str> {
    match u16::from_le_bytes([*elf.get(18)?, *elf.get(19)?]) {
        0x3e => Some("x86_64"),
        0xb7 => Some("aarch64"),
        _ => None,
    }
}

/// Whether an ELF64 file has a `PT_INTERP` program header.
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..count).any(|i| {
        let at = phoff + i * size;
        elf.get(at..at + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

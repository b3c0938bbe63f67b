//! What goes into one sandbox image, and its content hash: the sandbox
//! folder's files (`sandbox.toml` aside: the server reads it, the image
//! never does), the agent binary, and the recipe, the sandbox's own
//! Dockerfile with the agent added as the container's main process. The
//! hash covers exactly the build context, so an agent change rebuilds every
//! image and a change to any file of a folder rebuilds that image. The
//! certificates a Dockerfile may `COPY host-ca.crt` are in the context but
//! not in the hash: they let a build reach a registry through a network
//! that inspects TLS, and are no part of what the image is.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
         (make images does) and point SNIPBOX_AGENT at it"
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
        let read_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ContextError::Read { path, source }
        };
        let dockerfile_path = dir.join("Dockerfile");
        let dockerfile =
            std::fs::read_to_string(&dockerfile_path).map_err(read_err(&dockerfile_path))?;
        let mut entries = Vec::new();
        walk(dir, "", &mut entries).map_err(read_err(dir))?;
        entries.push(Entry {
            path: RECIPE.into(),
            mode: 0o644,
            data: recipe(&dockerfile).into_bytes(),
        });
        entries.push(Entry {
            path: AGENT_FILE.into(),
            mode: 0o755,
            data: agent.to_vec(),
        });
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Definition {
            hash: hash(&entries),
            bases: bases(&dockerfile),
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

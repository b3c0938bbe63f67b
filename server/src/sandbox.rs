//! Sandbox definitions: `sandboxes/defaults.toml` and one folder per
//! language with a `Dockerfile` and a `sandbox.toml`. Everything is loaded
//! and checked at start-up; a broken file stops the start with its path and
//! the field at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use snipbox_wire::api::SandboxInfo;

use crate::files::check_name;

/// The only version every sandbox has; `""` means the same.
pub const DEFAULT_VERSION: &str = "latest";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ConfigError {
    fn invalid(path: &Path, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// Resource limits of one run. Every key is documented in the README and in
/// `sandboxes/defaults.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids: i64,
    pub output_bytes: u64,
    pub tmpfs_mb: u64,
    pub nofile: u64,
    pub pool: usize,
    /// OCI runtime (e.g. `runsc`); `None` is the engine's default.
    pub runtime: Option<String>,
}

/// The `[limits]` table as written: any key may be left to the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    timeout_ms: Option<u64>,
    memory_mb: Option<u64>,
    cpus: Option<f64>,
    pids: Option<i64>,
    output_bytes: Option<u64>,
    tmpfs_mb: Option<u64>,
    nofile: Option<u64>,
    pool: Option<usize>,
    runtime: Option<String>,
}

impl LimitsFile {
    /// These limits, with `base` filling the keys left out.
    fn over(self, base: &Limits) -> Limits {
        Limits {
            timeout_ms: self.timeout_ms.unwrap_or(base.timeout_ms),
            memory_mb: self.memory_mb.unwrap_or(base.memory_mb),
            cpus: self.cpus.unwrap_or(base.cpus),
            pids: self.pids.unwrap_or(base.pids),
            output_bytes: self.output_bytes.unwrap_or(base.output_bytes),
            tmpfs_mb: self.tmpfs_mb.unwrap_or(base.tmpfs_mb),
            nofile: self.nofile.unwrap_or(base.nofile),
            pool: self.pool.unwrap_or(base.pool),
            runtime: match self.runtime {
                Some(r) if r.is_empty() => None,
                Some(r) => Some(r),
                None => base.runtime.clone(),
            },
        }
    }

    /// The defaults file must name every key.
    fn complete(self, path: &Path) -> Result<Limits, ConfigError> {
        let missing = |key: &str| ConfigError::invalid(path, format!("missing field `{key}`"));
        Ok(Limits {
            timeout_ms: self.timeout_ms.ok_or_else(|| missing("timeout_ms"))?,
            memory_mb: self.memory_mb.ok_or_else(|| missing("memory_mb"))?,
            cpus: self.cpus.ok_or_else(|| missing("cpus"))?,
            pids: self.pids.ok_or_else(|| missing("pids"))?,
            output_bytes: self.output_bytes.ok_or_else(|| missing("output_bytes"))?,
            tmpfs_mb: self.tmpfs_mb.ok_or_else(|| missing("tmpfs_mb"))?,
            nofile: self.nofile.ok_or_else(|| missing("nofile"))?,
            pool: self.pool.ok_or_else(|| missing("pool"))?,
            runtime: self.runtime.filter(|r| !r.is_empty()),
        })
    }
}

impl Limits {
    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad =
            |field: &str, why: &str| ConfigError::invalid(path, format!("field `{field}` {why}"));
        if !(1..=600_000).contains(&self.timeout_ms) {
            return Err(bad("timeout_ms", "must be between 1 and 600000"));
        }
        if self.memory_mb < 16 {
            return Err(bad("memory_mb", "must be at least 16"));
        }
        if !(self.cpus > 0.0 && self.cpus <= 64.0) {
            return Err(bad("cpus", "must be above 0 and at most 64"));
        }
        if self.pids < 4 {
            return Err(bad("pids", "must be at least 4"));
        }
        if self.output_bytes == 0 || self.output_bytes > 64 * 1024 * 1024 {
            return Err(bad("output_bytes", "must be between 1 and 67108864"));
        }
        if self.tmpfs_mb == 0 {
            return Err(bad("tmpfs_mb", "must be at least 1"));
        }
        if self.nofile < 16 {
            return Err(bad("nofile", "must be at least 16"));
        }
        if self.pool > 64 {
            return Err(bad("pool", "must be at most 64"));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    title: String,
    language: String,
    #[serde(default)]
    example: String,
    /// `uid:gid` the program runs as; never root.
    #[serde(default = "default_user")]
    user: String,
    #[serde(default = "default_workdir")]
    workdir: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    commands: BTreeMap<String, Command>,
    #[serde(default)]
    limits: LimitsFile,
}

fn default_user() -> String {
    "1000:1000".into()
}

fn default_workdir() -> String {
    "/sandbox".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The file the request's `""` key is written to.
    pub entry: String,
    /// Programs run in order; a failing step ends the run.
    pub steps: Vec<Vec<String>>,
}

/// A loaded, validated sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub name: String,
    pub title: String,
    pub language: String,
    pub example: String,
    pub user: String,
    pub workdir: String,
    pub env: BTreeMap<String, String>,
    pub commands: BTreeMap<String, Command>,
    pub limits: Limits,
}

impl Sandbox {
    /// The image `make images` builds for this sandbox.
    pub fn image(&self) -> String {
        format!("snipbox/{}:{DEFAULT_VERSION}", self.name)
    }

    pub fn info(&self) -> SandboxInfo {
        let entry = self
            .commands
            .get("run")
            .or_else(|| self.commands.values().next())
            .map(|c| c.entry.clone())
            .unwrap_or_default();
        SandboxInfo {
            name: self.name.clone(),
            title: self.title.clone(),
            language: self.language.clone(),
            versions: vec![DEFAULT_VERSION.into()],
            commands: self.commands.keys().cloned().collect(),
            entry,
            example: self.example.clone(),
        }
    }
}

/// Every sandbox of a `sandboxes/` folder, by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    sandboxes: BTreeMap<String, Sandbox>,
}

impl Catalog {
    /// Loads `dir/defaults.toml` and every `dir/NAME/sandbox.toml`.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let defaults_path = dir.join("defaults.toml");
        let defaults: LimitsFile = parse(&defaults_path)?;
        let defaults = defaults.complete(&defaults_path)?;
        defaults.validate(&defaults_path)?;

        let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
            path: dir.into(),
            source,
        })?;
        let mut sandboxes = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|source| ConfigError::Read {
                path: dir.into(),
                source,
            })?;
            let path = entry.path().join("sandbox.toml");
            if !entry.path().is_dir() || !path.exists() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let sandbox = load_one(&name, &path, &defaults)?;
            sandboxes.insert(name, sandbox);
        }
        if sandboxes.is_empty() {
            return Err(ConfigError::invalid(
                dir,
                "no sandbox folder (NAME/sandbox.toml) found",
            ));
        }
        Ok(Catalog { sandboxes })
    }

    pub fn get(&self, name: &str) -> Option<&Sandbox> {
        self.sandboxes.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Sandbox> {
        self.sandboxes.values()
    }

    /// Sets every sandbox's pool size (an operator's override of the files).
    pub fn set_pool(&mut self, size: usize) {
        for s in self.sandboxes.values_mut() {
            s.limits.pool = size;
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::invalid(path, e.to_string().trim_end()))
}

fn load_one(name: &str, path: &Path, defaults: &Limits) -> Result<Sandbox, ConfigError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::invalid(
            path,
            "the folder name must be lowercase letters, digits, - or _",
        ));
    }
    let file: SandboxFile = parse(path)?;
    let limits = file.limits.over(defaults);
    limits.validate(path)?;
    if file.commands.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "field `commands` must define at least one command",
        ));
    }
    for (cmd, c) in &file.commands {
        check_name(&c.entry).map_err(|e| {
            ConfigError::invalid(path, format!("field `commands.{cmd}.entry`: {e}"))
        })?;
        if c.steps.is_empty() || c.steps.iter().any(|s| s.is_empty() || s[0].is_empty()) {
            return Err(ConfigError::invalid(
                path,
                format!("field `commands.{cmd}.steps` must list programs, each a non-empty argv"),
            ));
        }
    }
    let uid = file.user.split(':').next().unwrap_or_default();
    if uid.is_empty() || uid == "0" || uid == "root" {
        return Err(ConfigError::invalid(path, "field `user` must not be root"));
    }
    if !file.workdir.starts_with('/') || file.workdir.split('/').any(|s| s == "..") {
        return Err(ConfigError::invalid(
            path,
            "field `workdir` must be an absolute path",
        ));
    }
    Ok(Sandbox {
        name: name.into(),
        title: file.title,
        language: file.language,
        example: file.example,
        user: file.user,
        workdir: file.workdir,
        env: file.env,
        commands: file.commands,
        limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const DEFAULTS: &str = "timeout_ms = 5000\nmemory_mb = 128\ncpus = 1.0\npids = 64\noutput_bytes = 100\ntmpfs_mb = 16\nnofile = 64\npool = 2\nruntime = \"\"\n";
    const PY: &str = "title = \"P\"\nlanguage = \"python\"\n[commands.run]\nentry = \"main.py\"\nsteps = [[\"python3\", \"main.py\"]]\n";

    #[test]
    fn the_repository_sandboxes_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let catalog = Catalog::load(&dir).unwrap();
        for name in ["python", "javascript", "shell", "sqlite", "c"] {
            assert!(catalog.get(name).is_some(), "{name} is missing");
        }
        assert_eq!(catalog.get("c").unwrap().commands["run"].steps.len(), 2);
    }

    #[test]
    fn a_sandbox_overrides_only_what_it_names() {
        let dir = tree(&[
            ("defaults.toml", DEFAULTS),
            (
                "py/sandbox.toml",
                &format!("{PY}[limits]\ntimeout_ms = 9000\n"),
            ),
        ]);
        let catalog = Catalog::load(dir.path()).unwrap();
        let limits = &catalog.get("py").unwrap().limits;
        assert_eq!((limits.timeout_ms, limits.memory_mb), (9000, 128));
    }

    #[test]
    fn a_broken_sandbox_names_its_file_and_field() {
        let cases = [
            (
                format!("{PY}[limits]\ntimeout = 1\n"),
                "unknown field `timeout`",
            ),
            (format!("{PY}[limits]\npids = 1\n"), "field `pids`"),
            (PY.replace("title = \"P\"\n", ""), "missing field `title`"),
            (format!("{PY}user = \"0:0\"\n"), "field `user`"),
            (
                PY.replace("main.py\"\nsteps", "../x\"\nsteps"),
                "commands.run.entry",
            ),
            (
                PY.replace("[[\"python3\", \"main.py\"]]", "[[]]"),
                "commands.run.steps",
            ),
        ];
        for (text, want) in cases {
            let dir = tree(&[("defaults.toml", DEFAULTS), ("py/sandbox.toml", &text)]);
            let err = Catalog::load(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains("py/sandbox.toml") && err.contains(want),
                "{err:?} lacks {want:?}"
            );
        }
    }

    #[test]
    fn defaults_must_name_every_limit() {
        let dir = tree(&[
            ("defaults.toml", &DEFAULTS.replace("nofile = 64\n", "")),
            ("py/sandbox.toml", PY),
        ]);
        let err = Catalog::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("defaults.toml") && err.contains("`nofile`"),
            "{err}"
        );
    }
}

//! Sandbox definitions: `sandboxes/defaults.toml` and one folder per
//! language with a `Dockerfile` and a `sandbox.toml`, or a `sandbox.toml`
//! alone that `extends` another sandbox and adds `[packages]` to its image.
//! Sandboxes may come from several folders (the repository's and an
//! operator's own); the first folder's `defaults.toml` holds for all.
//! Everything is loaded and checked at start-up; a broken file stops the
//! start with its path and the field at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use snipbox_wire::api::SandboxInfo;

use snipbox_wire::names::check_name;

use crate::packages::{Checked, Packages};

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

/// Resource limits of one run. `sandboxes/defaults.toml` names every field;
/// a sandbox's `[limits]` table overrides any of them. A field's bounds are
/// part of its type, so adding a limit is adding a field here (and its line
/// in docs/configuration.md and defaults.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock limit of one run, all steps together.
    #[serde(deserialize_with = "within::<_, 1, 600_000, _>")]
    pub timeout_ms: u64,
    /// Memory limit; swap is off.
    #[serde(deserialize_with = "within::<_, 16, 65_536, _>")]
    pub memory_mb: u64,
    /// CPU quota in cores.
    #[serde(deserialize_with = "cores")]
    pub cpus: f64,
    /// Most processes and threads at once.
    #[serde(deserialize_with = "within::<_, 4, 65_536, _>")]
    pub pids: i64,
    /// Bytes kept of stdout and of stderr each.
    #[serde(deserialize_with = "within::<_, 1, 67_108_864, _>")]
    pub output_bytes: u64,
    /// Size of each writable tmpfs (the work dir, `/tmp`, `/dev/shm`).
    #[serde(deserialize_with = "within::<_, 1, 4096, _>")]
    pub tmpfs_mb: u64,
    /// Open files per process.
    #[serde(deserialize_with = "within::<_, 16, 1_048_576, _>")]
    pub nofile: u64,
    /// Warm containers kept ready when the sandbox is busy, at most.
    #[serde(deserialize_with = "within::<_, 0, 64, _>")]
    pub pool: usize,
    /// Warm containers kept ready even when it is not used.
    #[serde(deserialize_with = "within::<_, 0, 64, _>")]
    pub pool_min: usize,
    /// The kernel's OOM score adjustment of the sandbox's processes: 1000
    /// makes them the host's first choice when memory runs out.
    #[serde(deserialize_with = "within::<_, 0, 1000, _>")]
    pub oom_score_adj: i64,
    /// Files a run returns (for commands with `outputs`): most listed.
    #[serde(deserialize_with = "within::<_, 0, 1000, _>")]
    pub output_files: u64,
    /// Most bytes of one returned file.
    #[serde(deserialize_with = "within::<_, 0, 16_777_216, _>")]
    pub output_file_bytes: u64,
    /// Most bytes of all returned files together.
    #[serde(deserialize_with = "within::<_, 0, 33_554_432, _>")]
    pub output_total_bytes: u64,
    /// Wall-clock limit of the sandbox's `prepare` programs together, when
    /// its container starts.
    #[serde(deserialize_with = "within::<_, 1, 25_000, _>")]
    pub prepare_timeout_ms: u64,
    /// Wall-clock limit of an interactive run (the reader types while it
    /// runs); its CPU time stays bounded by `timeout_ms`.
    #[serde(deserialize_with = "within::<_, 1, 3_600_000, _>")]
    pub interactive_timeout_ms: u64,
    /// Most bytes a reader may send to an interactive run's stdin.
    #[serde(deserialize_with = "within::<_, 0, 16_777_216, _>")]
    pub interactive_stdin_bytes: u64,
    /// OCI runtime (e.g. `runsc`); `None` is the engine's default.
    #[serde(deserialize_with = "runtime")]
    pub runtime: Option<String>,
}

/// An integer within `MIN..=MAX`.
fn within<'de, D, const MIN: i64, const MAX: i64, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let v = i64::deserialize(d)?;
    if !(MIN..=MAX).contains(&v) {
        return Err(serde::de::Error::custom(format!(
            "must be between {MIN} and {MAX}, not {v}"
        )));
    }
    T::try_from(v).map_err(|_| serde::de::Error::custom("out of range"))
}

fn cores<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v > 0.0 && v <= 64.0) {
        return Err(serde::de::Error::custom("must be above 0 and at most 64"));
    }
    Ok(v)
}

fn runtime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = String::deserialize(d)?;
    Ok((!v.is_empty()).then_some(v))
}

impl Limits {
    /// `table` over `base` (every key of `base` that `table` leaves out),
    /// checked field by field.
    fn merge(base: &toml::Table, table: toml::Table, path: &Path) -> Result<Self, ConfigError> {
        let mut merged = base.clone();
        merged.extend(table);
        let limits: Limits = from_table(merged, path)?;
        if limits.pool_min > limits.pool {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "field `pool_min` ({}) must not be above `pool` ({})",
                    limits.pool_min, limits.pool
                ),
            ));
        }
        Ok(limits)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    /// The sandbox whose image and settings this one starts from.
    #[serde(default)]
    extends: Option<String>,
    #[serde(default)]
    packages: Packages,
    title: String,
    language: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    example: String,
    #[serde(default = "default_workdir")]
    workdir: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    prepare: Vec<Vec<String>>,
    commands: BTreeMap<String, Command>,
    #[serde(default)]
    limits: toml::Table,
    #[serde(default)]
    architectures: Vec<String>,
}

/// The machine architectures (as Rust and `uname -m` name them) a sandbox
/// may be limited to.
pub const ARCHITECTURES: [&str; 2] = ["x86_64", "aarch64"];

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
    /// The first step is started with the container, before the job
    /// arrives, and told when the files are in place (see the agent).
    #[serde(default)]
    pub prestart: bool,
    /// Globs, relative to the work dir, of the files a run returns.
    #[serde(default)]
    pub outputs: Vec<String>,
}

/// A loaded, validated sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub name: String,
    pub title: String,
    pub language: String,
    /// Other names the API accepts for this sandbox.
    pub aliases: Vec<String>,
    pub example: String,
    pub workdir: String,
    pub env: BTreeMap<String, String>,
    /// Programs run when the container starts, before any job.
    pub prepare: Vec<Vec<String>>,
    pub commands: BTreeMap<String, Command>,
    pub limits: Limits,
    /// Its folder.
    pub dir: PathBuf,
    /// The sandbox it extends (by name), whose image its own is built on.
    pub extends: Option<String>,
    /// The packages its image adds to its parent's.
    pub packages: Checked,
    /// Every package its image has: its parents' and its own.
    pub all_packages: Checked,
    /// The machine architectures its image can be built for (its
    /// Dockerfile installs software made for those only); empty: any.
    pub architectures: Vec<String>,
    /// Where its image is: `REPOSITORY/NAME:latest`.
    repository: String,
}

/// The repository sandbox images are in unless the server is told another.
pub const DEFAULT_REPOSITORY: &str = "snipbox";

impl Sandbox {
    /// Whether its image can be built for machines of `arch`.
    pub fn runs_on(&self, arch: &str) -> bool {
        self.architectures.is_empty() || self.architectures.iter().any(|a| a == arch)
    }

    /// The image `make images` builds for this sandbox.
    pub fn image(&self) -> String {
        format!("{}/{}:{DEFAULT_VERSION}", self.repository, self.name)
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
            aliases: self.aliases.clone(),
            versions: vec![DEFAULT_VERSION.into()],
            commands: self.commands.keys().cloned().collect(),
            entry,
            example: self.example.clone(),
            packages: self.all_packages.listing(),
        }
    }
}

/// Every sandbox of a `sandboxes/` folder (or what the server keeps for
/// each: see [`Catalog::map`]), by name and by alias.
#[derive(Debug, Clone)]
pub struct Catalog<T = Sandbox> {
    sandboxes: BTreeMap<String, T>,
    /// Alias → name.
    aliases: BTreeMap<String, String>,
}

impl<T> Catalog<T> {
    /// The entry with this name or alias.
    pub fn get(&self, name: &str) -> Option<&T> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        self.sandboxes.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.sandboxes.values()
    }

    /// The same catalog, names and aliases, with `f` of each entry.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Catalog<U> {
        Catalog {
            sandboxes: self
                .sandboxes
                .into_iter()
                .map(|(name, t)| (name, f(t)))
                .collect(),
            aliases: self.aliases,
        }
    }
}

impl Catalog {
    /// Loads the first folder's `defaults.toml` and every `NAME/sandbox.toml`
    /// of each folder; a name defined twice is refused with both files.
    pub fn load<P: AsRef<Path>>(dirs: &[P]) -> Result<Self, ConfigError> {
        let dirs: Vec<&Path> = dirs.iter().map(AsRef::as_ref).collect();
        let Some(first) = dirs.first() else {
            return Err(ConfigError::invalid(
                Path::new(""),
                "no sandboxes folder given",
            ));
        };
        let defaults_path = first.join("defaults.toml");
        let defaults: toml::Table = parse(&defaults_path)?;
        Limits::merge(&defaults, toml::Table::new(), &defaults_path)?;

        let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in &dirs {
            let own_defaults = dir.join("defaults.toml");
            if dir != first && own_defaults.exists() {
                return Err(ConfigError::invalid(
                    &own_defaults,
                    format!(
                        "only the first sandboxes folder's defaults.toml is read ({}): set a \
                         sandbox's own limits in its sandbox.toml's [limits]",
                        defaults_path.display()
                    ),
                ));
            }
            for (name, path) in sandbox_files(dir)? {
                if let Some(other) = files.get(&name) {
                    return Err(ConfigError::invalid(
                        &path,
                        format!("sandbox {name:?} is also defined by {}", other.display()),
                    ));
                }
                files.insert(name, path);
            }
        }
        if files.is_empty() {
            let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(ConfigError::invalid(
                first,
                format!(
                    "no sandbox folder (NAME/sandbox.toml) found in {}",
                    names.join(", ")
                ),
            ));
        }
        let mut loader = Loader {
            files: &files,
            defaults: &defaults,
            tables: BTreeMap::new(),
            catalog: Catalog {
                sandboxes: BTreeMap::new(),
                aliases: BTreeMap::new(),
            },
        };
        for name in files.keys() {
            loader.resolve(name, &mut Vec::new())?;
        }
        let mut catalog = loader.catalog;
        catalog.index_aliases()?;
        Ok(catalog)
    }

    /// The sandbox and every sandbox it extends, the furthest first: the
    /// order their images are built in.
    pub fn lineage(&self, name: &str) -> Vec<&Sandbox> {
        let mut line = Vec::new();
        let mut next = self.get(name);
        while let Some(s) = next {
            line.insert(0, s);
            next = s.extends.as_deref().and_then(|p| self.get(p));
        }
        line
    }

    /// Every alias names one sandbox, and no alias is a sandbox's name.
    fn index_aliases(&mut self) -> Result<(), ConfigError> {
        for s in self.sandboxes.values() {
            for alias in &s.aliases {
                let path = s.dir.join("sandbox.toml");
                if self.sandboxes.contains_key(alias) {
                    return Err(ConfigError::invalid(
                        &path,
                        format!("alias {alias:?} is the name of a sandbox"),
                    ));
                }
                if let Some(other) = self.aliases.insert(alias.clone(), s.name.clone()) {
                    return Err(ConfigError::invalid(
                        &path,
                        format!("alias {alias:?} is also an alias of {other}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Gives every sandbox a pool of exactly `size` (an operator's
    /// override of the files: a fixed pool, or none at all with 0).
    pub fn set_pool(&mut self, size: usize) {
        for s in self.sandboxes.values_mut() {
            s.limits.pool = size;
            s.limits.pool_min = size;
        }
    }

    /// Runs every sandbox under `runtime`; empty (an unset variable in a
    /// compose file) leaves each sandbox's own.
    pub fn set_runtime(&mut self, runtime: &str) {
        if runtime.is_empty() {
            return;
        }
        for s in self.sandboxes.values_mut() {
            s.limits.runtime = Some(runtime.to_string());
        }
    }

    /// Keeps only the sandboxes `names` (names or aliases; blanks are
    /// ignored, and none at all keeps every sandbox): an operator's subset.
    pub fn keep_only(&mut self, names: &[String]) -> Result<(), String> {
        let mut kept = std::collections::BTreeSet::new();
        for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let canonical = self.aliases.get(name).map_or(name, String::as_str);
            if !self.sandboxes.contains_key(canonical) {
                let known: Vec<&str> = self.sandboxes.keys().map(String::as_str).collect();
                return Err(format!(
                    "no sandbox named {name:?} (there are: {})",
                    known.join(", ")
                ));
            }
            kept.insert(canonical.to_string());
        }
        if !kept.is_empty() {
            self.sandboxes.retain(|name, _| kept.contains(name));
            self.aliases.retain(|_, name| kept.contains(name));
        }
        Ok(())
    }

    /// Leaves out the sandboxes whose images cannot be built for machines of
    /// `arch` (see [`Sandbox::architectures`]); their names.
    pub fn keep_architecture(&mut self, arch: &str) -> Vec<String> {
        let left: Vec<String> = self
            .sandboxes
            .values()
            .filter(|s| !s.runs_on(arch))
            .map(|s| s.name.clone())
            .collect();
        self.sandboxes.retain(|name, _| !left.contains(name));
        self.aliases.retain(|_, name| !left.contains(name));
        left
    }

    /// Takes every sandbox's image from `repository` instead.
    pub fn set_repository(&mut self, repository: &str) {
        for s in self.sandboxes.values_mut() {
            s.repository = repository.to_string();
        }
    }
}

/// Each `NAME/sandbox.toml` of a folder, by name.
fn sandbox_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: dir.into(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path().join("sandbox.toml");
        if entry.path().is_dir() && path.exists() {
            found.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    Ok(found)
}

/// Keys of a sandbox file whose tables a sandbox that extends another
/// merges entry by entry with its parent's; every other key it names
/// replaces the parent's.
const MERGED_TABLES: [&str; 3] = ["limits", "env", "commands"];
/// Keys never inherited: a name belongs to one sandbox, and the parent's
/// packages are already in the image a child's is built on.
const OWN_KEYS: [&str; 3] = ["aliases", "extends", "packages"];

/// Resolves `extends`, parents first.
struct Loader<'a> {
    files: &'a BTreeMap<String, PathBuf>,
    defaults: &'a toml::Table,
    /// Each loaded sandbox's file with its parents' keys merged in.
    tables: BTreeMap<String, toml::Table>,
    catalog: Catalog,
}

impl Loader<'_> {
    /// Loads `name` (and what it extends) unless it is loaded; `chain` is
    /// the sandboxes on the way, to refuse a loop.
    fn resolve(&mut self, name: &str, chain: &mut Vec<String>) -> Result<(), ConfigError> {
        if self.tables.contains_key(name) {
            return Ok(());
        }
        let path = &self.files[name];
        let own: toml::Table = parse(path)?;
        let mut table = own.clone();
        let parent = match own.get("extends") {
            None => None,
            Some(toml::Value::String(parent)) => Some(parent.clone()),
            Some(_) => {
                return Err(ConfigError::invalid(
                    path,
                    "field `extends` must be a sandbox's name",
                ));
            }
        };
        if let Some(parent) = &parent {
            if !self.files.contains_key(parent) {
                let known: Vec<&str> = self.files.keys().map(String::as_str).collect();
                return Err(ConfigError::invalid(
                    path,
                    format!(
                        "field `extends`: no sandbox is named {parent:?} (there are: {})",
                        known.join(", ")
                    ),
                ));
            }
            chain.push(name.to_string());
            if chain.contains(parent) {
                chain.push(parent.clone());
                return Err(ConfigError::invalid(
                    path,
                    format!("field `extends` goes round: {}", chain.join(" extends ")),
                ));
            }
            self.resolve(parent, chain)?;
            chain.pop();
            table = inherit(&self.tables[parent], own);
        }
        let inherited = match &parent {
            Some(p) => self.catalog.sandboxes[p].all_packages.clone(),
            None => Checked::default(),
        };
        let sandbox = load_one(name, path, table.clone(), self.defaults, &inherited)?;
        self.tables.insert(name.to_string(), table);
        self.catalog.sandboxes.insert(name.to_string(), sandbox);
        Ok(())
    }
}

/// `child`'s keys over `parent`'s (see [`MERGED_TABLES`], [`OWN_KEYS`]).
fn inherit(parent: &toml::Table, child: toml::Table) -> toml::Table {
    let mut merged = parent.clone();
    for key in OWN_KEYS {
        merged.remove(key);
    }
    for (key, value) in child {
        match (merged.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(over))
                if MERGED_TABLES.contains(&key.as_str()) =>
            {
                base.extend(over);
            }
            (_, value) => {
                merged.insert(key, value);
            }
        }
    }
    merged
}

/// `table` as a `T`; an error names the field at fault (of `path`).
fn from_table<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    path: &Path,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        ConfigError::invalid(
            path,
            if field == "." {
                inner
            } else {
                format!("field `{field}`: {inner}")
            },
        )
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::invalid(path, e.to_string().trim_end()))
}

/// A sandbox or alias name: lowercase letters, digits, `-`, `_`, `+`, `.`.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'+' | b'.')
        })
}

fn load_one(
    name: &str,
    path: &Path,
    table: toml::Table,
    defaults: &toml::Table,
    inherited: &Checked,
) -> Result<Sandbox, ConfigError> {
    if !plain_name(name) || name.contains(['+', '.']) {
        return Err(ConfigError::invalid(
            path,
            "the folder name must be lowercase letters, digits, - or _",
        ));
    }
    let file: SandboxFile = from_table(table, path)?;
    let limits = Limits::merge(defaults, file.limits, path)?;
    let invalid = |message: String| ConfigError::invalid(path, message);
    if let Some(bad) = file.aliases.iter().find(|a| !plain_name(a)) {
        return Err(invalid(format!(
            "field `aliases`: {bad:?} must be lowercase letters, digits, -, _, + or ."
        )));
    }
    if file.commands.is_empty() {
        return Err(invalid(
            "field `commands` must define at least one command".into(),
        ));
    }
    let argv_ok = |steps: &[Vec<String>]| steps.iter().all(|s| !s.is_empty() && !s[0].is_empty());
    if !argv_ok(&file.prepare) {
        return Err(invalid(
            "field `prepare` must list programs, each a non-empty argv".into(),
        ));
    }
    for (cmd, c) in &file.commands {
        check_name(&c.entry).map_err(|e| invalid(format!("field `commands.{cmd}.entry`: {e}")))?;
        if c.steps.is_empty() || !argv_ok(&c.steps) {
            return Err(invalid(format!(
                "field `commands.{cmd}.steps` must list programs, each a non-empty argv"
            )));
        }
        if let Some(bad) = c.outputs.iter().find(|g| check_name(g).is_err()) {
            return Err(invalid(format!(
                "field `commands.{cmd}.outputs`: {bad:?} must be a relative path or glob inside the work dir"
            )));
        }
    }
    if !file.workdir.starts_with('/') || file.workdir.split('/').any(|s| s == "..") {
        return Err(invalid("field `workdir` must be an absolute path".into()));
    }
    if let Some(bad) = file
        .architectures
        .iter()
        .find(|a| !ARCHITECTURES.contains(&a.as_str()))
    {
        return Err(invalid(format!(
            "field `architectures`: {bad:?} is not one of {}",
            ARCHITECTURES.join(", ")
        )));
    }
    let packages = file.packages.check(&file.language).map_err(invalid)?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let dockerfile = dir.join("Dockerfile").is_file();
    if !packages.is_empty() && file.extends.is_none() {
        return Err(invalid(
            "field `packages` needs `extends`: packages are installed on the image of the \
             sandbox it extends"
                .into(),
        ));
    }
    if !packages.is_empty() && dockerfile {
        return Err(invalid(format!(
            "field `packages`: {} replaces the image they would be installed on: remove the \
             Dockerfile (the image is built from the parent's and the packages) or install them \
             in it",
            dir.join("Dockerfile").display()
        )));
    }
    Ok(Sandbox {
        name: name.into(),
        title: file.title,
        language: file.language,
        aliases: file.aliases,
        example: file.example,
        workdir: file.workdir,
        env: file.env,
        prepare: file.prepare,
        commands: file.commands,
        limits,
        dir,
        extends: file.extends,
        all_packages: packages.after(inherited),
        packages,
        architectures: file.architectures,
        repository: DEFAULT_REPOSITORY.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::folder;

    const DEFAULTS: &str = "timeout_ms = 5000\nmemory_mb = 128\ncpus = 1.0\npids = 64\noutput_bytes = 100\ntmpfs_mb = 16\nnofile = 64\npool = 2\npool_min = 1\noom_score_adj = 1000\noutput_files = 10\noutput_file_bytes = 1048576\noutput_total_bytes = 2097152\nprepare_timeout_ms = 20000\ninteractive_timeout_ms = 60000\ninteractive_stdin_bytes = 65536\nruntime = \"\"\n";
    const PY: &str = "title = \"P\"\nlanguage = \"python\"\n[commands.run]\nentry = \"main.py\"\nsteps = [[\"python3\", \"main.py\"]]\n";

    #[test]
    fn sandboxes_limited_to_an_architecture_are_left_out_elsewhere() {
        let x86 = format!("architectures = [\"x86_64\"]\n{PY}");
        let dir = folder(&[
            ("defaults.toml", DEFAULTS),
            ("py/sandbox.toml", PY),
            (
                "old/sandbox.toml",
                &format!("aliases = [\"legacy\"]\n{x86}"),
            ),
            ("child/sandbox.toml", "extends = \"old\"\n"),
        ]);
        let catalog = Catalog::load(&[dir.path()]).unwrap();
        let mut arm = catalog.clone();
        assert_eq!(arm.keep_architecture("aarch64"), ["child", "old"]);
        assert!(arm.get("py").is_some() && arm.get("legacy").is_none());
        let mut here = catalog.clone();
        assert!(here.keep_architecture("x86_64").is_empty());
        let bad = folder(&[
            ("defaults.toml", DEFAULTS),
            (
                "py/sandbox.toml",
                &format!("architectures = [\"arm\"]\n{PY}"),
            ),
        ]);
        let e = Catalog::load(&[bad.path()]).unwrap_err().to_string();
        assert!(e.contains("\"arm\" is not one of x86_64, aarch64"), "{e}");
        // This repository's: crystal's compiler is packaged by Debian for
        // amd64 only; every other sandbox's software exists for arm64.
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let mut repo = Catalog::load(&[&repo]).unwrap();
        assert_eq!(repo.keep_architecture("aarch64"), ["crystal"]);
    }

    #[test]
    fn the_repository_sandboxes_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let catalog = Catalog::load(&[&dir]).unwrap();
        for name in ["python", "javascript", "sqlite", "c"] {
            assert!(catalog.get(name).is_some(), "{name} is missing");
        }
        assert!(catalog.get("shell").is_some(), "shell stays a name");
    }

    #[test]
    fn an_operator_subset_keeps_those_sandboxes_and_their_aliases() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
        let mut catalog = Catalog::load(&[&dir]).unwrap();
        catalog
            .keep_only(&["python".into(), "shell".into(), " ".into()])
            .unwrap();
        let names: Vec<&str> = catalog.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["bash", "python"]);
        assert!(catalog.get("py").is_some() && catalog.get("sh").is_some());
        assert!(catalog.get("go").is_none());
        let e = catalog.keep_only(&["cobol".into()]).unwrap_err();
        assert!(e.contains("\"cobol\"") && e.contains("bash, python"), "{e}");
    }

    #[test]
    fn a_sandbox_overrides_only_what_it_names() {
        let dir = folder(&[
            ("defaults.toml", DEFAULTS),
            (
                "py/sandbox.toml",
                &format!("{PY}[limits]\ntimeout_ms = 9000\n"),
            ),
        ]);
        let catalog = Catalog::load(&[dir.path()]).unwrap();
        let limits = &catalog.get("py").unwrap().limits;
        assert_eq!((limits.timeout_ms, limits.memory_mb), (9000, 128));
        assert_eq!(limits.runtime, None, "an empty runtime is the default");
    }

    #[test]
    fn aliases_resolve_to_their_sandbox() {
        let dir = folder(&[
            ("defaults.toml", DEFAULTS),
            (
                "py/sandbox.toml",
                &PY.replace("language", "aliases = [\"python3\", \"python\"]\nlanguage"),
            ),
        ]);
        let catalog = Catalog::load(&[dir.path()]).unwrap();
        assert_eq!(catalog.get("python3").unwrap().name, "py");
        assert_eq!(catalog.get("python").unwrap().name, "py");
        assert_eq!(
            catalog.get("py").unwrap().info().aliases,
            ["python3", "python"]
        );
        assert!(catalog.get("pyth").is_none());
    }

    #[test]
    fn a_broken_sandbox_names_its_file_and_field() {
        let cases = [
            (
                format!("{PY}[limits]\ntimeout = 1\n"),
                "unknown field `timeout`",
            ),
            (format!("{PY}[limits]\npids = 1\n"), "field `pids`"),
            (format!("{PY}[limits]\ncpus = 0.0\n"), "field `cpus`"),
            (format!("{PY}[limits]\npool_min = 3\n"), "field `pool_min`"),
            (
                format!("{PY}[limits]\nmemory_mb = \"lots\"\n"),
                "field `memory_mb`",
            ),
            (PY.replace("title = \"P\"\n", ""), "missing field `title`"),
            (format!("user = \"0:0\"\n{PY}"), "unknown field `user`"),
            (
                PY.replace("main.py\"\nsteps", "../x\"\nsteps"),
                "commands.run.entry",
            ),
            (
                PY.replace("[[\"python3\", \"main.py\"]]", "[[]]"),
                "commands.run.steps",
            ),
            (
                format!("{PY}outputs = [\"/etc/*\"]\n"),
                "commands.run.outputs",
            ),
            (format!("prepare = [[]]\n{PY}"), "field `prepare`"),
            (format!("aliases = [\"C#\"]\n{PY}"), "field `aliases`"),
            (format!("aliases = [\"py\"]\n{PY}"), "name of a sandbox"),
        ];
        for (text, want) in cases {
            let dir = folder(&[("defaults.toml", DEFAULTS), ("py/sandbox.toml", &text)]);
            let err = Catalog::load(&[dir.path()]).unwrap_err().to_string();
            assert!(
                err.contains("py/sandbox.toml") && err.contains(want),
                "{err:?} lacks {want:?}"
            );
        }
    }

    #[test]
    fn two_sandboxes_cannot_share_an_alias() {
        let with = PY.replace("language", "aliases = [\"x\"]\nlanguage");
        let dir = folder(&[
            ("defaults.toml", DEFAULTS),
            ("a/sandbox.toml", &with),
            ("b/sandbox.toml", &with),
        ]);
        let err = Catalog::load(&[dir.path()]).unwrap_err().to_string();
        assert!(err.contains("also an alias of a"), "{err}");
    }

    #[test]
    fn a_sandbox_that_extends_another_inherits_all_but_its_names_and_overrides_what_it_sets() {
        let parent = format!(
            "{}env = {{ A = \"1\", B = \"2\" }}\n{PY}[limits]\ntimeout_ms = 9000\nmemory_mb = 256\n",
            "aliases = [\"py3\"]\n"
        );
        let child = "extends = \"py\"\ntitle = \"P with rich\"\naliases = [\"rich\"]\n\
                     env = { B = \"3\" }\n[packages]\npip = [\"rich==13.7.1\"]\n\
                     [limits]\nmemory_mb = 512\n";
        let grandchild = "extends = \"py-rich\"\ntitle = \"P with more\"\n\
                          [packages]\napt = [\"jq\"]\n";
        let dir = folder(&[
            ("defaults.toml", DEFAULTS),
            ("py/sandbox.toml", &parent),
            ("py/Dockerfile", "FROM debian:trixie-slim\n"),
            ("py-rich/sandbox.toml", child),
            ("py-more/sandbox.toml", grandchild),
        ]);
        let catalog = Catalog::load(&[dir.path()]).unwrap();
        let s = catalog.get("rich").unwrap();
        assert_eq!(
            (s.name.as_str(), s.title.as_str()),
            ("py-rich", "P with rich")
        );
        assert_eq!(
            (s.language.as_str(), s.extends.as_deref()),
            ("python", Some("py"))
        );
        assert_eq!(s.commands["run"].steps, [["python3", "main.py"]]);
        assert_eq!((s.limits.timeout_ms, s.limits.memory_mb), (9000, 512));
        assert_eq!(s.env["A"], "1");
        assert_eq!(s.env["B"], "3");
        assert_eq!(s.aliases, ["rich"], "the parent's aliases stay its own");
        let more = catalog.get("py-more").unwrap();
        assert!(more.aliases.is_empty());
        assert_eq!(more.packages.apt, ["jq"]);
        assert!(
            more.packages.pip.is_empty(),
            "the parent's are in its image"
        );
        let listed = more.info().packages;
        assert_eq!(
            (listed["pip"].as_slice(), listed["apt"].as_slice()),
            (&["rich==13.7.1".to_string()][..], &["jq".to_string()][..])
        );
        let line: Vec<&str> = catalog
            .lineage("py-more")
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(line, ["py", "py-rich", "py-more"]);
    }

    #[test]
    fn extends_and_packages_are_refused_where_they_cannot_work() {
        let ext =
            |parent: &str, rest: &str| format!("extends = \"{parent}\"\ntitle = \"X\"\n{rest}");
        let cases = [
            (ext("cobol", ""), None, "no sandbox is named \"cobol\""),
            (ext("x", ""), None, "goes round: x extends x"),
            (ext("py", "[packages]\npip = [\"rich\"]\n"), None, "pinned"),
            (
                ext("py", "[packages]\nnpm = [\"lodash@4.17.21\"]\n"),
                None,
                "language is javascript",
            ),
            (
                ext("py", "[packages]\npip = [\"rich==13.7.1\"]\n"),
                Some("FROM x\n"),
                "replaces the image",
            ),
            (
                format!("{PY}[packages]\npip = [\"rich==13.7.1\"]\n"),
                None,
                "needs `extends`",
            ),
        ];
        for (text, dockerfile, want) in cases {
            let mut files = vec![
                ("defaults.toml", DEFAULTS),
                ("py/sandbox.toml", PY),
                ("x/sandbox.toml", text.as_str()),
            ];
            if let Some(d) = dockerfile {
                files.push(("x/Dockerfile", d));
            }
            let dir = folder(&files);
            let err = Catalog::load(&[dir.path()]).unwrap_err().to_string();
            assert!(
                err.contains("x/sandbox.toml") && err.contains(want),
                "{err:?} lacks {want:?}"
            );
        }
    }

    #[test]
    fn sandboxes_come_from_several_folders_and_a_name_defined_twice_is_refused() {
        let repo = folder(&[("defaults.toml", DEFAULTS), ("py/sandbox.toml", PY)]);
        let own = folder(&[(
            "mylib/sandbox.toml",
            "extends = \"py\"\ntitle = \"Mine\"\n[packages]\npip = [\"rich==13.7.1\"]\n",
        )]);
        let catalog = Catalog::load(&[repo.path(), own.path()]).unwrap();
        let mine = catalog.get("mylib").unwrap();
        assert_eq!(mine.dir, own.path().join("mylib"));
        assert_eq!(mine.limits.timeout_ms, 5000, "the first folder's defaults");

        let twice = folder(&[("py/sandbox.toml", PY)]);
        let err = Catalog::load(&[repo.path(), twice.path()])
            .unwrap_err()
            .to_string();
        let (a, b) = (
            repo.path().join("py/sandbox.toml"),
            twice.path().join("py/sandbox.toml"),
        );
        assert!(
            err.contains(&*a.to_string_lossy()) && err.contains(&*b.to_string_lossy()),
            "{err}"
        );
        let defaults = folder(&[("defaults.toml", DEFAULTS), ("other/sandbox.toml", PY)]);
        let err = Catalog::load(&[repo.path(), defaults.path()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("only the first sandboxes folder's defaults.toml"),
            "{err}"
        );
    }

    #[test]
    fn defaults_must_name_every_limit() {
        let dir = folder(&[
            ("defaults.toml", &DEFAULTS.replace("nofile = 64\n", "")),
            ("py/sandbox.toml", PY),
        ]);
        let err = Catalog::load(&[dir.path()]).unwrap_err().to_string();
        assert!(
            err.contains("defaults.toml") && err.contains("`nofile`"),
            "{err}"
        );
    }
}

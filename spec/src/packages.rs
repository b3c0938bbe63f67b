//! The `[packages]` a sandbox that `extends` another adds to its parent's
//! image: pip, npm and cargo packages, each pinned to one version, and
//! Debian packages. Each entry is checked when the catalog loads (the file
//! and the entry are named when one is refused), as it ends up in a build
//! step's command line: only the characters each ecosystem's names and
//! versions use get through.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The packages of one sandbox, as its `sandbox.toml` lists them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// `NAME==VERSION` (extras allowed: `NAME[extra]==VERSION`).
    #[serde(default)]
    pub pip: Vec<String>,
    /// `NAME@VERSION` or `@SCOPE/NAME@VERSION`, the version exact.
    #[serde(default)]
    pub npm: Vec<String>,
    /// `NAME@VERSION`, or a table with `features`.
    #[serde(default)]
    pub cargo: Vec<CrateEntry>,
    /// Debian 13 package names, `NAME` or `NAME=VERSION`.
    #[serde(default)]
    pub apt: Vec<String>,
}

/// A crate as written: `"itertools@0.13.0"`, or
/// `{ name = "serde", version = "1.0.210", features = ["derive"] }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CrateEntry {
    Plain(String),
    Table(Crate),
}

/// One crate, compiled into the image with its dependencies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crate {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default = "yes")]
    pub default_features: bool,
}

fn yes() -> bool {
    true
}

impl CrateEntry {
    fn resolve(&self) -> Result<Crate, String> {
        match self {
            CrateEntry::Plain(text) => {
                let (name, version) = text
                    .rsplit_once('@')
                    .ok_or_else(|| format!("{text:?} must be NAME@VERSION"))?;
                Ok(Crate {
                    name: name.into(),
                    version: version.into(),
                    features: Vec::new(),
                    default_features: true,
                })
            }
            CrateEntry::Table(c) => Ok(c.clone()),
        }
    }
}

impl Crate {
    /// The name Rust code uses (`-` becomes `_`).
    pub fn rust_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// Which language's sandboxes each ecosystem serves.
pub fn ecosystem_languages(ecosystem: &str) -> &'static [&'static str] {
    match ecosystem {
        "pip" => &["python"],
        "npm" => &["javascript", "typescript"],
        "cargo" => &["rust"],
        _ => &[],
    }
}

/// The packages with every entry checked; crates resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    pub pip: Vec<String>,
    pub npm: Vec<String>,
    pub cargo: Vec<Crate>,
    pub apt: Vec<String>,
}

impl Checked {
    pub fn is_empty(&self) -> bool {
        self.pip.is_empty() && self.npm.is_empty() && self.cargo.is_empty() && self.apt.is_empty()
    }

    /// Each ecosystem's entries as written (crates as `NAME@VERSION`),
    /// the empty ones left out: what `/v1/sandboxes` lists.
    pub fn listing(&self) -> BTreeMap<String, Vec<String>> {
        let crates = self
            .cargo
            .iter()
            .map(|c| format!("{}@{}", c.name, c.version))
            .collect();
        [
            ("apt", self.apt.clone()),
            ("cargo", crates),
            ("npm", self.npm.clone()),
            ("pip", self.pip.clone()),
        ]
        .into_iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `self` after `parent`'s: what an image built on the parent's has.
    pub fn after(&self, parent: &Checked) -> Checked {
        let join = |a: &[String], b: &[String]| [a, b].concat();
        Checked {
            pip: join(&parent.pip, &self.pip),
            npm: join(&parent.npm, &self.npm),
            cargo: [parent.cargo.as_slice(), &self.cargo].concat(),
            apt: join(&parent.apt, &self.apt),
        }
    }
}

impl Packages {
    /// Every entry checked, for a sandbox of `language`; the error names
    /// the field and the entry.
    pub fn check(&self, language: &str) -> Result<Checked, String> {
        let fits = |ecosystem: &str, list_empty: bool| {
            let languages = ecosystem_languages(ecosystem);
            if list_empty || languages.contains(&language) {
                Ok(())
            } else {
                Err(format!(
                    "field `packages.{ecosystem}`: {ecosystem} packages need a sandbox whose \
                     language is {} (this one's is {language:?})",
                    languages.join(" or ")
                ))
            }
        };
        fits("pip", self.pip.is_empty())?;
        fits("npm", self.npm.is_empty())?;
        fits("cargo", self.cargo.is_empty())?;
        let each = |field: &str, list: &[String], check: fn(&str) -> Result<(), String>| {
            for entry in list {
                check(entry).map_err(|e| format!("field `packages.{field}`: {entry:?}: {e}"))?;
            }
            Ok::<_, String>(list.to_vec())
        };
        let mut cargo = Vec::new();
        for entry in &self.cargo {
            let c = entry
                .resolve()
                .and_then(|c| check_crate(&c).map(|()| c))
                .map_err(|e| format!("field `packages.cargo`: {e}"))?;
            cargo.push(c);
        }
        Ok(Checked {
            pip: each("pip", &self.pip, check_pip)?,
            npm: each("npm", &self.npm, check_npm)?,
            cargo,
            apt: each("apt", &self.apt, check_apt)?,
        })
    }
}

const UNPINNED: &str = "must be pinned to one version";

/// `NAME==VERSION`, `NAME[a,b]==VERSION`: PEP 508 names, an exact PEP 440
/// version (no wildcard, no range, no URL).
fn check_pip(entry: &str) -> Result<(), String> {
    let Some((name, version)) = entry.split_once("==") else {
        return Err(format!("{UNPINNED}: NAME==VERSION, as rich==13.7.1"));
    };
    let (name, extras) = match name.split_once('[') {
        Some((n, rest)) => (
            n,
            rest.strip_suffix(']')
                .ok_or("an extra's list must end with ]")?,
        ),
        None => (name, ""),
    };
    let pep508 = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
    };
    if !pep508(name) {
        return Err("the name must be letters, digits, ., _ or -".into());
    }
    if !extras.is_empty() && !extras.split(',').all(|e| pep508(e.trim())) {
        return Err("extras must be names, separated by commas".into());
    }
    let exact = !version.is_empty()
        && version.as_bytes()[0].is_ascii_digit()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+!".contains(&b));
    if !exact {
        return Err(format!(
            "{UNPINNED}: the version after == must be exact, as 13.7.1"
        ));
    }
    Ok(())
}

/// `NAME@VERSION` or `@SCOPE/NAME@VERSION`, the version exact semver.
fn check_npm(entry: &str) -> Result<(), String> {
    let (name, version) = match entry.rsplit_once('@') {
        Some((name, version)) if !name.is_empty() => (name, version),
        _ => return Err(format!("{UNPINNED}: NAME@VERSION, as lodash@4.17.21")),
    };
    let part = |s: &str| {
        !s.is_empty()
            && !s.starts_with(['.', '_'])
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    let named = match name.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(scope, n)| part(scope) && part(n)),
        None => part(name),
    };
    if !named || name.len() > 214 {
        return Err("the name must be an npm package name (lowercase, as @scope/name)".into());
    }
    exact_semver(version)
}

/// `NAME@VERSION`: a crates.io name and an exact version.
fn check_crate(c: &Crate) -> Result<(), String> {
    let named = !c.name.is_empty()
        && c.name.len() <= 64
        && c.name.as_bytes()[0].is_ascii_alphabetic()
        && c.name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if !named {
        return Err(format!(
            "{:?}: the name must be a crates.io name (letters, digits, - or _)",
            c.name
        ));
    }
    exact_semver(&c.version).map_err(|e| format!("{}@{}: {e}", c.name, c.version))?;
    if let Some(bad) = c.features.iter().find(|f| {
        f.is_empty()
            || !f
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_+/.".contains(&b))
    }) {
        return Err(format!("{}: feature {bad:?} is not a feature name", c.name));
    }
    Ok(())
}

fn exact_semver(version: &str) -> Result<(), String> {
    semver::Version::parse(version)
        .map(|_| ())
        .map_err(|_| format!("{UNPINNED}: {version:?} is not an exact version, as 1.2.3"))
}

/// A Debian package: `NAME` or `NAME=VERSION` (Debian's own rules).
fn check_apt(entry: &str) -> Result<(), String> {
    let (name, version) = entry.split_once('=').unwrap_or((entry, "1"));
    let named = name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !named {
        return Err("must be a Debian package name (lowercase letters, digits, +, - or .)".into());
    }
    let versioned = !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b));
    if !versioned {
        return Err("the version after = must be a Debian version".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packages(toml: &str) -> Packages {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn pinned_packages_of_each_ecosystem_pass() {
        let p = packages(
            "pip = [\"rich==13.7.1\", \"requests[socks]==2.32.3\"]\n\
             apt = [\"jq\", \"libgmp-dev=2:6.3.0+dfsg-3\"]\n",
        );
        let checked = p.check("python").unwrap();
        assert_eq!(checked.pip.len(), 2);
        let js = packages("npm = [\"lodash@4.17.21\", \"@types/lodash@4.17.7\"]\n");
        assert_eq!(js.check("typescript").unwrap().npm.len(), 2);
        let rs = packages(
            "cargo = [\"itertools@0.13.0\", { name = \"serde\", version = \"1.0.210\", features = [\"derive\"] }]\n",
        );
        let crates = rs.check("rust").unwrap().cargo;
        assert_eq!(crates[0].name, "itertools");
        assert_eq!(crates[1].features, ["derive"]);
    }

    #[test]
    fn an_unpinned_or_hostile_entry_is_refused_with_the_entry_named() {
        let cases = [
            ("pip = [\"rich\"]", "python", "pinned"),
            ("pip = [\"rich>=13\"]", "python", "pinned"),
            ("pip = [\"rich==13.*\"]", "python", "pinned"),
            ("pip = [\"rich==1; rm -rf /\"]", "python", "pinned"),
            ("pip = [\"ri$h==1.0\"]", "python", "name"),
            ("npm = [\"lodash\"]", "javascript", "pinned"),
            ("npm = [\"lodash@^4.17.21\"]", "javascript", "pinned"),
            ("npm = [\"lodash@latest\"]", "javascript", "pinned"),
            (
                "npm = [\"Lodash@4.17.21\"]",
                "javascript",
                "npm package name",
            ),
            ("cargo = [\"itertools\"]", "rust", "NAME@VERSION"),
            ("cargo = [\"itertools@0.13\"]", "rust", "pinned"),
            ("apt = [\"jq; curl x\"]", "bash", "Debian package name"),
            ("pip = [\"rich==13.7.1\"]", "bash", "language is python"),
            (
                "cargo = [\"itertools@0.13.0\"]",
                "python",
                "language is rust",
            ),
        ];
        for (toml, language, want) in cases {
            let err = packages(toml).check(language).unwrap_err();
            assert!(err.contains(want), "{toml}: {err:?} lacks {want:?}");
            assert!(err.contains("field `packages."), "{err}");
        }
    }

    #[test]
    fn the_listing_names_each_ecosystem_and_an_image_has_its_parents_packages() {
        let parent = packages("apt = [\"jq\"]").check("python").unwrap();
        let child = packages("pip = [\"rich==13.7.1\"]")
            .check("python")
            .unwrap();
        let all = child.after(&parent).listing();
        assert_eq!(all["apt"], ["jq"]);
        assert_eq!(all["pip"], ["rich==13.7.1"]);
        assert!(!all.contains_key("npm"));
    }
}

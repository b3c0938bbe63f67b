//! The test sites of the documentation generators (`tests/sites/NAME`),
//! built by `tests/sites/build.sh` (a build of the same sources is
//! reused).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::root;

/// The generators whose sites `tests/sites/` holds.
pub const GENERATORS: [&str; 7] = [
    "mkdocs",
    "sphinx",
    "mdbook",
    "hugo",
    "jekyll",
    "docusaurus",
    "starlight",
];

/// Builds the site of generator `name` (or reuses its build); its folder.
pub fn build(name: &str) -> PathBuf {
    built("tests/sites/build.sh", &[name], &format!("the {name} site"))
}

/// Builds docs/ as a book into static/docs (or reuses its build), which a
/// test server serves at /docs/; its folder.
pub fn book() -> PathBuf {
    built("scripts/book.sh", &[], "the book")
}

/// Runs a build script that prints the folder it built; that folder.
fn built(script: &str, args: &[&str], what: &str) -> PathBuf {
    let out = Command::new(root().join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{script} runs: {e}"));
    assert!(
        out.status.success(),
        "{what} did not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Copies the folder `from` into `to`, with `https://HOST` replaced by
/// `base` in its pages and scripts; how many files named it.
pub fn copy_with_host(from: &Path, to: &Path, base: &str) -> usize {
    let mut named = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (path, dest) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir(&dest).unwrap();
            named += copy_with_host(&path, &dest, base);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        match String::from_utf8(bytes) {
            Ok(text) if text.contains("https://HOST") => {
                std::fs::write(&dest, text.replace("https://HOST", base)).unwrap();
                named += 1;
            }
            Ok(text) => std::fs::write(&dest, text).unwrap(),
            Err(e) => std::fs::write(&dest, e.into_bytes()).unwrap(),
        }
    }
    named
}

/// `snipbox verify` with these arguments: its exit status and its report
/// (standard output).
pub fn verify(args: &[&str]) -> (std::process::ExitStatus, String) {
    let out = Command::new(crate::server_binary())
        .arg("verify")
        .args(args)
        .current_dir(root())
        .output()
        .expect("snipbox verify runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

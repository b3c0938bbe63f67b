//! Sandboxes that extend another and add packages, kept in a folder of
//! their own as an operator's would be (`examples/sandboxes`, and temporary
//! ones): `snipbox images` builds them on the real
//! engine from their parents' images, a server serves them beside the
//! repository's sandboxes (in the guard pass, through a guard that reads
//! both folders), and the readers' programs use the packages.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use snipbox_tests::{Server, request, root, server_binary, shared, test_sandboxes};

/// The example sandboxes of an operator's folder: one per ecosystem
/// (`examples/sandboxes`), each with its package.
const EXAMPLES: [&str; 5] = [
    "python-rich",
    "javascript-lodash",
    "typescript-lodash",
    "rust-itertools",
    "bash-jq",
];

/// A folder of sandboxes, each `(name, sandbox.toml)`, made for this test
/// process under the temp dir.
fn operator_folder(tag: &str, sandboxes: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "snipbox-test-operator-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, toml) in sandboxes {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("sandbox.toml"), toml).unwrap();
    }
    dir
}

/// The repository's (test) sandboxes and `operator`, as `SNIPBOX_SANDBOXES`.
fn folders(operator: &Path) -> String {
    format!("{}:{}", test_sandboxes().display(), operator.display())
}

/// `snipbox images --only ONLY` on `folders`: whether it succeeded, and
/// what it printed (stdout, then stderr).
fn images(folders: &str, only: &str) -> (bool, String) {
    let out = Command::new(server_binary())
        .current_dir(root())
        .args(["images", "--only", only])
        .env("SNIPBOX_SANDBOXES", folders)
        .env("SNIPBOX_AGENT", snipbox_tests::agent_binary())
        .env_remove("DOCKER_HOST")
        .output()
        .expect("snipbox images runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The result `images` printed for `sandbox` in its table.
fn outcome<'a>(report: &'a str, sandbox: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let result = (words.next() == Some(sandbox)).then(|| words.next());
            // The table's rows, not the build's step lines.
            result
                .flatten()
                .filter(|r| ["built", "unchanged", "skipped"].contains(r))
        })
        .unwrap_or_else(|| panic!("no row for {sandbox} in\n{report}"))
}

/// A server for the example sandboxes, their images built first.
fn server() -> &'static Server {
    static SERVER: OnceLock<&'static Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let folders = folders(&root().join("examples/sandboxes"));
        let only = EXAMPLES.join(",");
        let (ok, report) = images(&folders, &only);
        assert!(ok, "the example sandboxes build:\n{report}");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let server: &'static Server = Box::leak(Box::new(Server::start(&[
                ("SNIPBOX_SANDBOXES", &folders),
                ("SNIPBOX_SANDBOXES_ONLY", &only),
            ])));
            tx.send(server).expect("the test waits");
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the server starts")
    })
}

/// Runs `code` in `sandbox` and returns its stdout, asserting it succeeded.
async fn stdout_of(sandbox: &str, code: &str) -> String {
    let answer = server().exec(&request(sandbox, code)).await;
    assert!(answer.ok, "{sandbox}: {answer:?}");
    answer.stdout
}

#[tokio::test]
async fn every_example_sandboxs_example_runs() {
    let listed = server().sandboxes().await;
    for name in EXAMPLES {
        let example = &listed
            .iter()
            .find(|s| s.name == name)
            .expect("listed")
            .example;
        let answer = server().exec(&request(name, example)).await;
        assert!(answer.ok && !answer.stdout.is_empty(), "{name}: {answer:?}");
    }
}

#[tokio::test]
async fn a_pip_package_imports_in_python() {
    let out = stdout_of(
        "python-rich",
        "from importlib.metadata import version\nfrom rich.console import Console\n\
         from rich.text import Text\n\
         Console(no_color=True).print(Text('hi from rich'))\nprint(version('rich'))\n",
    )
    .await;
    assert_eq!(out, "hi from rich\n13.7.1\n");
}

#[tokio::test]
async fn the_packages_steps_leave_the_programs_environment_as_the_parents() {
    // What the build steps set (DEBIAN_FRONTEND, the registries'
    // certificates) stays in the build.
    let names = "import os\nprint(' '.join(sorted(os.environ)))\n";
    let parent = shared().exec(&request("python", names)).await;
    let child = stdout_of("python-rich", names).await;
    assert!(parent.ok, "{parent:?}");
    assert_eq!(child, parent.stdout);
}

#[tokio::test]
async fn a_package_the_sandbox_lacks_fails_with_the_languages_own_error() {
    let answer = server()
        .exec(&request("python-rich", "import numpy\n"))
        .await;
    assert!(!answer.ok, "{answer:?}");
    assert!(
        answer
            .stderr
            .contains("ModuleNotFoundError: No module named 'numpy'"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_npm_package_loads_with_require_and_with_import() {
    let common = stdout_of(
        "javascript-lodash",
        "const _ = require('lodash');\nconsole.log(JSON.stringify(_.chunk([1, 2, 3, 4], 2)), _.VERSION);\n",
    )
    .await;
    assert_eq!(common, "[[1,2],[3,4]] 4.17.21\n");
    let module = stdout_of(
        "javascript-lodash",
        "import _ from 'lodash';\nimport chunk from 'lodash/chunk.js';\n\
         console.log(JSON.stringify(chunk([1, 2, 3], 2)), _.VERSION);\n",
    )
    .await;
    assert_eq!(module, "[[1,2],[3]] 4.17.21\n");
}

#[tokio::test]
async fn an_npm_package_and_its_types_serve_typescript() {
    let out = stdout_of(
        "typescript-lodash",
        "import { chunk } from 'lodash';\nimport { existsSync } from 'node:fs';\n\
         const parts: number[][] = chunk([1, 2, 3, 4], 2);\n\
         console.log(JSON.stringify(parts), existsSync('/node_modules/@types/lodash/index.d.ts'));\n",
    )
    .await;
    assert_eq!(out, "[[1,2],[3,4]] true\n");
}

#[tokio::test]
async fn a_crate_with_a_dependency_of_its_own_links_without_extern_crate() {
    // itertools depends on either, which it re-exports.
    let out = stdout_of(
        "rust-itertools",
        "use itertools::Itertools;\nuse itertools::Either;\n\
         fn main() {\n    let v = [3, 1, 2];\n    println!(\"{}\", v.iter().sorted().join(\",\"));\n\
             let e: Either<i32, &str> = Either::Left(7);\n    println!(\"{}\", e.left().unwrap());\n}\n",
    )
    .await;
    assert_eq!(out, "1,2,3\n7\n");
}

#[tokio::test]
async fn a_debian_package_serves_bash() {
    let out = stdout_of(
        "bash-jq",
        "echo '{\"a\": [1, 2]}' | jq -c '.a | map(. * 2)'\n",
    )
    .await;
    assert_eq!(out, "[2,4]\n");
}

#[tokio::test]
async fn the_sandbox_list_names_each_sandboxes_packages() {
    let listed = server().sandboxes().await;
    let find = |name: &str| {
        listed
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {listed:?}"))
    };
    let python = find("python-rich");
    assert_eq!(python.language, "python", "inherited");
    assert!(python.aliases.is_empty(), "python's aliases stay its own");
    assert_eq!(python.packages["pip"], ["rich==13.7.1"]);
    assert_eq!(
        find("typescript-lodash").packages["npm"],
        ["lodash@4.17.21", "@types/lodash@4.17.7"]
    );
    assert_eq!(
        find("rust-itertools").packages["cargo"],
        ["itertools@0.13.0"]
    );
    assert_eq!(find("bash-jq").packages["apt"], ["jq"]);
}

#[test]
fn an_unpinned_package_is_refused_at_load_with_its_file_and_entry_named() {
    let operator = operator_folder(
        "unpinned",
        &[(
            "loose",
            "extends = \"python\"\ntitle = \"Loose\"\n[packages]\npip = [\"rich>=13\"]\n",
        )],
    );
    let (ok, out) = images(&folders(&operator), "loose");
    assert!(!ok, "{out}");
    let file = operator.join("loose/sandbox.toml");
    assert!(
        out.contains(&*file.to_string_lossy())
            && out.contains("\"rich>=13\"")
            && out.contains("pinned"),
        "{out}"
    );
}

#[test]
fn a_package_that_does_not_exist_stops_its_build_with_the_installers_message() {
    let operator = operator_folder(
        "missing",
        &[(
            "nothing",
            "extends = \"python\"\ntitle = \"Nothing\"\n\
             [packages]\npip = [\"snipbox-no-such-package==1.0.0\"]\n",
        )],
    );
    let (ok, out) = images(&folders(&operator), "nothing");
    assert!(!ok, "{out}");
    assert!(
        out.contains("sandbox nothing failed to build")
            && out.contains("No matching distribution found for snipbox-no-such-package==1.0.0"),
        "{out}"
    );
}

#[test]
fn a_changed_package_list_rebuilds_that_image_and_nothing_else() {
    let flip = |apt: &str| {
        operator_folder(
            "changed",
            &[
                (
                    "pkg-changed",
                    &format!(
                        "extends = \"bash\"\ntitle = \"Changing\"\n[packages]\napt = [{apt}]\n"
                    ),
                ),
                (
                    "pkg-kept",
                    "extends = \"bash\"\ntitle = \"Kept\"\n[packages]\napt = [\"bc\"]\n",
                ),
            ],
        )
    };
    let (ok, first) = images(&folders(&flip("\"bc\"")), "pkg-changed,pkg-kept");
    assert!(ok, "{first}");
    assert_eq!(outcome(&first, "bash"), "unchanged", "{first}");
    let (ok, second) = images(&folders(&flip("\"bc\", \"jq\"")), "pkg-changed,pkg-kept");
    assert!(ok, "{second}");
    assert_eq!(outcome(&second, "pkg-changed"), "built", "{second}");
    assert_eq!(outcome(&second, "pkg-kept"), "unchanged", "{second}");
    assert_eq!(outcome(&second, "bash"), "unchanged", "{second}");
}

//! Each sandbox runs real programs: its example, stdin, programs that fail
//! to compile or fail at run time (their messages free of terminal codes),
//! programs as tutorials write them, databases that start empty every run,
//! and the aliases docs use for its language. One table row per sandbox
//! (see `cases`); every sandbox folder must have one.

mod cases;

use std::future::Future;
use std::sync::Arc;

use cases::{CASES, Case};
use snipbox_tests::{request, root, run_container_gone, shared};
use tokio::sync::Semaphore;

/// Runs `check` for every case, two at a time (compilers are slow and the
/// machine small; one at a time under gVisor, where each run is a sandbox
/// kernel's work too), and fails once with every sandbox that went wrong.
async fn each_case<F, Fut>(check: F)
where
    F: Fn(&'static Case) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(if snipbox_tests::gvisor() { 1 } else { 2 }));
    let mut tasks = Vec::new();
    for case in CASES {
        let permit = gate.clone().acquire_owned().await.expect("open");
        let run = check(case);
        tasks.push((
            case.sandbox,
            tokio::spawn(async move {
                let r = run.await;
                drop(permit);
                r
            }),
        ));
    }
    let mut failed = Vec::new();
    for (sandbox, task) in tasks {
        if let Err(e) = task.await.expect("no panic") {
            failed.push(format!("{sandbox}: {e}"));
        }
    }
    assert!(failed.is_empty(), "\n{}", failed.join("\n\n"));
}

/// Runs `code` (with `stdin`) in `sandbox` through the shared server.
async fn run(sandbox: &str, code: &str, stdin: Option<&str>) -> snipbox_wire::api::ExecResponse {
    let mut req = request(sandbox, code);
    req.stdin = stdin.map(str::to_owned);
    shared().exec(&req).await
}

#[tokio::test]
async fn every_sandbox_folder_has_a_case_and_every_case_a_folder() {
    let mut folders: Vec<String> = std::fs::read_dir(root().join("sandboxes"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .join("sandbox.toml")
                .exists()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    folders.sort();
    let mut cases: Vec<String> = CASES.iter().map(|c| c.sandbox.to_owned()).collect();
    cases.sort();
    assert_eq!(folders, cases);
    let listed: Vec<String> = shared()
        .sandboxes()
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(listed, cases, "/v1/sandboxes lists every folder");
}

#[tokio::test]
async fn every_sandbox_prints_what_its_example_shows() {
    let listed = shared().sandboxes().await;
    each_case(move |case| {
        let example = listed
            .iter()
            .find(|s| s.name == case.sandbox)
            .map(|s| s.example.clone());
        async move {
            let example = example.ok_or("not listed by /v1/sandboxes")?;
            let r = run(case.sandbox, &example, None).await;
            if !(r.ok && r.stdout == case.example && r.stderr.is_empty()) {
                return Err(format!("wanted stdout {:?}, got {r:#?}", case.example));
            }
            if !r.id.starts_with(&format!("{}_run_", case.sandbox)) {
                return Err(format!("id {}", r.id));
            }
            if !run_container_gone(&r.id) {
                return Err(format!("{} left its container", r.id));
            }
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn stdin_reaches_every_program() {
    each_case(|case| async move {
        let Some(s) = &case.stdin else {
            return Ok(());
        };
        let r = run(case.sandbox, s.code, Some(s.input)).await;
        if r.ok && r.stdout == s.stdout {
            Ok(())
        } else {
            Err(format!("wanted stdout {:?}, got {r:#?}", s.stdout))
        }
    })
    .await;
}

#[tokio::test]
async fn compile_and_runtime_errors_fail_with_the_toolchains_message() {
    each_case(|case| async move {
        for f in case.failures {
            let r = run(case.sandbox, f.code, None).await;
            let failed = !r.ok && r.exit_code.is_some_and(|c| c != 0) && !r.timed_out;
            if !(failed && r.stderr.contains(f.stderr)) {
                return Err(format!(
                    "{}: wanted a failure whose stderr has {:?}, got {r:#?}",
                    f.what, f.stderr
                ));
            }
            // A reader sees the message as text: no terminal colour codes.
            if r.stderr.contains('\u{1b}') {
                return Err(format!("{}: terminal codes in {:?}", f.what, r.stderr));
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn programs_as_tutorials_write_them_print_what_they_should() {
    each_case(|case| async move {
        for t in case.tutorials {
            let r = run(case.sandbox, t.code, None).await;
            if !(r.ok && r.stdout == t.stdout) {
                return Err(format!("wanted stdout {:?}, got {r:#?}", t.stdout));
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_database_run_never_sees_what_the_run_before_it_made() {
    each_case(|case| async move {
        let Some(f) = &case.fresh else {
            return Ok(());
        };
        let made = run(case.sandbox, f.make, None).await;
        if !made.ok {
            return Err(format!("making it failed: {made:#?}"));
        }
        // A fresh container, a fresh server: what the first run made is gone.
        let seen = run(case.sandbox, f.look, None).await;
        let output = format!("{}{}", seen.stdout, seen.stderr);
        if output.contains(f.absent) {
            Ok(())
        } else {
            Err(format!(
                "wanted {:?} (it is not there), got {seen:#?}",
                f.absent
            ))
        }
    })
    .await;
}

#[tokio::test]
async fn the_names_docs_use_reach_their_sandbox() {
    let listed = shared().sandboxes().await;
    let aliases = |name: &str| {
        listed
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.aliases.clone())
            .unwrap_or_default()
    };
    for (name, want) in [
        ("python", &["py", "python3"][..]),
        ("javascript", &["js", "node"]),
        ("typescript", &["ts"]),
        ("go", &["golang"]),
        ("rust", &["rs"]),
        ("cpp", &["c++", "cxx"]),
        ("bash", &["sh", "shell", "zsh"]),
        ("postgres", &["postgresql", "psql"]),
        ("mysql", &["mariadb"]),
        ("redis", &["valkey"]),
    ] {
        let have = aliases(name);
        for a in want {
            assert!(
                have.iter().any(|h| h == a),
                "{name} lacks alias {a}: {have:?}"
            );
        }
    }
    // A run through an alias is a run of the sandbox: its id and output.
    each_case(move |case| {
        let alias = aliases(case.sandbox).into_iter().next();
        async move {
            let Some(alias) = alias else {
                return Ok(());
            };
            let Some(s) = &case.stdin else {
                return Ok(());
            };
            let r = run(&alias, s.code, Some(s.input)).await;
            if r.ok && r.stdout == s.stdout && r.id.starts_with(&format!("{}_run_", case.sandbox)) {
                Ok(())
            } else {
                Err(format!("through {alias}: {r:#?}"))
            }
        }
    })
    .await;
}

#[tokio::test]
async fn several_files_reach_the_program() {
    let mut req = request(
        "python",
        "import helper, csv\nrows = list(csv.reader(open('data/input.csv')))\nprint(helper.greet(rows[1][0]))\n",
    );
    req.files.insert(
        "helper.py".into(),
        "def greet(n):\n    return f'hi {n}'\n".into(),
    );
    req.files
        .insert("data/input.csv".into(), "name\nada\n".into());
    let r = shared().exec(&req).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "hi ada\n");
}

#[tokio::test]
async fn typescript_bundles_the_files_main_imports() {
    let mut req = request(
        "typescript",
        "import { greet } from './greet';\nconsole.log(greet('ada'));\n",
    );
    req.files.insert(
        "greet.ts".into(),
        "export const greet = (n: string): string => `hi ${n}`;\n".into(),
    );
    let r = shared().exec(&req).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "hi ada\n");
}

#[tokio::test]
async fn data_urls_are_delivered_as_bytes() {
    let mut req = request("python", "print(list(open('blob.bin', 'rb').read()))");
    req.files.insert(
        "blob.bin".into(),
        "data:application/octet-stream;base64,AP8B".into(),
    );
    let r = shared().exec(&req).await;
    assert_eq!(r.stdout, "[0, 255, 1]\n", "{r:?}");
}

#[tokio::test]
async fn a_nonzero_exit_is_reported_codapi_style() {
    let r = shared()
        .exec(&request("python", "import sys\nprint('out')\nsys.exit(3)"))
        .await;
    assert!(!r.ok);
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(r.stdout, "out\n");
    assert!(r.stderr.ends_with("(exit status 3)"), "{:?}", r.stderr);
}

#[tokio::test]
async fn a_c_compile_error_ends_the_run_before_the_program_step() {
    let r = shared()
        .exec(&request("c", "int main(void) { return oops; }"))
        .await;
    assert!(!r.ok);
    assert_eq!(r.exit_code, Some(1));
    assert!(
        r.stderr.contains("error: ‘oops’ undeclared"),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.ends_with("(exit status 1)"), "{:?}", r.stderr);
    assert_eq!(r.stdout, "");
}

//! Each sandbox runs real programs: hello worlds, files, stdin, exits.

use snipbox_tests::{request, run_container_gone, shared};

#[tokio::test]
async fn every_sandbox_runs_its_hello_world() {
    let server = shared();
    let list = server.sandboxes().await;
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    for want in ["c", "javascript", "python", "shell", "sqlite"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for sandbox in &list {
        let r = server.exec(&request(&sandbox.name, &sandbox.example)).await;
        assert!(r.ok, "{}: {r:?}", sandbox.name);
        assert_eq!(r.stdout, "Hello, world!\n", "{}", sandbox.name);
        assert_eq!(
            (r.stderr.as_str(), r.exit_code),
            ("", Some(0)),
            "{}",
            sandbox.name
        );
        assert!(
            r.id.starts_with(&format!("{}_run_", sandbox.name)),
            "{}",
            r.id
        );
        assert!(run_container_gone(&r.id), "{} left its container", r.id);
    }
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
async fn stdin_reaches_the_program() {
    let mut req = request("shell", "read a; read b; echo \"$b $a\"");
    req.stdin = Some("world\nhello\n".into());
    let r = shared().exec(&req).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "hello world\n");
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
async fn a_c_compile_error_is_the_runs_stderr() {
    let r = shared()
        .exec(&request("c", "int main(void) { return oops; }"))
        .await;
    assert!(!r.ok);
    assert_eq!(r.exit_code, Some(1));
    assert!(
        r.stderr.contains("error: 'oops' undeclared"),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.ends_with("(exit status 1)"), "{:?}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[tokio::test]
async fn c_compiles_then_runs_with_stdin() {
    let mut req = request(
        "c",
        "#include <stdio.h>\nint main(void) { int a, b; scanf(\"%d %d\", &a, &b); printf(\"%d\\n\", a * b); return 0; }",
    );
    req.stdin = Some("6 7".into());
    let r = shared().exec(&req).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "42\n");
}

#[tokio::test]
async fn sqlite_runs_a_script() {
    let r = shared()
        .exec(&request(
            "sqlite",
            "create table t(x);\ninsert into t values (1), (2), (3);\nselect sum(x) from t;",
        ))
        .await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout, "6\n");
}

#[tokio::test]
async fn javascript_reports_exceptions_as_failures() {
    let r = shared()
        .exec(&request(
            "javascript",
            "console.log('a'); throw new Error('boom');",
        ))
        .await;
    assert!(!r.ok);
    assert_eq!(r.stdout, "a\n");
    assert!(r.stderr.contains("Error: boom"), "{:?}", r.stderr);
    assert_eq!(r.exit_code, Some(1));
}

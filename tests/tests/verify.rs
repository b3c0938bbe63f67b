//! `snipbox verify` on the sites the documentation generators built
//! (`tests/sites/`: each page promises outputs, one of them wrong, and has
//! a block meant to fail, one that depends on another and one that reads
//! another as a file): it passes and fails exactly where it should, with
//! the diff and the place in its report and in its JUnit file; it reports
//! what cannot run; `--bake` writes the outputs into the pages, and
//! baking twice gives the same bytes.

use std::process::Command;

use snipbox_tests::sites::{self, GENERATORS};

/// The report's lines about one page, by their first word.
fn lines_of<'a>(report: &'a str, page: &str, word: &str) -> Vec<&'a str> {
    report
        .lines()
        .filter(|l| l.starts_with(&format!("{word} {page}:")))
        .collect()
}

#[test]
fn every_site_passes_and_fails_exactly_where_its_pages_say() {
    let dirs: Vec<String> = GENERATORS
        .iter()
        .map(|g| sites::build(g).join("index.html").display().to_string())
        .collect();
    let junit = tempfile::NamedTempFile::new().unwrap();
    let mut args = vec![
        "--junit",
        junit.path().to_str().unwrap(),
        "--concurrency",
        "2",
    ];
    args.extend(dirs.iter().map(String::as_str));
    let (status, report) = sites::verify(&args);
    assert_eq!(status.code(), Some(1), "{report}");
    for (generator, page) in GENERATORS.iter().zip(&dirs) {
        let failed = lines_of(&report, page, "FAIL");
        assert_eq!(failed.len(), 1, "{generator}: {report}");
        assert!(
            failed[0].ends_with(
                "(python) under \"Checked by snipbox verify\": the output is not the page's"
            ),
            "{generator}: {}",
            failed[0]
        );
        // The diff follows, with the line of the block in the built page.
        let line: usize = failed[0][page.len() + 6..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let html = std::fs::read_to_string(page).unwrap();
        let at = html.lines().nth(line - 1).unwrap();
        assert!(at.contains("<pre"), "{generator}: line {line} is {at:?}");
        let after = report.split(failed[0]).nth(1).unwrap();
        assert!(
            after.contains("\n    -43\n    +42\n"),
            "{generator}: {after}"
        );
        // Everything else passes: the promised squares, the failure the
        // page expects, the dependency and the file.
        let passed = lines_of(&report, page, "PASS");
        assert_eq!(
            passed.len(),
            // Python, Python by an alias, a shell, JavaScript (two tabs
            // more on two sites), and the five checked blocks; one failed.
            match *generator {
                "mkdocs" | "docusaurus" => 6 + 5 - 1,
                _ => 4 + 5 - 1,
            },
            "{generator}: {report}"
        );
        assert!(lines_of(&report, page, "ERROR").is_empty(), "{report}");
    }
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 7, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 7, "{xml}");
    assert!(xml.contains("-43\n+42"), "{xml}");
    assert!(
        xml.contains("under &quot;Checked by snipbox verify&quot;"),
        "{xml}"
    );
    assert!(!xml.contains("<error"), "{xml}");
    assert!(report.contains("failed, 0 errors"), "{report}");
    leaves_nothing_behind();
}

/// What cannot run is an error, said so; a run that ends other than its
/// page says fails; on a server (`--server`), and with nothing to compare
/// but the exit.
#[test]
fn what_cannot_run_is_an_error_and_an_unexpected_exit_a_failure() {
    let server = snipbox_tests::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("page.html"),
        r#"<!doctype html><h2>Odd ones</h2>
<pre data-sandbox="python" data-expect-exit="1">print("fine")</pre>
<pre data-sandbox="python" data-depends-on="nowhere">print(1)</pre>
<pre data-sandbox="cobol">DISPLAY 'X'.</pre>
<pre data-sandbox="python">import sys; sys.exit(2)</pre>
<pre data-sandbox="python">print("no promise, exit 0")</pre>"#,
    )
    .unwrap();
    let (status, report) = sites::verify(&["--server", &server.base, dir.path().to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{report}");
    let page = dir.path().join("page.html").display().to_string();
    let line = |n: usize| {
        report
            .lines()
            .find(|l| l.contains(&format!("{page}:{} block {n} ", n + 1)))
            .unwrap_or_else(|| panic!("block {n}: {report}"))
            .to_string()
    };
    assert!(
        line(1).starts_with("FAIL") && line(1).ends_with("exit 0 (the page expects 1)"),
        "{report}"
    );
    assert!(
        line(2).starts_with("ERROR")
            && line(2).ends_with("depends-on: no block #nowhere on this page"),
        "{report}"
    );
    assert!(
        line(3).starts_with("ERROR") && line(3).contains("unknown_sandbox"),
        "{report}"
    );
    assert!(
        line(4).starts_with("FAIL") && line(4).ends_with("exit 2 (the page expects 0)"),
        "{report}"
    );
    assert!(line(5).starts_with("PASS"), "{report}");
    assert!(
        report.contains("5 blocks on 1 pages: 1 passed, 2 failed, 2 errors"),
        "{report}"
    );
}

/// `--bake`: each run's output lands right after its block, readable by
/// the same rules the widget reads it with; the rest of the page keeps its
/// bytes; baking again gives the same bytes.
#[test]
fn baked_outputs_follow_their_blocks_and_baking_twice_changes_nothing() {
    let built = sites::build("mkdocs");
    let copy = tempfile::tempdir().unwrap();
    sites::copy_with_host(&built, copy.path(), "https://HOST");
    let page = copy.path().join("index.html");
    let before = std::fs::read_to_string(&page).unwrap();
    let server = snipbox_tests::shared();
    let bake = || sites::verify(&["--bake", "--server", &server.base, page.to_str().unwrap()]);
    let (status, report) = bake();
    assert_eq!(
        status.code(),
        Some(1),
        "the wrong promise still fails: {report}"
    );
    let once = std::fs::read_to_string(&page).unwrap();
    let (_, report) = bake();
    let twice = std::fs::read_to_string(&page).unwrap();
    assert_eq!(once, twice, "baking twice changed the page: {report}");

    // Without the baked outputs, the page is the generator's, byte for byte.
    let mut stripped = once.clone();
    while let Some(start) = stripped.find("<div class=\"snipbox-baked\"") {
        let end = start + stripped[start..].find("</div>").unwrap() + "</div>".len();
        stripped.replace_range(start..end, "");
    }
    assert_eq!(stripped, before);

    // Read back as the widget reads a page: every runnable block has its
    // output, the squares' and the failure's among them.
    let doc = snipbox_page::html::Document::parse(&once);
    let html = &doc;
    let settings = snipbox_page::find::Settings {
        selector: Some("pre".into()),
        names: Some(vec![
            ("python".into(), "python".into()),
            ("py".into(), "python".into()),
            ("shell".into(), "bash".into()),
            ("javascript".into(), "javascript".into()),
        ]),
        ..Default::default()
    };
    let baked: Vec<_> = snipbox_page::find::blocks(&html, &settings)
        .iter()
        .map(|b| snipbox_page::options::read(&html, b).unwrap().baked)
        .collect();
    assert_eq!(baked.len(), 11);
    assert!(baked.iter().all(Option::is_some), "{baked:?}");
    let first = baked[0].as_ref().unwrap();
    assert_eq!((first.stdout.as_str(), first.exit), ("0\n1\n4\n", Some(0)));
    let failing = baked[7].as_ref().unwrap();
    assert_eq!(
        (failing.stdout.as_str(), failing.exit),
        ("failing on purpose\n", Some(3))
    );
}

/// No container of a verify run's own server is left on the engine.
fn leaves_nothing_behind() {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=snipbox.instance"])
        .args(["--format", "{{.Label \"snipbox.instance\"}}"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&out.stdout);
    assert!(
        !left.lines().any(|l| l.starts_with("verify-")),
        "containers of verify left: {left}"
    );
}

/// The book (docs/, built as `make book` builds it) keeps every promise
/// it makes: `snipbox verify` of its folder, as an author would run it,
/// on a server.
#[test]
fn the_book_keeps_its_promises() {
    let server = snipbox_tests::shared();
    let book = sites::book();
    let (status, report) = sites::verify(&["--server", &server.base, book.to_str().unwrap()]);
    assert!(status.success(), "{report}");
    let summary = report.lines().last().unwrap_or_default();
    let blocks: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(blocks > 0, "{report}");
    assert!(
        summary.contains(&format!(": {blocks} passed, 0 failed, 0 errors")),
        "{report}"
    );
}

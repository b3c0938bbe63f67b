//! The widget on sites that documentation generators built: each site in
//! `tests/sites/` (a page of code blocks, snipbox added exactly as
//! docs/integrations.md says) is built by `tests/sites/build.sh` with the
//! generator `scripts/generators.sh` installs, served from an origin of its
//! own, and every runnable block on it is run in headless Chromium: each
//! prints what it should, a block no sandbox runs is left alone, and the
//! generator's highlighting is still there after mounting. Also: a
//! client-side navigation (Docusaurus) leaves no snippet or run of the page
//! it left; page-wide mode finds sandboxes by their aliases.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use snipbox_tests::browser::{Fixture, Process, serve};
use snipbox_tests::root;

/// What every site's page runs, in page order (tests/sites/*/: Python,
/// Python by its alias `py`, a shell, JavaScript; a YAML block no sandbox
/// runs comes last and is left alone).
const OUTPUTS: [&str; 4] = ["0\n1\n4", "py: 1 < 2 & 3 > 2", "shell 42", "2 4 6"];

/// Builds the site of generator `name` (or reuses its build) and serves a
/// copy in which `https://HOST` is the server at `base`: the file server,
/// the site's address and the copy.
fn site(name: &str, base: &str) -> (Process, String, tempfile::TempDir) {
    let built = Command::new(root().join("tests/sites/build.sh"))
        .arg(name)
        .output()
        .expect("tests/sites/build.sh runs");
    assert!(
        built.status.success(),
        "the {name} site did not build:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let dir = PathBuf::from(String::from_utf8(built.stdout).unwrap().trim());
    let copy = tempfile::tempdir().unwrap();
    let hosts = copy_with_host(&dir, copy.path(), base);
    assert!(hosts > 0, "{name}: no page of the site names https://HOST");
    let (server, url) = serve(copy.path());
    (server, url, copy)
}

/// Copies the folder `from` into `to`, with `https://HOST` replaced by
/// `base` in its pages and scripts; how many files named it.
fn copy_with_host(from: &Path, to: &Path, base: &str) -> usize {
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

/// The lines docs/integrations.md gives for `heading`: every line of its
/// code blocks is in the test site's sources (so the site adds snipbox
/// exactly as the guide says).
fn integration_is_the_guides(heading: &str, site: &str) {
    let guide = std::fs::read_to_string(root().join("docs/integrations.md")).unwrap();
    let section = guide
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/integrations.md has no section {heading}"));
    let mut sources = String::new();
    gather(&root().join("tests/sites").join(site), &mut sources);
    let lines: Vec<&str> = sources.lines().map(str::trim).collect();
    let mut checked = 0;
    for block in section.split("```").skip(1).step_by(2) {
        for line in block
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            assert!(
                lines.contains(&line),
                "{site}: the guide's line {line:?} is not in tests/sites/{site}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "{heading}: the guide gives no lines");
}

fn gather(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            gather(&path, into);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            into.push_str(&text);
            into.push('\n');
        }
    }
}

/// Evaluates `script` until it returns something other than null (up to
/// 30 s); that value.
async fn until(page: &Fixture, script: &str, what: &str) -> Value {
    for _ in 0..300 {
        let v = page.eval(script).await;
        if !v.is_null() && v != json!(false) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never happened ({script})");
}

/// Waits until the page has `n` snippets.
async fn snippets(page: &Fixture, n: usize) {
    let script = format!("return document.querySelectorAll('.snipbox-run').length === {n} || null");
    until(page, &script, &format!("{n} snippets")).await;
}

/// Runs the `i`-th snippet of the page (its Run button must be shown) and
/// returns its output once the run has ended.
async fn run(page: &Fixture, i: usize) -> String {
    let clicked = page
        .eval(&format!(
            "const b = document.querySelectorAll('.snipbox-run')[{i}];
             if (!b.checkVisibility()) return false;
             b.click(); return true;"
        ))
        .await;
    assert_eq!(
        clicked,
        json!(true),
        "snippet {i}'s Run button is not shown"
    );
    let done = until(
        page,
        &format!(
            "const s = document.querySelectorAll('.snipbox')[{i}];
             const status = s.querySelector('.snipbox-status').textContent;
             return /^[✓✗]/.test(status) ? [status, s.querySelector('.snipbox-stdout').textContent] : null;"
        ),
        &format!("the end of snippet {i}'s run"),
    )
    .await;
    assert!(
        done[0].as_str().unwrap().starts_with('✓'),
        "snippet {i}: {done}"
    );
    done[1].as_str().unwrap().trim_end().to_string()
}

/// How many token spans the block of each snippet shows (as its generator
/// drew it, not hidden): the highlighting kept.
async fn kept_tokens(page: &Fixture) -> Vec<u64> {
    let counts = page
        .eval(
            "return [...document.querySelectorAll('.snipbox-host')].map((h) => {
               const pre = h.previousElementSibling;
               return pre && pre.checkVisibility() && !pre.classList.contains('snipbox-hidden')
                 ? pre.querySelectorAll('span').length : 0;
             });",
        )
        .await;
    serde_json::from_value(counts).unwrap()
}

/// The site of `name` (its guide's section `heading`): every block runs
/// and prints `outputs[i]` (after clicking `tabs[i]`, when given, to show
/// a block in a hidden tab); the YAML block is left alone; the Python
/// blocks keep their highlighting. Returns the page for more checks.
async fn every_block_runs(
    name: &str,
    heading: &str,
    outputs: &[&str],
    tabs: &[(usize, &str)],
) -> (Fixture, (Process, String, tempfile::TempDir)) {
    integration_is_the_guides(heading, name);
    let server = snipbox_tests::shared();
    let served = site(name, &server.base);
    let page = Fixture::open(&served.1).await;
    snippets(&page, outputs.len()).await;
    let tokens = kept_tokens(&page).await;
    assert!(
        tokens[0] > 0 && tokens[1] > 0,
        "{name}: highlighting lost: {tokens:?}"
    );
    let yaml = page
        .eval("return [...document.querySelectorAll('pre')].some((p) => p.textContent.includes('key: value') && !p.nextElementSibling?.classList.contains('snipbox-host'))")
        .await;
    assert_eq!(yaml, json!(true), "{name}: the YAML block was enhanced");
    for (i, want) in outputs.iter().enumerate() {
        if let Some((_, tab)) = tabs.iter().find(|(at, _)| *at == i) {
            page.eval(&format!("document.querySelector({tab:?}).click()"))
                .await;
        }
        assert_eq!(run(&page, i).await, *want, "{name}: snippet {i}");
    }
    picture(&page, name).await;
    (page, served)
}

/// With `SNIPBOX_SCREENSHOTS=DIR`, a picture of the page around its first
/// snippet (run) in DIR/integration-NAME.png: docs/integrations.md's
/// pictures are taken so.
async fn picture(page: &Fixture, name: &str) {
    let Some(dir) = std::env::var_os("SNIPBOX_SCREENSHOTS") else {
        return;
    };
    page.client.set_window_size(1200, 800).await.unwrap();
    page.eval("document.querySelector('.snipbox-host').previousElementSibling.scrollIntoView({ block: 'center' })")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = page.client.screenshot().await.unwrap();
    std::fs::write(Path::new(&dir).join(format!("integration-{name}.png")), png).unwrap();
}

/// The snippets' colours follow the theme `set` (a script) puts on the page.
async fn theme_is_followed(page: &Fixture, dark: &str, light: &str) {
    for (set, bg) in [(dark, "#161b22"), (light, "#f6f8fa")] {
        let seen = page
            .eval(&format!(
                "{set}; return getComputedStyle(document.querySelector('.snipbox')).getPropertyValue('--snipbox-bg').trim();"
            ))
            .await;
        assert_eq!(seen, json!(bg), "after {set}");
    }
}

#[tokio::test]
async fn mkdocs_material_runs_every_block_tabs_and_theme_included() {
    let outputs = [&OUTPUTS[..], &["first tab", "second tab"]].concat();
    let tab = ".tabbed-labels > label:nth-child(2)";
    let (page, _site) = every_block_runs("mkdocs", "MkDocs Material", &outputs, &[(5, tab)]).await;
    theme_is_followed(
        &page,
        "document.body.dataset.mdColorScheme = 'slate'",
        "document.body.dataset.mdColorScheme = 'default'",
    )
    .await;
    page.close().await;
}

#[tokio::test]
async fn sphinx_runs_every_block() {
    let (page, _site) = every_block_runs("sphinx", "Sphinx", &OUTPUTS, &[]).await;
    page.close().await;
}

#[tokio::test]
async fn mdbook_runs_every_block_and_rehighlights_an_edit_with_its_highlighter() {
    let (page, _site) = every_block_runs("mdbook", "mdBook", &OUTPUTS, &[]).await;
    // An edit is shown through the page's own highlight.js once the
    // reader leaves the editor.
    let shown = page
        .eval(
            "const host = document.querySelector('.snipbox-host');
             const pre = host.previousElementSibling;
             pre.focus();
             const area = host.querySelector('textarea');
             if (document.activeElement !== area) return 'the editor did not open';
             area.value = 'print(\"edited\")';
             area.dispatchEvent(new Event('input'));
             area.blur();
             return [pre.checkVisibility(), pre.querySelector('code').textContent, pre.querySelectorAll('code span').length > 0];",
        )
        .await;
    assert_eq!(shown, json!([true, "print(\"edited\")", true]));
    assert_eq!(run(&page, 0).await, "edited");
    theme_is_followed(
        &page,
        "document.documentElement.className = 'coal'",
        "document.documentElement.className = 'light'",
    )
    .await;
    page.close().await;
}

#[tokio::test]
async fn hugo_runs_every_block() {
    let (page, _site) = every_block_runs("hugo", "Hugo", &OUTPUTS, &[]).await;
    page.close().await;
}

#[tokio::test]
async fn jekyll_runs_every_block() {
    let (page, _site) = every_block_runs("jekyll", "Jekyll", &OUTPUTS, &[]).await;
    page.close().await;
}

#[tokio::test]
async fn starlight_runs_every_block() {
    let (page, _site) = every_block_runs("starlight", "Astro Starlight", &OUTPUTS, &[]).await;
    theme_is_followed(
        &page,
        "document.documentElement.dataset.theme = 'dark'",
        "document.documentElement.dataset.theme = 'light'",
    )
    .await;
    page.close().await;
}

#[tokio::test]
async fn docusaurus_runs_every_block_and_a_client_side_navigation_leaves_nothing_behind() {
    let outputs = [&OUTPUTS[..], &["first tab", "second tab"]].concat();
    let tab = "[role=tab]:nth-child(2)";
    let (page, site) = every_block_runs("docusaurus", "Docusaurus", &outputs, &[(5, tab)]).await;
    theme_is_followed(
        &page,
        "document.documentElement.dataset.theme = 'dark'",
        "document.documentElement.dataset.theme = 'light'",
    )
    .await;

    // A run in flight on the first page: its request is watched.
    page.eval(
        "window.stayed = true;
         window.requests = [];
         const fetch = window.fetch;
         window.fetch = (url, init) => { window.requests.push(init.signal); return fetch(url, init); };
         const host = document.querySelector('.snipbox-host');
         host.previousElementSibling.focus();
         const area = host.querySelector('textarea');
         area.value = 'import time\\nprint(\"started\", flush=True)\\ntime.sleep(30)';
         area.dispatchEvent(new Event('input'));
         host.querySelector('.snipbox-run').click();",
    )
    .await;
    until(
        &page,
        "return document.querySelector('.snipbox-stdout').textContent.includes('started') || null",
        "the long run's first line",
    )
    .await;

    // To the second page, without a page load.
    page.eval("document.querySelector('a[href=\"/second\"]').click()")
        .await;
    until(
        &page,
        "return location.pathname === '/second' || null",
        "the navigation",
    )
    .await;
    snippets(&page, 2).await;
    let after = page
        .eval(&format!(
            "const {{ sweep }} = await import('{}/widget/snipbox_widget.js');
             return [window.stayed === true, window.requests.length, window.requests.every((s) => s.aborted), sweep()];",
            snipbox_tests::shared().base
        ))
        .await;
    // Same document; the first page's run was stopped; the widget holds
    // the second page's two snippets only (the first page's were dropped
    // with their listeners and state).
    assert_eq!(after, json!([true, 1, true, 2]));
    assert_eq!(run(&page, 0).await, "second page");
    assert_eq!(run(&page, 1).await, "second page, shell");
    page.close().await;
    drop(site);
}

/// Page-wide mode on a page with no mapping of its own: each block's
/// language is an alias the server lists (`GET /v1/sandboxes`), and names
/// its sandbox; a language no sandbox has is left alone.
#[tokio::test]
async fn page_wide_mode_finds_sandboxes_by_their_aliases_with_no_mapping() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget_with(
        &server.base,
        " data-selector=\"pre\"",
        r#"<pre><code class="language-golang">package main

import "fmt"

func main() { fmt.Println("go", 6*7) }</code></pre>
<pre><code class="language-rs">fn main() { println!("rust {}", 6 * 7); }</code></pre>
<pre><code class="language-ts">const n: number = 6 * 7;
console.log(`typescript ${n}`);</code></pre>
<pre><code class="language-sh">echo "bash $BASH_VERSION" | cut -c1-4</code></pre>
<pre><code class="language-postgresql">SELECT 6 * 7 AS answer;</code></pre>
<pre><code class="language-text">not code</code></pre>
<pre><code class="language-cobol">DISPLAY 'NO SANDBOX'.</code></pre>"#,
    )
    .await;
    snippets(&page, 5).await;
    let want = [
        "go 42",
        "rust 42",
        "typescript 42",
        "bash",
        " answer \n--------\n     42\n(1 row)",
    ];
    for (i, want) in want.iter().enumerate() {
        assert_eq!(run(&page, i).await, *want, "block {i}");
    }
    page.close().await;
}

//! The widget on sites that documentation generators built: each site in
//! `tests/sites/` (a page of code blocks, snipbox added exactly as
//! docs/integrations.md says) is built by `tests/sites/build.sh` with the
//! generator `scripts/generators.sh` installs, served from an origin of its
//! own, and every runnable block on it is run in headless Chromium: each
//! prints what it should, a block no sandbox runs is left alone, and the
//! generator's highlighting is still there after mounting. Also: a
//! client-side navigation (Docusaurus) leaves no snippet or run of the page
//! it left; page-wide mode finds sandboxes by their aliases.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use snipbox_tests::browser::{Fixture, Process, serve};
use snipbox_tests::{root, sites};

/// What every site's page runs, in page order (tests/sites/*/: Python,
/// Python by its alias `py`, a shell, JavaScript; a YAML block no sandbox
/// runs comes last and is left alone).
const OUTPUTS: [&str; 4] = ["0\n1\n4", "py: 1 < 2 & 3 > 2", "shell 42", "2 4 6"];

/// The blocks every site's page ends with, for `snipbox verify` (a wrong
/// expected output, an expected failure, a definition and a block that
/// depends on it, a block reading another as a file): snippets too.
const CHECKED: usize = 5;

/// Builds the site of generator `name` (or reuses its build) and serves a
/// copy in which `https://HOST` is the server at `base`: the file server,
/// the site's address and the copy.
pub(crate) fn site(name: &str, base: &str) -> (Process, String, tempfile::TempDir) {
    let dir = sites::build(name);
    let copy = tempfile::tempdir().unwrap();
    let hosts = sites::copy_with_host(&dir, copy.path(), base);
    assert!(hosts > 0, "{name}: no page of the site names https://HOST");
    let (server, url) = serve(copy.path());
    (server, url, copy)
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
pub(crate) async fn until(page: &Fixture, script: &str, what: &str) -> Value {
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
pub(crate) async fn snippets(page: &Fixture, n: usize) {
    let script = format!("return document.querySelectorAll('.snipbox-run').length === {n} || null");
    until(page, &script, &format!("{n} snippets")).await;
}

/// Runs the `i`-th snippet of the page (its Run button must be shown) and
/// returns its output once the run has ended.
pub(crate) async fn run(page: &Fixture, i: usize) -> String {
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
    snippets(&page, outputs.len() + CHECKED).await;
    // The first block's output, as the page promises it, is in its
    // output pane before any run; the page's own copies (all four) step
    // aside.
    let expected = page
        .eval(
            "const s = document.querySelector('.snipbox');
             const out = (e) => e && (/(^|\\s)(language|lang|highlight)-output(\\s|$)/.test(e.className) || e.dataset.lang === 'output' || e.dataset.language === 'output');
             const shown = [...document.querySelectorAll('pre')].filter((p) => [p, p.querySelector('code'), p.parentElement, p.parentElement?.parentElement].some(out));
             return [s.querySelector('.snipbox-stdout').textContent, s.querySelector('.snipbox-status').textContent,
                     shown.length === 4 && shown.every((p) => !p.checkVisibility())];",
        )
        .await;
    assert_eq!(
        expected,
        json!(["0\n1\n4", "the output the page shows", true]),
        "{name}: the expected output before a run"
    );
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
    // The block whose page promises 43: it prints 42, and says so.
    let wrong = outputs.len();
    assert_eq!(run(&page, wrong).await, "42");
    let marked = page
        .eval(&format!(
            "const s = document.querySelectorAll('.snipbox')[{wrong}];
             return [s.classList.contains('snipbox-differs'), s.querySelector('.snipbox-status').textContent.endsWith('not the output the page shows')];"
        ))
        .await;
    assert_eq!(
        marked,
        json!([true, true]),
        "{name}: the differing output is marked"
    );
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

/// One set of rules: on every generator's site, the requests the widget
/// sends when each Run is pressed (the code as the browser has the page,
/// after the generator's own scripts ran) are exactly the ones `snipbox
/// verify --list` reads from the built HTML, block for block: sandbox,
/// code, depends-on, files.
#[tokio::test]
async fn the_widget_sends_what_verify_reads_on_every_site() {
    let server = snipbox_tests::shared();
    for name in sites::GENERATORS {
        let dir = sites::build(name);
        let index = dir.join("index.html");
        let (status, listing) =
            sites::verify(&["--list", "--server", &server.base, index.to_str().unwrap()]);
        assert!(status.success(), "{name}: {listing}");
        let read: Vec<Value> = listing
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["request"].clone())
            .collect();
        assert!(read.len() >= OUTPUTS.len() + CHECKED, "{name}: {listing}");
        let served = site(name, &server.base);
        let page = Fixture::open(&served.1).await;
        snippets(&page, read.len()).await;
        page.eval(
            "window.sent = [];
             const real = window.fetch;
             window.fetch = (url, init) => {
               if (!String(url).endsWith('/v1/exec')) return real(url, init);
               window.sent.push(JSON.parse(init.body));
               const answer = JSON.stringify({ ok: true, duration: 1, stdout: '', stderr: '' });
               return Promise.resolve(new Response(answer, { headers: { 'content-type': 'application/json' } }));
             };
             for (const b of document.querySelectorAll('.snipbox-run')) b.click();",
        )
        .await;
        let sent = until(
            &page,
            &format!(
                "return window.sent.length === {} ? window.sent : null",
                read.len()
            ),
            &format!("{name}: every snippet's request"),
        )
        .await;
        assert_eq!(
            sent,
            Value::Array(read),
            "{name}: the widget and verify differ"
        );
        page.close().await;
    }
}

/// A site whose outputs `snipbox verify --bake` wrote into its pages.
fn baked_site(name: &str, base: &str, head: &str) -> (Process, String, tempfile::TempDir) {
    let built = sites::build(name);
    let copy = tempfile::tempdir().unwrap();
    sites::copy_with_host(&built, copy.path(), base);
    let page = copy.path().join("index.html");
    let (status, report) = sites::verify(&["--bake", "--server", base, page.to_str().unwrap()]);
    assert_eq!(
        status.code(),
        Some(1),
        "only the wrong promise fails: {report}"
    );
    // The squares' baked output told apart from a live run's; the page's
    // own settings (`head`) first.
    let html = std::fs::read_to_string(&page).unwrap();
    let html = html
        .replacen(
            "<pre class=\"snipbox-baked-stdout\">\n0\n1\n4\n</pre>",
            "<pre class=\"snipbox-baked-stdout\">\nfrom the build\n</pre>",
            1,
        )
        .replacen("<head>", &format!("<head>{head}"), 1);
    assert!(html.contains("from the build"));
    std::fs::write(&page, html).unwrap();
    let (server, url) = serve(copy.path());
    (server, url, copy)
}

/// Baked outputs: shown with scripts disabled; with the widget, shown in
/// each snippet at once; kept, and said why, when the server cannot be
/// reached; replaced by a run when it can.
#[tokio::test]
async fn baked_outputs_show_without_scripts_stay_without_a_server_and_runs_replace_them() {
    let server = snipbox_tests::shared();

    // Scripts off: the outputs are on the page as text.
    let (_files, url, _copy) = baked_site("hugo", &server.base, "");
    let page = Fixture::open_with(&url, &["--blink-settings=scriptEnabled=false"]).await;
    let shown = page
        .eval(
            "return [document.querySelectorAll('.snipbox').length,
                     [...document.querySelectorAll('.snipbox-baked')].map((b) => b.checkVisibility() && b.innerText.trim())];",
        )
        .await;
    assert_eq!(
        shown,
        json!([
            0,
            [
                "from the build",
                "py: 1 < 2 & 3 > 2",
                "shell 42",
                "2 4 6",
                "42",
                "failing on purpose\n\n(exit status 3)",
                "",
                "hi docs",
                "b"
            ]
        ]),
        "scripts disabled"
    );
    page.close().await;

    // The widget, with a server: each snippet shows its baked output at
    // once, the page's copy hidden; Run replaces it.
    let page = Fixture::open(&url).await;
    snippets(&page, OUTPUTS.len() + CHECKED).await;
    let first = "const s = document.querySelector('.snipbox');
                 return [s.querySelector('.snipbox-stdout').textContent, s.querySelector('.snipbox-status').textContent,
                         document.querySelector('.snipbox-baked').checkVisibility()];";
    assert_eq!(
        page.eval(first).await,
        json!(["from the build\n", "output from the docs' build", false])
    );
    assert_eq!(run(&page, 0).await, "0\n1\n4");
    page.close().await;
    drop(_files);

    // No server to reach: the baked output stays, and Run says why.
    let closed = format!("http://127.0.0.1:{}", snipbox_tests::browser::free_port());
    let (_files, url, _copy) = baked_site(
        "hugo",
        &server.base,
        &format!("<script>window.SNIPBOX_SERVER = {closed:?}</script>"),
    );
    let page = Fixture::open(&url).await;
    until(
        &page,
        "return document.querySelectorAll('.snipbox-run').length > 0 || null",
        "a snippet",
    )
    .await;
    page.eval("document.querySelector('.snipbox-run').click()")
        .await;
    let after = until(
        &page,
        "const s = document.querySelector('.snipbox');
         const status = s.querySelector('.snipbox-status').textContent;
         return status.startsWith('✗') ? [status, s.querySelector('.snipbox-stdout').textContent] : null;",
        "the failed run",
    )
    .await;
    assert!(
        after[0]
            .as_str()
            .unwrap()
            .starts_with("✗ the server is unreachable (")
            && after[0]
                .as_str()
                .unwrap()
                .ends_with("): the output shown is the page's"),
        "{after}"
    );
    assert_eq!(after[1], json!("from the build\n"));
    page.close().await;
}

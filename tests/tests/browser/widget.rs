//! The widget on a plain page of another origin, against the real server
//! and sandboxes.

use std::time::{Duration, Instant, SystemTime};

use fantoccini::{Locator, key::Key};
use snipbox_tests::browser::{Fixture, click, code_of, count, free_port, text_until};
use snipbox_tests::{Server, root};

#[tokio::test]
async fn the_widget_makes_blocks_of_another_origins_page_runnable() {
    assert!(
        root().join("static/widget/snipbox_widget_bg.wasm").exists(),
        "the widget is not built: run `make widget` (make test does)"
    );
    let server = Server::start(&[]);
    let page = Fixture::widget(
        &server.base,
        r##"<snip-box id="one" sandbox="python">print(6 * 7)</snip-box>
<div id="two"><pre data-sandbox="shell"><code>echo <span class="hl">hi</span>  there</code></pre></div>
<div id="three"><pre data-snipbox><code data-sandbox="python">import sys<br>print("&lt;script&gt;alert(1)&lt;/script&gt;")<br>print("bad", file=sys.stderr)<br>sys.exit(2)</code></pre></div>
<script>window.SNIPBOX = { selector: "pre > code[class*=language-]", languages: { sh: "shell" } };</script>
<div id="four"><pre><code class="language-sh">read name; echo "hello $name"</code></pre></div>
<span id="who" hidden>reader</span>
<div id="five"><snip-box sandbox="shell" stdin="#who">read name; echo "stdin: $name"</snip-box></div>
<div id="six"><snip-box sandbox="python">import time<br>time.sleep(30)</snip-box></div>"##,
    )
    .await;
    let client = &page.client;

    // Every kind of block enhanced: custom element, opted-in pre>code,
    // selector-enabled.
    for _ in 0..100 {
        if count(client, ".snipbox-run").await == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(client, ".snipbox-run").await, 6);

    // Click Run: output and a status with the duration.
    let code = client
        .find(Locator::Css("#one .snipbox-code"))
        .await
        .unwrap();
    assert_eq!(
        code.prop("value").await.unwrap().as_deref(),
        Some("print(6 * 7)")
    );
    click(client, "#one .snipbox-run").await;
    text_until(client, "#one .snipbox-stdout", |t| t == "42").await;
    let status = text_until(client, "#one .snipbox-status", |t| t.starts_with('✓')).await;
    assert!(status.ends_with(" ms"), "{status}");

    // A highlighted block is shown as it was drawn until the reader edits
    // it: focus on it opens the editor, with the code text exactly.
    assert_eq!(
        count(client, "#two > pre:not(.snipbox-hidden) span.hl").await,
        1
    );
    click(client, "#two > pre").await;
    assert_eq!(count(client, "#two > pre.snipbox-hidden").await, 1);
    let code = client
        .find(Locator::Css("#two .snipbox-code"))
        .await
        .unwrap();
    assert_eq!(
        code.prop("value").await.unwrap().as_deref(),
        Some("echo hi  there")
    );

    // Edit, then Ctrl+Enter.
    code.clear().await.unwrap();
    code.send_keys("echo edited").await.unwrap();
    code.send_keys(&format!("{}{}", Key::Control, Key::Enter))
        .await
        .unwrap();
    text_until(client, "#two .snipbox-stdout", |t| t == "edited").await;

    // Reset restores the original, as it was drawn.
    click(client, "#two .snipbox-reset").await;
    assert_eq!(
        count(client, "#two > pre:not(.snipbox-hidden) span.hl").await,
        1
    );
    let code = client
        .find(Locator::Css("#two .snipbox-code"))
        .await
        .unwrap();
    assert_eq!(
        code.prop("value").await.unwrap().as_deref(),
        Some("echo hi  there")
    );

    // A failing program: stderr and the exit shown as failure; program
    // output that looks like HTML stays text.
    click(client, "#three .snipbox-run").await;
    let status = text_until(client, "#three .snipbox-status", |t| t.starts_with('✗')).await;
    assert_eq!(status, "✗ exit 2");
    text_until(client, "#three .snipbox-stdout", |t| {
        t == "<script>alert(1)</script>"
    })
    .await;
    assert_eq!(count(client, "#three .snipbox-stdout script").await, 0);
    let stderr = text_until(client, "#three .snipbox-stderr", |t| t.starts_with("bad")).await;
    assert!(stderr.ends_with("(exit status 2)"), "{stderr}");

    // Selector-enabled block: sandbox from the language class, through the
    // page's mapping; a stdin attribute naming an element.
    click(client, "#four .snipbox-run").await;
    text_until(client, "#four .snipbox-stdout", |t| t.trim_end() == "hello").await;
    click(client, "#five .snipbox-run").await;
    text_until(client, "#five .snipbox-stdout", |t| t == "stdin: reader").await;

    // Stop aborts a run in flight.
    click(client, "#six .snipbox-run").await;
    text_until(client, "#six .snipbox-status", |t| {
        t.starts_with("running…")
    })
    .await;
    click(client, "#six .snipbox-stop").await;
    text_until(client, "#six .snipbox-status", |t| t == "stopped").await;

    page.close().await;
}

#[tokio::test]
async fn a_server_that_is_down_is_reported_as_unreachable() {
    let server = Server::start(&[]);
    let down = free_port();
    let page = Fixture::widget_with(
        &server.base,
        &format!(" data-server=\"http://127.0.0.1:{down}\""),
        r#"<snip-box id="one" sandbox="python">print(1)</snip-box>"#,
    )
    .await;
    let client = &page.client;
    text_until(client, "#one .snipbox-run", |t| t == "Run").await;
    click(client, "#one .snipbox-run").await;
    let status = text_until(client, "#one .snipbox-status", |t| t.starts_with('✗')).await;
    assert!(status.contains("unreachable"), "{status}");
    page.close().await;
}

#[tokio::test]
async fn depends_on_templates_files_and_rendered_output() {
    let server = Server::start(&[]);
    let page = Fixture::widget(
        &server.base,
        r##"<snip-box id="base" sandbox="python">x = 20</snip-box>
<snip-box id="mid" sandbox="python" depends-on="base">y = x + 1</snip-box>
<snip-box id="top" sandbox="python" depends-on="#mid #base">print(x + y)</snip-box>
<pre id="tpl" hidden>values = [3, 1, 2]
##CODE##
print("done")</pre>
<snip-box id="tmpl" sandbox="python" template="#tpl">print(sorted(values))</snip-box>
<pre id="helper" hidden>def greet(name):
    return "hi " + name</pre>
<snip-box id="files" sandbox="python" files="#helper:helper.py">from helper import greet
print(greet("files"))</snip-box>
<snip-box id="loop1" sandbox="python" depends-on="loop2">pass</snip-box>
<snip-box id="loop2" sandbox="python" depends-on="loop1">pass</snip-box>
<snip-box id="html" sandbox="python" output-mode="html">print("&lt;p id=x&gt;rendered&lt;/p&gt;&lt;script&gt;document.getElementById('x').textContent='script ran'&lt;/script&gt;")</snip-box>
<snip-box id="odd" sandbox="python" output-mode="pdf">print(1)</snip-box>"##,
    )
    .await;
    let client = &page.client;
    text_until(client, "#top .snipbox-run", |t| t == "Run").await;

    // A chain: each dependency once, dependencies first, their current code.
    click(client, "#top .snipbox-run").await;
    text_until(client, "#top .snipbox-stdout", |t| t == "41").await;
    let base = client
        .find(Locator::Css("#base .snipbox-code"))
        .await
        .unwrap();
    base.clear().await.unwrap();
    base.send_keys("x = 1").await.unwrap();
    click(client, "#top .snipbox-run").await;
    text_until(client, "#top .snipbox-stdout", |t| t == "3").await;

    // A template around the code; an extra file under its own name.
    click(client, "#tmpl .snipbox-run").await;
    text_until(client, "#tmpl .snipbox-stdout", |t| t == "[1, 2, 3]\ndone").await;
    click(client, "#files .snipbox-run").await;
    text_until(client, "#files .snipbox-stdout", |t| t == "hi files").await;

    // A cycle is reported, not run.
    click(client, "#loop1 .snipbox-run").await;
    let status = text_until(client, "#loop1 .snipbox-status", |t| t.starts_with('✗')).await;
    assert_eq!(status, "✗ depends-on has a cycle: #loop1 → #loop2 → #loop1");

    // An unknown output mode is named on the block itself.
    let status = text_until(client, "#odd .snipbox-status", |t| !t.is_empty()).await;
    assert!(status.contains("output-mode \"pdf\""), "{status}");

    // HTML output is rendered in a sandboxed frame: markup shows, its
    // scripts do not run (one would rewrite its own paragraph).
    click(client, "#html .snipbox-run").await;
    text_until(client, "#html .snipbox-status", |t| t.starts_with('✓')).await;
    let frame = client
        .find(Locator::Css("#html iframe.snipbox-frame"))
        .await
        .unwrap();
    assert_eq!(frame.attr("sandbox").await.unwrap().as_deref(), Some(""));
    frame.enter_frame().await.unwrap();
    text_until(client, "#x", |t| !t.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shown = client
        .find(Locator::Css("#x"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown, "rendered", "a script in the output ran");
    client.enter_parent_frame().await.unwrap();

    page.close().await;
}

#[tokio::test]
async fn copy_puts_the_code_on_the_clipboard() {
    let server = Server::start(&[]);
    let page = Fixture::widget(
        &server.base,
        r#"<snip-box id="one" sandbox="python">print("copied text")</snip-box>
<snip-box id="two" sandbox="python"></snip-box>"#,
    )
    .await;
    let client = &page.client;
    text_until(client, "#one .snipbox-copy", |t| t == "Copy").await;
    click(client, "#one .snipbox-copy").await;
    text_until(client, "#one .snipbox-status", |t| t == "copied").await;
    let two = client
        .find(Locator::Css("#two .snipbox-code"))
        .await
        .unwrap();
    two.click().await.unwrap();
    two.send_keys(&format!("{}v", Key::Control)).await.unwrap();
    assert_eq!(
        code_of(client, "#two .snipbox-code").await,
        r#"print("copied text")"#
    );
    page.close().await;
}

#[tokio::test]
async fn a_busy_server_says_when_to_retry() {
    let server = Server::start(&[("SNIPBOX_RATE_LIMIT", "1"), ("SNIPBOX_RATE_BURST", "1")]);
    let page = Fixture::widget(
        &server.base,
        r#"<snip-box id="one" sandbox="python">print(1)</snip-box>"#,
    )
    .await;
    let client = &page.client;
    text_until(client, "#one .snipbox-run", |t| t == "Run").await;
    click(client, "#one .snipbox-run").await;
    text_until(client, "#one .snipbox-status", |t| t.starts_with('✓')).await;
    click(client, "#one .snipbox-run").await;
    let status = text_until(client, "#one .snipbox-status", |t| t.starts_with('✗')).await;
    assert!(
        status.starts_with("✗ the server is busy: try again in ") && status.ends_with(" s"),
        "{status}"
    );
    page.close().await;
}

/// The cells of the table in `css`: the header row first.
async fn table_cells(page: &Fixture, css: &str) -> serde_json::Value {
    page.eval(&format!(
        "const t = document.querySelector({css:?});
         return t && [...t.querySelectorAll('tr')].map((r) => [...r.children].map((c) => c.tagName + ':' + c.textContent));"
    ))
    .await
}

#[tokio::test]
async fn table_output_mode_shows_a_json_array_of_objects_as_a_table_and_anything_else_as_text() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget(
        &server.base,
        r#"<snip-box id="rows" sandbox="python" output-mode="table">import json
print(json.dumps([{"name": "&lt;b&gt;Ada&lt;/b&gt;", "born": 1815}, {"name": "Grace", "born": 1906, "navy": True}]))</snip-box>
<snip-box id="bad" sandbox="python" output-mode="table">print('[{"name": "Ada"},')</snip-box>
<snip-box id="flat" sandbox="python" output-mode="table">print([1, 2])</snip-box>"#,
    )
    .await;
    let client = &page.client;
    text_until(client, "#rows .snipbox-run", |t| t == "Run").await;
    for id in ["rows", "bad", "flat"] {
        click(client, &format!("#{id} .snipbox-run")).await;
        text_until(client, &format!("#{id} .snipbox-status"), |t| {
            t.starts_with('✓')
        })
        .await;
    }
    // A header from the keys (in the order they first appear), a row per
    // object; values that are not strings as JSON; markup stays text.
    assert_eq!(
        table_cells(&page, "#rows table.snipbox-table").await,
        serde_json::json!([
            ["TH:name", "TH:born", "TH:navy"],
            ["TD:<b>Ada</b>", "TD:1815", "TD:"],
            ["TD:Grace", "TD:1906", "TD:true"],
        ])
    );
    assert_eq!(count(client, "#rows th[scope=col]").await, 3);
    assert_eq!(count(client, "#rows table b").await, 0);
    assert_eq!(text_of(client, "#rows .snipbox-stdout").await, "");
    // Not JSON, or not an array of objects: the text, and no table.
    text_until(client, "#bad .snipbox-stdout", |t| {
        t == r#"[{"name": "Ada"},"#
    })
    .await;
    text_until(client, "#flat .snipbox-stdout", |t| t == "[1, 2]").await;
    assert_eq!(count(client, "#bad table, #flat table").await, 0);
    page.close().await;
}

/// The text of the element `css` selects.
async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_status_line_says_a_memory_kill_was_for_the_memory_limit() {
    let server = snipbox_tests::shared();
    let program = "x = \"a\" * (300 * 1024 * 1024)\nprint(len(x))";
    let page = Fixture::widget(
        &server.base,
        &format!(r#"<snip-box id="big" sandbox="python">{program}</snip-box>"#),
    )
    .await;
    let client = &page.client;
    text_until(client, "#big .snipbox-run", |t| t == "Run").await;
    click(client, "#big .snipbox-run").await;
    let status = text_until(client, "#big .snipbox-status", |t| t.starts_with('✗')).await;
    // The answer's own words, which name the limit.
    let answer = server
        .exec(&snipbox_tests::request("python", program))
        .await;
    assert_eq!(answer.reason.as_deref(), Some("memory"));
    let words = answer.reason_text.expect("words for the reason");
    assert_eq!(status, format!("✗ {words}"));
    let limit = snipbox_tests::limit("python", "memory_mb");
    assert!(status.contains(&format!("{limit} MB")), "{status}");
    page.close().await;
}

/// Prints a line a second for five seconds.
const TICKING: &str = "import time\nfor i in range(5): print(i, flush=True); time.sleep(1)";

#[tokio::test]
async fn output_streams_in_while_the_program_runs() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget(
        &server.base,
        &format!(r#"<snip-box id="tick" sandbox="python">{TICKING}</snip-box>"#),
    )
    .await;
    let client = &page.client;
    text_until(client, "#tick .snipbox-run", |t| t == "Run").await;
    click(client, "#tick .snipbox-run").await;
    // Read in the page itself, at once: the first line is there while the
    // status still says the run goes on (with its elapsed time).
    let seen = page
        .eval(
            "return await new Promise((done) => {
               const started = performance.now();
               const look = () => {
                 const out = document.querySelector('#tick .snipbox-stdout').textContent;
                 const status = document.querySelector('#tick .snipbox-status').textContent;
                 if (out.length > 0 || performance.now() - started > 10000) done({ out, status });
                 else setTimeout(look, 10);
               };
               look();
             });",
        )
        .await;
    // Some lines, not all, while the run goes on (a loaded machine may
    // show the page the second line with the first).
    let first = seen["out"].as_str().unwrap();
    assert!(first.starts_with("0\n") && !first.contains('4'), "{seen}");
    let status = seen["status"].as_str().unwrap();
    assert!(status.starts_with("running…"), "{seen}");
    // Ticking: the elapsed time moves on.
    let later = text_until(client, "#tick .snipbox-status", |t| t != status).await;
    assert!(
        later.starts_with("running… ") && later.ends_with(" s"),
        "{later}"
    );
    let out = text_until(client, "#tick .snipbox-stdout", |t| t == "0\n1\n2\n3\n4").await;
    assert_eq!(out, "0\n1\n2\n3\n4");
    text_until(client, "#tick .snipbox-status", |t| t.starts_with('✓')).await;
    page.close().await;
}

#[tokio::test]
async fn stop_ends_the_run_and_its_container_at_once() {
    // A program that would print for a minute, under a time limit longer
    // than that: only Stop can end it early. No warm containers: the one
    // container of this server is the run's.
    let sandboxes =
        snipbox_tests::sandboxes_with(&[("python", "timeout_ms", toml::Value::Integer(90_000))]);
    let server = Server::start(&[
        ("SNIPBOX_POOL", "0"),
        ("SNIPBOX_SANDBOXES_ONLY", "python"),
        ("SNIPBOX_SANDBOXES", sandboxes.path().to_str().unwrap()),
    ]);
    let minute = "import time\nfor i in range(200): print(i, flush=True); time.sleep(0.3)";
    let page = Fixture::widget(
        &server.base,
        &format!(r#"<snip-box id="tick" sandbox="python">{minute}</snip-box>"#),
    )
    .await;
    let client = &page.client;
    text_until(client, "#tick .snipbox-run", |t| t == "Run").await;
    let started = Instant::now();
    click(client, "#tick .snipbox-run").await;
    text_until(client, "#tick .snipbox-stdout", |t| t.starts_with('0')).await;
    let ours = server.containers();
    assert_eq!(ours.len(), 1, "the run's container: {ours:?}");
    tokio::time::sleep(Duration::from_millis(800).saturating_sub(started.elapsed())).await;
    click(client, "#tick .snipbox-stop").await;
    let stopped = SystemTime::now();
    text_until(client, "#tick .snipbox-status", |t| t == "stopped").await;
    let out = text_of(client, "#tick .snipbox-stdout").await;
    assert!(
        snipbox_tests::eventually(Duration::from_secs(15), || server.containers().is_empty()),
        "the run's container outlived Stop by 15 s"
    );
    // When the engine removed it, by the engine's clock: within seconds of
    // the click, where without Stop it would run for a minute more (on an
    // idle machine about 100 ms: runbench's figure).
    let removed = snipbox_tests::removed_at(&ours[0], stopped - Duration::from_secs(1))
        .expect("the engine recorded the removal");
    let after = removed.duration_since(stopped).unwrap_or_default();
    println!("container removed {after:?} after Stop");
    assert!(
        after < Duration::from_secs(5),
        "the run's container outlived Stop by {after:?} (load average {})",
        snipbox_tests::load_average()
    );
    // Nothing more comes in after Stop, and the program did not run on.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(text_of(client, "#tick .snipbox-stdout").await, out);
    assert!(!out.contains("199"), "the program ran to its end: {out:?}");
    page.close().await;
}

/// Writes a 40×20 PNG (red left half, blue right half) with the standard
/// library only, an SVG, and a CSV file of 3,000 bytes.
pub(crate) const PICTURES: &str = r#"import struct, zlib
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
rows = b"".join(b"\0" + (b"\xff\0\0" * 20) + (b"\0\0\xff" * 20) for _ in range(20))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 20, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open("chart.png", "wb").write(png)
open("shape.svg", "w").write('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    '<rect width="10" height="10" fill="green"/><script>parent.document.title="pwned"</script></svg>')
open("data.csv", "w").write("x" * 2999 + "\n")
print("drawn")"#;

/// The pictures under the output in `css`: alt text, and how many of the
/// decoded pixels are not blank (neither transparent nor white).
pub(crate) async fn pictures(page: &Fixture, css: &str) -> serde_json::Value {
    page.eval(&format!(
        "const imgs = [...document.querySelectorAll({css:?})];
         const shown = [];
         for (const img of imgs) {{
           await img.decode();
           const c = document.createElement('canvas');
           c.width = img.naturalWidth; c.height = img.naturalHeight;
           const g = c.getContext('2d');
           g.drawImage(img, 0, 0);
           const d = g.getImageData(0, 0, c.width, c.height).data;
           let inked = 0;
           for (let i = 0; i < d.length; i += 4) {{
             if (d[i + 3] > 0 && !(d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255)) inked++;
           }}
           shown.push([img.alt, inked, img.getBoundingClientRect().width <= img.parentElement.getBoundingClientRect().width]);
         }}
         return shown;"
    ))
    .await
}

#[tokio::test]
async fn pictures_a_run_draws_show_under_its_output_and_other_files_download() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget(
        &server.base,
        &format!(
            r#"<snip-box id="draw" sandbox="python">{}</snip-box>"#,
            PICTURES.replace('&', "&amp;").replace('<', "&lt;")
        ),
    )
    .await;
    let client = &page.client;
    text_until(client, "#draw .snipbox-run", |t| t == "Run").await;
    click(client, "#draw .snipbox-run").await;
    text_until(client, "#draw .snipbox-status", |t| t.starts_with('✓')).await;
    text_until(client, "#draw .snipbox-stdout", |t| t == "drawn").await;
    assert_eq!(
        pictures(&page, "#draw .snipbox-more img").await,
        serde_json::json!([["chart.png", 800, true], ["shape.svg", 100, true]])
    );
    // The SVG's script never ran (it is only ever an <img>).
    assert_eq!(client.title().await.unwrap(), "docs");
    let link = page
        .eval(
            "const a = document.querySelector('#draw .snipbox-more a[download]');
             return a && [a.download, a.parentElement.textContent, a.href.slice(0, 37)];",
        )
        .await;
    assert_eq!(
        link,
        serde_json::json!([
            "data.csv",
            "data.csv 3.0 kB",
            "data:application/octet-stream;base64,"
        ])
    );
    page.close().await;
}

/// A plot drawn with matplotlib and shown with `plt.show()`.
pub(crate) const PLOT: &str = "import matplotlib.pyplot as plt
plt.plot([1, 3, 2, 4])
plt.show()";

/// The pictures `css` selects: at least one, none blank, none wider than
/// its pane.
pub(crate) async fn plots_shown(page: &Fixture, css: &str) {
    let shown = pictures(page, css).await;
    let shown = shown.as_array().unwrap();
    assert!(!shown.is_empty(), "no picture under the output");
    for p in shown {
        assert!(p[1].as_u64().unwrap() > 100, "a blank picture: {p}");
        assert_eq!(p[2], true, "wider than its pane: {p}");
    }
}

#[tokio::test]
async fn a_matplotlib_plot_shows_under_the_snippet() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget(
        &server.base,
        &format!(r#"<snip-box id="plot" sandbox="python-data">{PLOT}</snip-box>"#),
    )
    .await;
    let client = &page.client;
    text_until(client, "#plot .snipbox-run", |t| t == "Run").await;
    click(client, "#plot .snipbox-run").await;
    let status = text_until(client, "#plot .snipbox-status", |t| {
        t.starts_with('✓') || t.starts_with('✗')
    })
    .await;
    assert!(status.starts_with('✓'), "{status}");
    plots_shown(&page, "#plot .snipbox-more img").await;
    page.close().await;
}

#[tokio::test]
async fn html_output_loads_nothing_from_elsewhere() {
    // What a program's page would fetch, were it allowed: a listener of
    // this test's own on loopback stands for any other address; it must
    // never be asked for anything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let elsewhere = format!("http://{}", listener.local_addr().unwrap());
    let server = snipbox_tests::shared();
    let html = format!(
        "<p id=shown style='color: rgb(1, 2, 3)'>inline styles work</p>\
         <img src='{elsewhere}/pixel.png'><link rel=stylesheet href='{elsewhere}/style.css'>\
         <img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
    );
    let code = format!("print({html:?})")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = Fixture::widget(
        &server.base,
        &format!(r#"<snip-box id="h" sandbox="python" output-mode="html">{code}</snip-box>"#),
    )
    .await;
    let client = &page.client;
    text_until(client, "#h .snipbox-run", |t| t == "Run").await;
    click(client, "#h .snipbox-run").await;
    text_until(client, "#h .snipbox-status", |t| t.starts_with('✓')).await;
    let frame = client
        .find(Locator::Css("#h iframe.snipbox-frame"))
        .await
        .unwrap();
    frame.enter_frame().await.unwrap();
    let shown = text_until(client, "#shown", |t| !t.is_empty()).await;
    assert_eq!(shown, "inline styles work");
    // Give the frame's loads time to be tried.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = listener.accept().is_ok();
    assert!(!asked, "the program's page fetched from {elsewhere}");
    page.close().await;
}

#[tokio::test]
async fn an_interactive_snippet_takes_the_readers_lines_and_ctrl_d() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget(
        &server.base,
        r#"<snip-box id="ask" sandbox="python" stdin="interactive">import sys
print("Words? ", end="", flush=True)
words = [line.strip() for line in sys.stdin]
print(f"{len(words)} words, the longest {max(words, key=len)}")</snip-box>"#,
    )
    .await;
    let client = &page.client;
    text_until(client, "#ask .snipbox-run", |t| t == "Run").await;
    click(client, "#ask .snipbox-run").await;
    snipbox_tests::browser::answer(client, "#ask", "Words? ", "kindred").await;
    snipbox_tests::browser::answer(client, "#ask", "kindred\n", "dispossessed").await;
    // Labelled for screen readers, and focused when it came.
    let label = page
        .eval("const i = document.querySelector('#ask .snipbox-stdin'); return [i.getAttribute('aria-label'), document.activeElement === i]")
        .await;
    assert_eq!(
        label,
        serde_json::json!(["Input: Enter sends a line, Ctrl+D ends the input", true])
    );
    let input = client
        .find(Locator::Css("#ask .snipbox-stdin"))
        .await
        .unwrap();
    input
        .send_keys(&format!("{}d{}", Key::Control, Key::Null))
        .await
        .unwrap();
    let status = text_until(client, "#ask .snipbox-status", |t| {
        t.starts_with('✓') || t.starts_with('✗')
    })
    .await;
    assert!(status.starts_with('✓'), "{status}");
    let out = text_of(client, "#ask .snipbox-stdout").await;
    assert_eq!(
        out,
        "Words? kindred\ndispossessed\n2 words, the longest dispossessed"
    );
    assert_eq!(
        count(client, "#ask .snipbox-stdin").await,
        0,
        "no input line after the run"
    );
    page.close().await;
}

#[tokio::test]
async fn a_server_without_interactive_runs_runs_an_interactive_snippet_plainly() {
    // HAProxy in front of the server, answering the WebSocket path with a
    // 404, as a server without interactive runs (codapi) does.
    let server = snipbox_tests::shared();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("haproxy.log");
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "global\n  log stderr format raw local0\ndefaults\n  mode http\n  log global\n  option httplog\n  \
             timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
             frontend plain\n  bind 127.0.0.1:{port}\n  \
             http-request return status 404 content-type application/json string '{{\"error\":\"not_found\"}}' if {{ path /v1/ws }}\n  \
             default_backend server\n\
             backend server\n  server s1 {}\n",
            server.base.trim_start_matches("http://")
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("haproxy");
    cmd.args(["-db", "-f"])
        .arg(&config)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap());
    snipbox_tests::end_with_parent(&mut cmd);
    let _haproxy = snipbox_tests::browser::Process(cmd.spawn().expect("haproxy starts"));
    assert!(snipbox_tests::eventually(Duration::from_secs(10), || {
        snipbox_tests::browser::listening(port)
    }));
    let page = Fixture::widget(
        &format!("http://127.0.0.1:{port}"),
        r#"<snip-box id="ask" sandbox="python" stdin="interactive">import sys
print(len(sys.stdin.read()), "bytes of input")</snip-box>"#,
    )
    .await;
    let client = &page.client;
    text_until(client, "#ask .snipbox-run", |t| t == "Run").await;
    click(client, "#ask .snipbox-run").await;
    let status = text_until(client, "#ask .snipbox-status", |t| {
        t.starts_with('✓') || t.starts_with('✗')
    })
    .await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(
        text_of(client, "#ask .snipbox-stdout").await,
        "0 bytes of input"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("GET /v1/ws") && l.contains(" 404 ")),
        "the widget asked for /v1/ws first: {logged}"
    );
    page.close().await;
}

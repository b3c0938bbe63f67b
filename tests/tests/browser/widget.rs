//! The widget in a real browser (headless Chromium through chromedriver),
//! on a plain page of another origin, against the real server and sandboxes.

use std::time::Duration;

use fantoccini::{Locator, key::Key};
use snipbox_tests::browser::{browser, click, code_of, count, free_port, page, text_until};
use snipbox_tests::{Server, root};

#[tokio::test]
async fn the_widget_makes_blocks_of_another_origins_page_runnable() {
    assert!(
        root().join("static/widget/snipbox_widget_bg.wasm").exists(),
        "the widget is not built: run `make widget` (make test does)"
    );
    let server = Server::start(&[]);
    let html = format!(
        r##"<!doctype html><meta charset="utf-8"><title>docs</title>
<script type="module" src="{base}/widget/snipbox.js"></script>
<snip-box id="one" sandbox="python">print(6 * 7)</snip-box>
<div id="two"><pre data-sandbox="shell"><code>echo <span class="hl">hi</span>  there</code></pre></div>
<div id="three"><pre data-snipbox><code data-sandbox="python">import sys<br>print("&lt;script&gt;alert(1)&lt;/script&gt;")<br>print("bad", file=sys.stderr)<br>sys.exit(2)</code></pre></div>
<script>window.SNIPBOX = {{ selector: "pre > code[class*=language-]", languages: {{ sh: "shell" }} }};</script>
<div id="four"><pre><code class="language-sh">read name; echo "hello $name"</code></pre></div>
<span id="who" hidden>reader</span>
<div id="five"><snip-box sandbox="shell" stdin="#who">read name; echo "stdin: $name"</snip-box></div>
<div id="six"><snip-box sandbox="python">import time<br>time.sleep(30)</snip-box></div>"##,
        base = server.base
    );
    let (_site, url, _dir) = page(&html);
    let (_driver, client, _profile) = browser().await;
    client.goto(&url).await.unwrap();

    // Every kind of block enhanced: custom element, opted-in pre>code,
    // selector-enabled.
    for _ in 0..100 {
        if count(&client, ".snipbox-run").await == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&client, ".snipbox-run").await, 6);

    // Click Run: output and a status with the duration.
    let code = client
        .find(Locator::Css("#one .snipbox-code"))
        .await
        .unwrap();
    assert_eq!(
        code.prop("value").await.unwrap().as_deref(),
        Some("print(6 * 7)")
    );
    click(&client, "#one .snipbox-run").await;
    text_until(&client, "#one .snipbox-stdout", |t| t == "42").await;
    let status = text_until(&client, "#one .snipbox-status", |t| t.starts_with('✓')).await;
    assert!(status.ends_with(" ms"), "{status}");

    // The code text is kept exactly, highlighting markup dropped.
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
    text_until(&client, "#two .snipbox-stdout", |t| t == "edited").await;

    // Reset restores the original.
    click(&client, "#two .snipbox-reset").await;
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
    click(&client, "#three .snipbox-run").await;
    let status = text_until(&client, "#three .snipbox-status", |t| t.starts_with('✗')).await;
    assert_eq!(status, "✗ exit 2");
    text_until(&client, "#three .snipbox-stdout", |t| {
        t == "<script>alert(1)</script>"
    })
    .await;
    assert_eq!(count(&client, "#three .snipbox-stdout script").await, 0);
    let stderr = text_until(&client, "#three .snipbox-stderr", |t| t.starts_with("bad")).await;
    assert!(stderr.ends_with("(exit status 2)"), "{stderr}");

    // Selector-enabled block: sandbox from the language class, through the
    // page's mapping; a stdin attribute naming an element.
    click(&client, "#four .snipbox-run").await;
    text_until(&client, "#four .snipbox-stdout", |t| {
        t.trim_end() == "hello"
    })
    .await;
    click(&client, "#five .snipbox-run").await;
    text_until(&client, "#five .snipbox-stdout", |t| t == "stdin: reader").await;

    // Stop aborts a run in flight.
    click(&client, "#six .snipbox-run").await;
    text_until(&client, "#six .snipbox-status", |t| t == "running…").await;
    click(&client, "#six .snipbox-stop").await;
    text_until(&client, "#six .snipbox-status", |t| t == "stopped").await;

    client.close().await.unwrap();
}

#[tokio::test]
async fn a_server_that_is_down_is_reported_as_unreachable() {
    let server = Server::start(&[]);
    let down = free_port();
    let html = format!(
        r#"<!doctype html><meta charset="utf-8">
<script type="module" src="{base}/widget/snipbox.js" data-server="http://127.0.0.1:{down}"></script>
<snip-box id="one" sandbox="python">print(1)</snip-box>"#,
        base = server.base
    );
    let (_site, url, _dir) = page(&html);
    let (_driver, client, _profile) = browser().await;
    client.goto(&url).await.unwrap();
    text_until(&client, "#one .snipbox-run", |t| t == "Run").await;
    click(&client, "#one .snipbox-run").await;
    let status = text_until(&client, "#one .snipbox-status", |t| t.starts_with('✗')).await;
    assert!(status.contains("unreachable"), "{status}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn depends_on_templates_files_and_rendered_output() {
    let server = Server::start(&[]);
    let html = format!(
        r##"<!doctype html><meta charset="utf-8"><title>options</title>
<script type="module" src="{base}/widget/snipbox.js"></script>
<snip-box id="base" sandbox="python">x = 20</snip-box>
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
<snip-box id="html" sandbox="python" output-mode="html">print("&lt;p id=x&gt;rendered&lt;/p&gt;&lt;script&gt;parent.document.title='pwned'&lt;/script&gt;")</snip-box>
<snip-box id="odd" sandbox="python" output-mode="pdf">print(1)</snip-box>"##,
        base = server.base
    );
    let (_site, url, _dir) = page(&html);
    let (_driver, client, _profile) = browser().await;
    client.goto(&url).await.unwrap();
    text_until(&client, "#top .snipbox-run", |t| t == "Run").await;

    // A chain: each dependency once, dependencies first, their current code.
    click(&client, "#top .snipbox-run").await;
    text_until(&client, "#top .snipbox-stdout", |t| t == "41").await;
    let base = client
        .find(Locator::Css("#base .snipbox-code"))
        .await
        .unwrap();
    base.clear().await.unwrap();
    base.send_keys("x = 1").await.unwrap();
    click(&client, "#top .snipbox-run").await;
    text_until(&client, "#top .snipbox-stdout", |t| t == "3").await;

    // A template around the code; an extra file under its own name.
    click(&client, "#tmpl .snipbox-run").await;
    text_until(&client, "#tmpl .snipbox-stdout", |t| t == "[1, 2, 3]\ndone").await;
    click(&client, "#files .snipbox-run").await;
    text_until(&client, "#files .snipbox-stdout", |t| t == "hi files").await;

    // A cycle is reported, not run.
    click(&client, "#loop1 .snipbox-run").await;
    let status = text_until(&client, "#loop1 .snipbox-status", |t| t.starts_with('✗')).await;
    assert_eq!(status, "✗ depends-on has a cycle: #loop1 → #loop2 → #loop1");

    // An unknown output mode is named on the block itself.
    let status = text_until(&client, "#odd .snipbox-status", |t| !t.is_empty()).await;
    assert!(status.contains("output-mode \"pdf\""), "{status}");

    // HTML output is rendered in a sandboxed frame: markup shows, its
    // scripts do not run.
    click(&client, "#html .snipbox-run").await;
    text_until(&client, "#html .snipbox-status", |t| t.starts_with('✓')).await;
    let frame = client
        .find(Locator::Css("#html iframe.snipbox-frame"))
        .await
        .unwrap();
    assert_eq!(frame.attr("sandbox").await.unwrap().as_deref(), Some(""));
    frame.enter_frame().await.unwrap();
    text_until(&client, "#x", |t| t == "rendered").await;
    client.enter_parent_frame().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.title().await.unwrap(), "options");

    client.close().await.unwrap();
}

#[tokio::test]
async fn copy_puts_the_code_on_the_clipboard() {
    let server = Server::start(&[]);
    let html = format!(
        r#"<!doctype html><meta charset="utf-8">
<script type="module" src="{base}/widget/snipbox.js"></script>
<snip-box id="one" sandbox="python">print("copied text")</snip-box>
<snip-box id="two" sandbox="python"></snip-box>"#,
        base = server.base
    );
    let (_site, url, _dir) = page(&html);
    let (_driver, client, _profile) = browser().await;
    client.goto(&url).await.unwrap();
    text_until(&client, "#one .snipbox-copy", |t| t == "Copy").await;
    click(&client, "#one .snipbox-copy").await;
    text_until(&client, "#one .snipbox-status", |t| t == "copied").await;
    let two = client
        .find(Locator::Css("#two .snipbox-code"))
        .await
        .unwrap();
    two.click().await.unwrap();
    two.send_keys(&format!("{}v", Key::Control)).await.unwrap();
    assert_eq!(
        code_of(&client, "#two .snipbox-code").await,
        r#"print("copied text")"#
    );
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_busy_server_says_when_to_retry() {
    let server = Server::start(&[("SNIPBOX_RATE_LIMIT", "1"), ("SNIPBOX_RATE_BURST", "1")]);
    let html = format!(
        r#"<!doctype html><meta charset="utf-8">
<script type="module" src="{base}/widget/snipbox.js"></script>
<snip-box id="one" sandbox="python">print(1)</snip-box>"#,
        base = server.base
    );
    let (_site, url, _dir) = page(&html);
    let (_driver, client, _profile) = browser().await;
    client.goto(&url).await.unwrap();
    text_until(&client, "#one .snipbox-run", |t| t == "Run").await;
    click(&client, "#one .snipbox-run").await;
    text_until(&client, "#one .snipbox-status", |t| t.starts_with('✓')).await;
    click(&client, "#one .snipbox-run").await;
    let status = text_until(&client, "#one .snipbox-status", |t| t.starts_with('✗')).await;
    assert!(
        status.starts_with("✗ the server is busy: try again in ") && status.ends_with(" s"),
        "{status}"
    );
    client.close().await.unwrap();
}

//! Accessibility, checked by axe-core (npm, pinned in scripts/pins.sh) in
//! the real browser: no serious or critical violation on the server's own
//! pages (the demo, the playground) as a whole, and in the widget's
//! snippets on the seven generators' sites and in the book, in light and
//! in dark. On others' sites only the snippets are checked: the rest of
//! the page is the site's theme, its author's to answer for.

use fantoccini::key::Key;
use serde_json::{Value, json};
use snipbox_tests::browser::{Fixture, text_until};
use snipbox_tests::sites::GENERATORS;
use snipbox_tests::{Server, sites, target_dir};

use crate::generators::{run, site, until};

/// The colour schemes a reader's system may prefer, and the Chromium flag
/// that makes the page see each.
const SCHEMES: [(&str, &str); 2] = [
    ("light", "--blink-settings=preferredColorScheme=1"),
    ("dark", "--blink-settings=preferredColorScheme=0"),
];

/// Opens `url` in a browser that prefers `scheme` (checked: the page sees
/// it).
async fn open(url: &str, (scheme, flag): (&str, &str)) -> Fixture {
    let page = Fixture::open_with(url, &[flag]).await;
    let seen = page
        .eval(&format!(
            "return matchMedia('(prefers-color-scheme: {scheme})').matches"
        ))
        .await;
    assert_eq!(
        seen,
        json!(true),
        "the page does not see a {scheme} preference"
    );
    page
}

/// axe-core's serious and critical violations on the page as it is now,
/// within the elements `scope` selects (the whole page if none): a line
/// each, with the rule, what it asks and the first elements it found.
async fn violations(page: &Fixture, scope: Option<&str>) -> Vec<String> {
    let axe = target_dir().join("tools/axe-core/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/prereqs.sh --test installs axe-core)",
            axe.display()
        )
    });
    // As the script's own body: a page's Content-Security-Policy does not
    // apply to what the browser's driver runs.
    page.eval(&format!("{source}\n;return typeof axe")).await;
    let context = match scope {
        Some(css) => json!({ "include": [[css]] }),
        None => json!(null),
    };
    let found = page
        .eval(&format!(
            "const context = {context} ?? document;
             return axe.run(context, {{ resultTypes: ['violations'] }}).then((r) => r.violations
               .filter((v) => v.impact === 'serious' || v.impact === 'critical')
               .map((v) => `${{v.id}} (${{v.impact}}): ${{v.help}}: ${{v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\\s+/g, ' ')).join(' | ')}}`));"
        ))
        .await;
    match found {
        Value::Array(lines) => lines
            .into_iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect(),
        other => panic!("axe-core did not run: {other}"),
    }
}

/// Waits until the widget has drawn the page's snippets.
async fn drawn(page: &Fixture) {
    let script = "return document.querySelectorAll('.snipbox-run').length > 0 || null";
    until(page, script, "the page's snippets").await;
}

/// Asserts that nothing in `found` (what `what` showed) is serious.
fn none(what: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "{what}: axe-core finds {} serious or critical violation(s):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[tokio::test]
async fn the_widget_on_every_generators_site_and_in_the_book_passes_axe_core_in_light_and_dark() {
    let server = snipbox_tests::shared();
    for name in GENERATORS {
        let served = site(name, &server.base);
        for scheme in SCHEMES {
            let page = open(&served.1, scheme).await;
            drawn(&page).await;
            // Once drawn, and once a run has filled an output pane.
            none(
                &format!("{name} ({})", scheme.0),
                violations(&page, Some(".snipbox")).await,
            );
            run(&page, 0).await;
            none(
                &format!("{name} ({}) after a run", scheme.0),
                violations(&page, Some(".snipbox")).await,
            );
            page.close().await;
        }
    }
    sites::book();
    for scheme in SCHEMES {
        let page = open(&server.url("/docs/"), scheme).await;
        drawn(&page).await;
        run(&page, 0).await;
        none(
            &format!("the book ({})", scheme.0),
            violations(&page, Some(".snipbox")).await,
        );
        page.close().await;
    }
}

#[tokio::test]
async fn the_demo_and_the_playground_pass_axe_core_in_light_and_dark() {
    let server = Server::start(&[]);
    for scheme in SCHEMES {
        let page = open(&server.url("/demo"), scheme).await;
        drawn(&page).await;
        run(&page, 0).await;
        none(
            &format!("/demo ({})", scheme.0),
            violations(&page, None).await,
        );
        page.close().await;

        let page = open(&server.url("/"), scheme).await;
        text_until(&page.client, ".pg-tab-name", |t| !t.is_empty()).await;
        none(
            &format!("the playground ({})", scheme.0),
            violations(&page, None).await,
        );
        page.close().await;
    }
}

/// Sends `keys` to the element with the focus.
async fn press(page: &Fixture, keys: &str) {
    let focused = page.client.active_element().await.unwrap();
    focused.send_keys(keys).await.unwrap();
}

/// The element with the focus (its id or its first class), and whether it
/// shows that it has it (an outline).
async fn focus(page: &Fixture) -> (String, bool) {
    let got = page
        .eval(
            "const e = document.activeElement;
             const s = getComputedStyle(e);
             return [e.id || e.classList[0] || e.tagName, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0];",
        )
        .await;
    (got[0].as_str().unwrap().to_string(), got[1] == json!(true))
}

#[tokio::test]
async fn a_keyboard_alone_opens_edits_runs_and_leaves_a_snippet() {
    let server = snipbox_tests::shared();
    let page = Fixture::widget(
        &server.base,
        r##"<a id="before" href="#">before</a>
<pre data-sandbox="python"><code><span class="hl">print</span>(6 * 7)</code></pre>
<a id="after" href="#">after</a>"##,
    )
    .await;
    drawn(&page).await;
    page.eval("document.getElementById('before').focus()").await;

    // Tab reaches the block as the page drew it, which opens the editor.
    press(&page, &Key::Tab.to_string()).await;
    assert_eq!(
        focus(&page).await.0,
        "snipbox-code",
        "Tab from the link before"
    );
    // Typing replaces the code; Tab indents (the focus stays); Escape,
    // then Tab, moves on to Run.
    press(&page, &format!("{}a{}", Key::Control, Key::Null)).await;
    press(&page, "import time; time.sleep(0.8); print(6 * 8)").await;
    press(&page, &Key::Tab.to_string()).await;
    assert_eq!(focus(&page).await.0, "snipbox-code", "Tab in the editor");
    press(&page, &format!("{}{}", Key::Escape, Key::Tab)).await;
    assert_eq!(focus(&page).await, ("snipbox-run".into(), true));

    // Enter runs. The status is announced at the start and at the end,
    // not at every tick of the elapsed time the status line shows.
    page.eval(
        "window.announced = [];
         const live = document.querySelector('.snipbox [role=status]');
         new MutationObserver(() => announced.push(live.textContent))
           .observe(live, { childList: true, characterData: true, subtree: true });",
    )
    .await;
    press(&page, &Key::Enter.to_string()).await;
    let done = until(
        &page,
        "const s = document.querySelector('.snipbox-status').textContent;
         return /^[✓✗]/.test(s) ? s : null;",
        "the end of the run",
    )
    .await;
    assert!(done.as_str().unwrap().starts_with('✓'), "{done}");
    let heard = page
        .eval(
            "return [announced, document.querySelector('.snipbox [role=group][aria-label=Output]').textContent.trim()]",
        )
        .await;
    assert_eq!(heard[1], json!("48"), "the labelled output");
    let announced: Vec<&str> = heard[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        announced.first().copied(),
        Some("running…"),
        "announced: {announced:?}"
    );
    assert_eq!(
        announced.last(),
        done.as_str().as_ref(),
        "announced: {announced:?}"
    );
    assert!(
        announced.len() <= 3,
        "the status was announced {} times: {announced:?}",
        announced.len()
    );

    // On through Reset and Copy (Stop is hidden once the run has ended),
    // each showing its focus, and out of the snippet.
    for next in ["snipbox-reset", "snipbox-copy", "after"] {
        press(&page, &Key::Tab.to_string()).await;
        let (at, shown) = focus(&page).await;
        assert_eq!(at, next);
        assert!(shown || next == "after", "{next} does not show its focus");
    }
    page.close().await;
}

//! The widget's components in a real DOM (headless Chromium, through
//! wasm-bindgen-test-runner and chromedriver).

#![cfg(target_arch = "wasm32")]

use snipbox_widget::json::{Job, parse_response, request_body};
use snipbox_widget::{mount_block, render, sweep};
use snipbox_wire::api::{ExecRequest, ExecResponse};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Document, HtmlElement, HtmlTextAreaElement};

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing answers here: runs that reach the network fail as unreachable.
const NO_SERVER: &str = "http://127.0.0.1:9";

fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Puts `html` on the page, in place of the previous test's, and mounts
/// its `snip-box` and `pre[data-sandbox]` blocks as the loader would (a
/// `pre`'s snippet after it; the code is the block's text). (The test
/// runner's own output lives elsewhere in the body.)
fn page(html: &str) -> u32 {
    let document = document();
    if let Some(old) = document.get_element_by_id("fixture") {
        old.remove();
    }
    let fixture = document.create_element("div").unwrap();
    fixture.set_id("fixture");
    fixture.set_inner_html(html);
    document.body().unwrap().append_child(&fixture).unwrap();
    let blocks = fixture
        .query_selector_all("snip-box, pre[data-sandbox]")
        .unwrap();
    let mut mounted = 0;
    for i in 0..blocks.length() {
        let el: HtmlElement = blocks.item(i).unwrap().dyn_into().unwrap();
        let code = el.text_content().unwrap_or_default();
        let host: HtmlElement = if el.tag_name() == "SNIP-BOX" {
            el.set_text_content(None);
            el.clone()
        } else {
            let div: HtmlElement = document.create_element("div").unwrap().dyn_into().unwrap();
            el.after_with_node_1(&div).unwrap();
            div
        };
        mounted += u32::from(mount_block(NO_SERVER, &el, host, "", code));
    }
    mounted
}

fn find<T: JsCast>(css: &str) -> T {
    document()
        .query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("{css} is on the page"))
        .dyn_into()
        .unwrap()
}

fn text(css: &str) -> String {
    find::<HtmlElement>(css).text_content().unwrap_or_default()
}

/// Lets the page's tasks and timers run.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits (up to 5 s) until the element's text satisfies `check`.
async fn text_until(css: &str, check: impl Fn(&str) -> bool) -> String {
    for _ in 0..500 {
        let t = text(css);
        if check(&t) {
            return t;
        }
        sleep(10).await;
    }
    panic!("{css}: text never matched; last {:?}", text(css));
}

fn key(el: &HtmlElement, key: &str, ctrl: bool) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_ctrl_key(ctrl);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    el.dispatch_event(&ev).unwrap();
}

fn type_into(area: &HtmlTextAreaElement, value: &str) {
    area.set_value(value);
    area.dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn blocks_are_read_from_their_attributes_and_snippets_off_the_page_are_dropped() {
    let n = page(
        r#"<snip-box id="a" sandbox="python">print(1)</snip-box>
<pre id="b" data-sandbox="shell:5" data-command="test"><code>echo one</code></pre>
<snip-box id="c">no sandbox</snip-box>"#,
    );
    assert_eq!(n, 2);
    sleep(0).await;
    assert_eq!(
        find::<HtmlTextAreaElement>("#a textarea").value(),
        "print(1)"
    );
    assert_eq!(
        find::<HtmlTextAreaElement>("#fixture pre + div textarea").value(),
        "echo one"
    );
    // Every earlier test's snippets left the page with its fixture.
    assert_eq!(sweep(), 2);
    find::<HtmlElement>("#a").remove();
    assert_eq!(sweep(), 1);
}

#[wasm_bindgen_test]
fn editor_off_shows_code_without_a_textarea() {
    page(r#"<snip-box id="a" sandbox="python" editor="off">print(1)</snip-box>"#);
    assert!(document().query_selector("#a textarea").unwrap().is_none());
    assert_eq!(text("#a .snipbox-code"), "print(1)");
}

#[wasm_bindgen_test]
async fn reset_restores_the_original_and_tab_indents() {
    page(r#"<snip-box id="a" sandbox="python">print(1)</snip-box>"#);
    let area: HtmlTextAreaElement = find("#a textarea");
    type_into(&area, "x");
    area.set_selection_range(1, 1).unwrap();
    key(&area, "Tab", false);
    assert_eq!(area.value(), "x    ");
    // After Escape, Tab is left to the browser (focus moves on).
    key(&area, "Escape", false);
    key(&area, "Tab", false);
    assert_eq!(area.value(), "x    ");
    find::<HtmlElement>("#a .snipbox-reset").click();
    sleep(0).await;
    assert_eq!(area.value(), "print(1)");
}

#[wasm_bindgen_test]
async fn a_cycle_is_reported_without_a_request() {
    page(
        r#"<snip-box id="a" sandbox="python" depends-on="b">1</snip-box>
<snip-box id="b" sandbox="python" depends-on="a">2</snip-box>"#,
    );
    key(&find("#b textarea"), "Enter", true);
    let status = text_until("#b .snipbox-status", |t| !t.is_empty()).await;
    assert_eq!(status, "✗ depends-on has a cycle: #b → #a → #b");
}

#[wasm_bindgen_test]
async fn a_missing_template_or_file_is_named() {
    page(
        r##"<snip-box id="a" sandbox="python" template="#nowhere">1</snip-box>
<snip-box id="b" sandbox="python" files="#gone:x.py">2</snip-box>
<pre id="t" hidden>no marker</pre>
<snip-box id="c" sandbox="python" template="#t">3</snip-box>"##,
    );
    for id in ["a", "b", "c"] {
        find::<HtmlElement>(&format!("#{id} .snipbox-run")).click();
    }
    assert_eq!(
        text_until("#a .snipbox-status", |t| !t.is_empty()).await,
        "✗ template: no block #nowhere on this page"
    );
    assert_eq!(
        text_until("#b .snipbox-status", |t| !t.is_empty()).await,
        "✗ files: no block #gone on this page"
    );
    assert_eq!(
        text_until("#c .snipbox-status", |t| !t.is_empty()).await,
        "✗ template #t has no ##CODE## to replace"
    );
}

#[wasm_bindgen_test]
async fn a_run_shows_running_then_the_failure_and_enables_run_again() {
    page(r#"<snip-box id="a" sandbox="python">print(1)</snip-box>"#);
    let run: web_sys::HtmlButtonElement = find("#a .snipbox-run");
    run.click();
    sleep(0).await;
    assert!(run.disabled() || text("#a .snipbox-status").starts_with('✗'));
    let status = text_until("#a .snipbox-status", |t| t.starts_with('✗')).await;
    assert!(status.contains("unreachable"), "{status}");
    assert!(!run.disabled());
    assert!(find::<HtmlElement>("#a .snipbox-stop").hidden());
}

#[wasm_bindgen_test]
fn the_request_body_is_what_the_server_reads() {
    let job = Job {
        sandbox: "python".into(),
        version: "3.12".into(),
        command: "test".into(),
        files: vec![
            (String::new(), "print(\"é\\n\")\n\t\u{1}".into()),
            ("data.csv".into(), "a,b".into()),
            ("data.csv".into(), "later".into()),
        ],
        stdin: Some("in".into()),
        interactive: false,
    };
    // Parsed by the server's own types.
    let req: ExecRequest = serde_json::from_str(&request_body(&job)).unwrap();
    assert_eq!(req.sandbox, "python");
    assert_eq!(
        (req.version.as_str(), req.command.as_str()),
        ("3.12", "test")
    );
    assert_eq!(req.files[""], "print(\"é\\n\")\n\t\u{1}");
    assert_eq!(req.files["data.csv"], "later");
    assert_eq!(req.files.len(), 2);
    assert_eq!(req.stdin.as_deref(), Some("in"));
    let bare: ExecRequest = serde_json::from_str(&request_body(&Job::default())).unwrap();
    assert_eq!(bare.stdin, None);
}

#[wasm_bindgen_test]
fn answers_are_read_and_anything_else_is_not_an_answer() {
    let answer = ExecResponse {
        id: "python_run_1".into(),
        ok: false,
        duration: 38,
        stdout: "<b>1</b>\n".into(),
        stderr: "Traceback …".into(),
        exit_code: Some(-9),
        timed_out: true,
        truncated: true,
        error: Some("busy".into()),
        reason_text: Some("killed by SIGKILL".into()),
        files_omitted: 3,
        // Read by the widget, not shown: `reason`, `signal`; `files` are
        // drawn from the answer's JSON (see below).
        ..ExecResponse::default()
    };
    // As the server writes it.
    let body = serde_json::to_string(&answer).unwrap();
    assert_eq!(parse_response(&body).map(|a| a.exec), Some(answer));
    let minimal = r#"{"id":"","ok":true,"duration":1,"stdout":"","stderr":""}"#;
    assert_eq!(
        parse_response(minimal).map(|a| a.exec),
        Some(ExecResponse {
            ok: true,
            duration: 1,
            ..ExecResponse::default()
        })
    );
    for other in [
        "",
        "<html>502</html>",
        "[]",
        "null",
        r#"{"message":"no"}"#,
        r#"{"ok":"yes","duration":1,"stdout":"","stderr":""}"#,
    ] {
        assert_eq!(parse_response(other), None, "{other}");
    }
}

/// A fresh element of the page to draw into.
fn pane() -> web_sys::Element {
    page("");
    let div = document().create_element("div").unwrap();
    document()
        .get_element_by_id("fixture")
        .unwrap()
        .append_child(&div)
        .unwrap();
    div
}

/// What `render::more` draws for `answer` (JSON), as tag:text[attributes].
fn drawn(table: bool, answer: &str) -> (bool, Vec<String>) {
    let div = pane();
    let answer = parse_response(answer).expect("an answer");
    let tabled = render::more(&div, table, Some(&answer));
    let all = div.query_selector_all("*").unwrap();
    let parts = (0..all.length())
        .map(|i| {
            let el: web_sys::Element = all.item(i).unwrap().dyn_into().unwrap();
            let attrs: Vec<String> = ["scope", "alt", "download", "src", "href"]
                .iter()
                .filter_map(|a| Some(format!("{a}={}", el.get_attribute(a)?)))
                .collect();
            let own = if el.child_element_count() == 0 {
                el.text_content().unwrap_or_default()
            } else {
                String::new()
            };
            format!("{}:{own}{attrs:?}", el.tag_name().to_lowercase())
        })
        .collect();
    (tabled, parts)
}

fn answer_with_stdout(stdout: &str) -> String {
    let body =
        serde_json::json!({"id": "", "ok": true, "duration": 1, "stdout": stdout, "stderr": ""});
    body.to_string()
}

#[wasm_bindgen_test]
fn a_json_array_of_objects_is_drawn_as_a_table_of_text() {
    let (tabled, parts) = drawn(
        true,
        &answer_with_stdout(r#"[{"a": "<i>x</i>", "b": [1]}, {"c": null, "a": 2}]"#),
    );
    assert!(tabled);
    assert_eq!(
        parts,
        [
            "table:[]",
            "thead:[]",
            "tr:[]",
            "th:a[\"scope=col\"]",
            "th:b[\"scope=col\"]",
            "th:c[\"scope=col\"]",
            "tbody:[]",
            "tr:[]",
            "td:<i>x</i>[]",
            "td:[1][]",
            "td:[]",
            "tr:[]",
            "td:2[]",
            "td:[]",
            "td:null[]",
        ]
    );
}

#[wasm_bindgen_test]
fn anything_but_an_array_of_objects_is_no_table() {
    for stdout in [
        "not json",
        "[1, 2]",
        "[]",
        "{\"a\": 1}",
        "[{\"a\": 1}, [2]]",
        "[{\"a\": 1}, null]",
    ] {
        assert_eq!(
            drawn(true, &answer_with_stdout(stdout)),
            (false, vec![]),
            "{stdout}"
        );
    }
    // And no table outside table mode.
    assert_eq!(
        drawn(false, &answer_with_stdout("[{\"a\": 1}]")),
        (false, vec![])
    );
}

#[wasm_bindgen_test]
fn files_show_as_pictures_links_and_omissions() {
    let answer = serde_json::json!({
        "id": "python_run_1", "ok": false, "duration": 5, "stdout": "", "stderr": "",
        "reason": "memory", "reason_text": "killed: over the sandbox's 128 MB memory limit",
        "files": [
            {"name": "plot.png", "type": "image/png", "size": 3, "data": "AAEC"},
            {"name": "logo.svg", "type": "image/svg+xml", "size": 4, "data": "PHN2Zz4="},
            {"name": "page.html", "type": "text/html", "size": 1500, "data": "PGI+"},
            {"name": "huge.csv", "type": "text/csv", "size": 12_345_678, "omitted": true},
        ],
        "files_omitted": 2,
    });
    let parsed = parse_response(&answer.to_string()).unwrap();
    assert_eq!(
        parsed.exec.reason_text.as_deref(),
        Some("killed: over the sandbox's 128 MB memory limit")
    );
    assert_eq!(
        snipbox_widget::run::describe(200, None, &parsed),
        "✗ killed: over the sandbox's 128 MB memory limit"
    );
    let (tabled, parts) = drawn(true, &answer.to_string());
    assert!(!tabled);
    assert_eq!(
        parts,
        [
            "img:[\"alt=plot.png\", \"src=data:image/png;base64,AAEC\"]",
            "img:[\"alt=logo.svg\", \"src=data:image/svg+xml;base64,PHN2Zz4=\"]",
            "p:[]",
            // Never opened as a page: offered as bytes.
            "a:page.html[\"download=page.html\", \"href=data:application/octet-stream;base64,PGI+\"]",
            "span: 1.5 kB[]",
            "p:huge.csv (12.3 MB): not sent, over the sandbox's size limit for files[]",
            "p:2 more files not sent: over the sandbox's limit on files[]",
        ]
    );
}

#[wasm_bindgen_test]
async fn table_mode_is_an_option_and_unknown_modes_are_named() {
    page(
        r#"<snip-box id="a" sandbox="python" output-mode="table">print(1)</snip-box>
<snip-box id="b" sandbox="python" output-mode="grid">print(1)</snip-box>"#,
    );
    assert_eq!(text("#a .snipbox-status"), "");
    assert_eq!(
        text_until("#b .snipbox-status", |t| !t.is_empty()).await,
        "✗ output-mode \"grid\" is not text, html, svg or table"
    );
}

//! The widget: turns the marked code blocks of any page into editable,
//! runnable snippets. The loader (`snipbox.js`) calls [`mount`] once the
//! page is parsed.
//!
//! Marked blocks: `<snip-box sandbox="python">…</snip-box>`; `<pre>` or
//! `<pre><code>` with `data-snipbox` or `data-sandbox="python"`; and, when
//! the page sets a selector, every block it matches, its sandbox read from a
//! `language-*` class.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use snipbox_wire::api::{ExecRequest, ExecResponse};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, Document, Element, HtmlElement, HtmlTextAreaElement};

const MARKED: &str = "snip-box, pre[data-snipbox], pre[data-sandbox], pre > code[data-snipbox], pre > code[data-sandbox]";

/// Enhances every marked block of the page, running code on `server`.
/// `selector` (may be empty) enables more blocks page-wide; `languages`
/// maps `language-*` names to sandboxes (a JSON object, may be empty).
/// Returns how many snippets it mounted.
#[wasm_bindgen]
pub fn mount(server: String, selector: String, languages: String) -> u32 {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return 0;
    };
    let languages: HashMap<String, String> = serde_json::from_str(&languages).unwrap_or_default();
    let query = if selector.is_empty() {
        MARKED.to_string()
    } else {
        format!("{MARKED}, {selector}")
    };
    let Ok(blocks) = document.query_selector_all(&query) else {
        return 0;
    };
    let mut mounted = 0;
    for i in 0..blocks.length() {
        let Some(block) = blocks
            .item(i)
            .and_then(|n| n.dyn_into::<HtmlElement>().ok())
        else {
            continue;
        };
        if let Some((host, options)) = take_block(&document, &block, &languages) {
            let server = server.clone();
            leptos::mount::mount_to(host, move || view! { <Snippet server options/> }).forget();
            mounted += 1;
        }
    }
    mounted
}

/// What a block asks for, from its attributes.
#[derive(Clone, Debug, Default)]
struct Options {
    sandbox: String,
    version: String,
    command: String,
    code: String,
    stdin: Option<String>,
    editable: bool,
}

/// The element to mount into and the block's options; its code exactly as
/// written (`<br>` read as a newline, highlighting markup dropped).
fn take_block(
    document: &Document,
    block: &HtmlElement,
    languages: &HashMap<String, String>,
) -> Option<(HtmlElement, Options)> {
    let is_code = block.tag_name() == "CODE";
    let pre: HtmlElement = if is_code {
        block.parent_element()?.dyn_into().ok()?
    } else {
        block.clone()
    };
    // Reached twice (as <pre> and as its <code>), or already enhanced.
    if (is_code && pre.matches(MARKED).unwrap_or(false))
        || block.closest(".snipbox").ok().flatten().is_some()
    {
        return None;
    }
    let code_el: Element = if is_code {
        block.clone().into()
    } else {
        block
            .first_element_child()
            .filter(|c| c.tag_name() == "CODE")
            .unwrap_or_else(|| block.clone().into())
    };
    let attr = |name: &str| {
        [
            block.get_attribute(name),
            block.get_attribute(&format!("data-{name}")),
            code_el.get_attribute(&format!("data-{name}")),
        ]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
    };
    let spec = attr("sandbox").or_else(|| language(&code_el, languages))?;
    let (sandbox, version) = match spec.split_once(':') {
        Some((s, v)) => (s.to_string(), v.to_string()),
        None => (spec, String::new()),
    };
    let stdin = attr("stdin").map(|s| match s.strip_prefix('#') {
        Some(id) => document
            .get_element_by_id(id)
            .and_then(|e| e.text_content())
            .unwrap_or_default(),
        None => s,
    });
    if let Ok(breaks) = code_el.query_selector_all("br") {
        for i in 0..breaks.length() {
            if let Some(br) = breaks.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                let _ = br.replace_with_with_str_1("\n");
            }
        }
    }
    let options = Options {
        sandbox,
        version,
        command: attr("command").unwrap_or_default(),
        code: code_el.text_content().unwrap_or_default(),
        stdin,
        editable: attr("editor").as_deref() != Some("off"),
    };
    let host: HtmlElement = if block.tag_name() == "SNIP-BOX" {
        block.set_inner_html("");
        block.clone()
    } else {
        let div: HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
        pre.replace_with_with_node_1(&div).ok()?;
        div
    };
    Some((host, options))
}

/// The sandbox named by a `language-*` class, through the page's mapping.
fn language(el: &Element, languages: &HashMap<String, String>) -> Option<String> {
    let classes = el.class_name();
    let lang = classes.split_whitespace().find_map(|c| {
        c.strip_prefix("language-")
            .or_else(|| c.strip_prefix("lang-"))
    })?;
    Some(
        languages
            .get(lang)
            .cloned()
            .unwrap_or_else(|| lang.to_string()),
    )
}

/// One runnable snippet: editor, Run (or Ctrl/Cmd+Enter), Stop, Reset,
/// Copy, the output, and a status line.
#[component]
fn Snippet(server: String, options: Options) -> impl IntoView {
    let original = StoredValue::new(options.code.clone());
    let (code, set_code) = signal(options.code.clone());
    let (answer, set_answer) = signal(None::<ExecResponse>);
    let (status, set_status) = signal(String::new());
    let (running, set_running) = signal(false);
    let abort = StoredValue::new_local(None::<AbortController>);
    let editor = NodeRef::<leptos::html::Textarea>::new();
    let url = format!("{}/v1/exec", server.trim_end_matches('/'));
    let run = Callback::new(move |()| {
        if running.get_untracked() {
            return;
        }
        let Ok(controller) = AbortController::new() else {
            return;
        };
        let signal = controller.signal();
        abort.set_value(Some(controller));
        set_running.set(true);
        set_status.set("running…".into());
        let req = ExecRequest {
            sandbox: options.sandbox.clone(),
            version: options.version.clone(),
            command: options.command.clone(),
            files: [(String::new(), code.get_untracked())]
                .into_iter()
                .collect(),
            stdin: options.stdin.clone(),
        };
        let url = url.clone();
        spawn_local(async move {
            match post(&url, &req, &signal).await {
                Ok((http, retry_after, r)) => {
                    set_status.set(describe(http, retry_after, &r));
                    set_answer.set(Some(r));
                }
                Err(_) if signal.aborted() => set_status.set("stopped".into()),
                Err(e) => set_status.set(format!("✗ the server is unreachable ({e})")),
            }
            abort.set_value(None);
            set_running.set(false);
        });
    });
    let stop = move |_| {
        if let Some(c) = abort.get_value() {
            c.abort();
        }
    };
    let copy = move |_| {
        if let Some(window) = web_sys::window() {
            let _ = window
                .navigator()
                .clipboard()
                .write_text(&code.get_untracked());
            set_status.set("copied".into());
        }
    };
    // Tab indents; Escape first lets Tab move focus on, as in code editors.
    let (escaped, set_escaped) = signal(false);
    let keydown = move |ev: web_sys::KeyboardEvent| {
        let key = ev.key();
        if (ev.ctrl_key() || ev.meta_key()) && key == "Enter" {
            ev.prevent_default();
            run.run(());
        } else if key == "Tab" && !ev.shift_key() && !escaped.get_untracked() {
            ev.prevent_default();
            if let Some(area) = editor.get_untracked() {
                indent(&area);
                set_code.set(area.value());
            }
        }
        set_escaped.set(key == "Escape");
    };
    view! {
        <div class="snipbox">
            {if options.editable {
                view! {
                    <textarea
                        class="snipbox-code"
                        spellcheck="false"
                        autocapitalize="off"
                        aria-label="Code"
                        node_ref=editor
                        prop:value=code
                        on:input=move |ev| set_code.set(event_target_value(&ev))
                        on:keydown=keydown
                    ></textarea>
                }
                    .into_any()
            } else {
                view! { <pre class="snipbox-code" aria-label="Code">{code}</pre> }.into_any()
            }}
            <div class="snipbox-bar">
                <button class="snipbox-run" type="button" disabled=running on:click=move |_| run.run(())>
                    "Run"
                </button>
                <button class="snipbox-stop" type="button" hidden=move || !running.get() on:click=stop>
                    "Stop"
                </button>
                <button class="snipbox-reset" type="button" on:click=move |_| set_code.set(original.get_value())>
                    "Reset"
                </button>
                <button class="snipbox-copy" type="button" on:click=copy>
                    "Copy"
                </button>
                <span class="snipbox-status" aria-live="polite">{status}</span>
            </div>
            <pre class="snipbox-stdout" aria-live="polite">{move || answer.get().map(|a| a.stdout)}</pre>
            <pre class="snipbox-stderr">{move || answer.get().map(|a| a.stderr)}</pre>
        </div>
    }
}

/// Inserts four spaces at the cursor (or over the selection).
fn indent(area: &HtmlTextAreaElement) {
    let start = area.selection_start().ok().flatten().unwrap_or(0);
    let end = area.selection_end().ok().flatten().unwrap_or(start);
    let _ = area.set_range_text_with_start_and_end_and_mode("    ", start, end, "end");
}

async fn post(
    url: &str,
    req: &ExecRequest,
    abort: &web_sys::AbortSignal,
) -> Result<(u16, Option<u64>, ExecResponse), gloo_net::Error> {
    let resp = gloo_net::http::Request::post(url)
        .abort_signal(Some(abort))
        .json(req)?
        .send()
        .await?;
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.parse().ok());
    let status = resp.status();
    Ok((status, retry_after, resp.json().await?))
}

/// The status line: outcome and duration, or what went wrong.
fn describe(http: u16, retry_after: Option<u64>, r: &ExecResponse) -> String {
    match (http, r) {
        (_, r) if r.ok => format!("✓ {} ms", r.duration),
        (429, _) => format!(
            "✗ the server is busy: try again in {} s",
            retry_after.unwrap_or(1)
        ),
        (
            _,
            ExecResponse {
                error: Some(kind), ..
            },
        ) => format!("✗ {kind}: {}", r.stderr),
        (_, r) if r.timed_out => "✗ timed out".into(),
        (_, r) if r.truncated => "✗ output truncated".into(),
        (_, r) => format!("✗ exit {}", r.exit_code.unwrap_or(-1)),
    }
}

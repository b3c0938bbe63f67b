//! The widget: turns the marked code blocks of any page into editable,
//! runnable snippets. The loader (`snipbox.js`) calls [`mount`] once the
//! page is parsed.
//!
//! Marked blocks: `<snip-box sandbox="python">…</snip-box>`, and
//! `<pre>`/`<pre><code>` with `data-snipbox` or `data-sandbox="python"`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use snipbox_wire::api::{ExecRequest, ExecResponse};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, HtmlElement};

const BLOCKS: &str = "snip-box, pre[data-snipbox], pre[data-sandbox], pre > code[data-snipbox], pre > code[data-sandbox]";

/// Enhances every marked block of the page, running code on `server`.
#[wasm_bindgen]
pub fn mount(server: String) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(blocks) = document.query_selector_all(BLOCKS) else {
        return;
    };
    for i in 0..blocks.length() {
        let Some(block) = blocks
            .item(i)
            .and_then(|n| n.dyn_into::<HtmlElement>().ok())
        else {
            continue;
        };
        if let Some((host, sandbox, code)) = take_block(&document, &block) {
            let server = server.clone();
            leptos::mount::mount_to(host, move || view! { <Snippet server sandbox code/> })
                .forget();
        }
    }
}

/// The element to mount into, the sandbox, and the block's code exactly as
/// written (`<br>` read as a newline, highlighting markup dropped).
fn take_block(document: &Document, block: &HtmlElement) -> Option<(HtmlElement, String, String)> {
    let attr = |el: &HtmlElement| {
        el.get_attribute("sandbox")
            .or_else(|| el.get_attribute("data-sandbox"))
    };
    // A <code> inside an opted-in <pre> is handled with its <pre>.
    let pre = if block.tag_name() == "CODE" {
        block.parent_element()?.dyn_into::<HtmlElement>().ok()?
    } else {
        block.clone()
    };
    if block.tag_name() == "CODE"
        && (pre.has_attribute("data-snipbox") || pre.has_attribute("data-sandbox"))
    {
        return None;
    }
    let sandbox = attr(block).or_else(|| {
        block
            .first_element_child()
            .and_then(|c| c.get_attribute("data-sandbox"))
    })?;
    if let Ok(breaks) = block.query_selector_all("br") {
        for i in 0..breaks.length() {
            if let Some(br) = breaks
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            {
                let _ = br.replace_with_with_str_1("\n");
            }
        }
    }
    let code = block.text_content().unwrap_or_default();
    let host: HtmlElement = if block.tag_name() == "SNIP-BOX" {
        block.set_inner_html("");
        block.clone()
    } else {
        let div = document
            .create_element("div")
            .ok()?
            .dyn_into::<HtmlElement>()
            .ok()?;
        pre.replace_with_with_node_1(&div).ok()?;
        div
    };
    Some((host, sandbox, code))
}

/// One runnable snippet: editor, Run (or Ctrl/Cmd+Enter), Reset, output.
#[component]
fn Snippet(server: String, sandbox: String, code: String) -> impl IntoView {
    let original = StoredValue::new(code.clone());
    let (code, set_code) = signal(code);
    let (answer, set_answer) = signal(None::<ExecResponse>);
    let (status, set_status) = signal(String::new());
    let (running, set_running) = signal(false);
    let url = format!("{}/v1/exec", server.trim_end_matches('/'));
    let run = Callback::new(move |()| {
        if running.get_untracked() {
            return;
        }
        set_running.set(true);
        set_status.set("running…".into());
        let req = ExecRequest {
            sandbox: sandbox.clone(),
            command: "run".into(),
            files: [(String::new(), code.get_untracked())]
                .into_iter()
                .collect(),
            ..ExecRequest::default()
        };
        let url = url.clone();
        spawn_local(async move {
            match post(&url, &req).await {
                Ok((http, r)) => {
                    set_status.set(describe(http, &r));
                    set_answer.set(Some(r));
                }
                Err(e) => set_status.set(format!("✗ the server is unreachable ({e})")),
            }
            set_running.set(false);
        });
    });
    let keydown = move |ev: web_sys::KeyboardEvent| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter" {
            ev.prevent_default();
            run.run(());
        }
    };
    view! {
        <div class="snipbox">
            <textarea
                class="snipbox-code"
                spellcheck="false"
                aria-label="Code"
                prop:value=code
                on:input=move |ev| set_code.set(event_target_value(&ev))
                on:keydown=keydown
            ></textarea>
            <div class="snipbox-bar">
                <button class="snipbox-run" type="button" disabled=running on:click=move |_| run.run(())>"Run"</button>
                <button class="snipbox-reset" type="button" on:click=move |_| set_code.set(original.get_value())>"Reset"</button>
                <span class="snipbox-status" aria-live="polite">{status}</span>
            </div>
            <pre class="snipbox-stdout" aria-live="polite">{move || answer.get().map(|a| a.stdout)}</pre>
            <pre class="snipbox-stderr">{move || answer.get().map(|a| a.stderr)}</pre>
        </div>
    }
}

async fn post(url: &str, req: &ExecRequest) -> Result<(u16, ExecResponse), gloo_net::Error> {
    let resp = gloo_net::http::Request::post(url).json(req)?.send().await?;
    let status = resp.status();
    Ok((status, resp.json().await?))
}

/// The status line: outcome and duration, or what went wrong.
fn describe(http: u16, r: &ExecResponse) -> String {
    match (http, r) {
        (_, r) if r.ok => format!("✓ {} ms", r.duration),
        (429, _) => "✗ the server is busy: try again in a moment".into(),
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

//! A snippet's code: a textarea (Tab indents; Escape, then Tab, moves on;
//! Ctrl/Cmd+Enter runs), or the code read-only.

use leptos::prelude::*;

use crate::i18n::t;
use web_sys::HtmlTextAreaElement;

/// The code, editable unless `editable` is false; the run key calls `run`.
#[component]
pub fn Code(code: RwSignal<String>, editable: bool, run: Callback<()>) -> impl IntoView {
    if !editable {
        return view! { <pre class="snipbox-code" aria-label=t("code")>{code}</pre> }.into_any();
    }
    let escaped = RwSignal::new(false);
    let keydown = move |ev: web_sys::KeyboardEvent| {
        if is_run_key(&ev) {
            ev.prevent_default();
            run.run(());
        } else {
            // The textarea itself (no node reference: each kind of one
            // costs the wasm a copy of its code).
            let area: HtmlTextAreaElement = event_target(&ev);
            if tab_key(&ev, escaped, &area) {
                code.set(area.value());
            }
        }
    };
    view! {
        <textarea
            class="snipbox-code"
            spellcheck="false"
            autocapitalize="off"
            aria-label=t("code")
            prop:value=code
            on:input=move |ev| code.set(event_target_value(&ev))
            on:keydown=keydown
        ></textarea>
    }
    .into_any()
}

/// Ctrl+Enter (Cmd+Enter on a Mac) runs.
pub fn is_run_key(ev: &web_sys::KeyboardEvent) -> bool {
    (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter"
}

/// Tab indents the editor, as in code editors; Escape first lets Tab move
/// the focus on, so the keyboard never gets stuck. True if the text changed.
fn tab_key(
    ev: &web_sys::KeyboardEvent,
    escaped: RwSignal<bool>,
    area: &HtmlTextAreaElement,
) -> bool {
    let key = ev.key();
    let indents = key == "Tab" && !ev.shift_key() && !escaped.get_untracked();
    escaped.set(key == "Escape");
    if indents {
        ev.prevent_default();
        indent(area);
    }
    indents
}

/// Inserts four spaces at the cursor (or over the selection).
fn indent(area: &HtmlTextAreaElement) {
    let start = area.selection_start().ok().flatten().unwrap_or(0);
    let end = area.selection_end().ok().flatten().unwrap_or(start);
    let _ = area.set_range_text_with_start_and_end_and_mode("    ", start, end, "end");
}

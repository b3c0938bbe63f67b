//! The right-hand pane: standard input, the output mode, and the widget's
//! run bar with the output under it.

use leptos::prelude::*;
use snipbox_widget::bar::RunBar;
use snipbox_widget::options::OutputMode;

use crate::store::Store;

/// The output modes the reader may pick, as the widget's `output-mode`
/// attribute names them.
pub const MODES: [(&str, &str); 4] = [
    ("text", "Text"),
    ("table", "Table (JSON array of objects)"),
    ("html", "HTML (sandboxed)"),
    ("svg", "SVG (sandboxed)"),
];

/// Standard input, the output mode, Run/Stop/status and the output.
#[component]
pub fn Io(store: Store) -> impl IntoView {
    let run = Callback::new(move |()| store.run());
    let mode = move || {
        let mode = store.workspace().output;
        if mode.is_empty() {
            "text".to_string()
        } else {
            mode
        }
    };
    let bar = move || {
        let mode = OutputMode::parse(Some(&mode())).unwrap_or_default();
        view! { <RunBar runner=store.runner run mode/> }
    };
    view! {
        <section class="pg-io">
            <label class="pg-interactive-label">
                <input
                    class="pg-interactive"
                    type="checkbox"
                    prop:checked=move || store.workspace().interactive
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        store.edit(|w| w.interactive = on);
                    }
                />
                " Interactive: type the input while the program runs"
            </label>
            <label class="pg-stdin-label" hidden=move || store.workspace().interactive>
                "Standard input"
                <textarea
                    class="pg-stdin"
                    spellcheck="false"
                    rows="3"
                    prop:value=move || store.workspace().stdin
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        store.edit(|w| w.stdin = value);
                    }
                ></textarea>
            </label>
            <label class="pg-mode-label">
                "Output as "
                <select class="pg-mode" prop:value=mode on:change=move |ev| {
                    let value = event_target_value(&ev);
                    store.edit(|w| w.output = value);
                }>
                    {MODES.map(|(value, label)| view! { <option value=value>{label}</option> })}
                </select>
            </label>
            <div class="snipbox pg-output">{bar}</div>
        </section>
    }
}

//! The output pane: standard output (as text, or rendered in a sandboxed
//! iframe when the author asked for it), the table and files an answer
//! brings (drawn by `render` when the answer arrives) and standard error.

use leptos::prelude::*;

use crate::options::OutputMode;
use crate::run::Runner;

/// The output of a snippet's runs, shown as `mode` asks.
#[component]
pub fn Output(runner: Runner, #[prop(optional)] mode: OutputMode) -> impl IntoView {
    runner.tables.set(mode == OutputMode::Table);
    runner.tabled.set(false);
    let stdout = runner.stdout;
    let shown = match mode {
        OutputMode::Text | OutputMode::Table => {
            let text = move || {
                if runner.tabled.get() {
                    String::new()
                } else {
                    stdout.get()
                }
            };
            view! { <pre class="snipbox-stdout" aria-live="polite">{text}</pre> }.into_any()
        }
        _ => (move || frame(mode, stdout.get())).into_any(),
    };
    view! {
        {shown}
        <div class="snipbox-more" id=runner.more_id()></div>
        <pre class="snipbox-stderr">{runner.stderr}</pre>
    }
}

/// HTML or SVG output in an iframe that runs no script, on an origin of
/// its own.
fn frame(mode: OutputMode, out: String) -> impl IntoView {
    let doc = if mode == OutputMode::Svg && !out.is_empty() {
        format!(
            "<!doctype html><style>body{{margin:0}}svg{{max-width:100%;height:auto}}</style>{out}"
        )
    } else {
        out
    };
    let frame = (!doc.is_empty()).then(|| {
        view! { <iframe class="snipbox-frame" sandbox="" title="Program output" srcdoc=doc></iframe> }
    });
    view! { <div class="snipbox-stdout" aria-live="polite">{frame}</div> }
}

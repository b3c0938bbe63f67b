//! The output pane: standard output (as text, or rendered in a sandboxed
//! iframe when the author asked for it), the table and files an answer
//! brings (drawn by `render` when the answer arrives) and standard error.

use leptos::prelude::*;

use crate::i18n::t;
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
            view! { <pre class="snipbox-stdout">{text}</pre> }.into_any()
        }
        _ => (move || frame(mode, stdout.get())).into_any(),
    };
    // An interactive run's input line, while its program reads: Enter
    // sends the line, Ctrl+D ends the input.
    let input = move || {
        runner.input_open.get().then(|| {
            view! {
                <input
                    class="snipbox-stdin"
                    id=runner.input_id()
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    aria-label=t("input")
                    placeholder=t("input")
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            ev.prevent_default();
                            let line = event_target_value(&ev);
                            event_target::<web_sys::HtmlInputElement>(&ev).set_value("");
                            runner.send_line(&line);
                        } else if ev.ctrl_key() && ev.key().eq_ignore_ascii_case("d") {
                            ev.prevent_default();
                            runner.send_eof();
                        }
                    }
                />
            }
        })
    };
    // A labelled group, not a live region: a screen reader announces the
    // run's status line (its end), not every chunk a stream brings.
    view! {
        <div class="snipbox-output" role="group" aria-label=t("output")>
            {shown}
            {input}
            <div class="snipbox-more" id=runner.more_id()></div>
            <pre class="snipbox-stderr">{runner.stderr}</pre>
        </div>
    }
}

/// What a program's HTML or SVG may load: nothing from anywhere (a remote
/// image or style sheet would tell a third party each reader's address);
/// its own inline styles, and images and fonts inlined as `data:` URLs.
/// First in the document (after the doctype, so the page renders in
/// standards mode whatever the program prints), so the program's markup
/// cannot come before it; a policy of its own could only narrow this one.
const FRAME_POLICY: &str = "<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
     style-src 'unsafe-inline'; img-src data:; font-src data:\">";

/// HTML or SVG output in an iframe that runs no script and loads nothing,
/// on an origin of its own.
fn frame(mode: OutputMode, out: String) -> impl IntoView {
    let doc = if out.is_empty() {
        out
    } else if mode == OutputMode::Svg {
        format!(
            "{FRAME_POLICY}<style>body{{margin:0}}svg{{max-width:100%;height:auto}}</style>{out}"
        )
    } else {
        format!("{FRAME_POLICY}{out}")
    };
    let frame = (!doc.is_empty()).then(|| {
        view! { <iframe class="snipbox-frame" sandbox="" title=t("program_output") srcdoc=doc></iframe> }
    });
    view! { <div class="snipbox-stdout">{frame}</div> }
}

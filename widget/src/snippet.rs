//! One runnable snippet: its code, the run bar with Reset and Copy, and
//! the output.

use leptos::prelude::*;
use snipbox_wire::api::ExecResponse;
use wasm_bindgen::JsValue;

use crate::bar::RunBar;
use crate::compose::{job, register};
use crate::editor::Code;
use crate::i18n::t;
use crate::json::{Answer, baked_answer};
use crate::options::Options;
use crate::run::Runner;

/// A block's snippet, running its code on `server`.
#[component]
pub fn Snippet(server: String, options: Options) -> impl IntoView {
    let code = RwSignal::new(options.code.clone());
    if let Some(id) = &options.id {
        register(id, code, options.depends_on.clone());
    }
    let original = StoredValue::new(options.code.clone());
    let runner = Runner::default();
    // A snippet taken off the page stops its run: no request outlives it.
    on_cleanup(move || runner.stop());
    if let Some(problem) = &options.problem {
        runner.status.set(format!("✗ {problem}"));
    } else {
        // What the page says the program prints, or printed when the docs
        // were built, shown until a run (the pane must be there for
        // pictures: once mounted).
        runner.expect(options.expected.clone());
        let shown = match (&options.baked, &options.expected) {
            (Some(b), _) => Some((baked_answer(b), t("baked_output"))),
            (None, Some(e)) => {
                let exec = ExecResponse {
                    stdout: e.clone(),
                    ..ExecResponse::default()
                };
                let files = JsValue::UNDEFINED;
                Some((Answer { exec, files }, t("page_output")))
            }
            (None, None) => None,
        };
        if let Some((answer, status)) = shown {
            leptos::task::spawn_local(async move { runner.preset(answer, &status) });
        }
    }
    let (editable, mode) = (options.editable, options.output);
    let run = Callback::new(move |()| {
        runner.run(&server, job(&options, code.get_untracked()));
    });
    let more = view! {
        <button class="snipbox-reset" type="button" on:click=move |_| code.set(original.get_value())>
            {t("reset")}
        </button>
        <button class="snipbox-copy" type="button" on:click=move |_| copy(runner, code.get_untracked())>
            {t("copy")}
        </button>
    };
    view! {
        <div class="snipbox">
            <Code code editable run/>
            <RunBar runner run mode more=more.into_any()/>
        </div>
    }
}

/// Puts the code on the clipboard; the status line says whether it did.
fn copy(runner: Runner, code: String) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let copied = window.navigator().clipboard().write_text(&code);
    leptos::task::spawn_local(async move {
        let done = wasm_bindgen_futures::JsFuture::from(copied).await;
        runner.status.set(match done {
            Ok(_) => t("copied"),
            Err(_) => t("copy_refused"),
        });
    });
}

//! The run bar: Run, Stop while a run is in flight, the caller's own
//! buttons, the status line, and under it the output pane. The widget's
//! snippets and the playground both show runs through it, so a run looks
//! and behaves the same everywhere.

use leptos::prelude::*;

use crate::i18n::t;
use crate::options::OutputMode;
use crate::output::Output;
use crate::run::Runner;

/// Run (which calls `run`), Stop, `more` buttons, the status
/// line (announced to screen readers as it changes, the running time
/// aside); then the output, shown as `mode` asks.
#[component]
pub fn RunBar(
    runner: Runner,
    run: Callback<()>,
    #[prop(optional)] mode: OutputMode,
    #[prop(optional)] more: Option<AnyView>,
) -> impl IntoView {
    // What a screen reader announces: the status line, but the elapsed
    // time it shows while a run is in flight (ten changes a second).
    let announced = Memo::new(move |_| {
        let status = runner.status.get();
        let running = t("running");
        if status.starts_with(&running) {
            running
        } else {
            status
        }
    });
    view! {
        <div class="snipbox-bar">
            <button class="snipbox-run" type="button" disabled=runner.running on:click=move |_| run.run(())>
                {t("run")}
            </button>
            <button class="snipbox-stop" type="button" hidden=move || !runner.running.get() on:click=move |_| runner.stop()>
                {t("stop")}
            </button>
            {more}
            <span class="snipbox-status">{runner.status}</span>
            <span class="snipbox-announce" role="status">{announced}</span>
        </div>
        <Output runner mode/>
    }
}

//! The run bar: Run, Stop while a run is in flight, the caller's own
//! buttons, the status line, and under it the output pane. The widget's
//! snippets and the playground both show runs through it, so a run looks
//! and behaves the same everywhere.

use leptos::prelude::*;

use crate::options::OutputMode;
use crate::output::Output;
use crate::run::Runner;

/// Run (which calls `run`), Stop, `more` buttons, the status
/// line; then the output, shown as `mode` asks.
#[component]
pub fn RunBar(
    runner: Runner,
    run: Callback<()>,
    #[prop(optional)] mode: OutputMode,
    #[prop(optional)] more: Option<AnyView>,
) -> impl IntoView {
    view! {
        <div class="snipbox-bar">
            <button class="snipbox-run" type="button" disabled=runner.running on:click=move |_| run.run(())>
                "Run"
            </button>
            <button class="snipbox-stop" type="button" hidden=move || !runner.running.get() on:click=move |_| runner.stop()>
                "Stop"
            </button>
            {more}
            <span class="snipbox-status" aria-live="polite">{runner.status}</span>
        </div>
        <Output runner mode/>
    }
}

//! One runnable snippet: editor, Run (or Ctrl/Cmd+Enter), Stop, Reset,
//! Copy, the output, and a status line.

use std::cell::RefCell;

use leptos::prelude::*;
use web_sys::HtmlTextAreaElement;

use crate::json::Job;
use crate::page::{apply_template, run_order, text_of};
pub use crate::run::OutputMode;
use crate::run::{Output, Runner};

/// What a block asks for, from its attributes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The block's id, by which other snippets name it.
    pub id: Option<String>,
    pub sandbox: String,
    pub version: String,
    pub command: String,
    pub code: String,
    pub stdin: Option<String>,
    pub editable: bool,
    /// Ids of snippets (or plain blocks) whose code runs first.
    pub depends_on: Vec<String>,
    /// Id of a block whose `##CODE##` is replaced by the code.
    pub template: Option<String>,
    /// Blocks sent as extra files: id, and the file name if not the id.
    pub files: Vec<(String, Option<String>)>,
    pub output: OutputMode,
    /// What is wrong with the block's attributes, shown instead of running.
    pub problem: Option<String>,
}

/// A mounted snippet, as other snippets of the page see it.
#[derive(Clone)]
struct Entry {
    code: RwSignal<String>,
    depends_on: Vec<String>,
}

thread_local! {
    /// The page's snippets by id, for `depends-on` and `files`. (A page
    /// has a few dozen at most: a list costs less code than a map.)
    static SNIPPETS: RefCell<Vec<(String, Entry)>> = const { RefCell::new(Vec::new()) };
}

/// The mounted snippet with this id.
fn entry(id: &str) -> Option<Entry> {
    SNIPPETS.with_borrow(|s| s.iter().find(|(i, _)| i == id).map(|(_, e)| e.clone()))
}

/// The current code of the snippet or block with this id.
fn code_of(id: &str) -> Option<String> {
    entry(id)
        .map(|e| e.code.get_untracked())
        .or_else(|| text_of(&web_sys::window()?.document()?, id))
}

/// The request a snippet sends: its dependencies' code, then its own, put
/// into its template; the extra files it names.
fn request(options: &Options, code: String) -> Result<Job, String> {
    if let Some(problem) = &options.problem {
        return Err(problem.clone());
    }
    let deps_of = |id: &str| match entry(id) {
        Some(e) => Some(e.depends_on),
        None => code_of(id).map(|_| Vec::new()),
    };
    let order = run_order(options.id.as_deref(), &options.depends_on, deps_of)?;
    let mut parts: Vec<String> = order.iter().filter_map(|id| code_of(id)).collect();
    parts.push(code);
    let mut code = parts.join("\n");
    if let Some(id) = &options.template {
        let template =
            code_of(id).ok_or_else(|| format!("template: no block #{id} on this page"))?;
        code = apply_template(id, &template, &code)?;
    }
    let mut files = vec![(String::new(), code)];
    for (id, name) in &options.files {
        let text = code_of(id).ok_or_else(|| format!("files: no block #{id} on this page"))?;
        files.push((name.clone().unwrap_or_else(|| id.clone()), text));
    }
    Ok(Job {
        sandbox: options.sandbox.clone(),
        version: options.version.clone(),
        command: options.command.clone(),
        files,
        stdin: options.stdin.clone(),
    })
}

#[component]
pub fn Snippet(server: String, options: Options) -> impl IntoView {
    let code = RwSignal::new(options.code.clone());
    if let Some(id) = &options.id {
        let entry = Entry {
            code,
            depends_on: options.depends_on.clone(),
        };
        SNIPPETS.with_borrow_mut(|s| {
            s.retain(|(other, _)| other != id);
            s.push((id.clone(), entry));
        });
    }
    let original = StoredValue::new(options.code.clone());
    let runner = Runner::default();
    if let Some(problem) = &options.problem {
        runner.status.set(format!("✗ {problem}"));
    }
    let editor = NodeRef::<leptos::html::Textarea>::new();
    let (editable, mode) = (options.editable, options.output);
    let run = Callback::new(move |()| {
        runner.run(&server, request(&options, code.get_untracked()));
    });
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let copied = window
            .navigator()
            .clipboard()
            .write_text(&code.get_untracked());
        leptos::task::spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(copied).await;
            runner.status.set(match done {
                Ok(_) => "copied".into(),
                Err(_) => "✗ the browser refused to copy".into(),
            });
        });
    };
    let escaped = RwSignal::new(false);
    let keydown = move |ev: web_sys::KeyboardEvent| {
        if is_run_key(&ev) {
            ev.prevent_default();
            run.run(());
        } else if let Some(area) = editor.get_untracked()
            && tab_key(&ev, escaped, &area)
        {
            code.set(area.value());
        }
    };
    view! {
        <div class="snipbox">
            {if editable {
                view! {
                    <textarea
                        class="snipbox-code"
                        spellcheck="false"
                        autocapitalize="off"
                        aria-label="Code"
                        node_ref=editor
                        prop:value=code
                        on:input=move |ev| code.set(event_target_value(&ev))
                        on:keydown=keydown
                    ></textarea>
                }
                    .into_any()
            } else {
                view! { <pre class="snipbox-code" aria-label="Code">{code}</pre> }.into_any()
            }}
            <div class="snipbox-bar">
                <button class="snipbox-run" type="button" disabled=runner.running on:click=move |_| run.run(())>
                    "Run"
                </button>
                <button class="snipbox-stop" type="button" hidden=move || !runner.running.get() on:click=move |_| runner.stop()>
                    "Stop"
                </button>
                <button class="snipbox-reset" type="button" on:click=move |_| code.set(original.get_value())>
                    "Reset"
                </button>
                <button class="snipbox-copy" type="button" on:click=copy>
                    "Copy"
                </button>
                <span class="snipbox-status" aria-live="polite">{runner.status}</span>
            </div>
            <Output runner mode/>
        </div>
    }
}

/// Ctrl+Enter (Cmd+Enter on a Mac) runs.
pub fn is_run_key(ev: &web_sys::KeyboardEvent) -> bool {
    (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter"
}

/// Tab indents the editor, as in code editors; Escape first lets Tab move
/// the focus on, so the keyboard never gets stuck. True if the text changed.
pub fn tab_key(
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

//! The playground page: any sandbox, several files and stdin, run on the
//! server that serves the page. Built on the widget's run bar and output.
//! The reader's code is kept per sandbox in localStorage; Share puts the
//! sandbox, files and stdin in the link itself.
//!
//! Its rooms: `store` (the state every component shares and what may be
//! done to it), the components `header` (sandbox picker, Share, Embed),
//! `files` (tabs), `editor` (CodeMirror) and `io` (stdin, the run bar and
//! output); `share` and `embed` (links and HTML for the workspace).

// The page is a binary's worth of private components; Leptos's
// #[component] gives each a `pub` props struct, which the lint would flag.
#![allow(unreachable_pub)]

use leptos::prelude::*;
use leptos::task::spawn_local;
use snipbox_wire::api::SandboxInfo;
use wasm_bindgen::prelude::*;

mod editor;
mod embed;
mod files;
mod header;
mod io;
mod share;
pub mod store;

use editor::Editor;
use files::FileTabs;
use header::Header;
use io::Io;
use store::Store;

/// Mounts the playground into `root`.
#[wasm_bindgen]
pub fn playground(root: web_sys::HtmlElement) {
    leptos::mount::mount_to(root, Playground).forget();
}

#[component]
fn Playground() -> impl IntoView {
    let store = Store::default();
    store.keep();
    spawn_local(start(store));
    // Ctrl/Cmd+Enter runs from anywhere on the page (the editor handles
    // its own).
    let keys = move |ev: web_sys::KeyboardEvent| {
        if snipbox_widget::editor::is_run_key(&ev) && !ev.default_prevented() {
            ev.prevent_default();
            store.run();
        }
    };
    view! {
        <div class="pg" on:keydown=keys>
            <Header store/>
            <main class="pg-main">
                <section class="pg-files" aria-label="Files">
                    <FileTabs store/>
                    <div class="pg-editor">
                        <Editor store/>
                    </div>
                </section>
                <Io store/>
            </main>
        </div>
    }
}

/// Lists the sandboxes, then shows the one a share link carries, else the
/// last one the reader had, else the first.
async fn start(store: Store) {
    let url = format!(
        "{}/v1/sandboxes",
        window().location().origin().unwrap_or_default()
    );
    let list = match gloo_net::http::Request::get(&url).send().await {
        Ok(resp) => resp
            .json::<Vec<SandboxInfo>>()
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match list {
        Ok(list) => store.sandboxes.set(list),
        Err(e) => {
            let problem = format!("✗ could not list the sandboxes ({e})");
            return store.runner.status.set(problem);
        }
    }
    let shared = match share::from_link().await {
        Some(Ok(shared)) => {
            store.spaces.update(|s| {
                s.insert(shared.sandbox.clone(), shared.workspace);
            });
            Some(shared.sandbox)
        }
        Some(Err(problem)) => {
            store.runner.status.set(format!("✗ {problem}"));
            None
        }
        None => None,
    };
    let known = |n: &String| {
        store
            .sandboxes
            .with_untracked(|all| all.iter().any(|s| &s.name == n))
    };
    let first = || {
        store
            .sandboxes
            .with_untracked(|all| all.first().map(|s| s.name.clone()))
    };
    // A shared link's sandbox, the one the address names, the last one used
    // here, Python; else the first listed.
    if let Some(name) = [
        shared,
        addressed(),
        store.last(),
        Some(OPENS_ON.to_string()),
    ]
    .into_iter()
    .flatten()
    .find(known)
    .or_else(first)
    {
        store.switch_to(name);
    }
}

/// The sandbox a reader who names none meets first.
const OPENS_ON: &str = "python";

/// The sandbox named in the address: `/?sandbox=NAME`.
fn addressed() -> Option<String> {
    let search = window().location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("sandbox="))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

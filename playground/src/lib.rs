//! The playground page: any sandbox, several files and stdin, run on the
//! server that serves the page. Built on the widget's runner and output
//! pane. The reader's code is kept per sandbox in localStorage; Share puts
//! the sandbox, files and stdin in the link itself (compressed, in the
//! fragment: nothing is stored on the server).

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use snipbox_widget::json::Job;
use snipbox_widget::run::{Output, Runner};
use snipbox_widget::snippet::{is_run_key, tab_key};
use snipbox_wire::api::SandboxInfo;
use wasm_bindgen::prelude::*;

mod embed;

/// Mounts the playground into `root`.
#[wasm_bindgen]
pub fn playground(root: web_sys::HtmlElement) {
    leptos::mount::mount_to(root, Playground).forget();
}

/// One file of a workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    pub code: String,
}

/// What the reader has for one sandbox: the entry file first, then extra
/// files, and stdin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub files: Vec<File>,
    #[serde(default)]
    pub stdin: String,
}

/// What a share link carries.
#[derive(Serialize, Deserialize)]
struct Shared {
    sandbox: String,
    workspace: Workspace,
}

const LINK: &str = "#code=";

#[wasm_bindgen(inline_js = r#"
const b64 = (bytes) => {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
export async function pack(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return b64(new Uint8Array(await new Response(stream).arrayBuffer()));
}
export async function unpack(code) {
  const bytes = Uint8Array.from(atob(code.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return await new Response(stream).text();
}
"#)]
extern "C" {
    /// Deflate, then base64url: short enough for a link.
    #[wasm_bindgen(catch)]
    async fn pack(text: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn unpack(code: &str) -> Result<JsValue, JsValue>;
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

fn stored_key(sandbox: &str) -> String {
    format!("snipbox:playground:{sandbox}")
}

/// The workspace a share link carries, if the page was opened with one.
async fn from_link() -> Option<Result<Shared, String>> {
    let hash = window().location().hash().ok()?;
    let packed = hash.strip_prefix(LINK)?;
    let text = unpack(packed).await.ok().and_then(|t| t.as_string());
    Some(
        text.and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| "this share link is damaged: the example was loaded instead".into()),
    )
}

#[component]
fn Playground() -> impl IntoView {
    let sandboxes = RwSignal::new(Vec::<SandboxInfo>::new());
    let current = RwSignal::new(String::new());
    let spaces = RwSignal::new(HashMap::<String, Workspace>::new());
    let active = RwSignal::new(0usize);
    let runner = Runner::default();
    // The share link or embed code on show: a label and the text.
    let shown = RwSignal::new(None::<(&'static str, String)>);

    // Switching keeps every sandbox's workspace (in memory and stored).
    let switch_to = move |name: String| {
        if !spaces.with_untracked(|s| s.contains_key(&name)) {
            let stored = storage()
                .and_then(|s| s.get_item(&stored_key(&name)).ok().flatten())
                .and_then(|json| serde_json::from_str::<Workspace>(&json).ok())
                .filter(|w| !w.files.is_empty());
            let fresh = sandboxes.with_untracked(|all| {
                all.iter().find(|s| s.name == name).map(|s| Workspace {
                    files: vec![File {
                        name: s.entry.clone(),
                        code: s.example.clone(),
                    }],
                    stdin: String::new(),
                })
            });
            if let Some(w) = stored.or(fresh) {
                spaces.update(|s| {
                    s.insert(name.clone(), w);
                });
            }
        }
        active.set(0);
        if let Some(s) = storage() {
            let _ = s.set_item("snipbox:playground", &name);
        }
        current.set(name);
    };

    spawn_local(async move {
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
            Ok(list) => sandboxes.set(list),
            Err(e) => {
                runner
                    .status
                    .set(format!("✗ could not list the sandboxes ({e})"));
                return;
            }
        }
        let first = match from_link().await {
            Some(Ok(shared)) => {
                spaces.update(|s| {
                    s.insert(shared.sandbox.clone(), shared.workspace);
                });
                Some(shared.sandbox)
            }
            Some(Err(problem)) => {
                runner.status.set(format!("✗ {problem}"));
                None
            }
            None => None,
        };
        let last = storage().and_then(|s| s.get_item("snipbox:playground").ok().flatten());
        let known = |n: &String| sandboxes.with_untracked(|all| all.iter().any(|s| &s.name == n));
        let name = [first, last]
            .into_iter()
            .flatten()
            .find(known)
            .or_else(|| sandboxes.with_untracked(|all| all.first().map(|s| s.name.clone())));
        if let Some(name) = name {
            switch_to(name);
        }
    });

    // Every change is kept for the next visit.
    Effect::new(move |_| {
        let name = current.get();
        let json = spaces.with(|s| s.get(&name).and_then(|w| serde_json::to_string(w).ok()));
        if let (Some(store), Some(json)) = (storage(), json) {
            let _ = store.set_item(&stored_key(&name), &json);
        }
    });

    let workspace = move || {
        spaces
            .with(|s| s.get(&current.get()).cloned())
            .unwrap_or_default()
    };
    let edit = move |f: &dyn Fn(&mut Workspace)| {
        spaces.update(|s| {
            if let Some(w) = s.get_mut(&current.get_untracked()) {
                f(w);
            }
        })
    };
    let names = Memo::new(move |_| {
        spaces.with(|s| {
            s.get(&current.get())
                .map(|w| w.files.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    });
    let code = move || {
        workspace()
            .files
            .get(active.get())
            .map(|f| f.code.clone())
            .unwrap_or_default()
    };
    let line_numbers = move || {
        (1..=code().split('\n').count())
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };

    let run = move || {
        let w = workspace();
        let files = w.files.into_iter().enumerate();
        let req = Job {
            sandbox: current.get_untracked(),
            files: files
                .map(|(i, f)| (if i == 0 { String::new() } else { f.name }, f.code))
                .collect(),
            stdin: (!w.stdin.is_empty()).then_some(w.stdin),
            ..Job::default()
        };
        runner.run(&window().location().origin().unwrap_or_default(), Ok(req));
    };

    let add_file = move |_| {
        let taken = names.get_untracked();
        let name = (1..)
            .map(|n| format!("file{n}.txt"))
            .find(|n| !taken.contains(n))
            .unwrap_or_default();
        edit(&|w| {
            w.files.push(File {
                name: name.clone(),
                code: String::new(),
            })
        });
        active.set(taken.len());
    };
    let rename = move |input: web_sys::HtmlInputElement| {
        let i = active.get_untracked();
        let new = input.value().trim().to_string();
        let taken = names.get_untracked();
        if new.is_empty()
            || new.contains('/')
            || taken.iter().enumerate().any(|(j, n)| j != i && *n == new)
        {
            runner.status.set(format!(
                "✗ \"{new}\" cannot be a file name here: names are unique, with no slash"
            ));
            // Show the old name again.
            input.set_value(names.get_untracked().get(i).map_or("", String::as_str));
            return;
        }
        edit(&|w| w.files[i].name = new.clone());
    };
    let delete = move |i: usize| {
        edit(&|w| {
            w.files.remove(i);
        });
        active.set(0);
    };

    let share = move |_| {
        let shared = Shared {
            sandbox: current.get_untracked(),
            workspace: workspace(),
        };
        spawn_local(async move {
            let Ok(json) = serde_json::to_string(&shared) else {
                return;
            };
            let Some(packed) = pack(&json).await.ok().and_then(|p| p.as_string()) else {
                runner
                    .status
                    .set("✗ this browser cannot compress a share link".into());
                return;
            };
            let location = window().location();
            let link = format!(
                "{}{}{LINK}{packed}",
                location.origin().unwrap_or_default(),
                location.pathname().unwrap_or_default()
            );
            if let Ok(history) = window().history() {
                let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&link));
            }
            offer(shown, runner, "Share link", link).await;
        });
    };
    let embed = move |_| {
        let html = embed::html(
            &window().location().origin().unwrap_or_default(),
            &current.get_untracked(),
            &workspace(),
        );
        spawn_local(offer(shown, runner, "Embed code", html));
    };

    let editor = NodeRef::<leptos::html::Textarea>::new();
    let gutter = NodeRef::<leptos::html::Pre>::new();
    let escaped = RwSignal::new(false);
    let editor_keys = move |ev: web_sys::KeyboardEvent| {
        if let Some(area) = editor.get_untracked()
            && tab_key(&ev, escaped, &area)
        {
            let value = area.value();
            let i = active.get_untracked();
            edit(&|w| w.files[i].code = value.clone());
        }
    };
    let page_keys = move |ev: web_sys::KeyboardEvent| {
        if is_run_key(&ev) {
            ev.prevent_default();
            run();
        }
    };

    view! {
        <div class="pg" on:keydown=page_keys>
            <header class="pg-bar">
                <h1>"snipbox"</h1>
                <label>
                    <span class="pg-hint">"Sandbox "</span>
                    <select
                        class="pg-sandbox"
                        aria-label="Sandbox"
                        prop:value=move || current.get()
                        on:change=move |ev| switch_to(event_target_value(&ev))
                    >
                        <For each=move || sandboxes.get() key=|s| s.name.clone() let(s)>
                            <option value=s.name.clone() selected=move || current.get() == s.name>
                                {s.title.clone()}
                            </option>
                        </For>
                    </select>
                </label>
                <button class="pg-run" type="button" disabled=runner.running on:click=move |_| run()>
                    "Run"
                </button>
                <button class="pg-stop" type="button" hidden=move || !runner.running.get() on:click=move |_| runner.stop()>
                    "Stop"
                </button>
                <button class="pg-share" type="button" on:click=share>"Share"</button>
                <button class="pg-embed" type="button" on:click=embed>"Embed"</button>
                <span class="pg-hint">"Ctrl+Enter runs"</span>
            </header>
            {move || {
                shown
                    .get()
                    .map(|(label, text)| {
                        view! {
                            <div class="pg-shared">
                                <label>
                                    {label}
                                    <textarea class="pg-shared-text" readonly rows="3">{text}</textarea>
                                </label>
                                <button type="button" on:click=move |_| shown.set(None)>"Close"</button>
                            </div>
                        }
                    })
            }}
            <main class="pg-main">
                <section class="pg-files" aria-label="Files">
                    <div class="pg-tabs" role="tablist">
                        {move || {
                            names
                                .get()
                                .into_iter()
                                .enumerate()
                                .map(|(i, name)| {
                                    view! {
                                        <span class="pg-tab">
                                            <button
                                                type="button"
                                                role="tab"
                                                class="pg-tab-name"
                                                aria-selected=move || (active.get() == i).to_string()
                                                on:click=move |_| active.set(i)
                                            >
                                                {name.clone()}
                                            </button>
                                            {(i > 0)
                                                .then(|| {
                                                    view! {
                                                        <button
                                                            type="button"
                                                            class="pg-tab-delete"
                                                            aria-label=format!("Delete {name}")
                                                            on:click=move |_| delete(i)
                                                        >
                                                            "×"
                                                        </button>
                                                    }
                                                })}
                                        </span>
                                    }
                                })
                                .collect_view()
                        }}
                        <button type="button" class="pg-add" on:click=add_file>"+ file"</button>
                    </div>
                    {move || {
                        let i = active.get();
                        (i > 0)
                            .then(|| {
                                view! {
                                    <label class="pg-rename">
                                        "File name "
                                        <input
                                            class="pg-filename"
                                            spellcheck="false"
                                            prop:value=move || names.get().get(i).cloned().unwrap_or_default()
                                            on:change=move |ev| rename(event_target(&ev))
                                        />
                                    </label>
                                }
                            })
                    }}
                    <div class="pg-editor">
                        <pre class="pg-lines" aria-hidden="true" node_ref=gutter>{line_numbers}</pre>
                        <textarea
                            class="pg-code"
                            aria-label="Code"
                            spellcheck="false"
                            autocapitalize="off"
                            node_ref=editor
                            prop:value=code
                            on:input=move |ev| {
                                let value = event_target_value(&ev);
                                let i = active.get_untracked();
                                edit(&|w| w.files[i].code = value.clone());
                            }
                            on:scroll=move |_| {
                                if let (Some(area), Some(lines)) = (editor.get_untracked(), gutter.get_untracked()) {
                                    lines.set_scroll_top(area.scroll_top());
                                }
                            }
                            on:keydown=editor_keys
                        ></textarea>
                    </div>
                </section>
                <section class="pg-io">
                    <label class="pg-stdin-label">
                        "Standard input"
                        <textarea
                            class="pg-stdin"
                            spellcheck="false"
                            rows="3"
                            prop:value=move || workspace().stdin
                            on:input=move |ev| {
                                let value = event_target_value(&ev);
                                edit(&|w| w.stdin = value.clone());
                            }
                        ></textarea>
                    </label>
                    <h2 class="pg-heading">"Output"</h2>
                    <div class="snipbox pg-output">
                        <div class="snipbox-bar">
                            <span class="snipbox-status" aria-live="polite">{runner.status}</span>
                        </div>
                        <Output runner/>
                    </div>
                </section>
            </main>
        </div>
    }
}

/// Shows `text` for copying, and copies it.
async fn offer(
    shown: RwSignal<Option<(&'static str, String)>>,
    runner: Runner,
    label: &'static str,
    text: String,
) {
    shown.set(Some((label, text.clone())));
    let copied =
        wasm_bindgen_futures::JsFuture::from(window().navigator().clipboard().write_text(&text))
            .await;
    runner.status.set(match copied {
        Ok(_) => format!("{label} copied"),
        Err(_) => format!("{label} below: copy it from there"),
    });
}

//! The workspace's files as tabs: pick, add, rename, delete.

use leptos::prelude::*;

use crate::store::{File, Store};

/// A tab per file (a button; the one on show is marked current), "+ file"
/// (the entry file cannot be deleted), and the name of the file on show
/// to rename it (not the entry file's).
#[component]
pub fn FileTabs(store: Store) -> impl IntoView {
    let tabs = move || {
        store
            .names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| view! { <Tab store i name/> })
            .collect_view()
    };
    view! {
        <div class="pg-tabs" role="group" aria-label="Files">
            {tabs}
            <button type="button" class="pg-add" on:click=move |_| add_file(store)>"+ file"</button>
        </div>
        <Rename store/>
    }
}

#[component]
fn Tab(store: Store, i: usize, name: String) -> impl IntoView {
    let delete = (i > 0).then(|| {
        view! {
            <button type="button" class="pg-tab-delete" aria-label=format!("Delete {name}") on:click=move |_| delete_file(store, i)>
                "×"
            </button>
        }
    });
    view! {
        <span class="pg-tab">
            <button
                type="button"
                class="pg-tab-name"
                aria-current=move || (store.active.get() == i).then_some("true")
                on:click=move |_| store.active.set(i)
            >
                {name.clone()}
            </button>
            {delete}
        </span>
    }
}

/// The name field of an extra file on show.
#[component]
fn Rename(store: Store) -> impl IntoView {
    move || {
        let i = store.active.get();
        (i > 0).then(|| {
            view! {
                <label class="pg-rename">
                    "File name "
                    <input
                        class="pg-filename"
                        spellcheck="false"
                        prop:value=move || store.names().get(i).cloned().unwrap_or_default()
                        on:change=move |ev| rename(store, event_target(&ev))
                    />
                </label>
            }
        })
    }
}

/// Adds an empty `fileN.txt` and shows it.
fn add_file(store: Store) {
    let taken = store.names();
    let name = (1..)
        .map(|n| format!("file{n}.txt"))
        .find(|n| !taken.contains(n))
        .unwrap_or_default();
    store.edit(|w| {
        w.files.push(File {
            name,
            code: String::new(),
        })
    });
    store.active.set(taken.len());
}

/// Renames the file on show to what `input` says, unless that name is
/// empty, has a slash or is taken (then the input shows the old name).
fn rename(store: Store, input: web_sys::HtmlInputElement) {
    let i = store.active.get_untracked();
    let new = input.value().trim().to_string();
    let taken = store.names();
    if new.is_empty()
        || new.contains('/')
        || taken.iter().enumerate().any(|(j, n)| j != i && *n == new)
    {
        store.runner.status.set(format!(
            "✗ \"{new}\" cannot be a file name here: names are unique, with no slash"
        ));
        input.set_value(taken.get(i).map_or("", String::as_str));
        return;
    }
    store.edit(|w| w.files[i].name = new);
}

fn delete_file(store: Store, i: usize) {
    store.edit(|w| {
        w.files.remove(i);
    });
    store.active.set(0);
}

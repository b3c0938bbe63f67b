//! The top of the page: the sandbox picker, Share and Embed, and the
//! share link or embed code once there is one.

use leptos::prelude::*;

use crate::share::{embed, share};
use crate::store::Store;

/// The title, the sandbox picker, Share and Embed.
#[component]
pub fn Header(store: Store) -> impl IntoView {
    view! {
        <header class="pg-bar">
            <h1>"snipbox"</h1>
            <label>
                <span class="pg-hint">"Sandbox "</span>
                <select
                    class="pg-sandbox"
                    aria-label="Sandbox"
                    prop:value=move || store.current.get()
                    on:change=move |ev| store.switch_to(event_target_value(&ev))
                >
                    <For each=move || store.sandboxes.get() key=|s| s.name.clone() let(s)>
                        <option value=s.name.clone() selected=move || store.current.get() == s.name>
                            {s.title.clone()}
                        </option>
                    </For>
                </select>
            </label>
            <button class="pg-share" type="button" on:click=move |_| share(store)>"Share"</button>
            <button class="pg-embed" type="button" on:click=move |_| embed(store)>"Embed"</button>
            <span class="pg-hint">"Ctrl+Enter runs"</span>
        </header>
        <Offered store/>
    }
}

/// The share link or embed code on show, to copy from.
#[component]
fn Offered(store: Store) -> impl IntoView {
    move || {
        store.shown.get().map(|(label, text)| {
            view! {
                <div class="pg-shared">
                    <label>
                        {label}
                        <textarea class="pg-shared-text" readonly rows="3">{text}</textarea>
                    </label>
                    <button type="button" on:click=move |_| store.shown.set(None)>"Close"</button>
                </div>
            }
        })
    }
}

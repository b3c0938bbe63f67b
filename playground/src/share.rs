//! Share and Embed: the workspace in a link (compressed, in the fragment:
//! nothing is stored on the server), or as HTML for a widget snippet; and
//! opening a shared link.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::embed;
use crate::store::{Store, Workspace};

/// What a share link carries.
#[derive(Serialize, Deserialize)]
pub struct Shared {
    pub sandbox: String,
    pub workspace: Workspace,
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

/// The workspace a share link carries, if the page was opened with one.
pub async fn from_link() -> Option<Result<Shared, String>> {
    let hash = window().location().hash().ok()?;
    let packed = hash.strip_prefix(LINK)?;
    let text = unpack(packed).await.ok().and_then(|t| t.as_string());
    Some(
        text.and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| "this share link is damaged: the example was loaded instead".into()),
    )
}

/// Puts the current workspace in a link, in the address bar, on show and
/// on the clipboard.
pub fn share(store: Store) {
    let shared = Shared {
        sandbox: store.current.get_untracked(),
        workspace: store.workspace(),
    };
    spawn_local(async move {
        let Ok(json) = serde_json::to_string(&shared) else {
            return;
        };
        let Some(packed) = pack(&json).await.ok().and_then(|p| p.as_string()) else {
            let problem = "✗ this browser cannot compress a share link";
            return store.runner.status.set(problem.into());
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
        offer(store, "Share link", link).await;
    });
}

/// The HTML of a widget snippet with the current workspace, on show and on
/// the clipboard.
pub fn embed(store: Store) {
    let html = embed::html(
        &window().location().origin().unwrap_or_default(),
        &store.current.get_untracked(),
        &store.workspace(),
    );
    spawn_local(offer(store, "Embed code", html));
}

/// Shows `text` for copying, and copies it.
async fn offer(store: Store, label: &'static str, text: String) {
    store.shown.set(Some((label, text.clone())));
    let clipboard = window().navigator().clipboard();
    let copied = wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text)).await;
    store.runner.status.set(match copied {
        Ok(_) => format!("{label} copied"),
        Err(_) => format!("{label} below: copy it from there"),
    });
}

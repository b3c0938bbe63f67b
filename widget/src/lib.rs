//! The widget: turns the marked code blocks of any page into editable,
//! runnable snippets. The loader (`snipbox.js`) calls [`mount`] once the
//! page is parsed.
//!
//! Marked blocks: `<snip-box sandbox="python">…</snip-box>`; `<pre>` or
//! `<pre><code>` with `data-snipbox` or `data-sandbox="python"`; and, when
//! the page sets a selector, every block it matches, its sandbox read from a
//! `language-*` class.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use web_sys::HtmlElement;

pub mod json;
pub mod page;
pub mod run;
pub mod snippet;

use snippet::Snippet;

/// Enhances every marked block of the page, running code on `server`.
/// `selector` (may be empty) enables more blocks page-wide; `languages`
/// maps `language-*` names to sandboxes (an object of strings, may be
/// empty). Returns how many snippets it mounted.
#[cfg(feature = "embed")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn mount(server: String, selector: String, languages: js_sys::Object) -> u32 {
    let languages: Vec<(String, String)> = js_sys::Object::entries(&languages)
        .iter()
        .filter_map(|pair| {
            let pair: js_sys::Array = pair.unchecked_into();
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect();
    mount_blocks(&server, &selector, &languages)
}

/// [`mount`] with the mapping read: `(language, sandbox)` pairs.
pub fn mount_blocks(server: &str, selector: &str, languages: &[(String, String)]) -> u32 {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return 0;
    };
    let query = if selector.is_empty() {
        page::MARKED.to_string()
    } else {
        format!("{}, {selector}", page::MARKED)
    };
    let Ok(blocks) = document.query_selector_all(&query) else {
        return 0;
    };
    let mut mounted = 0;
    for i in 0..blocks.length() {
        let Some(block) = blocks
            .item(i)
            .and_then(|n| n.dyn_into::<HtmlElement>().ok())
        else {
            continue;
        };
        if let Some((host, options)) = page::take_block(&document, &block, languages) {
            let server = server.to_string();
            leptos::mount::mount_to(host, move || view! { <Snippet server options/> }).forget();
            mounted += 1;
        }
    }
    mounted
}

//! The widget: turns the marked code blocks of any page into editable,
//! runnable snippets. The loader (`snipbox.js`) calls [`mount`] once the
//! page is parsed.
//!
//! Its rooms, each importing only rooms listed after it: `snippet` (one
//! snippet), `editor` (its code), `bar` (the run bar: Run, Stop, the status
//! line, then `output`, the output pane), `compose` (a run's depends-on,
//! template and files), `dom` (reading the page), `options` (what a block
//! asks for), `run` (a run in flight, streamed), `render` (tables and files
//! drawn into the output), `stream` (Server-Sent Events) and `json` (the
//! API's JSON). The playground builds on `bar`, `run` and `json`.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use web_sys::HtmlElement;

pub mod bar;
pub mod compose;
pub mod dom;
pub mod editor;
pub mod json;
pub mod options;
pub mod output;
pub mod render;
pub mod run;
pub mod snippet;
pub mod stream;

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
        dom::MARKED.to_string()
    } else {
        format!("{}, {selector}", dom::MARKED)
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
        if let Some((host, options)) = dom::take_block(&document, &block, languages) {
            let server = server.to_string();
            leptos::mount::mount_to(host, move || view! { <Snippet server options/> }).forget();
            mounted += 1;
        }
    }
    mounted
}

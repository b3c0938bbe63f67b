//! The widget: turns the marked code blocks of any page into editable,
//! runnable snippets. The loader (`snipbox.js`) reads the page (which
//! blocks, their language and text, blocks added or removed later) and
//! calls [`mount`] for each block and [`sweep`] when blocks leave.
//!
//! Its rooms, each importing only rooms listed after it: `snippet` (one
//! snippet), `editor` (its code), `bar` (the run bar: Run, Stop, the status
//! line, then `output`, the output pane), `compose` (a run's depends-on,
//! template and files), `dom` (reading a block's attributes), `options` (what a block
//! asks for), `run` (a run in flight, streamed), `render` (tables and files
//! drawn into the output), `stream` (Server-Sent Events) and `json` (the
//! API's JSON). The playground builds on `bar`, `run` and `json`.

use leptos::prelude::*;
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

thread_local! {
    /// The mounted snippets: each one's element on the page and what
    /// unmounts it (its view and its reactive owner, with the run in
    /// flight, if any).
    static MOUNTED: std::cell::RefCell<Vec<(HtmlElement, Box<dyn std::any::Any>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Enhances one block, running code on `server`: `el` is the block the
/// page marked (a `snip-box`, a `pre` or its `code`), whose attributes say
/// what it asks for; the snippet is drawn into `host`. `sandbox` is the
/// block's language's sandbox, used when its attributes name none (empty:
/// none), and `code` its text. False if it names no sandbox.
#[cfg(feature = "embed")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn mount(
    server: String,
    el: HtmlElement,
    host: HtmlElement,
    sandbox: String,
    code: String,
) -> bool {
    mount_block(&server, &el, host, &sandbox, code)
}

/// Drops the snippets whose element has left the page (a script replaced
/// the content, a client-side navigation): their listeners, their state,
/// and the runs they had in flight, which are stopped. Returns how many
/// snippets are left.
#[cfg(feature = "embed")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn sweep() -> u32 {
    // Dropped outside the borrow: a snippet's clean-up may look at others.
    let gone: Vec<_> = MOUNTED.with_borrow_mut(|all| {
        let (kept, gone) = std::mem::take(all)
            .into_iter()
            .partition(|(host, _)| host.is_connected());
        *all = kept;
        gone
    });
    drop(gone);
    MOUNTED.with_borrow(|all| all.len() as u32)
}

/// [`mount`], for Rust callers.
pub fn mount_block(
    server: &str,
    el: &HtmlElement,
    host: HtmlElement,
    sandbox: &str,
    code: String,
) -> bool {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return false;
    };
    let Some(options) = dom::read_options(&document, el, sandbox, code) else {
        return false;
    };
    let server = server.to_string();
    let handle = leptos::mount::mount_to(host.clone(), move || view! { <Snippet server options/> });
    MOUNTED.with_borrow_mut(|all| all.push((host, Box::new(handle))));
    true
}

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
use snipbox_page::Element as _;
use web_sys::HtmlElement;

pub mod bar;
pub mod compose;
pub mod converse;
pub mod dom;
pub mod editor;
pub mod i18n;
pub mod json;
pub mod output;
pub mod render;
pub mod run;
pub mod snippet;
pub mod stream;

pub use snipbox_page::options;

use snippet::Snippet;

thread_local! {
    /// The mounted snippets: each one's element on the page, what
    /// unmounts it (its view and its reactive owner, with the run in
    /// flight, if any), and its block (and whether the page says what it
    /// prints) when a page's copy of its output is hidden, to hide it
    /// again (see [`sweep`]).
    static MOUNTED: std::cell::RefCell<Vec<Mounted>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

type Mounted = (
    HtmlElement,
    Box<dyn std::any::Any>,
    Option<(snipbox_page::find::Block<dom::El>, bool)>,
);

/// Hides the page's own copies of what a snippet's output pane shows: the
/// block of the output it expects (when `expected`) and the output baked
/// after it, each with the wrappers (a frame, a background) that hold it
/// alone. An attribute, not a class: a framework that draws the block
/// again (React, for Docusaurus's code blocks) sets its class again, and
/// leaves others' attributes.
fn hide_page_copies(block: &snipbox_page::find::Block<dom::El>, expected: bool) {
    let Some(page) = dom::page() else {
        return;
    };
    let shown = [
        snipbox_page::options::output_block(&page, block).filter(|_| expected),
        snipbox_page::options::baked_block(block),
    ];
    for el in shown.into_iter().flatten() {
        let mut outer = el;
        for _ in 0..3 {
            match outer.parent() {
                Some(p) if p.elements().len() == 1 && !p.matches("main,article,section,body") => {
                    outer = p
                }
                _ => break,
            }
        }
        let _ = outer.0.set_attribute("data-snipbox-hidden", "");
    }
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

/// The page's words (an object of key → string, see [`i18n`]) for the
/// snippets mounted from now on.
#[cfg(feature = "embed")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn strings(table: js_sys::Object) {
    i18n::set_strings(table);
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
            .partition(|(host, ..)| host.is_connected());
        *all = kept;
        gone
    });
    drop(gone);
    // A framework may have drawn a hidden copy of an output anew.
    let blocks: Vec<_> =
        MOUNTED.with_borrow(|all| all.iter().filter_map(|(.., b)| b.clone()).collect());
    for (block, expected) in &blocks {
        hide_page_copies(block, *expected);
    }
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
    let block = dom::block(el, sandbox, code);
    let Some(options) = dom::read_options(&block) else {
        return false;
    };
    // The snippet's output pane shows what the page expects (or the output
    // baked into it) until a run: the page's own copy steps aside.
    let expected = options.expected.is_some();
    hide_page_copies(&block, expected);
    let hidden = (expected || snipbox_page::options::baked_block(&block).is_some())
        .then_some((block, expected));
    let server = server.to_string();
    let handle = leptos::mount::mount_to(host.clone(), move || view! { <Snippet server options/> });
    MOUNTED.with_borrow_mut(|all| all.push((host, Box::new(handle), hidden)));
    true
}

/// The page's blocks that may run, by the rules `snipbox verify` applies:
/// marked ones, and those `selector` matches (page-wide mode, when given)
/// whose language has a sandbox, through `languages` (the page's own map,
/// `[[language, sandbox], …]`) or `names` (the server's names and aliases,
/// the same way; null when it lists none: then a language is its
/// sandbox). Each as `[element, pre, code, language, sandbox, text]`.
#[cfg(feature = "embed")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn find(
    selector: Option<String>,
    languages: js_sys::Array,
    names: wasm_bindgen::JsValue,
) -> js_sys::Array {
    use snipbox_page::find::{Settings, blocks};
    use wasm_bindgen::{JsCast, JsValue};
    let pairs = |list: &js_sys::Array| -> Vec<(String, String)> {
        list.iter()
            .map(|pair| {
                let pair = js_sys::Array::from(&pair);
                let text = |i| pair.get(i).as_string().unwrap_or_default();
                (text(0), text(1))
            })
            .collect()
    };
    let settings = Settings {
        selector,
        languages: pairs(&languages),
        names: names.dyn_ref::<js_sys::Array>().map(pairs),
    };
    let found = js_sys::Array::new();
    let Some(page) = dom::page() else {
        return found;
    };
    for b in blocks(&page, &settings) {
        let lang = b.lang.unwrap_or_default();
        let row: [JsValue; 6] = [
            b.el.0.into(),
            b.pre.0.into(),
            b.code.0.into(),
            lang.into(),
            b.sandbox.into(),
            b.source.into(),
        ];
        found.push(&row.iter().collect::<js_sys::Array>());
    }
    found
}

//! The browser's page as `snipbox_page` reads it: which blocks run, and
//! what each one asks for, by the rules `snipbox verify` applies to the
//! built HTML.

use snipbox_page::find::Block;
use snipbox_page::{Node, Page as _, find, options};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::options::Options;

/// An element of the browser's page.
#[derive(Clone)]
pub struct El(pub Element);

impl snipbox_page::Element for El {
    fn tag(&self) -> String {
        self.0.tag_name().to_ascii_lowercase()
    }

    fn attr(&self, name: &str) -> Option<String> {
        self.0.get_attribute(name)
    }

    fn parent(&self) -> Option<Self> {
        self.0.parent_element().map(El)
    }

    fn children(&self) -> Vec<Node<Self>> {
        let nodes = self.0.child_nodes();
        (0..nodes.length())
            .filter_map(|i| nodes.item(i))
            .filter_map(|n| match n.dyn_into::<Element>() {
                Ok(e) => Some(Node::Element(El(e))),
                Err(n) if n.node_type() == web_sys::Node::TEXT_NODE => {
                    n.node_value().map(Node::Text)
                }
                Err(_) => None,
            })
            .collect()
    }

    fn matches(&self, selector: &str) -> bool {
        self.0.matches(selector).unwrap_or(false)
    }

    fn same(&self, other: &Self) -> bool {
        self.0 == other.0
    }

    fn closest(&self, selector: &str) -> Option<Self> {
        self.0.closest(selector).ok().flatten().map(El)
    }
}

/// The browser's page.
pub struct Dom(pub Document);

impl snipbox_page::Page for Dom {
    type Element = El;

    fn select(&self, selector: &str) -> Vec<El> {
        let Ok(list) = self.0.query_selector_all(selector) else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i)?.dyn_into::<Element>().ok())
            .map(El)
            .collect()
    }

    fn by_id(&self, id: &str) -> Option<El> {
        self.0.get_element_by_id(id).map(El)
    }
}

/// The page, if there is one.
pub fn page() -> Option<Dom> {
    Some(Dom(web_sys::window()?.document()?))
}

/// The block the page marked with `el` (a `snip-box`, a `pre` or its
/// `code`): its parts as the rules find them, with `sandbox` (the one its
/// language names; empty: none) and its text `code`.
pub fn block(el: &Element, sandbox: &str, code: String) -> Block<El> {
    let el = El(el.clone());
    let (pre, code_el) = Block::parts(&el);
    Block {
        lang: None,
        el,
        pre,
        code: code_el,
        sandbox: sandbox.to_string(),
        source: code,
    }
}

/// The options of a block; `None` when it names no sandbox.
pub fn read_options(block: &Block<El>) -> Option<Options> {
    options::read(&page()?, block)
}

/// The text of the element with this id, as the rules read code.
pub fn text_of(id: &str) -> Option<String> {
    page()?.by_id(id).map(|e| find::text(&e))
}

//! Reading a page: which of its code blocks run, with what code, files
//! and sandbox, and what the page says they print. One set of rules, read
//! through [`Page`] and [`Element`]: the widget implements them over the
//! browser's DOM, `snipbox verify` over a parsed HTML file ([`html`]), so
//! what a reader runs and what the docs' check runs cannot drift apart.
//!
//! Its rooms: [`find`] (which blocks, their language, text and sandbox),
//! [`options`] (what a block's attributes ask for, its expected output and
//! the output baked into the page), [`compose`] (a run's depends-on,
//! template and files), [`expect`] (comparing an output with the page's).

pub mod bake;
pub mod compose;
pub mod expect;
pub mod find;
#[cfg(feature = "html")]
pub mod html;
pub mod options;

/// An element of a page, as the rules read it.
pub trait Element: Clone {
    /// Its tag name, lower case (`pre`, `code`, `snip-box`).
    fn tag(&self) -> String;
    /// An attribute's value, if it has it.
    fn attr(&self, name: &str) -> Option<String>;
    fn parent(&self) -> Option<Self>;
    /// Its child nodes that the rules read: text and elements (comments
    /// and the like left out).
    fn children(&self) -> Vec<Node<Self>>;
    /// Whether it matches a CSS selector (false for one that does not
    /// parse).
    fn matches(&self, selector: &str) -> bool;
    /// Whether two handles are the same element.
    fn same(&self, other: &Self) -> bool;

    /// It or its nearest ancestor that matches `selector`.
    fn closest(&self, selector: &str) -> Option<Self> {
        let mut at = Some(self.clone());
        while let Some(el) = at {
            if el.matches(selector) {
                return Some(el);
            }
            at = el.parent();
        }
        None
    }

    /// Its element children.
    fn elements(&self) -> Vec<Self> {
        self.children()
            .into_iter()
            .filter_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
            .collect()
    }

    /// Whether its `class` attribute lists `class`.
    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|c| c == class))
    }
}

/// A child node: text, or an element.
pub enum Node<E> {
    Text(String),
    Element(E),
}

/// A page: its elements in document order.
pub trait Page {
    type Element: Element;
    /// The elements matching a CSS selector, in document order (none for
    /// one that does not parse).
    fn select(&self, selector: &str) -> Vec<Self::Element>;
    /// The element with this id, if the page has one.
    fn by_id(&self, id: &str) -> Option<Self::Element>;
}

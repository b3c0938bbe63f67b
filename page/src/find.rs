//! Which blocks of a page run: those marked for snipbox (a `<snip-box>`, a
//! `pre` or its `code` with `data-sandbox` or `data-snipbox`) and, in
//! page-wide mode, those a selector matches whose language names a
//! sandbox; each one's language, text and sandbox.

use crate::{Element, Node, Page};

/// Blocks marked for snipbox, whatever the page's settings.
pub const MARKED: &str =
    "snip-box,pre[data-snipbox],pre[data-sandbox],pre>code[data-snipbox],pre>code[data-sandbox]";

/// What generators put inside a block that is not code: copy buttons and
/// line numbers (Pygments, Chroma, highlight.js and Prism plug-ins,
/// Expressive Code).
pub const CHROME: &str =
    "button,.linenos,.lineno,.ln,.lnt,.gutter,.hljs-ln-numbers,.line-numbers-rows";

/// snipbox's own parts of a page, never blocks: a snippet the widget drew,
/// an output `snipbox verify --bake` wrote.
pub const OURS: &str = ".snipbox-host,.snipbox-baked";

/// The language of a block that shows what the block before it prints.
pub const OUTPUT: &str = "output";

/// How a page's blocks find their sandboxes.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Page-wide mode: the blocks this selector matches run too, when
    /// their language has a sandbox.
    pub selector: Option<String>,
    /// The page's own map of languages to sandboxes (`window.SNIPBOX.languages`).
    pub languages: Vec<(String, String)>,
    /// The server's sandbox names and aliases, each with its sandbox's
    /// name; `None` when the server lists none (as codapi's does not):
    /// then a language is its sandbox's name.
    pub names: Option<Vec<(String, String)>>,
}

impl Settings {
    /// The sandbox of a block in `lang` (empty: none).
    pub fn sandbox_of(&self, lang: &str) -> String {
        let found =
            |map: &[(String, String)]| map.iter().find(|(l, _)| l == lang).map(|(_, s)| s.clone());
        if lang == OUTPUT {
            return String::new();
        }
        found(&self.languages)
            .or_else(|| match &self.names {
                Some(names) => found(names),
                None => Some(lang.to_string()),
            })
            .unwrap_or_default()
    }
}

/// A block that may run: the element found (a `snip-box`, a `pre` or its
/// `code`), its `pre` (or the element itself) and the element holding the
/// code; its language, the sandbox that language names (empty: none; its
/// attributes may still name one) and its text.
#[derive(Clone, Debug)]
pub struct Block<E> {
    pub el: E,
    pub pre: E,
    pub code: E,
    pub lang: Option<String>,
    pub sandbox: String,
    pub source: String,
}

impl<E: Element> Block<E> {
    /// The `pre` of the element marked (the parent of a `code`, else the
    /// element itself) and the element holding the code (the `pre`'s
    /// `code`, else the element itself).
    pub fn parts(el: &E) -> (E, E) {
        if let Some(pre) = el.parent().filter(|_| el.tag() == "code") {
            return (pre, el.clone());
        }
        let code = el
            .elements()
            .into_iter()
            .find(|c| c.tag() == "code")
            .unwrap_or_else(|| el.clone());
        (el.clone(), code)
    }
}

/// The page's blocks that may run, in page order: every marked block, and
/// in page-wide mode every block the selector matches whose language has a
/// sandbox. Each `pre` once; none inside snipbox's own parts.
pub fn blocks<P: Page>(page: &P, settings: &Settings) -> Vec<Block<P::Element>> {
    let selector = match &settings.selector {
        Some(s) => format!("{MARKED},{s}"),
        None => MARKED.to_string(),
    };
    let mut found = Vec::new();
    for el in page.select(&selector) {
        let (pre, code) = Block::parts(&el);
        // A code element whose pre matched is the same block, found first.
        if (el.tag() == "code" && pre.matches(&selector)) || pre.closest(OURS).is_some() {
            continue;
        }
        let lang = language(&code, &pre);
        let sandbox = lang
            .as_deref()
            .map(|l| settings.sandbox_of(l))
            .unwrap_or_default();
        if sandbox.is_empty() && !el.matches(MARKED) {
            continue;
        }
        let source = text(&code);
        found.push(Block {
            el,
            pre,
            code,
            lang,
            sandbox,
            source,
        });
    }
    found
}

/// The language a generator marked a block with: a `language-X`, `lang-X`
/// or (Sphinx) `highlight-X` class, or `data-lang` / `data-language`, on
/// the code, its pre or one of three ancestors (wrappers many generators
/// add); in ASCII lower case (full Unicode case tables would cost the
/// widget's download more than all of these rules).
pub fn language<E: Element>(code: &E, pre: &E) -> Option<String> {
    let mut at = Some(code.clone());
    for up in 0..5 {
        let el = at?;
        let class = el.attr("class").unwrap_or_default();
        let named = class
            .split_ascii_whitespace()
            .find_map(|c| {
                ["language-", "lang-", "highlight-"]
                    .iter()
                    .find_map(|p| c.strip_prefix(p).filter(|l| !l.is_empty()))
            })
            .map(str::to_string)
            .or_else(|| el.attr("data-lang").filter(|l| !l.is_empty()))
            .or_else(|| el.attr("data-language").filter(|l| !l.is_empty()));
        if let Some(lang) = named {
            return Some(lang.to_ascii_lowercase());
        }
        at = if up == 0 {
            Some(pre.clone())
        } else {
            el.parent()
        };
    }
    None
}

/// An element's code as written: the text of a highlighter's markup,
/// `<br>` and the line `<div>`s some generators draw read as newlines,
/// the generator's chrome left out, trailing newlines dropped.
pub fn text<E: Element>(el: &E) -> String {
    let mut out = String::new();
    walk(el, &mut out);
    out.truncate(out.trim_end_matches('\n').len());
    out
}

fn walk<E: Element>(el: &E, out: &mut String) {
    for node in el.children() {
        match node {
            Node::Text(t) => out.push_str(&t),
            Node::Element(e) if e.matches(CHROME) => {}
            Node::Element(e) => match e.tag().as_str() {
                "br" => out.push('\n'),
                tag => {
                    if tag == "div" && !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    walk(&e, out);
                }
            },
        }
    }
}

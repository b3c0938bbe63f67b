//! Reading a page: which blocks are snippets, their code exactly as written,
//! and what their attributes ask for.

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement};

use crate::options::{Options, OutputMode, file_refs, ids};

/// The blocks enhanced without any page-wide setting.
pub const MARKED: &str = "snip-box, pre[data-snipbox], pre[data-sandbox], pre > code[data-snipbox], pre > code[data-sandbox]";

/// A marked block's parts: the element found, the `<pre>` around it (or
/// itself) and the element holding the code.
struct Block {
    el: HtmlElement,
    pre: HtmlElement,
    code: Element,
}

impl Block {
    /// `None` for a `<code>` whose `<pre>` is marked too (it is reached as
    /// that `<pre>`), or a block inside a snippet already.
    fn of(el: &HtmlElement) -> Option<Block> {
        let is_code = el.tag_name() == "CODE";
        let pre: HtmlElement = if is_code {
            el.parent_element()?.dyn_into().ok()?
        } else {
            el.clone()
        };
        if (is_code && pre.matches(MARKED).unwrap_or(false))
            || el.closest(".snipbox").ok().flatten().is_some()
        {
            return None;
        }
        let code: Element = if is_code {
            el.clone().into()
        } else {
            el.first_element_child()
                .filter(|c| c.tag_name() == "CODE")
                .unwrap_or_else(|| el.clone().into())
        };
        Some(Block {
            el: el.clone(),
            pre,
            code,
        })
    }

    /// An option: the element's own attribute, or a `data-` one on the
    /// element, the `<pre>` or the `<code>`; empty ones do not count.
    fn attr(&self, name: &str) -> Option<String> {
        let data = format!("data-{name}");
        [
            self.el.get_attribute(name),
            self.el.get_attribute(&data),
            self.pre.get_attribute(&data),
            self.code.get_attribute(&data),
        ]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
    }

    fn id(&self) -> Option<String> {
        [self.el.id(), self.pre.id(), self.code.id()]
            .into_iter()
            .find(|id| !id.is_empty())
    }
}

/// The element to mount into and the block's options; `None` for a block
/// that is not a snippet after all (no sandbox) or is already enhanced.
pub fn take_block(
    document: &Document,
    el: &HtmlElement,
    languages: &[(String, String)],
) -> Option<(HtmlElement, Options)> {
    let block = Block::of(el)?;
    let options = read_options(document, &block, languages)?;
    let host: HtmlElement = if el.tag_name() == "SNIP-BOX" {
        el.set_inner_html("");
        el.clone()
    } else {
        let div: HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
        block.pre.replace_with_with_node_1(&div).ok()?;
        // Links to the block keep working.
        if let Some(id) = &options.id {
            div.set_id(id);
        }
        div
    };
    Some((host, options))
}

/// The block's options; `None` when it names no sandbox.
fn read_options(
    document: &Document,
    block: &Block,
    languages: &[(String, String)],
) -> Option<Options> {
    let spec = block
        .attr("sandbox")
        .or_else(|| language(&block.code, languages))?;
    let (sandbox, version) = match spec.split_once(':') {
        Some((s, v)) => (s.to_string(), v.to_string()),
        None => (spec, String::new()),
    };
    let mut problems = Vec::new();
    let output = OutputMode::parse(block.attr("output-mode").as_deref()).unwrap_or_else(|p| {
        problems.push(p);
        OutputMode::Text
    });
    let stdin = block.attr("stdin").map(|s| match s.strip_prefix('#') {
        Some(id) => text_of(document, id).unwrap_or_else(|| {
            problems.push(format!("stdin: no element #{id} on this page"));
            String::new()
        }),
        None => s,
    });
    Some(Options {
        id: block.id(),
        sandbox,
        version,
        command: block.attr("command").unwrap_or_default(),
        code: code_text(&block.code),
        stdin,
        editable: block.attr("editor").as_deref() != Some("off"),
        depends_on: ids(block.attr("depends-on").as_deref().unwrap_or_default()),
        template: block
            .attr("template")
            .map(|t| t.trim_start_matches('#').to_string()),
        files: block
            .attr("files")
            .map(|f| file_refs(&f))
            .unwrap_or_default(),
        output,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    })
}

/// An element's code as written: `<br>` read as a newline, markup (such as
/// a highlighter's spans) dropped, whitespace kept.
pub fn code_text(el: &Element) -> String {
    if let Ok(breaks) = el.query_selector_all("br") {
        for i in 0..breaks.length() {
            if let Some(br) = breaks.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                let _ = br.replace_with_with_str_1("\n");
            }
        }
    }
    el.text_content().unwrap_or_default()
}

/// The code of the element with this id, if the page has one.
pub fn text_of(document: &Document, id: &str) -> Option<String> {
    document.get_element_by_id(id).map(|e| code_text(&e))
}

/// The sandbox named by a `language-*` class, through the page's mapping.
fn language(el: &Element, languages: &[(String, String)]) -> Option<String> {
    let classes = el.class_name();
    let lang = classes.split_whitespace().find_map(|c| {
        c.strip_prefix("language-")
            .or_else(|| c.strip_prefix("lang-"))
    })?;
    Some(
        languages
            .iter()
            .find(|(name, _)| name == lang)
            .map_or(lang, |(_, sandbox)| sandbox)
            .to_string(),
    )
}

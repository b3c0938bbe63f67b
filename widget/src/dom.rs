//! Reading a block: what its attributes ask for. (Finding the blocks of a
//! page, their language and their text is the loader's part, in
//! `snipbox.js`.)

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement};

use crate::options::{Options, OutputMode, file_refs, ids};

/// A block's parts: the element marked, the `<pre>` around it (or itself)
/// and the element holding the code.
struct Block {
    el: HtmlElement,
    pre: Element,
    code: Element,
}

impl Block {
    fn of(el: &HtmlElement) -> Block {
        let own: Element = el.clone().into();
        let pre = match el.parent_element() {
            Some(parent) if el.tag_name() == "CODE" => parent,
            _ => own.clone(),
        };
        let code = pre
            .first_element_child()
            .filter(|c| c.tag_name() == "CODE")
            .unwrap_or(own);
        Block {
            el: el.clone(),
            pre,
            code,
        }
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

/// The options of the block `el`, whose text is `code`; `sandbox` is
/// used when its attributes name none. `None` when neither names one.
pub fn read_options(
    document: &Document,
    el: &HtmlElement,
    sandbox: &str,
    code: String,
) -> Option<Options> {
    let block = Block::of(el);
    let spec = block
        .attr("sandbox")
        .or_else(|| Some(sandbox.to_string()).filter(|s| !s.is_empty()))?;
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
        code,
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

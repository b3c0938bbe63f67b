//! Reading a page: which blocks are snippets, their code exactly as written,
//! and what their attributes ask for.

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement};

use crate::snippet::{Options, OutputMode};

/// The blocks enhanced without any page-wide setting.
pub const MARKED: &str = "snip-box, pre[data-snipbox], pre[data-sandbox], pre > code[data-snipbox], pre > code[data-sandbox]";

/// The element to mount into and the block's options; `None` for a block
/// that is not a snippet after all (no sandbox) or is already enhanced.
pub fn take_block(
    document: &Document,
    block: &HtmlElement,
    languages: &[(String, String)],
) -> Option<(HtmlElement, Options)> {
    let is_code = block.tag_name() == "CODE";
    let pre: HtmlElement = if is_code {
        block.parent_element()?.dyn_into().ok()?
    } else {
        block.clone()
    };
    // Reached twice (as <pre> and as its <code>), or already enhanced.
    if (is_code && pre.matches(MARKED).unwrap_or(false))
        || block.closest(".snipbox").ok().flatten().is_some()
    {
        return None;
    }
    let code_el: Element = if is_code {
        block.clone().into()
    } else {
        block
            .first_element_child()
            .filter(|c| c.tag_name() == "CODE")
            .unwrap_or_else(|| block.clone().into())
    };
    let attr = |name: &str| {
        [
            block.get_attribute(name),
            block.get_attribute(&format!("data-{name}")),
            pre.get_attribute(&format!("data-{name}")),
            code_el.get_attribute(&format!("data-{name}")),
        ]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
    };
    let spec = attr("sandbox").or_else(|| language(&code_el, languages))?;
    let (sandbox, version) = match spec.split_once(':') {
        Some((s, v)) => (s.to_string(), v.to_string()),
        None => (spec, String::new()),
    };
    let mut problems = Vec::new();
    let output = match attr("output-mode").as_deref() {
        None | Some("text") => OutputMode::Text,
        Some("html") => OutputMode::Html,
        Some("svg") => OutputMode::Svg,
        Some(other) => {
            problems.push(format!("output-mode \"{other}\" is not text, html or svg"));
            OutputMode::Text
        }
    };
    let stdin = attr("stdin").map(|s| match s.strip_prefix('#') {
        Some(id) => text_of(document, id).unwrap_or_else(|| {
            problems.push(format!("stdin: no element #{id} on this page"));
            String::new()
        }),
        None => s,
    });
    let id = [block.id(), pre.id(), code_el.id()]
        .into_iter()
        .find(|id| !id.is_empty());
    let options = Options {
        id: id.clone(),
        sandbox,
        version,
        command: attr("command").unwrap_or_default(),
        code: code_text(&code_el),
        stdin,
        editable: attr("editor").as_deref() != Some("off"),
        depends_on: ids(attr("depends-on").as_deref().unwrap_or_default()),
        template: attr("template").map(|t| t.trim_start_matches('#').to_string()),
        files: attr("files").map(|f| file_refs(&f)).unwrap_or_default(),
        output,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    };
    let host: HtmlElement = if block.tag_name() == "SNIP-BOX" {
        block.set_inner_html("");
        block.clone()
    } else {
        let div: HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
        pre.replace_with_with_node_1(&div).ok()?;
        // Links to the block keep working.
        if let Some(id) = &id {
            div.set_id(id);
        }
        div
    };
    Some((host, options))
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

/// `"#a b, #c"` → `["a", "b", "c"]`: ids separated by spaces or commas, the
/// leading `#` optional.
pub fn ids(list: &str) -> Vec<String> {
    list.split([' ', ','])
        .map(|s| s.trim_start_matches('#'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `files="#util #data:input.csv"` → `[("util", None), ("data",
/// Some("input.csv"))]`: the element to read and, after a colon, the file
/// name to send it under.
pub fn file_refs(list: &str) -> Vec<(String, Option<String>)> {
    ids(list)
        .into_iter()
        .map(|r| match r.split_once(':') {
            Some((id, name)) => (id.to_string(), Some(name.to_string())),
            None => (r, None),
        })
        .collect()
}

/// The ids to run before a snippet, dependencies first, each once:
/// `deps_of(id)` is `None` for an id the page does not have. A cycle is an
/// error naming it.
pub fn run_order(
    own: Option<&str>,
    depends_on: &[String],
    deps_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<Vec<String>, String> {
    fn visit(
        id: &str,
        path: &mut Vec<String>,
        order: &mut Vec<String>,
        deps_of: &impl Fn(&str) -> Option<Vec<String>>,
    ) -> Result<(), String> {
        if order.iter().any(|o| o == id) {
            return Ok(());
        }
        if let Some(at) = path.iter().position(|p| p == id) {
            let cycle: Vec<String> = path[at..]
                .iter()
                .chain([&id.to_string()])
                .map(|p| format!("#{p}"))
                .collect();
            return Err(format!("depends-on has a cycle: {}", cycle.join(" → ")));
        }
        let deps = deps_of(id).ok_or_else(|| format!("depends-on: no block #{id} on this page"))?;
        path.push(id.to_string());
        for dep in &deps {
            visit(dep, path, order, deps_of)?;
        }
        path.pop();
        order.push(id.to_string());
        Ok(())
    }
    let mut path: Vec<String> = own.map(str::to_string).into_iter().collect();
    let mut order = Vec::new();
    for dep in depends_on {
        visit(dep, &mut path, &mut order, &deps_of)?;
    }
    Ok(order)
}

/// The template with its `##CODE##` replaced by the code.
pub fn apply_template(id: &str, template: &str, code: &str) -> Result<String, String> {
    if !template.contains("##CODE##") {
        return Err(format!("template #{id} has no ##CODE## to replace"));
    }
    Ok(template.replace("##CODE##", code))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> impl Fn(&str) -> Option<Vec<String>> {
        let map: HashMap<String, Vec<String>> = edges
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        move |id| map.get(id).cloned()
    }

    #[test]
    fn dependencies_come_first_and_once() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a", "b"])]);
        let order = run_order(Some("d"), &ids("#c #b"), g).unwrap();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let g = graph(&[("a", &["b"]), ("b", &["a"])]);
        let err = run_order(Some("x"), &ids("a"), g).unwrap_err();
        assert_eq!(err, "depends-on has a cycle: #a → #b → #a");
    }

    #[test]
    fn depending_on_itself_is_a_cycle() {
        let g = graph(&[("a", &["me"]), ("me", &["a"])]);
        let err = run_order(Some("me"), &ids("a"), g).unwrap_err();
        assert_eq!(err, "depends-on has a cycle: #me → #a → #me");
    }

    #[test]
    fn a_missing_dependency_is_named() {
        let g = graph(&[("a", &["gone"])]);
        let err = run_order(None, &ids("a"), g).unwrap_err();
        assert_eq!(err, "depends-on: no block #gone on this page");
    }

    #[test]
    fn file_refs_take_an_optional_name() {
        assert_eq!(
            file_refs("#util, #data:input.csv"),
            [
                ("util".to_string(), None),
                ("data".to_string(), Some("input.csv".to_string()))
            ]
        );
    }

    #[test]
    fn templates_need_their_marker() {
        assert_eq!(
            apply_template("t", "a\n##CODE##\nb", "x").unwrap(),
            "a\nx\nb"
        );
        assert!(apply_template("t", "no marker", "x").is_err());
    }
}

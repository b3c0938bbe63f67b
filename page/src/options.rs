//! What a block asks for: its options, read from its attributes and the
//! blocks around it (the output the page expects, an output baked into
//! the page), and the small languages of those attributes (id lists, file
//! references, output modes). Putting a run together from them is
//! `compose`'s part.

use crate::bake::{self, Baked};
use crate::find::{Block, OURS, OUTPUT, language, text};
use crate::{Element, Page};

/// How a snippet shows the program's standard output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// As text, always: program output never becomes markup.
    #[default]
    Text,
    /// As an HTML document in a sandboxed iframe (no scripts, own origin).
    Html,
    /// As an SVG image in a sandboxed iframe.
    Svg,
    /// A JSON array of objects as a table (codapi's `table` mode); any
    /// other output as text.
    Table,
}

impl OutputMode {
    /// The mode an `output-mode` attribute names; absent means text.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        Ok(match value {
            None | Some("text") => Self::Text,
            Some("html") => Self::Html,
            Some("svg") => Self::Svg,
            Some("table") => Self::Table,
            Some(other) => {
                return Err(format!(
                    "output-mode \"{other}\" is not text, html, svg or table"
                ));
            }
        })
    }
}

/// What a block asks for, from its attributes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The block's id, by which other snippets name it.
    pub id: Option<String>,
    pub sandbox: String,
    pub version: String,
    pub command: String,
    pub code: String,
    pub stdin: Option<String>,
    /// `stdin="interactive"`: the reader types the program's input while
    /// it runs (`GET /v1/ws`), instead of a fixed stdin.
    pub interactive: bool,
    pub editable: bool,
    /// Ids of snippets (or plain blocks) whose code runs first.
    pub depends_on: Vec<String>,
    /// Id of a block whose `##CODE##` is replaced by the code.
    pub template: Option<String>,
    /// Blocks sent as extra files: id, and the file name if not the id.
    pub files: Vec<(String, Option<String>)>,
    pub output: OutputMode,
    /// What the page says the program prints: the `output` block right
    /// after it, or the element its `expect` attribute names.
    pub expected: Option<String>,
    /// The exit code the page says the program ends with (`expect-exit`).
    pub expect_exit: i32,
    /// The output `snipbox verify --bake` wrote into the page.
    pub baked: Option<Baked>,
    /// What is wrong with the block's attributes, shown instead of running.
    pub problem: Option<String>,
}

/// A block's option: the element's own attribute, or a `data-` one on the
/// element, the `<pre>` or the `<code>`; empty ones do not count.
pub fn attr<E: Element>(block: &Block<E>, name: &str) -> Option<String> {
    let data = format!("data-{name}");
    [
        block.el.attr(name),
        block.el.attr(&data),
        block.pre.attr(&data),
        block.code.attr(&data),
    ]
    .into_iter()
    .flatten()
    .find(|v| !v.is_empty())
}

/// The block's id: the element's, its pre's or its code's.
pub fn id<E: Element>(block: &Block<E>) -> Option<String> {
    [&block.el, &block.pre, &block.code]
        .into_iter()
        .find_map(|e| e.attr("id").filter(|id| !id.is_empty()))
}

/// The options of a block of `page`. `None` when it names no sandbox
/// (neither by its attributes nor by its language).
pub fn read<P: Page>(page: &P, block: &Block<P::Element>) -> Option<Options> {
    let spec =
        attr(block, "sandbox").or_else(|| Some(block.sandbox.clone()).filter(|s| !s.is_empty()))?;
    let (sandbox, version) = match spec.split_once(':') {
        Some((s, v)) => (s.to_string(), v.to_string()),
        None => (spec, String::new()),
    };
    let mut problems = Vec::new();
    let output = OutputMode::parse(attr(block, "output-mode").as_deref()).unwrap_or_else(|p| {
        problems.push(p);
        OutputMode::Text
    });
    let mut named = |what: &str, value: String| match value.strip_prefix('#') {
        Some(id) => page.by_id(id).map(|e| text(&e)).unwrap_or_else(|| {
            problems.push(format!("{what}: no element #{id} on this page"));
            String::new()
        }),
        None => value,
    };
    let stdin = attr(block, "stdin");
    let interactive = stdin.as_deref() == Some("interactive");
    let stdin = stdin.filter(|_| !interactive).map(|s| named("stdin", s));
    let expected = match attr(block, "expect") {
        Some(e) => Some(named("expect", format!("#{}", e.trim_start_matches('#')))),
        None => output_block(page, block).map(|e| text(&e)),
    };
    let expect_exit = match attr(block, "expect-exit") {
        None => 0,
        Some(v) => v.trim_ascii().parse().unwrap_or_else(|_| {
            problems.push(format!("expect-exit \"{v}\" is not an exit code"));
            0
        }),
    };
    Some(Options {
        id: id(block),
        sandbox,
        version,
        command: attr(block, "command").unwrap_or_default(),
        code: block.source.clone(),
        stdin,
        interactive,
        editable: attr(block, "editor").as_deref() != Some("off"),
        depends_on: ids(attr(block, "depends-on").as_deref().unwrap_or_default()),
        template: attr(block, "template").map(|t| t.trim_start_matches('#').to_string()),
        files: attr(block, "files")
            .map(|f| file_refs(&f))
            .unwrap_or_default(),
        output,
        expected,
        expect_exit,
        baked: baked_block(block).and_then(|e| bake::read(&e)),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    })
}

/// The block that shows what `block` prints: the next block of the page
/// (snipbox's own parts left out), when it is a `pre` in the language
/// `output`.
pub fn output_block<P: Page>(page: &P, block: &Block<P::Element>) -> Option<P::Element> {
    let pres = page.select("pre,snip-box");
    let at = pres.iter().position(|p| p.same(&block.pre))?;
    let next = pres[at + 1..].iter().find(|p| p.closest(OURS).is_none())?;
    if next.tag() != "pre" {
        return None;
    }
    let code = next
        .elements()
        .into_iter()
        .find(|c| c.tag() == "code")
        .unwrap_or_else(|| next.clone());
    (language(&code, next).as_deref() == Some(OUTPUT)).then(|| next.clone())
}

/// The output baked into the page after `block`: the first element after
/// its `pre` other than the widget's snippet, if it is one.
pub fn baked_block<E: Element>(block: &Block<E>) -> Option<E> {
    let parent = block.pre.parent()?;
    let siblings = parent.elements();
    let at = siblings.iter().position(|s| s.same(&block.pre))?;
    siblings[at + 1..]
        .iter()
        .find(|s| !s.has_class("snipbox-host"))
        .filter(|s| s.has_class(bake::CLASS))
        .cloned()
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn output_modes_are_codapis_and_others_are_named() {
        assert_eq!(OutputMode::parse(None), Ok(OutputMode::Text));
        assert_eq!(OutputMode::parse(Some("table")), Ok(OutputMode::Table));
        assert_eq!(
            OutputMode::parse(Some("pdf")),
            Err("output-mode \"pdf\" is not text, html, svg or table".into())
        );
    }
}

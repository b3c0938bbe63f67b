//! An output baked into a page (`snipbox verify --bake`): written here as
//! markup right after its block, read here by the widget, so both sides
//! agree on its form. It shows without JavaScript: the standard output and
//! error as preformatted text, pictures as images, other files as links.
//!
//! ```html
//! <div class="snipbox-baked" data-exit="0">
//!   <pre class="snipbox-baked-stdout">…</pre>
//!   <pre class="snipbox-baked-stderr">…</pre>
//!   <img class="snipbox-baked-file" data-name="plot.png" alt="plot.png" src="data:image/png;base64,…">
//!   <a class="snipbox-baked-file" data-name="out.csv" download="out.csv" href="data:text/csv;base64,…">out.csv</a>
//! </div>
//! ```

use crate::Element;
use crate::find::text;

/// The class of the element that holds a baked output.
pub const CLASS: &str = "snipbox-baked";

/// A run's output as baked into the page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baked {
    pub stdout: String,
    pub stderr: String,
    /// The program's exit code, when it exited.
    pub exit: Option<i32>,
    pub files: Vec<BakedFile>,
}

/// A file the run produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BakedFile {
    pub name: String,
    pub media_type: String,
    /// Its bytes, base64.
    pub data: String,
}

/// The markup of a baked output (the same output gives the same bytes).
pub fn markup(baked: &Baked) -> String {
    let mut html = format!("<div class=\"{CLASS}\"");
    if let Some(exit) = baked.exit {
        html.push_str(&format!(" data-exit=\"{exit}\""));
    }
    html.push('>');
    for (class, text) in [("stdout", &baked.stdout), ("stderr", &baked.stderr)] {
        if !text.is_empty() {
            // The parser drops one newline right after `<pre>`: this one,
            // so that an output starting with a newline keeps it.
            html.push_str(&format!(
                "<pre class=\"{CLASS}-{class}\">\n{}</pre>",
                escape(text)
            ));
        }
    }
    for f in &baked.files {
        let (name, url) = (
            escape(&f.name),
            format!("data:{};base64,{}", escape(&f.media_type), f.data),
        );
        if f.media_type.starts_with("image/") {
            html.push_str(&format!(
                "<img class=\"{CLASS}-file\" data-name=\"{name}\" alt=\"{name}\" src=\"{url}\">"
            ));
        } else {
            html.push_str(&format!(
                "<a class=\"{CLASS}-file\" data-name=\"{name}\" download=\"{name}\" href=\"{url}\">{name}</a>"
            ));
        }
    }
    html.push_str("</div>");
    html
}

/// The baked output `el` holds, if it is one.
pub fn read<E: Element>(el: &E) -> Option<Baked> {
    if !el.has_class(CLASS) {
        return None;
    }
    let mut baked = Baked {
        exit: el.attr("data-exit").and_then(|e| e.parse().ok()),
        ..Baked::default()
    };
    for child in el.elements() {
        if child.has_class(&format!("{CLASS}-stdout")) {
            baked.stdout = raw_text(&child);
        } else if child.has_class(&format!("{CLASS}-stderr")) {
            baked.stderr = raw_text(&child);
        } else if child.has_class(&format!("{CLASS}-file")) {
            let url = child.attr("src").or_else(|| child.attr("href"));
            // (Split at a character and then a prefix: a string pattern
            // would cost the widget a string searcher.)
            let Some((media_type, data)) = url
                .as_deref()
                .and_then(|u| u.strip_prefix("data:"))
                .and_then(|u| u.split_once(';'))
                .and_then(|(t, rest)| Some((t, rest.strip_prefix("base64,")?)))
            else {
                continue;
            };
            baked.files.push(BakedFile {
                name: child.attr("data-name").unwrap_or_default(),
                media_type: media_type.to_string(),
                data: data.to_string(),
            });
        }
    }
    Some(baked)
}

/// A baked `pre`'s text exactly as written (its trailing newlines too).
fn raw_text<E: Element>(el: &E) -> String {
    el.children()
        .into_iter()
        .map(|n| match n {
            crate::Node::Text(t) => t,
            crate::Node::Element(e) => text(&e),
        })
        .collect()
}

/// Text made safe inside an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // A parser reads a raw carriage return as a newline.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

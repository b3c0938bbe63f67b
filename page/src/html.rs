//! A parsed HTML file as a [`Page`] (html5ever, through `scraper`): what
//! `snipbox verify` reads the built pages of a site with.

use std::cell::RefCell;
use std::collections::HashMap;

use scraper::{ElementRef, Html, Selector};

use crate::{Element, Node, Page};

/// An HTML document, parsed as a browser parses it.
pub struct Document(Html);

impl Document {
    pub fn parse(html: &str) -> Document {
        Document(Html::parse_document(html))
    }
}

/// An element of a [`Document`].
#[derive(Clone, Copy)]
pub struct HtmlElement<'a>(ElementRef<'a>);

thread_local! {
    /// Selectors parsed once (the rules test a few selectors on many
    /// elements); `None` for one that does not parse.
    static SELECTORS: RefCell<HashMap<String, Option<Selector>>> = RefCell::new(HashMap::new());
}

fn with_selector<T>(selector: &str, f: impl FnOnce(&Selector) -> T) -> Option<T> {
    SELECTORS.with_borrow_mut(|all| {
        all.entry(selector.to_string())
            .or_insert_with(|| Selector::parse(selector).ok())
            .as_ref()
            .map(f)
    })
}

impl Element for HtmlElement<'_> {
    fn tag(&self) -> String {
        self.0.value().name().to_ascii_lowercase()
    }

    fn attr(&self, name: &str) -> Option<String> {
        self.0.value().attr(name).map(str::to_string)
    }

    fn parent(&self) -> Option<Self> {
        self.0.parent().and_then(ElementRef::wrap).map(HtmlElement)
    }

    fn children(&self) -> Vec<Node<Self>> {
        self.0
            .children()
            .filter_map(|n| match n.value() {
                scraper::Node::Text(t) => Some(Node::Text(t.to_string())),
                scraper::Node::Element(_) => {
                    ElementRef::wrap(n).map(|e| Node::Element(HtmlElement(e)))
                }
                _ => None,
            })
            .collect()
    }

    fn matches(&self, selector: &str) -> bool {
        with_selector(selector, |s| s.matches(&self.0)).unwrap_or(false)
    }

    fn same(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl<'a> Page for &'a Document {
    type Element = HtmlElement<'a>;

    fn select(&self, selector: &str) -> Vec<HtmlElement<'a>> {
        let html: &'a Html = &self.0;
        with_selector(selector, |s| html.select(s).map(HtmlElement).collect()).unwrap_or_default()
    }

    fn by_id(&self, id: &str) -> Option<HtmlElement<'a>> {
        let html: &'a Html = &self.0;
        html.tree
            .nodes()
            .filter_map(ElementRef::wrap)
            .find(|e| e.value().id() == Some(id))
            .map(HtmlElement)
    }
}

impl HtmlElement<'_> {
    /// The text of the nearest heading before this element, for a
    /// report's "where".
    pub fn heading(&self) -> Option<String> {
        let is_heading =
            |e: &ElementRef| matches!(e.value().name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6");
        let mut node = Some(*self.0);
        while let Some(n) = node {
            let earlier = n.prev_sibling();
            node = earlier.or_else(|| n.parent());
            let Some(el) = node.and_then(ElementRef::wrap) else {
                continue;
            };
            // An earlier sibling counts with what it holds (a heading in
            // a wrapper, as Starlight draws them); an ancestor by itself.
            let found = if earlier.is_some() {
                el.descendants()
                    .filter_map(ElementRef::wrap)
                    .filter(is_heading)
                    .last()
            } else {
                Some(el).filter(is_heading)
            };
            if let Some(h) = found {
                // Without the anchors generators add (`¶`, `#`, a
                // zero-width space).
                let text: String = h
                    .text()
                    .collect::<String>()
                    .chars()
                    .filter(|c| !matches!(c, '\u{200b}'..='\u{200d}' | '\u{feff}'))
                    .collect();
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                return Some(text.trim_end_matches(['¶', '#']).trim().to_string());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::find::{Settings, blocks};
    use crate::options::read;

    fn settings(selector: Option<&str>) -> Settings {
        Settings {
            selector: selector.map(str::to_string),
            languages: vec![("py3".into(), "python".into())],
            names: Some(vec![
                ("python".into(), "python".into()),
                ("py".into(), "python".into()),
            ]),
        }
    }

    #[test]
    fn marked_and_page_wide_blocks_with_their_text_and_expected_output() {
        let doc = Document::parse(
            r##"<div><h2>Squares <a>¶</a><a>&#8203;</a></h2><a>#</a></div>
<div class="highlight-python"><pre><span class="n">print</span>(1)<button>copy</button>
</pre></div>
<pre><code class="language-output">1
</code></pre>
<pre><code class="language-py3" id="a">x = 2</code></pre>
<pre data-sandbox="bash" data-expect="#want" data-expect-exit="3">echo hi; exit 3</pre>
<p id="want">hi</p>
<pre><code class="language-yaml">k: v</code></pre>
<pre><code class="language-output">not after a runnable block</code></pre>"##,
        );
        let page = &doc;
        let found = blocks(&page, &settings(Some("pre")));
        let seen: Vec<_> = found
            .iter()
            .map(|b| (b.sandbox.as_str(), b.source.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("python", "print(1)"),
                ("python", "x = 2"),
                ("", "echo hi; exit 3")
            ]
        );
        let options: Vec<_> = found.iter().map(|b| read(&page, b).unwrap()).collect();
        assert_eq!(options[0].expected.as_deref(), Some("1"));
        assert_eq!(options[1].expected, None);
        assert_eq!(options[1].id.as_deref(), Some("a"));
        assert_eq!(options[2].sandbox, "bash");
        assert_eq!(options[2].expected.as_deref(), Some("hi"));
        assert_eq!(options[2].expect_exit, 3);
        assert_eq!(found[0].pre.heading().as_deref(), Some("Squares"));
        // Marked blocks only, without a selector.
        assert_eq!(blocks(&page, &settings(None)).len(), 1);
    }

    #[test]
    fn a_baked_output_reads_back_as_written() {
        let baked = crate::bake::Baked {
            stdout: "\nfirst line blank <b>&</b>\r\n".into(),
            stderr: String::new(),
            exit: Some(0),
            files: vec![crate::bake::BakedFile {
                name: "a \"b\".png".into(),
                media_type: "image/png".into(),
                data: "AAAA".into(),
            }],
        };
        let html = format!(
            "<pre data-sandbox=\"python\">print()</pre>{}",
            crate::bake::markup(&baked)
        );
        let doc = Document::parse(&html);
        let page = &doc;
        let found = blocks(&page, &Settings::default());
        assert_eq!(found.len(), 1, "the baked output is no block");
        assert_eq!(read(&page, &found[0]).unwrap().baked, Some(baked));
    }
}

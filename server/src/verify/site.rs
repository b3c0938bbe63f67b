//! Reading a built site: its HTML files, each page's settings (page-wide
//! mode's selector and languages, as the widget's loader reads them) and
//! the checks its blocks make, by `snipbox_page`'s rules.

use std::path::{Path, PathBuf};

use snipbox_page::compose::{Job, Written, job};
use snipbox_page::find::{Settings, blocks};
use snipbox_page::html::Document;
use snipbox_page::options::{self, Options};
use snipbox_page::{Element, Page};

/// A built page.
pub(super) struct PageFile {
    pub(super) path: PathBuf,
    /// How reports name it (relative to the folder given).
    pub(super) name: String,
    pub(super) html: String,
}

/// One runnable block of a page, and what its page says of it.
#[derive(Clone, Debug)]
pub(super) struct Check {
    /// Which page (an index into the pages read).
    pub(super) page: usize,
    /// Its number on the page, from 1.
    pub(super) number: usize,
    /// Its place among the page's blocks (`pre` and `snip-box` elements,
    /// snipbox's own left out), where a baked output goes.
    pub(super) slot: usize,
    pub(super) line: Option<usize>,
    pub(super) heading: Option<String>,
    pub(super) sandbox: String,
    /// The request, or why none could be put together.
    pub(super) job: Result<Job, String>,
    pub(super) expected: Option<String>,
    pub(super) expect_exit: i32,
}

/// The HTML files of `paths` (files as given, folders searched), in a
/// stable order.
pub(super) fn pages(paths: &[PathBuf]) -> anyhow::Result<Vec<PageFile>> {
    let mut pages = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            html_files(path, &mut found)?;
            found.sort();
            for file in found {
                let name = file.display().to_string();
                pages.push(read(&file, name)?);
            }
        } else {
            pages.push(read(path, path.display().to_string())?);
        }
    }
    Ok(pages)
}

fn read(path: &Path, name: String) -> anyhow::Result<PageFile> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let html = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{}: not UTF-8 (snipbox verify reads UTF-8 pages)",
            path.display()
        )
    })?;
    Ok(PageFile {
        path: path.to_path_buf(),
        name,
        html,
    })
}

fn html_files(dir: &Path, into: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            html_files(&path, into)?;
        } else if path.extension().is_some_and(|e| e == "html" || e == "htm") {
            into.push(path);
        }
    }
    Ok(())
}

/// The settings a page gives the widget: `window.SNIPBOX` in an inline
/// script (`selector`, `languages`), else the loader's tag's
/// `data-selector` or `?selector=`; `selector` (from the command line)
/// over the page's. The server's `names` complete them.
pub(super) fn settings(
    doc: &Document,
    selector: Option<&str>,
    names: &Option<Vec<(String, String)>>,
) -> Settings {
    let mut settings = Settings {
        names: names.clone(),
        ..Settings::default()
    };
    for script in doc.select("script") {
        if let Some(src) = script.attr("src") {
            let (path, query) = src.split_once('?').unwrap_or((&src, ""));
            if !path.ends_with("/snipbox.js") && path != "snipbox.js" {
                continue;
            }
            let from_query = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("selector="))
                .map(unescape_query);
            if settings.selector.is_none() {
                settings.selector = script.attr("data-selector").or(from_query);
            }
        } else if let Some(config) = window_snipbox(&snipbox_page::find::text(&script)) {
            if let Some(s) = config.get("selector").and_then(|s| s.as_str()) {
                settings.selector = Some(s.to_string());
            }
            if let Some(map) = config.get("languages").and_then(|l| l.as_object()) {
                settings.languages = map
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect();
            }
        }
    }
    if let Some(s) = selector {
        settings.selector = Some(s.to_string());
    }
    settings
}

/// `%20` and `+` in a query's value.
fn unescape_query(value: &str) -> String {
    let bytes = value.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The object a script assigns to `window.SNIPBOX`, read as JSON5 (a
/// plain object literal: unquoted keys and single quotes are fine).
fn window_snipbox(script: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let at = script.find("window.SNIPBOX")?;
    let rest = &script[at + "window.SNIPBOX".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    if !rest.starts_with('{') {
        return None;
    }
    let mut depth = 0;
    let mut end = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '{') => depth += 1,
            (None, '}') => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    json5::from_str(&rest[..end?]).ok()
}

/// The checks of one page: each runnable block with its request (as the
/// widget would send it before a reader edits anything), where it is,
/// and what the page expects.
pub(super) fn checks(
    page: usize,
    file: &PageFile,
    selector: Option<&str>,
    names: &Option<Vec<(String, String)>>,
) -> Vec<Check> {
    let doc = Document::parse(&file.html);
    let settings = settings(&doc, selector, names);
    let html = &doc;
    let found = blocks(&html, &settings);
    let read: Vec<(usize, Options)> = found
        .iter()
        .enumerate()
        .filter_map(|(i, b)| Some((i, options::read(&html, b)?)))
        .collect();
    let runnable: Vec<Options> = read.iter().map(|(_, o)| o.clone()).collect();
    let written = Written {
        page: &html,
        runnable: &runnable,
    };
    let slots = slots(&html);
    let lines = super::bake::block_offsets(&file.html)
        .filter(|offsets| offsets.len() == slots.len())
        .map(|offsets| {
            offsets
                .iter()
                .map(|&at| 1 + file.html[..at].matches('\n').count())
                .collect::<Vec<_>>()
        });
    read.iter()
        .enumerate()
        .map(|(number, (i, o))| {
            let block = &found[*i];
            let slot = slots
                .iter()
                .position(|s| s.same(&block.pre))
                .unwrap_or(usize::MAX);
            Check {
                page,
                number: number + 1,
                slot,
                line: lines.as_ref().and_then(|l| l.get(slot).copied()),
                heading: block.pre.heading(),
                sandbox: o.sandbox.clone(),
                job: job(o, o.code.clone(), &written),
                expected: o.expected.clone(),
                expect_exit: o.expect_exit,
            }
        })
        .collect()
}

/// The page's blocks where outputs may be baked, in document order: its
/// `pre` and `snip-box` elements outside snipbox's own parts.
pub(super) fn slots<'a>(page: &&'a Document) -> Vec<snipbox_page::html::HtmlElement<'a>> {
    page.select(super::bake::SLOTS)
        .into_iter()
        .filter(|e| e.closest(snipbox_page::find::OURS).is_none())
        .collect()
}

//! What an answer shows besides text, drawn into the output pane when it
//! arrives: standard output as a table (in table mode, when it is a JSON
//! array of objects) and the files the run produced. Nothing from a run
//! becomes live markup: cells and names are text nodes, pictures go
//! through `<img>`, other files are offered for download as bytes.
//!
//! Built with plain DOM calls rather than `view!`: each element type and
//! each reactive piece a view uses costs the wasm its own copy of the
//! rendering code, and every reader downloads it.

use js_sys::{Array, JSON, Object};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::json::{Answer, get};

/// Fills `div` (emptied first) with the answer's table, if `table` and its
/// standard output is one, and its files. True if a table is shown.
pub fn more(div: &Element, table: bool, answer: Option<&Answer>) -> bool {
    div.set_text_content(None);
    let Some(answer) = answer else {
        return false;
    };
    let tabled = table && show_table(div, &answer.exec.stdout).is_some();
    show_files(div, answer);
    tabled
}

/// Appends a `tag` element with this text (none if empty) to `parent`.
fn add(parent: &Element, tag: &str, text: &str) -> Option<Element> {
    let el = parent.owner_document()?.create_element(tag).ok()?;
    if !text.is_empty() {
        el.set_text_content(Some(text));
    }
    parent.append_child(&el).ok()?;
    Some(el)
}

/// `out` as a table, if it is a JSON array of objects.
fn show_table(div: &Element, out: &str) -> Option<()> {
    let (keys, rows) = table_of(out)?;
    build_table(add(div, "table", "")?, &keys, &rows)
}

/// A column per key (in the order the keys first appear), a row per
/// object; `None` for anything else (not JSON, not an array, an empty one,
/// an element that is not an object).
fn table_of(out: &str) -> Option<(Vec<String>, Array)> {
    let value = JSON::parse(out).ok().filter(Array::is_array)?;
    let rows = Array::from(&value);
    let mut keys: Vec<String> = Vec::new();
    for row in rows.iter() {
        if !row.is_object() || Array::is_array(&row) {
            return None;
        }
        for key in Object::keys(row.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    (rows.length() > 0).then_some((keys, rows))
}

fn build_table(table: Element, keys: &[String], rows: &Array) -> Option<()> {
    table.set_attribute("class", "snipbox-table").ok()?;
    let head = add(&add(&table, "thead", "")?, "tr", "")?;
    for key in keys {
        add(&head, "th", key)?.set_attribute("scope", "col").ok()?;
    }
    let body = add(&table, "tbody", "")?;
    for row in rows.iter() {
        let tr = add(&body, "tr", "")?;
        for key in keys {
            add(&tr, "td", &cell(get(&row, key)))?;
        }
    }
    Some(())
}

/// A value as a cell shows it: strings as they are, a missing key as
/// nothing, anything else as JSON.
fn cell(value: Option<JsValue>) -> String {
    match value {
        Some(v) if v.is_string() => v.as_string().unwrap_or_default(),
        Some(v) if !v.is_undefined() => JSON::stringify(&v).map(String::from).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The media types shown as pictures (SVG too: through `<img>`, its
/// scripts never run).
const PICTURES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
];

/// The answer's files: pictures under the output, other files as download
/// links with their size, omitted ones (over a cap: no data) named with
/// their size and why.
fn show_files(div: &Element, answer: &Answer) -> Option<()> {
    let files = Array::is_array(&answer.files).then(|| Array::from(&answer.files));
    for f in files.iter().flat_map(Array::iter) {
        let text = |key| get(&f, key)?.as_string();
        let name = text("name").unwrap_or_default();
        let kind = text("type").unwrap_or_default();
        let size = size(get(&f, "size")?.as_f64().unwrap_or(0.0) as u64);
        let Some(data) = text("data") else {
            let why = format!("{name} ({size}): not sent, over the sandbox's size limit for files");
            add(div, "p", &why)?;
            continue;
        };
        let picture = PICTURES.contains(&kind.as_str());
        // Anything else is offered for download only, as bytes: never
        // opened as a page.
        let kind = if picture {
            &kind
        } else {
            "application/octet-stream"
        };
        let url = format!("data:{kind};base64,{data}");
        if picture {
            let img = add(div, "img", "")?;
            img.set_attribute("alt", &name).ok()?;
            img.set_attribute("src", &url).ok()?;
        } else {
            let p = add(div, "p", "")?;
            let a = add(&p, "a", &name)?;
            a.set_attribute("download", &name).ok()?;
            a.set_attribute("href", &url).ok()?;
            add(&p, "span", &format!(" {size}"))?;
        }
    }
    let more = answer.exec.files_omitted;
    if more > 0 {
        add(
            div,
            "p",
            &format!("{more} more files not sent: over the sandbox's limit on files"),
        )?;
    }
    Some(())
}

/// A size as people read it: bytes, then kB and MB (1000s) to one decimal.
pub fn size(bytes: u64) -> String {
    let (unit, scale) = match bytes {
        0..1000 => return format!("{bytes} bytes"),
        1000..1_000_000 => ("kB", 100),
        _ => ("MB", 100_000),
    };
    let tenths = (bytes + scale / 2) / scale;
    format!("{}.{} {unit}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(999), "999 bytes");
        assert_eq!(size(1000), "1.0 kB");
        assert_eq!(size(12_345), "12.3 kB");
        assert_eq!(size(999_949), "999.9 kB");
        assert_eq!(size(2_560_000), "2.6 MB");
    }
}

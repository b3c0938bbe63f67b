//! Every word the widget shows, by key: English here, the page's language
//! from the table the loader hands over ([`set_strings`]: widget/i18n/LANG.json,
//! fetched only for that language, under the page's own
//! `window.SNIPBOX.strings`, which win key by key). A key a table lacks is
//! English. `{name}` in a string marks where a value goes.

use std::cell::RefCell;

/// The English strings. widget/i18n/*.json translate exactly these keys
/// (a test holds them to it), and may add `reason_*`: the words for a
/// run's `reason` (`reason_timeout`, …), shown instead of the server's
/// English `reason_text`.
pub const ENGLISH: &[(&str, &str)] = &[
    ("run", "Run"),
    ("stop", "Stop"),
    ("reset", "Reset"),
    ("copy", "Copy"),
    ("code", "Code"),
    ("output", "Output"),
    ("input", "Input: Enter sends a line, Ctrl+D ends the input"),
    ("program_output", "Program output"),
    ("running", "running…"),
    ("running_for", "running… {s} s"),
    ("ok", "✓ {ms} ms"),
    ("stopped", "stopped"),
    ("copied", "copied"),
    ("copy_refused", "✗ the browser refused to copy"),
    ("busy", "✗ the server is busy: try again in {s} s"),
    ("timed_out", "✗ timed out"),
    ("truncated", "✗ output truncated"),
    ("exit", "✗ exit {code}"),
    ("unreachable", "✗ the server is unreachable ({why})"),
    (
        "unreachable_kept",
        "✗ the server is unreachable ({why}): the output shown is the page's",
    ),
    ("stream_cut", "✗ the output stream ended before the run did"),
    ("http", "✗ the server answered HTTP {status}"),
    ("differs", "not the output the page shows"),
    ("page_output", "the output the page shows"),
    ("baked_output", "output from the docs' build"),
];

thread_local! {
    /// The page's table (its language's, under its own overrides).
    static TABLE: RefCell<Option<js_sys::Object>> = const { RefCell::new(None) };
}

/// The page's strings (an object of key → string) in place of English.
pub fn set_strings(table: js_sys::Object) {
    TABLE.with_borrow_mut(|t| *t = Some(table));
}

/// The page's string for `key`, if its table has one.
pub fn page_string(key: &str) -> Option<String> {
    TABLE.with_borrow(|t| {
        js_sys::Reflect::get(t.as_ref()?, &key.into())
            .ok()?
            .as_string()
    })
}

/// The string for `key`: the page's, else English.
pub fn t(key: &str) -> String {
    page_string(key).unwrap_or_else(|| {
        ENGLISH
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, s)| s)
            .to_string()
    })
}

/// The string for `key` with its `{name}`s filled in.
pub fn tf(key: &str, values: &[(&str, &str)]) -> String {
    fill(t(key), values)
}

/// `s` with its `{name}`s filled in.
pub fn fill(mut s: String, values: &[(&str, &str)]) -> String {
    for (name, value) in values {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The `{name}`s a string takes.
    fn holes(s: &str) -> BTreeSet<&str> {
        s.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn values_fill_their_places() {
        assert_eq!(fill("✗ exit {code}".into(), &[("code", "2")]), "✗ exit 2");
    }

    /// Each bundled translation has every English key, no other (but
    /// `reason_*`), the same `{name}`s, and no empty string.
    #[test]
    fn every_translation_has_the_english_keys_and_places() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("i18n");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let table: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for (key, english) in ENGLISH {
                let s = table
                    .get(*key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_else(|| panic!("{}: no {key}", path.display()));
                assert!(!s.trim().is_empty(), "{}: {key} is empty", path.display());
                assert_eq!(holes(s), holes(english), "{}: {key}", path.display());
            }
            // The status line while running starts as the bare word does
            // (what a screen reader is told once).
            let word = |k: &str| table[k].as_str().unwrap();
            assert!(
                word("running_for").starts_with(word("running")),
                "{}: running_for",
                path.display()
            );
            for key in table.keys() {
                assert!(
                    ENGLISH.iter().any(|(k, _)| k == key) || key.starts_with("reason_"),
                    "{}: {key} is no key of the widget's",
                    path.display()
                );
            }
            seen += 1;
        }
        assert!(seen >= 6, "{seen} translations in {}", dir.display());
    }
}

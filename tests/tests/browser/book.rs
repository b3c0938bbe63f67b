//! docs/ as a book (`make book`; the server serves it at /docs/): in a
//! real browser each of its snippets shows the output its page promises,
//! then runs on the real server and prints just that.

use std::path::Path;

use serde_json::json;
use snipbox_page::find::{Settings, blocks};
use snipbox_page::html::Document;
use snipbox_tests::browser::Fixture;

use crate::generators::{run, snippets};

/// The book's pages with snippets, and what each of their snippets prints.
const PAGES: &[(&str, &[&str])] = &[
    ("index.html", &["6 words, the longest: reader"]),
    ("verify.html", &["0\n1\n4"]),
];

/// The snippets of one built page of the book, by the widget's rules and
/// the book's selector (theme/head.hbs).
fn snippets_in(page: &Path) -> usize {
    let html = std::fs::read_to_string(page).unwrap();
    let settings = Settings {
        selector: Some("code.snippet".into()),
        ..Settings::default()
    };
    let doc = Document::parse(&html);
    blocks(&&doc, &settings).len()
}

#[tokio::test]
async fn the_books_snippets_show_their_promised_output_and_run() {
    let server = snipbox_tests::shared();
    let book = snipbox_tests::sites::book();
    // The list above is the book's: every page with a snippet (but the
    // print version, all chapters in one page) is in it.
    for entry in std::fs::read_dir(&book).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.ends_with(".html") || name == "print.html" {
            continue;
        }
        let listed = PAGES
            .iter()
            .find(|(p, _)| *p == name)
            .map_or(0, |(_, outputs)| outputs.len());
        assert_eq!(snippets_in(&path), listed, "the book's {name}");
    }
    for (page, outputs) in PAGES {
        let fixture = Fixture::open(&format!("{}/docs/{page}", server.base)).await;
        snippets(&fixture, outputs.len()).await;
        let promised = fixture
            .eval(
                "return [...document.querySelectorAll('.snipbox')].map((s) =>
                   [s.querySelector('.snipbox-stdout').textContent, s.querySelector('.snipbox-status').textContent]);",
            )
            .await;
        let want: Vec<_> = outputs
            .iter()
            .map(|o| json!([o, "the output the page shows"]))
            .collect();
        assert_eq!(promised, json!(want), "{page}: before a run");
        for (i, want) in outputs.iter().enumerate() {
            assert_eq!(run(&fixture, i).await, *want, "{page}: snippet {i}");
        }
        fixture.close().await;
    }
}

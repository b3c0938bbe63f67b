//! The widget speaks the page's language: `<html lang>` picks one of its
//! bundled translations (widget/i18n/), any other language is English,
//! and the page's own `window.SNIPBOX.strings` win key by key.

use snipbox_tests::browser::{Fixture, Process, free_port, page, text_until};

/// A page in `lang` holding `body`, with the widget from `base` running
/// code on `server`; the page and what serves it.
async fn open(
    base: &str,
    server: &str,
    lang: &str,
    body: &str,
) -> (Fixture, (Process, String, tempfile::TempDir)) {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><meta charset=\"utf-8\"><title>docs</title>\n\
         <script type=\"module\" src=\"{base}/widget/snipbox.js\" data-server=\"{server}\"></script>\n{body}"
    );
    let site = page(&html);
    let fixture = Fixture::open(&site.1).await;
    (fixture, site)
}

/// The snippet `id`'s buttons' words.
async fn buttons(page: &Fixture, id: &str) -> serde_json::Value {
    page.eval(&format!(
        "return [...document.querySelectorAll('#{id} .snipbox-bar button')].map((b) => b.textContent)"
    ))
    .await
}

#[tokio::test]
async fn a_german_page_gets_german_words_an_unknown_language_english_and_the_pages_own_win() {
    let server = snipbox_tests::shared();
    let base = &server.base;
    let exits = r#"<snip-box id="one" sandbox="python">import sys; sys.exit(3)</snip-box>"#;

    // German: the run bar, the status line, a failed run.
    let (de, _site) = open(base, base, "de", exits).await;
    text_until(&de.client, "#one .snipbox-run", |t| t == "Ausführen").await;
    assert_eq!(
        buttons(&de, "one").await,
        serde_json::json!(["Ausführen", "Anhalten", "Zurücksetzen", "Kopieren"])
    );
    de.eval("document.querySelector('#one .snipbox-run').click()")
        .await;
    text_until(&de.client, "#one .snipbox-status", |t| t == "✗ Exit-Code 3").await;
    de.close().await;

    // A server that is down, in German (the region part of the tag aside).
    let down = format!("http://127.0.0.1:{}", free_port());
    let (de, _site) = open(base, &down, "de-AT", exits).await;
    text_until(&de.client, "#one .snipbox-run", |t| t == "Ausführen").await;
    de.eval("document.querySelector('#one .snipbox-run').click()")
        .await;
    text_until(&de.client, "#one .snipbox-status", |t| {
        t.starts_with("✗ der Server ist nicht erreichbar (")
    })
    .await;
    de.close().await;

    // A language the widget has no words for: English.
    let (sw, _site) = open(base, base, "sw", exits).await;
    text_until(&sw.client, "#one .snipbox-run", |t| t == "Run").await;
    sw.eval("document.querySelector('#one .snipbox-run').click()")
        .await;
    text_until(&sw.client, "#one .snipbox-status", |t| t == "✗ exit 3").await;
    sw.close().await;

    // French, with the page's own word for Run.
    let body =
        format!("<script>window.SNIPBOX = {{ strings: {{ run: \"Lancer\" }} }};</script>\n{exits}");
    let (fr, _site) = open(base, base, "fr", &body).await;
    text_until(&fr.client, "#one .snipbox-run", |t| t == "Lancer").await;
    assert_eq!(
        buttons(&fr, "one").await,
        serde_json::json!(["Lancer", "Arrêter", "Réinitialiser", "Copier"])
    );
    fr.close().await;
}

#[tokio::test]
async fn why_a_run_ended_is_said_in_the_pages_language_with_its_signal() {
    let server = snipbox_tests::shared();
    let base = &server.base;
    let body = r#"<snip-box id="seg" sandbox="python">import os, signal
os.kill(os.getpid(), signal.SIGSEGV)</snip-box>"#;
    for (lang, want) in [
        ("de", "✗ durch das Signal SIGSEGV beendet"),
        ("en", "✗ killed by SIGSEGV (segmentation fault)"),
    ] {
        let (page, _site) = open(base, base, lang, body).await;
        text_until(&page.client, "#seg .snipbox-run", |t| !t.is_empty()).await;
        page.eval("document.querySelector('#seg .snipbox-run').click()")
            .await;
        let status = text_until(&page.client, "#seg .snipbox-status", |t| t.starts_with('✗')).await;
        assert_eq!(status, want, "{lang}");
        page.close().await;
    }
}

//! The playground page at `/` in a real browser (headless Chromium), against
//! the real server and sandboxes.

use fantoccini::{Client, Locator, key::Key};
use snipbox_tests::Server;
use snipbox_tests::browser::{browser, click, code_of, count, page, text_until};

/// Opens the playground and waits until it shows a sandbox.
async fn open(client: &Client, url: &str) {
    client.goto(url).await.unwrap();
    text_until(client, ".pg-tab-name", |t| !t.is_empty()).await;
}

async fn pick(client: &Client, sandbox: &str) {
    click(client, &format!(".pg-sandbox option[value=\"{sandbox}\"]")).await;
    text_until(client, ".pg-tab-name[aria-selected=true]", |t| {
        !t.is_empty()
    })
    .await;
}

/// Replaces the field's text as a reader would: select all, then type.
async fn type_into(client: &Client, css: &str, text: &str) {
    let el = client.find(Locator::Css(css)).await.unwrap();
    el.click().await.unwrap();
    el.send_keys(&format!("{}a{}{text}", Key::Control, Key::Null))
        .await
        .unwrap();
}

async fn run(client: &Client) -> String {
    click(client, ".pg-run").await;
    text_until(client, ".pg-output .snipbox-status", |t| {
        t.starts_with('✓') || t.starts_with('✗')
    })
    .await
}

async fn stdout(client: &Client) -> String {
    client
        .find(Locator::Css(".pg-output .snipbox-stdout"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_sandbox_is_listed_and_its_example_runs() {
    let server = Server::start(&[]);
    let sandboxes = server.sandboxes().await;
    assert!(sandboxes.len() >= 5, "{sandboxes:?}");
    let (_driver, client, _profile) = browser().await;
    open(&client, &server.url("/")).await;
    assert_eq!(count(&client, ".pg-sandbox option").await, sandboxes.len());
    for s in &sandboxes {
        pick(&client, &s.name).await;
        assert_eq!(code_of(&client, ".pg-code").await, s.example, "{}", s.name);
        let status = run(&client).await;
        assert!(status.starts_with('✓'), "{}: {status}", s.name);
        assert_eq!(stdout(&client).await, "Hello, world!", "{}", s.name);
    }
    client.close().await.unwrap();
}

#[tokio::test]
async fn edits_survive_switching_sandboxes_and_reloading() {
    let server = Server::start(&[]);
    let (_driver, client, _profile) = browser().await;
    open(&client, &server.url("/")).await;
    pick(&client, "python").await;
    type_into(&client, ".pg-code", "print('mine')").await;
    pick(&client, "shell").await;
    assert_eq!(code_of(&client, ".pg-code").await, "echo 'Hello, world!'");
    pick(&client, "python").await;
    assert_eq!(code_of(&client, ".pg-code").await, "print('mine')");

    // The next visit starts where this one stopped.
    open(&client, &server.url("/")).await;
    assert_eq!(code_of(&client, ".pg-sandbox").await, "python");
    assert_eq!(code_of(&client, ".pg-code").await, "print('mine')");
    client.close().await.unwrap();
}

/// Python with an extra file and stdin; returns the playground's page.
async fn python_with_a_file_and_stdin(client: &Client) {
    pick(client, "python").await;
    type_into(
        client,
        ".pg-code",
        "import sys, helper\nprint(helper.GREETING, sys.stdin.read().strip())",
    )
    .await;
    click(client, ".pg-add").await;
    type_into(client, ".pg-filename", "helper.py\n").await;
    text_until(client, ".pg-tab-name[aria-selected=true]", |t| {
        t == "helper.py"
    })
    .await;
    type_into(client, ".pg-code", "GREETING = 'hello'").await;
    type_into(client, ".pg-stdin", "reader").await;
}

#[tokio::test]
async fn extra_files_and_stdin_reach_the_program() {
    let server = Server::start(&[]);
    let (_driver, client, _profile) = browser().await;
    open(&client, &server.url("/")).await;
    python_with_a_file_and_stdin(&client).await;
    let status = run(&client).await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(stdout(&client).await, "hello reader");

    // Deleting the file: the import fails.
    click(&client, ".pg-tab-delete").await;
    assert_eq!(count(&client, ".pg-tab-name").await, 1);
    let status = run(&client).await;
    assert_eq!(status, "✗ exit 1");
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_shared_link_restores_the_files_in_a_fresh_browser() {
    let server = Server::start(&[]);
    let (_driver, client, _profile) = browser().await;
    open(&client, &server.url("/")).await;
    python_with_a_file_and_stdin(&client).await;
    click(&client, ".pg-share").await;
    let link = text_until(&client, ".pg-shared-text", |t| t.contains("#code=")).await;
    assert!(link.starts_with(&server.url("/#code=")), "{link}");
    client.close().await.unwrap();

    // Another browser, its own profile: nothing stored.
    let (_driver, client, _profile) = browser().await;
    open(&client, &link).await;
    assert_eq!(code_of(&client, ".pg-sandbox").await, "python");
    let tabs = client.find_all(Locator::Css(".pg-tab-name")).await.unwrap();
    assert_eq!(tabs.len(), 2);
    assert_eq!(tabs[1].text().await.unwrap(), "helper.py");
    assert_eq!(code_of(&client, ".pg-stdin").await, "reader");
    let status = run(&client).await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(stdout(&client).await, "hello reader");
    client.close().await.unwrap();
}

#[tokio::test]
async fn the_embed_code_works_on_a_blank_page() {
    let server = Server::start(&[]);
    let (_driver, client, _profile) = browser().await;
    open(&client, &server.url("/")).await;
    python_with_a_file_and_stdin(&client).await;
    click(&client, ".pg-embed").await;
    let html = text_until(&client, ".pg-shared-text", |t| t.contains("<snip-box")).await;
    let html = client
        .find(Locator::Css(".pg-shared-text"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or(html);

    let (_site, url, _dir) = page(&format!("<!doctype html><meta charset=\"utf-8\">\n{html}"));
    client.goto(&url).await.unwrap();
    text_until(&client, "snip-box .snipbox-run", |t| t == "Run").await;
    click(&client, "snip-box .snipbox-run").await;
    text_until(&client, "snip-box .snipbox-stdout", |t| t == "hello reader").await;
    client.close().await.unwrap();
}

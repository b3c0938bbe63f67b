//! The playground page at `/`: every sandbox, files, stdin, share links,
//! embed code, the editor's highlighting, output modes and files.

use fantoccini::{Client, Locator, key::Key};
use snipbox_tests::browser::{self, Fixture, click, code_of, count, text_until};
use snipbox_tests::{request, shared};

use crate::widget::{PICTURES, PLOT, pictures, plots_shown};

/// Opens the playground at `url` and waits until it shows a sandbox.
async fn open(url: &str) -> Fixture {
    let page = Fixture::open(url).await;
    text_until(&page.client, ".pg-tab-name", |t| !t.is_empty()).await;
    page
}

async fn pick(client: &Client, sandbox: &str) {
    click(client, &format!(".pg-sandbox option[value=\"{sandbox}\"]")).await;
    text_until(client, ".pg-tab-name[aria-current=true]", |t| !t.is_empty()).await;
}

/// Replaces the field's text as a reader would: select all, then type.
async fn type_into(client: &Client, css: &str, text: &str) {
    let el = client.find(Locator::Css(css)).await.unwrap();
    el.click().await.unwrap();
    el.send_keys(&format!("{}a{}{text}", Key::Control, Key::Null))
        .await
        .unwrap();
}

/// The editor's element that takes typing.
const EDITOR: &str = ".pg-code .cm-content";

/// The text in the editor, line by line as it shows it.
async fn editor_text(client: &Client) -> String {
    let lines = client
        .execute(
            "return [...document.querySelectorAll('.pg-code .cm-line')].map((l) => l.textContent).join('\\n')",
            vec![],
        )
        .await
        .unwrap();
    lines.as_str().unwrap_or_default().to_string()
}

/// Runs the playground's program of `sandbox`; the status it ends with.
async fn run_in(client: &Client, sandbox: &str) -> String {
    click(client, ".pg-output .snipbox-run").await;
    browser::text_until_within(
        client,
        ".pg-output .snipbox-status",
        browser::run_time(sandbox),
        |t| t.starts_with('✓') || t.starts_with('✗'),
    )
    .await
}

async fn run(client: &Client) -> String {
    run_in(client, "python").await
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
    let server = shared();
    let sandboxes = server.sandboxes().await;
    assert!(sandboxes.len() >= 5, "{sandboxes:?}");
    let page = open(&server.url("/")).await;
    let client = &page.client;
    assert_eq!(count(client, ".pg-sandbox option").await, sandboxes.len());
    for s in &sandboxes {
        pick(client, &s.name).await;
        assert_eq!(editor_text(client).await, s.example, "{}", s.name);
        let status = run_in(client, &s.name).await;
        assert!(status.starts_with('✓'), "{}: {status}", s.name);
        // What the API answers for the same example, as the page shows it.
        let want = server.exec(&request(&s.name, &s.example)).await.stdout;
        assert_eq!(stdout(client).await.trim(), want.trim(), "{}", s.name);
    }
    page.close().await;
}

#[tokio::test]
async fn edits_survive_switching_sandboxes_and_reloading() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    pick(client, "python").await;
    type_into(client, EDITOR, "print('mine')").await;
    pick(client, "bash").await;
    let bash = server
        .sandboxes()
        .await
        .into_iter()
        .find(|s| s.name == "bash");
    assert_eq!(editor_text(client).await, bash.unwrap().example);
    pick(client, "python").await;
    assert_eq!(editor_text(client).await, "print('mine')");

    // The next visit starts where this one stopped.
    client.goto(&server.url("/")).await.unwrap();
    text_until(client, ".pg-tab-name", |t| !t.is_empty()).await;
    assert_eq!(code_of(client, ".pg-sandbox").await, "python");
    assert_eq!(editor_text(client).await, "print('mine')");
    page.close().await;
}

/// Python with an extra file and stdin.
async fn python_with_a_file_and_stdin(client: &Client) {
    pick(client, "python").await;
    type_into(
        client,
        EDITOR,
        "import sys, helper\nprint(helper.GREETING, sys.stdin.read().strip())",
    )
    .await;
    click(client, ".pg-add").await;
    type_into(client, ".pg-filename", "helper.py\n").await;
    text_until(client, ".pg-tab-name[aria-current=true]", |t| {
        t == "helper.py"
    })
    .await;
    type_into(client, EDITOR, "GREETING = 'hello'").await;
    type_into(client, ".pg-stdin", "reader").await;
}

#[tokio::test]
async fn extra_files_and_stdin_reach_the_program() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    python_with_a_file_and_stdin(client).await;
    let status = run(client).await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(stdout(client).await, "hello reader");

    // Deleting the file: the import fails.
    click(client, ".pg-tab-delete").await;
    assert_eq!(count(client, ".pg-tab-name").await, 1);
    let status = run(client).await;
    assert_eq!(status, "✗ exit 1");
    page.close().await;
}

#[tokio::test]
async fn a_shared_link_restores_the_files_in_a_fresh_browser() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    python_with_a_file_and_stdin(client).await;
    click(client, ".pg-share").await;
    let link = text_until(client, ".pg-shared-text", |t| t.contains("#code=")).await;
    assert!(link.starts_with(&server.url("/#code=")), "{link}");
    page.close().await;

    // Another browser, its own profile: nothing stored.
    let page = open(&link).await;
    let client = &page.client;
    assert_eq!(code_of(client, ".pg-sandbox").await, "python");
    let tabs = client.find_all(Locator::Css(".pg-tab-name")).await.unwrap();
    assert_eq!(tabs.len(), 2);
    assert_eq!(tabs[1].text().await.unwrap(), "helper.py");
    assert_eq!(code_of(client, ".pg-stdin").await, "reader");
    let status = run(client).await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(stdout(client).await, "hello reader");
    page.close().await;
}

#[tokio::test]
async fn the_embed_code_works_on_a_blank_page() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    python_with_a_file_and_stdin(client).await;
    click(client, ".pg-embed").await;
    text_until(client, ".pg-shared-text", |t| t.contains("<snip-box")).await;
    let html = code_of(client, ".pg-shared-text").await;

    let (_site, url, _dir) =
        browser::page(&format!("<!doctype html><meta charset=\"utf-8\">\n{html}"));
    client.goto(&url).await.unwrap();
    text_until(client, "snip-box .snipbox-run", |t| t == "Run").await;
    click(client, "snip-box .snipbox-run").await;
    text_until(client, "snip-box .snipbox-stdout", |t| t == "hello reader").await;
    page.close().await;
}

/// Whether the editor is in `language`'s mode and highlights `keyword` as
/// a keyword and `string` as a string.
async fn highlighted(client: &Client, language: &str, keyword: &str, string: &str) {
    for _ in 0..100 {
        let shown = client
            .execute(
                "const host = document.querySelector('.pg-code');
                 const all = (c) => [...host.querySelectorAll('.cm-line .' + c)].map((t) => t.textContent);
                 return [host.dataset.language, all('tok-keyword'), all('tok-string')];",
                vec![],
            )
            .await
            .unwrap();
        if shown[0] == language
            && shown[1].as_array().unwrap().iter().any(|k| k == keyword)
            && shown[2].as_array().unwrap().iter().any(|k| k == string)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{language}: {keyword:?} not a keyword or {string:?} not a string");
}

#[tokio::test]
async fn the_editor_highlights_the_sandboxs_language_and_switches_with_it() {
    let server = shared();
    let names: Vec<String> = server
        .sandboxes()
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    // The same text: a keyword in one language is a name in another.
    let cases = [
        ("python", "python", "def f(): return 'py'", "def", "'py'"),
        ("sqlite", "sql", "select 'sq' as def;", "select", "'sq'"),
        (
            "go",
            "go",
            "package main\nvar s = \"go\"",
            "package",
            "\"go\"",
        ),
        ("python", "python", "def f(): return 'py'", "def", "'py'"),
    ];
    for (sandbox, language, code, keyword, string) in cases {
        assert!(
            names.iter().any(|n| n == sandbox),
            "no {sandbox} sandbox on this server"
        );
        pick(client, sandbox).await;
        type_into(client, EDITOR, code).await;
        highlighted(client, language, keyword, string).await;
    }
    // In SQL, `def` is just a name.
    pick(client, "sqlite").await;
    highlighted(client, "sql", "select", "'sq'").await;
    let keywords = client
        .execute(
            "return [...document.querySelectorAll('.pg-code .tok-keyword')].map((t) => t.textContent)",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !keywords.as_array().unwrap().iter().any(|k| k == "def"),
        "{keywords}"
    );
    page.close().await;
}

#[tokio::test]
async fn tab_indents_and_ctrl_enter_runs_in_the_editor() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    pick(client, "python").await;
    type_into(client, EDITOR, "if True:").await;
    let editor = client.find(Locator::Css(EDITOR)).await.unwrap();
    editor
        .send_keys(&format!("{}print('in')", Key::Enter))
        .await
        .unwrap();
    assert_eq!(editor_text(client).await, "if True:\n    print('in')");
    // Shift+Tab takes the indent away, Tab puts it back.
    editor
        .send_keys(&format!("{}{}{}", Key::Shift, Key::Tab, Key::Null))
        .await
        .unwrap();
    assert_eq!(editor_text(client).await, "if True:\nprint('in')");
    editor.send_keys(&Key::Tab.to_string()).await.unwrap();
    assert_eq!(editor_text(client).await, "if True:\n    print('in')");
    editor
        .send_keys(&format!("{}{}{}", Key::Control, Key::Enter, Key::Null))
        .await
        .unwrap();
    text_until(client, ".pg-output .snipbox-status", |t| t.starts_with('✓')).await;
    assert_eq!(stdout(client).await, "in");
    page.close().await;
}

#[tokio::test]
async fn the_playground_shows_tables_and_pictures_in_its_output_pane() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    pick(client, "python").await;
    click(client, ".pg-mode option[value=table]").await;
    type_into(client, EDITOR, "print('[{\"a\": 1}, {\"a\": 2}]')").await;
    run(client).await;
    let cells = page
        .eval("return [...document.querySelectorAll('.pg-output .snipbox-table th, .pg-output .snipbox-table td')].map((c) => c.textContent)")
        .await;
    assert_eq!(cells, serde_json::json!(["a", "1", "2"]));
    type_into(client, EDITOR, "print('not a table')").await;
    run(client).await;
    assert_eq!(stdout(client).await, "not a table");
    assert_eq!(count(client, ".pg-output table").await, 0);

    click(client, ".pg-mode option[value=text]").await;
    // The editor indents new lines as it goes: the program is typed as
    // one line that runs the rest.
    let program = format!("exec({PICTURES:?})");
    type_into(client, EDITOR, &program).await;
    let status = run(client).await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(
        pictures(&page, ".pg-output .snipbox-more img").await,
        serde_json::json!([["chart.png", 800, true], ["shape.svg", 100, true]])
    );
    page.close().await;
}

#[tokio::test]
async fn a_matplotlib_plot_shows_in_the_output_pane() {
    let server = shared();
    let page = open(&server.url("/")).await;
    let client = &page.client;
    pick(client, "python-data").await;
    type_into(client, EDITOR, &format!("exec({PLOT:?})")).await;
    let status = run_in(client, "python-data").await;
    assert!(status.starts_with('✓'), "{status}");
    plots_shown(&page, ".pg-output .snipbox-more img").await;
    page.close().await;
}

#[tokio::test]
async fn a_fresh_browser_opens_on_python_or_the_sandbox_its_address_names() {
    let server = shared();
    let page = open(&server.url("/")).await;
    assert_eq!(code_of(&page.client, ".pg-sandbox").await, "python");
    page.close().await;
    let page = open(&server.url("/?sandbox=go")).await;
    assert_eq!(code_of(&page.client, ".pg-sandbox").await, "go");
    page.close().await;
    // A name no sandbox has: the default.
    let page = open(&server.url("/?sandbox=cobol")).await;
    assert_eq!(code_of(&page.client, ".pg-sandbox").await, "python");
    page.close().await;
}

#[tokio::test]
async fn an_interactive_program_takes_the_readers_answers() {
    let page = open(&shared().url("/")).await;
    let client = &page.client;
    pick(client, "python").await;
    type_into(
        client,
        EDITOR,
        "name = input('Name? ')\nprint(f'Hello, {name}!')\nage = input('Age? ')\nprint(f'{name} is {age}')",
    )
    .await;
    click(client, ".pg-interactive").await;
    assert_eq!(
        count(client, ".pg-stdin-label:not([hidden])").await,
        0,
        "no fixed stdin"
    );
    click(client, ".pg-output .snipbox-run").await;
    browser::answer(client, ".pg-output", "Name? ", "Ada").await;
    browser::answer(client, ".pg-output", "Hello, Ada!\nAge? ", "36").await;
    let status = text_until(client, ".pg-output .snipbox-status", |t| {
        t.starts_with('✓') || t.starts_with('✗')
    })
    .await;
    assert!(status.starts_with('✓'), "{status}");
    assert_eq!(
        stdout(client).await,
        "Name? Ada\nHello, Ada!\nAge? 36\nAda is 36"
    );
    // Embed carries it.
    click(client, ".pg-embed").await;
    let html = text_until(client, ".pg-shared-text", |t| t.contains("<snip-box")).await;
    assert!(html.contains("stdin=\"interactive\""), "{html}");
    page.close().await;
}

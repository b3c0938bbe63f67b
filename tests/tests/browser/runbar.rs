//! One run bar: the widget's snippets and the playground show runs through
//! the same component, so their bars and output panes have the same parts.

use snipbox_tests::browser::{Fixture, text_until};
use snipbox_tests::shared;

/// The classes of the run bar's parts, of what follows it (the output
/// pane), and of the output pane's parts, in the first element `root`
/// selects.
const PARTS: &str = "const bar = document.querySelector(arguments[0] + ' .snipbox-bar');
  const after = [];
  for (let el = bar.nextElementSibling; el; el = el.nextElementSibling) after.push(el.className);
  const pane = bar.nextElementSibling;
  return [[...bar.children].map((c) => c.className), after, [...pane.children].map((c) => c.className)];";

async fn parts(page: &Fixture, root: &str) -> serde_json::Value {
    page.client
        .execute(PARTS, vec![serde_json::json!(root)])
        .await
        .expect("the script runs")
}

#[tokio::test]
async fn the_widget_and_the_playground_share_one_run_bar() {
    let server = shared();
    let widget = Fixture::widget(
        &server.base,
        r#"<snip-box id="one" sandbox="python">print(1)</snip-box>"#,
    )
    .await;
    text_until(&widget.client, "#one .snipbox-run", |t| t == "Run").await;
    let playground = Fixture::open(&server.url("/")).await;
    text_until(&playground.client, ".pg-output .snipbox-run", |t| {
        t == "Run"
    })
    .await;

    let snippet = parts(&widget, "#one").await;
    let pane = parts(&playground, ".pg-output").await;
    let bar = [
        "snipbox-run",
        "snipbox-stop",
        "snipbox-status",
        "snipbox-announce",
    ];
    let output = ["snipbox-stdout", "snipbox-more", "snipbox-stderr"];
    // The snippet adds its own buttons (Reset, Copy) to the same bar.
    assert_eq!(
        snippet,
        serde_json::json!([
            [
                "snipbox-run",
                "snipbox-stop",
                "snipbox-reset",
                "snipbox-copy",
                "snipbox-status",
                "snipbox-announce"
            ],
            ["snipbox-output"],
            output
        ])
    );
    assert_eq!(pane, serde_json::json!([bar, ["snipbox-output"], output]));
    widget.close().await;
    playground.close().await;
}

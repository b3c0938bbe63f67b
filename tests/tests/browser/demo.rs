//! The server's own pages in a real browser (headless Chromium), against the
//! real server and sandboxes: the demo at `/demo` runs every example it
//! shows, and shows the HTML of each.

use std::time::Duration;

use fantoccini::Locator;
use snipbox_tests::Server;
use snipbox_tests::browser::{Fixture, answer, click, text_until};

/// What an example prints when run.
enum Shows {
    /// This standard output, as text.
    Text(&'static str),
    /// An SVG picture in a sandboxed frame: its source contains this, and it
    /// draws so many rectangles.
    Svg(&'static str, usize),
    /// A table: these header and data cells, row by row.
    Table(&'static [&'static [&'static str]]),
    /// An interactive run: each prompt answered with its line, then this
    /// standard output, the lines typed among it as a terminal shows them.
    Conversation(&'static [(&'static str, &'static str)], &'static str),
}

/// One example of the demo page: the id of its block, the element that
/// carries the id in the page's HTML, and what it shows.
struct Example {
    id: &'static str,
    tag: &'static str,
    shows: Shows,
}

/// The demo's examples in page order.
const EXAMPLES: &[Example] = &[
    Example {
        id: "sql-schema",
        tag: "snip-box",
        shows: Shows::Text(""),
    },
    Example {
        id: "sql-rows",
        tag: "pre",
        shows: Shows::Text(""),
    },
    Example {
        id: "sql-where",
        tag: "pre",
        shows: Shows::Text(
            "┌───────────────────────────┬──────┐
│           title           │ year │
├───────────────────────────┼──────┤
│ I, Robot                  │ 1950 │
│ Foundation                │ 1951 │
│ A Wizard of Earthsea      │ 1968 │
│ The Left Hand of Darkness │ 1969 │
└───────────────────────────┴──────┘",
        ),
    },
    Example {
        id: "sql-join",
        tag: "pre",
        shows: Shows::Text(
            "┌──────────────────────┬───────────────────┐
│        title         │      author       │
├──────────────────────┼───────────────────┤
│ The Dispossessed     │ Ursula K. Le Guin │
│ Parable of the Sower │ Octavia E. Butler │
└──────────────────────┴───────────────────┘",
        ),
    },
    Example {
        id: "sql-group",
        tag: "pre",
        shows: Shows::Text(
            "┌───────────────────┬────────┬───────┐
│      author       │ titles │ pages │
├───────────────────┼────────┼───────┤
│ Ursula K. Le Guin │ 3      │ 856   │
│ Octavia E. Butler │ 2      │ 609   │
│ Isaac Asimov      │ 2      │ 508   │
│ Ted Chiang        │ 1      │ 281   │
└───────────────────┴────────┴───────┘",
        ),
    },
    Example {
        id: "py-files",
        tag: "snip-box",
        shows: Shows::Text("Kindred: 5.3 h\nThe Dispossessed: 7.7 h"),
    },
    Example {
        id: "py-svg",
        tag: "snip-box",
        shows: Shows::Svg(
            r##"<text x="70" y="23" text-anchor="end">Le Guin</text>
<rect x="80" y="8" width="210" height="20" rx="3" fill="#0b6bcb"/>"##,
            4,
        ),
    },
    Example {
        id: "py-table",
        tag: "snip-box",
        shows: Shows::Table(&[
            &["title", "year", "pages"],
            &["Kindred", "1979", "264"],
            &["The Dispossessed", "1974", "387"],
        ]),
    },
    Example {
        id: "py-ask",
        tag: "snip-box",
        shows: Shows::Conversation(
            &[("Your name? ", "Ada"), ("Pages a day, Ada? ", "30")],
            "Your name? Ada\nPages a day, Ada? 30\nAda, that is 10950 pages a year.",
        ),
    },
    Example {
        id: "js-stdin",
        tag: "pre",
        shows: Shows::Text("3 books, 856 pages\nlongest: 387 pages"),
    },
    Example {
        id: "sh-csv",
        tag: "pre",
        shows: Shows::Text("The Dispossessed\nParable of the Sower\ntotal: 1465 pages"),
    },
    Example {
        id: "sh-words",
        tag: "snip-box",
        shows: Shows::Text("merrily 4\nrow 3"),
    },
    Example {
        id: "c-bars",
        tag: "pre",
        shows: Shows::Text("183 ###\n286 #####\n387 #######"),
    },
];

/// Waits for the loader's `snipbox:mounted` (the page records its count on
/// `<html>`) and returns how many snippets it mounted.
async fn mounted(page: &Fixture) -> u64 {
    for _ in 0..300 {
        let count = page
            .eval("return document.documentElement.dataset.snipboxMounted || null")
            .await;
        if let Some(n) = count.as_str().and_then(|n| n.parse().ok()) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("snipbox:mounted never fired on /demo");
}

#[tokio::test]
async fn every_demo_example_runs_and_shows_its_own_html() {
    let server = Server::start(&[]);
    let raw = reqwest::get(server.url("/demo"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = Fixture::open(&server.url("/demo")).await;
    let client = &page.client;

    assert_eq!(mounted(&page).await, EXAMPLES.len() as u64);
    let runs = client.find_all(Locator::Css(".snipbox-run")).await.unwrap();
    assert_eq!(runs.len(), EXAMPLES.len());
    let ids = page
        .eval("return [...document.querySelectorAll('.snipbox')].map((s) => s.parentElement.id)")
        .await;
    let want: Vec<&str> = EXAMPLES.iter().map(|e| e.id).collect();
    assert_eq!(ids, serde_json::json!(want), "the examples, in page order");

    // Each example's HTML beside it, exactly as the page's file has it; the
    // setup's shows the loader.
    let sources = page
        .eval("return [...document.querySelectorAll('.demo-source')].map((p) => p.textContent)")
        .await;
    let sources: Vec<&str> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        sources.len(),
        EXAMPLES.len() + 1,
        "one per example, one setup"
    );
    assert!(sources[0].contains(r#"<script type="module" src="/widget/snipbox.js"></script>"#));
    for source in &sources {
        for line in source.lines() {
            assert!(raw.contains(line), "not in demo.html as written: {line:?}");
        }
    }
    for example in EXAMPLES {
        let tag = format!("<{} id=\"{}\"", example.tag, example.id);
        assert!(
            sources.iter().any(|s| s.contains(&tag)),
            "no .demo-source shows {tag}"
        );
    }

    // Every example runs in its sandbox and shows what the tutorial says.
    for example in EXAMPLES {
        let id = example.id;
        click(client, &format!("#{id} .snipbox-run")).await;
        if let Shows::Conversation(turns, _) = example.shows {
            for (prompt, line) in turns {
                answer(client, &format!("#{id}"), prompt, line).await;
            }
        }
        let status = text_until(client, &format!("#{id} .snipbox-status"), |t| {
            t.starts_with('✓') || t.starts_with('✗')
        })
        .await;
        let stderr = client
            .find(Locator::Css(&format!("#{id} .snipbox-stderr")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(status.starts_with('✓'), "#{id}: {status}: {stderr}");
        match example.shows {
            Shows::Text(want) | Shows::Conversation(_, want) => {
                let stdout =
                    text_until(client, &format!("#{id} .snipbox-stdout"), |t| t == want).await;
                assert_eq!(stdout, want, "#{id}");
            }
            Shows::Table(rows) => {
                text_until(client, &format!("#{id} .snipbox-table"), |_| true).await;
                let cells = page
                    .eval(&format!(
                        "return [...document.querySelectorAll('#{id} .snipbox-table tr')]
                           .map((r) => [...r.children].map((c) => c.textContent))"
                    ))
                    .await;
                assert_eq!(cells, serde_json::json!(rows), "#{id}");
            }
            Shows::Svg(part, rects) => {
                let frame = client
                    .wait()
                    .for_element(Locator::Css(&format!("#{id} iframe.snipbox-frame")))
                    .await
                    .unwrap();
                assert_eq!(frame.attr("sandbox").await.unwrap().as_deref(), Some(""));
                let doc = frame.attr("srcdoc").await.unwrap().unwrap_or_default();
                assert!(doc.contains(part), "#{id}: {doc}");
                frame.enter_frame().await.unwrap();
                let drawn = client.find_all(Locator::Css("svg rect")).await.unwrap();
                assert_eq!(drawn.len(), rects, "#{id}");
                client.enter_parent_frame().await.unwrap();
            }
        }
    }

    page.close().await;
}

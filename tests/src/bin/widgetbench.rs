//! `make bench-widget`: what the widget costs a page, in one run.
//!
//! (1) Size: each file a page downloads for the widget (static/widget/), raw,
//! gzip (level 9) and brotli (quality 11), the bytes this server actually
//! sends with `accept-encoding: br`, and the total brotli against the budget.
//! (2) Mount time: a page of 50 snippets in headless Chromium, each load in a
//! fresh browser profile (an empty cache, as a first visit), then once more
//! from the cache. The page records `performance.now()` (time since
//! navigation start) when the loader fires `snipbox:mounted`, and when the
//! wasm is instantiated, so the mount call's own share shows apart. Beside
//! it, the same page without the widget: DOMContentLoaded and load.
//!
//! The pages come from loopback static servers on ports of their own, the
//! widget from the real server binary; all traffic stays on 127.0.0.1. No
//! sandbox container runs (warm pools are off).

use std::io::Write;
use std::time::Duration;

use fantoccini::Client;
use serde_json::Value;
use snipbox_tests::browser::{browser, page};
use snipbox_tests::{Server, root};

/// The files a page downloads for the widget, in the order it asks for them.
const FILES: [&str; 4] = [
    "snipbox.js",
    "snipbox_widget.js",
    "snipbox_widget_bg.wasm",
    "snipbox.css",
];
const SIZE_BUDGET: usize = 60 * 1024;
const SNIPPETS: usize = 50;
const LOADS: usize = 10;
const MOUNT_BUDGET_MS: f64 = 300.0;

fn gzip(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory").len()
}

fn brotli(bytes: &[u8]) -> usize {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("in memory");
    out.len()
}

/// The bytes the server sends for `path` to a client that accepts brotli.
async fn served(server: &Server, path: &str) -> usize {
    let resp = reqwest::Client::new()
        .get(server.url(path))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("the server answers");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.bytes().await.expect("body").len()
}

/// Prints the size table; returns the total brotli size.
async fn sizes(server: &Server) -> usize {
    let dir = root().join("static/widget");
    println!("Widget files (static/widget/), bytes");
    println!();
    println!("| file | raw | gzip -9 | brotli q11 | served (br) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut total = [0; 4];
    for name in FILES {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| {
            panic!("{}: {e}: run `make widget` first", dir.join(name).display())
        });
        let row = [
            bytes.len(),
            gzip(&bytes),
            brotli(&bytes),
            served(server, &format!("/widget/{name}")).await,
        ];
        println!(
            "| {name} | {} | {} | {} | {} |",
            row[0], row[1], row[2], row[3]
        );
        for (t, r) in total.iter_mut().zip(row) {
            *t += r;
        }
    }
    println!(
        "| total | {} | {} | {} | {} |",
        total[0], total[1], total[2], total[3]
    );
    println!();
    total[2]
}

/// The page: a timestamp and listeners first, then (if `widget`) the
/// loader, then the snippets, half of each kind.
fn page_html(widget: Option<&str>) -> String {
    let mut html = String::from(
        r#"<!doctype html><meta charset="utf-8"><title>50 snippets</title>
<script>
  const times = (window.SNIPBOX_BENCH = { start: performance.now() });
  for (const name of ["instantiate", "instantiateStreaming"]) {
    const inner = WebAssembly[name];
    WebAssembly[name] = function (...args) {
      const p = inner.apply(WebAssembly, args);
      p.then(() => { times.instantiated ??= performance.now(); }, () => {});
      return p;
    };
  }
  document.addEventListener("snipbox:mounted", (e) => {
    times.mounted = performance.now();
    times.count = e.detail.count;
    times.wasm = performance.getEntriesByType("resource").find((r) => r.name.endsWith(".wasm"))?.responseEnd;
  });
</script>
"#,
    );
    if let Some(base) = widget {
        html += &format!(r#"<script type="module" src="{base}/widget/snipbox.js"></script>"#);
        html.push('\n');
    }
    for i in 0..SNIPPETS {
        if i % 2 == 0 {
            html += &format!(r#"<snip-box sandbox="python">print({i})</snip-box>"#);
        } else {
            html += &format!(r#"<pre data-sandbox="shell"><code>echo {i}</code></pre>"#);
        }
        html.push('\n');
    }
    html
}

/// Evaluates `script` every 10 ms until it returns something other than null.
async fn poll(client: &Client, script: &str, what: &str) -> Value {
    for _ in 0..3000 {
        let v = client.execute(script, vec![]).await.expect("script runs");
        if !v.is_null() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened");
}

/// One load of the widget page, in ms since navigation start.
struct Mount {
    /// The wasm's last byte arrived.
    wasm: f64,
    /// The wasm was instantiated.
    instantiated: f64,
    /// The loader fired `snipbox:mounted`.
    mounted: f64,
}

async fn widget_load(client: &Client, url: &str) -> Mount {
    client.goto(url).await.expect("the page loads");
    let t = poll(
        client,
        "const t = window.SNIPBOX_BENCH; return t && t.mounted !== undefined ? t : null;",
        "snipbox:mounted",
    )
    .await;
    let count = t["count"].as_u64().unwrap_or(0);
    assert_eq!(
        count, SNIPPETS as u64,
        "the widget mounted {count} snippets"
    );
    let time = |k: &str| t[k].as_f64().unwrap_or(f64::NAN);
    Mount {
        wasm: time("wasm"),
        instantiated: time("instantiated"),
        mounted: time("mounted"),
    }
}

/// One load of the page without the widget: (DOMContentLoaded, load), in ms.
async fn plain_load(client: &Client, url: &str) -> (f64, f64) {
    client.goto(url).await.expect("the page loads");
    let t = poll(
        client,
        r#"const n = performance.getEntriesByType("navigation")[0];
           return n && n.loadEventEnd > 0 ? [n.domContentLoadedEventEnd, n.loadEventEnd] : null;"#,
        "load",
    )
    .await;
    (
        t[0].as_f64().expect("a time"),
        t[1].as_f64().expect("a time"),
    )
}

#[derive(Default)]
struct Times(Vec<f64>);

impl Times {
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    fn max(&self) -> f64 {
        self.0.iter().copied().fold(f64::NAN, f64::max)
    }
}

/// Every load's times, in ms.
#[derive(Default)]
struct Loads {
    cold_wasm: Times,
    cold_instantiated: Times,
    cold: Times,
    cold_mount: Times,
    warm: Times,
    warm_mount: Times,
    plain_dcl: Times,
    plain_load: Times,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "pass" } else { "over" }
}

#[tokio::main]
async fn main() {
    // Warm pools off: mounting runs nothing, so no container is needed.
    let server = Server::start(&[("SNIPBOX_POOL", "0")]);
    let total_brotli = sizes(&server).await;

    let (_widget_site, widget_url, _widget_dir) = page(&page_html(Some(&server.base)));
    let (_plain_site, plain_url, _plain_dir) = page(&page_html(None));
    let mut t = Loads::default();
    for _ in 0..LOADS {
        let (_driver, client, _profile) = browser().await;
        let m = widget_load(&client, &widget_url).await;
        t.cold_wasm.0.push(m.wasm);
        t.cold_instantiated.0.push(m.instantiated);
        t.cold.0.push(m.mounted);
        t.cold_mount.0.push(m.mounted - m.instantiated);
        let m = widget_load(&client, &widget_url).await;
        t.warm.0.push(m.mounted);
        t.warm_mount.0.push(m.mounted - m.instantiated);
        let (dcl, load) = plain_load(&client, &plain_url).await;
        t.plain_dcl.0.push(dcl);
        t.plain_load.0.push(load);
        client.close().await.expect("the session ends");
    }
    let rows = [
        ("wasm downloaded, empty cache", &t.cold_wasm),
        ("wasm instantiated, empty cache", &t.cold_instantiated),
        ("widget mounted, empty cache", &t.cold),
        ("  of which mount() after instantiation", &t.cold_mount),
        ("widget mounted, from cache", &t.warm),
        ("  of which mount() after instantiation", &t.warm_mount),
        ("without the widget: DOMContentLoaded", &t.plain_dcl),
        ("without the widget: load", &t.plain_load),
    ];

    println!(
        "A page of {SNIPPETS} snippets in headless Chromium, {LOADS} loads; ms since navigation start"
    );
    println!();
    println!("| measure | median | max |");
    println!("| --- | ---: | ---: |");
    for (name, t) in rows {
        println!("| {name} | {:.1} | {:.1} |", t.median(), t.max());
    }
    println!();
    println!(
        "widget download, brotli q11:   {total_brotli} bytes of {SIZE_BUDGET}: {}",
        verdict(total_brotli <= SIZE_BUDGET)
    );
    println!(
        "mount, empty cache, median:    {:.1} ms of {MOUNT_BUDGET_MS} ms: {}",
        t.cold.median(),
        verdict(t.cold.median() <= MOUNT_BUDGET_MS)
    );
}

//! Driving a real browser: headless Chromium through chromedriver, pages
//! served from an origin of their own, and waiting on what the page shows.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::eventually;

/// A process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something accepts connections on this loopback port.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Serves `html` as a page on its own origin (a static file server on
/// another port): the file server, the page's URL, and the folder it serves
/// (all three must live as long as the page is used).
pub fn page(html: &str) -> (Process, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), html).unwrap();
    let (server, base) = serve(dir.path());
    (server, format!("{base}/index.html"), dir)
}

/// Serves the folder `dir` on an origin of its own (a static file server
/// on a free loopback port): the file server and its address.
pub fn serve(dir: &std::path::Path) -> (Process, String) {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 serves the page");
    assert!(eventually(Duration::from_secs(10), || listening(port)));
    (Process(child), format!("http://127.0.0.1:{port}"))
}

/// A headless Chromium session: chromedriver, the client, and the browser's
/// throw-away profile (all three must live as long as the session is used).
pub async fn browser() -> (Process, Client, tempfile::TempDir) {
    browser_with(&[]).await
}

/// [`browser`], with more of Chromium's flags.
pub async fn browser_with(extra: &[&str]) -> (Process, Client, tempfile::TempDir) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts (make test installs it)");
    assert!(eventually(Duration::from_secs(10), || listening(port)));
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        // No host name resolves but localhost: whatever a page asks for
        // beyond this machine (web fonts, analytics) fails here without a
        // request leaving it.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend(extra.iter().map(|a| a.to_string()));
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    let client = ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session");
    (Process(driver), client, profile)
}

/// Clicks the element `css` selects, once it is enabled (up to a minute):
/// a snippet's Run stays disabled until its run has ended, which on a
/// loaded machine can be a while after its output showed.
pub async fn click(client: &Client, css: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let el = client.find(Locator::Css(css)).await.unwrap();
        if el.is_enabled().await.unwrap_or(false) {
            return el.click().await.unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} stayed disabled for a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of a form field (a snippet's editor, a select, an input).
pub async fn code_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// How many elements match `css` now.
pub async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .expect("the page answers")
        .len()
}

/// Waits up to a minute until the element's text satisfies `check`;
/// returns the last text. A minute covers a python run to its time limit
/// (as the test servers have it) on a loaded machine; for sandboxes with
/// longer limits, use [`text_until_within`] with [`run_time`].
pub async fn text_until(client: &Client, css: &str, check: impl Fn(&str) -> bool) -> String {
    text_until_within(client, css, Duration::from_secs(60), check).await
}

/// Waits up to `within` until the element's text satisfies `check`;
/// returns the last text.
pub async fn text_until_within(
    client: &Client,
    css: &str,
    within: Duration,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + within;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            last = el.text().await.unwrap_or_default();
            if check(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: text never matched within {within:?}; last {last:?}");
}

/// How long a browser test waits for a run of `sandbox` to end: its time
/// limit as the test servers have it, and half a minute for the container
/// and the page.
pub fn run_time(sandbox: &str) -> Duration {
    Duration::from_millis(crate::limit(sandbox, "timeout_ms") as u64) + Duration::from_secs(30)
}

/// A page open in a fresh headless browser, with everything it needs (its
/// file server, the browser's driver and profile) living as long as it
/// does. Drop it after [`Fixture::close`].
pub struct Fixture {
    pub client: Client,
    _site: Option<(Process, tempfile::TempDir)>,
    _driver: Process,
    _profile: tempfile::TempDir,
}

impl Fixture {
    /// A page of its own origin that loads the widget from the server at
    /// `base` and holds `body`.
    pub async fn widget(base: &str, body: &str) -> Fixture {
        Self::widget_with(base, "", body).await
    }

    /// [`Fixture::widget`], with `attrs` added to the loader's script tag.
    pub async fn widget_with(base: &str, attrs: &str, body: &str) -> Fixture {
        let html = format!(
            "<!doctype html><meta charset=\"utf-8\"><title>docs</title>\n\
             <script type=\"module\" src=\"{base}/widget/snipbox.js\"{attrs}></script>\n{body}"
        );
        let (site, url, dir) = page(&html);
        let mut fixture = Self::open(&url).await;
        fixture._site = Some((site, dir));
        fixture
    }

    /// `url` (a page the server itself serves, or any page).
    pub async fn open(url: &str) -> Fixture {
        Self::open_with(url, &[]).await
    }

    /// [`Fixture::open`] in a Chromium with more flags.
    pub async fn open_with(url: &str, flags: &[&str]) -> Fixture {
        let (driver, client, profile) = browser_with(flags).await;
        client.goto(url).await.expect("the page loads");
        Fixture {
            client,
            _site: None,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Ends the browser session.
    pub async fn close(self) {
        self.client.clone().close().await.expect("the session ends");
    }

    /// Runs `script` (a function body) in the page; its JSON result.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("the script runs")
    }
}

/// In an interactive run shown in `scope` (a snippet, or the playground's
/// output pane): waits until the program's output ends with `prompt`
/// (trailing spaces and all), then types `line` into the input line under
/// it and presses Enter, as a reader does.
pub async fn answer(client: &Client, scope: &str, prompt: &str, line: &str) {
    let out = format!("{scope} .snipbox-stdout");
    let script = format!(
        "return document.querySelector({:?})?.textContent ?? ''",
        out
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut shown = String::new();
    while !shown.ends_with(prompt) {
        assert!(
            std::time::Instant::now() < deadline,
            "{out}: never ended with {prompt:?}; last {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        shown = client
            .execute(&script, vec![])
            .await
            .expect("the page answers")
            .as_str()
            .unwrap_or_default()
            .to_string();
    }
    let input = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!("{scope} .snipbox-stdin")))
        .await
        .expect("the input line is there while the program reads");
    input
        .send_keys(&format!("{line}{}", fantoccini::key::Key::Enter))
        .await
        .expect("the input line takes typing");
}

//! Running code on the server: the request in flight, the output as it
//! arrives, the answer and the status line, shared by the widget's
//! snippets and the playground.
//!
//! A run asks for a stream (`Accept: text/event-stream`). A server that
//! streams answers with Server-Sent Events: the output is shown as it
//! comes, then the `end` event's answer replaces it. Any other answer
//! (a codapi server, an error before the run) is read as plain JSON.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use js_sys::Date;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Headers, ReadableStreamDefaultReader, RequestInit, Response,
    TextDecoder,
};

use crate::converse::{Conversation, Heard, socket_url};
use crate::i18n::{fill, page_string, t, tf};
use crate::json::{Answer, Job, chunk_text, get, parse_response, request_body};
use crate::render;
use crate::stream::Events;

/// One snippet's runs: the output so far, the status line, and the
/// request in flight (which Stop aborts).
#[derive(Clone, Copy)]
pub struct Runner {
    pub stdout: RwSignal<String>,
    pub stderr: RwSignal<String>,
    pub status: RwSignal<String>,
    pub running: RwSignal<bool>,
    /// Whether an interactive run's program reads what the reader types.
    pub input_open: RwSignal<bool>,
    /// Whether standard output is to be shown as a table when it is one
    /// (set by the output pane), and whether it is.
    pub tables: RwSignal<bool>,
    pub tabled: RwSignal<bool>,
    /// Numbers the element the answer's table and files are drawn in
    /// (found by its id when the answer arrives: a node reference would
    /// cost the wasm a copy of Leptos's code for it).
    more: u32,
    abort: StoredValue<Option<AbortController>, LocalStorage>,
    /// An interactive run's socket.
    conversation: StoredValue<Option<Conversation>, LocalStorage>,
    /// The elapsed time on the status line, while a run is in flight.
    ticker: StoredValue<Option<IntervalHandle>, LocalStorage>,
    /// The output shown before any run (baked into the page), shown again
    /// when the server cannot be reached.
    kept: StoredValue<Option<Answer>, LocalStorage>,
    /// What the page says the program prints.
    expected: StoredValue<Option<String>>,
}

impl Default for Runner {
    fn default() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Self {
            stdout: RwSignal::new(String::new()),
            stderr: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            running: RwSignal::new(false),
            input_open: RwSignal::new(false),
            tables: RwSignal::new(false),
            tabled: RwSignal::new(false),
            more: NEXT.fetch_add(1, Ordering::Relaxed),
            abort: StoredValue::new_local(None),
            conversation: StoredValue::new_local(None),
            ticker: StoredValue::new_local(None),
            kept: StoredValue::new_local(None),
            expected: StoredValue::new(None),
        }
    }
}

impl Runner {
    /// Shows `answer` (an output baked into the page, or the one it
    /// promises) with `status` before any run, and keeps it for when the
    /// server cannot be reached. Nothing, if a run has begun.
    pub fn preset(self, answer: Answer, status: &str) {
        if self.running.get_untracked() || !self.status.get_untracked().is_empty() {
            return;
        }
        self.show(Some(&answer));
        self.kept.set_value(Some(answer));
        self.status.set(status.into());
    }

    /// What the page says the program prints: later runs are compared
    /// with it.
    pub fn expect(self, expected: Option<String>) {
        self.expected.set_value(expected);
    }

    /// Sends the request to `server`, unless one is in flight already; a
    /// request that could not be put together is shown as the failure. An
    /// interactive one goes over a WebSocket where the server has one.
    pub fn run(self, server: &str, job: Result<Job, String>) {
        if self.running.get_untracked() {
            return;
        }
        self.show(None);
        self.mark(false);
        let job = match job {
            Ok(job) => job,
            Err(problem) => return self.status.set(format!("✗ {problem}")),
        };
        let Ok(controller) = AbortController::new() else {
            return;
        };
        let signal = controller.signal();
        self.abort.set_value(Some(controller));
        self.running.set(true);
        self.status.set(t("running"));
        self.ticker.set_value(self.tick().ok());
        let url = format!("{}/v1/exec", server.trim_end_matches('/'));
        if job.interactive
            && let Some(socket) = socket_url(server)
            && self.converse(&socket, &url, &job, &signal)
        {
            return;
        }
        self.post(url, job, signal);
    }

    /// Posts the run and shows its answer.
    fn post(self, url: String, job: Job, signal: AbortSignal) {
        spawn_local(async move {
            let status = match self.exchange(&url, &job, &signal).await {
                Ok(status) => status,
                Err(_) if signal.aborted() => t("stopped"),
                Err(e) => self.unreachable(&e),
            };
            self.finish(status);
        });
    }

    /// The run is over: the status line says how.
    fn finish(self, status: String) {
        if let Some(Some(ticker)) = self.ticker.try_update_value(Option::take) {
            ticker.clear();
        }
        self.status.set(status);
        self.abort.set_value(None);
        self.input_open.set(false);
        self.running.set(false);
        // Dropped once the socket's handler that may be calling this has
        // returned.
        if let Some(Some(c)) = self.conversation.try_update_value(Option::take) {
            spawn_local(async move { drop(c) });
        }
    }

    /// Runs `job` over a WebSocket at `socket`; false when none could be
    /// opened. A server that refuses the handshake (no `/v1/ws`) gets the
    /// run as a plain POST to `post_url` instead.
    fn converse(self, socket: &str, post_url: &str, job: &Job, signal: &AbortSignal) -> bool {
        let (post_url, fallback, signal) = (post_url.to_string(), job.clone(), signal.clone());
        let conversation =
            Conversation::open(socket, request_body(job), move |heard| match heard {
                Heard::Started => {
                    self.input_open.set(true);
                    self.focus_input();
                }
                Heard::Stdout(text) => self.stdout.update(|o| o.push_str(&text)),
                Heard::Stderr(text) => self.stderr.update(|e| e.push_str(&text)),
                Heard::InputClosed => self.input_open.set(false),
                Heard::Refused(why) => self.stderr.update(|e| e.push_str(&format!("✗ {why}\n"))),
                Heard::End(body) => {
                    let status = match parse_response(&body) {
                        Some(answer) => self.ended(&answer),
                        None => t("stream_cut"),
                    };
                    self.finish(status);
                }
                Heard::Closed { opened: false } if !signal.aborted() => {
                    self.conversation.set_value(None);
                    self.post(post_url.clone(), fallback.clone(), signal.clone());
                }
                Heard::Closed { .. } if signal.aborted() => self.finish(t("stopped")),
                Heard::Closed { .. } => self.finish(t("stream_cut")),
            });
        let opened = conversation.is_some();
        self.conversation.set_value(conversation);
        opened
    }

    /// The status line of an interactive run's answer. What the program
    /// printed stays as it came, with the reader's lines among it, as a
    /// terminal shows it; its standard error, files and table are the
    /// answer's.
    fn ended(self, answer: &Answer) -> String {
        let transcript = self.stdout.get_untracked();
        self.show(Some(answer));
        if answer.exec.error.is_none() {
            self.stdout.set(transcript);
        }
        describe(200, None, answer)
    }

    /// Sends what the reader typed to the program, and shows it as a
    /// terminal would.
    pub fn send_line(self, line: &str) {
        self.conversation.with_value(|c| {
            if let Some(c) = c {
                c.line(line);
                self.stdout.update(|o| {
                    o.push_str(line);
                    o.push('\n');
                });
            }
        });
    }

    /// Ends the program's input.
    pub fn send_eof(self) {
        self.conversation.with_value(|c| {
            if let Some(c) = c {
                c.eof();
            }
        });
        self.input_open.set(false);
    }

    /// The id of the input line of an interactive run.
    pub fn input_id(self) -> String {
        format!("snipbox-stdin-{}", self.more)
    }

    /// Puts the keyboard on the input line once it is drawn.
    fn focus_input(self) {
        request_animation_frame(move || {
            let input = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(&self.input_id()))
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(input) = input {
                let _ = input.focus();
            }
        });
    }

    /// Marks the snippet (class `snipbox-differs`) when its last run
    /// printed something other than the page shows. (A class set here
    /// costs the wasm less than a reactive one in the view.)
    fn mark(self, differs: bool) {
        let document = web_sys::window().and_then(|w| w.document());
        let snippet = document
            .and_then(|d| d.get_element_by_id(&self.more_id()))
            .and_then(|more| more.closest(".snipbox").ok().flatten());
        if let Some(s) = snippet {
            let _ = s.class_list().toggle_with_force("snipbox-differs", differs);
        }
    }

    /// The status line of a request that got no answer; the output kept
    /// from the page is shown again.
    fn unreachable(self, error: &JsValue) -> String {
        let kept = self.kept.get_value();
        self.show(kept.as_ref());
        let key = if kept.is_some() {
            "unreachable_kept"
        } else {
            "unreachable"
        };
        tf(key, &[("why", &reason(error))])
    }

    /// Aborts the request in flight, if any: a streaming server ends the
    /// run when its stream is closed, an interactive one when told stop.
    pub fn stop(self) {
        // (Also called as a snippet is taken down, when the values may be gone.)
        if let Some(Some(c)) = self.abort.try_get_value() {
            c.abort();
        }
        let _ = self.conversation.try_with_value(|c| {
            if let Some(c) = c {
                c.stop();
            }
        });
    }

    /// The id of the element the answer's table and files are drawn in.
    pub fn more_id(self) -> String {
        format!("snipbox-more-{}", self.more)
    }

    /// Shows an answer's output (or none).
    fn show(self, answer: Option<&Answer>) {
        let (out, err) = answer
            .map(|a| (a.exec.stdout.clone(), a.exec.stderr.clone()))
            .unwrap_or_default();
        let document = web_sys::window().and_then(|w| w.document());
        let more = document.and_then(|d| d.get_element_by_id(&self.more_id()));
        let tables = self.tables.get_untracked();
        self.tabled
            .set(more.is_some_and(|div| render::more(&div, tables, answer)));
        self.stdout.set(out);
        self.stderr.set(err);
    }

    /// The elapsed time on the status line, every 100 ms while running.
    fn tick(self) -> Result<IntervalHandle, JsValue> {
        let start = Date::now();
        set_interval_with_handle(
            move || {
                let ms = (Date::now() - start) as u64;
                let s = format!("{}.{}", ms / 1000, ms / 100 % 10);
                self.status.set(tf("running_for", &[("s", &s)]));
            },
            Duration::from_millis(100),
        )
    }

    /// Posts the request and shows what comes back; the status line.
    async fn exchange(self, url: &str, job: &Job, signal: &AbortSignal) -> Result<String, JsValue> {
        let resp = post(url, job, signal).await?;
        let header = |name: &str| resp.headers().get(name).ok().flatten();
        let streamed = header("content-type").is_some_and(|t| t.starts_with("text/event-stream"));
        let body = if streamed {
            match self.read_events(&resp).await? {
                Some(end) => end,
                None => return Ok(t("stream_cut")),
            }
        } else {
            JsFuture::from(resp.text()?)
                .await?
                .as_string()
                .unwrap_or_default()
        };
        let http = resp.status();
        let Some(answer) = parse_response(&body) else {
            let status = format!("{http} {}", resp.status_text());
            return Ok(tf("http", &[("status", status.trim_end())]));
        };
        let retry_after = header("retry-after").and_then(|v| v.parse().ok());
        let mut status = describe(http, retry_after, &answer);
        self.show(Some(&answer));
        let expected = self.expected.get_value();
        if answer.exec.error.is_none()
            && expected.is_some_and(|e| !snipbox_page::expect::matches(&e, &answer.exec.stdout))
        {
            self.mark(true);
            status = format!("{status} · {}", t("differs"));
        }
        Ok(status)
    }

    /// Reads the event stream, adding output as it arrives, until its
    /// `end` event; that event's data (the plain answer), if it came.
    async fn read_events(self, resp: &Response) -> Result<Option<String>, JsValue> {
        let reader: ReadableStreamDefaultReader =
            resp.body().ok_or("no body")?.get_reader().unchecked_into();
        // Decodes UTF-8 across chunks (a character may be split between two).
        let decoder = TextDecoder::new()?;
        let whole = js_sys::Object::new();
        js_sys::Reflect::set(&whole, &"stream".into(), &true.into())?;
        let mut events = Events::default();
        let mut end = None;
        while end.is_none() {
            let chunk = JsFuture::from(reader.read()).await?;
            if get(&chunk, "done").and_then(|d| d.as_bool()) == Some(true) {
                break;
            }
            let bytes: js_sys::Object = get(&chunk, "value").unwrap_or_default().unchecked_into();
            let text =
                decoder.decode_with_buffer_source_and_options(&bytes, whole.unchecked_ref())?;
            events.push(&text, |name, data| {
                let to = match name {
                    "stdout" => self.stdout,
                    "stderr" => self.stderr,
                    "end" => return end = Some(data.to_string()),
                    _ => return,
                };
                if let Some(text) = chunk_text(data) {
                    to.update(|t| t.push_str(&text));
                }
            });
        }
        Ok(end)
    }
}

/// Posts the request, asking for a stream.
async fn post(url: &str, req: &Job, abort: &AbortSignal) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("accept", "text/event-stream")?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&request_body(req).into());
    init.set_signal(Some(abort));
    let window = web_sys::window().ok_or("no window")?;
    JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()
}

/// What a failed fetch says: the browser's message ("Failed to fetch").
fn reason(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "no answer".into())
}

/// The status line: outcome and duration, or what went wrong.
pub fn describe(http: u16, retry_after: Option<u64>, answer: &Answer) -> String {
    let r = &answer.exec;
    // The page's words for the reason, if it has them (with the signal's
    // name); else the server's.
    let reason = r.reason.as_ref().and_then(|code| {
        let words = page_string(&format!("reason_{code}"))?;
        Some(fill(
            words,
            &[("signal", r.signal.as_deref().unwrap_or("?"))],
        ))
    });
    if r.ok {
        tf("ok", &[("ms", &r.duration.to_string())])
    } else if http == 429 {
        tf("busy", &[("s", &retry_after.unwrap_or(1).to_string())])
    } else if let Some(kind) = &r.error {
        format!("✗ {kind}: {}", r.stderr)
    } else if let Some(why) = reason.as_ref().or(r.reason_text.as_ref()) {
        format!("✗ {why}")
    } else if r.timed_out {
        t("timed_out")
    } else if r.truncated {
        t("truncated")
    } else {
        tf("exit", &[("code", &r.exit_code.unwrap_or(-1).to_string())])
    }
}

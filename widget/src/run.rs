//! Running code on the server: the request in flight, its answer and the
//! status line, shared by the widget's snippets and the playground.

use leptos::prelude::*;
use leptos::task::spawn_local;
use snipbox_wire::api::ExecResponse;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Headers, RequestInit, Response};

use crate::json::{Job, parse_response, request_body};

/// How a snippet shows the program's standard output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// As text, always: program output never becomes markup.
    #[default]
    Text,
    /// As an HTML document in a sandboxed iframe (no scripts, own origin).
    Html,
    /// As an SVG image in a sandboxed iframe.
    Svg,
}

/// One snippet's runs: the answer, the status line, and the request in
/// flight (which Stop aborts).
#[derive(Clone, Copy)]
pub struct Runner {
    pub answer: RwSignal<Option<ExecResponse>>,
    pub status: RwSignal<String>,
    pub running: RwSignal<bool>,
    abort: StoredValue<Option<AbortController>, LocalStorage>,
}

impl Default for Runner {
    fn default() -> Self {
        Self {
            answer: RwSignal::new(None),
            status: RwSignal::new(String::new()),
            running: RwSignal::new(false),
            abort: StoredValue::new_local(None),
        }
    }
}

impl Runner {
    /// Sends the request to `server`, unless one is in flight already; a
    /// request that could not be put together is shown as the failure.
    pub fn run(self, server: &str, req: Result<Job, String>) {
        if self.running.get_untracked() {
            return;
        }
        let req = match req {
            Ok(req) => req,
            Err(problem) => {
                self.answer.set(None);
                self.status.set(format!("✗ {problem}"));
                return;
            }
        };
        let Ok(controller) = AbortController::new() else {
            return;
        };
        let signal = controller.signal();
        self.abort.set_value(Some(controller));
        self.running.set(true);
        self.status.set("running…".into());
        let url = format!("{}/v1/exec", server.trim_end_matches('/'));
        spawn_local(async move {
            match post(&url, &req, &signal).await {
                Ok((status, answer)) => {
                    self.status.set(status);
                    self.answer.set(answer);
                }
                Err(_) if signal.aborted() => self.status.set("stopped".into()),
                Err(e) => self
                    .status
                    .set(format!("✗ the server is unreachable ({})", reason(&e))),
            }
            self.abort.set_value(None);
            self.running.set(false);
        });
    }

    /// Aborts the request in flight, if any.
    pub fn stop(self) {
        if let Some(c) = self.abort.get_value() {
            c.abort();
        }
    }
}

/// The output pane: standard output (as text, or rendered in a sandboxed
/// iframe when the author asked for it) and standard error, apart.
#[component]
pub fn Output(runner: Runner, #[prop(optional)] mode: OutputMode) -> impl IntoView {
    let stdout = move || runner.answer.get().map(|a| a.stdout).unwrap_or_default();
    let rendered = move || {
        let out = stdout();
        let doc = match mode {
            OutputMode::Html => out,
            OutputMode::Svg => format!(
                "<!doctype html><style>body{{margin:0}}svg{{max-width:100%;height:auto}}</style>{out}"
            ),
            OutputMode::Text => return None,
        };
        (!doc.is_empty()).then(|| {
            view! {
                <iframe class="snipbox-frame" sandbox="" title="Program output" srcdoc=doc></iframe>
            }
        })
    };
    view! {
        {move || match mode {
            OutputMode::Text => {
                view! { <pre class="snipbox-stdout" aria-live="polite">{stdout}</pre> }.into_any()
            }
            _ => view! { <div class="snipbox-stdout" aria-live="polite">{rendered}</div> }.into_any(),
        }}
        <pre class="snipbox-stderr">{move || runner.answer.get().map(|a| a.stderr)}</pre>
    }
}

/// Posts the request; the status line and the answer, or why no answer
/// came.
async fn post(
    url: &str,
    req: &Job,
    abort: &AbortSignal,
) -> Result<(String, Option<ExecResponse>), JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&request_body(req).into());
    init.set_signal(Some(abort));
    let window = web_sys::window().ok_or("no window")?;
    let resp: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    let retry_after = resp
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    let http = resp.status();
    let body = JsFuture::from(resp.text()?).await?.as_string();
    Ok(match body.as_deref().and_then(parse_response) {
        Some(answer) => (describe(http, retry_after, &answer), Some(answer)),
        None => (
            format!("✗ the server answered HTTP {http} {}", resp.status_text()),
            None,
        ),
    })
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
pub fn describe(http: u16, retry_after: Option<u64>, r: &ExecResponse) -> String {
    match (http, r) {
        (_, r) if r.ok => format!("✓ {} ms", r.duration),
        (429, _) => format!(
            "✗ the server is busy: try again in {} s",
            retry_after.unwrap_or(1)
        ),
        (
            _,
            ExecResponse {
                error: Some(kind), ..
            },
        ) => format!("✗ {kind}: {}", r.stderr),
        (_, r) if r.timed_out => "✗ timed out".into(),
        (_, r) if r.truncated => "✗ output truncated".into(),
        (_, r) => format!("✗ exit {}", r.exit_code.unwrap_or(-1)),
    }
}

//! The HTTP layer alone: the router answered through `oneshot`, with no
//! socket and no Docker engine. Every refusal happens before a container
//! would be needed, so each status and JSON shape is checked here exactly.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use snipbox::App;
use snipbox::config::Cli;
use snipbox::engine::Engine;
use tower::ServiceExt;

/// The app with these flags, its pools off, on an engine it never calls.
fn app(flags: &[&str]) -> axum::Router {
    let sandboxes = concat!(env!("CARGO_MANIFEST_DIR"), "/../sandboxes");
    let args = ["snipbox", "--sandboxes", sandboxes, "--pool", "0"];
    let cli = Cli::parse_from(args.iter().chain(flags));
    let engine = Arc::new(Engine::new("oneshot"));
    App::new(&cli.config, engine).unwrap().router
}

fn post() -> axum::http::request::Builder {
    Request::post("/v1/exec").header(header::CONTENT_TYPE, "application/json")
}

/// Sends `req`; the status, the headers and the body as JSON.
async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, headers, body)
}

fn exec(body: &Value) -> Request<Body> {
    post().body(Body::from(body.to_string())).unwrap()
}

/// The JSON error shape: ok false, the kind, a message containing `says`.
fn assert_refused(
    got: &(StatusCode, axum::http::HeaderMap, Value),
    status: u16,
    kind: &str,
    says: &str,
) {
    let (s, _, body) = got;
    assert_eq!(s.as_u16(), status, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["error"], kind, "{body}");
    let message = body["stderr"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} lacks {says:?}");
}

#[tokio::test]
async fn bad_requests_get_400() {
    let app = app(&[]);
    let raw = |ct: &str, body: &str| {
        Request::post("/v1/exec")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let cases = [
        (
            raw("application/json", "{not json"),
            "bad_request",
            "not a valid request",
        ),
        (
            raw("text/plain", "{}"),
            "bad_request",
            "expected Content-Type: application/json",
        ),
        (
            exec(&json!({"files": {"": "1"}})),
            "bad_request",
            "missing field `sandbox`",
        ),
        (
            exec(&json!({"sandbox": "python"})),
            "bad_request",
            "missing field `files`",
        ),
        (
            exec(&json!({"sandbox": "python", "files": {"": " \n"}})),
            "empty_code",
            "empty code",
        ),
        (
            exec(&json!({"sandbox": "python", "files": {"": "1", "../x": "1"}})),
            "invalid_files",
            "`..`",
        ),
        (
            exec(&json!({"sandbox": "python", "files": {"": "1", "a\u{202e}b": "1"}})),
            "invalid_files",
            "a",
        ),
    ];
    for (req, kind, says) in cases {
        assert_refused(&send(&app, req).await, 400, kind, says);
    }
    let charset = raw(
        "application/json; charset=utf-8",
        r#"{"sandbox": "cobol", "files": {"": "1"}}"#,
    );
    assert_eq!(
        send(&app, charset).await.0,
        404,
        "a charset parameter is fine"
    );
}

#[tokio::test]
async fn a_wrong_api_key_gets_401() {
    let app = app(&["--api-keys", "k1"]);
    let mut req = exec(&json!({"sandbox": "python", "files": {"": "1"}}));
    req.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
    assert_refused(&send(&app, req).await, 401, "bad_api_key", "not valid");
}

#[tokio::test]
async fn a_page_from_another_origin_gets_403_before_its_body_is_read() {
    let app = app(&["--cors-origins", "https://docs.example"]);
    // A body that is not even JSON: the origin is refused first.
    let req = Request::post("/v1/exec")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("{not json"))
        .unwrap();
    assert_refused(
        &send(&app, req).await,
        403,
        "origin_not_allowed",
        "https://evil.example",
    );
}

#[tokio::test]
async fn unknown_things_get_404() {
    let app = app(&[]);
    let cases = [
        (
            json!({"sandbox": "cobol", "files": {"": "1"}}),
            "unknown_sandbox",
            "cobol",
        ),
        (
            json!({"sandbox": "python", "version": "2.7", "files": {"": "1"}}),
            "unknown_version",
            "2.7",
        ),
        (
            json!({"sandbox": "python", "command": "test", "files": {"": "1"}}),
            "unknown_command",
            "run",
        ),
    ];
    for (body, kind, says) in cases {
        assert_refused(&send(&app, exec(&body)).await, 404, kind, says);
    }
    let req = Request::get("/v1/nothing").body(Body::empty()).unwrap();
    assert_refused(&send(&app, req).await, 404, "not_found", "/v1");
}

#[tokio::test]
async fn a_wrong_method_gets_405() {
    let app = app(&[]);
    let req = Request::get("/v1/exec").body(Body::empty()).unwrap();
    assert_refused(&send(&app, req).await, 405, "method_not_allowed", "method");
}

#[tokio::test]
async fn oversized_bodies_and_file_sets_get_413_naming_the_limit_and_its_knob() {
    let app = app(&["--max-body", "1000", "--max-files", "3"]);
    let big = json!({"sandbox": "python", "files": {"": "#".repeat(2000)}});
    let got = send(&app, exec(&big)).await;
    assert_refused(&got, 413, "too_large", "limit of 1000 bytes");
    assert_refused(&got, 413, "too_large", "--max-body / SNIPBOX_MAX_BODY");
    // Without a Content-Length (chunked), the limit holds as the body arrives.
    let chunks = futures_util::stream::iter(
        (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 500]))),
    );
    let req = post().body(Body::from_stream(chunks)).unwrap();
    assert_refused(
        &send(&app, req).await,
        413,
        "too_large",
        "limit of 1000 bytes",
    );
    let many = json!({"sandbox": "python", "files": {"": "1", "a": "", "b": "", "c": ""}});
    assert_refused(
        &send(&app, exec(&many)).await,
        413,
        "too_large",
        "at most 3",
    );
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let app = app(&["--rate-limit", "1", "--rate-burst", "1"]);
    let body = json!({"sandbox": "cobol", "files": {"": "1"}});
    assert_eq!(
        send(&app, exec(&body)).await.0,
        404,
        "the first is let through"
    );
    let got = send(&app, exec(&body)).await;
    assert_refused(&got, 429, "rate_limited", "retry in");
    let retry: u64 = got.1[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn refusals_are_counted_once_by_kind() {
    let app = app(&[]);
    for _ in 0..2 {
        send(&app, exec(&json!({"sandbox": "cobol", "files": {"": "1"}}))).await;
    }
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("snipbox_rejected_total{reason=\"unknown_sandbox\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn an_allowed_origin_written_with_a_trailing_slash_gets_cors_and_runs() {
    let app = app(&["--cors-origins", "https://x.example/"]);
    let preflight = Request::options("/v1/exec")
        .header(header::ORIGIN, "https://x.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(preflight).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://x.example"
    );
    let mut req = exec(&json!({"sandbox": "cobol", "files": {"": "1"}}));
    req.headers_mut()
        .insert(header::ORIGIN, "https://x.example".parse().unwrap());
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 404, "past the origin check, to the sandbox");
    assert_eq!(
        resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://x.example"
    );
}

#[tokio::test]
async fn aliases_are_listed_and_accepted() {
    let app = app(&[]);
    let req = Request::get("/v1/sandboxes").body(Body::empty()).unwrap();
    let (status, _, list) = send(&app, req).await;
    assert_eq!(status, 200);
    let python = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "python")
        .unwrap();
    assert!(
        python["aliases"].as_array().unwrap().contains(&json!("py")),
        "{python}"
    );
    // Through the alias, to the sandbox itself: its commands are named.
    let body = json!({"sandbox": "py", "command": "nope", "files": {"": "1"}});
    assert_refused(
        &send(&app, exec(&body)).await,
        404,
        "unknown_command",
        "sandbox python",
    );
}

/// `GET /metrics` from `peer`, with a bearer token or not: the status.
async fn metrics_from(app: &axum::Router, peer: &str, token: Option<&str>) -> StatusCode {
    metrics_request(app, peer, token, None).await
}

/// `GET /metrics` from `peer`, with a bearer token or not, and a header
/// (name, value) a proxy would add, or not: the status.
async fn metrics_request(
    app: &axum::Router,
    peer: &str,
    token: Option<&str>,
    proxy_header: Option<(&'static str, &str)>,
) -> StatusCode {
    let mut req = Request::get("/metrics").body(Body::empty()).unwrap();
    if let Some((name, value)) = proxy_header {
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    if let Some(t) = token {
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
    }
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn metrics_answer_this_host_or_a_token_only() {
    let open = app(&[]);
    assert_eq!(metrics_from(&open, "127.0.0.1", None).await, 200);
    assert_eq!(metrics_from(&open, "203.0.113.5", None).await, 403);
    // A proxy on this host connects from loopback for everyone.
    for header in [
        ("x-forwarded-for", "203.0.113.5"),
        ("forwarded", "for=203.0.113.5"),
        ("x-real-ip", "203.0.113.5"),
    ] {
        assert_eq!(
            metrics_request(&open, "127.0.0.1", None, Some(header)).await,
            403,
            "{header:?}"
        );
    }
    let with_token = app(&["--metrics-token", "s3cret"]);
    assert_eq!(
        metrics_from(&with_token, "203.0.113.5", Some("s3cret")).await,
        200
    );
    assert_eq!(
        metrics_from(&with_token, "203.0.113.5", Some("guess")).await,
        403
    );
    let elsewhere = app(&["--metrics-listen", "127.0.0.1:0"]);
    assert_eq!(
        metrics_from(&elsewhere, "127.0.0.1", None).await,
        404,
        "not on the main listener when it has its own"
    );
}

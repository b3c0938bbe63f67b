//! The HTTP contract: codapi compatibility, CORS, and the JSON error shape
//! of every refusal.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use snipbox_tests::{Server, client, request, shared};

/// Sends a raw body and returns the status, headers and JSON body.
async fn post_raw(
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let resp = client()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

/// The JSON error shape: ok false, a kind, a message.
fn assert_error_shape(body: &Value, kind: &str) {
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["error"], kind, "{body}");
    assert!(
        !body["stderr"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
}

#[tokio::test]
async fn a_codapi_widget_request_gets_a_compatible_answer() {
    let server = shared();
    // What <codapi-snippet> sends.
    let body = json!({"sandbox": "python", "command": "run", "files": {"": "print('hi')"}});
    let (status, answer) = post_raw(
        &server.url("/v1/exec"),
        "application/json",
        body.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    for field in ["id", "ok", "duration", "stdout", "stderr"] {
        assert!(answer.get(field).is_some(), "{field} missing: {answer}");
    }
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["stdout"], "hi\n");
    assert!(answer["duration"].as_u64().is_some());
}

#[tokio::test]
async fn a_charset_parameter_is_accepted() {
    let body = json!({"sandbox": "shell", "files": {"": "echo ok"}}).to_string();
    let (status, answer) = post_raw(
        &shared().url("/v1/exec"),
        "application/json; charset=utf-8",
        body,
    )
    .await;
    assert_eq!(
        (status, answer["stdout"].as_str()),
        (StatusCode::OK, Some("ok\n"))
    );
}

#[tokio::test]
async fn health_answers_head_and_get_with_cors() {
    let server = shared();
    let resp = client()
        .head(server.url("/v1/health"))
        .header("origin", "https://docs.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let body: Value = reqwest::get(server.url("/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"status": "ok", "docker": "ok"}));
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let resp = client()
        .request(reqwest::Method::OPTIONS, shared().url("/v1/exec"))
        .header("origin", "https://docs.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("content-type") && allowed.contains("authorization"),
        "{allowed}"
    );
}

#[tokio::test]
async fn bad_requests_get_400_in_the_json_shape() {
    let url = shared().url("/v1/exec");
    let cases: Vec<(&str, String, &str)> = vec![
        ("application/json", "{not json".into(), "bad_request"),
        (
            "text/plain",
            json!({"sandbox": "python", "files": {"": "1"}}).to_string(),
            "bad_request",
        ),
        (
            "application/json",
            json!({"files": {"": "1"}}).to_string(),
            "bad_request",
        ),
        (
            "application/json",
            json!({"sandbox": "python"}).to_string(),
            "bad_request",
        ),
        (
            "application/json",
            json!({"sandbox": "python", "files": {"": "  \n"}}).to_string(),
            "empty_code",
        ),
        (
            "application/json",
            json!({"sandbox": "python", "files": {"../x": "1", "": "1"}}).to_string(),
            "invalid_files",
        ),
        (
            "application/json",
            json!({"sandbox": "python", "files": {"": "1", "b": "data:;base64,@@"}}).to_string(),
            "invalid_files",
        ),
        // Names that cannot all exist (a file and a folder of one name)
        // were an agent failure, a 500.
        (
            "application/json",
            json!({"sandbox": "python", "files": {"": "1", "d": "1", "d/e.txt": "2"}}).to_string(),
            "invalid_files",
        ),
        (
            "application/json",
            json!({"sandbox": "python", "files": {"": "1", "main.py/x.txt": "2"}}).to_string(),
            "invalid_files",
        ),
    ];
    for (ct, body, kind) in cases {
        let (status, answer) = post_raw(&url, ct, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_error_shape(&answer, kind);
    }
}

#[tokio::test]
async fn unknown_things_get_404_in_the_json_shape() {
    let url = shared().url("/v1/exec");
    let cases = [
        (
            json!({"sandbox": "cobol", "files": {"": "1"}}),
            "unknown_sandbox",
        ),
        (
            json!({"sandbox": "python", "version": "2.7", "files": {"": "1"}}),
            "unknown_version",
        ),
        (
            json!({"sandbox": "python", "command": "test", "files": {"": "1"}}),
            "unknown_command",
        ),
    ];
    for (body, kind) in cases {
        let (status, answer) = post_raw(&url, "application/json", body.to_string()).await;
        assert_eq!(status, 404, "{body}: {answer}");
        assert_error_shape(&answer, kind);
    }
    let resp = reqwest::get(shared().url("/v1/nothing")).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_error_shape(&resp.json().await.unwrap(), "not_found");
}

#[tokio::test]
async fn wrong_method_gets_405_in_the_json_shape() {
    let resp = reqwest::get(shared().url("/v1/exec")).await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_error_shape(&resp.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn oversized_bodies_and_file_sets_get_413_in_the_json_shape() {
    let url = shared().url("/v1/exec");
    let big = json!({"sandbox": "python", "files": {"": "#".repeat(600 * 1024)}}).to_string();
    let (status, answer) = post_raw(&url, "application/json", big).await;
    assert_eq!(status, 413, "{answer}");
    assert_error_shape(&answer, "too_large");

    let mut files = serde_json::Map::new();
    files.insert(String::new(), json!("print(1)"));
    for i in 0..100 {
        files.insert(format!("f{i}.txt"), json!(""));
    }
    let (status, answer) = post_raw(
        &url,
        "application/json",
        json!({"sandbox": "python", "files": files}).to_string(),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert_error_shape(&answer, "too_large");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_answers_429_with_retry_after() {
    let server = Server::start(&[
        ("SNIPBOX_MAX_RUNS", "1"),
        ("SNIPBOX_MAX_QUEUE", "0"),
        ("SNIPBOX_POOL", "0"),
    ]);
    let slow = server.spawn_exec(request("shell", "sleep 3; echo done"));
    // Wait until the slow run holds the only slot.
    assert!(snipbox_tests::eventually(
        Duration::from_secs(10),
        || server.containers().len() == 1
    ));
    let resp = server.post_exec(&request("shell", "echo hi")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_error_shape(&resp.json().await.unwrap(), "busy");
    let done: Value = slow.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(done["stdout"], "done\n");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("snipbox_rejected_total{reason=\"busy\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("snipbox_runs_total{sandbox=\"bash\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_widget_is_served_compressed_cacheable_and_to_any_origin() {
    let path = "/widget/snipbox_widget_bg.wasm";
    let file = snipbox_tests::root().join("static").join(&path[1..]);
    let raw =
        std::fs::read(&file).expect("the widget is built: run `make widget` (make test does)");
    let get = |encoding: &'static str| {
        client()
            .get(shared().url(path))
            .header("accept-encoding", encoding)
            .header("origin", "https://docs.example")
            .send()
    };

    // Brotli: the file `make widget` compressed at the best quality, sent as
    // it is; it unpacks to the wasm.
    let resp = get("gzip, br").await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/wasm");
    assert_eq!(h["content-encoding"], "br");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["cache-control"], "public, max-age=300");
    assert!(
        h["vary"].to_str().unwrap().contains("accept-encoding"),
        "{h:?}"
    );
    let body = resp.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut unpacked).unwrap();
    assert!(unpacked == raw, "the brotli body is not the wasm");
    let best = std::fs::read(file.with_extension("wasm.br")).unwrap();
    assert!(body == best, "not the precompressed file");

    // Gzip for a browser without brotli, the file itself for one without
    // either.
    let resp = get("gzip").await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&resp.bytes().await.unwrap()[..]),
        &mut unpacked,
    )
    .unwrap();
    assert!(unpacked == raw, "the gzip body is not the wasm");
    let resp = get("identity").await.unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    assert!(
        resp.bytes().await.unwrap() == raw,
        "the plain body is not the wasm"
    );

    // A revisit with the validator gets 304 and no body.
    let modified = h["last-modified"].clone();
    let resp = client()
        .get(shared().url(path))
        .header("accept-encoding", "br")
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_log_is_plain_text_when_it_is_not_a_terminal() {
    // The harness writes each server's log (and its guard's) to a file.
    let server = shared();
    server.exec(&request("python", "print(1)")).await;
    let log = server.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in the log:\n{log}");
}

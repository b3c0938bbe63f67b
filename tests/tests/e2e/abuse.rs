//! Abuse controls on a real server: rate limits by client, trusted proxies,
//! the origin allow-list, API keys.

use serde_json::Value;
use snipbox_tests::{Server, client, request};

async fn post(server: &Server, headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut req = client()
        .post(server.url("/v1/exec"))
        .json(&request("shell", "echo ok"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_an_api_key_lifts_it() {
    // One run a minute after a burst of two: the third comes long before
    // a token is back, however slow the first two were.
    let server = Server::start(&[
        ("SNIPBOX_RATE_LIMIT", "1"),
        ("SNIPBOX_RATE_BURST", "2"),
        ("SNIPBOX_API_KEYS", "trusted-key"),
        ("SNIPBOX_POOL", "0"),
    ]);
    assert_eq!(post(&server, &[]).await.0, 200);
    assert_eq!(post(&server, &[]).await.0, 200);
    let (status, retry, body) = post(&server, &[]).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["ok"], false);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    let (status, _, body) = post(&server, &[("authorization", "Bearer trusted-key")]).await;
    assert_eq!((status, body["stdout"].as_str()), (200, Some("ok\n")));
    // A wrong key takes a token like a run: from a client whose bucket is
    // empty, guessing keys is as limited as running code.
    let (status, _, body) = post(&server, &[("authorization", "Bearer guessed")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_and_counts_against_the_rate() {
    let server = Server::start(&[
        ("SNIPBOX_RATE_LIMIT", "1"),
        ("SNIPBOX_RATE_BURST", "2"),
        ("SNIPBOX_API_KEYS", "trusted-key"),
        ("SNIPBOX_POOL", "0"),
    ]);
    let guess = [("authorization", "Bearer guessed")];
    for _ in 0..2 {
        let (status, _, body) = post(&server, &guess).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("bad_api_key")));
    }
    let (status, retry, body) = post(&server, &guess).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(retry.is_some());
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let behind = Server::start(&[
        ("SNIPBOX_RATE_LIMIT", "1"),
        ("SNIPBOX_RATE_BURST", "1"),
        ("SNIPBOX_TRUSTED_PROXIES", "127.0.0.1"),
        ("SNIPBOX_POOL", "0"),
    ]);
    assert_eq!(
        post(&behind, &[("x-forwarded-for", "198.51.100.1")])
            .await
            .0,
        200
    );
    assert_eq!(
        post(&behind, &[("x-forwarded-for", "198.51.100.2")])
            .await
            .0,
        200,
        "another client"
    );
    assert_eq!(
        post(&behind, &[("x-forwarded-for", "198.51.100.1")])
            .await
            .0,
        429,
        "the same client again"
    );

    let exposed = Server::start(&[
        ("SNIPBOX_RATE_LIMIT", "1"),
        ("SNIPBOX_RATE_BURST", "1"),
        ("SNIPBOX_POOL", "0"),
    ]);
    assert_eq!(
        post(&exposed, &[("x-forwarded-for", "198.51.100.1")])
            .await
            .0,
        200
    );
    let (status, _, body) = post(&exposed, &[("x-forwarded-for", "198.51.100.2")]).await;
    assert_eq!(
        status, 429,
        "a forged X-Forwarded-For must not buy a new bucket: {body}"
    );
}

#[tokio::test]
async fn pages_from_other_origins_get_403() {
    let server = Server::start(&[
        ("SNIPBOX_CORS_ORIGINS", "https://docs.example"),
        ("SNIPBOX_POOL", "0"),
    ]);
    assert_eq!(
        post(&server, &[("origin", "https://docs.example")]).await.0,
        200
    );
    let (status, _, body) = post(&server, &[("origin", "https://evil.example")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("origin_not_allowed")),
        "{body}"
    );
    // The preflight does not allow the other origin either.
    let preflight = client()
        .request(reqwest::Method::OPTIONS, server.url("/v1/exec"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let port = snipbox_tests::browser::free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start(&[("SNIPBOX_METRICS_LISTEN", &listen), ("SNIPBOX_POOL", "0")]);
    let own = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(own.contains("snipbox_queue_length"), "{own}");
    let main = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(main.status(), 404, "not on the main listener");
}

//! The streaming form of `POST /v1/exec`: events as the program writes,
//! the plain answer at the end, and Stop that removes the container.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::Value;
use snipbox_tests::{Server, SseReader, containers, request, shared, token, wall_clock};

/// A server with the python sandbox only, and `env`.
fn python_only(env: &[(&str, &str)]) -> Server {
    let mut env = env.to_vec();
    env.push(("SNIPBOX_SANDBOXES_ONLY", "python"));
    Server::start(&env)
}

/// Every event of a streamed run, up to and including `end`.
async fn all_events(
    server: &Server,
    req: &snipbox_wire::api::ExecRequest,
) -> Vec<snipbox_tests::SseEvent> {
    let mut reader = SseReader::new(server.post_stream(req).await);
    let mut events = Vec::new();
    while let Some(e) = reader.next().await {
        let end = e.event == "end";
        events.push(e);
        if end {
            break;
        }
    }
    events
}

#[tokio::test]
async fn lines_arrive_while_the_program_still_runs() {
    // The wall clock, which the host and a sandbox share (gVisor keeps a
    // monotonic clock of its own).
    // A line a second: each must arrive before the program prints the
    // line two after it (2 s later), which a stream does and an answer
    // kept until the end cannot for the first four (they would be 5, 4, 3
    // and 2 s late); two lines of headroom, because under gVisor on a
    // busy 2-core host one line arrived 1.8 s late. How fast on an idle
    // machine is runbench's figure: a few ms.
    let code =
        "import time\nfor i in range(5):\n    print(time.time(), flush=True)\n    time.sleep(1)\n";
    // A server of its own with python only: what is measured is the
    // stream, not the pools of 33 other sandboxes filling beside it (under
    // gVisor, each of those is a whole sandbox kernel starting).
    let server = python_only(&[]);
    server.wait_warm("python").await;
    let sent = Instant::now();
    let mut reader = SseReader::new(server.post_stream(&request("python", code)).await);
    let start = reader.next().await.unwrap();
    assert_eq!(start.event, "start");
    assert!(
        start.at - sent < Duration::from_secs(2),
        "the start event came after {:?}",
        start.at - sent
    );
    let id = start.json()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("python_run_"), "{id}");
    let mut lines = 0;
    let mut last_ms = 0;
    loop {
        let e = reader.next().await.expect("an end event");
        let arrived = wall_clock();
        if e.event == "end" {
            assert_eq!(e.json()["id"], id.as_str());
            assert_eq!(e.json()["ok"], true, "{}", e.data);
            break;
        }
        assert_eq!(e.event, "stdout", "{e:?}");
        let data = e.json();
        let ms = data["ms"].as_u64().unwrap();
        assert!(ms >= last_ms, "offsets go forward");
        last_ms = ms;
        for line in data["text"].as_str().unwrap().lines() {
            let printed: f64 = line.parse().unwrap();
            let late = arrived - printed;
            assert!(
                late < 1.9,
                "line {lines} arrived {:.0} ms after it was printed, after the one two later",
                late * 1000.0
            );
            lines += 1;
        }
    }
    assert_eq!(lines, 5);
}

/// A run's answer without what differs between two runs.
fn comparable(mut answer: Value) -> Value {
    let o = answer.as_object_mut().unwrap();
    o.remove("id");
    o.remove("duration");
    answer
}

#[tokio::test]
async fn the_end_event_is_the_plain_answer() {
    let code = "import sys, time\nprint('out 1', flush=True)\ntime.sleep(0.2)\nprint('to stderr', file=sys.stderr, flush=True)\nprint('out 2 ☃')\nsys.exit(3)";
    let req = request("python", code);
    let plain = serde_json::to_value(shared().exec(&req).await).unwrap();
    let events = all_events(shared(), &req).await;
    let end = events.last().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(comparable(end.json()), comparable(plain.clone()));
    let streamed = |name: &str| {
        events
            .iter()
            .filter(|e| e.event == name)
            .map(|e| e.json()["text"].as_str().unwrap().to_string())
            .collect::<String>()
    };
    assert_eq!(streamed("stdout"), plain["stdout"]);
    assert_eq!(streamed("stderr"), "to stderr\n");
    assert!(
        plain["stderr"]
            .as_str()
            .unwrap()
            .ends_with("(exit status 3)")
    );
}

#[tokio::test]
async fn refusals_before_the_run_keep_their_status_and_json() {
    let resp = shared().post_stream(&request("cobol", "1")).await;
    assert_eq!(resp.status(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unknown_sandbox");
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_stream_removes_the_container_at_once() {
    // The program would sleep a minute under a longer time limit: only the
    // closed stream can end it early. How fast its container goes is
    // runbench's figure; here it must go well before the program would end.
    let sandboxes =
        snipbox_tests::sandboxes_with(&[("python", "timeout_ms", toml::Value::Integer(90_000))]);
    let server = &python_only(&[("SNIPBOX_SANDBOXES", sandboxes.path().to_str().unwrap())]);
    let mut reader = SseReader::new(
        server
            .post_stream(&request(
                "python",
                "import time\nprint('up', flush=True)\ntime.sleep(60)",
            ))
            .await,
    );
    let start = reader.next().await.unwrap();
    let label = format!(
        "snipbox.run={}",
        token(start.json()["id"].as_str().unwrap())
    );
    assert_eq!(reader.next().await.unwrap().event, "stdout");
    assert_eq!(containers(&label).len(), 1, "the run's container is there");
    let stopped = Instant::now();
    drop(reader);
    while !containers(&label).is_empty() {
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "the container outlived its stream by 15 s (its program had a minute to go)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "container gone {:?} after the stream closed",
        stopped.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_reader_of_a_flood_holds_the_server_to_the_output_cap() {
    let server = python_only(&[("SNIPBOX_POOL", "0")]);
    let body = serde_json::to_string(&request(
        "python",
        "import sys\nblock = b'x' * (1 << 20)\nfor _ in range(100): sys.stdout.buffer.write(block)",
    ))
    .unwrap();
    let before = server.rss_kib();
    let addr = server.base.trim_start_matches("http://").to_string();
    let reading = std::thread::spawn(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        write!(
            conn,
            "POST /v1/exec HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // One byte every 10 ms for three seconds.
        let mut byte = [0u8; 1];
        for _ in 0..300 {
            conn.read_exact(&mut byte).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let metrics_say_truncated = || async {
        server
            .metrics()
            .await
            .contains("snipbox_runs_total{sandbox=\"python\",outcome=\"truncated\"} 1")
    };
    // The run's time limit ends it at the latest, and the test then fails
    // (the outcome is "timeout", not "truncated").
    let limit = snipbox_tests::limit("python", "timeout_ms") as u64 / 1000 + 30;
    let deadline = Instant::now() + Duration::from_secs(limit);
    while !metrics_say_truncated().await {
        assert!(
            Instant::now() < deadline,
            "the run did not end at the output cap"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = server.rss_kib();
    reading.join().unwrap();
    println!("server RSS {before} KiB before, {peak} KiB while a slow client reads a 100 MB flood");
    assert!(
        peak < before + 16 * 1024,
        "server memory grew from {before} KiB to {peak} KiB"
    );
    assert!(
        server.containers().is_empty()
            || snipbox_tests::eventually(Duration::from_secs(30), || server
                .containers()
                .is_empty())
    );
}

//! Clients that misbehave on the wire: slow senders that hold connections,
//! and bodies over the limit sent every way a client can send them. Each
//! still gets its answer, and everyone else is served as usual.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use snipbox_tests::{Server, client, request};
use tokio::io::AsyncWriteExt;

/// Median wall time of `n` runs of a tiny program at a reader's pace, each
/// on a warm container (a busy engine starts the next one at its own pace:
/// a cold start would measure the engine, not the server).
async fn median_run_ms(server: &Server, n: usize) -> f64 {
    let mut times = Vec::new();
    for _ in 0..n {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.wait_warm("bash").await;
        let started = Instant::now();
        assert!(server.exec(&request("shell", "echo hi")).await.ok);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

/// Opens a connection that sends `prefix` at once, then one byte per second
/// of `trickle` for as long as the server keeps it open.
fn slow_client(addr: String, prefix: String, trickle: &'static [u8]) {
    tokio::spawn(async move {
        let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
            return;
        };
        if conn.write_all(prefix.as_bytes()).await.is_err() {
            return;
        }
        for byte in trickle.iter().cycle() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if conn.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_slow_clients_do_not_stop_normal_requests() {
    let server = Server::start(&[
        ("SNIPBOX_HEADER_TIMEOUT_MS", "10000"),
        ("SNIPBOX_SANDBOXES_ONLY", "bash"),
        // All from loopback: the per-client cap would close most of them
        // at once, before they could hold anything.
        ("SNIPBOX_MAX_CONNECTIONS_PER_CLIENT", "0"),
    ]);
    server.wait_warm("bash").await;
    let usual = median_run_ms(&server, 10).await;
    let before = server.rss_kib();
    let addr = server.base.trim_start_matches("http://").to_string();
    for i in 0..500 {
        if i % 2 == 0 {
            // Headers, one byte a second.
            slow_client(
                addr.clone(),
                String::new(),
                b"POST /v1/exec HTTP/1.1\r\nx: y\r\n",
            );
        } else {
            // A whole request head, then its body one byte a second.
            let head = "POST /v1/exec HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n";
            slow_client(addr.clone(), head.to_string(), b"{");
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = median_run_ms(&server, 10).await;
    let peak = server.rss_kib();
    println!(
        "a run: {usual:.1} ms as usual, {during:.1} ms with 500 slow clients; server RSS {before} KiB before, {peak} KiB during"
    );
    // Held connections would show as seconds (the header timeout); a
    // loaded machine's noise is tens of milliseconds.
    assert!(
        during < usual * 3.0 + 250.0,
        "runs took {during:.1} ms with slow clients, {usual:.1} ms without (load average {})",
        snipbox_tests::load_average()
    );
    assert!(
        peak < before + 64 * 1024,
        "server memory grew from {before} KiB to {peak} KiB"
    );
}

/// A way of sending a body: what it already read of the answer, if anything.
type Send = fn(&mut TcpStream, &[u8]) -> std::io::Result<Vec<u8>>;

/// A request head for an 8 MiB JSON body, with `extra` headers.
fn head(extra: &str) -> String {
    format!(
        "POST /v1/exec HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\n{extra}\r\n"
    )
}

/// Sends a request whose body is over the limit the way `send` does it,
/// and reads the answer: the status line and the body. Like curl, a client
/// whose sending breaks gives up: the server must read (and discard) what
/// it refuses rather than reset the connection under the client.
fn oversized(
    addr: &str,
    send: fn(&mut TcpStream, &[u8]) -> std::io::Result<Vec<u8>>,
) -> (String, String) {
    let body = vec![b' '; 8 << 20];
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = send(&mut conn, &body)
        .unwrap_or_else(|e| panic!("the connection broke while sending: {e}"));
    conn.read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("no answer, the connection broke: {e}"));
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

fn with_length(w: &mut TcpStream, body: &[u8]) -> std::io::Result<Vec<u8>> {
    w.write_all(head(&format!("content-length: {}\r\n", body.len())).as_bytes())?;
    w.write_all(body)?;
    Ok(Vec::new())
}

/// As curl does: the head, then the body only if `100 Continue` comes
/// within a second; a final answer instead means the body is not wanted.
fn expecting_continue(w: &mut TcpStream, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let extra = format!("expect: 100-continue\r\ncontent-length: {}\r\n", body.len());
    w.write_all(head(&extra).as_bytes())?;
    w.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut first = vec![0u8; 1024];
    let n = match w.read(&mut first) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    w.set_read_timeout(Some(Duration::from_secs(20)))?;
    first.truncate(n);
    if n == 0 || first.starts_with(b"HTTP/1.1 100") {
        w.write_all(body)?;
        first.clear();
    }
    Ok(first)
}

fn chunked(w: &mut TcpStream, body: &[u8]) -> std::io::Result<Vec<u8>> {
    w.write_all(head("transfer-encoding: chunked\r\n").as_bytes())?;
    for chunk in body.chunks(64 << 10) {
        write!(w, "{:x}\r\n", chunk.len())?;
        w.write_all(chunk)?;
        w.write_all(b"\r\n")?;
    }
    w.write_all(b"0\r\n\r\n")?;
    Ok(Vec::new())
}

fn slowly(w: &mut TcpStream, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let body = &body[..1 << 20];
    w.write_all(head(&format!("content-length: {}\r\n", body.len())).as_bytes())?;
    for chunk in body.chunks(128 << 10) {
        std::thread::sleep(Duration::from_millis(20));
        w.write_all(chunk)?;
    }
    Ok(Vec::new())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_always_gets_its_413_answer() {
    let server = Server::start(&[("SNIPBOX_POOL", "0")]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let behaviours: [(&str, Send); 4] = [
        ("content-length", with_length),
        ("expect 100-continue", expecting_continue),
        ("chunked", chunked),
        ("slow sender", slowly),
    ];
    for (name, send) in behaviours {
        let addr = addr.clone();
        let tries = tokio::task::spawn_blocking(move || {
            (0..50).map(|_| oversized(&addr, send)).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for (status, body) in tries {
            assert!(status.contains(" 413 "), "{name}: {status}");
            let answer: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {body}"));
            assert_eq!(answer["error"], "too_large", "{name}");
        }
    }
    // And curl, as a reader's tools send it.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), vec![b' '; 8 << 20]).unwrap();
    for _ in 0..50 {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "-H",
                "content-type: application/json",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", file.path().display()))
            .arg(server.url("/v1/exec"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.ends_with("\n413") && text.contains("too_large"),
            "{text}"
        );
    }
    assert!(
        client()
            .get(server.url("/v1/health"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

/// Opens a connection that asks for `/v1/sandboxes` `n` times at once
/// (pipelined) and never reads an answer.
fn never_reads(addr: &str, n: usize) -> TcpStream {
    let conn = TcpStream::connect(addr).expect("connected");
    let mut writer = conn.try_clone().expect("a second handle");
    let requests = "GET /v1/sandboxes HTTP/1.1\r\nhost: x\r\n\r\n".repeat(n);
    // The server stops reading once its answers back up: write aside.
    std::thread::spawn(move || {
        let _ = writer.write_all(requests.as_bytes());
    });
    conn
}

/// Reads what is left on `conn` (waiting at most `within` for each part):
/// how many answers came, and whether the server closed the connection.
fn drain(mut conn: TcpStream, within: Duration) -> (usize, bool) {
    conn.set_read_timeout(Some(within)).unwrap();
    let mut text = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let closed = loop {
        match conn.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    let answers = text.windows(12).filter(|w| w == b"HTTP/1.1 200").count();
    (answers, closed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_its_answers_loses_its_connection() {
    let server = Server::start(&[("SNIPBOX_WRITE_TIMEOUT_MS", "2000")]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let conn = never_reads(&addr, 2000);
    // Two seconds without progress, and a busy machine's margin.
    tokio::time::sleep(Duration::from_secs(8)).await;
    // Had the server kept it, reading now would bring all 2000 answers.
    let (answers, closed) =
        tokio::task::spawn_blocking(move || drain(conn, Duration::from_secs(5)))
            .await
            .unwrap();
    println!("{answers} of 2000 answers before the server closed the connection");
    assert!(
        closed && answers < 2000,
        "{answers} answers, closed: {closed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hundred_clients_that_never_read_do_not_slow_a_run() {
    let server = Server::start(&[
        ("SNIPBOX_SANDBOXES_ONLY", "bash"),
        // All from loopback: the per-client cap would refuse them before
        // they could hold anything.
        ("SNIPBOX_MAX_CONNECTIONS_PER_CLIENT", "0"),
        ("SNIPBOX_WRITE_TIMEOUT_MS", "5000"),
    ]);
    server.wait_warm("bash").await;
    let usual = median_run_ms(&server, 10).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let held: Vec<TcpStream> = (0..300).map(|_| never_reads(&addr, 200)).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = median_run_ms(&server, 10).await;
    println!("a run: {usual:.1} ms as usual, {during:.1} ms beside 300 clients that never read");
    assert!(
        during < usual * 3.0 + 250.0,
        "runs took {during:.1} ms beside clients that never read, {usual:.1} ms without (load average {})",
        snipbox_tests::load_average()
    );
    // And each of them lost its connection.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let closed = tokio::task::spawn_blocking(move || {
        held.into_iter()
            .filter(|c| drain(c.try_clone().unwrap(), Duration::from_secs(5)).1)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(closed, 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_holds_at_most_its_share_of_connections() {
    let server = Server::start(&[
        ("SNIPBOX_SANDBOXES_ONLY", "bash"),
        ("SNIPBOX_MAX_CONNECTIONS_PER_CLIENT", "4"),
    ]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // The fifth is accepted and closed at once.
    let fifth = TcpStream::connect(&addr).unwrap();
    let (_, closed) = tokio::task::spawn_blocking(move || drain(fifth, Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(closed, "a fifth connection from one address was kept");
    drop(held);
    // Their slots come back.
    let ok = snipbox_tests::eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr)
            .and_then(|mut c| {
                c.write_all(b"GET /v1/sandboxes HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
                let mut s = String::new();
                c.read_to_string(&mut s)?;
                Ok(s.starts_with("HTTP/1.1 200"))
            })
            .unwrap_or(false)
    });
    assert!(ok, "no connection once the four were closed");
}

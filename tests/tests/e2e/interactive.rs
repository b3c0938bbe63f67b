//! Interactive runs over `GET /v1/ws`: the reader answers the program
//! while it runs. Prompts answered in turn in five languages, end of
//! input, Stop and a closed socket (the container killed at once and
//! removed, by the engine's own events), the CPU time and the person's time as separate
//! limits, the byte cap on stdin, and the page's origin and API key
//! checked without CORS or a header.

use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use snipbox_tests::{Server, containers, engine_event_at, limit, request, shared, token};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long any message may take: a compiler on a loaded machine, or a
/// busy loop's CPU time there (see below).
const PATIENCE: Duration = Duration::from_secs(240);

/// An interactive run seen from the client.
struct Run {
    socket: Socket,
    /// Every event so far, in order.
    events: Vec<(String, Value)>,
    stdout: String,
}

impl Run {
    /// Opens `/v1/ws` on `server` (with `origin`, if any) and sends `first`.
    async fn open(server: &Server, origin: Option<&str>, first: Value) -> Run {
        let url = server.url("/v1/ws").replacen("http", "ws", 1);
        let mut req = url.into_client_request().unwrap();
        if let Some(origin) = origin {
            req.headers_mut().insert("origin", origin.parse().unwrap());
        }
        let (mut socket, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        socket.send(Message::text(first.to_string())).await.unwrap();
        Run {
            socket,
            events: Vec::new(),
            stdout: String::new(),
        }
    }

    /// `sandbox` running `code` interactively.
    async fn start(server: &Server, sandbox: &str, code: &str) -> Run {
        Run::open(
            server,
            None,
            serde_json::to_value(request(sandbox, code)).unwrap(),
        )
        .await
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    async fn type_line(&mut self, line: &str) {
        self.send(json!({ "stdin": format!("{line}\n") })).await;
    }

    /// The next event; `None` once the server closed the socket.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no message within {PATIENCE:?}"));
            match message? {
                Ok(Message::Text(text)) => {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    let event = (v["event"].as_str().unwrap().to_string(), v["data"].clone());
                    if event.0 == "stdout" {
                        self.stdout += event.1["text"].as_str().unwrap();
                    }
                    self.events.push(event.clone());
                    return Some(event);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads events until stdout so far ends with `text`.
    async fn until_stdout(&mut self, text: &str) {
        while !self.stdout.ends_with(text) {
            match self.next().await {
                Some((name, data)) if name == "end" => {
                    panic!(
                        "the run ended before {text:?} (stdout {:?}): {data}",
                        self.stdout
                    )
                }
                Some(_) => {}
                None => panic!("the socket closed before {text:?}"),
            }
        }
    }

    /// Reads events up to `end`: its data.
    async fn end(&mut self) -> Value {
        loop {
            match self.next().await {
                Some((name, data)) if name == "end" => return data,
                Some(_) => {}
                None => panic!("the socket closed without an end: {:?}", self.events),
            }
        }
    }

    /// The run's id, from its `start` event (the first).
    async fn id(&mut self) -> String {
        match self.next().await {
            Some((name, data)) if name == "start" => data["id"].as_str().unwrap().to_string(),
            other => panic!("start first, got {other:?}"),
        }
    }
}

/// Two prompts answered in turn: each reply arrives before the next
/// answer is typed, and the output reads as a terminal would show it
/// (without the echo of what was typed, which is the reader's side).
async fn converse(sandbox: &str, code: &str) {
    let server = shared();
    let mut run = Run::start(server, sandbox, code).await;
    run.until_stdout("Name? ").await;
    run.type_line("Ada").await;
    run.until_stdout("Hello, Ada!\nAge? ").await;
    run.type_line("36").await;
    let end = run.end().await;
    assert_eq!(
        end["stdout"], "Name? Hello, Ada!\nAge? Ada is 36\n",
        "{end}"
    );
    assert_eq!(end["ok"], true, "{end}");
    assert!(
        run.events.iter().any(|(name, _)| name == "input_closed"),
        "the program's end closes its input: {:?}",
        run.events
    );
}

#[tokio::test]
async fn python_input_answered_twice() {
    converse(
        "python",
        "name = input('Name? ')\nprint(f'Hello, {name}!')\nage = input('Age? ')\nprint(f'{name} is {age}')",
    )
    .await;
}

#[tokio::test]
async fn c_scanf_answered_twice() {
    converse(
        "c",
        "#include <stdio.h>\nint main(void) {\n  char name[64]; int age;\n  printf(\"Name? \"); fflush(stdout);\n  if (scanf(\"%63s\", name) != 1) return 1;\n  printf(\"Hello, %s!\\nAge? \", name); fflush(stdout);\n  if (scanf(\"%d\", &age) != 1) return 1;\n  printf(\"%s is %d\\n\", name, age);\n  return 0;\n}\n",
    )
    .await;
}

#[tokio::test]
async fn node_readline_answered_twice() {
    converse(
        "javascript",
        "import * as readline from 'node:readline/promises';\nconst rl = readline.createInterface({ input: process.stdin, output: process.stdout });\nconst name = await rl.question('Name? ');\nconsole.log(`Hello, ${name}!`);\nconst age = await rl.question('Age? ');\nconsole.log(`${name} is ${age}`);\nrl.close();\n",
    )
    .await;
}

#[tokio::test]
async fn java_scanner_answered_twice() {
    converse(
        "java",
        "import java.util.Scanner;\npublic class Main {\n  public static void main(String[] args) {\n    Scanner in = new Scanner(System.in);\n    System.out.print(\"Name? \"); System.out.flush();\n    String name = in.nextLine();\n    System.out.print(\"Hello, \" + name + \"!\\nAge? \"); System.out.flush();\n    String age = in.nextLine();\n    System.out.println(name + \" is \" + age);\n  }\n}\n",
    )
    .await;
}

#[tokio::test]
async fn go_bufio_answered_twice() {
    converse(
        "go",
        "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\nfunc main() {\n\tin := bufio.NewReader(os.Stdin)\n\tfmt.Print(\"Name? \")\n\tname, _ := in.ReadString('\\n')\n\tname = strings.TrimSpace(name)\n\tfmt.Printf(\"Hello, %s!\\nAge? \", name)\n\tage, _ := in.ReadString('\\n')\n\tfmt.Printf(\"%s is %s\\n\", name, strings.TrimSpace(age))\n}\n",
    )
    .await;
}

#[tokio::test]
async fn end_of_input_ends_a_program_reading_to_the_end() {
    let mut run = Run::start(
        shared(),
        "python",
        "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\nprint('done')",
    )
    .await;
    run.type_line("one").await;
    run.until_stdout("ONE\n").await;
    run.type_line("two").await;
    run.until_stdout("TWO\n").await;
    run.send(json!({ "eof": true })).await;
    let end = run.end().await;
    assert_eq!(end["stdout"], "ONE\nTWO\ndone\n", "{end}");
    assert_eq!(end["ok"], true);
}

/// A run waiting for input that is stopped with `stop`, or whose socket
/// closes: its container is killed and removed then, long before anything
/// else could end it. (How soon, on a quiet machine: `runbench
/// interactive`, by the engine's events.)
async fn ended_by_the_client(stop: bool) {
    let mut run = Run::start(shared(), "python", "print('ready', flush=True)\ninput()").await;
    let id = run.id().await;
    run.until_stdout("ready\n").await;
    let label = format!("snipbox.run={}", token(&id));
    let ids = containers(&label);
    assert_eq!(ids.len(), 1, "the run's container is there");
    let since = SystemTime::now();
    if stop {
        run.send(json!({ "stop": true })).await;
        while let Some((name, data)) = run.next().await {
            assert_ne!(name, "end", "a stopped run has no end: {data}");
        }
    } else {
        drop(run);
    }
    // The program waits for input, using no CPU: only the client, or the
    // sandbox's time for a person (a minute), can end it. Half of that is
    // the bound: a loaded machine, or gVisor, takes seconds to kill and
    // unmount, never tens of them.
    let person = Duration::from_millis(limit("python", "interactive_timeout_ms") as u64);
    let gone = Instant::now();
    while !containers(&label).is_empty() {
        assert!(
            gone.elapsed() < person / 2,
            "the container outlived its run by {:?} (its program would wait {person:?} for input)",
            gone.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The engine's own record: the container was killed and removed (not
    // only stopped).
    let at = |event| {
        engine_event_at(&ids[0], event, since)
            .unwrap_or_else(|| panic!("the engine's {event} event"))
            .duration_since(since)
            .unwrap_or_default()
    };
    let (died, destroyed) = (at("die"), at("destroy"));
    println!("container died {died:?} and was destroyed {destroyed:?} after the run was ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_removes_the_container_at_once() {
    ended_by_the_client(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_closed_mid_run_removes_the_container_at_once() {
    ended_by_the_client(false).await;
}

/// A server with the python sandbox only, its limits changed.
fn python_with(limits: &[(&str, i64)], env: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let limits: Vec<_> = limits
        .iter()
        .map(|(k, v)| ("python", *k, toml::Value::Integer(*v)))
        .collect();
    let dir = snipbox_tests::sandboxes_with(&limits);
    let mut env = env.to_vec();
    env.push(("SNIPBOX_SANDBOXES", dir.path().to_str().unwrap()));
    env.push(("SNIPBOX_SANDBOXES_ONLY", "python"));
    (Server::start(&env), dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_loop_ends_at_its_cpu_time_and_a_silent_reader_at_the_persons_time() {
    // The busy loop has three minutes of the person's time: only its 3 s
    // of CPU can end it sooner. On a loaded machine it gets a small share
    // of a core (at load 40 on 2 cores, a twentieth: a minute for 3 s), so
    // the bound is what it takes there, well inside the person's time.
    let (busy_server, _d1) = python_with(
        &[("timeout_ms", 3000), ("interactive_timeout_ms", 180_000)],
        &[],
    );
    // The reader uses no CPU: its 1 s of CPU never ends it, its 6 s do.
    let (silent_server, _d2) = python_with(
        &[("timeout_ms", 1000), ("interactive_timeout_ms", 6000)],
        &[],
    );
    let busy = async {
        let started = Instant::now();
        let mut run = Run::start(&busy_server, "python", "while True:\n    pass").await;
        (run.end().await, started.elapsed())
    };
    let silent = async {
        let started = Instant::now();
        let mut run = Run::start(
            &silent_server,
            "python",
            "print('waiting', flush=True)\ninput()",
        )
        .await;
        (run.end().await, started.elapsed())
    };
    let ((end, took), (quiet, waited)) = tokio::join!(busy, silent);

    assert_eq!(end["reason"], "timeout", "{end}");
    assert_eq!(end["timed_out"], true);
    assert!(
        end["reason_text"]
            .as_str()
            .unwrap()
            .contains("3 s of CPU time"),
        "{end}"
    );
    assert!(
        took >= Duration::from_secs(3),
        "ended after {took:?}: before its CPU time"
    );
    assert!(
        took < Duration::from_secs(150),
        "the busy loop ran {took:?}: the CPU limit did not hold"
    );

    assert_eq!(quiet["reason"], "interactive_timeout", "{quiet}");
    assert_eq!(quiet["timed_out"], true);
    assert!(
        quiet["reason_text"].as_str().unwrap().contains("6 s"),
        "{quiet}"
    );
    assert_eq!(quiet["stdout"], "waiting\n");
    assert!(
        waited >= Duration::from_secs(6),
        "ended after {waited:?}: before the person's time"
    );
}

#[tokio::test]
async fn stdin_past_its_cap_is_refused_and_the_run_goes_on() {
    let (server, _dir) = python_with(&[("interactive_stdin_bytes", 8)], &[]);
    let mut run = Run::start(&server, "python", "print(input())\nprint(input())").await;
    run.type_line("1234").await;
    run.until_stdout("1234\n").await;
    run.type_line("56789").await;
    let refused = loop {
        match run.next().await {
            Some((name, data)) if name == "error" => break data,
            Some((name, data)) if name == "end" => panic!("ended instead: {data}"),
            Some(_) => {}
            None => panic!("closed"),
        }
    };
    assert_eq!(refused["error"], "stdin_too_large", "{refused}");
    run.type_line("ok").await;
    let end = run.end().await;
    assert_eq!(end["stdout"], "1234\nok\n", "{end}");
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_a_key_without_a_header_is_taken() {
    let (server, _dir) = python_with(
        &[],
        &[
            ("SNIPBOX_CORS_ORIGINS", "https://docs.example"),
            ("SNIPBOX_API_KEYS", "k-123"),
        ],
    );
    let req = serde_json::to_value(request("python", "print('hi')")).unwrap();

    let mut foreign = Run::open(&server, Some("https://evil.example"), req.clone()).await;
    let end = foreign.end().await;
    assert_eq!(end["error"], "origin_not_allowed", "{end}");
    assert!(
        foreign.next().await.is_none(),
        "the socket is closed after a refusal"
    );

    let mut own = Run::open(&server, Some("https://docs.example"), req.clone()).await;
    assert_eq!(own.end().await["stdout"], "hi\n");

    let mut with_key = req.clone();
    with_key["key"] = json!("k-123");
    let mut keyed = Run::open(&server, Some("https://evil.example"), with_key).await;
    assert_eq!(
        keyed.end().await["stdout"],
        "hi\n",
        "a valid key lifts the origin check"
    );

    let mut wrong = req;
    wrong["key"] = json!("k-999");
    let mut refused = Run::open(&server, Some("https://docs.example"), wrong).await;
    assert_eq!(refused.end().await["error"], "bad_api_key");
}

#[tokio::test]
async fn refusals_of_the_first_message_have_the_kinds_of_post() {
    let mut unknown = Run::start(shared(), "cobol", "1").await;
    assert_eq!(unknown.end().await["error"], "unknown_sandbox");
    let mut bad = Run::open(shared(), None, json!({ "sandbox": "python" })).await;
    assert_eq!(bad.end().await["error"], "bad_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_keeps_its_connections_place_under_the_per_client_cap() {
    let (server, _dir) = python_with(&[], &[("SNIPBOX_MAX_CONNECTIONS_PER_CLIENT", "2")]);
    // Two interactive runs waiting for input hold both places.
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut run = Run::start(&server, "python", "print('ready', flush=True)\ninput()").await;
        run.until_stdout("ready\n").await;
        runs.push(run);
    }
    let url = server.url("/v1/sandboxes");
    assert!(
        snipbox_tests::client().get(&url).send().await.is_err(),
        "a third connection from the address was served while two sockets were open"
    );
    drop(runs);
    let served = async {
        for _ in 0..100 {
            if snipbox_tests::client().get(&url).send().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(served.await, "the places came back once the sockets closed");
}

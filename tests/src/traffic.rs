//! A mix of runs as readers send them, some hostile, and how an answer to
//! one is judged: shared by `make loadtest` and the background load of
//! `make test-busy`.

use snipbox_wire::api::ExecResponse;

/// (sandbox, code, share in a hundred)
pub const MIX: &[(&str, &str, usize)] = &[
    ("python", "print(sum(range(100)))", 40),
    (
        "javascript",
        "console.log([1, 2, 3].map(x => x * 2).join(','))",
        20,
    ),
    ("shell", "echo hello; ls / | wc -l", 15),
    ("sqlite", "select 1 + 1;", 10),
    (
        "c",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }",
        11,
    ),
    // Hostile: an infinite loop, a fork bomb, an output flood, a memory bomb.
    ("python", "while True: pass", 1),
    (
        "python",
        "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
        1,
    ),
    ("shell", "yes flood", 1),
    ("python", "a = []\nwhile True: a.append(' ' * 10**7)", 1),
];

/// The `i`-th run of the mix: every share of it within each hundred.
pub fn pick(i: usize) -> (&'static str, &'static str) {
    let slot = (i * 37) % 100;
    let mut acc = 0;
    for (sandbox, code, share) in MIX {
        acc += share;
        if slot < acc {
            return (sandbox, code);
        }
    }
    (MIX[0].0, MIX[0].1)
}

/// How the server answered one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A 200 with the API's JSON: whether the program succeeded.
    Ran { ok: bool },
    /// A 429 or 503 with `Retry-After`: refused, as the API allows.
    Refused,
    /// Anything else: the status (0: no answer) and the body.
    Malformed(String),
}

/// Sends one run of `sandbox` to `url` (`…/v1/exec`) and judges the answer.
pub async fn send(client: &reqwest::Client, url: &str, sandbox: &str, code: &str) -> Answer {
    let resp = match client
        .post(url)
        .json(&crate::request(sandbox, code))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Answer::Malformed(format!("no answer: {e}")),
    };
    let status = resp.status().as_u16();
    let retry_after = resp.headers().contains_key("retry-after");
    let body = resp.text().await.unwrap_or_default();
    match (status, serde_json::from_str::<ExecResponse>(&body)) {
        (200, Ok(r)) => Answer::Ran { ok: r.ok },
        (429 | 503, Ok(_)) if retry_after => Answer::Refused,
        (s, _) => Answer::Malformed(format!("{s}: {body}")),
    }
}

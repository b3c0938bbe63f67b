//! The JSON of `POST /v1/exec` and `GET /v1/sandboxes`, codapi-compatible.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The body of `POST /v1/exec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The sandbox's name: a folder under `sandboxes/`.
    pub sandbox: String,
    /// A variant of the sandbox; empty or `latest` is the default.
    #[serde(default)]
    pub version: String,
    /// A command the sandbox defines; empty means `run`.
    #[serde(default)]
    pub command: String,
    /// File name to contents. The key `""` is the command's entry file; a
    /// value starting with `data:` is an RFC 2397 data URL.
    pub files: BTreeMap<String, String>,
    /// Fed to the program's standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
}

/// The answer of `POST /v1/exec`, for a run and for an error alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecResponse {
    /// `{sandbox}_{command}_{random}`; empty when the request was refused
    /// before a run was set up.
    pub id: String,
    /// Exit code 0, no timeout, no limit hit.
    pub ok: bool,
    /// Wall time of the run in milliseconds, as the server measured it.
    pub duration: u64,
    pub stdout: String,
    pub stderr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub truncated: bool,
    /// A machine-readable error kind when the code could not be run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the run ended, when it was not a plain exit: `timeout`,
    /// `output`, `memory`, `pids`, `signal` or `sandbox_ended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The same in words, for a status line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_text: Option<String>,
    /// The signal that ended the program (`SIGSEGV`, …), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Files the run produced, for commands that declare outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<OutputFile>,
    /// Matching files past the count cap, not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A file a run produced, in the answer of `POST /v1/exec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Relative to the work dir.
    pub name: String,
    /// Its media type, from its name (`image/png`, …).
    #[serde(rename = "type")]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes, base64 (standard alphabet, padded); absent when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Over a cap: listed with its size, without data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omitted: bool,
}

/// One entry of `GET /v1/sandboxes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub name: String,
    pub title: String,
    pub language: String,
    /// Other names the API accepts for this sandbox (`golang` for `go`).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub versions: Vec<String>,
    pub commands: Vec<String>,
    /// The entry file name of the `run` command (or the first command).
    pub entry: String,
    pub example: String,
    /// The packages its image adds to its language's own, by ecosystem
    /// (`pip`, `npm`, `cargo`, `apt`), each as its `sandbox.toml` pins it;
    /// left out when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, Vec<String>>,
}

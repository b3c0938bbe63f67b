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
}

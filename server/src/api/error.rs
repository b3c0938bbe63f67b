//! Every way a request can fail, and the one table that turns each into
//! the API's JSON error shape: status, kind, message, Retry-After, and the
//! label it is counted under in `snipbox_rejected_total`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use snipbox_wire::api::ExecResponse;

use crate::access::Refusal;
use crate::engine::EngineError;
use crate::exec::ExecError;
use crate::files::FilesError;

/// Why a request was not answered with a run.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body could not be read as a request: what is wrong, in words.
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "the request body is over this server's limit of {limit} bytes (set by --max-body / SNIPBOX_MAX_BODY)"
    )]
    BodyTooLarge { limit: usize },
    #[error(
        "the request body did not arrive within {ms} ms (set by --body-timeout-ms / SNIPBOX_BODY_TIMEOUT_MS)"
    )]
    BodyTimeout { ms: u64 },
    #[error(
        "the server is receiving too many request bodies at once (--body-memory-mb / SNIPBOX_BODY_MEMORY_MB): retry in a moment"
    )]
    Overloaded,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("no such path: the API is under /v1 (see GET /v1/sandboxes)")]
    NotFound,
    #[error(
        "/metrics answers this host, or a bearer token set with --metrics-token / SNIPBOX_METRICS_TOKEN"
    )]
    MetricsRefused,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error(
        "the run's stdin is over the sandbox's limit of {limit} bytes (interactive_stdin_bytes): this input was not sent"
    )]
    StdinTooLarge { limit: u64 },
}

/// One row of the table.
struct Row {
    status: StatusCode,
    kind: &'static str,
    retry_after: Option<u64>,
}

impl ApiError {
    fn row(&self) -> Row {
        use StatusCode as S;
        let row = |status, kind| Row {
            status,
            kind,
            retry_after: None,
        };
        let retry = |status, kind, secs| Row {
            status,
            kind,
            retry_after: Some(secs),
        };
        match self {
            ApiError::BadRequest(_) => row(S::BAD_REQUEST, "bad_request"),
            ApiError::BodyTooLarge { .. } => row(S::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::BodyTimeout { .. } => row(S::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::Overloaded => retry(S::SERVICE_UNAVAILABLE, "overloaded", 1),
            ApiError::Refused(Refusal::RateLimited { retry_after, .. }) => {
                retry(S::TOO_MANY_REQUESTS, "rate_limited", *retry_after)
            }
            ApiError::Refused(Refusal::Origin(_)) => row(S::FORBIDDEN, "origin_not_allowed"),
            ApiError::Refused(Refusal::BadKey) => row(S::UNAUTHORIZED, "bad_api_key"),
            ApiError::Exec(e) => exec_row(e),
            ApiError::NotFound => row(S::NOT_FOUND, "not_found"),
            ApiError::MetricsRefused => row(S::FORBIDDEN, "metrics_not_allowed"),
            ApiError::MethodNotAllowed => row(S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::StdinTooLarge { .. } => row(S::PAYLOAD_TOO_LARGE, "stdin_too_large"),
        }
    }
}

fn exec_row(e: &ExecError) -> Row {
    use StatusCode as S;
    let (status, kind) = match e {
        ExecError::Files(FilesError::TooMany { .. } | FilesError::TooLarge { .. }) => {
            (S::PAYLOAD_TOO_LARGE, "too_large")
        }
        ExecError::Files(FilesError::EmptyCode(_)) => (S::BAD_REQUEST, "empty_code"),
        ExecError::Files(_) => (S::BAD_REQUEST, "invalid_files"),
        ExecError::UnknownSandbox(_) => (S::NOT_FOUND, "unknown_sandbox"),
        ExecError::UnknownVersion { .. } => (S::NOT_FOUND, "unknown_version"),
        ExecError::UnknownCommand { .. } => (S::NOT_FOUND, "unknown_command"),
        ExecError::Busy => (S::TOO_MANY_REQUESTS, "busy"),
        ExecError::ShuttingDown => (S::SERVICE_UNAVAILABLE, "shutting_down"),
        ExecError::Engine(EngineError::ImageMissing { .. }) => {
            (S::SERVICE_UNAVAILABLE, "image_missing")
        }
        ExecError::Engine(e) if e.is_unavailable() => {
            (S::SERVICE_UNAVAILABLE, "docker_unavailable")
        }
        ExecError::Engine(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
    };
    // A full server or an engine that is away: worth trying again soon.
    let retry_after = matches!(status, S::TOO_MANY_REQUESTS | S::SERVICE_UNAVAILABLE).then_some(1);
    Row {
        status,
        kind,
        retry_after,
    }
}

/// Put on the response of every refused request, so that one layer counts
/// them (see `api::app`).
#[derive(Debug, Clone, Copy)]
pub struct Rejected(pub &'static str);

impl ApiError {
    /// The kind it is counted under as a refusal; `None` for a failure of
    /// the server or the engine (counted as a run with outcome "error").
    pub(super) fn refusal_kind(&self) -> Option<&'static str> {
        let row = self.row();
        row.status.is_client_error().then_some(row.kind)
    }

    /// The JSON body: the answer's shape with `ok: false`, the message in
    /// `stderr` and the kind in `error`.
    pub fn body(&self) -> ExecResponse {
        ExecResponse {
            stderr: self.to_string(),
            error: Some(self.row().kind.into()),
            ..ExecResponse::default()
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let row = self.row();
        let mut response = (row.status, Json(self.body())).into_response();
        if let Some(secs) = row.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // Failures of the server or the engine are not refusals: they are
        // counted as runs with outcome "error".
        if row.status.is_client_error() {
            response.extensions_mut().insert(Rejected(row.kind));
        }
        response
    }
}

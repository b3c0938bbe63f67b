//! `POST /v1/exec`: the handler, and the shape of its answer.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use snipbox_wire::api::ExecRequest;

use super::answer::answer;
use super::request::{Admitted, ApiJson};
use super::{ApiError, AppState, stream};
use crate::exec::Stdin;

/// Runs the request's code; answers with the plain JSON, or with a stream
/// of events when the client asks for `text/event-stream`. Everything that
/// can refuse the request (access, the body, the sandbox, a full server)
/// is decided before the answer starts, so refusals keep their status.
pub(super) async fn exec(
    State(state): State<AppState>,
    _: Admitted,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ExecRequest>,
) -> Result<Response, ApiError> {
    let prepared = state.exec.prepare(req, Stdin::Fixed)?;
    let slot = state.exec.admit(&prepared).await?;
    if wants_stream(&headers) {
        return Ok(stream::respond(state, prepared, slot));
    }
    let finished = state.exec.run(prepared, slot, None, None).await?;
    Ok(Json(answer(finished)).into_response())
}

/// Whether the client reads Server-Sent Events (and prefers them).
fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().unwrap_or_default().trim() == "text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_stream() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, v.parse().unwrap());
            wants_stream(&h)
        };
        assert!(with("text/event-stream"));
        assert!(with("application/json, text/event-stream;q=0.9"));
        assert!(!with("application/json"));
        assert!(!with("*/*"));
        assert!(!wants_stream(&HeaderMap::new()));
    }
}

//! Reading a request: who may run code is decided from the headers before
//! a byte of the body is read; the body is then read within its size and
//! time limits and parsed as JSON, every failure in the API's shape.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, AppState};

/// How much of a request body the server reads, how long it waits, and how
/// much memory all bodies being read may hold together (KiB permits).
#[derive(Debug, Clone)]
pub struct BodyLimits {
    pub max: usize,
    pub timeout: Duration,
    pub memory: Arc<Semaphore>,
}

/// A refused body is still read (and thrown away) up to this much, so that
/// the client reads the refusal instead of a reset connection.
const DRAIN_MAX: usize = 64 << 20;

/// The request may run code: its origin, API key and rate limit passed.
#[derive(Debug)]
pub(super) struct Admitted;

impl FromRequestParts<AppState> for Admitted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Without connection info (a test calling the router directly) the
        // request comes from this host.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
        state.access.check(peer, &parts.headers)?;
        Ok(Admitted)
    }
}

/// A JSON body, read within the limits and parsed.
#[derive(Debug)]
pub(super) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::BadRequest(format!(
                "expected Content-Type: application/json, got {:?}",
                content_type
            )));
        }
        let (bytes, _held) = read_body(&parts.headers, body, &state.body).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(format!("the body is not a valid request: {e}")))
    }
}

/// The body, at most `limits.max` bytes within `limits.timeout`, and its
/// share of the memory budget (held until the body is dropped). A body
/// over the limit is drained (up to [`DRAIN_MAX`]) before the refusal,
/// unless the client waits for `100 Continue` and so never sends it.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: &BodyLimits,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let waits_for_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let too_large = ApiError::BodyTooLarge { limit: limits.max };
    if declared.is_some_and(|n| n > limits.max as u64) {
        if !waits_for_continue {
            drain(body, limits.timeout).await;
        }
        return Err(too_large);
    }
    let mut body = body;
    let mut read = Collected::default();
    let outcome = tokio::time::timeout(limits.timeout, read.collect(&mut body, limits)).await;
    match outcome {
        Ok(Ok(())) => Ok((read.buf.freeze(), read.held)),
        Ok(Err(e @ ApiError::BodyTooLarge { .. })) => {
            drain(body, limits.timeout).await;
            Err(e)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ApiError::BodyTimeout {
            ms: limits.timeout.as_millis() as u64,
        }),
    }
}

/// A body as it arrives, and its share of the memory budget.
#[derive(Default)]
struct Collected {
    buf: BytesMut,
    held: Option<OwnedSemaphorePermit>,
}

impl Collected {
    /// Reads `body` to its end, within the size limit and the budget.
    async fn collect(&mut self, body: &mut Body, limits: &BodyLimits) -> Result<(), ApiError> {
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if self.buf.len() + data.len() > limits.max {
                return Err(ApiError::BodyTooLarge { limit: limits.max });
            }
            let permit = limits
                .memory
                .clone()
                .try_acquire_many_owned(data.len().div_ceil(1024) as u32)
                .map_err(|_| ApiError::Overloaded)?;
            match &mut self.held {
                Some(held) => held.merge(permit),
                None => self.held = Some(permit),
            }
            self.buf.extend_from_slice(&data);
        }
        Ok(())
    }
}

/// Reads and discards what is left of a body, within bounds.
async fn drain(mut body: Body, within: Duration) {
    let _ = tokio::time::timeout(within, async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_MAX {
                return;
            }
        }
    })
    .await;
}

//! `GET /v1/ws`: an interactive run over a WebSocket. The client's first
//! message is the request of `POST /v1/exec` (plus, optionally, `key`: an
//! API key, as a browser cannot set a header on a WebSocket); then it may
//! send `{"stdin": "text"}`, `{"eof": true}` and `{"stop": true}`. The
//! server sends the events of the streaming form as JSON messages
//! (`{"event": "stdout", "data": {…}}`), `input_closed` when the program no
//! longer reads its stdin, and `end` with exactly the plain answer, or
//! with the error that refused the request; then it closes the socket.
//! Closing the socket stops the run and removes its container at once.
//!
//! Everything that refuses `POST /v1/exec` refuses the first message, with
//! the same kinds: the page's origin (checked here explicitly, as browsers
//! apply no CORS to WebSockets), the API key, the rate limit, the body's
//! size and time, the sandbox, a full server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;
use snipbox_wire::agent::Feed;
use snipbox_wire::api::ExecRequest;
use tokio::sync::mpsc::{self, UnboundedSender};

use super::stream::Events;
use super::{ApiError, AppState};
use crate::exec::Stdin;
use crate::listen::Held;

/// Room for the JSON around a request as large as the body limit allows.
const MESSAGE_SLACK: usize = 64 * 1024;

/// The first message: a run's request, and perhaps an API key.
#[derive(Deserialize)]
struct Start {
    #[serde(default)]
    key: Option<String>,
    #[serde(flatten)]
    request: ExecRequest,
}

/// What the client may send while its program runs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    eof: bool,
    #[serde(default)]
    stop: bool,
}

pub(super) async fn ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Without connection info (a test calling the router) it is this host.
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    // The connection's place under the connection caps, held as long as
    // the socket lives.
    let held = extensions.get::<Held>().cloned();
    let limit = state.body.max + MESSAGE_SLACK;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let mut socket = socket;
            if let Err(e) = session(&state, peer, headers, &mut socket).await {
                refuse(&state, &mut socket, e).await;
            }
            drop(held);
        })
}

/// The run of one socket; an error refuses the request before it runs.
async fn session(
    state: &AppState,
    peer: IpAddr,
    mut headers: HeaderMap,
    socket: &mut WebSocket,
) -> Result<(), ApiError> {
    let timeout = state.body.timeout;
    let first = tokio::time::timeout(timeout, first_text(socket))
        .await
        .map_err(|_| ApiError::BodyTimeout {
            ms: timeout.as_millis() as u64,
        })?;
    let Some(first) = first else {
        return Ok(());
    };
    if first.len() > state.body.max {
        return Err(ApiError::BodyTooLarge {
            limit: state.body.max,
        });
    }
    let start: Start = serde_json::from_str(&first).map_err(|e| {
        ApiError::BadRequest(format!("the first message is not a valid request: {e}"))
    })?;
    if let Some(key) = &start.key {
        let value = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| ApiError::BadRequest("the key is not valid text".into()))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    state.access.check(peer, &headers)?;
    let prepared = state.exec.prepare(start.request, Stdin::Interactive)?;
    let stdin_limit = prepared.stdin_limit();
    let slot = state.exec.admit(&prepared).await?;
    let (feed, fed) = mpsc::unbounded_channel();
    let mut events = Events::start(state, prepared, slot, Some(fed));
    let mut input = Feeder {
        feed,
        sent: 0,
        limit: stdin_limit,
    };
    loop {
        tokio::select! {
            event = events.next() => {
                let Some((name, data)) = event else { break };
                let message = serde_json::json!({ "event": name, "data": data }).to_string();
                if socket.send(Message::Text(message.into())).await.is_err() {
                    return Ok(());
                }
                if name == "end" {
                    break;
                }
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => match input.take(&text) {
                    Ok(true) => {}
                    // Stop: the run (and its container) ends with `events`,
                    // before the socket's closing handshake.
                    Ok(false) => {
                        drop(events);
                        close(socket, close_code::NORMAL, "stopped").await;
                        return Ok(());
                    }
                    Err(e) => send_error(state, socket, &e).await,
                },
                Some(Ok(Message::Binary(_))) => {
                    let e = ApiError::BadRequest("messages are JSON text".into());
                    send_error(state, socket, &e).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // The client went away: so does the run.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(()),
            },
        }
    }
    close(socket, close_code::NORMAL, "").await;
    Ok(())
}

/// The first text message; `None` when the client left before sending one.
async fn first_text(socket: &mut WebSocket) -> Option<Utf8Bytes> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => return Some(text),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Binary(_) | Message::Close(_)) | Err(_) => return None,
        }
    }
}

/// The client's input on its way to the program, within the byte limit.
struct Feeder {
    feed: UnboundedSender<Feed>,
    sent: u64,
    limit: u64,
}

impl Feeder {
    /// Passes a client message on; false when it says stop.
    fn take(&mut self, text: &str) -> Result<bool, ApiError> {
        let input: Input = serde_json::from_str(text).map_err(|e| {
            ApiError::BadRequest(format!(
                "a message is {{\"stdin\": \"text\"}}, {{\"eof\": true}} or {{\"stop\": true}}: {e}"
            ))
        })?;
        if input.stop {
            return Ok(false);
        }
        if let Some(text) = input.stdin {
            let sent = self.sent + text.len() as u64;
            if sent > self.limit {
                return Err(ApiError::StdinTooLarge { limit: self.limit });
            }
            self.sent = sent;
            // A run that has ended no longer reads: its `end` follows.
            let _ = self.feed.send(Feed::Data(text.into_bytes()));
        }
        if input.eof {
            let _ = self.feed.send(Feed::Eof);
        }
        Ok(true)
    }
}

/// Tells the client why its request was refused (an `end` with the error),
/// counts the refusal, and closes the socket.
async fn refuse(state: &AppState, socket: &mut WebSocket, e: ApiError) {
    let body = e.body();
    count(state, &e);
    let message = serde_json::json!({ "event": "end", "data": body }).to_string();
    let _ = socket.send(Message::Text(message.into())).await;
    close(socket, close_code::POLICY, "refused").await;
}

/// A message the run goes on after (an input it could not take).
async fn send_error(state: &AppState, socket: &mut WebSocket, e: &ApiError) {
    count(state, e);
    let message = serde_json::json!({ "event": "error", "data": e.body() }).to_string();
    let _ = socket.send(Message::Text(message.into())).await;
}

fn count(state: &AppState, e: &ApiError) {
    if let Some(reason) = e.refusal_kind() {
        state.metrics.reject(reason);
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
    // The client answers the close; do not wait long for it.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

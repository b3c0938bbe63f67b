//! The streaming form of `POST /v1/exec`: Server-Sent Events `start`,
//! `stdout` and `stderr` as the program writes, and `end` with exactly the
//! plain answer. The run lives as long as the stream: a client that closes
//! it (Stop) has its container removed at once. `Events`, the run as a
//! sequence of events, is shared with the WebSocket of interactive runs
//! (`ws.rs`).
//!
//! Memory stays bounded without backpressure: the run's output is capped
//! (the sandbox's `output_bytes` per stream), so events waiting for a slow
//! reader never hold more than the plain answer would.

use std::convert::Infallible;
use std::time::Instant;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::task::JoinHandle;

use super::answer::answer;
use super::{ApiError, AppState};
use crate::admission::Slot;
use crate::engine::Chunk;
use crate::exec::{ExecError, Finished, Prepared};
use snipbox_wire::agent::Feed;

pub(super) fn respond(state: AppState, prepared: Prepared, slot: Slot) -> Response {
    let events = Events::start(&state, prepared, slot, None);
    let body = stream::unfold(events, |mut e| async move {
        let (name, data) = e.next().await?;
        let event = Event::default().event(name).data(data.to_string());
        Some((Ok::<_, Infallible>(event), e))
    });
    let mut response = Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies that buffer answers would hold the events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", "no".parse().expect("a valid value"));
    response
}

/// The run in its task, aborted (and its container removed) when the
/// client goes away and the stream is dropped.
struct AbortOnDrop(JoinHandle<Result<Finished, ExecError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A run as it happens, as events: a name and its data. The run is
/// aborted (and its container removed) when this is dropped.
pub(super) struct Events {
    chunks: UnboundedReceiver<Chunk>,
    run: Option<AbortOnDrop>,
    ids: crate::exec::RunIds,
    started: Instant,
    /// Bytes of a UTF-8 character split between two chunks, per stream.
    text: [Utf8Carry; 2],
    /// Whether `input_closed` events are wanted (an interactive run's).
    input_events: bool,
}

impl Events {
    /// Starts the run in a task of its own; an interactive one reads `feed`.
    pub(super) fn start(
        state: &AppState,
        prepared: Prepared,
        slot: Slot,
        feed: Option<UnboundedReceiver<Feed>>,
    ) -> Events {
        let (tx, chunks) = mpsc::unbounded_channel();
        let ids = prepared.ids();
        let exec = state.exec.clone();
        let input_events = feed.is_some();
        let run = tokio::spawn(async move { exec.run(prepared, slot, Some(tx), feed).await });
        Events {
            chunks,
            run: Some(AbortOnDrop(run)),
            ids,
            started: Instant::now(),
            text: [Utf8Carry::default(), Utf8Carry::default()],
            input_events,
        }
    }

    /// The next event; `None` after `end`. Cancel-safe: an event is never
    /// lost to a caller that stops waiting.
    pub(super) async fn next(&mut self) -> Option<(&'static str, serde_json::Value)> {
        while let Some(chunk) = self.chunks.recv().await {
            if let Some(event) = self.event(chunk) {
                return Some(event);
            }
        }
        // Every sender is gone: the run ended.
        // Cancel-safe: the task is taken only once it has answered.
        let joined = (&mut self.run.as_mut()?.0).await;
        self.run = None;
        let result = match joined {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "a streamed run's task failed");
                return None;
            }
        };
        let data = match result {
            Ok(finished) => serde_json::to_value(answer(finished)),
            Err(e) => serde_json::to_value(ApiError::from(e).body()),
        };
        Some(("end", data.ok()?))
    }

    fn event(&mut self, chunk: Chunk) -> Option<(&'static str, serde_json::Value)> {
        let ms = || self.started.elapsed().as_millis() as u64;
        let (name, i, bytes) = match chunk {
            Chunk::Started(token) => {
                self.started = Instant::now();
                let id = self.ids.id(&token);
                return Some(("start", serde_json::json!({ "id": id })));
            }
            Chunk::InputClosed if self.input_events => {
                return Some(("input_closed", serde_json::json!({ "ms": ms() })));
            }
            Chunk::InputClosed => return None,
            Chunk::Stdout(b) => ("stdout", 0, b),
            Chunk::Stderr(b) => ("stderr", 1, b),
        };
        let text = self.text[i].push(&bytes);
        Some((name, serde_json::json!({ "text": text, "ms": ms() })))
    }
}

/// Turns chunks of bytes into text the way the plain answer does (invalid
/// bytes become U+FFFD), holding back a character split across chunks.
#[derive(Default)]
struct Utf8Carry(Vec<u8>);

impl Utf8Carry {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.0.extend_from_slice(bytes);
        // At most 3 bytes can be the start of a character still arriving.
        let tail = match std::str::from_utf8(&self.0) {
            Ok(_) => 0,
            Err(e) if e.error_len().is_none() => self.0.len() - e.valid_up_to(),
            Err(_) => incomplete_tail(&self.0),
        };
        let keep = self.0.split_off(self.0.len() - tail);
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0 = keep;
        text
    }
}

/// How many bytes at the end of `b` begin a character that is not complete.
fn incomplete_tail(b: &[u8]) -> usize {
    for n in 1..=3.min(b.len()) {
        let start = b.len() - n;
        if let Err(e) = std::str::from_utf8(&b[start..])
            && e.valid_up_to() == 0
            && e.error_len().is_none()
        {
            return n;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_chunks_arrives_whole() {
        let mut c = Utf8Carry::default();
        let snow = "☃".as_bytes();
        assert_eq!(c.push(&[b'a', snow[0]]), "a");
        assert_eq!(c.push(&snow[1..2]), "");
        assert_eq!(c.push(&[snow[2], b'b']), "☃b");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_as_in_the_plain_answer() {
        let mut c = Utf8Carry::default();
        let bytes = [b'a', 0xff, b'b', 0xe2, 0x98];
        let streamed = c.push(&bytes);
        assert_eq!(streamed, "a\u{fffd}b");
        assert_eq!(c.push(&[0x83]), "☃");
        let mut whole = Vec::from(bytes);
        whole.push(0x83);
        assert_eq!(String::from_utf8_lossy(&whole), "a\u{fffd}b☃");
    }
}

//! `GET|HEAD /v1/health`, answered from a cached view of the engine: some
//! widgets probe health before every run, so a flood of probes must not
//! become a flood of Engine API calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex;

use super::AppState;
use crate::check::{self, Level};
use crate::engine::Engine;

/// The engine is pinged at most this often, whatever the probe rate.
const PING_EVERY: Duration = Duration::from_secs(1);
/// The sandbox images are looked up at most this often while all is well.
const IMAGES_EVERY: Duration = Duration::from_secs(30);

pub struct Health {
    engine: Arc<Engine>,
    images: Vec<String>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    pinged: Option<Instant>,
    images_checked: Option<Instant>,
    /// The first problem found, `None` when all is well.
    problem: Option<String>,
}

impl Health {
    pub fn new(engine: Arc<Engine>, images: Vec<String>) -> Self {
        Health {
            engine,
            images,
            cache: Mutex::default(),
        }
    }

    /// `None` when the engine answers and every image exists, else the
    /// first problem. Callers that arrive while a check runs wait for it
    /// and share its result.
    pub async fn problem(&self) -> Option<String> {
        let mut cache = self.cache.lock().await;
        if cache.pinged.is_some_and(|at| at.elapsed() < PING_EVERY) {
            return cache.problem.clone();
        }
        cache.pinged = Some(Instant::now());
        if let Err(e) = self.engine.ping().await {
            cache.images_checked = None;
            cache.problem = Some(e.to_string());
            return cache.problem.clone();
        }
        let images_fresh = cache
            .images_checked
            .is_some_and(|at| at.elapsed() < IMAGES_EVERY);
        if !images_fresh {
            let findings = check::run(&self.engine, &self.images).await;
            cache.problem = findings
                .into_iter()
                .find(|f| f.level == Level::Error)
                .map(|f| f.message);
            cache.images_checked = cache.problem.is_none().then(Instant::now);
        }
        cache.problem.clone()
    }
}

pub(super) async fn health(State(state): State<AppState>) -> Response {
    match state.health.problem().await {
        None => Json(serde_json::json!({"status": "ok", "docker": "ok"})).into_response(),
        Some(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from(5))],
            Json(serde_json::json!({"status": "degraded", "docker": problem})),
        )
            .into_response(),
    }
}

//! The HTTP layer: routes, reading requests, the shape of answers, and one
//! table from every error to the API's JSON error shape (see `api.md`). It
//! calls [`crate::exec`] to run code and never builds a container itself.

mod answer;
mod error;
mod exec;
mod health;
mod request;
mod stream;
mod ws;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use snipbox_wire::api::SandboxInfo;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub use answer::answer;
pub use error::{ApiError, Rejected};
pub use health::Health;
pub use request::BodyLimits;

use crate::access::Access;
use crate::config::Config;
use crate::exec::Executor;
use crate::metrics::Metrics;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub exec: Arc<Executor>,
    pub access: Arc<Access>,
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
    pub body: BodyLimits,
    /// Who may read `/metrics` on the main listener besides this host.
    pub metrics_token: Option<Arc<str>>,
}

/// The whole HTTP application.
pub fn app(state: AppState, config: &Config) -> Router {
    let v1 = Router::new()
        .route("/exec", post(exec::exec))
        .route("/ws", get(ws::ws))
        .route("/health", get(health::health))
        .route("/sandboxes", get(sandboxes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors(config.origins()));
    let mut router = Router::new().nest("/v1", v1);
    if config.metrics_listen.is_none() {
        router = router.route("/metrics", get(guarded_metrics));
    }
    router
        .route_service("/demo", ServeFile::new(config.static_dir.join("demo.html")))
        .fallback_service(statics(config))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::map_response_with_state(
            state.clone(),
            count_rejected,
        ))
        .with_state(state)
}

/// The pages and the widget. Any page may load the widget (a module script
/// is fetched with CORS). File names are not hashed: caches revalidate
/// (Last-Modified) after 5 min. `make widget` precompresses the widget at
/// brotli's best quality; other files are compressed on the fly.
fn statics(config: &Config) -> axum::routing::MethodRouter {
    let service = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        .service(
            ServeDir::new(&config.static_dir)
                .precompressed_br()
                .precompressed_gzip()
                .not_found_service(axum::routing::any(not_found)),
        );
    axum::routing::any_service(service)
}

/// CORS for the API: `None` allows any origin.
fn cors(origins: Option<Vec<String>>) -> CorsLayer {
    let origin = match origins {
        None => AllowOrigin::any(),
        Some(list) => AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok())),
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600))
}

/// Counts every refused request once, by the kind its answer names.
async fn count_rejected(State(state): State<AppState>, response: Response) -> Response {
    if let Some(Rejected(reason)) = response.extensions().get::<Rejected>() {
        state.metrics.reject(reason);
    }
    response
}

async fn sandboxes(State(state): State<AppState>) -> Json<Vec<SandboxInfo>> {
    Json(state.exec.sandboxes().map(|s| s.info()).collect())
}

/// `/metrics` alone, for a listener of its own (`--metrics-listen`).
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `/metrics` on the main listener: this host's own scrapes, or a token.
async fn guarded_metrics(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> Result<Response, ApiError> {
    // Without connection info (a test calling the router) it is this host.
    // A request a proxy forwarded is someone else's, even when the proxy
    // runs on this host and connects from loopback.
    let proxied = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| parts.headers.contains_key(*h));
    let local = !proxied
        && parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_none_or(|c| c.0.ip().is_loopback());
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok()?.strip_prefix("Bearer "));
    let token_ok = match (&state.metrics_token, bearer) {
        (Some(token), Some(given)) => {
            subtle::ConstantTimeEq::ct_eq(token.as_bytes(), given.as_bytes()).into()
        }
        _ => false,
    };
    if !(local || token_ok) {
        return Err(ApiError::MetricsRefused);
    }
    Ok(metrics(State(state)).await.into_response())
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

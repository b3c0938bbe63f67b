//! The HTTP layer: routes, the JSON extractor, and one conversion from
//! every error to the API's JSON error shape (see `api.md`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use snipbox_wire::api::{ExecRequest, ExecResponse, SandboxInfo};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::access::{Access, Refusal};
use crate::config::Config;
use crate::exec::{ExecError, Executor};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub exec: Arc<Executor>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<crate::check::Cached>,
    pub access: Arc<Access>,
}

/// The whole HTTP application.
pub fn app(state: AppState, config: &Config) -> Router {
    let v1 = Router::new()
        .route("/exec", post(exec))
        .route("/health", get(health))
        .route("/sandboxes", get(sandboxes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors(&config.cors_origins));
    // Any page may load the widget (a module script is fetched with CORS).
    // File names are not hashed: caches revalidate (Last-Modified) after 5 min.
    let statics = tower::ServiceBuilder::new()
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
            // `make widget` precompresses the widget at brotli's best
            // quality; other files are compressed on the fly.
            ServeDir::new(&config.static_dir)
                .precompressed_br()
                .precompressed_gzip()
                .not_found_service(axum::routing::any(not_found)),
        );
    Router::new()
        .nest("/v1", v1)
        .route("/metrics", get(metrics))
        .route_service("/demo", ServeFile::new(config.static_dir.join("demo.html")))
        .fallback_service(statics)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600))
}

/// An error answered in the JSON shape of `/v1/exec`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ExecResponse {
            stderr: self.message,
            error: Some(self.kind.into()),
            ..ExecResponse::default()
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, kind) = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError::new(status, kind, rejection.body_text())
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        let status = match &e {
            ExecError::Files(_) if e.kind() == "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            ExecError::Files(_) => StatusCode::BAD_REQUEST,
            ExecError::UnknownSandbox(_)
            | ExecError::UnknownVersion { .. }
            | ExecError::UnknownCommand { .. } => StatusCode::NOT_FOUND,
            ExecError::Busy => StatusCode::TOO_MANY_REQUESTS,
            ExecError::Engine(engine) if engine.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ExecError::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut err = ApiError::new(status, e.kind(), e.to_string());
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            err.retry_after = Some(1);
        }
        err
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::RateLimited { retry_after, .. } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", r.to_string())
            },
            Refusal::Origin(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", r.to_string())
            }
            Refusal::BadKey => {
                ApiError::new(StatusCode::UNAUTHORIZED, "bad_api_key", r.to_string())
            }
        }
    }
}

/// `axum::Json`, rejecting in the API's JSON error shape.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

async fn exec(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ExecRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    if let Err(refusal) = state.access.check(peer.ip(), &headers) {
        let reason = match refusal {
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::Origin(_) => "origin_not_allowed",
            Refusal::BadKey => "bad_api_key",
        };
        state
            .metrics
            .rejected
            .get_or_create(&crate::metrics::ReasonLabels { reason })
            .inc();
        return Err(refusal.into());
    }
    Ok(Json(state.exec.exec(req).await?))
}

async fn health(State(state): State<AppState>) -> Response {
    let exec = &state.exec;
    match state
        .health
        .first_error(exec.engine(), exec.catalog())
        .await
        .map_or(Ok(()), Err)
    {
        Ok(()) => Json(serde_json::json!({"status": "ok", "docker": "ok"})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from(5))],
            Json(serde_json::json!({"status": "degraded", "docker": e.to_string()})),
        )
            .into_response(),
    }
}

async fn sandboxes(State(state): State<AppState>) -> Json<Vec<SandboxInfo>> {
    Json(state.exec.catalog().iter().map(|s| s.info()).collect())
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
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this path",
    )
}

//! The router: protocol endpoints at the root and under the API prefix,
//! operations endpoints, and the layers every request passes through.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use docsnap_core::config::{Config, Secret};
use docsnap_core::service::TaskService;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::body::BodyLimit;
use crate::error::ApiError;
use crate::limiter::FailureLimiter;
use crate::metrics::{Metrics, RequestLabels};
use crate::ocr::PageRecognizer;
use crate::{ocr, ops, protocol};

/// The request id header, generated when the client sends none and echoed in the response.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The task service; `None` in an OCR-only process.
    pub service: Option<TaskService>,
    /// The OCR engine for `POST /ocr` and readiness; `None` when this process runs no OCR.
    pub recognizer: Option<Arc<dyn PageRecognizer>>,
    /// The server's RSA public key in PEM, served at `GET /public_key`.
    pub public_key_pem: Option<Arc<str>>,
    /// Metrics served at `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// Throttling of undecryptable envelopes.
    pub limiter: Arc<FailureLimiter>,
    /// The largest request body accepted.
    pub body_limit: BodyLimit,
    /// The token `/process`, `/clear` and `/ocr` require, if any.
    pub bearer_token: Option<Arc<Secret>>,
    /// Header set by a reverse proxy that carries the client IP, if trusted.
    pub client_ip_header: Option<HeaderName>,
}

impl AppState {
    /// Creates the state for `config` with fresh metrics and limiter and no components.
    pub fn new(config: &Config) -> Self {
        Self {
            service: None,
            recognizer: None,
            public_key_pem: None,
            metrics: Arc::new(Metrics::new()),
            limiter: Arc::new(FailureLimiter::new(
                config.rate_limit.max_failures,
                config.rate_limit.window,
            )),
            body_limit: BodyLimit(config.body_limit),
            bearer_token: config.bearer_token.clone().map(Arc::new),
            client_ip_header: config
                .rate_limit
                .client_ip_header
                .as_deref()
                .and_then(|name| HeaderName::try_from(name).ok()),
        }
    }

    /// Returns the client's IP: from the trusted proxy header when one is
    /// configured and parses, otherwise the peer address.
    pub fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        let forwarded = self
            .client_ip_header
            .as_ref()
            .and_then(|name| headers.get(name))
            .and_then(|value| value.to_str().ok())
            // A proxy appends the address it saw, so the last entry is the one it vouches for.
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok());
        forwarded.unwrap_or_else(|| peer.ip())
    }

    /// Returns the task service, or 503 when this process does not run one.
    pub fn service(&self) -> Result<&TaskService, ApiError> {
        self.service
            .as_ref()
            .ok_or(ApiError::Unavailable("SERVICE_UNAVAILABLE"))
    }
}

impl FromRef<AppState> for BodyLimit {
    fn from_ref(state: &AppState) -> Self {
        state.body_limit
    }
}

/// Builds the router for `config`'s role and prefix.
pub fn router(config: &Config, state: AppState) -> Router {
    let bearer = middleware::from_fn_with_state(state.clone(), require_bearer);

    let mut api = Router::new();
    if config.serves_protocol() {
        let guarded = Router::new()
            .route("/process", post(protocol::process))
            .route("/clear", post(protocol::clear))
            .route_layer(bearer.clone());
        api = api
            .merge(guarded)
            .route("/check_status", get(protocol::check_status))
            .route("/public_key", get(ops::public_key));
    }
    if config.serves_ocr_endpoint() {
        let guarded = Router::new()
            .route("/ocr", post(ocr::ocr))
            .route_layer(bearer);
        api = api.merge(guarded);
    }

    let mut app = api.clone();
    if !config.api_prefix.is_empty() {
        app = app.nest(&config.api_prefix, api);
    }
    if config.serves_protocol() {
        app = app.route("/", get(ops::demo_page));
    }

    app.route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER)),
        )
        .with_state(state)
}

/// Opens the span of one request: method, path and request id, never the body.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
    )
}

/// Counts each request by matched route, method and status.
async fn record_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();

    let response = next.run(request).await;

    state.metrics.record_request(RequestLabels {
        route,
        method,
        status: response.status().as_u16(),
    });
    response
}

/// Rejects requests without the configured bearer token with 401.
async fn require_bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = &state.bearer_token else {
        return next.run(request).await;
    };
    let supplied = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);

    match supplied {
        Some(token) if constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) => {
            next.run(request).await
        }
        _ => {
            tracing::info!("rejected a request without a valid bearer token");
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Compares without an early exit, so response time does not reveal how
/// much of the token matched.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn state_with_header(header: Option<&str>) -> AppState {
        let mut config = Config::default();
        config.rate_limit.client_ip_header = header.map(str::to_owned);
        AppState::new(&config)
    }

    #[test]
    fn client_ip_uses_last_forwarded_entry() {
        let state = state_with_header(Some("x-forwarded-for"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();

        assert_eq!(state.client_ip(&headers, peer).to_string(), "198.51.100.7");
        assert_eq!(
            state.client_ip(&HeaderMap::new(), peer).to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn client_ip_ignores_header_unless_configured() {
        let state = state_with_header(None);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();

        assert_eq!(state.client_ip(&headers, peer).to_string(), "127.0.0.1");
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}

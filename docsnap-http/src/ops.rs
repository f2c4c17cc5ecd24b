//! Operations endpoints: public key, health, readiness, metrics, the API
//! description, the demo page and the JSON fallbacks.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::metrics::TaskCounts;
use crate::openapi::ApiDoc;
use crate::schema::HealthBody;

const DEMO_PAGE: &str = include_str!("../assets/demo.html");

/// Returns the server's RSA public key, which clients wrap their AES keys with.
#[utoipa::path(
    get,
    path = "/public_key",
    tag = "protocol",
    responses(
        (status = 200, description = "The public key as PEM (SubjectPublicKeyInfo)", body = String, content_type = "text/plain"),
        (status = 503, description = "This process has no key pair (role ocr)", body = ErrorBody),
    ),
)]
pub async fn public_key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let pem = state
        .public_key_pem
        .clone()
        .ok_or(ApiError::Unavailable("SERVICE_UNAVAILABLE"))?;
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    Ok((headers, pem.to_string()).into_response())
}

/// Serves the browser demo page.
pub async fn demo_page() -> Html<&'static str> {
    Html(DEMO_PAGE)
}

/// Reports that the process is alive.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = HealthBody)),
)]
pub async fn healthz() -> Json<HealthBody> {
    Json(HealthBody {
        status: "ok".to_owned(),
        checks: BTreeMap::new(),
    })
}

/// Reports whether the task store responds and the OCR engine is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Every check passed", body = HealthBody),
        (status = 503, description = "A check failed; `checks` names it", body = HealthBody),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut checks = BTreeMap::new();
    if let Some(service) = &state.service {
        checks.insert("store".to_owned(), service_ready(service).await);
    }
    checks.insert("ocr".to_owned(), state.recognizer.is_some());

    let ready = checks.values().all(|&passed| passed);
    let (status, label) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let body = HealthBody {
        status: label.to_owned(),
        checks,
    };
    (status, Json(body)).into_response()
}

/// Returns every metric in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Metrics in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text")),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(service) = &state.service {
        state.metrics.set_task_counts(task_counts(service).await);
    }
    let headers = [(
        header::CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )];
    (headers, state.metrics.encode()).into_response()
}

/// Returns the OpenAPI 3.1 description of every endpoint.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json")),
)]
pub async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// Rejects an unknown path with 404 JSON.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Rejects a known path requested with the wrong method with 405 JSON.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn service_ready(service: &docsnap_core::service::TaskService) -> bool {
    match service.ready().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(error = %error, "task store is not ready");
            false
        }
    }
}

async fn task_counts(service: &docsnap_core::service::TaskService) -> TaskCounts {
    match service.stats().await {
        Ok(stats) => TaskCounts {
            processing: saturating_i64(stats.queued + stats.running),
            completed: saturating_i64(stats.completed),
            failed: saturating_i64(stats.failed),
            queue_depth: saturating_i64(stats.queued),
            oldest_queued_seconds: stats.oldest_queued_age.map_or(0.0, |age| age.as_secs_f64()),
        },
        Err(error) => {
            tracing::warn!(error = %error, "reading task statistics failed");
            TaskCounts::default()
        }
    }
}

fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

//! The DocuSnap protocol endpoints: `POST /process`, `POST /clear`, `GET /check_status`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use docsnap_core::ErrorKind;
use docsnap_core::types::TaskState;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::body::JsonBody;
use crate::error::{ApiError, ClearError, ClearErrorBody, ErrorBody};
use crate::schema::{
    ClearRequest, ClearResponse, CompletedBody, ProcessRequest, ProcessingBody, ServerStatus,
};

/// Submits a task, or polls one with `has_content: false`.
#[utoipa::path(
    post,
    path = "/process",
    tag = "protocol",
    request_body = ProcessRequest,
    responses(
        (status = 202, description = "The task is queued or running; poll again", body = ProcessingBody),
        (status = 200, description = "The task is done", body = CompletedBody),
        (status = 400, description = "A request-level or task-level error code", body = ErrorBody),
        (status = 401, description = "The bearer token is missing or wrong", body = ErrorBody),
        (status = 413, description = "The body is larger than the limit: PAYLOAD_TOO_LARGE", body = ErrorBody),
        (status = 429, description = "Too many undecryptable envelopes from this client or address: RATE_LIMITED", body = ErrorBody),
        (status = 500, description = "The task store failed: DATABASE_ERROR", body = ErrorBody),
    ),
)]
pub async fn process(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let service = state.service()?;
    let client_id = body.get("client_id").and_then(Value::as_str);
    let client_ip = state.client_ip(&headers, peer);
    let peer_ip = Some(client_ip);
    if state.limiter.is_limited(client_id, peer_ip) {
        tracing::info!(client_id, %client_ip, "rejected a request from a throttled client");
        return Err(ApiError::RateLimited);
    }

    match service.submit(&body).await {
        Ok(task) => Ok(task_response(task)),
        Err(error) => {
            if matches!(
                error.kind(),
                ErrorKind::RsaDecryptionFailed | ErrorKind::AesDecryptionFailed
            ) {
                state.limiter.record_failure(client_id, peer_ip);
            }
            if error.kind() == ErrorKind::Database {
                tracing::error!(client_id, error = %error, "task store failed during submit");
            } else {
                tracing::info!(client_id, code = error.code(), "rejected a process request");
            }
            Err(ApiError::from(error))
        }
    }
}

fn task_response(task: TaskState) -> Response {
    match task {
        TaskState::Processing => {
            (StatusCode::ACCEPTED, Json(json!({"status": "processing"}))).into_response()
        }
        TaskState::Completed { result } => (
            StatusCode::OK,
            Json(json!({"status": "completed", "result": result})),
        )
            .into_response(),
        TaskState::Failed { error } => ApiError::Protocol(error).into_response(),
    }
}

/// Deletes one task, one hash's tasks, or all of a client's tasks.
#[utoipa::path(
    post,
    path = "/clear",
    tag = "protocol",
    request_body = ClearRequest,
    responses(
        (status = 200, description = "The tasks were deleted", body = ClearResponse),
        (status = 400, description = "`client_id` is missing: `{\"error\": \"Missing client_id\"}`; another field is malformed: `{\"error\": \"<CODE>\"}` such as INVALID_TYPE. A body that is not JSON gets the ErrorBody INVALID_REQUEST instead", body = ClearErrorBody),
        (status = 401, description = "The bearer token is missing or wrong", body = ErrorBody),
        (status = 500, description = "The task store failed: CACHE_CLEAR_FAILED", body = ClearErrorBody),
    ),
)]
pub async fn clear(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let service = state.service()?;
    let response = match service.clear(&body).await {
        Ok(cleared) => Json(json!({"status": "ok", "cleared": cleared})).into_response(),
        Err(error) if error.kind() == ErrorKind::Database => {
            tracing::error!(error = %error, "clearing tasks failed");
            ClearError::ClearFailed.into_response()
        }
        Err(error) if error.kind() == ErrorKind::MissingRequiredField && !has_client_id(&body) => {
            ClearError::MissingClientId.into_response()
        }
        // CACHE_CLEAR_FAILED (500) is for store failures only, because bad input is the client's fault.
        Err(error) => {
            tracing::info!(code = error.code(), "rejected a clear request");
            ClearError::Invalid(error.code()).into_response()
        }
    };
    Ok(response)
}

fn has_client_id(body: &Value) -> bool {
    body.get("client_id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.is_empty())
}

/// Reports that the server is up, in the shape DocuSnap clients check.
#[utoipa::path(
    get,
    path = "/check_status",
    tag = "protocol",
    responses((status = 200, description = "The server is up", body = ServerStatus)),
)]
pub async fn check_status() -> Json<Value> {
    Json(json!({"server_status": "ok"}))
}

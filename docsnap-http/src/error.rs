//! JSON error responses: every failure the server sends has a JSON body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use docsnap_core::ErrorKind;
use serde::Serialize;
use utoipa::ToSchema;

/// A failed protocol request: `{"status": "error", "error_detail": CODE}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `error`.
    #[schema(example = "error")]
    pub status: &'static str,
    /// A protocol error code such as `SHA256_MISMATCH`.
    #[schema(example = "SHA256_MISMATCH")]
    pub error_detail: String,
}

/// A failed `/clear` request: `{"error": MESSAGE}`, as the DocuSnap clients expect.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClearErrorBody {
    /// `Missing client_id`, `CACHE_CLEAR_FAILED` or the code of a malformed field such as `INVALID_TYPE`.
    #[schema(example = "Missing client_id")]
    pub error: &'static str,
}

/// An error the HTTP layer sends, before or after the task service ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// A protocol error code from the core, with the status the protocol gives it.
    Protocol(ErrorKind),
    /// The body is not a JSON object, has the wrong content type or is empty.
    InvalidRequest,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The bearer token is missing or wrong.
    Unauthorized,
    /// The client or peer sent too many undecryptable envelopes recently.
    RateLimited,
    /// The client stopped sending the body before it was complete.
    RequestTimeout,
    /// No route matches the path.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// A required part of the server is not running or failed for a reason
    /// that may pass, such as OCR in an API-only process: 503 with this code.
    Unavailable(&'static str),
    /// The server failed for a reason a retry will not fix: 500 with this code.
    Internal(&'static str),
}

impl ApiError {
    /// Returns the HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Protocol(ErrorKind::Database) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Protocol(ErrorKind::PayloadTooLarge) | ApiError::PayloadTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Protocol(_) | ApiError::InvalidRequest => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Returns the code sent in `error_detail`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Protocol(kind) => kind.code(),
            ApiError::InvalidRequest => ErrorKind::InvalidRequest.code(),
            ApiError::PayloadTooLarge => ErrorKind::PayloadTooLarge.code(),
            ApiError::Unauthorized => "UNAUTHORIZED",
            ApiError::RateLimited => "RATE_LIMITED",
            ApiError::RequestTimeout => "REQUEST_TIMEOUT",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::Unavailable(code) | ApiError::Internal(code) => code,
        }
    }
}

impl From<docsnap_core::Error> for ApiError {
    fn from(error: docsnap_core::Error) -> Self {
        ApiError::Protocol(error.kind())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            status: "error",
            error_detail: self.code().to_owned(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if self == ApiError::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A failed `/clear`, in the `{"error": ...}` shape that endpoint has always used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearError {
    /// `client_id` is missing or not a string: 400 `Missing client_id`.
    MissingClientId,
    /// Another field is malformed, such as an unknown `type`: 400 with its code.
    Invalid(&'static str),
    /// The store failed: 500 `CACHE_CLEAR_FAILED`.
    ClearFailed,
}

impl IntoResponse for ClearError {
    fn into_response(self) -> Response {
        let (status, error) = match self {
            ClearError::MissingClientId => (StatusCode::BAD_REQUEST, "Missing client_id"),
            ClearError::Invalid(code) => (StatusCode::BAD_REQUEST, code),
            ClearError::ClearFailed => (StatusCode::INTERNAL_SERVER_ERROR, "CACHE_CLEAR_FAILED"),
        };
        (status, Json(ClearErrorBody { error })).into_response()
    }
}

//! Request bodies read under a size limit, and JSON bodies that fail as protocol errors.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};

use crate::error::ApiError;

/// The largest request body accepted, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub u64);

/// A request body parsed as JSON; any JSON value, because the task service
/// itself rejects non-objects with the protocol's code.
///
/// A body that is empty, not JSON, or sent with a content type other than
/// JSON is rejected with `INVALID_REQUEST`. A missing content type is
/// accepted because older clients omit it.
#[derive(Debug)]
pub struct JsonBody(pub serde_json::Value);

impl<S> FromRequest<S> for JsonBody
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_or_unspecified(request.headers()) {
            return Err(ApiError::InvalidRequest);
        }

        let limit = BodyLimit::from_ref(state);
        check_declared_length(request.headers(), limit)?;
        let bytes = read_limited(request.into_body(), limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::InvalidRequest);
        }

        let value = serde_json::from_slice(&bytes).map_err(|_| ApiError::InvalidRequest)?;
        Ok(JsonBody(value))
    }
}

/// A raw request body read under the limit, for image uploads.
#[derive(Debug)]
pub struct LimitedBytes(pub Bytes);

impl<S> FromRequest<S> for LimitedBytes
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = BodyLimit::from_ref(state);
        check_declared_length(request.headers(), limit)?;
        let bytes = read_limited(request.into_body(), limit).await?;
        Ok(LimitedBytes(bytes))
    }
}

/// Maximum wait for the next piece of a request body. A client that stalls
/// longer gets 408, so a stalled upload cannot hold a connection forever.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads a body, failing with 413 as soon as it passes `limit`, so at most
/// `limit` bytes are ever buffered, and with 408 when it stalls.
pub async fn read_limited(body: Body, limit: BodyLimit) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(limit.0).unwrap_or(usize::MAX);
    let mut body = Limited::new(body, limit);
    let mut bytes = Vec::new();
    loop {
        let frame = match tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return Ok(Bytes::from(bytes)),
            Ok(Some(Err(error))) if error.is::<http_body_util::LengthLimitError>() => {
                return Err(ApiError::PayloadTooLarge);
            }
            Ok(Some(Err(error))) => {
                tracing::debug!(%error, "reading the request body failed");
                return Err(ApiError::InvalidRequest);
            }
            Err(_) => {
                tracing::info!(
                    received = bytes.len(),
                    idle_secs = BODY_IDLE_TIMEOUT.as_secs(),
                    "request body timed out"
                );
                return Err(ApiError::RequestTimeout);
            }
        };
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
}

/// Rejects a body whose `Content-Length` already exceeds the limit, before reading any of it.
fn check_declared_length(headers: &HeaderMap, limit: BodyLimit) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit.0 => Err(ApiError::PayloadTooLarge),
        _ => Ok(()),
    }
}

fn is_json_or_unspecified(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence[..essence.len() - 5].contains('/')
            && essence.to_ascii_lowercase().ends_with("+json"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers_with(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    #[test]
    fn content_type_json_variants_pass() {
        assert!(is_json_or_unspecified(&HeaderMap::new()));
        assert!(is_json_or_unspecified(&headers_with("application/json")));
        assert!(is_json_or_unspecified(&headers_with(
            "Application/JSON; charset=utf-8"
        )));
        assert!(is_json_or_unspecified(&headers_with(
            "application/vnd.docsnap+json"
        )));
    }

    #[test]
    fn content_type_others_fail() {
        assert!(!is_json_or_unspecified(&headers_with("text/plain")));
        assert!(!is_json_or_unspecified(&headers_with(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_json_or_unspecified(&headers_with(
            "multipart/form-data; boundary=x"
        )));
    }

    #[tokio::test]
    async fn body_over_limit_is_rejected() {
        let body = Body::from(vec![b'x'; 11]);
        let error = read_limited(body, BodyLimit(10)).await.unwrap_err();
        assert_eq!(error, ApiError::PayloadTooLarge);

        let body = Body::from(vec![b'x'; 10]);
        let bytes = read_limited(body, BodyLimit(10)).await.unwrap();
        assert_eq!(bytes.len(), 10);
    }
}

//! `POST /ocr`: image bytes in, recognised text out, so OCR can run as its own tier.

use std::collections::HashMap;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use docsnap_core::ErrorKind;
use docsnap_core::ocr::PageText;

use crate::app::AppState;
use crate::body::LimitedBytes;
use crate::error::{ApiError, ErrorBody};
use crate::schema::{CnocrResponse, OcrResponse, PageImage};

/// Recognises the text of encoded page images (PNG, JPEG and other formats
/// the core decodes), one [`PageText`] per image.
#[async_trait]
pub trait PageRecognizer: Send + Sync + std::fmt::Debug {
    /// Decodes and recognises each image, in order.
    async fn recognize_pages(&self, images: Vec<Vec<u8>>) -> docsnap_core::Result<Vec<PageText>>;
}

/// Recognises the text of one page image sent as the raw request body.
#[utoipa::path(
    post,
    path = "/ocr",
    tag = "ocr",
    request_body(content = PageImage, content_type = "image/png", description = "One page image: PNG, JPEG, or another format the server decodes, with any content type"),
    params(("format" = Option<String>, Query, description = "`cnocr` returns the CnOCR server shape instead")),
    responses(
        (status = 200, description = "The recognised page, or with `?format=cnocr` its lines in the CnOCR shape", body = OcrResponse),
        (status = 400, description = "The image cannot be decoded: INVALID_IMAGE", body = ErrorBody),
        (status = 401, description = "The bearer token is missing or wrong", body = ErrorBody),
        (status = 413, description = "The image is larger than the body limit", body = ErrorBody),
        (status = 500, description = "Recognition failed: OCR_FAILURE", body = ErrorBody),
        (status = 503, description = "Recognition failed for a reason that may pass; retry later", body = ErrorBody),
    ),
)]
pub async fn ocr(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    LimitedBytes(bytes): LimitedBytes,
) -> Result<Response, ApiError> {
    let recognizer = state
        .recognizer
        .clone()
        .ok_or(ApiError::Unavailable("OCR_UNAVAILABLE"))?;
    let cnocr = match query.get("format").map(String::as_str) {
        None | Some("docsnap") => false,
        Some("cnocr") => true,
        Some(_) => return Err(ApiError::InvalidRequest),
    };
    if bytes.is_empty() {
        return Err(ApiError::Protocol(ErrorKind::InvalidImage));
    }

    let page = match recognizer.recognize_pages(vec![bytes.to_vec()]).await {
        Ok(pages) => pages.into_iter().next().unwrap_or_default(),
        Err(error) => return Err(ocr_error(error)),
    };

    let response = if cnocr {
        Json(CnocrResponse::from(&page)).into_response()
    } else {
        Json(page).into_response()
    };
    Ok(response)
}

/// Maps a recognition error onto a status the remote OCR client understands:
/// 4xx will never succeed, 5xx may succeed on a retry.
fn ocr_error(error: docsnap_core::Error) -> ApiError {
    match error.kind() {
        ErrorKind::InvalidImage | ErrorKind::TooManyPages | ErrorKind::PayloadTooLarge => {
            tracing::info!(code = error.code(), "rejected an OCR request");
            ApiError::Protocol(error.kind())
        }
        _ if error.is_transient() => {
            tracing::warn!(error = %error, "OCR failed transiently");
            ApiError::Unavailable("OCR_FAILURE")
        }
        _ => {
            tracing::error!(error = %error, "OCR failed");
            ApiError::Internal(error.kind().code())
        }
    }
}

#[async_trait]
impl PageRecognizer for docsnap_core::engine::Engine {
    async fn recognize_pages(&self, images: Vec<Vec<u8>>) -> docsnap_core::Result<Vec<PageText>> {
        self.ocr(images).await
    }
}

//! Client for docsnap's own OCR endpoint, which lets OCR run as its own tier.

use async_trait::async_trait;

use super::{Endpoint, RemoteOcrConfig, encode_png};
use crate::error::Result;
use crate::ocr::{OcrEngine, Page, PageText};

/// An [`OcrEngine`] that sends each page to a docsnap OCR server.
///
/// The wire format:
///
/// - Request: `POST {base}/ocr` with `Content-Type: image/png` and the page
///   as the PNG body; `Authorization: Bearer <token>` when one is configured.
/// - Success: `200` with the page's [`PageText`] as JSON, for example
///   `{"index": 0, "width": 1240, "height": 1754, "lines": [{"text": "Invoice",
///   "bbox": {"x": 96.0, "y": 80.0, "width": 210.0, "height": 34.0},
///   "confidence": 0.97}]}`. `width` and `height` are the size of the image
///   the boxes refer to. A server that shrank the page reports the shrunk
///   size, and the client scales the boxes back. `index` is ignored, because
///   the client knows which page it sent. `confidence` may be `null`.
/// - Failure: `4xx` for a page the server will never read (not retried),
///   `5xx`, `408` or `429` when a later try may succeed (retried).
#[derive(Debug, Clone)]
pub struct RemoteOcrClient {
    endpoint: Endpoint,
}

impl RemoteOcrClient {
    /// Creates a client for the server at `base_url`, such as
    /// `http://ocr.internal:8000`; it sends no request until the first page.
    ///
    /// Fails with [`crate::ErrorKind::InvalidConfig`] on a URL that is not
    /// plain http or https.
    pub fn new(base_url: &str, config: RemoteOcrConfig) -> Result<Self> {
        Ok(Self {
            endpoint: Endpoint::new(base_url, config)?,
        })
    }

    /// The URL that pages are posted to.
    pub fn url(&self) -> &str {
        self.endpoint.url.as_str()
    }
}

#[async_trait]
impl OcrEngine for RemoteOcrClient {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        let png = encode_png(page).await?;

        let response: PageText = self
            .endpoint
            .post_json(|request| {
                Ok(request
                    .header(reqwest::header::CONTENT_TYPE, "image/png")
                    .body(png.clone()))
            })
            .await?;

        if response.width == 0 || response.height == 0 {
            return Err(self.endpoint.invalid_response(format!(
                "the page size is {}x{} pixels; width and height must be positive",
                response.width, response.height
            )));
        }

        Ok(fit_to_page(response, page))
    }

    fn name(&self) -> &str {
        "docsnap-remote"
    }
}

/// Moves the response's boxes into the page's pixel space and sets the index.
fn fit_to_page(mut response: PageText, page: &Page) -> PageText {
    let (width, height) = page.image.dimensions();

    if (response.width, response.height) != (width, height) {
        let scale_x = width as f32 / response.width as f32;
        let scale_y = height as f32 / response.height as f32;
        for line in &mut response.lines {
            line.bbox.x *= scale_x;
            line.bbox.width *= scale_x;
            line.bbox.y *= scale_y;
            line.bbox.height *= scale_y;
        }
    }

    response.index = page.index;
    response.width = width;
    response.height = height;
    response
}

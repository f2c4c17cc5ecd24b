//! Client for CnOCR-style OCR servers, as run by earlier DocuSnap deployments.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Endpoint, RemoteOcrConfig, encode_png};
use crate::error::{Error, ErrorKind, Result};
use crate::ocr::{BoundingBox, OcrEngine, Page, PageText, TextLine};

/// An [`OcrEngine`] that sends each page to a CnOCR-style server.
///
/// Request: `POST {base}/ocr`, a multipart form whose field `image` is the
/// page as a PNG file. Response: `{"results": [{"text": "...", "score":
/// 0.98, "position": [[x, y], [x, y], [x, y], [x, y]]}, ...]}`, where
/// `position` is the line's polygon in image pixels. Lines keep the
/// server's order.
#[derive(Debug, Clone)]
pub struct CnOcrClient {
    endpoint: Endpoint,
}

impl CnOcrClient {
    /// Creates a client for the server at `base_url`, such as
    /// `http://127.0.0.1:8501`; it sends no request until the first page.
    ///
    /// Fails with [`ErrorKind::InvalidConfig`] on a URL that is not plain
    /// http or https.
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

#[derive(Deserialize)]
struct CnOcrResponse {
    results: Option<Vec<CnOcrLine>>,
}

#[derive(Deserialize)]
struct CnOcrLine {
    text: String,
    score: Option<f32>,
    position: Vec<[f32; 2]>,
}

#[async_trait]
impl OcrEngine for CnOcrClient {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        let png = encode_png(page).await?;

        let response: CnOcrResponse = self
            .endpoint
            .post_json(|request| {
                // The file name matters: Starlette, which CnOCR's server is
                // built on, reads a part without one as text, not as a file.
                let part = reqwest::multipart::Part::bytes(png.clone())
                    .file_name(format!("page-{}.png", page.index))
                    .mime_str("image/png")
                    .map_err(|err| {
                        Error::new(ErrorKind::OcrFailure, "invalid multipart content type")
                            .with_source(err)
                    })?;
                let form = reqwest::multipart::Form::new().part("image", part);
                Ok(request.multipart(form))
            })
            .await?;

        let Some(results) = response.results else {
            return Err(self.endpoint.invalid_response(
                "the JSON has no `results` array; check that the URL points at a CnOCR server",
            ));
        };

        let lines = results
            .into_iter()
            .enumerate()
            .map(|(number, line)| self.convert_line(number, line))
            .collect::<Result<Vec<_>>>()?;

        Ok(PageText {
            index: page.index,
            width: page.image.width(),
            height: page.image.height(),
            lines,
        })
    }

    fn name(&self) -> &str {
        "cnocr"
    }
}

impl CnOcrClient {
    fn convert_line(&self, number: usize, line: CnOcrLine) -> Result<TextLine> {
        let Some(bbox) = polygon_bounds(&line.position) else {
            return Err(self
                .endpoint
                .invalid_response(format!("result {number} has an empty `position`")));
        };

        Ok(TextLine {
            text: line.text,
            bbox,
            confidence: line.score.map(|score| score.clamp(0.0, 1.0)),
        })
    }
}

/// Computes the smallest axis-aligned box around the points, or `None` for
/// no points.
fn polygon_bounds(points: &[[f32; 2]]) -> Option<BoundingBox> {
    let [first_x, first_y] = *points.first()?;
    let (mut left, mut top, mut right, mut bottom) = (first_x, first_y, first_x, first_y);
    for &[x, y] in points {
        left = left.min(x);
        top = top.min(y);
        right = right.max(x);
        bottom = bottom.max(y);
    }

    Some(BoundingBox {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_bounds_of_rotated_quad() {
        let points = [[12.0, 5.0], [40.0, 9.0], [38.0, 21.0], [10.0, 17.0]];
        let bbox = polygon_bounds(&points);
        assert_eq!(
            bbox,
            Some(BoundingBox {
                x: 10.0,
                y: 5.0,
                width: 30.0,
                height: 16.0
            })
        );
    }

    #[test]
    fn polygon_bounds_of_nothing() {
        assert_eq!(polygon_bounds(&[]), None);
    }
}

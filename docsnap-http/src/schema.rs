//! Request and response bodies of every endpoint, as typed for the OpenAPI document.
//!
//! The protocol handlers pass request bodies to the task service as JSON
//! values, so the request types here exist to describe the wire format.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A `POST /process` request: submit a task, or poll one with `has_content: false`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProcessRequest {
    /// The client's identity, usually a UUID; part of the task key.
    pub client_id: String,
    /// The processing kind.
    #[serde(rename = "type")]
    pub kind: TaskKindSchema,
    /// Lowercase hex SHA-256 of the `content` text as sent; part of the task key.
    #[serde(rename = "SHA256")]
    pub sha256: String,
    /// False polls an existing task. A JSON boolean, or `0`/`1`.
    pub has_content: bool,
    /// `base64(IV || AES-CBC(inner payload))`, or `base64(nonce || ciphertext || tag)` under A256GCM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The AES key wrapped with the server's RSA key (OAEP, SHA-256, MGF1 with SHA-256 or SHA-1), base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aes_key: Option<String>,
    /// `A256GCM` for authenticated encryption; absent means AES-CBC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
}

/// The task kinds of the protocol's `type` field.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskKindSchema {
    /// Extract a document.
    Doc,
    /// Extract a form with its blank fields.
    Form,
    /// Fill a form from the file library.
    Fill,
}

/// A task that is queued or running.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProcessingBody {
    /// Always `processing`.
    #[schema(example = "processing")]
    pub status: String,
}

/// A completed task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompletedBody {
    /// Always `completed`.
    #[schema(example = "completed")]
    pub status: String,
    /// The result JSON sealed with the request's AES key, in the request's cipher, base64.
    pub result: String,
}

/// A `POST /clear` request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClearRequest {
    /// The client whose tasks are deleted.
    pub client_id: String,
    /// With `type`: delete one task. Alone: delete that hash's tasks of every type.
    #[serde(rename = "SHA256", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The task kind, used together with `SHA256`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TaskKindSchema>,
}

/// A successful `POST /clear`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClearResponse {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
    /// Number of tasks deleted.
    pub cleared: u64,
}

/// The `GET /check_status` response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServerStatus {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub server_status: String,
}

/// The `GET /healthz` and `GET /readyz` responses.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthBody {
    /// `ok`, `ready` or `not_ready`.
    pub status: String,
    /// Each readiness check and whether it passed; empty for `/healthz`.
    #[serde(default)]
    pub checks: std::collections::BTreeMap<String, bool>,
}

/// The recognised text of one page, from `POST /ocr`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OcrPage {
    /// Zero-based page index.
    pub index: usize,
    /// Width of the image the boxes refer to, in pixels.
    pub width: u32,
    /// Height of the image the boxes refer to, in pixels.
    pub height: u32,
    /// Lines in reading order.
    pub lines: Vec<OcrLine>,
}

/// One recognised line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OcrLine {
    /// The text of the line.
    pub text: String,
    /// Bounding box of the line on the page, in pixels.
    pub bbox: OcrBox,
    /// Recognition confidence in 0..=1, or null when the engine gives none.
    pub confidence: Option<f32>,
}

/// An axis-aligned box in page pixels, origin at the top left.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OcrBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// A `POST /ocr` response: the page, or with `?format=cnocr` the CnOCR shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OcrResponse {
    /// The default shape.
    Page(OcrPage),
    /// The shape with `?format=cnocr`.
    Cnocr(CnocrResponse),
}

/// A page image sent as the raw request body.
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PageImage(pub Vec<u8>);

/// The `POST /ocr?format=cnocr` response, in the shape CnOCR servers return.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CnocrResponse {
    /// One entry per recognised line.
    pub results: Vec<CnocrLine>,
}

/// One line in the CnOCR shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CnocrLine {
    /// The text of the line.
    pub text: String,
    /// Recognition confidence in 0..=1; 0 when the engine gives none.
    pub score: f32,
    /// Corners as `[x, y]` pixels: top left, top right, bottom right, bottom left.
    pub position: [[f32; 2]; 4],
}

impl From<&docsnap_core::ocr::PageText> for CnocrResponse {
    fn from(page: &docsnap_core::ocr::PageText) -> Self {
        let results = page
            .lines
            .iter()
            .map(|line| {
                let b = line.bbox;
                CnocrLine {
                    text: line.text.clone(),
                    score: line.confidence.unwrap_or(0.0),
                    position: [
                        [b.x, b.y],
                        [b.x + b.width, b.y],
                        [b.x + b.width, b.y + b.height],
                        [b.x, b.y + b.height],
                    ],
                }
            })
            .collect();
        CnocrResponse { results }
    }
}

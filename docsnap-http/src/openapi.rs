//! The OpenAPI 3.1 description, generated from the handlers and body types.

use utoipa::OpenApi;

use crate::error::{ClearErrorBody, ErrorBody};
use crate::schema::{
    ClearRequest, ClearResponse, CnocrLine, CnocrResponse, CompletedBody, HealthBody, OcrBox,
    OcrLine, OcrPage, OcrResponse, PageImage, ProcessRequest, ProcessingBody, ServerStatus,
    TaskKindSchema,
};
use crate::{ocr, ops, protocol};

/// The OpenAPI document served at `GET /openapi.json`.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "docsnap",
        description = "The DocuSnap wire protocol. The protocol endpoints (`/process`, `/clear`, `/check_status`, `/public_key`, `/ocr`) are served at the root and under the configured API prefix (default `/api/v1`).",
    ),
    paths(
        protocol::process,
        protocol::clear,
        protocol::check_status,
        ops::public_key,
        ocr::ocr,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(
        ProcessRequest,
        TaskKindSchema,
        ProcessingBody,
        CompletedBody,
        ErrorBody,
        ClearRequest,
        ClearResponse,
        ClearErrorBody,
        ServerStatus,
        HealthBody,
        OcrPage,
        OcrLine,
        OcrBox,
        CnocrResponse,
        CnocrLine,
        OcrResponse,
        PageImage,
    )),
    tags(
        (name = "protocol", description = "The DocuSnap protocol"),
        (name = "ocr", description = "Text recognition as its own tier"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
)]
pub struct ApiDoc;

//! The DocuSnap wire protocol over HTTP: an axum router over the core's task service.

pub mod app;
pub mod body;
pub mod error;
pub mod limiter;
pub mod metrics;
pub mod ocr;
pub mod openapi;
pub mod ops;
pub mod protocol;
pub mod schema;
pub mod server;

pub use app::{AppState, router};
pub mod cli;

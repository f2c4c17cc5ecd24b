//! docsnap turns photos and scans of documents and forms into structured
//! data, and fills blank forms from a user's earlier documents.

pub mod config;
pub mod engine;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod llm;
pub mod ocr;
pub mod pipeline;
pub mod service;
pub mod store;
pub mod types;

pub use error::{Error, ErrorKind, Result};

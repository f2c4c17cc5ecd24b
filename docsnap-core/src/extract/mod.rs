//! Extraction: recognised text and the file library in, protocol results out.

pub mod dates;
pub mod llm;
pub mod provenance;
pub mod rules;
pub mod validate;

use async_trait::async_trait;

use crate::error::Result;
use crate::ocr::PageText;
use crate::types::{DocumentResult, FileLibrary, FillResult, FormResult, FormToFill};

/// Turns recognised pages into results.
#[async_trait]
pub trait Extractor: Send + Sync + std::fmt::Debug {
    /// Extracts a document result from its pages.
    async fn document(&self, pages: &[PageText], library: &FileLibrary) -> Result<DocumentResult>;

    /// Extracts a form result, with its blank fields, from its pages.
    async fn form(&self, pages: &[PageText], library: &FileLibrary) -> Result<FormResult>;

    /// Fills a form's blank fields from the library.
    async fn fill(&self, form: &FormToFill, library: &FileLibrary) -> Result<FillResult>;

    /// A short name for logs, such as `rules`.
    fn name(&self) -> &str;

    /// Returns the identity of this extractor's output in a result cache.
    /// Two extractors with the same identity give the same result for the
    /// same pages, library or form.
    fn cache_identity(&self) -> String {
        self.name().to_owned()
    }
}

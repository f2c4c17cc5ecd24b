//! The pipeline seam between the task service and the processing stages.

use async_trait::async_trait;

use crate::error::Result;
use crate::types::{FileLibrary, FormToFill, TaskKind};

/// A decrypted, structurally checked inner payload.
#[derive(Debug, Clone)]
pub struct InnerPayload {
    /// What to process.
    pub input: TaskInput,
    /// The client's earlier results; empty when the client sent none.
    pub library: FileLibrary,
}

/// The `to_process` part of an inner payload.
#[derive(Debug, Clone)]
pub enum TaskInput {
    /// Encoded page images in page order, for `doc` and `form`.
    Pages(Vec<Vec<u8>>),
    /// A form to fill, for `fill`.
    Form(FormToFill),
}

/// Runs one task from its payload to its result JSON.
///
/// The task service calls this from its workers. A transient error is
/// retried with backoff; any other error fails the task with its code.
#[async_trait]
pub trait Pipeline: Send + Sync + std::fmt::Debug {
    /// Processes the payload and returns the result JSON.
    async fn run(&self, kind: TaskKind, payload: InnerPayload) -> Result<serde_json::Value>;
}

//! Language models: a prompt in, a completion out.

pub mod openai;

pub use openai::{OpenAiCompatible, OpenAiConfig};

use async_trait::async_trait;

use crate::error::Result;

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message text.
    pub content: String,
}

/// A request for one completion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletionRequest {
    /// The chat so far.
    pub messages: Vec<ChatMessage>,
    /// Ask the model for a JSON object (JSON response mode).
    pub json: bool,
}

/// A language model.
#[async_trait]
pub trait LanguageModel: Send + Sync + std::fmt::Debug {
    /// Returns the model's completion for the request.
    ///
    /// Errors are `LlmFailure`; those worth retrying later are transient.
    async fn complete(&self, request: &CompletionRequest) -> Result<String>;

    /// A short name for logs and metrics, such as `glm-4-plus`.
    fn name(&self) -> &str;
}

//! Language models: a prompt in, a completion out.

pub mod openai;

pub use openai::{OpenAiCompatible, OpenAiConfig};

use async_trait::async_trait;

use crate::error::Result;

/// The default [`LanguageModel::max_prompt_chars`]: 96,000 characters.
///
/// The budget counts characters rather than tokens, because each provider
/// tokenizes differently and docsnap ships no tokenizer, while a character
/// count is exact and the same for every model. The default is sized for the
/// 128k-token context window of `glm-4-plus` and `gpt-4o-mini`. It assumes
/// one token per character, an estimate that over-counts typical English and
/// Chinese text, whose tokens average more than one character. The prompt
/// then takes at most 96k tokens and leaves 32k for the system prompt, the
/// completion, and a retry that sends the first completion back.
pub const DEFAULT_MAX_PROMPT_CHARS: usize = 96_000;

/// The smallest accepted [`LanguageModel::max_prompt_chars`]: below this
/// the instructions and page markers of a prompt leave almost no room for text.
pub const MIN_MAX_PROMPT_CHARS: usize = 1_000;

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

    /// Returns the maximum length of the user prompt the LLM extractor sends
    /// this model, in characters (Unicode scalar values, not bytes or tokens).
    /// The extractor shortens longer prompts. The default is
    /// [`DEFAULT_MAX_PROMPT_CHARS`], so a model with a smaller context window
    /// should return less.
    fn max_prompt_chars(&self) -> usize {
        DEFAULT_MAX_PROMPT_CHARS
    }

    /// Returns what sets this model's completions apart in a result cache,
    /// such as its name and the server it runs on. Defaults to
    /// [`LanguageModel::name`].
    fn cache_identity(&self) -> String {
        self.name().to_owned()
    }
}

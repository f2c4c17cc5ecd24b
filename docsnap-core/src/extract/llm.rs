//! The LLM extractor: builds a prompt, sends it to a language model, reads
//! and repairs the JSON of the completion and validates it like every other extractor's output.

mod budget;
mod parse;
mod prompts;
mod relevance;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

pub use parse::parse_model_json;
pub use prompts::{FILE_LIBRARY_BLOCK, FORM_BLOCK, OCR_TEXT_BLOCK};

use prompts::PromptError;

use crate::error::{Error, ErrorKind, Result};
use crate::extract::Extractor;
use crate::extract::validate::{validate_document, validate_fill, validate_form};
use crate::llm::{ChatMessage, CompletionRequest, LanguageModel};
use crate::ocr::PageText;
use crate::types::{DocumentResult, FileLibrary, FillResult, FormResult, FormToFill};

/// How many times the model is asked in all when its answer is unusable:
/// the first request and one retry that names the problem.
const MAX_ANSWERS: usize = 2;

/// An [`Extractor`] that asks a language model.
///
/// Prompts longer than the model's [`LanguageModel::max_prompt_chars`] are
/// shortened: file library entries least related to the text go first, then
/// OCR text from the last page backwards.
#[derive(Debug, Clone)]
pub struct LlmExtractor {
    model: Arc<dyn LanguageModel>,
    name: String,
}

impl LlmExtractor {
    /// Creates an extractor that asks `model`.
    pub fn new(model: Arc<dyn LanguageModel>) -> Self {
        let name = format!("llm:{}", model.name());
        Self { model, name }
    }

    /// Asks the model until `check` accepts its answer, at most
    /// [`MAX_ANSWERS`] times; a retry carries the problem with the last answer.
    async fn ask<T>(
        &self,
        system: String,
        user: String,
        check: impl Fn(&Value) -> Result<T>,
    ) -> Result<T> {
        let mut messages = vec![message("system", system), message("user", user)];
        let mut problem = String::new();
        for attempt in 1..=MAX_ANSWERS {
            let request = CompletionRequest {
                messages: messages.clone(),
                json: true,
            };
            let answer = self.model.complete(&request).await?;

            let checked = parse_model_json(&answer)
                .and_then(|value| check(&value).map_err(|error| error.message().to_owned()));
            match checked {
                Ok(result) => return Ok(result),
                Err(reason) => problem = reason,
            }

            // The problem names parts of the JSON, never document text, so it may be logged.
            tracing::warn!(model = %self.model.name(), attempt, %problem, "the language model returned an unusable answer");
            if attempt == MAX_ANSWERS {
                break;
            }
            messages.push(message("assistant", answer));
            messages.push(message(
                "user",
                format!(
                    "Your answer could not be used: {problem}. \
                     Reply again with only the corrected JSON object in the required shape."
                ),
            ));
        }
        Err(Error::new(
            ErrorKind::LlmFailure,
            format!(
                "the language model {} returned no usable answer in {MAX_ANSWERS} attempts: {problem}",
                self.model.name()
            ),
        ))
    }
}

#[async_trait]
impl Extractor for LlmExtractor {
    async fn document(&self, pages: &[PageText], library: &FileLibrary) -> Result<DocumentResult> {
        let user = extraction_prompt(
            "document",
            pages,
            library,
            self.model.max_prompt_chars(),
            ErrorKind::DocPromptConstructionFailed,
        )?;
        self.ask(prompts::document_system_prompt(), user, |value| {
            validate_document(value, library)
        })
        .await
    }

    async fn form(&self, pages: &[PageText], library: &FileLibrary) -> Result<FormResult> {
        let user = extraction_prompt(
            "form",
            pages,
            library,
            self.model.max_prompt_chars(),
            ErrorKind::FormPromptConstructionFailed,
        )?;
        self.ask(prompts::form_system_prompt(), user, |value| {
            validate_form(value, library)
        })
        .await
    }

    async fn fill(&self, form: &FormToFill, library: &FileLibrary) -> Result<FillResult> {
        if form.fields.is_empty() || library.is_empty() {
            tracing::debug!("nothing to fill: the form has no fields or the file library is empty");
            return Ok(FillResult::new());
        }
        let user = prompts::fill_user_prompt(form, library, self.model.max_prompt_chars())
            .map_err(|error| {
                prompt_error(ErrorKind::FillPromptConstructionFailed, "fill", error)
            })?;
        self.ask(prompts::fill_system_prompt(), user, |value| {
            validate_fill(value, form, library)
        })
        .await
    }

    fn cache_identity(&self) -> String {
        format!(
            "llm {}, max_prompt_chars {}",
            self.model.cache_identity(),
            self.model.max_prompt_chars()
        )
    }

    fn name(&self) -> &str {
        &self.name
    }
}

fn message(role: &str, content: String) -> ChatMessage {
    ChatMessage {
        role: role.to_owned(),
        content,
    }
}

fn prompt_error(kind: ErrorKind, task: &str, error: PromptError) -> Error {
    let message = format!("the {task} prompt could not be built: {error}");
    match error {
        PromptError::Json(source) => Error::new(kind, message).with_source(source),
        PromptError::OverBudget { .. } => Error::new(kind, message),
    }
}

fn extraction_prompt(
    task: &str,
    pages: &[PageText],
    library: &FileLibrary,
    max_prompt_chars: usize,
    kind: ErrorKind,
) -> Result<String> {
    if pages
        .iter()
        .all(|page| page.lines.iter().all(|line| line.text.trim().is_empty()))
    {
        return Err(Error::new(
            kind,
            format!(
                "the {task} has no recognised text on any of its {} pages, so there is nothing to extract; \
                 send a sharper or upright photo",
                pages.len()
            ),
        ));
    }
    prompts::extraction_user_prompt(task, pages, library, max_prompt_chars)
        .map_err(|error| prompt_error(kind, task, error))
}

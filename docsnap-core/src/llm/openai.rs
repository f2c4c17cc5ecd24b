//! A client for OpenAI-compatible chat-completions APIs: Zhipu GLM, OpenAI,
//! and local `/v1` servers such as Ollama, vLLM or llama.cpp.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::error::{Error, ErrorKind, Result};
use crate::llm::{
    CompletionRequest, DEFAULT_MAX_PROMPT_CHARS, LanguageModel, MIN_MAX_PROMPT_CHARS,
};

/// Settings of an [`OpenAiCompatible`] client.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root including its version, such as `https://api.openai.com/v1`;
    /// requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The bearer token; `None` sends no `Authorization` header, as local
    /// servers expect. Never logged or shown by `Debug`.
    pub api_key: Option<String>,
    /// The model name sent with every request, such as `glm-4-plus`.
    pub model: String,
    /// The sampling temperature; 0 makes completions as repeatable as the server allows.
    pub temperature: f32,
    /// Whether to send `response_format: {"type": "json_object"}` when a
    /// request sets `json`; turn it off for servers that reject the field.
    pub json_mode: bool,
    /// The time limit of one HTTP attempt, from connecting until the whole
    /// response body has been read. Default 120 s.
    pub request_timeout: Duration,
    /// The time limit for establishing a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Retries after the first attempt on HTTP 429, HTTP 5xx, connection
    /// errors and timeouts. Default 2, because the task service retries
    /// transient failures again with its own backoff.
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each further retry. Default 1 s.
    pub initial_backoff: Duration,
    /// The cap on any single wait between attempts, including one asked for
    /// by a `Retry-After` header. Default 30 s.
    pub max_backoff: Duration,
    /// The maximum number of requests this client has in flight at once. Default 4.
    pub max_concurrency: usize,
    /// The maximum length of the user prompt the LLM extractor sends, in
    /// characters; longer prompts are shortened. Default
    /// [`DEFAULT_MAX_PROMPT_CHARS`] (96,000), sized for a 128k-token window.
    /// Lower it for a model with a smaller window, such as a local server
    /// running with a 4k or 8k context. At least [`MIN_MAX_PROMPT_CHARS`].
    pub max_prompt_chars: usize,
    /// Fields merged into every request body last, so they override the
    /// fields above (for example `max_tokens` or a provider's switches).
    pub extra_body: Map<String, Value>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key: None,
            model: "gpt-4o-mini".to_owned(),
            temperature: 0.0,
            json_mode: true,
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_retries: 2,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_concurrency: 4,
            max_prompt_chars: DEFAULT_MAX_PROMPT_CHARS,
            extra_body: Map::new(),
        }
    }
}

impl OpenAiConfig {
    /// Zhipu's GLM API with `glm-4-plus`, its thinking mode disabled so the
    /// completion is the JSON alone and arrives sooner.
    pub fn zhipu(api_key: impl Into<String>) -> Self {
        let mut extra_body = Map::new();
        extra_body.insert("thinking".to_owned(), json!({"type": "disabled"}));
        Self {
            base_url: "https://open.bigmodel.cn/api/paas/v4".to_owned(),
            api_key: Some(api_key.into()),
            model: "glm-4-plus".to_owned(),
            extra_body,
            ..Self::default()
        }
    }

    /// OpenAI's API with `gpt-4o-mini`.
    pub fn openai(api_key: impl Into<String>) -> Self {
        Self {
            api_key: Some(api_key.into()),
            ..Self::default()
        }
    }

    /// Any OpenAI-compatible server without a key, such as Ollama at
    /// `http://127.0.0.1:11434/v1`.
    pub fn openai_compatible(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &shown_base_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("json_mode", &self.json_mode)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_prompt_chars", &self.max_prompt_chars)
            .field(
                "extra_body_keys",
                &self.extra_body.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A [`LanguageModel`] over an OpenAI-compatible `/chat/completions` endpoint.
#[derive(Clone)]
pub struct OpenAiCompatible {
    config: OpenAiConfig,
    endpoint: Url,
    /// The endpoint without credentials or query, for messages and logs.
    shown_endpoint: String,
    authorization: Option<HeaderValue>,
    http: reqwest::Client,
    permits: Arc<Semaphore>,
}

impl OpenAiCompatible {
    /// Creates a client; `InvalidConfig` if the URL, model, key,
    /// concurrency or prompt budget is unusable.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let endpoint = endpoint_url(&config.base_url)?;
        let shown_endpoint = shown_url(&endpoint);

        if config.model.trim().is_empty() {
            return Err(invalid_config(
                "the language model name is empty; set the model, such as \"glm-4-plus\"",
            ));
        }
        if config.max_concurrency == 0 {
            return Err(invalid_config(
                "the language model concurrency is 0; set it to 1 or more",
            ));
        }
        if config.max_prompt_chars < MIN_MAX_PROMPT_CHARS {
            return Err(invalid_config(&format!(
                "the language model prompt budget of {} characters is too small; \
                 set max_prompt_chars to at least {MIN_MAX_PROMPT_CHARS}",
                config.max_prompt_chars
            )));
        }

        let authorization = match &config.api_key {
            None => None,
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.trim())).map_err(|_| {
                    invalid_config("the language model API key contains characters not allowed in an HTTP header")
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };

        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|error| {
                invalid_config("the HTTP client for the language model could not be built")
                    .with_source(error)
            })?;

        Ok(Self {
            permits: Arc::new(Semaphore::new(config.max_concurrency)),
            config,
            endpoint,
            shown_endpoint,
            authorization,
            http,
        })
    }

    /// Returns the settings this client was built with.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// Builds the JSON body of a chat-completions request.
    pub fn request_body(&self, request: &CompletionRequest) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|message| json!({"role": message.role, "content": message.content}))
            .collect();

        let mut body = Map::new();
        body.insert("model".to_owned(), json!(self.config.model));
        body.insert("messages".to_owned(), Value::Array(messages));
        body.insert("temperature".to_owned(), json!(self.config.temperature));
        if request.json && self.config.json_mode {
            body.insert("response_format".to_owned(), json!({"type": "json_object"}));
        }
        for (key, value) in &self.config.extra_body {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }

    async fn attempt(&self, body: &Value) -> std::result::Result<String, Failure> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            Failure::Fatal(Error::new(
                ErrorKind::LlmFailure,
                "the language model client is shut down",
            ))
        })?;

        let mut request = self.http.post(self.endpoint.clone()).json(body);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_failure(error))?;

        let status = response.status();
        if status.is_success() {
            let bytes = response
                .bytes()
                .await
                .map_err(|error| self.transport_failure(error))?;
            return parse_completion(&bytes).map_err(|message| {
                Failure::Fatal(Error::new(
                    ErrorKind::LlmFailure,
                    format!(
                        "the language model at {} sent an invalid response: {message}",
                        self.shown_endpoint
                    ),
                ))
            });
        }

        let retry_after = retry_after(response.headers());
        let detail = response
            .bytes()
            .await
            .map(|bytes| error_detail(&bytes))
            .unwrap_or_default();
        let error = Error::new(
            ErrorKind::LlmFailure,
            format!(
                "the language model at {} returned HTTP {status}{detail}",
                self.shown_endpoint
            ),
        );
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Failure::Retryable { error, retry_after })
        } else {
            Err(Failure::Fatal(error))
        }
    }

    fn transport_failure(&self, error: reqwest::Error) -> Failure {
        let what = if error.is_timeout() {
            format!("timed out after {:?}", self.config.request_timeout)
        } else if error.is_connect() {
            "could not be reached".to_owned()
        } else {
            "failed during the request".to_owned()
        };
        let retryable =
            error.is_timeout() || error.is_connect() || error.is_request() || error.is_body();
        let error = Error::new(
            ErrorKind::LlmFailure,
            format!("the language model at {} {what}", self.shown_endpoint),
        )
        // The URL is already in the message without credentials.
        .with_source(error.without_url());
        if retryable {
            Failure::Retryable {
                error,
                retry_after: None,
            }
        } else {
            Failure::Fatal(error)
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        self.config
            .initial_backoff
            .saturating_mul(factor)
            .min(self.config.max_backoff)
    }
}

#[async_trait]
impl LanguageModel for OpenAiCompatible {
    async fn complete(&self, request: &CompletionRequest) -> Result<String> {
        let body = self.request_body(request);
        let mut retry = 0;
        loop {
            let (error, retry_after) = match self.attempt(&body).await {
                Ok(content) => return Ok(content),
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Retryable { error, retry_after }) => (error, retry_after),
            };
            if retry >= self.config.max_retries {
                return Err(error.transient());
            }

            let wait = retry_after
                .unwrap_or_else(|| self.backoff(retry))
                .min(self.config.max_backoff);
            tracing::warn!(
                model = %self.config.model,
                retry = retry + 1,
                max_retries = self.config.max_retries,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "retrying the language model request"
            );
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    fn name(&self) -> &str {
        &self.config.model
    }

    fn max_prompt_chars(&self) -> usize {
        self.config.max_prompt_chars
    }

    fn cache_identity(&self) -> String {
        let config = &self.config;
        format!(
            "{} at {}, temperature {}, json_mode {}, extra_body {}",
            config.model,
            config.base_url,
            config.temperature,
            config.json_mode,
            Value::Object(config.extra_body.clone())
        )
    }
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.shown_endpoint)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The outcome of one failed attempt.
enum Failure {
    /// Worth another attempt, after `retry_after` if the server named a wait.
    Retryable {
        error: Error,
        retry_after: Option<Duration>,
    },
    /// Another attempt would fail the same way.
    Fatal(Error),
}

fn invalid_config(message: &str) -> Error {
    Error::new(ErrorKind::InvalidConfig, message)
}

fn endpoint_url(base_url: &str) -> Result<Url> {
    match Url::parse(base_url.trim()) {
        Ok(mut url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            // Appending to the path keeps a query such as `?api-version=...` in place.
            let path = format!("{}/chat/completions", url.path().trim_end_matches('/'));
            url.set_path(&path);
            Ok(url)
        }
        _ => Err(invalid_config(
            "the language model base URL is not an http(s) URL; set it like \"https://api.openai.com/v1\"",
        )),
    }
}

fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Neither can fail on an http(s) URL with a host, which endpoint_url checked.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}

fn shown_base_url(base_url: &str) -> String {
    match Url::parse(base_url.trim()) {
        Ok(url) if url.has_host() => shown_url(&url),
        _ => "<not a URL>".to_owned(),
    }
}

/// Reads `choices[0].message.content`, the answer in the chat-completions format.
fn parse_completion(bytes: &[u8]) -> std::result::Result<String, &'static str> {
    let body: Value = serde_json::from_slice(bytes).map_err(|_| "the body is not JSON")?;
    let content = body
        .pointer("/choices/0/message/content")
        .ok_or("choices[0].message.content is missing")?;
    content
        .as_str()
        .map(str::to_owned)
        .ok_or("choices[0].message.content is not a string")
}

/// Reads a `Retry-After` header given in seconds; the HTTP-date form falls
/// back to the client's own backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// Returns the `type` and `code` of an error body for the message. The
/// provider's own `message` is left out because some providers echo part of
/// the API key in it.
fn error_detail(bytes: &[u8]) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
        return String::new();
    };
    let short = |pointer: &str| -> Option<String> {
        let value = body.pointer(pointer)?;
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => return None,
        };
        let safe = text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c));
        safe.then_some(text)
    };
    let parts: Vec<String> = [("type", "/error/type"), ("code", "/error/code")]
        .into_iter()
        .filter_map(|(name, pointer)| short(pointer).map(|text| format!("{name} {text}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;

    #[test]
    fn zhipu_preset() {
        let config = OpenAiConfig::zhipu("key");
        assert_eq!(config.base_url, "https://open.bigmodel.cn/api/paas/v4");
        assert_eq!(config.model, "glm-4-plus");
        assert_eq!(config.extra_body["thinking"], json!({"type": "disabled"}));
        let client = OpenAiCompatible::new(config).unwrap();
        assert_eq!(
            client.endpoint.as_str(),
            "https://open.bigmodel.cn/api/paas/v4/chat/completions"
        );
    }

    #[test]
    fn request_body_fields() {
        let mut config = OpenAiConfig::openai_compatible("http://127.0.0.1:11434/v1/", "qwen2.5");
        config.extra_body.insert("temperature".into(), json!(0.5));
        let client = OpenAiCompatible::new(config).unwrap();
        let request = CompletionRequest {
            messages: vec![ChatMessage {
                role: "user".into(),
                content: "hi".into(),
            }],
            json: true,
        };
        let body = client.request_body(&request);
        assert_eq!(body["model"], "qwen2.5");
        assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["temperature"], json!(0.5));
        assert_eq!(
            client.endpoint.as_str(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let cases = [
            OpenAiConfig::openai_compatible("ftp://host/v1", "m"),
            OpenAiConfig::openai_compatible("not a url", "m"),
            OpenAiConfig::openai_compatible("http://127.0.0.1/v1", " "),
            OpenAiConfig {
                max_concurrency: 0,
                ..OpenAiConfig::default()
            },
            OpenAiConfig {
                max_prompt_chars: MIN_MAX_PROMPT_CHARS - 1,
                ..OpenAiConfig::default()
            },
            OpenAiConfig::openai("line\nbreak"),
        ];
        for config in cases {
            let error = OpenAiCompatible::new(config).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig);
            assert!(!error.to_string().contains("line\nbreak"));
        }
    }

    #[test]
    fn prompt_budget_comes_from_config() {
        assert_eq!(
            OpenAiConfig::zhipu("key").max_prompt_chars,
            DEFAULT_MAX_PROMPT_CHARS
        );
        let config = OpenAiConfig {
            max_prompt_chars: 6_000,
            ..OpenAiConfig::default()
        };
        let client = OpenAiCompatible::new(config).unwrap();
        assert_eq!(client.max_prompt_chars(), 6_000);

        let error = OpenAiCompatible::new(OpenAiConfig {
            max_prompt_chars: 10,
            ..OpenAiConfig::default()
        })
        .unwrap_err();
        assert!(error.message().contains("10 characters"), "{error}");
        assert!(error.message().contains("at least 1000"), "{error}");
    }

    #[test]
    fn shown_endpoint_hides_credentials() {
        let client = OpenAiCompatible::new(OpenAiConfig::openai_compatible(
            "https://user:secret@example.com/v1?api-key=secret",
            "m",
        ))
        .unwrap();
        assert_eq!(
            client.shown_endpoint,
            "https://example.com/v1/chat/completions"
        );
        let debug = format!("{client:?}");
        assert!(debug.contains("example.com"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn error_detail_keeps_type_and_code_only() {
        let body = br#"{"error": {"message": "Incorrect API key provided: sk-abc", "type": "invalid_request_error", "code": "invalid_api_key"}}"#;
        assert_eq!(
            error_detail(body),
            " (type invalid_request_error, code invalid_api_key)"
        );
        assert_eq!(error_detail(b"<html>"), "");
    }

    #[test]
    fn completion_content_is_read() {
        let body = br#"{"choices": [{"message": {"role": "assistant", "content": "{}"}}]}"#;
        assert_eq!(parse_completion(body).unwrap(), "{}");
        assert!(parse_completion(br#"{"choices": []}"#).is_err());
    }
}

//! Server and engine configuration, layered from defaults, a TOML file and
//! `DOCSNAP_*` environment variables; command-line flags go on top in the binary.
//!
//! Durations are written as humane strings (`"90s"`, `"10m"`, `"24h"`,
//! `"1h 30m"`) or as a number of seconds, in TOML and in the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::llm::{DEFAULT_MAX_PROMPT_CHARS, MIN_MAX_PROMPT_CHARS};

/// The environment variable that contains the language model's API key.
///
/// The key is read only from here: never from the TOML file or a flag, so it
/// stays out of files, shell history and process listings.
pub const LLM_API_KEY_ENV: &str = "DOCSNAP_LLM_API_KEY";

/// The name of the task database inside the data directory.
pub const DATABASE_FILE: &str = "docsnap.db";

/// Everything docsnap needs to run, with a documented default for each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server listens on. Default `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// Directory holding `docsnap.db` and the RSA key pair. Default `./docsnap-data`.
    pub data_dir: PathBuf,
    /// Path prefix under which the protocol endpoints are served as well as
    /// at the root. Default `/api/v1`; empty serves them at the root only.
    pub api_prefix: String,
    /// Largest request body accepted, in bytes. Default 64 MiB.
    pub body_limit: u64,
    /// Time a connection gets to send a complete request head, counted from
    /// when it opens and again from the end of each response, so it also
    /// closes idle keep-alive connections. Default 30 s, allowed from 1 s to 10 min.
    #[serde(with = "duration_serde")]
    pub header_read_timeout: Duration,
    /// Bearer token that `/process`, `/clear` and `/ocr` require when set.
    /// Default none. Environment: `DOCSNAP_BEARER_TOKEN`.
    #[serde(skip_serializing)]
    pub bearer_token: Option<Secret>,
    /// Endpoints this process serves. Default `all`.
    pub role: Role,
    /// Serve `POST /ocr` even when the role is not `ocr`. Default false.
    pub enable_ocr_endpoint: bool,
    /// Log line format. Default `pretty`.
    pub log_format: LogFormat,
    /// Time that in-flight tasks get to finish after SIGTERM or SIGINT. Default 10 s.
    #[serde(with = "duration_serde")]
    pub shutdown_grace: Duration,
    /// Throttling of clients that keep sending undecryptable envelopes.
    pub rate_limit: RateLimitConfig,
    /// Text recognition.
    pub ocr: OcrConfig,
    /// The language model; without one the offline rule extractor runs.
    pub llm: LlmConfig,
    /// The task service.
    pub service: ServiceSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("./docsnap-data"),
            api_prefix: "/api/v1".to_owned(),
            body_limit: 64 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(30),
            bearer_token: None,
            role: Role::All,
            enable_ocr_endpoint: false,
            log_format: LogFormat::Pretty,
            shutdown_grace: Duration::from_secs(10),
            rate_limit: RateLimitConfig::default(),
            ocr: OcrConfig::default(),
            llm: LlmConfig::default(),
            service: ServiceSettings::default(),
        }
    }
}

/// The set of endpoints a `docsnap-server` process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The protocol endpoints, with OCR in process or remote.
    #[default]
    All,
    /// The protocol endpoints only; `POST /ocr` stays off.
    Api,
    /// Only `POST /ocr` and the health endpoints: an OCR tier for API servers.
    Ocr,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Throttling of undecryptable envelopes (RSA or AES decryption failures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Failures a client id or a peer IP may cause per window before its
    /// requests get 429. Default 20; 0 turns throttling off.
    pub max_failures: u32,
    /// Length of the sliding window. Default 60 s.
    #[serde(with = "duration_serde")]
    pub window: Duration,
    /// Header that carries the client's IP when a reverse proxy sets it,
    /// such as `x-real-ip` or `x-forwarded-for` (its last entry is used).
    /// Default none: the peer address, which behind a proxy is the proxy's.
    pub client_ip_header: Option<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max_failures: 20,
            window: Duration::from_secs(60),
            client_ip_header: None,
        }
    }
}

/// Text recognition settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcrConfig {
    /// Engine that recognises text. Default `ocrs`.
    pub engine: OcrEngineKind,
    /// Base URLs of remote OCR servers (`docsnap-server --role ocr`), used
    /// in turn when `engine` is `remote`. Default none.
    pub remote_urls: Vec<String>,
    /// Bearer token sent to the remote OCR servers, which they require when
    /// started with a `bearer_token`. Default none. Environment:
    /// `DOCSNAP_OCR_REMOTE_TOKEN`.
    #[serde(skip_serializing)]
    pub remote_token: Option<Secret>,
    /// ocrs text detection model (`.rten`); default the bundled model.
    pub detection_model: Option<PathBuf>,
    /// ocrs text recognition model (`.rten`); default the bundled model.
    pub recognition_model: Option<PathBuf>,
    /// Pages recognised at the same time across all tasks. Default 2.
    pub max_concurrent_pages: usize,
}

impl Default for OcrConfig {
    fn default() -> Self {
        Self {
            engine: OcrEngineKind::Ocrs,
            remote_urls: Vec::new(),
            remote_token: None,
            detection_model: None,
            recognition_model: None,
            max_concurrent_pages: 2,
        }
    }
}

/// The text recognition engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrEngineKind {
    /// ocrs in process.
    #[default]
    Ocrs,
    /// Remote OCR servers over HTTP.
    Remote,
}

/// Language model settings. The API key comes only from `DOCSNAP_LLM_API_KEY`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Provider preset. Default none: the rule extractor, unless `base_url` is set.
    pub preset: Option<LlmPreset>,
    /// Chat-completions base URL ending in the API version, such as
    /// `http://127.0.0.1:11434/v1`. Default the preset's URL.
    pub base_url: Option<String>,
    /// Model name. Default the preset's model.
    pub model: Option<String>,
    /// The maximum length of the user prompt, in characters. Longer prompts
    /// lose file library entries, then OCR text from the last page backwards.
    /// Default 96,000, sized for the 128k-token window of `glm-4-plus` and
    /// `gpt-4o-mini` (see [`DEFAULT_MAX_PROMPT_CHARS`]). Lower it for a model
    /// with a smaller window. At least 1,000. Environment:
    /// `DOCSNAP_LLM_MAX_PROMPT_CHARS`.
    pub max_prompt_chars: Option<usize>,
    /// API key, from the environment only.
    #[serde(skip)]
    pub api_key: Option<Secret>,
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("preset", &self.preset)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("max_prompt_chars", &self.max_prompt_chars)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// A known language model provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LlmPreset {
    /// Zhipu GLM, the original DocuSnap backend's model.
    Zhipu,
    /// OpenAI.
    Openai,
    /// Any OpenAI-compatible `/v1` server, such as Ollama or vLLM; needs `base_url`.
    OpenaiCompatible,
}

impl LlmPreset {
    /// Returns the provider's chat-completions base URL, if it has a fixed one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            LlmPreset::Zhipu => Some("https://open.bigmodel.cn/api/paas/v4"),
            LlmPreset::Openai => Some("https://api.openai.com/v1"),
            LlmPreset::OpenaiCompatible => None,
        }
    }

    /// Returns the model used when none is configured.
    pub fn default_model(self) -> &'static str {
        match self {
            LlmPreset::Zhipu => "glm-4-plus",
            LlmPreset::Openai => "gpt-4o-mini",
            LlmPreset::OpenaiCompatible => "llama3.1",
        }
    }

    /// Returns whether the provider rejects requests without an API key.
    pub fn requires_key(self) -> bool {
        !matches!(self, LlmPreset::OpenaiCompatible)
    }
}

impl FromStr for LlmPreset {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "zhipu" => Ok(LlmPreset::Zhipu),
            "openai" => Ok(LlmPreset::Openai),
            "openai-compatible" => Ok(LlmPreset::OpenaiCompatible),
            other => Err(invalid(format!(
                "invalid LLM preset {other:?}: expected \"zhipu\", \"openai\" or \"openai-compatible\""
            ))),
        }
    }
}

/// A language model endpoint that is fully configured and can be called.
#[derive(Clone, PartialEq)]
pub struct LlmEndpoint {
    /// The preset the endpoint came from.
    pub preset: LlmPreset,
    /// Chat-completions base URL.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// The maximum length of the user prompt, in characters.
    pub max_prompt_chars: usize,
    /// API key, if any.
    pub api_key: Option<Secret>,
}

impl fmt::Debug for LlmEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmEndpoint")
            .field("preset", &self.preset)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("max_prompt_chars", &self.max_prompt_chars)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl LlmConfig {
    /// Returns the endpoint to call, or `None` when the rule extractor should run.
    ///
    /// A preset that needs a key but has none yields `None`, and so does no
    /// preset without a `base_url`. A `base_url` without a preset means
    /// `openai-compatible`.
    pub fn endpoint(&self) -> Option<LlmEndpoint> {
        let preset = match (self.preset, &self.base_url) {
            (Some(preset), _) => preset,
            (None, Some(_)) => LlmPreset::OpenaiCompatible,
            (None, None) => return None,
        };
        if preset.requires_key() && self.api_key.is_none() {
            return None;
        }

        let base_url = self
            .base_url
            .clone()
            .or_else(|| preset.default_base_url().map(str::to_owned))?;
        let model = self
            .model
            .clone()
            .unwrap_or_else(|| preset.default_model().to_owned());

        Some(LlmEndpoint {
            preset,
            base_url,
            model,
            max_prompt_chars: self.max_prompt_chars.unwrap_or(DEFAULT_MAX_PROMPT_CHARS),
            api_key: self.api_key.clone(),
        })
    }
}

/// Task service settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSettings {
    /// Tasks processed at the same time. Default 2; 0 queues tasks without
    /// processing them, for a process that only accepts work.
    pub workers: usize,
    /// A task not accessed for this long is deleted. Default 24 h.
    #[serde(with = "duration_serde")]
    pub retention: Duration,
    /// A task still processing after this long fails with
    /// `PROCESSING_TIMEOUT`. Default 10 min.
    #[serde(with = "duration_serde")]
    pub processing_timeout: Duration,
    /// Largest number of pages in one task. Default 20.
    pub max_pages: usize,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            retention: Duration::from_secs(24 * 60 * 60),
            processing_timeout: Duration::from_secs(10 * 60),
            max_pages: 20,
        }
    }
}

/// A secret string whose `Debug` output is redacted, so it never reaches logs.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the secret value, which must stay out of logs and error messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Config {
    /// Loads defaults, then the TOML file if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::load_with(file, |_| {})
    }

    /// Loads like [`Config::load`], then applies `overrides` (command-line
    /// flags) and validates the result once all layers are in.
    pub fn load_with(file: Option<&Path>, overrides: impl FnOnce(&mut Config)) -> Result<Self> {
        let mut config = match file {
            Some(path) => Self::parse_toml_file(path)?,
            None => Self::default(),
        };
        for (name, value) in std::env::vars() {
            config.apply_env_var(&name, &value)?;
        }
        overrides(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML file; fields it leaves out keep their defaults.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let config = Self::parse_toml_file(path)?;
        config.validate()?;
        Ok(config)
    }

    fn parse_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            invalid(format!(
                "failed to read config file {}: {error}",
                path.display()
            ))
        })?;
        toml::from_str(&text)
            .map_err(|error| invalid(format!("invalid config file {}: {error}", path.display())))
    }

    /// Parses TOML text; fields it leaves out keep their defaults.
    pub fn from_toml(text: &str) -> Result<Self> {
        let config: Config =
            toml::from_str(text).map_err(|error| invalid(format!("invalid TOML: {error}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Overrides fields from `DOCSNAP_*` variables; other variables are ignored.
    ///
    /// Takes the variables as pairs so tests need not touch the process
    /// environment. List-valued variables are comma-separated.
    pub fn apply_env<I, K, V>(&mut self, vars: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (name, value) in vars {
            self.apply_env_var(name.as_ref(), value.as_ref())?;
        }
        self.validate()
    }

    fn apply_env_var(&mut self, name: &str, value: &str) -> Result<()> {
        let Some(key) = name.strip_prefix("DOCSNAP_") else {
            return Ok(());
        };
        match key {
            "LISTEN" => self.listen = parse_env(name, value)?,
            "DATA_DIR" => self.data_dir = PathBuf::from(value),
            "API_PREFIX" => self.api_prefix = value.to_owned(),
            "BODY_LIMIT" => self.body_limit = parse_env(name, value)?,
            "HEADER_READ_TIMEOUT" => self.header_read_timeout = parse_env_duration(name, value)?,
            "BEARER_TOKEN" => self.bearer_token = non_empty(value).map(Secret::new),
            "ROLE" => self.role = parse_enum(name, value)?,
            "ENABLE_OCR_ENDPOINT" => self.enable_ocr_endpoint = parse_bool(name, value)?,
            "LOG_FORMAT" => self.log_format = parse_enum(name, value)?,
            "SHUTDOWN_GRACE" => self.shutdown_grace = parse_env_duration(name, value)?,
            "RATE_LIMIT_MAX_FAILURES" => self.rate_limit.max_failures = parse_env(name, value)?,
            "RATE_LIMIT_WINDOW" => self.rate_limit.window = parse_env_duration(name, value)?,
            "RATE_LIMIT_CLIENT_IP_HEADER" => {
                self.rate_limit.client_ip_header = non_empty(value).map(str::to_ascii_lowercase)
            }
            "OCR_ENGINE" => self.ocr.engine = parse_enum(name, value)?,
            "OCR_REMOTE_URLS" => self.ocr.remote_urls = parse_list(value),
            "OCR_REMOTE_TOKEN" => self.ocr.remote_token = non_empty(value).map(Secret::new),
            "OCR_DETECTION_MODEL" => self.ocr.detection_model = non_empty(value).map(PathBuf::from),
            "OCR_RECOGNITION_MODEL" => {
                self.ocr.recognition_model = non_empty(value).map(PathBuf::from)
            }
            "OCR_MAX_CONCURRENT_PAGES" => self.ocr.max_concurrent_pages = parse_env(name, value)?,
            "LLM_PRESET" => self.llm.preset = non_empty(value).map(str::parse).transpose()?,
            "LLM_BASE_URL" => self.llm.base_url = non_empty(value).map(str::to_owned),
            "LLM_MODEL" => self.llm.model = non_empty(value).map(str::to_owned),
            "LLM_MAX_PROMPT_CHARS" => {
                self.llm.max_prompt_chars = non_empty(value)
                    .map(|value| parse_env(name, value))
                    .transpose()?
            }
            "LLM_API_KEY" => self.llm.api_key = non_empty(value).map(Secret::new),
            "WORKERS" => self.service.workers = parse_env(name, value)?,
            "RETENTION" => self.service.retention = parse_env_duration(name, value)?,
            "PROCESSING_TIMEOUT" => {
                self.service.processing_timeout = parse_env_duration(name, value)?
            }
            "MAX_PAGES" => self.service.max_pages = parse_env(name, value)?,
            // Unknown DOCSNAP_ variables may belong to other tools (such as the
            // test suite), so they are ignored rather than rejected.
            _ => {}
        }
        Ok(())
    }

    /// Checks values that parse but cannot work together.
    pub fn validate(&self) -> Result<()> {
        if !self.api_prefix.is_empty()
            && (!self.api_prefix.starts_with('/') || self.api_prefix.ends_with('/'))
        {
            return Err(invalid(format!(
                "invalid API prefix {:?}: it must start with '/' and not end with one, like \"/api/v1\", or be empty",
                self.api_prefix
            )));
        }
        if self.body_limit == 0 {
            return Err(invalid("invalid body limit 0: it must be at least 1 byte"));
        }
        if !HEADER_READ_TIMEOUT_RANGE.contains(&self.header_read_timeout) {
            return Err(invalid(format!(
                "invalid header_read_timeout {}: it must be between 1s and 10m; \
                 set header_read_timeout (DOCSNAP_HEADER_READ_TIMEOUT or --header-read-timeout) \
                 to a value such as 30s",
                humantime::format_duration(self.header_read_timeout)
            )));
        }
        if self.ocr.max_concurrent_pages == 0 {
            return Err(invalid(
                "invalid ocr.max_concurrent_pages 0: it must be at least 1",
            ));
        }
        if let Some(token) = &self.ocr.remote_token {
            validate_token(token)?;
        }
        if self.ocr.engine == OcrEngineKind::Remote && self.ocr.remote_urls.is_empty() {
            return Err(invalid(
                "OCR engine \"remote\" needs at least one URL in ocr.remote_urls (DOCSNAP_OCR_REMOTE_URLS)",
            ));
        }
        if self.llm.preset == Some(LlmPreset::OpenaiCompatible) && self.llm.base_url.is_none() {
            return Err(invalid(
                "LLM preset \"openai-compatible\" needs a base URL: set llm.base_url (DOCSNAP_LLM_BASE_URL or --llm-base-url)",
            ));
        }
        if let Some(max_chars) = self.llm.max_prompt_chars
            && max_chars < MIN_MAX_PROMPT_CHARS
        {
            return Err(invalid(format!(
                "invalid llm.max_prompt_chars {max_chars}: the prompt budget must be at least \
                 {MIN_MAX_PROMPT_CHARS} characters; raise it, or leave it unset for the default \
                 {DEFAULT_MAX_PROMPT_CHARS}"
            )));
        }
        if self.service.max_pages == 0 {
            return Err(invalid(
                "invalid service.max_pages 0: it must be at least 1",
            ));
        }
        if self.service.processing_timeout.is_zero() {
            return Err(invalid(
                "invalid service.processing_timeout 0: it must be longer than zero",
            ));
        }
        Ok(())
    }

    /// Path of the task database.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    /// Returns whether this process serves `POST /ocr`.
    pub fn serves_ocr_endpoint(&self) -> bool {
        self.role == Role::Ocr || self.enable_ocr_endpoint
    }

    /// Returns whether this process serves the protocol endpoints.
    pub fn serves_protocol(&self) -> bool {
        self.role != Role::Ocr
    }
}

/// Shortest and longest accepted [`Config::header_read_timeout`]. Less than a
/// second cuts off clients on slow links, and a timeout of more than ten
/// minutes no longer protects against clients that stall.
const HEADER_READ_TIMEOUT_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(10 * 60);

/// Checks that `ocr.remote_token` fits in an `Authorization` header. The
/// error names the setting but never the token.
fn validate_token(token: &Secret) -> Result<()> {
    let value = token.expose();
    if value.is_empty() {
        return Err(invalid(
            "invalid ocr.remote_token: it is empty; set the token the OCR servers require, or remove the setting",
        ));
    }
    if !value.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(invalid(
            "invalid ocr.remote_token: it contains a space, a control character or a non-ASCII character; \
             use printable ASCII only, such as the output of `openssl rand -hex 32`",
        ));
    }
    Ok(())
}

/// Parses a duration written as seconds (`"90"`) or humanely (`"90s"`, `"10m"`, `"1h 30m"`).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|error| {
        invalid(format!(
            "invalid duration {text:?}: {error}; write seconds (\"90\") or a unit (\"90s\", \"10m\", \"24h\")"
        ))
    })
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidConfig, message)
}

fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

fn parse_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter_map(non_empty)
        .map(str::to_owned)
        .collect()
}

fn parse_env<T>(name: &str, value: &str) -> Result<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|error| invalid(format!("invalid {name}={value:?}: {error}")))
}

fn parse_env_duration(name: &str, value: &str) -> Result<Duration> {
    parse_duration(value).map_err(|error| invalid(format!("{name}: {}", error.message())))
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(format!(
            "invalid {name}={value:?}: expected true or false"
        ))),
    }
}

/// Parses a lowercase enum variant through serde, so the names match the TOML spelling.
fn parse_enum<T: serde::de::DeserializeOwned>(name: &str, value: &str) -> Result<T> {
    let value = value.trim();
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value))
        .map_err(|error| invalid(format!("invalid {name}={value:?}: {error}")))
}

/// Durations in TOML: an integer number of seconds or a humane string.
mod duration_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*duration).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }

        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
            Raw::Text(text) => super::parse_duration(&text)
                .map_err(|error| serde::de::Error::custom(error.message())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_documentation() {
        let config = Config::default();

        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.data_dir, PathBuf::from("./docsnap-data"));
        assert_eq!(config.api_prefix, "/api/v1");
        assert_eq!(config.body_limit, 64 * 1024 * 1024);
        assert_eq!(config.header_read_timeout, Duration::from_secs(30));
        assert_eq!(config.service.retention, Duration::from_secs(86_400));
        assert_eq!(config.service.processing_timeout, Duration::from_secs(600));
        assert_eq!(
            config.database_path(),
            PathBuf::from("./docsnap-data/docsnap.db")
        );
        assert!(config.llm.endpoint().is_none());
        config.validate().unwrap();
    }

    #[test]
    fn toml_overrides_some_fields() {
        let config = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            shutdown_grace = "1m"

            [service]
            workers = 0
            retention = 3600

            [llm]
            preset = "openai-compatible"
            base_url = "http://127.0.0.1:11434/v1"
            "#,
        )
        .unwrap();

        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.shutdown_grace, Duration::from_secs(60));
        assert_eq!(config.service.workers, 0);
        assert_eq!(config.service.retention, Duration::from_secs(3600));
        assert_eq!(config.service.max_pages, 20);
        assert_eq!(config.llm.preset, Some(LlmPreset::OpenaiCompatible));
    }

    #[test]
    fn toml_rejects_unknown_field() {
        let error = Config::from_toml("listn = \"0.0.0.0:9000\"").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        assert!(error.message().contains("listn"), "{}", error.message());
    }

    #[test]
    fn toml_never_reads_api_key() {
        let error = Config::from_toml("[llm]\napi_key = \"sk-123\"").unwrap_err();
        assert!(error.message().contains("api_key"), "{}", error.message());
    }

    #[test]
    fn env_overrides_toml() {
        let mut config = Config::from_toml("listen = \"0.0.0.0:9000\"").unwrap();
        config
            .apply_env([
                ("DOCSNAP_LISTEN", "127.0.0.1:7000"),
                ("DOCSNAP_ROLE", "ocr"),
                ("DOCSNAP_PROCESSING_TIMEOUT", "90s"),
                ("DOCSNAP_OCR_ENGINE", "remote"),
                ("DOCSNAP_OCR_REMOTE_URLS", "http://a:1, http://b:2"),
                ("DOCSNAP_LOG_FORMAT", "json"),
                ("DOCSNAP_ENABLE_OCR_ENDPOINT", "true"),
                ("HOME", "/root"),
            ])
            .unwrap();

        assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(config.role, Role::Ocr);
        assert_eq!(config.service.processing_timeout, Duration::from_secs(90));
        assert_eq!(config.ocr.remote_urls, ["http://a:1", "http://b:2"]);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.serves_ocr_endpoint());
        assert!(!config.serves_protocol());
    }

    #[test]
    fn env_rejects_bad_value_naming_it() {
        let mut config = Config::default();
        let error = config.apply_env([("DOCSNAP_WORKERS", "many")]).unwrap_err();
        assert!(
            error.message().contains("DOCSNAP_WORKERS"),
            "{}",
            error.message()
        );

        let error = config.apply_env([("DOCSNAP_ROLE", "web")]).unwrap_err();
        assert!(
            error.message().contains("DOCSNAP_ROLE"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn llm_needs_key_for_hosted_presets() {
        let mut config = Config::default();
        config.apply_env([("DOCSNAP_LLM_PRESET", "zhipu")]).unwrap();
        assert!(config.llm.endpoint().is_none());

        config
            .apply_env([("DOCSNAP_LLM_API_KEY", "secret")])
            .unwrap();
        let endpoint = config.llm.endpoint().unwrap();
        assert_eq!(endpoint.base_url, "https://open.bigmodel.cn/api/paas/v4");
        assert_eq!(endpoint.model, "glm-4-plus");
        assert!(!format!("{endpoint:?}").contains("secret"));
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn local_llm_needs_no_key() {
        let mut config = Config::default();
        config
            .apply_env([("DOCSNAP_LLM_BASE_URL", "http://127.0.0.1:11434/v1")])
            .unwrap();
        let endpoint = config.llm.endpoint().unwrap();
        assert_eq!(endpoint.preset, LlmPreset::OpenaiCompatible);
        assert!(endpoint.api_key.is_none());
    }

    #[test]
    fn llm_prompt_budget_from_toml_and_env() {
        let mut config = Config::from_toml(
            "[llm]\npreset = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmax_prompt_chars = 12000",
        )
        .unwrap();
        assert_eq!(config.llm.max_prompt_chars, Some(12_000));
        assert_eq!(config.llm.endpoint().unwrap().max_prompt_chars, 12_000);

        config
            .apply_env([("DOCSNAP_LLM_MAX_PROMPT_CHARS", "20000")])
            .unwrap();
        assert_eq!(config.llm.endpoint().unwrap().max_prompt_chars, 20_000);

        config
            .apply_env([("DOCSNAP_LLM_MAX_PROMPT_CHARS", "")])
            .unwrap();
        assert_eq!(
            config.llm.endpoint().unwrap().max_prompt_chars,
            DEFAULT_MAX_PROMPT_CHARS
        );
    }

    #[test]
    fn llm_prompt_budget_rejects_bad_values() {
        let error = Config::from_toml("[llm]\nmax_prompt_chars = 200").unwrap_err();
        assert!(
            error.message().contains("llm.max_prompt_chars 200"),
            "{}",
            error.message()
        );
        assert!(
            error.message().contains("at least 1000"),
            "{}",
            error.message()
        );

        let mut config = Config::default();
        let error = config
            .apply_env([("DOCSNAP_LLM_MAX_PROMPT_CHARS", "96k")])
            .unwrap_err();
        assert!(
            error
                .message()
                .contains("DOCSNAP_LLM_MAX_PROMPT_CHARS=\"96k\""),
            "{}",
            error.message()
        );
        let error = config
            .apply_env([("DOCSNAP_LLM_MAX_PROMPT_CHARS", "0")])
            .unwrap_err();
        assert!(
            error.message().contains("max_prompt_chars 0"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn validate_rejects_bad_prefix() {
        let config = Config {
            api_prefix: "api/v1/".to_owned(),
            ..Config::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.message().contains("api/v1/"), "{}", error.message());
    }

    #[test]
    fn remote_ocr_needs_urls() {
        let mut config = Config::default();
        let error = config
            .apply_env([("DOCSNAP_OCR_ENGINE", "remote")])
            .unwrap_err();
        assert!(
            error.message().contains("remote_urls"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn header_read_timeout_from_env() {
        let mut config = Config::default();
        config
            .apply_env([("DOCSNAP_HEADER_READ_TIMEOUT", "90s")])
            .unwrap();
        assert_eq!(config.header_read_timeout, Duration::from_secs(90));
    }

    #[test]
    fn header_read_timeout_out_of_range_fails() {
        for (value, shown) in [("0", "0s"), ("500ms", "500ms"), ("2h", "2h")] {
            let mut config = Config::default();
            let error = config
                .apply_env([("DOCSNAP_HEADER_READ_TIMEOUT", value)])
                .unwrap_err();
            let message = error.message();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{message}");
            assert!(
                message.contains(&format!("header_read_timeout {shown}:")),
                "{message}"
            );
            assert!(message.contains("between 1s and 10m"), "{message}");
            assert!(message.contains("DOCSNAP_HEADER_READ_TIMEOUT"), "{message}");
        }
    }

    #[test]
    fn header_read_timeout_bounds_are_accepted() {
        for value in ["1s", "10m"] {
            let mut config = Config::default();
            config
                .apply_env([("DOCSNAP_HEADER_READ_TIMEOUT", value)])
                .unwrap();
        }
    }

    #[test]
    fn remote_token_from_env_stays_out_of_debug() {
        let mut config = Config::default();
        config
            .apply_env([("DOCSNAP_OCR_REMOTE_TOKEN", " ocr-token-7f3a ")])
            .unwrap();

        let token = config.ocr.remote_token.as_ref().unwrap();
        assert_eq!(token.expose(), "ocr-token-7f3a");
        assert!(!format!("{config:?}").contains("ocr-token-7f3a"));
    }

    #[test]
    fn remote_token_from_toml() {
        let config = Config::from_toml("[ocr]\nremote_token = \"ocr-token-7f3a\"").unwrap();
        let token = config.ocr.remote_token.as_ref().map(Secret::expose);
        assert_eq!(token, Some("ocr-token-7f3a"));
    }

    #[test]
    fn remote_token_invalid_is_rejected() {
        for token in ["ocr token", "ocr-tökén", ""] {
            let text = format!("[ocr]\nremote_token = {token:?}");
            let error = Config::from_toml(&text).unwrap_err();
            let message = error.message();
            assert!(message.contains("ocr.remote_token"), "{message}");
            if !token.is_empty() {
                assert!(!message.contains(token), "{message}");
            }
        }
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        let error = parse_duration("soon").unwrap_err();
        assert!(error.message().contains("soon"), "{}", error.message());
    }
}

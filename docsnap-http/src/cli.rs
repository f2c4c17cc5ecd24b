//! Command-line interface of `docsnap-server`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use docsnap_core::config::{Config, LlmPreset, LogFormat, OcrEngineKind, Role, parse_duration};

/// The DocuSnap protocol over HTTP, and the docsnap pipeline on the command line.
///
/// Settings are layered: built-in defaults, then the TOML file given with
/// --config, then DOCSNAP_* environment variables, then these flags. Secrets
/// have no flags: the language model API key is read only from
/// DOCSNAP_LLM_API_KEY. The bearer token that /process, /clear and /ocr then
/// require comes from DOCSNAP_BEARER_TOKEN or the TOML file, and the token sent
/// to remote OCR servers from DOCSNAP_OCR_REMOTE_TOKEN or the TOML file.
#[derive(Debug, Parser)]
#[command(name = "docsnap-server", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands; `serve` runs when none is given.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the protocol over HTTP (the default).
    Serve,
    /// Process page images in this process and print the result JSON.
    Process {
        /// The processing kind.
        #[arg(long = "type", value_name = "KIND")]
        kind: DocumentKind,
        /// Page images in page order: PNG, JPEG, or another format the image decoder reads.
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<PathBuf>,
        /// JSON file library of earlier results, `{"docs": [...], "forms": [...]}`; default empty.
        #[arg(long, value_name = "FILE")]
        file_lib: Option<PathBuf>,
    },
    /// Fill a form's blank fields from a file library and print the result JSON.
    Fill {
        /// JSON form object: an earlier form result with its `fields`.
        #[arg(value_name = "FORM_JSON")]
        form: PathBuf,
        /// JSON file library to take the values from.
        #[arg(long, value_name = "FILE")]
        file_lib: PathBuf,
    },
    /// Recognise the text of page images and print it, pages separated by `----page N----`.
    Ocr {
        /// Page images in page order.
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<PathBuf>,
    },
    /// Create the server key pair in the data directory if it is missing,
    /// and print its fingerprint and public key.
    Keygen,
}

/// The kinds `process` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DocumentKind {
    /// A document: title, tags, description and key-value pairs.
    Doc,
    /// A form: like a document, plus the labels of its blank fields.
    Form,
}

/// Flags that override the configuration; each names its variable and default.
#[derive(Debug, Args)]
pub struct Settings {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE", env = "DOCSNAP_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [env: DOCSNAP_LISTEN] [default: 127.0.0.1:8000].
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,

    /// Directory for docsnap.db and the RSA key pair [env: DOCSNAP_DATA_DIR] [default: ./docsnap-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Path prefix for the protocol endpoints, besides the root; "" for none
    /// [env: DOCSNAP_API_PREFIX] [default: /api/v1].
    #[arg(long, global = true, value_name = "PATH")]
    pub api_prefix: Option<String>,

    /// Largest request body, in bytes [env: DOCSNAP_BODY_LIMIT] [default: 67108864 (64 MiB)].
    #[arg(long, global = true, value_name = "BYTES")]
    pub body_limit: Option<u64>,

    /// Time a connection gets to send a complete request head, counted from
    /// when it opens and from the end of each response, so idle keep-alive
    /// connections close after it too. Seconds or with a unit, from 1s to 10m
    /// [env: DOCSNAP_HEADER_READ_TIMEOUT] [default: 30s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration_arg)]
    pub header_read_timeout: Option<std::time::Duration>,

    /// Endpoints to serve: all, api (no /ocr) or ocr (only /ocr and health)
    /// [env: DOCSNAP_ROLE] [default: all].
    #[arg(long, global = true, value_name = "ROLE")]
    pub role: Option<RoleArg>,

    /// Serve POST /ocr in roles other than ocr [env: DOCSNAP_ENABLE_OCR_ENDPOINT] [default: off].
    #[arg(long, global = true)]
    pub enable_ocr_endpoint: bool,

    /// Log format [env: DOCSNAP_LOG_FORMAT] [default: pretty]. Levels come from RUST_LOG.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,

    /// Time in-flight tasks get after SIGTERM or SIGINT, as seconds or with a
    /// unit (30s, 2m) [env: DOCSNAP_SHUTDOWN_GRACE] [default: 10s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration_arg)]
    pub shutdown_grace: Option<std::time::Duration>,

    /// Undecryptable envelopes a client id or IP may send per window before
    /// getting 429; 0 turns this off [env: DOCSNAP_RATE_LIMIT_MAX_FAILURES] [default: 20].
    #[arg(long, global = true, value_name = "COUNT")]
    pub rate_limit_max_failures: Option<u32>,

    /// Window of the failure limit, as seconds or with a unit
    /// [env: DOCSNAP_RATE_LIMIT_WINDOW] [default: 60s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration_arg)]
    pub rate_limit_window: Option<std::time::Duration>,

    /// Header in which a reverse proxy sends the client IP, such as x-real-ip
    /// or x-forwarded-for (last entry). Set it only behind such a proxy
    /// [env: DOCSNAP_RATE_LIMIT_CLIENT_IP_HEADER] [default: none, the peer address].
    #[arg(long, global = true, value_name = "HEADER")]
    pub rate_limit_client_ip_header: Option<String>,

    /// Tasks processed at the same time; 0 only queues them
    /// [env: DOCSNAP_WORKERS] [default: 2].
    #[arg(long, global = true, value_name = "COUNT")]
    pub workers: Option<usize>,

    /// Delete tasks not accessed for this long, as seconds or with a unit
    /// (24h) [env: DOCSNAP_RETENTION] [default: 24h].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration_arg)]
    pub retention: Option<std::time::Duration>,

    /// Fail tasks still processing after this long with PROCESSING_TIMEOUT,
    /// as seconds or with a unit [env: DOCSNAP_PROCESSING_TIMEOUT] [default: 10m].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration_arg)]
    pub processing_timeout: Option<std::time::Duration>,

    /// Largest number of pages in one task [env: DOCSNAP_MAX_PAGES] [default: 20].
    #[arg(long, global = true, value_name = "COUNT")]
    pub max_pages: Option<usize>,

    /// OCR engine: ocrs (in process) or remote [env: DOCSNAP_OCR_ENGINE] [default: ocrs].
    #[arg(long, global = true, value_name = "ENGINE")]
    pub ocr_engine: Option<OcrEngineArg>,

    /// Base URL of a remote OCR server (`docsnap-server --role ocr`); repeat
    /// for several. Selects the remote engine unless --ocr-engine says otherwise
    /// [env: DOCSNAP_OCR_REMOTE_URLS, comma-separated] [default: none].
    #[arg(
        long = "ocr-remote-url",
        visible_alias = "ocr-url",
        global = true,
        value_name = "URL"
    )]
    pub ocr_remote_urls: Vec<String>,

    /// ocrs detection model file (.rten) [env: DOCSNAP_OCR_DETECTION_MODEL] [default: bundled].
    #[arg(long, global = true, value_name = "FILE")]
    pub ocr_detection_model: Option<PathBuf>,

    /// ocrs recognition model file (.rten) [env: DOCSNAP_OCR_RECOGNITION_MODEL] [default: bundled].
    #[arg(long, global = true, value_name = "FILE")]
    pub ocr_recognition_model: Option<PathBuf>,

    /// Pages recognised at the same time [env: DOCSNAP_OCR_MAX_CONCURRENT_PAGES] [default: 2].
    #[arg(long, global = true, value_name = "COUNT")]
    pub ocr_max_concurrent_pages: Option<usize>,

    /// Language model provider: zhipu, openai or openai-compatible
    /// [env: DOCSNAP_LLM_PRESET] [default: none, the offline rule extractor].
    #[arg(long, global = true, value_name = "PRESET")]
    pub llm_preset: Option<LlmPresetArg>,

    /// Chat-completions base URL, such as http://127.0.0.1:11434/v1
    /// [env: DOCSNAP_LLM_BASE_URL] [default: the preset's].
    #[arg(long, global = true, value_name = "URL")]
    pub llm_base_url: Option<String>,

    /// Model name [env: DOCSNAP_LLM_MODEL] [default: the preset's].
    #[arg(long, global = true, value_name = "NAME")]
    pub llm_model: Option<String>,

    /// Maximum length of the user prompt sent to the model, in characters; longer prompts
    /// are shortened [env: DOCSNAP_LLM_MAX_PROMPT_CHARS] [default: 96000].
    #[arg(long, global = true, value_name = "CHARS")]
    pub llm_max_prompt_chars: Option<usize>,
}

/// `--role` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Protocol endpoints with OCR.
    All,
    /// Protocol endpoints only.
    Api,
    /// Only POST /ocr and health endpoints.
    Ocr,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `--ocr-engine` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OcrEngineArg {
    /// ocrs in process.
    Ocrs,
    /// Remote OCR servers.
    Remote,
}

/// `--llm-preset` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlmPresetArg {
    /// Zhipu GLM.
    Zhipu,
    /// OpenAI.
    Openai,
    /// Any OpenAI-compatible /v1 server; needs --llm-base-url.
    OpenaiCompatible,
}

impl Settings {
    /// Loads the layered configuration and applies these flags on top.
    pub fn load(&self) -> docsnap_core::Result<Config> {
        Config::load_with(self.config.as_deref(), |config| self.apply(config))
    }

    fn apply(&self, config: &mut Config) {
        set(&mut config.listen, self.listen);
        set(&mut config.data_dir, self.data_dir.clone());
        set(&mut config.api_prefix, self.api_prefix.clone());
        set(&mut config.body_limit, self.body_limit);
        set(&mut config.header_read_timeout, self.header_read_timeout);
        set(&mut config.role, self.role.map(Role::from));
        config.enable_ocr_endpoint |= self.enable_ocr_endpoint;

        set(&mut config.log_format, self.log_format.map(LogFormat::from));
        set(&mut config.shutdown_grace, self.shutdown_grace);

        set(
            &mut config.rate_limit.max_failures,
            self.rate_limit_max_failures,
        );
        set(&mut config.rate_limit.window, self.rate_limit_window);
        if let Some(header) = &self.rate_limit_client_ip_header {
            config.rate_limit.client_ip_header = Some(header.to_ascii_lowercase());
        }

        set(&mut config.service.workers, self.workers);
        set(&mut config.service.retention, self.retention);
        set(
            &mut config.service.processing_timeout,
            self.processing_timeout,
        );
        set(&mut config.service.max_pages, self.max_pages);

        set(
            &mut config.ocr.engine,
            self.ocr_engine.map(OcrEngineKind::from),
        );
        if !self.ocr_remote_urls.is_empty() {
            config.ocr.remote_urls = self.ocr_remote_urls.clone();
            if self.ocr_engine.is_none() {
                config.ocr.engine = OcrEngineKind::Remote;
            }
        }
        if let Some(path) = &self.ocr_detection_model {
            config.ocr.detection_model = Some(path.clone());
        }
        if let Some(path) = &self.ocr_recognition_model {
            config.ocr.recognition_model = Some(path.clone());
        }
        set(
            &mut config.ocr.max_concurrent_pages,
            self.ocr_max_concurrent_pages,
        );

        if let Some(preset) = self.llm_preset {
            config.llm.preset = Some(LlmPreset::from(preset));
        }
        if let Some(url) = &self.llm_base_url {
            config.llm.base_url = Some(url.clone());
        }
        if let Some(model) = &self.llm_model {
            config.llm.model = Some(model.clone());
        }
        if let Some(chars) = self.llm_max_prompt_chars {
            config.llm.max_prompt_chars = Some(chars);
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    parse_duration(text).map_err(|error| error.message().to_owned())
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::All => Role::All,
            RoleArg::Api => Role::Api,
            RoleArg::Ocr => Role::Ocr,
        }
    }
}

impl From<LogFormatArg> for LogFormat {
    fn from(format: LogFormatArg) -> Self {
        match format {
            LogFormatArg::Pretty => LogFormat::Pretty,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

impl From<OcrEngineArg> for OcrEngineKind {
    fn from(engine: OcrEngineArg) -> Self {
        match engine {
            OcrEngineArg::Ocrs => OcrEngineKind::Ocrs,
            OcrEngineArg::Remote => OcrEngineKind::Remote,
        }
    }
}

impl From<LlmPresetArg> for LlmPreset {
    fn from(preset: LlmPresetArg) -> Self {
        match preset {
            LlmPresetArg::Zhipu => LlmPreset::Zhipu,
            LlmPresetArg::Openai => LlmPreset::Openai,
            LlmPresetArg::OpenaiCompatible => LlmPreset::OpenaiCompatible,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_override_config() {
        let cli = Cli::try_parse_from([
            "docsnap-server",
            "--listen",
            "127.0.0.1:9100",
            "--workers",
            "0",
            "--processing-timeout",
            "2m",
            "--header-read-timeout",
            "45s",
            "--llm-preset",
            "openai-compatible",
            "--llm-base-url",
            "http://127.0.0.1:11434/v1",
            "--llm-max-prompt-chars",
            "8000",
        ])
        .unwrap();
        let mut config = Config::default();
        cli.settings.apply(&mut config);

        assert_eq!(config.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(config.service.workers, 0);
        assert_eq!(config.service.processing_timeout.as_secs(), 120);
        assert_eq!(config.header_read_timeout.as_secs(), 45);
        assert_eq!(config.llm.preset, Some(LlmPreset::OpenaiCompatible));
        assert_eq!(config.llm.max_prompt_chars, Some(8000));
        assert!(cli.command.is_none());
    }

    #[test]
    fn ocr_url_selects_remote_engine() {
        let cli = Cli::try_parse_from([
            "docsnap-server",
            "--role",
            "api",
            "--ocr-url",
            "http://127.0.0.1:5001",
            "--ocr-url",
            "http://127.0.0.1:5002",
        ])
        .unwrap();
        let mut config = Config::default();
        cli.settings.apply(&mut config);

        assert_eq!(config.role, Role::Api);
        assert_eq!(config.ocr.engine, OcrEngineKind::Remote);
        assert_eq!(config.ocr.remote_urls.len(), 2);
    }

    #[test]
    fn explicit_ocr_engine_wins_over_url() {
        let cli = Cli::try_parse_from([
            "docsnap-server",
            "--ocr-engine",
            "ocrs",
            "--ocr-remote-url",
            "http://127.0.0.1:5001",
        ])
        .unwrap();
        let mut config = Config::default();
        cli.settings.apply(&mut config);

        assert_eq!(config.ocr.engine, OcrEngineKind::Ocrs);
    }

    #[test]
    fn process_takes_type_images_and_library() {
        let cli = Cli::try_parse_from([
            "docsnap-server",
            "process",
            "--type",
            "form",
            "a.png",
            "b.jpg",
            "--file-lib",
            "lib.json",
        ])
        .unwrap();
        let Some(Command::Process {
            kind,
            images,
            file_lib,
        }) = cli.command
        else {
            panic!("expected the process command");
        };
        assert_eq!(kind, DocumentKind::Form);
        assert_eq!(images, [PathBuf::from("a.png"), PathBuf::from("b.jpg")]);
        assert_eq!(file_lib, Some(PathBuf::from("lib.json")));
    }

    #[test]
    fn process_requires_an_image() {
        let error =
            Cli::try_parse_from(["docsnap-server", "process", "--type", "doc"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }
}

//! OCR over HTTP: clients for CnOCR-style servers and docsnap's own OCR
//! endpoint, and a pool that spreads pages over several engines.

mod cnocr;
mod docsnap;
mod pool;

use std::fmt;
use std::time::Duration;

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::ocr::Page;

pub use cnocr::CnOcrClient;
pub use docsnap::RemoteOcrClient;
pub use pool::{OcrPool, PoolConfig};

/// Connection settings shared by [`CnOcrClient`] and [`RemoteOcrClient`].
#[derive(Clone)]
pub struct RemoteOcrConfig {
    /// Maximum time to open the TCP (and TLS) connection. Default 2 s.
    pub connect_timeout: Duration,
    /// Maximum time for one attempt, from sending the page to reading the
    /// whole response. Default 60 s, because a large page on a busy CPU server
    /// can take tens of seconds.
    pub request_timeout: Duration,
    /// How many times a failed attempt is repeated when the failure is
    /// transient (connection error, timeout, HTTP 5xx, 408 or 429). Default 2.
    pub retries: u32,
    /// Pause before the first retry, doubled for each further retry up to
    /// 10 s. Default 250 ms.
    pub retry_backoff: Duration,
    /// Token sent as `Authorization: Bearer <token>`. Default none.
    pub bearer_token: Option<String>,
}

impl Default for RemoteOcrConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
            retries: 2,
            retry_backoff: Duration::from_millis(250),
            bearer_token: None,
        }
    }
}

impl fmt::Debug for RemoteOcrConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteOcrConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);

/// Time an idle connection stays open for the next page. It is shorter than
/// docsnap-server's default header read timeout (30 s), after which an OCR
/// server closes idle connections, so the client drops an idle connection
/// first. Against a server with a shorter timeout, a page sent as the server
/// closes the connection fails with a transient error and is retried.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The `{base}/ocr` URL of one OCR server and the HTTP client that calls it.
#[derive(Clone)]
struct Endpoint {
    client: reqwest::Client,
    url: Url,
    config: RemoteOcrConfig,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("config", &self.config)
            .finish()
    }
}

impl Endpoint {
    fn new(base_url: &str, config: RemoteOcrConfig) -> Result<Self> {
        let url = ocr_url(base_url)?;

        // Redirects stay off: following one would turn the POST into a GET
        // or send the page to a host the configuration never named.
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| {
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!("failed to build the HTTP client for {url}"),
                )
                .with_source(err)
            })?;

        Ok(Self {
            client,
            url,
            config,
        })
    }

    /// Posts the request that `attach_body` builds and parses the JSON
    /// response, repeating transient failures as the configuration allows.
    async fn post_json<T, F>(&self, attach_body: F) -> Result<T>
    where
        T: DeserializeOwned,
        F: Fn(RequestBuilder) -> Result<RequestBuilder>,
    {
        let max_attempts = self.config.retries.saturating_add(1);
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(&attach_body).await {
                Ok(parsed) => return Ok(parsed),
                Err(failure) => failure,
            };

            if !failure.transient || attempt >= max_attempts {
                return Err(failure.into_error(attempt));
            }

            let pause = self.backoff(attempt);
            tracing::warn!(
                url = %self.url,
                attempt,
                max_attempts,
                retry_in_ms = pause.as_millis() as u64,
                error = %failure.message,
                "OCR request failed, retrying",
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    async fn attempt<T, F>(&self, attach_body: &F) -> std::result::Result<T, Failure>
    where
        T: DeserializeOwned,
        F: Fn(RequestBuilder) -> Result<RequestBuilder>,
    {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.config.bearer_token {
            request = request.bearer_auth(token);
        }
        let request = attach_body(request).map_err(Failure::from_error)?;

        let response = request
            .send()
            .await
            .map_err(|err| self.transport_failure(err))?;

        let status = response.status();
        if !status.is_success() {
            return Err(self.status_failure(status));
        }

        let body = response
            .bytes()
            .await
            .map_err(|err| self.transport_failure(err))?;

        serde_json::from_slice(&body).map_err(|err| Failure {
            message: format!(
                "OCR service at {} returned malformed JSON ({})",
                self.url,
                describe_json_error(&err)
            ),
            transient: false,
            source: None,
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << (attempt - 1).min(16);
        self.config
            .retry_backoff
            .saturating_mul(factor)
            .min(MAX_RETRY_BACKOFF)
    }

    /// Describes a failure to connect, send or receive, which is always
    /// transient.
    fn transport_failure(&self, err: reqwest::Error) -> Failure {
        let message = if err.is_connect() && err.is_timeout() {
            format!(
                "connecting to OCR service at {} timed out after {} ms",
                self.url,
                self.config.connect_timeout.as_millis()
            )
        } else if err.is_timeout() {
            format!(
                "OCR request to {} timed out after {} ms",
                self.url,
                self.config.request_timeout.as_millis()
            )
        } else if err.is_connect() {
            format!(
                "failed to connect to OCR service at {}: {}",
                self.url,
                root_cause(&err)
            )
        } else {
            format!("OCR request to {} failed: {}", self.url, root_cause(&err))
        };

        Failure {
            message,
            transient: true,
            source: Some(err),
        }
    }

    /// Describes a non-2xx response. 5xx, 408 and 429 mean "try again
    /// later", and any other status will not change on a retry.
    fn status_failure(&self, status: StatusCode) -> Failure {
        let transient = status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS;

        let rejected_token = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        let message = match (rejected_token, &self.config.bearer_token) {
            (true, Some(_)) => format!(
                "OCR service at {} rejected the bearer token with HTTP {status}; \
                 check that the token sent (ocr.remote_token, DOCSNAP_OCR_REMOTE_TOKEN) \
                 matches the one the OCR server requires",
                self.url
            ),
            (true, None) => format!(
                "OCR service at {} requires a bearer token and returned HTTP {status}; \
                 set the token it requires as ocr.remote_token (DOCSNAP_OCR_REMOTE_TOKEN)",
                self.url
            ),
            (false, _) => {
                let hint = match status {
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                        "; check that the base URL points at an OCR server"
                    }
                    status if status.is_redirection() => "; use the final URL as the base URL",
                    _ => "",
                };
                format!("OCR service at {} returned HTTP {status}{hint}", self.url)
            }
        };

        Failure {
            message,
            transient,
            source: None,
        }
    }

    /// Builds a non-transient error for a response that parsed as JSON but
    /// breaks the expected format.
    fn invalid_response(&self, problem: impl fmt::Display) -> Error {
        Error::new(
            ErrorKind::OcrFailure,
            format!(
                "OCR service at {} returned an invalid response: {problem}",
                self.url
            ),
        )
    }
}

/// One failed attempt, before the retry loop turns it into an [`Error`].
struct Failure {
    message: String,
    transient: bool,
    source: Option<reqwest::Error>,
}

impl Failure {
    fn from_error(err: Error) -> Self {
        Self {
            message: err.message().to_owned(),
            transient: err.is_transient(),
            source: None,
        }
    }

    fn into_error(self, attempts: u32) -> Error {
        let message = if attempts > 1 {
            format!("{} (after {attempts} attempts)", self.message)
        } else {
            self.message
        };

        let mut error = Error::new(ErrorKind::OcrFailure, message);
        if let Some(source) = self.source {
            error = error.with_source(source);
        }
        if self.transient {
            error = error.transient();
        }
        error
    }
}

/// Parses a base URL such as `http://ocr:8501` or `http://host/prefix/` and
/// appends `ocr` to its path.
fn ocr_url(base_url: &str) -> Result<Url> {
    let invalid = |reason: String| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "invalid OCR service URL `{base_url}`: {reason}; \
                 expected a base URL such as http://127.0.0.1:8501"
            ),
        )
    };

    let mut url = Url::parse(base_url.trim()).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    // Error messages and logs name this URL, so it must not carry secrets,
    // and this message leaves the URL out for the same reason.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            "invalid OCR service URL: it contains credentials; \
             remove them and set a bearer token (ocr.remote_token) instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it has a query or fragment".to_owned()));
    }

    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.join("ocr").map_err(|err| invalid(err.to_string()))
}

/// Encodes the page as PNG on the blocking thread pool, because a full
/// page takes tens to hundreds of milliseconds to compress.
async fn encode_png(page: &Page) -> Result<Vec<u8>> {
    let image = page.image.clone();
    let index = page.index;

    let encoded = tokio::task::spawn_blocking(move || {
        let mut png = Vec::new();
        // Fast compression: the page crosses a fast network once, so a
        // smaller file is not worth the extra CPU time.
        let encoder =
            PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Sub);
        encoder
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map(|()| png)
    })
    .await;

    match encoded {
        Ok(Ok(png)) => Ok(png),
        Ok(Err(err)) => Err(Error::new(
            ErrorKind::OcrFailure,
            format!("failed to PNG-encode page {index} for the OCR service"),
        )
        .with_source(err)),
        Err(err) => Err(Error::new(
            ErrorKind::OcrFailure,
            format!("the PNG encoder for page {index} stopped before finishing"),
        )
        .with_source(err)),
    }
}

/// Describes a JSON error by category and position only, because serde's
/// full message can quote values from the response, which are document text.
fn describe_json_error(err: &serde_json::Error) -> String {
    let category = match err.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected structure",
        serde_json::error::Category::Eof => "unexpected end of input",
    };
    format!("{category} at line {}, column {}", err.line(), err.column())
}

/// Returns the innermost error's message, such as `Connection refused (os error 111)`.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocr_url_appends_path() {
        let cases = [
            ("http://127.0.0.1:8501", "http://127.0.0.1:8501/ocr"),
            ("http://127.0.0.1:8501/", "http://127.0.0.1:8501/ocr"),
            (
                "https://ocr.internal/api/v1",
                "https://ocr.internal/api/v1/ocr",
            ),
            (
                "https://ocr.internal/api/v1/",
                "https://ocr.internal/api/v1/ocr",
            ),
        ];
        for (base, expected) in cases {
            let url = ocr_url(base).map(|url| url.to_string());
            assert_eq!(url.ok().as_deref(), Some(expected), "base {base}");
        }
    }

    #[test]
    fn ocr_url_rejects_bad_input() {
        let cases = [
            "127.0.0.1:8501",
            "ftp://127.0.0.1/",
            "http://user:secret@127.0.0.1/",
            "http://127.0.0.1/?key=1",
            "",
        ];
        for base in cases {
            let err = ocr_url(base).err();
            assert_eq!(
                err.as_ref().map(Error::kind),
                Some(ErrorKind::InvalidConfig),
                "base {base:?}"
            );
        }
    }

    #[test]
    fn ocr_url_error_hides_password() {
        let err = ocr_url("http://user:secret@127.0.0.1/").err();
        let message = err.map(|err| err.to_string()).unwrap_or_default();
        assert!(message.contains("credentials"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn backoff_doubles_up_to_cap() {
        let endpoint = Endpoint::new(
            "http://127.0.0.1:1",
            RemoteOcrConfig {
                retry_backoff: Duration::from_millis(300),
                ..RemoteOcrConfig::default()
            },
        )
        .ok();
        let Some(endpoint) = endpoint else {
            panic!("endpoint for a valid URL was rejected");
        };
        assert_eq!(endpoint.backoff(1), Duration::from_millis(300));
        assert_eq!(endpoint.backoff(2), Duration::from_millis(600));
        assert_eq!(endpoint.backoff(3), Duration::from_millis(1200));
        assert_eq!(endpoint.backoff(40), MAX_RETRY_BACKOFF);
    }

    fn endpoint_with_token(token: Option<&str>) -> Endpoint {
        let config = RemoteOcrConfig {
            bearer_token: token.map(str::to_owned),
            ..RemoteOcrConfig::default()
        };
        let Ok(endpoint) = Endpoint::new("http://127.0.0.1:1", config) else {
            panic!("endpoint for a valid URL was rejected");
        };
        endpoint
    }

    /// Returns the message of the failure for `status` from a client that sends `token`.
    fn status_message(token: Option<&str>, status: StatusCode) -> String {
        let failure = endpoint_with_token(token).status_failure(status);
        assert!(!failure.transient, "HTTP {status} counted as transient");
        failure.message
    }

    #[test]
    fn unauthorized_with_token_names_rejected_token() {
        let message = status_message(Some("s3cret-token"), StatusCode::UNAUTHORIZED);

        assert!(message.contains("rejected the bearer token"), "{message}");
        assert!(message.contains("DOCSNAP_OCR_REMOTE_TOKEN"), "{message}");
        assert!(!message.contains("s3cret-token"), "{message}");
    }

    #[test]
    fn unauthorized_without_token_asks_for_one() {
        let message = status_message(None, StatusCode::UNAUTHORIZED);

        assert!(message.contains("requires a bearer token"), "{message}");
        assert!(message.contains("DOCSNAP_OCR_REMOTE_TOKEN"), "{message}");
    }

    #[test]
    fn not_found_hints_at_base_url() {
        let message = status_message(Some("s3cret-token"), StatusCode::NOT_FOUND);

        assert!(message.contains("check that the base URL"), "{message}");
    }

    #[test]
    fn config_debug_redacts_token() {
        let config = RemoteOcrConfig {
            bearer_token: Some("s3cret-token".to_owned()),
            ..RemoteOcrConfig::default()
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-token"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}

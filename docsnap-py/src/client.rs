//! `docsnap.Client`: the DocuSnap protocol over HTTP, with the request
//! sealed and the result opened on the caller's side.

use std::str::FromStr;
use std::time::Duration;

use docsnap_core::envelope::{self, AesKey, Cipher, Mgf1Digest};
use docsnap_core::types::{FileLibrary, FormToFill, TaskKind};
use pyo3::exceptions::{PyConnectionError, PyTimeoutError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::arguments;
use crate::errors::{self, DocsnapError};
use crate::runtime::{PerProcess, run_detached};

/// The time limit of one HTTP request, from connecting until the whole response is read.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait between polls; each later wait is 1.5 times longer, up to
/// [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(200);
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// A hundred years, the longest deadline that `process` sets.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// The time limit of the clear request that `process` sends after a task
/// finished, which may run past the caller's timeout.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of a docsnap or DocuSnap server.
#[pyclass(module = "docsnap._docsnap", frozen)]
#[derive(Debug)]
pub struct Client {
    base_url: String,
    public_key_pem: String,
    client_id: String,
    cipher: Cipher,
    /// The bearer token sent with every request, if the server requires one.
    token: Option<String>,
    http: PerProcess<reqwest::Client>,
}

/// A submitted task: its identity and the AES key that opens its result.
#[pyclass(module = "docsnap._docsnap", frozen)]
#[derive(Debug, Clone)]
pub struct Task {
    client_id: String,
    kind: TaskKind,
    sha256: String,
    cipher: Cipher,
    key: AesKey,
}

/// A task's state as returned by `POST /process`.
enum State {
    Processing,
    Completed(String),
}

#[pymethods]
impl Task {
    /// The client id the task was submitted under.
    #[getter]
    fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The task type: "doc", "form" or "fill".
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    /// Lowercase hex SHA-256 of the sealed content; the task's identity.
    #[getter]
    fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The cipher of the request and its result: "A256GCM" or "CBC".
    #[getter]
    fn cipher(&self) -> &'static str {
        self.cipher.as_str()
    }

    fn __repr__(&self) -> String {
        format!(
            "Task(kind={:?}, sha256={:?}, cipher={:?})",
            self.kind.as_str(),
            self.sha256,
            self.cipher.as_str()
        )
    }
}

#[pymethods]
impl Client {
    /// Connects to the server at `url`, such as `http://127.0.0.1:8000` or
    /// `https://host/api/v1`, fetching its public key when none is given.
    /// `token` is the bearer token of a server that requires one (its
    /// `DOCSNAP_BEARER_TOKEN`).
    #[new]
    #[pyo3(signature = (url, public_key_pem=None, client_id=None, cipher="A256GCM", *, token=None))]
    fn new(
        py: Python<'_>,
        url: &str,
        public_key_pem: Option<String>,
        client_id: Option<String>,
        cipher: &str,
        token: Option<String>,
    ) -> PyResult<Self> {
        let base_url = base_url(url)?;
        let cipher = Cipher::from_str(cipher).map_err(|_| {
            PyValueError::new_err(format!(
                "argument 'cipher' must be \"A256GCM\" or \"CBC\" (for servers without A256GCM), got {cipher:?}"
            ))
        })?;
        let client_id = match client_id {
            Some(id) if id.trim().is_empty() => {
                return Err(PyValueError::new_err(
                    "argument 'client_id' is empty: pass a UUID string or omit it",
                ));
            }
            Some(id) => id,
            None => py.import("uuid")?.call_method0("uuid4")?.str()?.to_string(),
        };
        let http = build_http(token.as_deref())?;

        let public_key_pem = match public_key_pem {
            Some(pem) => pem,
            None => {
                let url = format!("{base_url}/public_key");
                let http = http.clone();
                run_detached(py, async move { fetch_text(&http, &url).await })?
            }
        };
        // Fail here rather than at the first submit if the key is unusable.
        let probe = AesKey::random(32).map_err(errors::to_py_err)?;
        envelope::wrap_key(&public_key_pem, &probe, Mgf1Digest::Sha256)
            .map_err(errors::to_py_err)?;

        Ok(Self {
            base_url,
            public_key_pem,
            client_id,
            cipher,
            token,
            http: PerProcess::with_value(http),
        })
    }

    /// The server URL without a trailing slash.
    #[getter]
    fn url(&self) -> &str {
        &self.base_url
    }

    /// The client id sent with every request.
    #[getter]
    fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The server's RSA public key in PEM.
    #[getter]
    fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// The cipher of requests and results: "A256GCM" or "CBC".
    #[getter]
    fn cipher(&self) -> &'static str {
        self.cipher.as_str()
    }

    /// Seals and submits a task and returns it without waiting for the result.
    #[pyo3(signature = (kind, images=None, form=None, file_lib=None))]
    fn submit(
        &self,
        py: Python<'_>,
        kind: &str,
        images: Option<&Bound<'_, PyAny>>,
        form: Option<&Bound<'_, PyAny>>,
        file_lib: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Task> {
        let kind = task_kind(kind)?;
        let payload = payload(kind, images, form, file_lib)?;
        let (task, body) = self.seal(kind, &payload)?;
        let (http, url) = (self.http()?, self.endpoint("process"));

        run_detached(py, async move {
            match post_process(&http, &url, &body).await? {
                State::Processing | State::Completed(_) => Ok(task),
            }
        })
    }

    /// Polls a task once: its result as a dict when completed, `None` while
    /// processing; a failed task raises its `DocsnapError` subclass.
    fn poll<'py>(&self, py: Python<'py>, task: &Task) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (http, url) = (self.http()?, self.endpoint("process"));
        let body = poll_body(task);

        let state = run_detached(py, async move { post_process(&http, &url, &body).await })?;
        match state {
            State::Processing => Ok(None),
            State::Completed(sealed) => open_result(py, task, &sealed).map(Some),
        }
    }

    /// Deletes one task on the server, or every task of this client when
    /// `task` is `None`, and returns the number deleted.
    #[pyo3(signature = (task=None))]
    fn clear(&self, py: Python<'_>, task: Option<&Task>) -> PyResult<u64> {
        let (http, url) = (self.http()?, self.endpoint("clear"));
        let body = clear_body(&self.client_id, task);
        run_detached(py, async move { post_clear(&http, &url, &body).await })
    }

    /// Submits a task, polls with backoff until it completes or `timeout`
    /// seconds pass, clears it and returns its result as a dict.
    ///
    /// A failed task is cleared too and raises its `DocsnapError` subclass.
    /// Clearing takes at most 5 s more. After the timeout, also while a
    /// request is still unanswered, `TimeoutError` is raised and the task
    /// stays on the server until its retention period ends.
    #[pyo3(signature = (kind, images=None, form=None, file_lib=None, timeout=120.0))]
    fn process<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        images: Option<&Bound<'py, PyAny>>,
        form: Option<&Bound<'py, PyAny>>,
        file_lib: Option<&Bound<'py, PyAny>>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = arguments::seconds(timeout, "timeout")?;
        let kind = task_kind(kind)?;
        let payload = payload(kind, images, form, file_lib)?;
        let (task, body) = self.seal(kind, &payload)?;
        let http = self.http()?;
        let (process_url, clear_url) = (self.endpoint("process"), self.endpoint("clear"));

        let waited_task = task.clone();
        let sealed = run_detached(py, async move {
            wait_for_result(
                &http,
                &process_url,
                &clear_url,
                &waited_task,
                &body,
                timeout,
            )
            .await
        })?;
        open_result(py, &task, &sealed)
    }

    fn __repr__(&self) -> String {
        format!(
            "Client(url={:?}, client_id={:?}, cipher={:?})",
            self.base_url,
            self.client_id,
            self.cipher.as_str()
        )
    }
}

impl Client {
    fn http(&self) -> PyResult<reqwest::Client> {
        self.http
            .get_or_try_init(|| build_http(self.token.as_deref()))
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.base_url)
    }

    /// Seals `payload` and builds the `/process` body that submits it.
    // NOTE: this runs with the GIL held, and for a 40 MB page it takes about
    // 0.5 s in a release build, which other Python threads and Ctrl-C wait for.
    fn seal(&self, kind: TaskKind, payload: &Value) -> PyResult<(Task, Value)> {
        let (sealed, key) = envelope::seal_request(
            &self.public_key_pem,
            &self.client_id,
            kind,
            self.cipher,
            payload,
            Mgf1Digest::Sha256,
        )
        .map_err(errors::to_py_err)?;

        let mut body = json!({
            "client_id": self.client_id,
            "type": kind.as_str(),
            "SHA256": sealed.sha256,
            "has_content": true,
            "content": sealed.content,
            "aes_key": sealed.aes_key,
        });
        // Old servers know no `cipher` field; CBC is what its absence means.
        if self.cipher == Cipher::A256Gcm {
            body["cipher"] = json!(self.cipher.as_str());
        }

        let task = Task {
            client_id: self.client_id.clone(),
            kind,
            sha256: sealed.sha256,
            cipher: self.cipher,
            key,
        };
        Ok((task, body))
    }
}

fn base_url(url: &str) -> PyResult<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let scheme_ok = trimmed.starts_with("http://") || trimmed.starts_with("https://");
    if !scheme_ok || reqwest::Url::parse(trimmed).is_err() {
        return Err(PyValueError::new_err(format!(
            "argument 'url' must be an http:// or https:// URL such as \"http://127.0.0.1:8000\", got {url:?}"
        )));
    }
    Ok(trimmed.to_owned())
}

fn build_http(token: Option<&str>) -> PyResult<reqwest::Client> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            PyValueError::new_err(
                "argument 'token' contains characters not allowed in an HTTP header, such as \
                 a line break; pass the token exactly as the server has it",
            )
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|error| {
            PyConnectionError::new_err(format!("failed to build the HTTP client: {error}"))
        })
}

fn task_kind(kind: &str) -> PyResult<TaskKind> {
    TaskKind::from_str(kind).map_err(|_| {
        PyValueError::new_err(format!(
            "argument 'kind' must be \"doc\", \"form\" or \"fill\", got {kind:?}"
        ))
    })
}

/// Builds the inner payload: page images for doc and form, a form for fill.
fn payload(
    kind: TaskKind,
    images: Option<&Bound<'_, PyAny>>,
    form: Option<&Bound<'_, PyAny>>,
    file_lib: Option<&Bound<'_, PyAny>>,
) -> PyResult<Value> {
    let images = images.filter(|value| !value.is_none());
    let form = form.filter(|value| !value.is_none());
    let library: FileLibrary = arguments::optional_mapping(file_lib, "file_lib")?;

    let to_process = match (kind, images, form) {
        (TaskKind::Doc | TaskKind::Form, Some(images), None) => {
            let pages = arguments::images(images, "images")?;
            let encoded: Vec<String> = pages
                .iter()
                .map(|page| envelope::encode_base64(page))
                .collect();
            json!(encoded)
        }
        (TaskKind::Fill, None, Some(form)) => {
            let value: Value = arguments::mapping(form, "form")?;
            serde_json::from_value::<FormToFill>(value.clone())
                .map_err(|error| PyValueError::new_err(format!("invalid 'form': {error}")))?;
            value
        }
        (TaskKind::Fill, _, _) => {
            return Err(PyTypeError::new_err(
                "a \"fill\" task takes 'form' (a form result with its \"fields\") and no 'images'",
            ));
        }
        (_, _, _) => {
            return Err(PyTypeError::new_err(format!(
                "a {:?} task takes 'images' (page images) and no 'form'",
                kind.as_str()
            )));
        }
    };

    Ok(json!({"to_process": to_process, "file_lib": library}))
}

fn poll_body(task: &Task) -> Value {
    json!({
        "client_id": task.client_id,
        "type": task.kind.as_str(),
        "SHA256": task.sha256,
        "has_content": false,
    })
}

fn clear_body(client_id: &str, task: Option<&Task>) -> Value {
    match task {
        Some(task) => {
            json!({"client_id": client_id, "SHA256": task.sha256, "type": task.kind.as_str()})
        }
        None => json!({"client_id": client_id}),
    }
}

async fn wait_for_result(
    http: &reqwest::Client,
    process_url: &str,
    clear_url: &str,
    task: &Task,
    submit_body: &Value,
    timeout: Duration,
) -> PyResult<String> {
    // A timeout too long for the monotonic clock gets a deadline a century away.
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(|| Instant::now() + CENTURY);
    let poll = poll_body(task);
    let mut body = submit_body;
    let mut interval = FIRST_POLL_INTERVAL;

    loop {
        // The deadline also bounds a request that the server never responds to.
        let state = tokio::time::timeout_at(deadline, post_process(http, process_url, body))
            .await
            .map_err(|_| no_result(task, timeout))?;
        match state {
            Ok(State::Processing) => {}
            Ok(State::Completed(sealed)) => {
                clear_quietly(http, clear_url, task).await;
                return Ok(sealed);
            }
            Err(error) => {
                clear_quietly(http, clear_url, task).await;
                return Err(error);
            }
        }

        let now = Instant::now();
        if now >= deadline {
            return Err(no_result(task, timeout));
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = interval.mul_f64(1.5).min(MAX_POLL_INTERVAL);
        body = &poll;
    }
}

fn no_result(task: &Task, timeout: Duration) -> PyErr {
    PyTimeoutError::new_err(format!(
        "the {} task {} had no result after {:.1} s; pass a larger 'timeout', or use submit() \
         and poll()",
        task.kind.as_str(),
        short_hash(&task.sha256),
        timeout.as_secs_f64()
    ))
}

/// Clears a finished task, logging instead of raising if that fails: the
/// result is already in hand and the server deletes the task later anyway.
async fn clear_quietly(http: &reqwest::Client, url: &str, task: &Task) {
    let body = clear_body(&task.client_id, Some(task));
    let task = short_hash(&task.sha256);
    match tokio::time::timeout(CLEAR_TIMEOUT, post_clear(http, url, &body)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(task, %error, "failed to clear a finished task"),
        Err(_) => tracing::warn!(
            task,
            timeout_secs = CLEAR_TIMEOUT.as_secs(),
            "clearing a finished task timed out"
        ),
    }
}

async fn post_process(http: &reqwest::Client, url: &str, body: &Value) -> PyResult<State> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|error| transport(url, error))?;
    let status = response.status();
    check_authorized(url, status)?;
    let reply: Value = read_json(response, url).await?;

    match reply.get("status").and_then(Value::as_str) {
        Some("processing") => Ok(State::Processing),
        Some("completed") => match reply.get("result").and_then(Value::as_str) {
            Some(result) => Ok(State::Completed(result.to_owned())),
            None => Err(unexpected(url, status, "a completed task without a result")),
        },
        Some("error") => Err(error_detail(url, status, &reply)),
        _ => Err(unexpected(url, status, "no known status")),
    }
}

/// Raises the exception of an error reply's `error_detail` code.
fn error_detail(url: &str, status: reqwest::StatusCode, reply: &Value) -> PyErr {
    match reply.get("error_detail").and_then(Value::as_str) {
        Some(code) => errors::from_code(code, &format!("{url} returned an error (HTTP {status})")),
        None => unexpected(url, status, "an error without error_detail"),
    }
}

/// Fails with the fix when a server that requires a bearer token rejected
/// the request for lack of the right one.
fn check_authorized(url: &str, status: reqwest::StatusCode) -> PyResult<()> {
    if status != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(());
    }
    Err(PyErr::new::<DocsnapError, _>(format!(
        "{url} rejected the request (HTTP {status}) because it requires a bearer token and \
         got none or another one; pass the server's token as docsnap.Client(..., token=...)"
    )))
}

async fn post_clear(http: &reqwest::Client, url: &str, body: &Value) -> PyResult<u64> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|error| transport(url, error))?;
    let status = response.status();
    check_authorized(url, status)?;
    let reply: Value = read_json(response, url).await?;

    if let Some(cleared) = reply.get("cleared").and_then(Value::as_u64) {
        return Ok(cleared);
    }
    // Errors of every endpoint, such as a rate limit, come in `error_detail`,
    // and the failures of a clear itself in `error`.
    if reply.get("status").and_then(Value::as_str) == Some("error") {
        return Err(error_detail(url, status, &reply));
    }
    match reply.get("error").and_then(Value::as_str) {
        Some("CACHE_CLEAR_FAILED") => Err(errors::from_code(
            "DATABASE_ERROR",
            &format!("{url} failed to clear"),
        )),
        Some(error) => Err(unexpected(url, status, error)),
        None => Err(unexpected(url, status, "no cleared count")),
    }
}

async fn fetch_text(http: &reqwest::Client, url: &str) -> PyResult<String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| transport(url, error))?;
    let status = response.status();
    check_authorized(url, status)?;
    if !status.is_success() {
        return Err(unexpected(
            url,
            status,
            "no public key; pass public_key_pem",
        ));
    }
    response.text().await.map_err(|error| transport(url, error))
}

async fn read_json(response: reqwest::Response, url: &str) -> PyResult<Value> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport(url, error))?;
    serde_json::from_slice(&bytes).map_err(|_| unexpected(url, status, "a body that is not JSON"))
}

fn open_result<'py>(py: Python<'py>, task: &Task, sealed: &str) -> PyResult<Bound<'py, PyAny>> {
    let aad = match task.cipher {
        Cipher::Cbc => Vec::new(),
        Cipher::A256Gcm => envelope::associated_data(&task.client_id, task.kind),
    };
    let result =
        envelope::open_json(&task.key, task.cipher, sealed, &aad).map_err(errors::to_py_err)?;
    arguments::to_python(py, &result)
}

fn transport(url: &str, error: reqwest::Error) -> PyErr {
    let message = format!("request to {url} failed: {error}");
    if error.is_timeout() {
        PyTimeoutError::new_err(message)
    } else {
        PyConnectionError::new_err(message)
    }
}

fn unexpected(url: &str, status: reqwest::StatusCode, problem: &str) -> PyErr {
    PyErr::new::<DocsnapError, _>(format!(
        "unexpected response from {url} (HTTP {status}): {problem}; is this a docsnap or DocuSnap server?"
    ))
}

fn short_hash(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

//! OCR in a helper process, for a process forked after its parent loaded
//! the OCR models.
//!
//! rten runs every model on a process-wide thread pool that is created once
//! and does not survive `fork()`, so the child of a process that loaded the
//! OCR models cannot run them. [`HelperOcr`] starts a fresh interpreter
//! instead, `python -m docsnap._ocr_worker`, which loads the models and runs
//! [`serve`], and sends it one page at a time over the helper's stdin and
//! stdout.
//!
//! Every frame, in both directions, is a tag byte, the payload length in
//! bytes as a little-endian u64, and the payload:
//!
//! | tag | sent by | payload |
//! |---|---|---|
//! | `R` ready | the helper, first | JSON `{"version"}`: the docsnap version the helper runs |
//! | `P` page | the engine | the page index (u64), width and height (u32 each), all little-endian, then width × height × 3 bytes of RGB |
//! | `T` text | the helper | the page's [`PageText`] as JSON |
//! | `E` error | the helper | JSON `{"code", "message"}`: a protocol error code such as `OCR_FAILURE` and a message |
//!
//! The helper replies to each page frame with one text or error frame, and
//! sends an error frame instead of the ready frame if it cannot load the
//! models. It exits when its stdin closes, which also happens when the
//! process that started it exits.

use std::collections::VecDeque;
use std::ffi::CString;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use docsnap_core::ocr::{OcrEngine, OcrsConfig, OcrsEngine, Page, PageText};
use docsnap_core::{Error, ErrorKind, Result};
use pyo3::exceptions::{PyRuntimeError, PyRuntimeWarning};
use pyo3::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// The Python module that runs a helper process.
const HELPER_MODULE: &str = "docsnap._ocr_worker";

const READY: u8 = b'R';
const PAGE: u8 = b'P';
const TEXT: u8 = b'T';
const ERROR: u8 = b'E';

/// Bytes of a page frame before the RGB data: index, width and height.
const PAGE_HEADER_BYTES: usize = 16;

/// The largest frame either side accepts. A page after the default intake is
/// at most 2400 pixels on its longest side, about 17 MB of RGB, so a larger
/// length means a corrupt stream, and it must not allocate that much.
const MAX_FRAME_BYTES: u64 = 256 * 1024 * 1024;

/// How much of a helper's stderr an error message quotes, in bytes.
const STDERR_TAIL_BYTES: usize = 2048;

/// How long a helper whose pipes closed gets to exit before it is killed, so
/// that the error reports its own exit status.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// How long to wait for the rest of a stopped helper's stderr.
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// The cache identity of a helper's engine when the parent's is unknown,
/// which happens only if the parent was still loading the models at fork().
const FALLBACK_IDENTITY: &str = "ocrs in a helper process";

/// The pid of the process that last warned that its OCR runs in a helper.
static WARNED_PROCESS: AtomicU32 = AtomicU32::new(0);

/// How to start a helper: this interpreter's executable, and the directory
/// that contains the `docsnap` package this process imported.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    python: Option<PathBuf>,
    package_root: Option<PathBuf>,
}

impl HelperCommand {
    /// Reads `sys.executable` and where `docsnap` was imported from. A
    /// missing executable is reported when a helper starts, so calls that
    /// need no OCR still work.
    pub fn from_python(py: Python<'_>) -> Self {
        let python = path_attribute(py, "sys", "executable")
            .filter(|executable| !executable.as_os_str().is_empty());
        let package_root = path_attribute(py, "docsnap", "__file__")
            .and_then(|init_file| Some(init_file.parent()?.parent()?.to_path_buf()));
        Self {
            python,
            package_root,
        }
    }
}

/// Returns `module.attribute` as a path, or `None` if it is missing, `None`
/// or not a string.
fn path_attribute(py: Python<'_>, module: &str, attribute: &str) -> Option<PathBuf> {
    let value = py
        .import(module)
        .and_then(|module| module.getattr(attribute))
        .and_then(|value| value.extract::<Option<PathBuf>>());
    value.ok().flatten()
}

/// An [`OcrEngine`] that sends pages to a helper process running ocrs.
///
/// One helper reads one page at a time, and concurrent calls wait their
/// turn: rten already spreads a page over every core, so a second helper
/// would mostly add memory. A helper that fails is stopped, the call fails
/// with [`ErrorKind::OcrFailure`], and the next call starts a new helper.
/// Dropping the engine kills its helper.
#[derive(Debug)]
pub struct HelperOcr {
    command: HelperCommand,
    identity: String,
    /// The running helper. It leaves the slot while it reads a page.
    helper: Mutex<Option<HelperProcess>>,
}

impl HelperOcr {
    /// Creates the engine; the first page starts a helper. `identity` is the
    /// cache identity of the engine that the parent ran in process. The helper
    /// runs the same engine, so both share cached results.
    pub fn new(command: HelperCommand, identity: Option<String>) -> Self {
        Self {
            command,
            identity: identity.unwrap_or_else(|| FALLBACK_IDENTITY.to_owned()),
            helper: Mutex::new(None),
        }
    }

    async fn start(&self) -> Result<HelperProcess> {
        let Some(python) = self.command.python.as_deref() else {
            return Err(start_failure(
                "sys.executable is empty or None, as in some embedded interpreters, \
                 so there is no Python executable to run it",
                "",
            ));
        };
        let spawned = HelperProcess::spawn(python, self.command.package_root.as_deref());
        let mut helper = spawned.map_err(|error| {
            let cause = format!(
                "running {} -m {HELPER_MODULE} failed: {error}",
                python.display()
            );
            start_failure(&cause, "")
        })?;

        match helper.wait_ready().await {
            Ok(Ok(ready)) if ready.version == env!("CARGO_PKG_VERSION") => {
                tracing::info!(pid = helper.pid, "OCR helper process ready");
                Ok(helper)
            }
            Ok(Ok(ready)) => {
                let cause = format!(
                    "it runs docsnap {}, but this process runs docsnap {}, so {} imports \
                     another docsnap installation",
                    ready.version,
                    env!("CARGO_PKG_VERSION"),
                    python.display()
                );
                Err(start_failure(&cause, ""))
            }
            Ok(Err(error)) => Err(start_failure(
                &format!("it could not load the OCR models: {}", error.message()),
                "",
            )),
            Err(failure) => {
                let pid = helper.pid;
                let stopped = helper.stop(failure).await;
                let cause = format!(
                    "process {pid} stopped before it was ready: {}",
                    stopped.cause
                );
                Err(start_failure(&cause, &stopped.stderr))
            }
        }
    }
}

#[async_trait]
impl OcrEngine for HelperOcr {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        let mut slot = self.helper.lock().await;
        let mut helper = match slot.take() {
            Some(helper) => helper,
            None => self.start().await?,
        };

        // If this call is cancelled, as on Ctrl-C, the helper is dropped and
        // killed here, because its next frame would be the cancelled page's text.
        match helper.recognize(page).await {
            Ok(answer) => {
                *slot = Some(helper);
                answer
            }
            Err(failure) => {
                let pid = helper.pid;
                let stopped = helper.stop(failure).await;
                let message = format!(
                    "page {}: the OCR helper process (pid {pid}) failed: {}. The next OCR call \
                     starts a new helper process",
                    page.index, stopped.cause
                );
                let message = with_stderr(message, &stopped.stderr);
                Err(Error::new(ErrorKind::OcrFailure, message).transient())
            }
        }
    }

    fn name(&self) -> &str {
        "ocrs-helper"
    }

    fn cache_identity(&self) -> String {
        self.identity.clone()
    }
}

/// A running helper process and its pipes.
#[derive(Debug)]
struct HelperProcess {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: StderrTail,
}

/// The helper's first frame.
#[derive(Debug, Serialize, Deserialize)]
struct Ready {
    version: String,
}

/// The payload of an error frame.
#[derive(Debug, Serialize, Deserialize)]
struct ErrorFrame {
    code: String,
    message: String,
}

impl HelperProcess {
    fn spawn(python: &Path, package_root: Option<&Path>) -> io::Result<Self> {
        let mut command = Command::new(python);
        command
            .args(["-m", HELPER_MODULE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // `python -m` puts its working directory first on sys.path, so the
        // helper imports the same docsnap installation as this process.
        if let Some(root) = package_root {
            command.current_dir(root);
        }

        // NOTE: a process forked from this one inherits the helper's pipes,
        // so the helper's stdin closes only when that process exits too.
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        let missing = |pipe: &str| io::Error::other(format!("the helper's {pipe} is not a pipe"));
        let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
        let stderr = child.stderr.take().ok_or_else(|| missing("stderr"))?;
        Ok(Self {
            child,
            pid,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: StderrTail::collect(stderr),
        })
    }

    /// Reads the first frame: ready, or the error that stopped the helper
    /// from loading the models.
    async fn wait_ready(&mut self) -> io::Result<Result<Ready>> {
        let (tag, payload) = read_frame(&mut self.stdout).await?;
        match tag {
            READY => Ok(Ok(from_json(&payload)?)),
            ERROR => Ok(Err(error_from_frame(&payload)?)),
            other => Err(unexpected_tag(other, "a ready frame")),
        }
    }

    /// Sends a page and reads the reply. An I/O error means the helper can no
    /// longer be used, while an error frame is the page's own failure.
    async fn recognize(&mut self, page: &Page) -> io::Result<Result<PageText>> {
        self.send_page(page).await?;

        let (tag, payload) = read_frame(&mut self.stdout).await?;
        match tag {
            TEXT => {
                let mut text: PageText = from_json(&payload)?;
                text.index = page.index;
                Ok(Ok(text))
            }
            ERROR => Ok(Err(error_from_frame(&payload)?)),
            other => Err(unexpected_tag(other, "a text or error frame")),
        }
    }

    async fn send_page(&mut self, page: &Page) -> io::Result<()> {
        self.stdin.write_all(&page_frame_header(page)).await?;
        self.stdin.write_all(page.image.as_raw()).await?;
        self.stdin.flush().await
    }

    /// Stops a helper after `failure` and describes what happened.
    async fn stop(self, failure: io::Error) -> Stopped {
        let Self {
            mut child,
            pid,
            stdin,
            stdout,
            stderr,
        } = self;
        drop((stdin, stdout));

        let pipes_closed = matches!(
            failure.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe
        );
        let exited = if pipes_closed {
            tokio::time::timeout(EXIT_GRACE, child.wait()).await.ok()
        } else {
            None
        };
        let exit = match exited {
            Some(status) => describe_exit(status),
            None => {
                let _ = child.start_kill();
                // Bounded too, so that a lost exit notification cannot hang
                // the call. tokio reaps a helper it has not reaped by then
                // after the drop.
                let _ = tokio::time::timeout(EXIT_GRACE, child.wait()).await;
                "docsnap killed it".to_owned()
            }
        };

        let cause = match failure.kind() {
            io::ErrorKind::UnexpectedEof => "its output ended".to_owned(),
            io::ErrorKind::BrokenPipe => "its input was closed".to_owned(),
            _ => failure.to_string(),
        };
        tracing::warn!(pid, %cause, %exit, "OCR helper process stopped");
        Stopped {
            cause: format!("{cause}, and {exit}"),
            stderr: stderr.finish().await,
        }
    }
}

/// The outcome of stopping a helper.
#[derive(Debug)]
struct Stopped {
    /// The failure and the helper's exit status.
    cause: String,
    /// The end of the helper's stderr, possibly empty.
    stderr: String,
}

/// Appends the end of a helper's stderr to `message`, last, so that the
/// helper's output never runs into the message.
fn with_stderr(mut message: String, stderr: &str) -> String {
    if !stderr.is_empty() {
        message.push_str(". Its stderr ended with:\n");
        message.push_str(stderr);
    }
    message
}

/// Returns the start of a page frame, up to the RGB data that follows it.
fn page_frame_header(page: &Page) -> Vec<u8> {
    let (width, height) = page.image.dimensions();
    let length = (PAGE_HEADER_BYTES + page.image.as_raw().len()) as u64;

    let mut header = Vec::with_capacity(1 + 8 + PAGE_HEADER_BYTES);
    header.push(PAGE);
    header.extend_from_slice(&length.to_le_bytes());
    header.extend_from_slice(&(page.index as u64).to_le_bytes());
    header.extend_from_slice(&width.to_le_bytes());
    header.extend_from_slice(&height.to_le_bytes());
    header
}

fn describe_exit(status: io::Result<ExitStatus>) -> String {
    let status = match status {
        Ok(status) => status,
        Err(error) => return format!("its exit status is unknown ({error})"),
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("it was killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("it exited with status {code}"),
        None => format!("it exited ({status})"),
    }
}

/// The last [`STDERR_TAIL_BYTES`] that a helper wrote to stderr, read by a
/// task of its own so that a helper that writes much does not block on a
/// full pipe.
#[derive(Debug)]
struct StderrTail {
    tail: Arc<std::sync::Mutex<VecDeque<u8>>>,
    reader: JoinHandle<()>,
}

impl StderrTail {
    fn collect(mut stderr: ChildStderr) -> Self {
        let tail = Arc::new(std::sync::Mutex::new(VecDeque::new()));
        let kept = Arc::clone(&tail);
        let reader = tokio::spawn(async move {
            let mut chunk = [0; 1024];
            while let Ok(read @ 1..) = stderr.read(&mut chunk).await {
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                kept.extend(&chunk[..read]);
                let excess = kept.len().saturating_sub(STDERR_TAIL_BYTES);
                kept.drain(..excess);
            }
        });
        Self { tail, reader }
    }

    /// Waits briefly for the helper's last output and returns the tail.
    async fn finish(self) -> String {
        let _ = tokio::time::timeout(STDERR_DRAIN, self.reader).await;
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        let (front, back) = tail.as_slices();
        let text = String::from_utf8_lossy(&[front, back].concat()).into_owned();
        text.trim().to_owned()
    }
}

async fn read_frame(reader: &mut (impl AsyncRead + Unpin)) -> io::Result<(u8, Vec<u8>)> {
    let tag = reader.read_u8().await?;
    let length = checked_length(reader.read_u64_le().await?)?;
    let mut payload = vec![0; length];
    reader.read_exact(&mut payload).await?;
    Ok((tag, payload))
}

fn checked_length(length: u64) -> io::Result<usize> {
    if length > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {length} bytes exceeds the limit of {MAX_FRAME_BYTES} bytes"),
        ));
    }
    usize::try_from(length).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

fn unexpected_tag(tag: u8, expected: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("it sent a frame tagged {tag:#04x} where {expected} was expected"),
    )
}

fn from_json<T: serde::de::DeserializeOwned>(payload: &[u8]) -> io::Result<T> {
    serde_json::from_slice(payload).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it sent an invalid frame: {error}"),
        )
    })
}

fn error_from_frame(payload: &[u8]) -> io::Result<Error> {
    let frame: ErrorFrame = from_json(payload)?;
    let kind = ErrorKind::from_code(&frame.code).unwrap_or(ErrorKind::OcrFailure);
    Ok(Error::new(kind, frame.message))
}

fn start_failure(cause: &str, stderr: &str) -> Error {
    let message = format!(
        "failed to start the OCR helper process: {cause}. This process was forked after its \
         parent loaded the OCR models, so its OCR runs in a helper process started as \
         `python -m {HELPER_MODULE}`. To run OCR without one, start worker processes with \
         multiprocessing's \"spawn\" or \"forkserver\" method, or fork before the parent's \
         first engine call"
    );
    Error::new(ErrorKind::OcrFailure, with_stderr(message, stderr))
}

/// Warns once per process that OCR runs in a helper process, and why.
pub fn warn_once(py: Python<'_>, pool_owner: u32) -> PyResult<()> {
    let pid = std::process::id();
    if WARNED_PROCESS.swap(pid, Ordering::AcqRel) == pid {
        return Ok(());
    }
    let message = format!(
        "docsnap runs OCR in a helper process (python -m {HELPER_MODULE}), because this \
         process was forked from process {pool_owner} after that process loaded the OCR \
         models, and their thread pool does not survive fork(). To run OCR in process, start \
         worker processes with multiprocessing's \"spawn\" or \"forkserver\" method, or fork \
         before the parent's first engine call"
    );
    let message = CString::new(message)?;
    PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &message, 1)
}

/// Serves OCR requests on stdin and stdout until stdin closes; the helper
/// module `docsnap._ocr_worker` calls it.
#[pyfunction]
pub fn _serve_ocr(py: Python<'_>) -> PyResult<()> {
    py.detach(serve).map_err(|error| {
        PyRuntimeError::new_err(format!("the docsnap OCR helper process failed: {error}"))
    })
}

/// Loads the models, sends a ready frame and replies to page frames until
/// stdin closes. A model that fails to load is reported in an error frame.
fn serve() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut output = BufWriter::new(io::stdout().lock());

    let engine = match OcrsEngine::new(OcrsConfig::default()) {
        Ok(engine) => engine,
        Err(error) => return write_error(&mut output, &error),
    };
    let ready = Ready {
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    write_frame(&mut output, READY, &to_json(&ready)?)?;

    while let Some((tag, payload)) = read_frame_blocking(&mut input)? {
        let page = if tag == PAGE {
            page_from_frame(payload)
        } else {
            Err(format!(
                "expected a page frame, got a frame tagged {tag:#04x}"
            ))
        };
        let answer = page
            .map_err(|message| Error::new(ErrorKind::ProcessingError, message))
            .and_then(|page| engine.recognize_blocking(&page));
        match answer {
            Ok(text) => write_frame(&mut output, TEXT, &to_json(&text)?)?,
            Err(error) => write_error(&mut output, &error)?,
        }
    }
    Ok(())
}

/// Reads a frame, or `None` when the input ends before one starts.
fn read_frame_blocking(reader: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut tag = [0];
    loop {
        match reader.read(&mut tag) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    let mut length = [0; 8];
    reader.read_exact(&mut length)?;
    let mut payload = vec![0; checked_length(u64::from_le_bytes(length))?];
    reader.read_exact(&mut payload)?;
    Ok(Some((tag[0], payload)))
}

fn page_from_frame(mut payload: Vec<u8>) -> std::result::Result<Page, String> {
    if payload.len() < PAGE_HEADER_BYTES {
        return Err(format!(
            "a page frame of {} bytes is shorter than its {PAGE_HEADER_BYTES}-byte header",
            payload.len()
        ));
    }
    let pixels = payload.split_off(PAGE_HEADER_BYTES);
    let index = u64::from_le_bytes(array_at(&payload, 0));
    let width = u32::from_le_bytes(array_at(&payload, 8));
    let height = u32::from_le_bytes(array_at(&payload, 12));

    let index = usize::try_from(index).map_err(|_| format!("page index {index} is too large"))?;
    let expected = u64::from(width) * u64::from(height) * 3;
    if pixels.len() as u64 != expected {
        return Err(format!(
            "page {index}: a {width}x{height} page needs {expected} bytes of RGB, got {}",
            pixels.len()
        ));
    }
    let image = image::RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| format!("page {index}: the RGB data does not fit {width}x{height}"))?;
    Ok(Page { index, image })
}

/// Copies `N` bytes starting at `start`; the caller checked the length.
fn array_at<const N: usize>(bytes: &[u8], start: usize) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(&bytes[start..start + N]);
    array
}

fn write_frame(output: &mut impl Write, tag: u8, payload: &[u8]) -> io::Result<()> {
    output.write_all(&[tag])?;
    output.write_all(&(payload.len() as u64).to_le_bytes())?;
    output.write_all(payload)?;
    output.flush()
}

fn write_error(output: &mut impl Write, error: &Error) -> io::Result<()> {
    let frame = ErrorFrame {
        code: error.code().to_owned(),
        message: error.message().to_owned(),
    };
    write_frame(output, ERROR, &to_json(&frame)?)
}

fn to_json<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(index: usize, width: u32, height: u32) -> Page {
        let pixels = (0..width * height * 3).map(|value| value as u8).collect();
        let image = image::RgbImage::from_raw(width, height, pixels).expect("pixels fill the page");
        Page { index, image }
    }

    fn encoded(page: &Page) -> Vec<u8> {
        let mut frame = page_frame_header(page);
        frame.extend_from_slice(page.image.as_raw());
        frame
    }

    #[test]
    fn page_frame_round_trips() {
        let sent = page(3, 5, 2);
        let mut input = io::Cursor::new(encoded(&sent));

        let (tag, payload) = read_frame_blocking(&mut input)
            .expect("the frame is complete")
            .expect("a frame was sent");
        let received = page_from_frame(payload).expect("the page is valid");

        assert_eq!(tag, PAGE);
        assert_eq!(received.index, 3);
        assert_eq!(received.image, sent.image);
        assert!(
            read_frame_blocking(&mut input)
                .expect("input ended")
                .is_none()
        );
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut frame = encoded(&page(0, 4, 4));
        frame.truncate(frame.len() - 1);

        let error =
            read_frame_blocking(&mut io::Cursor::new(frame)).expect_err("a byte is missing");

        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn oversized_length_is_rejected() {
        let mut frame = vec![TEXT];
        frame.extend_from_slice(&(MAX_FRAME_BYTES + 1).to_le_bytes());

        let error = read_frame_blocking(&mut io::Cursor::new(frame)).expect_err("too long");

        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("exceeds the limit"), "{error}");
    }

    #[test]
    fn page_with_wrong_pixel_count_is_rejected() {
        let mut payload = encoded(&page(1, 4, 4)).split_off(9);
        payload.pop();

        let error = page_from_frame(payload).expect_err("a byte of RGB is missing");

        assert!(
            error.contains("4x4 page needs 48 bytes of RGB, got 47"),
            "{error}"
        );
    }

    #[test]
    fn short_page_frame_is_rejected() {
        let error = page_from_frame(vec![0; 15]).expect_err("the header is cut");

        assert!(error.contains("shorter than its 16-byte header"), "{error}");
    }

    #[tokio::test]
    async fn async_reader_reads_helper_frames() {
        let mut output = Vec::new();
        write_error(
            &mut output,
            &Error::new(ErrorKind::InvalidImage, "page 2: bad pixels"),
        )
        .expect("writing to memory succeeds");
        write_frame(&mut output, READY, b"{}").expect("writing to memory succeeds");
        let mut input = output.as_slice();

        let (tag, payload) = read_frame(&mut input)
            .await
            .expect("the error frame is complete");
        let error = error_from_frame(&payload).expect("the error frame is valid JSON");
        let (next_tag, _) = read_frame(&mut input)
            .await
            .expect("the ready frame is complete");

        assert_eq!(tag, ERROR);
        assert_eq!(error.kind(), ErrorKind::InvalidImage);
        assert_eq!(error.message(), "page 2: bad pixels");
        assert_eq!(next_tag, READY);
    }
}

//! Helpers shared by docsnap end-to-end tests: start the real `docsnap-server`
//! binary, act as a DocuSnap client against it, and read fixture images.
//!
//! The binary is built once per test run with `escargot` (a `cargo build` of
//! the workspace's `docsnap-http` package, honouring `CARGO_TARGET_DIR`).
//! Set `DOCSNAP_SERVER_BIN` to a prebuilt binary to skip that build, and
//! `DOCSNAP_TEST_LOG` to a `RUST_LOG` filter (default `warn`) to see server logs.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use docsnap_core::envelope::{
    AesKey, Cipher, Mgf1Digest, associated_data, content_hash, open_json, seal, seal_request,
    wrap_key,
};
use docsnap_core::types::TaskKind;
use serde_json::{Value, json};

/// Maximum wait for the server to print its address after start.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Polls before a task counts as stuck: one a second, as the app polls.
pub const MAX_POLLS: u32 = 300;

/// Returns the path of the `docsnap-server` binary, building it on first use.
pub fn server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("DOCSNAP_SERVER_BIN") {
                return PathBuf::from(path);
            }
            let manifest = workspace_root().join("Cargo.toml");
            let build = escargot::CargoBuild::new()
                .manifest_path(manifest)
                .package("docsnap-http")
                .bin("docsnap-server")
                .run()
                .expect(
                    "building docsnap-server failed; run `cargo build -p docsnap-http` to see why",
                );
            build.path().to_path_buf()
        })
        .clone()
}

/// Returns the workspace root, one level above this crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A running `docsnap-server` on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    /// The data directory the server was started with.
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `docsnap-server serve` with `data_dir`, extra flags and extra
    /// environment variables, and waits until it listens.
    pub fn start(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let filter = std::env::var("DOCSNAP_TEST_LOG").unwrap_or_else(|_| "warn".to_owned());
        Self::spawn(data_dir, args, envs, &filter, Stdio::inherit())
    }

    /// Starts like [`Server::start`] with every log line at `debug` and
    /// above written to `log`, so a test can read what the server logged.
    pub fn start_logging_to(
        data_dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        log: &Path,
    ) -> Server {
        let file = std::fs::File::create(log).unwrap();
        Self::spawn(data_dir, args, envs, "debug", Stdio::from(file))
    }

    fn spawn(
        data_dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        filter: &str,
        stderr: Stdio,
    ) -> Server {
        let mut command = Command::new(server_binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("DOCSNAP_LLM_API_KEY")
            .env_remove("DOCSNAP_BEARER_TOKEN")
            .env_remove("DOCSNAP_OCR_REMOTE_TOKEN")
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("failed to start docsnap-server");

        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("docsnap-server printed no address within {START_TIMEOUT:?}");
            }
        };
        let url = line
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line {line:?}"
        );

        Server {
            child,
            base_url: url,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Returns the URL of `path`, which starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("docsnap-server did not exit within 60 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A DocuSnap client: the Android app's steps, with the encryption options
/// the protocol allows.
#[derive(Debug, Clone)]
pub struct Client {
    /// The HTTP client.
    pub http: reqwest::Client,
    /// Base URL of the endpoints, such as `http://127.0.0.1:PORT/api/v1`.
    pub base_url: String,
    /// The server's public key PEM.
    pub public_key: String,
    /// This client's id.
    pub client_id: String,
}

/// A sealed `/process` request and the AES key to open its result with.
#[derive(Debug)]
pub struct Submission {
    /// The request body.
    pub body: Value,
    /// The AES key the content was sealed with.
    pub key: AesKey,
    /// The cipher of the request.
    pub cipher: Cipher,
    /// The task kind.
    pub kind: TaskKind,
}

impl Client {
    /// Fetches the public key from `GET {base_url}/public_key`.
    pub async fn connect(base_url: &str, client_id: &str) -> Client {
        let http = reqwest::Client::new();
        let response = http
            .get(format!("{base_url}/public_key"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let public_key = response.text().await.unwrap();
        assert!(public_key.starts_with("-----BEGIN PUBLIC KEY-----"));
        Client {
            http,
            base_url: base_url.to_owned(),
            public_key,
            client_id: client_id.to_owned(),
        }
    }

    /// Seals `payload` for a task of `kind`.
    pub fn seal(
        &self,
        kind: TaskKind,
        payload: &Value,
        cipher: Cipher,
        mgf1: Mgf1Digest,
    ) -> Submission {
        let (sealed, key) = seal_request(
            &self.public_key,
            &self.client_id,
            kind,
            cipher,
            payload,
            mgf1,
        )
        .unwrap();
        let mut body = json!({
            "client_id": self.client_id,
            "type": kind.as_str(),
            "SHA256": sealed.sha256,
            "has_content": true,
            "content": sealed.content,
            "aes_key": sealed.aes_key,
        });
        if cipher == Cipher::A256Gcm {
            body["cipher"] = json!("A256GCM");
        }
        Submission {
            body,
            key,
            cipher,
            kind,
        }
    }

    /// Seals arbitrary plaintext bytes, for payloads that are not JSON.
    pub fn seal_bytes(&self, kind: TaskKind, plaintext: &[u8], cipher: Cipher) -> Submission {
        let key = AesKey::random(32).unwrap();
        let aad = associated_data(&self.client_id, kind);
        let content = seal(&key, cipher, plaintext, &aad).unwrap();
        let mut body = json!({
            "client_id": self.client_id,
            "type": kind.as_str(),
            "SHA256": content_hash(&content),
            "has_content": true,
            "content": content,
            "aes_key": wrap_key(&self.public_key, &key, Mgf1Digest::Sha256).unwrap(),
        });
        if cipher == Cipher::A256Gcm {
            body["cipher"] = json!("A256GCM");
        }
        Submission {
            body,
            key,
            cipher,
            kind,
        }
    }

    /// Posts a JSON body to `{base_url}{path}` and returns the status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path} returned a non-JSON body with {status}: {text:?}"));
        (status, json)
    }

    /// Polls with `has_content: false` once a second until the task leaves
    /// `processing`; returns the final status and body.
    pub async fn poll_until_done(&self, submission: &Submission) -> (u16, Value) {
        let mut poll = submission.body.clone();
        poll["has_content"] = json!(false);
        if let Some(object) = poll.as_object_mut() {
            object.remove("content");
            object.remove("aes_key");
        }
        for _ in 0..MAX_POLLS {
            let (status, body) = self.post("/process", &poll).await;
            if status != 202 {
                return (status, body);
            }
            assert_eq!(body, json!({"status": "processing"}));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("task still processing after {MAX_POLLS} polls");
    }

    /// Submits, polls until done, and returns the decrypted result JSON.
    pub async fn run(&self, submission: &Submission) -> Value {
        let (status, body) = self.post("/process", &submission.body).await;
        assert!(
            status == 202 || status == 200,
            "submit returned {status}: {body}"
        );

        let (status, body) = self.poll_until_done(submission).await;
        assert_eq!(status, 200, "task ended with {body}");
        assert_eq!(body["status"], "completed");
        self.open_result(submission, body["result"].as_str().unwrap())
    }

    /// Decrypts a completed task's `result`.
    pub fn open_result(&self, submission: &Submission, result: &str) -> Value {
        let aad = associated_data(&self.client_id, submission.kind);
        open_json(&submission.key, submission.cipher, result, &aad).unwrap()
    }
}

/// Returns the bytes of a fixture image under `docsnap-core/tests/fixtures/`,
/// such as `ocr/letter.png`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = workspace_root()
        .join("docsnap-core/tests/fixtures")
        .join(path);
    std::fs::read(&full)
        .unwrap_or_else(|error| panic!("cannot read fixture {}: {error}", full.display()))
}

/// Returns the printed letter: a filled-in library card application.
pub fn letter() -> Vec<u8> {
    fixture("ocr/letter.png")
}

/// Returns the blank library card form, whose fields the form pipeline should find.
pub fn blank_form() -> Vec<u8> {
    fixture("forms/library_card_form.png")
}

/// Renders a 600x400 white PNG with a few dark bars: a page without text.
pub fn rendered_page() -> Vec<u8> {
    let mut image = image::RgbImage::from_pixel(600, 400, image::Rgb([255, 255, 255]));
    for (row, width) in [(60u32, 420u32), (120, 300), (180, 500)] {
        for y in row..row + 18 {
            for x in 40..40 + width {
                image.put_pixel(x, y, image::Rgb([20, 20, 20]));
            }
        }
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Standard base64, as clients send page images.
pub fn base64(bytes: &[u8]) -> String {
    docsnap_core::envelope::encode_base64(bytes)
}

/// A scripted OpenAI-compatible chat-completions server on loopback: it
/// returns `answer` as the assistant message to every request and records
/// each request's `Authorization` header.
#[derive(Debug)]
pub struct FakeLlm {
    /// Base URL ending in `/v1`, for `--llm-base-url`.
    pub base_url: String,
    /// The `Authorization` header of each request received, in order.
    pub authorizations: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeLlm {
    /// Starts the server on the current tokio runtime.
    pub async fn start(answer: Value) -> FakeLlm {
        use axum::http::HeaderMap;

        let authorizations = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        let handler = move |headers: HeaderMap, axum::Json(_request): axum::Json<Value>| {
            let seen = seen.clone();
            let answer = answer.clone();
            async move {
                let authorization = headers
                    .get("authorization")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().unwrap().push(authorization);
                axum::Json(json!({
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": "fake",
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.to_string()},
                        "finish_reason": "stop"
                    }]
                }))
            }
        };
        let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeLlm {
            base_url: format!("http://{address}/v1"),
            authorizations,
        }
    }
}

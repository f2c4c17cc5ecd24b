//! `docsnap-server` with a language model configured, against a scripted
//! chat-completions server on loopback, and what it writes to its logs.

#![allow(clippy::unwrap_used)]

use docsnap_core::envelope::{Cipher, Mgf1Digest};
use docsnap_core::types::TaskKind;
use serde_json::json;
use tests::{Client, FakeLlm, Server, base64, letter};

const API_KEY: &str = "sk-test-5d1f0c9e7b";

#[tokio::test]
async fn llm_extractor_runs_and_logs_no_secrets() {
    let answer = json!({
        "title": "Library Card Application",
        "tags": ["library", "application"],
        "description": "A letter applying for a library card.",
        "kv": {"Full Name (English/Latin)": "Jane Example"},
        "related": []
    });
    let llm = FakeLlm::start(answer).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let args = [
        "--llm-preset",
        "openai-compatible",
        "--llm-base-url",
        llm.base_url.as_str(),
        "--llm-model",
        "fake",
    ];
    let server = Server::start_logging_to(
        &dir.path().join("data"),
        &args,
        &[("DOCSNAP_LLM_API_KEY", API_KEY)],
        &log,
    );
    let client = Client::connect(&server.url("/api/v1"), "llm-client").await;
    let payload = json!({"to_process": [base64(&letter())]});
    let submission = client.seal(TaskKind::Doc, &payload, Cipher::A256Gcm, Mgf1Digest::Sha256);

    let result = client.run(&submission).await;
    assert!(server.stop(), "server exited with an error");

    assert_eq!(result["title"], "Library Card Application", "{result}");
    assert_eq!(
        result["kv"]["Full Name (English/Latin)"], "Jane Example",
        "{result}"
    );
    let authorizations = llm.authorizations.lock().unwrap().clone();
    assert!(!authorizations.is_empty());
    assert_eq!(authorizations[0], format!("Bearer {API_KEY}"));

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("docsnap-server started"), "{logged}");
    assert!(!logged.contains(API_KEY), "the API key reached the log");
    assert!(
        !logged.contains("Jane Example"),
        "document text reached the log"
    );
    assert!(
        !logged.contains("Harbour Road"),
        "document text reached the log"
    );
    assert!(
        !logged.contains(submission.body["content"].as_str().unwrap()),
        "the envelope reached the log"
    );
}

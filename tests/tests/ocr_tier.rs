//! An `api` server that sends OCR to a real `--role ocr` server which
//! requires a bearer token, with the right token, a wrong one and none.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use docsnap_core::envelope::{Cipher, Mgf1Digest};
use docsnap_core::types::TaskKind;
use serde_json::json;
use tests::{Client, Server, base64, letter};

const OCR_TOKEN: &str = "ocr-token-2b7e9c41d5";
const WRONG_TOKEN: &str = "wrong-token-8f0a3d6e";

/// Starts an OCR server that requires [`OCR_TOKEN`].
fn start_ocr(dir: &Path) -> Server {
    Server::start(
        dir,
        &["--role", "ocr"],
        &[("DOCSNAP_BEARER_TOKEN", OCR_TOKEN)],
    )
}

/// Starts an api server that sends OCR to `ocr` with `token`, logging to `log`.
fn start_api(dir: &Path, ocr: &Server, token: Option<&str>, log: &Path) -> Server {
    let envs: Vec<(&str, &str)> = token
        .map(|token| ("DOCSNAP_OCR_REMOTE_TOKEN", token))
        .into_iter()
        .collect();
    Server::start_logging_to(
        dir,
        &["--role", "api", "--ocr-url", &ocr.base_url],
        &envs,
        log,
    )
}

#[tokio::test]
async fn remote_ocr_with_token_completes() {
    let dir = tempfile::tempdir().unwrap();
    let ocr = start_ocr(&dir.path().join("ocr"));
    let log = dir.path().join("api.log");
    let api = start_api(&dir.path().join("api"), &ocr, Some(OCR_TOKEN), &log);
    let client = Client::connect(&api.url("/api/v1"), "ocr-tier-client").await;
    let payload = json!({"to_process": [base64(&letter())]});
    let submission = client.seal(TaskKind::Doc, &payload, Cipher::A256Gcm, Mgf1Digest::Sha256);

    let result = client.run(&submission).await;
    assert!(api.stop(), "api server exited with an error");

    assert_eq!(
        result["kv"]["Full Name (English/Latin)"], "Jane Example",
        "{result}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("docsnap-server started"), "{logged}");
    assert!(!logged.contains(OCR_TOKEN), "the OCR token reached the log");
}

#[tokio::test]
async fn remote_ocr_without_right_token_fails() {
    let cases = [
        (None, "requires a bearer token"),
        (Some(WRONG_TOKEN), "rejected the bearer token"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let ocr = start_ocr(&dir.path().join("ocr"));

    for (number, (token, expected_log)) in cases.into_iter().enumerate() {
        let log = dir.path().join(format!("api-{number}.log"));
        let api = start_api(&dir.path().join(format!("api-{number}")), &ocr, token, &log);
        let client = Client::connect(&api.url("/api/v1"), "ocr-tier-client").await;
        let payload = json!({"to_process": [base64(&letter())]});
        let submission = client.seal(TaskKind::Doc, &payload, Cipher::A256Gcm, Mgf1Digest::Sha256);

        let (status, _) = client.post("/process", &submission.body).await;
        assert_eq!(status, 202, "token {token:?}");
        let (status, body) = client.poll_until_done(&submission).await;
        assert!(api.stop(), "api server exited with an error");

        assert_eq!(status, 400, "token {token:?}: {body}");
        assert_eq!(
            body,
            json!({"status": "error", "error_detail": "OCR_FAILURE"}),
            "token {token:?}"
        );
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains(expected_log), "token {token:?}: {logged}");
        assert!(logged.contains("HTTP 401"), "token {token:?}: {logged}");
        assert!(
            !logged.contains(WRONG_TOKEN),
            "the wrong token reached the log"
        );
        assert!(!logged.contains(OCR_TOKEN), "the OCR token reached the log");
    }
}

//! The DocuSnap protocol over real HTTP against the real `docsnap-server`
//! binary, acting as the Android app does.

#![allow(clippy::unwrap_used)]

use docsnap_core::envelope::{Cipher, Mgf1Digest};
use docsnap_core::types::TaskKind;
use serde_json::{Value, json};
use tests::{Client, Server, base64, blank_form, letter, rendered_page};

const PREFIX: &str = "/api/v1";

fn doc_payload() -> Value {
    json!({"to_process": [base64(&letter())]})
}

fn library() -> Value {
    json!({
        "docs": [{
            "resource_id": "passport-1",
            "title": "Passport",
            "tags": ["passport"],
            "description": "A passport.",
            "kv": {"Full Name (English/Latin)": "Jane Example", "Date of Birth (Full)": "Mar 14, 1987"}
        }],
        "forms": []
    })
}

async fn start(args: &[&str]) -> (tempfile::TempDir, Server, Client) {
    let data_dir = tempfile::tempdir().unwrap();
    let server = Server::start(data_dir.path(), args, &[]);
    let client = Client::connect(&server.url(PREFIX), "0b7f4a52-3d1c-4a7e-9c55-2f3e6b1d8a90").await;
    (data_dir, server, client)
}

fn assert_document_shape(result: &Value) {
    assert!(result["title"].is_string(), "{result}");
    assert!(result["tags"].is_array(), "{result}");
    assert!(result["description"].is_string(), "{result}");
    assert!(result["related"].is_array(), "{result}");
    let kv = result["kv"].as_object().unwrap();
    for value in kv.values() {
        assert!(value.is_string(), "kv must be flat strings: {result}");
    }
}

#[tokio::test]
async fn doc_task_completes_under_cbc() {
    let (_dir, _server, client) = start(&[]).await;
    let submission = client.seal(
        TaskKind::Doc,
        &doc_payload(),
        Cipher::Cbc,
        Mgf1Digest::Sha256,
    );

    let result = client.run(&submission).await;

    assert_document_shape(&result);
    assert_eq!(
        result["kv"]["Full Name (English/Latin)"], "Jane Example",
        "{result}"
    );
    assert_eq!(
        result["kv"]["Date of Birth (Full)"], "Mar 14, 1987",
        "{result}"
    );
}

#[tokio::test]
async fn form_task_completes_under_gcm_with_sha1_mgf1() {
    let (_dir, _server, client) = start(&[]).await;
    let payload = json!({"to_process": [base64(&blank_form())], "file_lib": library()});
    let submission = client.seal(TaskKind::Form, &payload, Cipher::A256Gcm, Mgf1Digest::Sha1);

    let result = client.run(&submission).await;

    assert_document_shape(&result);
    assert!(result["kv"]["Form Type"].is_string(), "{result}");
    let fields: Vec<&str> = result["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field.as_str().unwrap())
        .collect();
    assert!(fields.contains(&"Full name"), "{result}");
    assert!(fields.contains(&"Date of birth"), "{result}");
}

#[tokio::test]
async fn fill_task_uses_library() {
    let (_dir, _server, client) = start(&[]).await;
    let form = json!({"title": "Library card", "kv": {"Form Type": "Application"}, "fields": ["Full Name (English/Latin)", "Date of Birth (Full)"]});
    let payload = json!({"to_process": form, "file_lib": library()});
    let submission = client.seal(
        TaskKind::Fill,
        &payload,
        Cipher::A256Gcm,
        Mgf1Digest::Sha256,
    );

    let result = client.run(&submission).await;

    let source = json!({"type": "doc", "resource_id": "passport-1"});
    assert_eq!(
        result["Full Name (English/Latin)"],
        json!({"value": "Jane Example", "source": source})
    );
    assert_eq!(
        result["Date of Birth (Full)"],
        json!({"value": "1987-03-14", "source": source})
    );
}

#[tokio::test]
async fn completed_task_is_returned_again_at_root() {
    let (_dir, server, client) = start(&[]).await;
    let submission = client.seal(
        TaskKind::Doc,
        &doc_payload(),
        Cipher::A256Gcm,
        Mgf1Digest::Sha256,
    );
    let first = client.run(&submission).await;

    let root = Client {
        base_url: server.base_url.clone(),
        ..client.clone()
    };
    let (status, body) = root.post("/process", &submission.body).await;

    assert_eq!(status, 200);
    assert_eq!(
        client.open_result(&submission, body["result"].as_str().unwrap()),
        first
    );
}

#[tokio::test]
async fn clear_three_ways() {
    let (_dir, _server, client) = start(&["--workers", "0"]).await;
    let payload = doc_payload();
    let doc = client.seal(TaskKind::Doc, &payload, Cipher::Cbc, Mgf1Digest::Sha256);
    let mut form = client.seal(TaskKind::Form, &payload, Cipher::Cbc, Mgf1Digest::Sha256);
    // The same content under both types, so clearing by hash alone matches both.
    form.body["content"] = doc.body["content"].clone();
    form.body["aes_key"] = doc.body["aes_key"].clone();
    form.body["SHA256"] = doc.body["SHA256"].clone();
    let other = client.seal(
        TaskKind::Doc,
        &json!({"to_process": [base64(&rendered_page())]}),
        Cipher::Cbc,
        Mgf1Digest::Sha256,
    );
    for submission in [&doc, &form, &other] {
        let (status, body) = client.post("/process", &submission.body).await;
        assert_eq!(status, 202, "{body}");
    }
    let hash = doc.body["SHA256"].clone();

    let (status, body) = client
        .post(
            "/clear",
            &json!({"client_id": client.client_id, "SHA256": hash, "type": "doc"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok", "cleared": 1}));

    let (status, body) = client
        .post(
            "/clear",
            &json!({"client_id": client.client_id, "SHA256": hash}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok", "cleared": 1}));

    let (status, body) = client
        .post("/clear", &json!({"client_id": client.client_id}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok", "cleared": 1}));

    let mut poll = other.body.clone();
    poll["has_content"] = json!(false);
    let (status, body) = client.post("/process", &poll).await;
    assert_eq!(status, 400);
    assert_eq!(body["error_detail"], "TASK_NOT_FOUND");
}

#[tokio::test]
async fn clear_without_client_id_fails() {
    let (_dir, _server, client) = start(&[]).await;

    let (status, body) = client.post("/clear", &json!({"SHA256": "ab"})).await;

    assert_eq!(status, 400);
    assert_eq!(body, json!({"error": "Missing client_id"}));
}

#[tokio::test]
async fn clear_with_malformed_fields_is_a_client_error() {
    let (_dir, _server, client) = start(&[]).await;
    let id = client.client_id.clone();

    let (status, body) = client
        .post("/clear", &json!({"client_id": id, "type": "bogus"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, json!({"error": "INVALID_TYPE"}));

    let (status, body) = client
        .post("/clear", &json!({"client_id": id, "SHA256": 5}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, json!({"error": "MISSING_REQUIRED_FIELD"}));

    let (status, body) = client.post("/clear", &json!({"client_id": 5})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, json!({"error": "Missing client_id"}));
}

async fn assert_code(client: &Client, body: &Value, code: &str) {
    let (status, response) = client.post("/process", body).await;
    assert_eq!(status, 400, "{code}: {response}");
    assert_eq!(response, json!({"status": "error", "error_detail": code}));
}

#[tokio::test]
async fn request_level_error_codes() {
    let (_dir, _server, client) = start(&[]).await;
    let valid = client
        .seal(
            TaskKind::Doc,
            &doc_payload(),
            Cipher::Cbc,
            Mgf1Digest::Sha256,
        )
        .body;

    let mut body = valid.clone();
    body.as_object_mut().unwrap().remove("client_id");
    assert_code(&client, &body, "MISSING_REQUIRED_FIELD").await;

    let mut body = valid.clone();
    body["has_content"] = json!("yes");
    assert_code(&client, &body, "MISSING_REQUIRED_FIELD").await;

    let mut body = valid.clone();
    body["type"] = json!("invoice");
    assert_code(&client, &body, "INVALID_TYPE").await;

    let mut body = valid.clone();
    body.as_object_mut().unwrap().remove("content");
    assert_code(&client, &body, "MISSING_CONTENT").await;

    let mut body = valid.clone();
    body["has_content"] = json!(false);
    assert_code(&client, &body, "TASK_NOT_FOUND").await;

    let mut body = valid.clone();
    body["SHA256"] = json!("0".repeat(64));
    assert_code(&client, &body, "SHA256_MISMATCH").await;

    let mut body = valid.clone();
    body["aes_key"] = json!(base64(&[7u8; 256]));
    assert_code(&client, &body, "RSA_DECRYPTION_FAILED").await;

    let not_json = client
        .seal_bytes(TaskKind::Doc, b"not json", Cipher::A256Gcm)
        .body;
    assert_code(&client, &not_json, "INVALID_JSON").await;

    // Under CBC, a payload that is not JSON is reported like bad padding.
    let not_json = client
        .seal_bytes(TaskKind::Doc, b"not json", Cipher::Cbc)
        .body;
    assert_code(&client, &not_json, "AES_DECRYPTION_FAILED").await;

    let no_pages = client
        .seal(
            TaskKind::Doc,
            &json!({"file_lib": {}}),
            Cipher::A256Gcm,
            Mgf1Digest::Sha256,
        )
        .body;
    let (status, response) = client.post("/process", &no_pages).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["status"], "error");
}

#[tokio::test]
async fn invalid_bodies_get_invalid_request() {
    let (_dir, server, client) = start(&[]).await;
    let url = server.url("/process");
    let cases: [(Option<&str>, &str); 5] = [
        (Some("application/json"), "{not json"),
        (Some("application/json"), ""),
        (Some("application/json"), "[1, 2]"),
        (Some("text/plain"), r#"{"client_id": "a"}"#),
        (None, "42"),
    ];

    for (content_type, body) in cases {
        let mut request = client.http.post(&url).body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{content_type:?} {body:?}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(
            json,
            json!({"status": "error", "error_detail": "INVALID_REQUEST"}),
            "{content_type:?} {body:?}"
        );
    }
}

#[tokio::test]
async fn missing_content_type_is_accepted() {
    let (_dir, server, client) = start(&[]).await;
    let body = json!({"client_id": "c", "type": "doc", "SHA256": "ab", "has_content": false});

    let response = client
        .http
        .post(server.url("/process"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error_detail"], "TASK_NOT_FOUND");
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let (_dir, server, client) = start(&["--body-limit", "4096"]).await;
    let big = json!({"client_id": "c", "type": "doc", "SHA256": "ab", "has_content": true, "content": "A".repeat(8192), "aes_key": "x"});

    let (status, body) = client.post("/process", &big).await;
    assert_eq!(status, 413);
    assert_eq!(
        body,
        json!({"status": "error", "error_detail": "PAYLOAD_TOO_LARGE"})
    );

    // Without Content-Length the limit applies while reading the chunked stream.
    let status_line = post_chunked(&server, "/process", 8, 1024).await;
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
}

#[tokio::test]
async fn default_limit_admits_large_bodies() {
    let (_dir, _server, client) = start(&[]).await;
    // Larger than axum's own 2 MiB default, smaller than docsnap's 64 MiB.
    let large = json!({"client_id": "c", "type": "doc", "SHA256": "ab", "has_content": false, "padding": "A".repeat(3 << 20)});

    let (status, body) = client.post("/process", &large).await;

    assert_eq!(status, 400);
    assert_eq!(body["error_detail"], "TASK_NOT_FOUND");
}

/// Posts `chunks` chunks of `chunk_size` spaces with chunked transfer encoding
/// over a raw connection and returns the response status line.
async fn post_chunked(server: &Server, path: &str, chunks: usize, chunk_size: usize) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let address = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let chunk = format!("{chunk_size:x}\r\n{}\r\n", " ".repeat(chunk_size));
        // The server may respond and close before the last chunk; later writes may fail.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;

    let mut status_line = String::new();
    BufReader::new(stream)
        .read_line(&mut status_line)
        .await
        .unwrap();
    status_line
}

#[tokio::test]
async fn unknown_path_and_wrong_method_are_json() {
    let (_dir, server, client) = start(&[]).await;

    let response = client
        .http
        .get(server.url("/no/such/path"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let json: Value = response.json().await.unwrap();
    assert_eq!(
        json,
        json!({"status": "error", "error_detail": "NOT_FOUND"})
    );

    let response = client
        .http
        .get(server.url("/api/v1/process"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let json: Value = response.json().await.unwrap();
    assert_eq!(
        json,
        json!({"status": "error", "error_detail": "METHOD_NOT_ALLOWED"})
    );
}

#[tokio::test]
async fn check_status_at_root_and_prefix() {
    let (_dir, server, client) = start(&[]).await;

    for path in ["/check_status", "/api/v1/check_status"] {
        let response = client.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json, json!({"server_status": "ok"}), "{path}");
    }
}

#[tokio::test]
async fn bearer_token_guards_protocol() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        data_dir.path(),
        &[],
        &[("DOCSNAP_BEARER_TOKEN", "s3cret-token")],
    );
    let client = Client::connect(&server.url(PREFIX), "c").await;
    let poll = json!({"client_id": "c", "type": "doc", "SHA256": "ab", "has_content": false});

    let (status, body) = client.post("/process", &poll).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"status": "error", "error_detail": "UNAUTHORIZED"})
    );

    let response = client
        .http
        .post(server.url("/clear"))
        .bearer_auth("wrong")
        .json(&json!({"client_id": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let response = client
        .http
        .post(server.url("/process"))
        .bearer_auth("s3cret-token")
        .json(&poll)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error_detail"], "TASK_NOT_FOUND");

    let response = client
        .http
        .get(server.url("/check_status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn undecryptable_envelopes_are_rate_limited() {
    let (_dir, _server, client) = start(&["--rate-limit-max-failures", "3"]).await;
    let mut bad = client
        .seal(
            TaskKind::Doc,
            &doc_payload(),
            Cipher::Cbc,
            Mgf1Digest::Sha256,
        )
        .body;
    bad["aes_key"] = json!(base64(&[1u8; 256]));

    for _ in 0..3 {
        assert_code(&client, &bad, "RSA_DECRYPTION_FAILED").await;
    }
    let (status, body) = client.post("/process", &bad).await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"status": "error", "error_detail": "RATE_LIMITED"})
    );

    // The peer address is limited too, whatever client id it sends.
    let mut other = bad.clone();
    other["client_id"] = json!("another-client");
    let (status, _) = client.post("/process", &other).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn queued_task_survives_restart() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = Server::start(data_dir.path(), &["--workers", "0"], &[]);
    let client = Client::connect(&server.url(PREFIX), "restart-client").await;
    let submission = client.seal(
        TaskKind::Doc,
        &doc_payload(),
        Cipher::A256Gcm,
        Mgf1Digest::Sha256,
    );

    let (status, _) = client.post("/process", &submission.body).await;
    assert_eq!(status, 202);
    assert!(server.stop(), "server exited with an error");

    let server = Server::start(data_dir.path(), &[], &[]);
    let client = Client::connect(&server.url(PREFIX), "restart-client").await;
    let (status, body) = client.poll_until_done(&submission).await;

    assert_eq!(status, 200, "{body}");
    let result = client.open_result(&submission, body["result"].as_str().unwrap());
    assert_document_shape(&result);
}

#[tokio::test]
async fn running_task_survives_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let log = data_dir.path().join("server.log");
    let args = ["--workers", "1", "--shutdown-grace", "1s"];
    let server = Server::start_logging_to(data_dir.path(), &args, &[], &log);
    let client = Client::connect(&server.url(PREFIX), "sigterm-client").await;
    let page = base64(&letter());
    let payload = json!({"to_process": [page.clone(), page.clone(), page.clone(), page]});
    let submission = client.seal(TaskKind::Doc, &payload, Cipher::A256Gcm, Mgf1Digest::Sha256);

    let (status, _) = client.post("/process", &submission.body).await;
    assert_eq!(status, 202);
    let mut started = false;
    for _ in 0..300 {
        if std::fs::read_to_string(&log)
            .unwrap()
            .contains("processing started")
        {
            started = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(started, "the task never started");
    // The process must exit after the grace period even while OCR still runs.
    assert!(server.stop(), "server exited with an error");

    let server = Server::start(data_dir.path(), &[], &[]);
    let client = Client::connect(&server.url(PREFIX), "sigterm-client").await;
    let (status, body) = client.poll_until_done(&submission).await;

    assert_eq!(status, 200, "{body}");
    let result = client.open_result(&submission, body["result"].as_str().unwrap());
    assert_document_shape(&result);
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let (_dir, server, client) = start(&[]).await;

    let response = client
        .http
        .get(server.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");

    let response = client
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 36, "{generated}");
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let (_dir, server, client) = start(&[]).await;

    let response = client.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["status"], "ready");

    let response = client
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    let json: Value = response.json().await.unwrap();
    assert!(
        json["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        json["openapi"]
    );
    for path in [
        "/process",
        "/clear",
        "/check_status",
        "/public_key",
        "/ocr",
        "/metrics",
    ] {
        assert!(
            json["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }

    let response = client
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"docsnap_http_requests_total{route="/readyz",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("docsnap_process_resident_memory_bytes"),
        "{text}"
    );

    let response = client.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn ocr_endpoint_is_off_by_default() {
    let (_dir, server, client) = start(&[]).await;

    let response = client
        .http
        .post(server.url("/ocr"))
        .body(letter())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn ocr_endpoint_returns_page_text() {
    let (_dir, server, client) = start(&["--enable-ocr-endpoint"]).await;
    let image = letter();

    let response = client
        .http
        .post(server.url("/ocr"))
        .header("content-type", "image/png")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert!(page["width"].as_u64().unwrap() > 0, "{page}");
    assert!(page["height"].as_u64().unwrap() > 0, "{page}");
    let texts: Vec<&str> = page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"Name: Jane Example"), "{page}");

    let response = client
        .http
        .post(server.url("/api/v1/ocr?format=cnocr"))
        .body(image)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cnocr: Value = response.json().await.unwrap();
    let first = &cnocr["results"][0];
    assert_eq!(first["text"], "Application for a library card", "{cnocr}");
    assert_eq!(first["position"].as_array().unwrap().len(), 4, "{cnocr}");

    let response = client
        .http
        .post(server.url("/ocr"))
        .body(b"not an image".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error_detail"], "INVALID_IMAGE");
}

#[tokio::test]
async fn stalled_body_times_out() {
    use std::io::{Read, Write};

    let (_dir, server, _client) = start(&[]).await;
    let url = server.url("");
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        // Generous bound so a server that never answers fails the test, not hangs it.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(180)))
            .unwrap();
        stream
            .write_all(
                b"POST /process HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"client_id\"",
            )
            .unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap();

    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("REQUEST_TIMEOUT"), "{response}");
}

//! Protocol behaviour of `TaskService::submit` and `clear`: one table row per
//! request-level error code, and one test per improvement over the old backend.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/service/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use docsnap_core::ErrorKind;
use docsnap_core::envelope::{AesKey, Cipher, Mgf1Digest, content_hash, seal, wrap_key};
use docsnap_core::store::{MemoryStore, SqliteStore, TaskStore};
use docsnap_core::types::{TaskKind, TaskState};
use serde_json::{Value, json};
use support::{Client, FakePipeline, base64, pages_payload, png_page, service, test_config};

/// Returns `body` with `field` set to `value`.
fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

fn without(body: &Value, field: &str) -> Value {
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove(field);
    body
}

/// Returns `body` with `content` replaced and `SHA256` recomputed to match.
fn with_content(body: &Value, content: &str) -> Value {
    let body = with(body, "content", json!(content));
    with(&body, "SHA256", json!(content_hash(content)))
}

struct Case {
    name: &'static str,
    body: Value,
    expected: ErrorKind,
}

fn case(name: &'static str, body: Value, expected: ErrorKind) -> Case {
    Case {
        name,
        body,
        expected,
    }
}

fn error_cases(client: &Client) -> Vec<Case> {
    use ErrorKind::*;
    let good = client
        .seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"))
        .body;
    let good_cbc = client
        .seal(TaskKind::Form, Cipher::Cbc, &pages_payload("a1"))
        .body;
    let sealed = |kind, cipher, payload: Value| client.seal(kind, cipher, &payload).body;
    let png = base64(&png_page());

    let tampered = {
        let content = good["content"].as_str().unwrap();
        let mut bytes = content.as_bytes().to_vec();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let other_key_content = {
        let other = AesKey::random(32).unwrap();
        seal(
            &other,
            Cipher::Cbc,
            pages_payload("a1").to_string().as_bytes(),
            b"",
        )
        .unwrap()
    };
    let foreign_wrapped_key = base64(&[7u8; 256]);

    vec![
        case("array body", json!([1, 2]), InvalidRequest),
        case("string body", json!("process this"), InvalidRequest),
        case("null body", Value::Null, InvalidRequest),
        case(
            "unknown cipher",
            with(&good, "cipher", json!("AES-CTR")),
            InvalidRequest,
        ),
        case(
            "cipher of wrong type",
            with(&good, "cipher", json!(5)),
            InvalidRequest,
        ),
        case(
            "no client_id",
            without(&good, "client_id"),
            MissingRequiredField,
        ),
        case(
            "numeric client_id",
            with(&good, "client_id", json!(42)),
            MissingRequiredField,
        ),
        case(
            "empty client_id",
            with(&good, "client_id", json!("")),
            MissingRequiredField,
        ),
        case("no type", without(&good, "type"), MissingRequiredField),
        case(
            "numeric type",
            with(&good, "type", json!(1)),
            MissingRequiredField,
        ),
        case("no SHA256", without(&good, "SHA256"), MissingRequiredField),
        case(
            "array SHA256",
            with(&good, "SHA256", json!(["ab"])),
            MissingRequiredField,
        ),
        case(
            "no has_content",
            without(&good, "has_content"),
            MissingRequiredField,
        ),
        case(
            "string has_content",
            with(&good, "has_content", json!("yes")),
            MissingRequiredField,
        ),
        case(
            "has_content 2",
            with(&good, "has_content", json!(2)),
            MissingRequiredField,
        ),
        case(
            "fields before type",
            without(&with(&good, "type", json!("pdf")), "SHA256"),
            MissingRequiredField,
        ),
        case(
            "unknown type",
            with(&good, "type", json!("pdf")),
            InvalidType,
        ),
        case(
            "type before cipher",
            with(&with(&good, "type", json!("pdf")), "cipher", json!("X")),
            InvalidType,
        ),
        case("no content", without(&good, "content"), MissingContent),
        case("no aes_key", without(&good, "aes_key"), MissingContent),
        case(
            "numeric content",
            with(&good, "content", json!(12)),
            MissingContent,
        ),
        case(
            "payload without to_process",
            sealed(TaskKind::Doc, Cipher::A256Gcm, json!({"file_lib": {}})),
            MissingContent,
        ),
        case(
            "empty to_process",
            sealed(TaskKind::Form, Cipher::A256Gcm, json!({"to_process": []})),
            MissingContent,
        ),
        case(
            "poll of unknown task",
            with(&good, "has_content", json!(false)),
            TaskNotFound,
        ),
        case(
            "has_content 0 of unknown task",
            with(&good, "has_content", json!(0)),
            TaskNotFound,
        ),
        case(
            "hash of other text",
            with(&good, "SHA256", json!(content_hash("other"))),
            Sha256Mismatch,
        ),
        case(
            "hash before key",
            with(
                &with(&good, "SHA256", json!(content_hash("other"))),
                "aes_key",
                json!("garbage"),
            ),
            Sha256Mismatch,
        ),
        case(
            "aes_key not base64",
            with(&good, "aes_key", json!("not base64!")),
            RsaDecryptionFailed,
        ),
        case(
            "aes_key for another server",
            with(&good, "aes_key", json!(foreign_wrapped_key)),
            RsaDecryptionFailed,
        ),
        case(
            "key before content",
            with_content(&with(&good, "aes_key", json!("garbage")), "garbage"),
            RsaDecryptionFailed,
        ),
        case(
            "tampered GCM content",
            with_content(&good, &tampered),
            AesDecryptionFailed,
        ),
        case(
            "content not base64",
            with_content(&good_cbc, "!!!!"),
            AesDecryptionFailed,
        ),
        case(
            "CBC content of 17 bytes",
            with_content(&good_cbc, &base64(&[1; 17])),
            AesDecryptionFailed,
        ),
        case(
            "CBC content under another key",
            with_content(&good_cbc, &other_key_content),
            AesDecryptionFailed,
        ),
        case(
            "GCM plaintext not JSON",
            client
                .seal_bytes(TaskKind::Doc, Cipher::A256Gcm, b"{not json")
                .body,
            InvalidJson,
        ),
        case(
            "payload is an array",
            sealed(TaskKind::Doc, Cipher::A256Gcm, json!([1])),
            InvalidJson,
        ),
        case(
            "doc to_process is a string",
            sealed(TaskKind::Doc, Cipher::A256Gcm, json!({"to_process": png})),
            InvalidJson,
        ),
        case(
            "fill to_process is an array",
            sealed(
                TaskKind::Fill,
                Cipher::A256Gcm,
                json!({"to_process": [png]}),
            ),
            InvalidJson,
        ),
        case(
            "fill fields not strings",
            sealed(
                TaskKind::Fill,
                Cipher::A256Gcm,
                json!({"to_process": {"fields": [1, 2]}}),
            ),
            InvalidJson,
        ),
        case(
            "file_lib is a string",
            sealed(
                TaskKind::Doc,
                Cipher::A256Gcm,
                json!({"to_process": [png], "file_lib": "docs"}),
            ),
            InvalidJson,
        ),
        case(
            "file_lib entry without id",
            sealed(
                TaskKind::Doc,
                Cipher::A256Gcm,
                json!({"to_process": [png], "file_lib": {"docs": [{"title": "x"}]}}),
            ),
            InvalidJson,
        ),
        case(
            "page not base64",
            sealed(
                TaskKind::Doc,
                Cipher::A256Gcm,
                json!({"to_process": [png, "%%%"]}),
            ),
            InvalidImage,
        ),
        case(
            "page is a number",
            sealed(TaskKind::Form, Cipher::A256Gcm, json!({"to_process": [7]})),
            InvalidImage,
        ),
        case(
            "page is not an image",
            sealed(
                TaskKind::Doc,
                Cipher::A256Gcm,
                json!({"to_process": [base64(b"plain text")]}),
            ),
            InvalidImage,
        ),
        case(
            "21 pages",
            sealed(
                TaskKind::Doc,
                Cipher::A256Gcm,
                json!({"to_process": vec![png.clone(); 21]}),
            ),
            TooManyPages,
        ),
    ]
}

#[tokio::test]
async fn submit_error_codes() {
    let store = Arc::new(MemoryStore::new());
    let service = service(store.clone(), FakePipeline::new(), test_config(0));
    let client = Client::new("client-a");

    let cases = error_cases(&client);
    let covered: std::collections::HashSet<_> = cases.iter().map(|case| case.expected).collect();
    for case in &cases {
        let outcome = service.submit(&case.body).await;

        let error = outcome.expect_err(case.name);
        assert_eq!(error.kind(), case.expected, "{}: {error}", case.name);
    }

    assert_eq!(covered.len(), 11, "every request-level code has a row");
    let stats = store.stats(std::time::SystemTime::now()).await.unwrap();
    assert_eq!(stats.queued, 0, "a rejected request stores nothing");
}

#[tokio::test]
async fn error_messages_name_the_page() {
    let service = service(
        Arc::new(MemoryStore::new()),
        FakePipeline::new(),
        test_config(0),
    );
    let client = Client::new("client-a");
    let png = base64(&png_page());
    let body = client
        .seal(
            TaskKind::Doc,
            Cipher::A256Gcm,
            &json!({"to_process": [png, png, "%%"]}),
        )
        .body;

    let error = service.submit(&body).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidImage);
    assert!(error.message().contains("page 2"), "{error}");
}

#[tokio::test]
async fn wrapped_base64_is_accepted() {
    let pipeline = FakePipeline::new();
    let service = service(
        Arc::new(MemoryStore::new()),
        pipeline.clone(),
        test_config(1),
    );
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let payload = json!({"to_process": [support::mime_wrap(&base64(&png_page()))]});
    let mut sealed = client.seal(TaskKind::Doc, Cipher::Cbc, &payload);
    let content = support::mime_wrap(sealed.body["content"].as_str().unwrap());
    let aes_key = support::mime_wrap(sealed.body["aes_key"].as_str().unwrap());
    assert!(content.contains("\r\n"));
    sealed.sha256 = content_hash(&content);
    sealed.body["content"] = json!(content);
    sealed.body["aes_key"] = json!(aes_key);
    sealed.body["SHA256"] = json!(sealed.sha256);

    let state = service.submit(&sealed.body).await.unwrap();
    let done = support::wait_final(
        &service,
        &client.poll_body(&sealed),
        Duration::from_secs(30),
    )
    .await;

    assert_eq!(state, TaskState::Processing);
    let TaskState::Completed { result } = done else {
        panic!("expected a completed task, got {done:?}");
    };
    assert_eq!(client.open_result(&sealed, &result)["pages"], json!(1));
    assert_eq!(pipeline.payloads()[0].input_pages(), vec![png_page()]);
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn has_content_accepts_one_and_zero() {
    let service = service(
        Arc::new(MemoryStore::new()),
        FakePipeline::new(),
        test_config(0),
    );
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Form, Cipher::A256Gcm, &pages_payload("a1"));

    let submitted = service
        .submit(&with(&sealed.body, "has_content", json!(1)))
        .await
        .unwrap();
    let polled = service
        .submit(&with(&sealed.body, "has_content", json!(0)))
        .await
        .unwrap();

    assert_eq!(submitted, TaskState::Processing);
    assert_eq!(polled, TaskState::Processing);
}

#[tokio::test]
async fn uppercase_sha256_is_the_same_task() {
    let store = Arc::new(MemoryStore::new());
    let service = service(store.clone(), FakePipeline::new(), test_config(0));
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));
    let upper = with(&sealed.body, "SHA256", json!(sealed.sha256.to_uppercase()));

    let submitted = service.submit(&upper).await.unwrap();
    let polled = service.submit(&client.poll_body(&sealed)).await.unwrap();
    let polled_upper = service
        .submit(&with(&upper, "has_content", json!(false)))
        .await
        .unwrap();

    assert_eq!(submitted, TaskState::Processing);
    assert_eq!(polled, TaskState::Processing);
    assert_eq!(polled_upper, TaskState::Processing);
    assert_eq!(
        store
            .stats(std::time::SystemTime::now())
            .await
            .unwrap()
            .queued,
        1
    );
}

#[tokio::test]
async fn racing_submits_create_one_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let service = service(store.clone(), FakePipeline::new(), test_config(0));
    let body = Client::new("client-a")
        .seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"))
        .body;

    let (first, second) = tokio::join!(service.submit(&body), service.submit(&body));

    assert_eq!(first.unwrap(), TaskState::Processing);
    assert_eq!(second.unwrap(), TaskState::Processing);
    assert_eq!(
        store
            .stats(std::time::SystemTime::now())
            .await
            .unwrap()
            .queued,
        1
    );
}

#[tokio::test]
async fn sha256_only_clear_deletes_every_type() {
    let store = Arc::new(MemoryStore::new());
    let service = service(store.clone(), FakePipeline::new(), test_config(0));
    let client = Client::new("client-a");
    // Under CBC the same content is valid for every kind, so one hash names
    // a doc, a form and a fill task.
    let pages = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("a1"));
    let other = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("b2"));
    service.submit(&pages.body).await.unwrap();
    service
        .submit(&with(&pages.body, "type", json!("form")))
        .await
        .unwrap();
    service.submit(&other.body).await.unwrap();

    let by_hash = service
        .clear(&json!({"client_id": "client-a", "SHA256": pages.sha256.to_uppercase()}))
        .await
        .unwrap();
    let by_task = service
        .clear(&json!({"client_id": "client-a", "SHA256": other.sha256, "type": "form"}))
        .await
        .unwrap();
    let by_client = service
        .clear(&json!({"client_id": "client-a"}))
        .await
        .unwrap();

    assert_eq!(by_hash, 2);
    assert_eq!(by_task, 0);
    assert_eq!(by_client, 1);
    let gone = service.submit(&client.poll_body(&pages)).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::TaskNotFound);
}

#[tokio::test]
async fn clear_requires_client_id() {
    let service = service(
        Arc::new(MemoryStore::new()),
        FakePipeline::new(),
        test_config(0),
    );

    for body in [
        json!({}),
        json!({"client_id": 5}),
        json!({"client_id": ""}),
        json!([1]),
    ] {
        let error = service.clear(&body).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredField, "{body}");
    }
    let error = service
        .clear(&json!({"client_id": "c", "SHA256": "ab", "type": "pdf"}))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidType);
}

#[tokio::test]
async fn bad_json_under_cbc_is_aes_failure() {
    let service = service(
        Arc::new(MemoryStore::new()),
        FakePipeline::new(),
        test_config(0),
    );
    let client = Client::new("client-a");

    for plaintext in [&b"{not json"[..], b"", b"\xff\xfe"] {
        let body = client
            .seal_bytes(TaskKind::Doc, Cipher::Cbc, plaintext)
            .body;
        let error = service.submit(&body).await.unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::AesDecryptionFailed,
            "{plaintext:?}"
        );
    }
}

#[tokio::test]
async fn existing_task_ignores_content() {
    let pipeline =
        FakePipeline::with_script(vec![support::Step::Fail(ErrorKind::OcrFailure, false)]);
    let service = service(
        Arc::new(MemoryStore::new()),
        Arc::new(pipeline),
        test_config(1),
    );
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));
    service.submit(&sealed.body).await.unwrap();
    let garbled = with(
        &with(&sealed.body, "content", json!("garbage")),
        "aes_key",
        json!(7),
    );

    let while_queued = service.submit(&garbled).await.unwrap();
    service.start().await.unwrap();
    let failed = support::wait_final(
        &service,
        &client.poll_body(&sealed),
        Duration::from_secs(30),
    )
    .await;
    let after_failure = service.submit(&garbled).await.unwrap();

    assert_eq!(while_queued, TaskState::Processing);
    let expected = TaskState::Failed {
        error: ErrorKind::OcrFailure,
    };
    assert_eq!(failed, expected);
    assert_eq!(after_failure, expected);
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn mgf1_sha1_wrapped_key_is_accepted() {
    let service = service(
        Arc::new(MemoryStore::new()),
        FakePipeline::new(),
        test_config(0),
    );
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));
    let sha1_wrapped = wrap_key(&client.public_key_pem, &sealed.aes_key, Mgf1Digest::Sha1).unwrap();

    let state = service
        .submit(&with(&sealed.body, "aes_key", json!(sha1_wrapped)))
        .await
        .unwrap();

    assert_eq!(state, TaskState::Processing);
}

/// The pages a fake pipeline received, for checks on decoding.
trait InputPages {
    fn input_pages(&self) -> Vec<Vec<u8>>;
}

impl InputPages for docsnap_core::pipeline::InnerPayload {
    fn input_pages(&self) -> Vec<Vec<u8>> {
        match &self.input {
            docsnap_core::pipeline::TaskInput::Pages(pages) => pages.clone(),
            docsnap_core::pipeline::TaskInput::Form(_) => Vec::new(),
        }
    }
}

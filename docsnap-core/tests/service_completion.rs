//! Task lifecycle through the worker pool: results, failures, retries,
//! panics, timeouts, retention and shutdown.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/service/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use docsnap_core::ErrorKind;
use docsnap_core::envelope::Cipher;
use docsnap_core::pipeline::TaskInput;
use docsnap_core::store::{MemoryStore, SqliteStore, TaskStore};
use docsnap_core::types::{TaskKind, TaskState};
use serde_json::json;
use support::{
    Client, FakePipeline, Step, pages_payload, png_page, service, test_config, wait_final,
};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_result_opens_with_client_key() {
    for cipher in [Cipher::Cbc, Cipher::A256Gcm] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let pipeline = FakePipeline::new();
        let service = service(store, pipeline.clone(), test_config(2));
        service.start().await.unwrap();
        let client = Client::new("client-a");
        let sealed = client.seal(TaskKind::Doc, cipher, &pages_payload("lib-7"));

        let submitted = service.submit(&sealed.body).await.unwrap();
        let done = wait_final(&service, &client.poll_body(&sealed), LIMIT).await;

        assert_eq!(submitted, TaskState::Processing);
        let TaskState::Completed { result } = done else {
            panic!("{cipher}: expected a completed task, got {done:?}");
        };
        let mut expected = pipeline.result.clone();
        expected["first_library_id"] = json!("lib-7");
        expected["pages"] = json!(1);
        assert_eq!(client.open_result(&sealed, &result), expected, "{cipher}");
        assert_eq!(pipeline.calls(), 1, "{cipher}");
        service.shutdown(LIMIT).await;
    }
}

#[tokio::test]
async fn pipeline_receives_decoded_payload() {
    let pipeline = FakePipeline::new();
    let service = service(
        Arc::new(MemoryStore::new()),
        pipeline.clone(),
        test_config(1),
    );
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let page = support::base64(&png_page());
    let doc = client.seal(
        TaskKind::Form,
        Cipher::A256Gcm,
        &json!({"to_process": [page, page], "file_lib": {"doc": [{"id": 9, "title": "Visa"}], "form": []}}),
    );
    let fill = client.seal(
        TaskKind::Fill,
        Cipher::A256Gcm,
        &json!({"to_process": {"title": "Visa form", "kv": {}, "fields": ["Name", "Date of Birth"]}}),
    );

    service.submit(&doc.body).await.unwrap();
    service.submit(&fill.body).await.unwrap();
    wait_final(&service, &client.poll_body(&doc), LIMIT).await;
    wait_final(&service, &client.poll_body(&fill), LIMIT).await;

    let payloads = pipeline.payloads();
    assert_eq!(payloads.len(), 2);
    let (pages, form) = match (&payloads[0].input, &payloads[1].input) {
        (TaskInput::Pages(pages), TaskInput::Form(form)) => (pages, form),
        (TaskInput::Form(form), TaskInput::Pages(pages)) => (pages, form),
        other => panic!("unexpected inputs {other:?}"),
    };
    assert_eq!(pages, &vec![png_page(), png_page()]);
    assert_eq!(form.fields, vec!["Name", "Date of Birth"]);
    let library = payloads
        .iter()
        .find(|payload| !payload.library.is_empty())
        .map(|payload| &payload.library)
        .unwrap();
    assert_eq!(library.docs[0].id, "9");
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn failed_task_keeps_its_code() {
    let pipeline = Arc::new(FakePipeline::with_script(vec![Step::Fail(
        ErrorKind::OcrFailure,
        false,
    )]));
    let service = service(
        Arc::new(MemoryStore::new()),
        pipeline.clone(),
        test_config(1),
    );
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));

    service.submit(&sealed.body).await.unwrap();
    let first = wait_final(&service, &client.poll_body(&sealed), LIMIT).await;
    let again = service.submit(&client.poll_body(&sealed)).await.unwrap();

    let expected = TaskState::Failed {
        error: ErrorKind::OcrFailure,
    };
    assert_eq!(first, expected);
    assert_eq!(again, expected);
    assert_eq!(pipeline.calls(), 1, "a non-transient error is not retried");
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn transient_errors_are_retried() {
    let script = vec![
        Step::Fail(ErrorKind::LlmFailure, true),
        Step::Fail(ErrorKind::OcrFailure, true),
    ];
    let pipeline = Arc::new(FakePipeline::with_script(script));
    let service = service(
        Arc::new(MemoryStore::new()),
        pipeline.clone(),
        test_config(1),
    );
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("a1"));

    service.submit(&sealed.body).await.unwrap();
    let done = wait_final(&service, &client.poll_body(&sealed), LIMIT).await;

    assert!(matches!(done, TaskState::Completed { .. }), "{done:?}");
    assert_eq!(pipeline.calls(), 3);
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn exhausted_retries_fail_with_last_code() {
    let script = vec![
        Step::Fail(ErrorKind::OcrFailure, true),
        Step::Fail(ErrorKind::OcrFailure, true),
        Step::Fail(ErrorKind::LlmFailure, true),
    ];
    let pipeline = Arc::new(FakePipeline::with_script(script));
    let service = service(
        Arc::new(MemoryStore::new()),
        pipeline.clone(),
        test_config(1),
    );
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("a1"));

    service.submit(&sealed.body).await.unwrap();
    let done = wait_final(&service, &client.poll_body(&sealed), LIMIT).await;

    assert_eq!(
        done,
        TaskState::Failed {
            error: ErrorKind::LlmFailure
        }
    );
    assert_eq!(pipeline.calls(), 3);
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn pipeline_panic_fails_only_its_task() {
    let pipeline = Arc::new(FakePipeline::with_script(vec![Step::Panic]));
    let service = service(
        Arc::new(MemoryStore::new()),
        pipeline.clone(),
        test_config(1),
    );
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let panics = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));
    let works = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("b2"));

    service.submit(&panics.body).await.unwrap();
    let panicked = wait_final(&service, &client.poll_body(&panics), LIMIT).await;
    service.submit(&works.body).await.unwrap();
    let completed = wait_final(&service, &client.poll_body(&works), LIMIT).await;

    assert_eq!(
        panicked,
        TaskState::Failed {
            error: ErrorKind::ProcessingError
        }
    );
    assert!(
        matches!(completed, TaskState::Completed { .. }),
        "{completed:?}"
    );
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn hung_pipeline_times_out_for_good() {
    let pipeline = Arc::new(FakePipeline::with_script(vec![Step::Sleep(
        Duration::from_secs(3600),
    )]));
    let mut config = test_config(1);
    config.processing_timeout = Duration::from_millis(300);
    let service = service(Arc::new(MemoryStore::new()), pipeline.clone(), config);
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let hung = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));
    let next = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("b2"));

    service.submit(&hung.body).await.unwrap();
    let timed_out = wait_final(&service, &client.poll_body(&hung), LIMIT).await;
    service.submit(&next.body).await.unwrap();
    let completed = wait_final(&service, &client.poll_body(&next), LIMIT).await;
    let still_timed_out = service.submit(&hung.body).await.unwrap();

    let timeout = TaskState::Failed {
        error: ErrorKind::ProcessingTimeout,
    };
    assert_eq!(timed_out, timeout);
    assert!(
        matches!(completed, TaskState::Completed { .. }),
        "the worker was freed: {completed:?}"
    );
    assert_eq!(still_timed_out, timeout);
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn sweeper_times_out_queued_task() {
    let mut config = test_config(0);
    config.processing_timeout = Duration::from_millis(200);
    config.sweep_interval = Duration::from_millis(50);
    let service = service(Arc::new(MemoryStore::new()), FakePipeline::new(), config);
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Form, Cipher::Cbc, &pages_payload("a1"));

    service.submit(&sealed.body).await.unwrap();
    let done = wait_final(&service, &client.poll_body(&sealed), LIMIT).await;

    assert_eq!(
        done,
        TaskState::Failed {
            error: ErrorKind::ProcessingTimeout
        }
    );
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn sweeper_deletes_tasks_past_retention() {
    let mut config = test_config(1);
    config.retention = Duration::from_millis(200);
    config.sweep_interval = Duration::from_millis(50);
    let store = Arc::new(MemoryStore::new());
    let service = service(store.clone(), FakePipeline::new(), config);
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("a1"));
    service.submit(&sealed.body).await.unwrap();

    // Watch the store without polling, because a poll counts as an access.
    let started = Instant::now();
    loop {
        let stats = service.stats().await.unwrap();
        if stats.queued + stats.running + stats.completed + stats.failed == 0 {
            break;
        }
        assert!(started.elapsed() < LIMIT, "task not deleted: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let error = service
        .submit(&client.poll_body(&sealed))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TaskNotFound);
    service.shutdown(LIMIT).await;
}

#[tokio::test]
async fn shutdown_leaves_queued_tasks_queued() {
    let pipeline = FakePipeline::slow(Duration::from_secs(2));
    let store = Arc::new(MemoryStore::new());
    let service = service(store.clone(), pipeline.clone(), test_config(1));
    service.start().await.unwrap();
    let client = Client::new("client-a");
    let first = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("a1"));
    let second = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("b2"));
    service.submit(&first.body).await.unwrap();
    service.submit(&second.body).await.unwrap();
    let started = Instant::now();
    while pipeline.calls() == 0 {
        assert!(
            started.elapsed() < LIMIT,
            "the worker never started the first task"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    service.shutdown(LIMIT).await;

    let stats = service.stats().await.unwrap();
    assert_eq!(
        stats.completed, 1,
        "the running task finished within the grace period"
    );
    assert_eq!(stats.queued, 1);
    assert_eq!(pipeline.calls(), 1);
    let restarted = service.start().await.unwrap_err();
    assert_eq!(restarted.kind(), ErrorKind::InvalidConfig);
}

#[tokio::test]
async fn ready_and_stats_report_store() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TaskStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let service = service(store, FakePipeline::new(), test_config(0));
    let client = Client::new("client-a");
    service
        .submit(
            &client
                .seal(TaskKind::Doc, Cipher::Cbc, &pages_payload("a1"))
                .body,
        )
        .await
        .unwrap();

    service.ready().await.unwrap();
    let stats = service.stats().await.unwrap();

    assert_eq!(stats.queued, 1);
    assert!(stats.oldest_queued_age.is_some());
    assert_eq!(service.server_key().public_key_pem(), client.public_key_pem);
}

#[tokio::test]
async fn no_plaintext_reaches_the_database() {
    const MARKER: &str = "PLAINTEXT-MARKER-5f1c";
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let db_path = store.path().to_path_buf();
    let service = service(store, FakePipeline::new(), test_config(1));
    service.start().await.unwrap();
    let client = Client::new("client-a");
    // The marker is in the payload and, through the fake, in the result.
    let sealed = client.seal(TaskKind::Doc, Cipher::Cbc, &pages_payload(MARKER));

    let queued = service.submit(&sealed.body).await.unwrap();
    let queued_bytes = database_bytes(&db_path);
    let done = wait_final(&service, &client.poll_body(&sealed), LIMIT).await;
    service.shutdown(LIMIT).await;

    assert_eq!(queued, TaskState::Processing);
    assert!(
        !contains(&queued_bytes, MARKER.as_bytes()),
        "plaintext stored while queued"
    );
    let TaskState::Completed { result } = done else {
        panic!("expected a completed task, got {done:?}");
    };
    assert_eq!(
        client.open_result(&sealed, &result)["first_library_id"],
        json!(MARKER)
    );
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    let (content, aes_key, stored_result): (Option<String>, Option<String>, String) = conn
        .query_row("SELECT content, aes_key, result FROM tasks", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .unwrap();
    assert_eq!(content, None);
    assert_eq!(aes_key, None);
    assert_eq!(stored_result, result);
    drop(conn);
    assert!(
        !contains(&database_bytes(&db_path), MARKER.as_bytes()),
        "plaintext stored after completion"
    );
}

/// Reads the database file and its WAL, where recent writes live.
fn database_bytes(db_path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db_path).unwrap();
    let wal = db_path.with_extension("db-wal");
    if let Ok(wal_bytes) = std::fs::read(wal) {
        bytes.extend(wal_bytes);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

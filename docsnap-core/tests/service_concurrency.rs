//! The service under concurrent submits and polls against a SQLite file.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/service/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use docsnap_core::envelope::Cipher;
use docsnap_core::store::SqliteStore;
use docsnap_core::types::{TaskKind, TaskState};
use serde_json::json;
use support::{Client, FakePipeline, pages_payload, service, test_config, wait_final};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_submits_create_one_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let pipeline = FakePipeline::new();
    let service = service(store, pipeline.clone(), test_config(2));
    let client = Client::new("client-a");
    let sealed = client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload("a1"));
    let body = Arc::new(sealed.body.clone());

    let mut submits = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let service = service.clone();
        let body = Arc::clone(&body);
        submits.spawn(async move { service.submit(&body).await });
    }
    let states: Vec<_> = submits
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let stats = service.stats().await.unwrap();
    service.start().await.unwrap();
    let done = wait_final(
        &service,
        &client.poll_body(&sealed),
        Duration::from_secs(60),
    )
    .await;

    assert_eq!(states, vec![TaskState::Processing; 32]);
    assert_eq!(stats.queued, 1);
    assert!(matches!(done, TaskState::Completed { .. }), "{done:?}");
    assert_eq!(pipeline.calls(), 1);
    service.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_all_complete() {
    const TASKS: usize = 1000;
    const SUBMITTERS: usize = 16;
    const LIMIT: Duration = Duration::from_secs(300);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let pipeline = FakePipeline::new();
    let service = service(store, pipeline.clone(), test_config(8));
    service.start().await.unwrap();

    // Each submitter submits its share of tasks, then polls them all until
    // they complete, so submits, polls and workers overlap.
    let mut submitters = tokio::task::JoinSet::new();
    for submitter in 0..SUBMITTERS {
        let service = service.clone();
        submitters.spawn(async move {
            let client = Client::new(&format!("client-{submitter}"));
            let mut pending = Vec::new();
            for index in (submitter..TASKS).step_by(SUBMITTERS) {
                let library_id = format!("task-{index}");
                let sealed =
                    client.seal(TaskKind::Doc, Cipher::A256Gcm, &pages_payload(&library_id));
                let state = service.submit(&sealed.body).await.unwrap();
                assert_eq!(state, TaskState::Processing, "{library_id}");
                pending.push((library_id, sealed));
            }

            let started = Instant::now();
            let mut completed = 0;
            while !pending.is_empty() {
                assert!(
                    started.elapsed() < LIMIT,
                    "{} tasks still pending",
                    pending.len()
                );
                let mut still_pending = Vec::new();
                for (library_id, sealed) in pending {
                    match service.submit(&client.poll_body(&sealed)).await.unwrap() {
                        TaskState::Processing => still_pending.push((library_id, sealed)),
                        TaskState::Completed { result } => {
                            let opened = client.open_result(&sealed, &result);
                            assert_eq!(opened["first_library_id"], json!(library_id));
                            completed += 1;
                        }
                        failed => panic!("{library_id} failed: {failed:?}"),
                    }
                }
                pending = still_pending;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            completed
        });
    }
    let completed: usize = submitters.join_all().await.into_iter().sum();

    assert_eq!(completed, TASKS);
    assert_eq!(pipeline.calls(), TASKS, "each task ran exactly once");
    let stats = service.stats().await.unwrap();
    assert_eq!(stats.completed, TASKS as u64);
    assert_eq!(stats.queued + stats.running + stats.failed, 0);
    service.shutdown(Duration::from_secs(10)).await;
}

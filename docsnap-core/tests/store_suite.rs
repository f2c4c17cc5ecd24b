//! One suite of task store tests, run against a SQLite file and the in-memory store.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use docsnap_core::ErrorKind;
use docsnap_core::envelope::Cipher;
use docsnap_core::store::{
    ClearScope, Finished, Inserted, MemoryStore, NewTask, Outcome, SqliteStore, TaskStore,
};
use docsnap_core::types::{TaskKey, TaskKind, TaskState};
use tempfile::TempDir;

/// A store under test; `db_path` is set for SQLite so a test can open the file directly.
struct Harness {
    store: Arc<dyn TaskStore>,
    db_path: Option<PathBuf>,
    _dir: TempDir,
}

fn sqlite_harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    Harness {
        db_path: Some(store.path().to_path_buf()),
        store: Arc::new(store),
        _dir: dir,
    }
}

fn memory_harness() -> Harness {
    Harness {
        store: Arc::new(MemoryStore::new()),
        db_path: None,
        _dir: tempfile::tempdir().unwrap(),
    }
}

/// Runs each named test function once per store.
macro_rules! store_suite {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::sqlite_harness()).await;
                }
            )+
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::memory_harness()).await;
                }
            )+
        }
    };
}

store_suite!(
    insert_race_creates_one_task,
    insert_existing_returns_state_and_touches,
    claim_returns_oldest_first,
    claim_round_trips_stored_fields,
    finish_stores_only_once,
    finish_after_clear_is_ignored,
    timeout_is_final,
    timeout_spares_recent_and_finished_tasks,
    clear_by_task_hash_and_client,
    retention_deletes_idle_tasks,
    requeue_returns_running_tasks_to_queue,
    stats_count_every_state,
    racing_writes_lose_nothing,
    ping_succeeds,
);

fn base_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn at(seconds: u64) -> SystemTime {
    base_time() + Duration::from_secs(seconds)
}

fn key(client: &str, hash: &str, kind: TaskKind) -> TaskKey {
    TaskKey::new(client, hash, kind)
}

fn new_task(key: &TaskKey, created_at: SystemTime) -> NewTask {
    NewTask {
        key: key.clone(),
        cipher: Cipher::Cbc,
        content: format!("content-of-{}-{}", key.sha256, key.kind),
        wrapped_key: format!("wrapped-key-of-{}", key.sha256),
        created_at,
    }
}

async fn insert(store: &dyn TaskStore, key: &TaskKey, created_at: SystemTime) {
    let inserted = store.insert(new_task(key, created_at)).await.unwrap();
    assert!(
        matches!(inserted, Inserted::Created(_)),
        "{key}: {inserted:?}"
    );
}

async fn insert_race_creates_one_task(harness: Harness) {
    let task_key = key("client-a", "aa11", TaskKind::Doc);

    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let store = Arc::clone(&harness.store);
        let task = new_task(&task_key, at(0));
        racers.spawn(async move { store.insert(task).await });
    }
    let outcomes: Vec<Inserted> = racers
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let created = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Inserted::Created(_)))
        .count();
    let existing = outcomes
        .iter()
        .filter(|outcome| **outcome == Inserted::Exists(TaskState::Processing))
        .count();
    assert_eq!(created, 1);
    assert_eq!(existing, 31);
    assert_eq!(harness.store.stats(at(0)).await.unwrap().queued, 1);
}

async fn insert_existing_returns_state_and_touches(harness: Harness) {
    let store = harness.store.as_ref();
    let task_key = key("client-a", "aa11", TaskKind::Form);
    insert(store, &task_key, at(0)).await;

    let again = store.insert(new_task(&task_key, at(100))).await.unwrap();
    assert_eq!(again, Inserted::Exists(TaskState::Processing));

    // The second insert counted as an access, so a retention cutoff between
    // the two times keeps the task.
    assert_eq!(store.delete_idle(at(50)).await.unwrap(), 0);
    assert_eq!(store.delete_idle(at(101)).await.unwrap(), 1);
}

async fn claim_returns_oldest_first(harness: Harness) {
    let store = harness.store.as_ref();
    let newest = key("client-a", "cc33", TaskKind::Doc);
    let oldest = key("client-b", "aa11", TaskKind::Fill);
    let middle = key("client-a", "bb22", TaskKind::Form);
    insert(store, &newest, at(20)).await;
    insert(store, &oldest, at(0)).await;
    insert(store, &middle, at(10)).await;

    let mut claimed = Vec::new();
    while let Some(task) = store.claim_next(at(30)).await.unwrap() {
        claimed.push(task.key);
        assert!(claimed.len() <= 3, "claimed more tasks than were queued");
    }

    assert_eq!(claimed, vec![oldest, middle, newest]);
}

async fn claim_round_trips_stored_fields(harness: Harness) {
    let store = harness.store.as_ref();
    let task_key = key("client-a", "ABCDEF0123", TaskKind::Fill);
    let task = NewTask {
        cipher: Cipher::A256Gcm,
        ..new_task(&task_key, at(5))
    };
    store.insert(task.clone()).await.unwrap();

    let claimed = store.claim_next(at(6)).await.unwrap().unwrap();

    assert_eq!(claimed.key, task_key);
    assert_eq!(claimed.key.sha256, "abcdef0123");
    assert_eq!(claimed.cipher, Cipher::A256Gcm);
    assert_eq!(claimed.content, task.content);
    assert_eq!(claimed.wrapped_key, task.wrapped_key);
    assert_eq!(claimed.created_at, at(5));
    assert!(store.claim_next(at(6)).await.unwrap().is_none());
    assert_eq!(
        store.touch(&task_key, at(7)).await.unwrap(),
        Some(TaskState::Processing)
    );
}

async fn finish_stores_only_once(harness: Harness) {
    let store = harness.store.as_ref();
    let task_key = key("client-a", "aa11", TaskKind::Doc);
    insert(store, &task_key, at(0)).await;
    let claimed = store.claim_next(at(1)).await.unwrap().unwrap();

    let first = store
        .finish(
            claimed.id,
            Outcome::Completed("sealed-result".into()),
            at(2),
        )
        .await
        .unwrap();
    let second = store
        .finish(claimed.id, Outcome::Failed(ErrorKind::OcrFailure), at(3))
        .await
        .unwrap();

    let completed = TaskState::Completed {
        result: "sealed-result".into(),
    };
    assert_eq!(first, Finished::Stored);
    assert_eq!(second, Finished::AlreadyFinal(completed.clone()));
    assert_eq!(
        store.touch(&task_key, at(4)).await.unwrap(),
        Some(completed)
    );
    assert!(store.claim_next(at(5)).await.unwrap().is_none());

    if let Some(path) = &harness.db_path {
        assert_no_ciphertext_left(path, &new_task(&task_key, at(0)));
    }
}

async fn finish_after_clear_is_ignored(harness: Harness) {
    let store = harness.store.as_ref();
    let task_key = key("client-a", "aa11", TaskKind::Doc);
    insert(store, &task_key, at(0)).await;
    let stale = store.claim_next(at(1)).await.unwrap().unwrap();

    let cleared = store
        .clear(&ClearScope::Task(task_key.clone()))
        .await
        .unwrap();
    insert(store, &task_key, at(2)).await;
    let finished = store
        .finish(stale.id, Outcome::Completed("stale-result".into()), at(3))
        .await
        .unwrap();

    assert_eq!(cleared, 1);
    assert_eq!(finished, Finished::Missing);
    assert_eq!(
        store.touch(&task_key, at(4)).await.unwrap(),
        Some(TaskState::Processing)
    );
    let fresh = store.claim_next(at(5)).await.unwrap().unwrap();
    assert_ne!(fresh.id, stale.id);
}

async fn timeout_is_final(harness: Harness) {
    let store = harness.store.as_ref();
    let task_key = key("client-a", "aa11", TaskKind::Form);
    insert(store, &task_key, at(0)).await;
    let claimed = store.claim_next(at(1)).await.unwrap().unwrap();

    let timed_out = store.time_out(at(600), at(601)).await.unwrap();
    let late = store
        .finish(
            claimed.id,
            Outcome::Completed("late-result".into()),
            at(602),
        )
        .await
        .unwrap();

    let timeout = TaskState::Failed {
        error: ErrorKind::ProcessingTimeout,
    };
    assert_eq!(timed_out, vec![task_key.clone()]);
    assert_eq!(late, Finished::AlreadyFinal(timeout.clone()));
    assert_eq!(
        store.touch(&task_key, at(603)).await.unwrap(),
        Some(timeout)
    );
    assert!(store.time_out(at(1200), at(1200)).await.unwrap().is_empty());

    if let Some(path) = &harness.db_path {
        assert_no_ciphertext_left(path, &new_task(&task_key, at(0)));
    }
}

async fn timeout_spares_recent_and_finished_tasks(harness: Harness) {
    let store = harness.store.as_ref();
    let old_queued = key("client-a", "aa11", TaskKind::Doc);
    let old_done = key("client-a", "bb22", TaskKind::Doc);
    let recent = key("client-a", "cc33", TaskKind::Doc);
    insert(store, &old_done, at(0)).await;
    insert(store, &old_queued, at(1)).await;
    insert(store, &recent, at(500)).await;
    let done = store.claim_next(at(2)).await.unwrap().unwrap();
    assert_eq!(done.key, old_done);
    store
        .finish(done.id, Outcome::Completed("result".into()), at(3))
        .await
        .unwrap();

    let timed_out = store.time_out(at(400), at(700)).await.unwrap();

    assert_eq!(timed_out, vec![old_queued]);
    assert!(matches!(
        store.touch(&old_done, at(700)).await.unwrap(),
        Some(TaskState::Completed { .. })
    ));
    assert_eq!(
        store.touch(&recent, at(700)).await.unwrap(),
        Some(TaskState::Processing)
    );
    let next = store.claim_next(at(700)).await.unwrap().unwrap();
    assert_eq!(next.key, recent);
}

async fn clear_by_task_hash_and_client(harness: Harness) {
    let store = harness.store.as_ref();
    let a_doc = key("client-a", "aa11", TaskKind::Doc);
    let a_form = key("client-a", "aa11", TaskKind::Form);
    let a_fill = key("client-a", "aa11", TaskKind::Fill);
    let a_other = key("client-a", "bb22", TaskKind::Doc);
    let a_third = key("client-a", "cc33", TaskKind::Form);
    let b_doc = key("client-b", "aa11", TaskKind::Doc);
    for task_key in [&a_doc, &a_form, &a_fill, &a_other, &a_third, &b_doc] {
        insert(store, task_key, at(0)).await;
    }

    let one = store.clear(&ClearScope::Task(a_doc.clone())).await.unwrap();
    let by_hash = store
        .clear(&ClearScope::Hash {
            client_id: "client-a".into(),
            sha256: "aa11".into(),
        })
        .await
        .unwrap();
    let by_client = store
        .clear(&ClearScope::Client("client-a".into()))
        .await
        .unwrap();
    let nothing_left = store
        .clear(&ClearScope::Client("client-a".into()))
        .await
        .unwrap();

    assert_eq!(one, 1);
    assert_eq!(by_hash, 2);
    assert_eq!(by_client, 2);
    assert_eq!(nothing_left, 0);
    assert_eq!(store.touch(&a_other, at(1)).await.unwrap(), None);
    assert_eq!(
        store.touch(&b_doc, at(1)).await.unwrap(),
        Some(TaskState::Processing)
    );
}

async fn retention_deletes_idle_tasks(harness: Harness) {
    let store = harness.store.as_ref();
    let polled = key("client-a", "aa11", TaskKind::Doc);
    let idle = key("client-a", "bb22", TaskKind::Doc);
    insert(store, &polled, at(0)).await;
    insert(store, &idle, at(0)).await;
    store.touch(&polled, at(3600)).await.unwrap();

    let deleted = store.delete_idle(at(1800)).await.unwrap();

    assert_eq!(deleted, 1);
    assert_eq!(store.touch(&idle, at(3601)).await.unwrap(), None);
    assert_eq!(
        store.touch(&polled, at(3601)).await.unwrap(),
        Some(TaskState::Processing)
    );
    let claimed = store.claim_next(at(3602)).await.unwrap().unwrap();
    assert_eq!(claimed.key, polled);
    assert!(store.claim_next(at(3602)).await.unwrap().is_none());
}

async fn requeue_returns_running_tasks_to_queue(harness: Harness) {
    let store = harness.store.as_ref();
    let first = key("client-a", "aa11", TaskKind::Doc);
    let second = key("client-a", "bb22", TaskKind::Doc);
    insert(store, &first, at(0)).await;
    insert(store, &second, at(1)).await;
    let crashed = store.claim_next(at(2)).await.unwrap().unwrap();

    let requeued = store.requeue_running().await.unwrap();
    let stats = store.stats(at(3)).await.unwrap();
    let reclaimed = store.claim_next(at(4)).await.unwrap().unwrap();

    assert_eq!(requeued, 1);
    assert_eq!(stats.queued, 2);
    assert_eq!(stats.running, 0);
    assert_eq!(reclaimed.key, first);
    assert_eq!(reclaimed.id, crashed.id);
    assert_eq!(reclaimed.content, crashed.content);
    assert_eq!(store.requeue_running().await.unwrap(), 1);
}

async fn stats_count_every_state(harness: Harness) {
    let store = harness.store.as_ref();
    let empty = store.stats(at(0)).await.unwrap();
    assert_eq!(
        empty.queued + empty.running + empty.completed + empty.failed,
        0
    );
    assert_eq!(empty.oldest_queued_age, None);

    for (index, hash) in ["aa11", "bb22", "cc33", "dd44", "ee55"].iter().enumerate() {
        insert(
            store,
            &key("client-a", hash, TaskKind::Doc),
            at(index as u64 * 10),
        )
        .await;
    }
    let completed = store.claim_next(at(100)).await.unwrap().unwrap();
    let failed = store.claim_next(at(100)).await.unwrap().unwrap();
    store.claim_next(at(100)).await.unwrap().unwrap();
    store
        .finish(completed.id, Outcome::Completed("result".into()), at(101))
        .await
        .unwrap();
    store
        .finish(failed.id, Outcome::Failed(ErrorKind::LlmFailure), at(101))
        .await
        .unwrap();

    let stats = store.stats(at(130)).await.unwrap();

    assert_eq!(stats.queued, 2);
    assert_eq!(stats.running, 1);
    assert_eq!(stats.completed, 1);
    assert_eq!(stats.failed, 1);
    // The oldest queued task was created at 30 s.
    assert_eq!(stats.oldest_queued_age, Some(Duration::from_secs(100)));
}

async fn racing_writes_lose_nothing(harness: Harness) {
    const TASKS: usize = 200;
    const WORKERS: usize = 6;
    let store = Arc::clone(&harness.store);

    let mut submitters = tokio::task::JoinSet::new();
    for index in 0..TASKS {
        let store = Arc::clone(&store);
        submitters.spawn(async move {
            let task_key = key(
                &format!("client-{}", index % 7),
                &format!("{index:04x}"),
                TaskKind::Doc,
            );
            store
                .insert(new_task(&task_key, at(index as u64)))
                .await
                .unwrap();
            store.touch(&task_key, at(index as u64)).await.unwrap();
        });
    }

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let store = Arc::clone(&store);
        workers.spawn(async move {
            let mut finished = 0;
            let mut idle_rounds = 0;
            // Bounded: at most TASKS claims plus some idle rounds while submits trickle in.
            for _ in 0..(TASKS * 20) {
                match store.claim_next(at(0)).await.unwrap() {
                    Some(task) => {
                        let outcome = Outcome::Completed(format!("result-{}", task.key.sha256));
                        let stored = store.finish(task.id, outcome, at(1)).await.unwrap();
                        assert_eq!(stored, Finished::Stored);
                        finished += 1;
                        idle_rounds = 0;
                    }
                    None if idle_rounds > 50 => break,
                    None => {
                        idle_rounds += 1;
                        tokio::task::yield_now().await;
                    }
                }
            }
            finished
        });
    }

    submitters.join_all().await;
    let mut total: usize = workers.join_all().await.into_iter().sum();
    // Workers may have given up before the last submits landed; drain the rest.
    while let Some(task) = store.claim_next(at(0)).await.unwrap() {
        let outcome = Outcome::Completed(format!("result-{}", task.key.sha256));
        store.finish(task.id, outcome, at(1)).await.unwrap();
        total += 1;
    }

    assert_eq!(total, TASKS);
    let stats = store.stats(at(2)).await.unwrap();
    assert_eq!(stats.completed, TASKS as u64);
    for index in 0..TASKS {
        let task_key = key(
            &format!("client-{}", index % 7),
            &format!("{index:04x}"),
            TaskKind::Doc,
        );
        let expected = TaskState::Completed {
            result: format!("result-{index:04x}"),
        };
        assert_eq!(store.touch(&task_key, at(3)).await.unwrap(), Some(expected));
    }
}

async fn ping_succeeds(harness: Harness) {
    harness.store.ping().await.unwrap();
}

/// Checks the SQLite file directly: the finished task's row contains no
/// ciphertext or wrapped key, and neither do the file's free pages.
fn assert_no_ciphertext_left(path: &PathBuf, task: &NewTask) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let (content, wrapped_key): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT content, aes_key FROM tasks WHERE client_id = ?1 AND sha256 = ?2 AND kind = ?3",
            (
                &task.key.client_id,
                &task.key.sha256,
                task.key.kind.as_str(),
            ),
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(content, None);
    assert_eq!(wrapped_key, None);

    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let bytes = std::fs::read(path).unwrap();
    assert!(
        !contains(&bytes, task.content.as_bytes()),
        "content bytes remain in {}",
        path.display()
    );
    assert!(
        !contains(&bytes, task.wrapped_key.as_bytes()),
        "wrapped key bytes remain in {}",
        path.display()
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn sqlite_store_persists_across_reopen() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let task_key = key("client-a", "aa11", TaskKind::Doc);

    runtime.block_on(async {
        let store = SqliteStore::open(dir.path()).unwrap();
        insert(&store, &task_key, at(0)).await;
    });
    let state = runtime.block_on(async {
        let store = SqliteStore::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
        store.touch(&task_key, at(1)).await.unwrap()
    });

    assert_eq!(state, Some(TaskState::Processing));
}

#[test]
fn sqlite_store_rejects_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);

    let error = SqliteStore::open(&path).unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Database);
    assert!(error.message().contains("schema version 99"), "{error}");
}

#[test]
fn sqlite_store_reports_unopenable_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-directory").join("docsnap.db");

    let error = SqliteStore::open(&path).unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Database);
    assert!(error.message().contains("missing-directory"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_waits_out_a_held_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let options = docsnap_core::store::SqliteOptions {
        busy_timeout: Duration::from_millis(50),
        max_connections: 2,
    };
    let store = SqliteStore::open_with(dir.path(), options).unwrap();
    let task_key = key("client-a", "aa11", TaskKind::Doc);

    // Another connection, as another process would, holds the write lock
    // longer than the busy timeout, so the insert must back off and retry.
    let path = store.path().to_path_buf();
    let (locked_sender, locked_receiver) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(path).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        locked_sender.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        tx.commit().unwrap();
    });
    locked_receiver.recv().unwrap();

    let inserted = store.insert(new_task(&task_key, at(0))).await.unwrap();
    holder.join().unwrap();

    assert!(matches!(inserted, Inserted::Created(_)), "{inserted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_stores_on_one_file_create_one_task() {
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<Arc<dyn TaskStore>> = (0..2)
        .map(|_| Arc::new(SqliteStore::open(dir.path()).unwrap()) as Arc<dyn TaskStore>)
        .collect();
    let task_key = key("client-a", "aa11", TaskKind::Fill);

    let mut racers = tokio::task::JoinSet::new();
    for index in 0..32 {
        let store = Arc::clone(&stores[index % 2]);
        let task = new_task(&task_key, at(0));
        racers.spawn(async move { store.insert(task).await });
    }
    let outcomes: Vec<Inserted> = racers
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let created = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Inserted::Created(_)))
        .count();
    assert_eq!(created, 1);
    assert_eq!(stores[1].stats(at(0)).await.unwrap().queued, 1);
}

//! Task storage: the [`TaskStore`] trait with a SQLite and an in-memory
//! store, and the [`ResultCache`] that shares the SQLite file format.
//!
//! A store keeps only what the client sent (the encrypted `content` and the
//! RSA-wrapped AES key) until a task finishes, then only the sealed result or
//! the error code. It never receives plaintext.

mod cache;
mod memory;
mod sqlite;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

pub use cache::{CacheKey, CacheKeyBuilder, CacheOptions, CacheStats, ResultCache};
pub use memory::MemoryStore;
pub use sqlite::{SqliteOptions, SqliteStore};

use crate::envelope::Cipher;
use crate::error::{ErrorKind, Result};
use crate::types::{TaskKey, TaskState};

/// The store's id of one task row; a task cleared and submitted again gets a
/// new id, so a worker still busy with the old row cannot finish the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub i64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A task to insert: the client's ciphertext and wrapped key, never plaintext.
#[derive(Clone)]
pub struct NewTask {
    /// The task's identity.
    pub key: TaskKey,
    /// The cipher of `content` and of the result.
    pub cipher: Cipher,
    /// The client's `content` text as sent (base64 ciphertext).
    pub content: String,
    /// The client's `aes_key` text as sent (base64 RSA ciphertext).
    pub wrapped_key: String,
    /// Submission time; also the first access time.
    pub created_at: SystemTime,
}

impl fmt::Debug for NewTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewTask")
            .field("key", &self.key)
            .field("cipher", &self.cipher)
            .field("content_len", &self.content.len())
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`TaskStore::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The task was new and is now queued.
    Created(TaskId),
    /// A task with the same key existed; its access time was updated.
    Exists(TaskState),
}

/// A queued task that a worker claimed; the store now marks it running.
#[derive(Clone)]
pub struct ClaimedTask {
    /// The row id to pass to [`TaskStore::finish`].
    pub id: TaskId,
    /// The task's identity.
    pub key: TaskKey,
    /// The cipher of `content` and of the result.
    pub cipher: Cipher,
    /// The client's `content` text as stored.
    pub content: String,
    /// The client's wrapped AES key as stored.
    pub wrapped_key: String,
    /// Submission time; the processing timeout counts from here.
    pub created_at: SystemTime,
}

impl fmt::Debug for ClaimedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedTask")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("cipher", &self.cipher)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The end state a worker stores for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The sealed result, ready to send.
    Completed(String),
    /// A task-level error code.
    Failed(ErrorKind),
}

/// The outcome of [`TaskStore::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// The outcome was stored.
    Stored,
    /// The task had already ended (for example by the processing timeout);
    /// its state is unchanged.
    AlreadyFinal(TaskState),
    /// The task no longer exists, because it was cleared or expired.
    Missing,
}

/// The set of tasks that [`TaskStore::clear`] deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearScope {
    /// Every task of the client.
    Client(String),
    /// The client's tasks of this hash, of every kind.
    Hash {
        /// The client's id.
        client_id: String,
        /// Lowercase hex hash.
        sha256: String,
    },
    /// Exactly one task.
    Task(TaskKey),
}

/// Task counts and queue age, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Tasks waiting for a worker: the queue depth.
    pub queued: u64,
    /// Tasks a worker is processing.
    pub running: u64,
    /// Tasks with a stored result.
    pub completed: u64,
    /// Tasks with a stored error code, including timed-out ones.
    pub failed: u64,
    /// Age of the oldest queued task since submission; `None` when the
    /// queue is empty.
    pub oldest_queued_age: Option<Duration>,
}

/// Persistent task state shared by the service's submit path and workers.
///
/// Every method is atomic. A call that finds another call holding a lock
/// waits and retries instead of failing at once. Times are passed in by the caller so that retention and
/// timeouts are testable without waiting.
#[async_trait]
pub trait TaskStore: Send + Sync + fmt::Debug {
    /// Inserts a queued task unless one with the same key exists, in which
    /// case it records `task.created_at` as that task's access time.
    async fn insert(&self, task: NewTask) -> Result<Inserted>;

    /// Returns a task's state and records `now` as its access time; `None`
    /// when the task does not exist. A store may skip the write while the
    /// recorded time is less than a minute old, as the SQLite store does.
    async fn touch(&self, key: &TaskKey, now: SystemTime) -> Result<Option<TaskState>>;

    /// Marks the oldest queued task as running and returns it.
    async fn claim_next(&self, now: SystemTime) -> Result<Option<ClaimedTask>>;

    /// Stores a task's outcome and drops its ciphertext and wrapped key, but
    /// only while the task is still queued or running.
    async fn finish(&self, id: TaskId, outcome: Outcome, now: SystemTime) -> Result<Finished>;

    /// Puts tasks left running by a crashed process back in the queue and
    /// returns how many. Call once at start, before any worker claims.
    ///
    /// NOTE: this assumes one process with workers per store. A second such
    /// process starting would requeue tasks the first is still running, and
    /// both would run them; the first result stored wins.
    async fn requeue_running(&self) -> Result<u64>;

    /// Deletes tasks and returns how many.
    async fn clear(&self, scope: &ClearScope) -> Result<u64>;

    /// Deletes tasks last accessed before `accessed_before` and returns how many.
    async fn delete_idle(&self, accessed_before: SystemTime) -> Result<u64>;

    /// Fails every queued or running task created before `created_before`
    /// with `PROCESSING_TIMEOUT` and returns their keys.
    async fn time_out(&self, created_before: SystemTime, now: SystemTime) -> Result<Vec<TaskKey>>;

    /// Counts tasks by state.
    async fn stats(&self, now: SystemTime) -> Result<StoreStats>;

    /// Checks cheaply that the store can serve requests.
    async fn ping(&self) -> Result<()>;
}

/// The lifecycle state of a stored task, finer than [`TaskState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Running,
    Completed,
    Failed,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Running => "running",
            Phase::Completed => "completed",
            Phase::Failed => "failed",
        }
    }
}

/// Milliseconds since the Unix epoch, saturating at both ends.
fn unix_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

fn from_unix_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

fn age_since(now: SystemTime, millis: i64) -> Duration {
    now.duration_since(from_unix_millis(millis))
        .unwrap_or(Duration::ZERO)
}

/// Builds the client-visible state of a finished task from its stored error
/// code; an unknown code (written by a newer docsnap) reads as
/// `PROCESSING_ERROR`.
fn failed_state(code: &str) -> TaskState {
    let error = ErrorKind::from_code(code).unwrap_or_else(|| {
        tracing::warn!(
            code,
            "unknown error code in the task store; reporting PROCESSING_ERROR"
        );
        ErrorKind::ProcessingError
    });
    TaskState::Failed { error }
}

/// Converts a cipher to the store's own label, which stays fixed even if the
/// protocol's spelling of the field changes.
fn cipher_label(cipher: Cipher) -> &'static str {
    match cipher {
        Cipher::Cbc => "CBC",
        Cipher::A256Gcm => "A256GCM",
    }
}

fn cipher_from_label(label: &str) -> Option<Cipher> {
    match label {
        "CBC" => Some(Cipher::Cbc),
        "A256GCM" => Some(Cipher::A256Gcm),
        _ => None,
    }
}

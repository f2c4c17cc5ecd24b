//! The task service: the protocol's submit, poll and clear semantics without
//! HTTP, a bounded worker pool, and the sweeper for timeouts and retention.

mod request;
mod worker;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use request::{ProcessRequest, parse_clear, parse_payload};

use crate::envelope::{
    AesKey, Cipher, ServerKey, associated_data, content_hash_matches, open_json,
};
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::{InnerPayload, Pipeline};
use crate::store::{Inserted, NewTask, StoreStats, TaskStore};
use crate::types::{TaskKey, TaskState};

/// Settings of a [`TaskService`].
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Maximum number of tasks processed at once; 0 runs no workers, so
    /// tasks stay queued for another process sharing the store.
    pub workers: usize,
    /// How long a task is kept after its last submit or poll.
    pub retention: Duration,
    /// How long after submission a task may stay queued or running before it
    /// fails with `PROCESSING_TIMEOUT`.
    pub processing_timeout: Duration,
    /// Period of the sweep that applies timeouts and retention and wakes idle
    /// workers as a safety net.
    pub sweep_interval: Duration,
    /// Maximum number of pages in one `doc` or `form` task.
    pub max_pages: usize,
    /// Retries of transient pipeline errors.
    pub retry: RetryPolicy,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            retention: Duration::from_secs(24 * 60 * 60),
            processing_timeout: Duration::from_secs(10 * 60),
            sweep_interval: Duration::from_secs(60),
            max_pages: 20,
            retry: RetryPolicy::default(),
        }
    }
}

/// Exponential backoff for transient pipeline errors.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total runs of the pipeline per task, the first included; 0 counts as 1.
    pub attempts: u32,
    /// Wait before the first retry; each later wait doubles.
    pub initial_backoff: Duration,
    /// Upper bound of one wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// The protocol's task semantics over a [`TaskStore`], a [`ServerKey`] and a
/// [`Pipeline`]. Cheap to clone: clones share one service.
#[derive(Clone)]
pub struct TaskService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn TaskStore>,
    key: Arc<ServerKey>,
    pipeline: Arc<dyn Pipeline>,
    config: ServiceConfig,
    /// Wakes an idle worker when a task is queued.
    wake: Notify,
    shutdown: watch::Sender<bool>,
    /// The workers and the sweeper: `None` before start, empty after shutdown.
    background: Mutex<Option<JoinSet<()>>>,
}

impl fmt::Debug for TaskService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskService")
            .field("store", &self.inner.store)
            .field("pipeline", &self.inner.pipeline)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl TaskService {
    /// Creates a stopped service; call [`TaskService::start`] to run workers.
    pub fn new(
        store: Arc<dyn TaskStore>,
        key: Arc<ServerKey>,
        pipeline: Arc<dyn Pipeline>,
        config: ServiceConfig,
    ) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                store,
                key,
                pipeline,
                config,
                wake: Notify::new(),
                shutdown,
                background: Mutex::new(None),
            }),
        }
    }

    /// Requeues tasks a crashed process left running, then spawns the
    /// workers and the sweeper on the current tokio runtime.
    ///
    /// Errors: `Database` if the store fails; `InvalidConfig` if the service
    /// was already started.
    pub async fn start(&self) -> Result<()> {
        let inner = &self.inner;
        // Claim the slot before any await, so two racing starts cannot both pass.
        let claimed = inner.background.lock().ok().is_some_and(|mut slot| {
            let free = slot.is_none();
            if free {
                *slot = Some(JoinSet::new());
            }
            free
        });
        if !claimed {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "the task service is already started (or was shut down): create a new TaskService",
            ));
        }

        let requeued = match inner.store.requeue_running().await {
            Ok(requeued) => requeued,
            Err(err) => {
                if let Ok(mut slot) = inner.background.lock() {
                    *slot = None;
                }
                return Err(err);
            }
        };
        if requeued > 0 {
            tracing::warn!(
                requeued,
                "requeued tasks left running by an earlier process"
            );
        }

        let mut tasks = JoinSet::new();
        for index in 0..inner.config.workers {
            let inner = Arc::clone(inner);
            tasks.spawn(async move { worker::run_worker(inner, index).await });
        }
        let sweeper = Arc::clone(inner);
        tasks.spawn(async move { worker::run_sweeper(sweeper).await });

        if let Ok(mut slot) = inner.background.lock() {
            *slot = Some(tasks);
        }
        tracing::info!(workers = inner.config.workers, "task service started");
        Ok(())
    }

    /// Handles a `POST /process` body: polls an existing task or verifies,
    /// stores and queues a new one.
    ///
    /// Returns the task's state, or a request-level error whose kind is the
    /// protocol code, in the protocol's order of checks.
    pub async fn submit(&self, body: &Value) -> Result<TaskState> {
        let request = ProcessRequest::from_json(body)?;
        self.submit_request(&request).await
    }

    /// Handles a typed `/process` request; see [`TaskService::submit`].
    pub async fn submit_request(&self, request: &ProcessRequest) -> Result<TaskState> {
        let inner = &self.inner;
        let key = &request.key;
        let now = SystemTime::now();

        // A request for an existing task gets its state; content is not checked again.
        if let Some(state) = inner.store.touch(key, now).await? {
            tracing::debug!(task = %key, "polled");
            return Ok(state);
        }
        if !request.has_content {
            return Err(Error::new(
                ErrorKind::TaskNotFound,
                format!("no task {key}: submit it with has_content true, content and aes_key"),
            ));
        }
        let (Some(content), Some(wrapped_key)) = (&request.content, &request.aes_key) else {
            return Err(Error::new(
                ErrorKind::MissingContent,
                "has_content is true but content or aes_key is missing or not a string",
            ));
        };

        if !content_hash_matches(content, &key.sha256) {
            return Err(Error::new(
                ErrorKind::Sha256Mismatch,
                "SHA256 is not the SHA-256 of content: hash the base64 content text exactly as sent",
            ));
        }
        let sealed = SealedPayload {
            key: key.clone(),
            cipher: request.cipher,
            content: content.clone(),
            wrapped_key: wrapped_key.clone(),
        };
        open_payload(inner, sealed).await?;

        let task = NewTask {
            key: key.clone(),
            cipher: request.cipher,
            content: content.clone(),
            wrapped_key: wrapped_key.clone(),
            created_at: now,
        };
        match inner.store.insert(task).await? {
            Inserted::Created(id) => {
                tracing::info!(task = %key, id = %id, cipher = %request.cipher, "task queued");
                inner.wake.notify_one();
                Ok(TaskState::Processing)
            }
            Inserted::Exists(state) => {
                tracing::debug!(task = %key, "a racing submit created the task first");
                Ok(state)
            }
        }
    }

    /// Handles a `POST /clear` body and returns the number of deleted tasks.
    ///
    /// Errors: `MissingRequiredField` without a string `client_id`;
    /// `InvalidType` for an unknown `type`; `Database`.
    pub async fn clear(&self, body: &Value) -> Result<u64> {
        let scope = parse_clear(body)?;
        let cleared = self.inner.store.clear(&scope).await?;
        tracing::info!(?scope, cleared, "cleared tasks");
        Ok(cleared)
    }

    /// Stops claiming tasks and waits up to `grace` for running ones.
    ///
    /// Queued tasks stay queued. A task still running after `grace` is
    /// abandoned and stays marked running until the next start requeues it.
    pub async fn shutdown(&self, grace: Duration) {
        let inner = &self.inner;
        inner.shutdown.send_replace(true);
        let tasks = inner
            .background
            .lock()
            .ok()
            .and_then(|mut slot| slot.replace(JoinSet::new()));
        let Some(mut tasks) = tasks else {
            return;
        };

        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                if let Err(err) = joined
                    && err.is_panic()
                {
                    tracing::error!(error = %err, "a task service worker panicked");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                abandoned = tasks.len(),
                grace_ms = grace.as_millis() as u64,
                "shutdown grace period ended; abandoned workers' tasks are requeued at the next start"
            );
            tasks.shutdown().await;
        }
        tracing::info!("task service stopped");
    }

    /// Returns the server's RSA key, whose public half clients wrap their AES keys with.
    pub fn server_key(&self) -> &ServerKey {
        &self.inner.key
    }

    /// Returns the service's settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// Counts tasks by state, for metrics.
    pub async fn stats(&self) -> Result<StoreStats> {
        self.inner.store.stats(SystemTime::now()).await
    }

    /// Checks that the store can serve requests, for readiness probes.
    pub async fn ready(&self) -> Result<()> {
        self.inner.store.ping().await
    }
}

/// A task's client-sent ciphertext and wrapped key.
struct SealedPayload {
    key: TaskKey,
    cipher: Cipher,
    content: String,
    wrapped_key: String,
}

/// Unwraps the AES key, decrypts the content and checks the payload's
/// structure on the blocking thread pool, because RSA and AES over megabytes
/// of pages would stall the async runtime.
async fn open_payload(inner: &Inner, sealed: SealedPayload) -> Result<(AesKey, InnerPayload)> {
    let server_key = Arc::clone(&inner.key);
    let max_pages = inner.config.max_pages;

    let opened = tokio::task::spawn_blocking(move || {
        let aes_key = server_key.unwrap_key(&sealed.wrapped_key)?;
        let aad = associated_data(&sealed.key.client_id, sealed.key.kind);
        let value = open_json(&aes_key, sealed.cipher, &sealed.content, &aad)?;
        let payload = parse_payload(sealed.key.kind, &value, max_pages)?;
        Ok((aes_key, payload))
    })
    .await;

    opened.map_err(|err| {
        Error::new(
            ErrorKind::ProcessingError,
            "decrypting the content panicked or was cancelled",
        )
        .with_source(err)
    })?
}

//! Workers that claim and process queued tasks, and the periodic sweeper.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::AbortHandle;

use super::{Inner, SealedPayload, open_payload};
use crate::envelope::{associated_data, seal};
use crate::error::{Error, ErrorKind};
use crate::pipeline::InnerPayload;
use crate::store::{ClaimedTask, Finished, Outcome};
use crate::types::{TaskKey, TaskKind, TaskState};

/// Wait after a failed claim before the next, so a broken store is not hammered.
const CLAIM_ERROR_BACKOFF: Duration = Duration::from_secs(1);
/// Attempts to store an outcome before the task is left to the timeout sweep.
const FINISH_ATTEMPTS: u32 = 3;

/// Claims and processes tasks until shutdown; sleeps on the wake-up signal
/// while the queue is empty.
pub(super) async fn run_worker(inner: Arc<Inner>, index: usize) {
    let mut shutdown = inner.shutdown.subscribe();
    tracing::debug!(worker = index, "worker started");

    while !*shutdown.borrow_and_update() {
        // Registered before the claim, so a task queued between an empty
        // claim and the wait still wakes this worker.
        let woken = inner.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();

        match inner.store.claim_next(SystemTime::now()).await {
            Ok(Some(task)) => {
                process(&inner, task).await;
                continue;
            }
            Ok(None) => {
                tokio::select! {
                    () = &mut woken => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(err) => {
                tracing::error!(worker = index, error = %err, "claiming a task failed; retrying in 1 s");
                tokio::select! {
                    () = tokio::time::sleep(CLAIM_ERROR_BACKOFF) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    tracing::debug!(worker = index, "worker stopped");
}

/// Applies timeouts and retention every sweep interval until shutdown.
pub(super) async fn run_sweeper(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        sweep(&inner).await;
        tokio::select! {
            () = tokio::time::sleep(inner.config.sweep_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn sweep(inner: &Inner) {
    let now = SystemTime::now();

    let created_before = now
        .checked_sub(inner.config.processing_timeout)
        .unwrap_or(now);
    match inner.store.time_out(created_before, now).await {
        Ok(keys) => {
            for key in keys {
                tracing::warn!(task = %key, "task timed out; it now fails with PROCESSING_TIMEOUT");
            }
        }
        Err(err) => tracing::error!(error = %err, "timeout sweep failed"),
    }

    let accessed_before = now.checked_sub(inner.config.retention).unwrap_or(now);
    match inner.store.delete_idle(accessed_before).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "deleted tasks past retention"),
        Err(err) => tracing::error!(error = %err, "retention sweep failed"),
    }

    // Safety net: a lost wake-up delays a task by one sweep interval at most.
    inner.wake.notify_waiters();
}

async fn process(inner: &Inner, task: ClaimedTask) {
    let key = task.key.clone();
    let id = task.id;
    tracing::info!(task = %key, id = %id, "processing started");

    let elapsed = SystemTime::now()
        .duration_since(task.created_at)
        .unwrap_or(Duration::ZERO);
    let remaining = inner.config.processing_timeout.saturating_sub(elapsed);
    let outcome = match tokio::time::timeout(remaining, compute(inner, task)).await {
        Ok(Ok(sealed)) => Outcome::Completed(sealed),
        Ok(Err(kind)) => Outcome::Failed(kind),
        Err(_) => {
            tracing::warn!(task = %key, "processing timed out; stopping the pipeline");
            Outcome::Failed(ErrorKind::ProcessingTimeout)
        }
    };

    store_outcome(inner, &key, id, outcome).await;
}

/// Decrypts the stored payload again, runs the pipeline and seals the result.
async fn compute(inner: &Inner, task: ClaimedTask) -> Result<String, ErrorKind> {
    let key = &task.key;
    let failed = |stage: &str, err: Error| {
        tracing::warn!(task = %key, code = err.code(), error = %err, "{stage} failed");
        err.kind()
    };

    let sealed = SealedPayload {
        key: key.clone(),
        cipher: task.cipher,
        content: task.content,
        wrapped_key: task.wrapped_key,
    };
    let (aes_key, payload) = open_payload(inner, sealed)
        .await
        .map_err(|err| failed("decrypting the stored content", err))?;
    let aad = associated_data(&key.client_id, key.kind);

    let result = run_pipeline(inner, key, payload).await?;

    let plaintext = serde_json::to_vec(&result).map_err(|err| {
        failed(
            "serialising the result",
            Error::new(
                ErrorKind::ProcessingError,
                "the result JSON could not be serialised",
            )
            .with_source(err),
        )
    })?;
    seal(&aes_key, task.cipher, &plaintext, &aad).map_err(|err| failed("sealing the result", err))
}

/// Runs the pipeline, retrying transient errors with exponential backoff.
/// Each run is its own tokio task, so a panic fails only this task.
async fn run_pipeline(
    inner: &Inner,
    key: &TaskKey,
    payload: InnerPayload,
) -> Result<serde_json::Value, ErrorKind> {
    let policy = &inner.config.retry;
    let attempts = policy.attempts.max(1);
    let mut backoff = policy.initial_backoff;

    for attempt in 1..=attempts {
        let run = spawn_run(inner, key.kind, payload.clone());
        let error = match run.await {
            Ok(Ok(result)) => return Ok(result),
            Ok(Err(error)) => error,
            Err(join_error) => {
                tracing::error!(task = %key, error = %join_error, "the pipeline panicked");
                return Err(ErrorKind::ProcessingError);
            }
        };

        if !error.is_transient() || attempt == attempts {
            tracing::warn!(task = %key, attempt, code = error.code(), error = %error, "pipeline failed");
            return Err(client_visible(error.kind()));
        }
        tracing::warn!(
            task = %key,
            attempt,
            backoff_ms = backoff.as_millis() as u64,
            code = error.code(),
            error = %error,
            "transient pipeline error; retrying"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
    Err(ErrorKind::ProcessingError)
}

/// Spawns one pipeline run; dropping the returned future (on timeout or
/// shutdown) aborts the run.
fn spawn_run(
    inner: &Inner,
    kind: TaskKind,
    payload: InnerPayload,
) -> impl Future<Output = Result<crate::Result<serde_json::Value>, tokio::task::JoinError>> {
    let pipeline = Arc::clone(&inner.pipeline);
    let handle = tokio::spawn(async move { pipeline.run(kind, payload).await });
    let guard = AbortOnDrop(handle.abort_handle());
    async move {
        let joined = handle.await;
        drop(guard);
        joined
    }
}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Maps kinds that clients must not see onto `PROCESSING_ERROR`.
fn client_visible(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::InvalidConfig | ErrorKind::Database => ErrorKind::ProcessingError,
        other => other,
    }
}

async fn store_outcome(inner: &Inner, key: &TaskKey, id: crate::store::TaskId, outcome: Outcome) {
    let code = match &outcome {
        Outcome::Completed(_) => "completed",
        Outcome::Failed(kind) => kind.code(),
    };

    for attempt in 1..=FINISH_ATTEMPTS {
        match inner
            .store
            .finish(id, outcome.clone(), SystemTime::now())
            .await
        {
            Ok(Finished::Stored) => {
                tracing::info!(task = %key, id = %id, outcome = code, "task finished");
                return;
            }
            Ok(Finished::AlreadyFinal(state)) => {
                let current = match state {
                    TaskState::Processing => "processing",
                    TaskState::Completed { .. } => "completed",
                    TaskState::Failed { error } => error.code(),
                };
                tracing::warn!(task = %key, id = %id, outcome = code, current, "task had already ended; outcome discarded");
                return;
            }
            Ok(Finished::Missing) => {
                tracing::info!(task = %key, id = %id, outcome = code, "task was cleared or expired; outcome discarded");
                return;
            }
            Err(err) => {
                tracing::error!(task = %key, id = %id, attempt, error = %err, "storing the task outcome failed");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
        }
    }
    tracing::error!(task = %key, id = %id, "gave up storing the outcome; the timeout sweep will fail the task");
}

//! An in-memory task store for tests and embedded use; tasks die with the process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{
    ClaimedTask, ClearScope, Finished, Inserted, NewTask, Outcome, Phase, StoreStats, TaskId,
    TaskStore, age_since, from_unix_millis, unix_millis,
};
use crate::envelope::Cipher;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{TaskKey, TaskState};

/// A [`TaskStore`] in a mutex-guarded map.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: i64,
    tasks: HashMap<TaskKey, Record>,
    /// Queued tasks ordered by `(created_at, id)`, so claims are oldest first.
    queue: BTreeSet<(i64, TaskId, TaskKey)>,
}

#[derive(Debug)]
struct Record {
    id: TaskId,
    cipher: Cipher,
    phase: Phase,
    content: Option<String>,
    wrapped_key: Option<String>,
    result: Option<String>,
    error: Option<ErrorKind>,
    created_at: i64,
    accessed_at: i64,
}

impl Record {
    fn state(&self) -> TaskState {
        match (self.phase, &self.result, self.error) {
            (Phase::Completed, Some(result), _) => TaskState::Completed {
                result: result.clone(),
            },
            (Phase::Failed, _, Some(error)) => TaskState::Failed { error },
            (Phase::Completed | Phase::Failed, _, _) => TaskState::Failed {
                error: ErrorKind::ProcessingError,
            },
            (Phase::Queued | Phase::Running, _, _) => TaskState::Processing,
        }
    }

    fn is_processing(&self) -> bool {
        matches!(self.phase, Phase::Queued | Phase::Running)
    }

    fn end(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Completed(result) => {
                self.phase = Phase::Completed;
                self.result = Some(result);
            }
            Outcome::Failed(error) => {
                self.phase = Phase::Failed;
                self.error = Some(error);
            }
        }
        self.content = None;
        self.wrapped_key = None;
    }
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| {
            Error::new(
                ErrorKind::Database,
                "the in-memory task store is unusable because a thread panicked while holding its lock",
            )
        })
    }
}

impl Inner {
    fn remove_where(&mut self, keep: impl Fn(&TaskKey, &Record) -> bool) -> u64 {
        let before = self.tasks.len();
        self.tasks.retain(|key, record| keep(key, record));
        let tasks = &self.tasks;
        self.queue
            .retain(|(_, id, key)| tasks.get(key).is_some_and(|record| record.id == *id));
        (before - self.tasks.len()) as u64
    }
}

#[async_trait]
impl TaskStore for MemoryStore {
    async fn insert(&self, task: NewTask) -> Result<Inserted> {
        let mut inner = self.lock()?;
        let now = unix_millis(task.created_at);

        if let Some(record) = inner.tasks.get_mut(&task.key) {
            record.accessed_at = now;
            return Ok(Inserted::Exists(record.state()));
        }

        inner.next_id += 1;
        let id = TaskId(inner.next_id);
        inner.queue.insert((now, id, task.key.clone()));
        let record = Record {
            id,
            cipher: task.cipher,
            phase: Phase::Queued,
            content: Some(task.content),
            wrapped_key: Some(task.wrapped_key),
            result: None,
            error: None,
            created_at: now,
            accessed_at: now,
        };
        inner.tasks.insert(task.key, record);
        Ok(Inserted::Created(id))
    }

    async fn touch(&self, key: &TaskKey, now: SystemTime) -> Result<Option<TaskState>> {
        let mut inner = self.lock()?;
        Ok(inner.tasks.get_mut(key).map(|record| {
            record.accessed_at = unix_millis(now);
            record.state()
        }))
    }

    async fn claim_next(&self, _now: SystemTime) -> Result<Option<ClaimedTask>> {
        let mut inner = self.lock()?;
        let Some((created_at, id, key)) = inner.queue.pop_first() else {
            return Ok(None);
        };
        let Some(record) = inner.tasks.get_mut(&key) else {
            return Ok(None);
        };
        record.phase = Phase::Running;
        Ok(Some(ClaimedTask {
            id,
            key,
            cipher: record.cipher,
            content: record.content.clone().unwrap_or_default(),
            wrapped_key: record.wrapped_key.clone().unwrap_or_default(),
            created_at: from_unix_millis(created_at),
        }))
    }

    async fn finish(&self, id: TaskId, outcome: Outcome, _now: SystemTime) -> Result<Finished> {
        let mut inner = self.lock()?;
        let Some(key) = inner
            .tasks
            .iter()
            .find(|(_, record)| record.id == id)
            .map(|(key, _)| key.clone())
        else {
            return Ok(Finished::Missing);
        };
        let Some(record) = inner.tasks.get_mut(&key) else {
            return Ok(Finished::Missing);
        };
        if !record.is_processing() {
            return Ok(Finished::AlreadyFinal(record.state()));
        }
        let created_at = record.created_at;
        record.end(outcome);
        inner.queue.remove(&(created_at, id, key));
        Ok(Finished::Stored)
    }

    async fn requeue_running(&self) -> Result<u64> {
        let mut inner = self.lock()?;
        let mut requeued = Vec::new();
        for (key, record) in &mut inner.tasks {
            if record.phase == Phase::Running {
                record.phase = Phase::Queued;
                requeued.push((record.created_at, record.id, key.clone()));
            }
        }
        let count = requeued.len() as u64;
        inner.queue.extend(requeued);
        Ok(count)
    }

    async fn clear(&self, scope: &ClearScope) -> Result<u64> {
        let mut inner = self.lock()?;
        let count = match scope {
            ClearScope::Client(client_id) => {
                inner.remove_where(|key, _| key.client_id != *client_id)
            }
            ClearScope::Hash { client_id, sha256 } => {
                inner.remove_where(|key, _| !(key.client_id == *client_id && key.sha256 == *sha256))
            }
            ClearScope::Task(task) => inner.remove_where(|key, _| key != task),
        };
        Ok(count)
    }

    async fn delete_idle(&self, accessed_before: SystemTime) -> Result<u64> {
        let cutoff = unix_millis(accessed_before);
        let mut inner = self.lock()?;
        Ok(inner.remove_where(|_, record| record.accessed_at >= cutoff))
    }

    async fn time_out(&self, created_before: SystemTime, _now: SystemTime) -> Result<Vec<TaskKey>> {
        let cutoff = unix_millis(created_before);
        let mut inner = self.lock()?;
        let mut timed_out = Vec::new();
        for (key, record) in &mut inner.tasks {
            if record.is_processing() && record.created_at < cutoff {
                record.end(Outcome::Failed(ErrorKind::ProcessingTimeout));
                timed_out.push(key.clone());
            }
        }
        let Inner { tasks, queue, .. } = &mut *inner;
        queue.retain(|(_, _, key)| tasks.get(key).is_some_and(Record::is_processing));
        Ok(timed_out)
    }

    async fn stats(&self, now: SystemTime) -> Result<StoreStats> {
        let inner = self.lock()?;
        let mut stats = StoreStats::default();
        for record in inner.tasks.values() {
            match record.phase {
                Phase::Queued => stats.queued += 1,
                Phase::Running => stats.running += 1,
                Phase::Completed => stats.completed += 1,
                Phase::Failed => stats.failed += 1,
            }
        }
        stats.oldest_queued_age = inner
            .queue
            .first()
            .map(|(created_at, _, _)| age_since(now, *created_at));
        Ok(stats)
    }

    async fn ping(&self) -> Result<()> {
        self.lock().map(drop)
    }
}

//! The SQLite task store: one database file, WAL mode, a small connection pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use tokio::sync::Semaphore;

use super::{
    ClaimedTask, ClearScope, Finished, Inserted, NewTask, Outcome, Phase, StoreStats, TaskId,
    TaskStore, age_since, cipher_from_label, cipher_label, failed_state, from_unix_millis,
    unix_millis,
};
use crate::envelope::Cipher;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{TaskKey, TaskKind, TaskState};

/// Schema migrations; `PRAGMA user_version` counts how many have run.
/// Append new steps, never edit old ones.
const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE tasks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        client_id   TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        cipher      TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed')),
        content     TEXT,
        aes_key     TEXT,
        result      TEXT,
        error       TEXT,
        created_at  INTEGER NOT NULL,
        accessed_at INTEGER NOT NULL,
        started_at  INTEGER,
        finished_at INTEGER,
        UNIQUE (client_id, sha256, kind)
    );
    CREATE INDEX tasks_by_state ON tasks (state, created_at, id);
    CREATE INDEX tasks_by_access ON tasks (accessed_at);
",
    r"
    CREATE TABLE result_cache (
        id          BLOB PRIMARY KEY,
        sealed      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        accessed_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX result_cache_by_access ON result_cache (accessed_at);
",
];

/// Attempts for a statement that still finds the database busy or locked
/// after the busy timeout, as can happen when another process holds a long
/// write lock.
const BUSY_ATTEMPTS: u32 = 6;
const BUSY_FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// How stale a task's recorded access time may get before a poll rewrites
/// it, in milliseconds. Retention is measured in hours, so a minute of
/// staleness never changes which tasks it deletes in practice.
const ACCESS_TIME_RESOLUTION_MILLIS: i64 = 60_000;

/// Connection settings of a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long one statement waits for another connection's write lock
    /// before it backs off and retries.
    pub busy_timeout: Duration,
    /// Maximum number of open connections, and so of concurrent store calls.
    pub max_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}

/// A [`TaskStore`] in a SQLite file, which several processes may open at once.
///
/// Trait calls run on tokio's blocking thread pool, so they never block the
/// runtime's worker threads. [`SqliteStore::open`] blocks; call it at startup.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
    permits: Arc<Semaphore>,
}

#[derive(Debug)]
struct Pool {
    path: PathBuf,
    options: SqliteOptions,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// The database file name inside a data directory.
    pub const FILE_NAME: &'static str = "docsnap.db";

    /// Opens or creates the store with default options. `path` is either an
    /// existing directory, which gets a `docsnap.db` file, or a file path.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens or creates the store with `options`; see [`SqliteStore::open`].
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref();
        let path = if path.is_dir() {
            path.join(Self::FILE_NAME)
        } else {
            path.to_path_buf()
        };
        if options.max_connections == 0 {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "SQLite max_connections is 0: set it to at least 1",
            ));
        }

        probe_file(&path)?;

        let pool = Pool {
            path,
            options,
            idle: Mutex::new(Vec::new()),
        };
        let mut conn = pool.connect()?;
        migrate(&mut conn, &pool)?;
        pool.put_back(conn);

        let permits = Arc::new(Semaphore::new(pool.options.max_connections));
        Ok(Self {
            pool: Arc::new(pool),
            permits,
        })
    }

    /// Returns the database file's path.
    pub fn path(&self) -> &Path {
        &self.pool.path
    }

    /// Runs `op` on a pooled connection on the blocking thread pool,
    /// retrying while the database is busy.
    pub(super) async fn run<T, F>(&self, what: &'static str, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::new(ErrorKind::Database, "the task store is closed"))?;
        let pool = Arc::clone(&self.pool);

        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.take()?;
            let outcome = retry_busy(&mut conn, &op);
            pool.put_back(conn);
            outcome.map_err(|err| pool.error(what, err))
        })
        .await;

        joined.map_err(|err| {
            Error::new(
                ErrorKind::Database,
                format!("task store {what} failed: the blocking call panicked or was cancelled"),
            )
            .with_source(err)
        })?
    }
}

impl Pool {
    fn connect(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|err| self.error("opening the database", err))?;
        configure(&conn, &self.options)
            .map_err(|err| self.error("configuring the database", err))?;
        Ok(conn)
    }

    fn take(&self) -> Result<Connection> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match reused {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.options.max_connections
        {
            idle.push(conn);
        }
    }

    fn error(&self, what: &str, err: rusqlite::Error) -> Error {
        let path = self.path.display();
        let message = if err.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
            format!(
                "SQLite {what} failed: {path} is not a SQLite database; point docsnap at a new \
                 file or at a database docsnap created"
            )
        } else {
            format!("SQLite {what} failed on {path}: {err}")
        };
        Error::new(ErrorKind::Database, message).with_source(err)
    }
}

/// Opens `path` for reading and writing, creating it if missing, so that a
/// missing directory or a denied permission is reported as the I/O error it
/// is; SQLite reports every such case as "unable to open database file".
fn probe_file(path: &Path) -> Result<()> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path);
    opened.map(drop).map_err(|error| {
        let fix = match error.kind() {
            std::io::ErrorKind::NotFound => "; create its directory first",
            std::io::ErrorKind::PermissionDenied => {
                "; give this user read and write access to the file and its directory"
            }
            _ => "",
        };
        Error::new(
            ErrorKind::Database,
            format!("cannot open the database {}: {error}{fix}", path.display()),
        )
        .with_source(error)
    })
}

fn configure(conn: &Connection, options: &SqliteOptions) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    // WAL lets pollers read while a worker writes; NORMAL sync in WAL mode
    // survives a process crash, and loses at most the last commits on power loss.
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            mode,
            "SQLite refused WAL mode; concurrent polling will block on writes"
        );
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Zero deleted content, so a ciphertext dropped at finish does not linger
    // in the database file. The WAL keeps old frames until the next checkpoint.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection, pool: &Pool) -> Result<()> {
    let failed = |err| pool.error("schema migration", err);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(failed)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::new(
            ErrorKind::Database,
            format!(
                "{} has task store schema version {version} but this docsnap knows only up \
                 to {known}: upgrade docsnap or use another data directory",
                pool.path.display()
            ),
        ));
    }

    for (index, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(step).map_err(failed)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(failed)?;
        tracing::info!(version = index + 1, path = %pool.path.display(), "migrated the task store schema");
    }
    tx.commit().map_err(failed)
}

fn retry_busy<T>(
    conn: &mut Connection,
    op: &dyn Fn(&mut Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let mut backoff = BUSY_FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match op(conn) {
            Err(err) if is_busy(&err) && attempt < BUSY_ATTEMPTS => {
                tracing::debug!(attempt, error = %err, "task store busy; retrying");
                std::thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Runs `op` in a `BEGIN IMMEDIATE` transaction, which takes the write lock
/// up front. A deferred transaction that reads first and then writes can fail
/// at once with SQLITE_BUSY, without waiting for the busy timeout.
fn write<T>(
    conn: &mut Connection,
    op: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = op(&tx)?;
    tx.commit()?;
    Ok(value)
}

fn row_state(state: &str, result: Option<String>, error: Option<String>) -> TaskState {
    match (state, result, error) {
        ("completed", Some(result), _) => TaskState::Completed { result },
        ("failed", _, Some(code)) => failed_state(&code),
        ("queued" | "running", _, _) => TaskState::Processing,
        _ => failed_state(""),
    }
}

fn state_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<TaskState> {
    let state: String = row.get(0)?;
    Ok(row_state(&state, row.get(1)?, row.get(2)?))
}

fn parse_kind(column: usize, text: &str) -> rusqlite::Result<TaskKind> {
    text.parse()
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(err)))
}

fn parse_cipher(column: usize, text: &str) -> rusqlite::Result<Cipher> {
    cipher_from_label(text).ok_or_else(|| {
        let message = format!("invalid cipher {text:?} in the tasks table");
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, message.into())
    })
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert(&self, task: NewTask) -> Result<Inserted> {
        self.run("insert", move |conn| {
            write(conn, |tx| {
                let now = unix_millis(task.created_at);
                let key = &task.key;
                let inserted = tx.execute(
                    "INSERT INTO tasks (client_id, sha256, kind, cipher, state, content, aes_key,
                                        created_at, accessed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                     ON CONFLICT (client_id, sha256, kind) DO NOTHING",
                    params![
                        key.client_id,
                        key.sha256,
                        key.kind.as_str(),
                        cipher_label(task.cipher),
                        Phase::Queued.as_str(),
                        task.content,
                        task.wrapped_key,
                        now,
                    ],
                )?;
                if inserted == 1 {
                    return Ok(Inserted::Created(TaskId(tx.last_insert_rowid())));
                }
                let state = tx.query_row(
                    "UPDATE tasks SET accessed_at = ?4
                     WHERE client_id = ?1 AND sha256 = ?2 AND kind = ?3
                     RETURNING state, result, error",
                    params![key.client_id, key.sha256, key.kind.as_str(), now],
                    state_columns,
                )?;
                Ok(Inserted::Exists(state))
            })
        })
        .await
    }

    async fn touch(&self, key: &TaskKey, now: SystemTime) -> Result<Option<TaskState>> {
        let key = key.clone();
        let now_millis = unix_millis(now);
        self.run("touch", move |conn| {
            // Clients poll about once a second, so a write per poll would
            // serialise every poll on the write lock. Read first, and write
            // the access time only when the stored one is stale.
            let found = conn
                .query_row(
                    "SELECT state, result, error, accessed_at FROM tasks
                     WHERE client_id = ?1 AND sha256 = ?2 AND kind = ?3",
                    params![key.client_id, key.sha256, key.kind.as_str()],
                    |row| Ok((state_columns(row)?, row.get::<_, i64>(3)?)),
                )
                .optional()?;
            match found {
                None => Ok(None),
                Some((state, accessed_at))
                    if now_millis.saturating_sub(accessed_at) < ACCESS_TIME_RESOLUTION_MILLIS =>
                {
                    Ok(Some(state))
                }
                Some(_) => write(conn, |tx| {
                    tx.query_row(
                        "UPDATE tasks SET accessed_at = ?4
                         WHERE client_id = ?1 AND sha256 = ?2 AND kind = ?3
                         RETURNING state, result, error",
                        params![key.client_id, key.sha256, key.kind.as_str(), now_millis],
                        state_columns,
                    )
                    .optional()
                }),
            }
        })
        .await
    }

    async fn claim_next(&self, now: SystemTime) -> Result<Option<ClaimedTask>> {
        self.run("claim", move |conn| {
            write(conn, |tx| {
                tx.query_row(
                    "UPDATE tasks SET state = 'running', started_at = ?1
                     WHERE id = (SELECT id FROM tasks WHERE state = 'queued'
                                 ORDER BY created_at, id LIMIT 1)
                     RETURNING id, client_id, sha256, kind, cipher, content, aes_key, created_at",
                    params![unix_millis(now)],
                    |row| {
                        let kind: String = row.get(3)?;
                        let cipher: String = row.get(4)?;
                        let client_id: String = row.get(1)?;
                        let sha256: String = row.get(2)?;
                        Ok(ClaimedTask {
                            id: TaskId(row.get(0)?),
                            key: TaskKey::new(client_id, &sha256, parse_kind(3, &kind)?),
                            cipher: parse_cipher(4, &cipher)?,
                            content: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                            wrapped_key: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            created_at: from_unix_millis(row.get(7)?),
                        })
                    },
                )
                .optional()
            })
        })
        .await
    }

    async fn finish(&self, id: TaskId, outcome: Outcome, now: SystemTime) -> Result<Finished> {
        self.run("finish", move |conn| {
            write(conn, |tx| {
                let (state, result, error) = match &outcome {
                    Outcome::Completed(result) => (Phase::Completed, Some(result.as_str()), None),
                    Outcome::Failed(kind) => (Phase::Failed, None, Some(kind.code())),
                };
                let updated = tx.execute(
                    "UPDATE tasks SET state = ?2, result = ?3, error = ?4, finished_at = ?5,
                                      content = NULL, aes_key = NULL
                     WHERE id = ?1 AND state IN ('queued', 'running')",
                    params![id.0, state.as_str(), result, error, unix_millis(now)],
                )?;
                if updated == 1 {
                    return Ok(Finished::Stored);
                }
                let current = tx
                    .query_row(
                        "SELECT state, result, error FROM tasks WHERE id = ?1",
                        params![id.0],
                        state_columns,
                    )
                    .optional()?;
                Ok(current.map_or(Finished::Missing, Finished::AlreadyFinal))
            })
        })
        .await
    }

    async fn requeue_running(&self) -> Result<u64> {
        self.run("requeue", |conn| {
            write(conn, |tx| {
                tx.execute(
                    "UPDATE tasks SET state = 'queued', started_at = NULL WHERE state = 'running'",
                    [],
                )
                .map(|count| count as u64)
            })
        })
        .await
    }

    async fn clear(&self, scope: &ClearScope) -> Result<u64> {
        let scope = scope.clone();
        self.run("clear", move |conn| {
            write(conn, |tx| {
                let count = match &scope {
                    ClearScope::Client(client_id) => {
                        tx.execute("DELETE FROM tasks WHERE client_id = ?1", params![client_id])?
                    }
                    ClearScope::Hash { client_id, sha256 } => tx.execute(
                        "DELETE FROM tasks WHERE client_id = ?1 AND sha256 = ?2",
                        params![client_id, sha256],
                    )?,
                    ClearScope::Task(key) => tx.execute(
                        "DELETE FROM tasks WHERE client_id = ?1 AND sha256 = ?2 AND kind = ?3",
                        params![key.client_id, key.sha256, key.kind.as_str()],
                    )?,
                };
                Ok(count as u64)
            })
        })
        .await
    }

    async fn delete_idle(&self, accessed_before: SystemTime) -> Result<u64> {
        let cutoff = unix_millis(accessed_before);
        self.run("retention delete", move |conn| {
            write(conn, |tx| {
                tx.execute("DELETE FROM tasks WHERE accessed_at < ?1", params![cutoff])
                    .map(|count| count as u64)
            })
        })
        .await
    }

    async fn time_out(&self, created_before: SystemTime, now: SystemTime) -> Result<Vec<TaskKey>> {
        let cutoff = unix_millis(created_before);
        let now = unix_millis(now);
        self.run("timeout sweep", move |conn| {
            write(conn, |tx| {
                let mut statement = tx.prepare(
                    "UPDATE tasks SET state = 'failed', error = ?3, finished_at = ?2,
                                      content = NULL, aes_key = NULL
                     WHERE state IN ('queued', 'running') AND created_at < ?1
                     RETURNING client_id, sha256, kind",
                )?;
                let rows = statement.query_map(
                    params![cutoff, now, ErrorKind::ProcessingTimeout.code()],
                    |row| {
                        let client_id: String = row.get(0)?;
                        let sha256: String = row.get(1)?;
                        let kind: String = row.get(2)?;
                        Ok(TaskKey::new(client_id, &sha256, parse_kind(2, &kind)?))
                    },
                )?;
                rows.collect()
            })
        })
        .await
    }

    async fn stats(&self, now: SystemTime) -> Result<StoreStats> {
        self.run("stats", move |conn| {
            let tx = conn.transaction()?;
            let mut stats = StoreStats::default();
            {
                let mut statement =
                    tx.prepare("SELECT state, COUNT(*) FROM tasks GROUP BY state")?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    let state: String = row.get(0)?;
                    let count = row.get::<_, i64>(1)?.max(0) as u64;
                    match state.as_str() {
                        "queued" => stats.queued = count,
                        "running" => stats.running = count,
                        "completed" => stats.completed = count,
                        "failed" => stats.failed = count,
                        _ => {}
                    }
                }
            }
            let oldest: Option<i64> = tx.query_row(
                "SELECT MIN(created_at) FROM tasks WHERE state = 'queued'",
                [],
                |row| row.get(0),
            )?;
            stats.oldest_queued_age = oldest.map(|created_at| age_since(now, created_at));
            tx.commit()?;
            Ok(stats)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.run("readiness check", |conn| {
            conn.query_row("SELECT COUNT(*) FROM tasks WHERE 0", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(drop)
        })
        .await
    }
}

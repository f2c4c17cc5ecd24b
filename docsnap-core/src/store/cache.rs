//! The result cache: results of earlier calls, found again by their input.
//!
//! An entry is looked up by an id derived from everything that shaped the
//! result (the operation, the engine that ran it and every input byte) and
//! sealed with AES-256-GCM under a key derived from the same digest. The
//! database therefore contains no plaintext, and only a caller with the same
//! input again can decrypt an entry.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use hkdf::Hkdf;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::sqlite::SqliteStore;
use super::unix_millis;
use crate::envelope::{self, AesKey, Cipher, lower_hex};
use crate::error::{Error, ErrorKind, Result};

/// Labels that separate the derived id from the derived key, and both from
/// any other use of the same digest.
const ID_LABEL: &[u8] = b"docsnap result cache v1: id";
const KEY_LABEL: &[u8] = b"docsnap result cache v1: key";

/// Maximum staleness of an entry's recorded access time before a hit
/// rewrites it. Ages are measured in hours or days, so a minute changes nothing.
const ACCESS_TIME_RESOLUTION: Duration = Duration::from_secs(60);

/// Stores between two sweeps of expired entries.
const PRUNE_EVERY: u64 = 256;

/// Settings of a [`ResultCache`].
#[derive(Debug, Clone, Default)]
pub struct CacheOptions {
    /// Entries not read or written for longer than this are dropped; `None`
    /// keeps them until [`ResultCache::clear`].
    pub max_age: Option<Duration>,
}

/// The identity of one cached result: where it is stored and the key that
/// seals it. Built with [`CacheKey::builder`].
pub struct CacheKey {
    id: [u8; 32],
    key: AesKey,
}

impl CacheKey {
    /// Starts a key for `operation` (such as `"document"`) run by the engine
    /// that `scope` describes. Add every input with [`CacheKeyBuilder::part`].
    pub fn builder(operation: &str, scope: &str) -> CacheKeyBuilder {
        CacheKeyBuilder {
            digest: Sha256::new(),
        }
        .part(operation.as_bytes())
        .part(scope.as_bytes())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheKey")
            .field("id", &lower_hex(&self.id))
            .finish_non_exhaustive()
    }
}

/// Collects the inputs a [`CacheKey`] is derived from.
#[derive(Debug)]
pub struct CacheKeyBuilder {
    digest: Sha256,
}

impl CacheKeyBuilder {
    /// Adds one input. Each part is length-prefixed, so `["ab", "c"]` and
    /// `["a", "bc"]` give different keys.
    pub fn part(mut self, bytes: &[u8]) -> Self {
        self.digest.update((bytes.len() as u64).to_le_bytes());
        self.digest.update(bytes);
        self
    }

    /// Adds a value as its JSON text.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let text = serde_json::to_vec(value).map_err(|error| {
            Error::new(
                ErrorKind::ProcessingError,
                "failed to serialise a cache key input",
            )
            .with_source(error)
        })?;
        Ok(self.part(&text))
    }

    /// Derives the entry id and its sealing key.
    pub fn finish(self) -> CacheKey {
        let digest = self.digest.finalize();
        let derive = Hkdf::<Sha256>::new(None, &digest);
        let mut id = [0; 32];
        let mut key = vec![0; 32];
        // HKDF-SHA256 expands to at most 255 * 32 = 8160 bytes, so 32 is valid.
        derive
            .expand(ID_LABEL, &mut id)
            .expect("HKDF-SHA256 expands to 32 bytes");
        derive
            .expand(KEY_LABEL, &mut key)
            .expect("HKDF-SHA256 expands to 32 bytes");
        let key = AesKey::new(key).expect("a 32-byte key is a valid AES key");
        CacheKey { id, key }
    }
}

/// Counts of a [`ResultCache`]; hits and misses are this process's since the
/// cache was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Entries in the database, from every process that shares it.
    pub entries: u64,
    /// Lookups that found a result.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
}

/// Earlier results in a SQLite file, which several processes may share.
///
/// It lives in the same database format as the task store, so a server's
/// `docsnap.db` can hold both.
#[derive(Debug)]
pub struct ResultCache {
    store: SqliteStore,
    options: CacheOptions,
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
}

impl ResultCache {
    /// Opens or creates the cache at `path` with default options: a file
    /// path, or a directory that gets a `docsnap.db` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, CacheOptions::default())
    }

    /// Opens or creates the cache with `options`; blocks, so call it at
    /// startup. Expired entries go at the first store and every 256th after.
    pub fn open_with(path: impl AsRef<Path>, options: CacheOptions) -> Result<Self> {
        if options.max_age == Some(Duration::ZERO) {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "the result cache's max_age is 0, which would keep nothing: give a positive \
                 age, or no age to keep entries until cleared",
            ));
        }
        let store = SqliteStore::open(path)?;
        let cache = Self {
            store,
            options,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stores: AtomicU64::new(0),
        };
        Ok(cache)
    }

    /// Returns the database file's path.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Returns the result stored under `key`, or `None`. An entry that is
    /// expired, does not open or does not parse as `T` counts as a miss and
    /// is deleted.
    pub async fn get<T: DeserializeOwned>(&self, key: &CacheKey) -> Result<Option<T>> {
        let id = key.id;
        let now = SystemTime::now();
        let oldest = self.oldest_kept(now);
        let touch_before = unix_millis(now - ACCESS_TIME_RESOLUTION);
        let now = unix_millis(now);
        let sealed = self
            .store
            .run("result cache lookup", move |conn| {
                let row: Option<(String, i64)> = conn
                    .query_row(
                        "SELECT sealed, accessed_at FROM result_cache WHERE id = ?1",
                        params![id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                match row {
                    Some((_, accessed_at)) if accessed_at < oldest => {
                        conn.execute("DELETE FROM result_cache WHERE id = ?1", params![id])?;
                        Ok(None)
                    }
                    Some((sealed, accessed_at)) => {
                        if accessed_at < touch_before {
                            conn.execute(
                                "UPDATE result_cache SET accessed_at = ?2 WHERE id = ?1",
                                params![id, now],
                            )?;
                        }
                        Ok(Some(sealed))
                    }
                    None => Ok(None),
                }
            })
            .await?;

        let Some(sealed) = sealed else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        match open_entry(key, &sealed) {
            Ok(value) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(Some(value))
            }
            Err(problem) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = %lower_hex(&id), problem, "deleting a result cache entry that does not open");
                self.store
                    .run("result cache delete", move |conn| {
                        conn.execute("DELETE FROM result_cache WHERE id = ?1", params![id])
                            .map(drop)
                    })
                    .await?;
                Ok(None)
            }
        }
    }

    /// Stores `value` under `key`, replacing an earlier entry, and now and
    /// then drops expired entries.
    pub async fn put<T: Serialize + ?Sized>(&self, key: &CacheKey, value: &T) -> Result<()> {
        let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|error| {
            Error::new(
                ErrorKind::ProcessingError,
                "failed to serialise a result for the cache",
            )
            .with_source(error)
        })?);
        let sealed = envelope::seal(&key.key, Cipher::A256Gcm, &plaintext, &key.id)?;
        let id = key.id;
        let now = unix_millis(SystemTime::now());
        self.store
            .run("result cache store", move |conn| {
                conn.execute(
                    "INSERT INTO result_cache (id, sealed, created_at, accessed_at)
                     VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT (id) DO UPDATE SET
                         sealed = excluded.sealed,
                         created_at = excluded.created_at,
                         accessed_at = excluded.accessed_at",
                    params![id, sealed, now],
                )
                .map(drop)
            })
            .await?;

        if self
            .stores
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            self.prune().await?;
        }
        Ok(())
    }

    /// Drops entries older than the configured maximum age and returns how
    /// many went; without a maximum age it drops nothing.
    pub async fn prune(&self) -> Result<u64> {
        if self.options.max_age.is_none() {
            return Ok(0);
        }
        let oldest = self.oldest_kept(SystemTime::now());
        self.store
            .run("result cache sweep", move |conn| {
                conn.execute(
                    "DELETE FROM result_cache WHERE accessed_at < ?1",
                    params![oldest],
                )
                .map(|deleted| deleted as u64)
            })
            .await
    }

    /// Deletes every entry, from every process's calls, and returns how many
    /// there were.
    pub async fn clear(&self) -> Result<u64> {
        self.store
            .run("result cache clear", |conn| {
                conn.execute("DELETE FROM result_cache", [])
                    .map(|deleted| deleted as u64)
            })
            .await
    }

    /// Counts the entries and this process's hits and misses.
    pub async fn stats(&self) -> Result<CacheStats> {
        let entries = self
            .store
            .run("result cache count", |conn| {
                conn.query_row("SELECT COUNT(*) FROM result_cache", [], |row| {
                    row.get::<_, i64>(0)
                })
            })
            .await?;
        Ok(CacheStats {
            entries: entries.max(0) as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        })
    }

    /// Returns the access time, in Unix milliseconds, below which entries expire.
    fn oldest_kept(&self, now: SystemTime) -> i64 {
        match self.options.max_age {
            Some(max_age) => {
                unix_millis(now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH))
            }
            None => i64::MIN,
        }
    }
}

/// Opens and parses an entry; the problem names no content, so it may be logged.
fn open_entry<T: DeserializeOwned>(key: &CacheKey, sealed: &str) -> std::result::Result<T, String> {
    let plaintext = zeroize::Zeroizing::new(
        envelope::open(&key.key, Cipher::A256Gcm, sealed, &key.id)
            .map_err(|_| "it does not decrypt under its key".to_owned())?,
    );
    serde_json::from_slice(&plaintext).map_err(|error| {
        // Only the position, because serde_json messages can quote the input.
        format!(
            "it does not parse as the expected result (line {}, column {})",
            error.line(),
            error.column()
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rusqlite::Connection;
    use serde_json::{Value, json};

    use super::*;

    fn key(input: &str) -> CacheKey {
        CacheKey::builder("document", "test engine")
            .part(input.as_bytes())
            .finish()
    }

    fn open(dir: &tempfile::TempDir, options: CacheOptions) -> ResultCache {
        ResultCache::open_with(dir.path().join("cache.db"), options).unwrap()
    }

    /// Opens a second connection to the cache's file, as another process would.
    fn raw(cache: &ResultCache) -> Connection {
        Connection::open(cache.path()).unwrap()
    }

    #[tokio::test]
    async fn stores_and_finds_a_result() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, CacheOptions::default());
        let result = json!({"title": "Passport", "kv": {"Name": "Jane Example"}});

        assert_eq!(cache.get::<Value>(&key("scan")).await.unwrap(), None);
        cache.put(&key("scan"), &result).await.unwrap();

        assert_eq!(cache.get(&key("scan")).await.unwrap(), Some(result));
        assert_eq!(cache.get::<Value>(&key("other scan")).await.unwrap(), None);
        let stats = cache.stats().await.unwrap();
        assert_eq!((stats.entries, stats.hits, stats.misses), (1, 1, 2));
    }

    #[test]
    fn inputs_are_framed() {
        let split = |parts: &[&str]| {
            parts
                .iter()
                .fold(CacheKey::builder("ocr", "scope"), |key, part| {
                    key.part(part.as_bytes())
                })
                .finish()
                .id
        };
        assert_ne!(split(&["ab", "c"]), split(&["a", "bc"]));
        assert_ne!(split(&["abc"]), split(&["abc", ""]));
        assert_eq!(split(&["ab", "c"]), split(&["ab", "c"]));
        assert_ne!(
            CacheKey::builder("ocr", "scope").finish().id,
            CacheKey::builder("form", "scope").finish().id
        );
    }

    #[tokio::test]
    async fn database_contains_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, CacheOptions::default());
        let secret = "Holder-Name-Zebulon-Quartermaine";
        cache
            .put(&key(secret), &json!({"kv": {"Name": secret}}))
            .await
            .unwrap();

        let stored: String = raw(&cache)
            .query_row("SELECT sealed FROM result_cache", [], |row| row.get(0))
            .unwrap();
        assert!(!stored.contains(secret));
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let found = bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes());
            assert!(!found, "the plaintext reached a database file");
        }
    }

    #[tokio::test]
    async fn unreadable_entry_is_deleted_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, CacheOptions::default());
        cache.put(&key("a"), &json!({"n": 1})).await.unwrap();
        cache.put(&key("b"), &json!({"n": 2})).await.unwrap();
        // Entry a gets b's ciphertext, sealed under another key.
        raw(&cache)
            .execute(
                "UPDATE result_cache SET sealed = (SELECT sealed FROM result_cache WHERE id = ?2)
                 WHERE id = ?1",
                params![key("a").id, key("b").id],
            )
            .unwrap();

        assert_eq!(cache.get::<Value>(&key("a")).await.unwrap(), None);
        assert_eq!(cache.stats().await.unwrap().entries, 1);
        // An entry that decrypts but has another shape is deleted too.
        assert_eq!(cache.get::<Vec<String>>(&key("b")).await.unwrap(), None);
        assert_eq!(cache.stats().await.unwrap().entries, 0);
    }

    #[tokio::test]
    async fn entries_past_max_age_expire() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(24 * 3600);
        let cache = open(&dir, CacheOptions { max_age: Some(day) });
        for input in ["old", "older", "fresh"] {
            cache.put(&key(input), &json!(input)).await.unwrap();
        }
        let two_days_ago = unix_millis(SystemTime::now() - 2 * day);
        raw(&cache)
            .execute(
                "UPDATE result_cache SET accessed_at = ?1 WHERE id IN (?2, ?3)",
                params![two_days_ago, key("old").id, key("older").id],
            )
            .unwrap();

        assert_eq!(cache.get::<Value>(&key("old")).await.unwrap(), None);
        assert_eq!(
            cache.prune().await.unwrap(),
            1,
            "only `older` was left to sweep"
        );
        assert_eq!(
            cache.get(&key("fresh")).await.unwrap(),
            Some(json!("fresh"))
        );
        assert_eq!(cache.stats().await.unwrap().entries, 1);
    }

    #[tokio::test]
    async fn without_max_age_nothing_expires() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(&dir, CacheOptions::default());
        cache.put(&key("old"), &json!(1)).await.unwrap();
        raw(&cache)
            .execute("UPDATE result_cache SET accessed_at = 0", [])
            .unwrap();

        assert_eq!(cache.prune().await.unwrap(), 0);
        assert_eq!(cache.get(&key("old")).await.unwrap(), Some(json!(1)));
    }

    #[tokio::test]
    async fn handles_on_one_file_share_entries_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(&dir, CacheOptions::default());
        let second = open(&dir, CacheOptions::default());
        first.put(&key("a"), &json!("from first")).await.unwrap();
        second.put(&key("b"), &json!("from second")).await.unwrap();

        assert_eq!(
            second.get(&key("a")).await.unwrap(),
            Some(json!("from first"))
        );
        assert_eq!(first.clear().await.unwrap(), 2);
        assert_eq!(second.get::<Value>(&key("b")).await.unwrap(), None);
    }

    #[test]
    fn open_names_the_problem_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();

        let missing = ResultCache::open(dir.path().join("no/such/dir/cache.db")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Database);
        assert!(
            missing.message().contains("create its directory first"),
            "{missing}"
        );

        let text_file = dir.path().join("notes.txt");
        std::fs::write(
            &text_file,
            "not a database, just some notes and more notes\n".repeat(40),
        )
        .unwrap();
        let not_sqlite = ResultCache::open(&text_file).unwrap_err();
        assert!(
            not_sqlite.message().contains("is not a SQLite database"),
            "{not_sqlite}"
        );

        let zero = CacheOptions {
            max_age: Some(Duration::ZERO),
        };
        let zero = ResultCache::open_with(dir.path().join("cache.db"), zero).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidConfig);
    }

    #[test]
    fn directory_path_gets_docsnap_db() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResultCache::open(dir.path()).unwrap();
        assert_eq!(cache.path(), dir.path().join("docsnap.db"));
    }
}

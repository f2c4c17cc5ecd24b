//! Round-robin pool of OCR engines with failover and a cool-down for
//! endpoints that just failed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Result};
use crate::ocr::{OcrEngine, Page, PageText};

/// Settings of an [`OcrPool`].
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// How long an engine that failed with a transient error is passed
    /// over while other engines are available. Default 10 s.
    pub cooldown: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(10),
        }
    }
}

/// An [`OcrEngine`] that spreads pages over several engines, such as one
/// [`super::RemoteOcrClient`] per OCR server.
///
/// Pages go round robin. When an engine fails with a transient error, the
/// page moves on to the next engine and the failed one cools down: it is
/// tried only after the others, until [`PoolConfig::cooldown`] has passed.
/// A non-transient error (such as an image the server rejects) ends the
/// call at once, because another engine would reject the page too. When
/// every engine fails, the last engine's error is returned.
///
/// Each member client retries on its own before the pool moves on, so
/// members with `retries: 0` fail over fastest.
#[derive(Debug)]
pub struct OcrPool {
    engines: Vec<Arc<dyn OcrEngine>>,
    config: PoolConfig,
    next: AtomicUsize,
    /// Per engine, the instant its cool-down ends; `None` when healthy.
    cooling_until: Mutex<Vec<Option<Instant>>>,
}

impl OcrPool {
    /// Creates a pool over `engines`, tried in the given order first.
    ///
    /// Fails with [`ErrorKind::InvalidConfig`] when `engines` is empty.
    pub fn new(engines: Vec<Arc<dyn OcrEngine>>, config: PoolConfig) -> Result<Self> {
        if engines.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "an OCR pool needs at least one engine; configure one or more OCR endpoints",
            ));
        }

        let cooling_until = Mutex::new(vec![None; engines.len()]);
        Ok(Self {
            engines,
            config,
            next: AtomicUsize::new(0),
            cooling_until,
        })
    }

    /// The engines in the order they were given.
    pub fn engines(&self) -> &[Arc<dyn OcrEngine>] {
        &self.engines
    }

    fn attempt_order(&self) -> Vec<usize> {
        let start = self.next.fetch_add(1, Ordering::Relaxed) % self.engines.len();
        let now = Instant::now();
        let cooling: Vec<bool> = self
            .lock_cooling()
            .iter()
            .map(|until| until.is_some_and(|until| until > now))
            .collect();
        attempt_order(start, &cooling)
    }

    fn mark_failed(&self, engine: usize) {
        self.lock_cooling()[engine] = Some(Instant::now() + self.config.cooldown);
    }

    fn mark_healthy(&self, engine: usize) {
        self.lock_cooling()[engine] = None;
    }

    // A panic while the lock was held cannot leave the deadlines
    // inconsistent, so a poisoned lock is used as it is.
    fn lock_cooling(&self) -> std::sync::MutexGuard<'_, Vec<Option<Instant>>> {
        self.cooling_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl OcrEngine for OcrPool {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        let order = self.attempt_order();
        let mut last_error = None;

        for (position, &engine_index) in order.iter().enumerate() {
            let engine = &self.engines[engine_index];
            match engine.recognize(page).await {
                Ok(text) => {
                    self.mark_healthy(engine_index);
                    return Ok(text);
                }
                Err(err) if err.is_transient() => {
                    self.mark_failed(engine_index);
                    let remaining = order.len() - position - 1;
                    tracing::warn!(
                        engine = engine_index,
                        engine_name = engine.name(),
                        page = page.index,
                        remaining,
                        error = %err,
                        "OCR engine failed, cooling it down",
                    );
                    last_error = Some(err);
                }
                Err(err) => return Err(err),
            }
        }

        Err(last_error
            .unwrap_or_else(|| Error::new(ErrorKind::OcrFailure, "the OCR pool tried no engine")))
    }

    fn name(&self) -> &str {
        "pool"
    }
}

/// Lists engine indices from `start` round the ring, healthy engines first
/// and cooling ones after them, each group in ring order.
fn attempt_order(start: usize, cooling: &[bool]) -> Vec<usize> {
    let count = cooling.len();
    let ring = (0..count).map(|offset| (start + offset) % count);

    let healthy = ring.clone().filter(|&index| !cooling[index]);
    let cooling = ring.filter(|&index| cooling[index]);
    healthy.chain(cooling).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_starts_at_start() {
        assert_eq!(attempt_order(0, &[false, false, false]), vec![0, 1, 2]);
        assert_eq!(attempt_order(2, &[false, false, false]), vec![2, 0, 1]);
    }

    #[test]
    fn order_puts_cooling_last() {
        assert_eq!(attempt_order(0, &[true, false, false]), vec![1, 2, 0]);
        assert_eq!(attempt_order(1, &[false, true, false]), vec![2, 0, 1]);
    }

    #[test]
    fn order_when_all_cooling() {
        assert_eq!(attempt_order(1, &[true, true, true]), vec![1, 2, 0]);
    }

    #[test]
    fn pool_rejects_no_engines() {
        let err = OcrPool::new(Vec::new(), PoolConfig::default()).err();
        assert_eq!(err.map(|err| err.kind()), Some(ErrorKind::InvalidConfig));
    }
}

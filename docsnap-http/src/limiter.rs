//! Throttling of clients that keep sending envelopes the server cannot decrypt.
//!
//! Each RSA or AES decryption failure counts against the request's `client_id`
//! and its peer IP. Once either has `max_failures` failures inside the sliding
//! window, its requests get 429 until old failures age out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bound on tracked client ids and IPs, so a flood of distinct ids
/// cannot grow memory without limit.
const MAX_TRACKED_KEYS: usize = 100_000;

/// Sliding-window counters of decryption failures per client id and per peer IP.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<LimitKey, VecDeque<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LimitKey {
    Client(String),
    Peer(IpAddr),
}

impl FailureLimiter {
    /// Creates a limiter; `max_failures == 0` turns it off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Returns whether requests from this client id or peer are currently rejected.
    pub fn is_limited(&self, client_id: Option<&str>, peer: Option<IpAddr>) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let now = Instant::now();
        let mut failures = self.lock();
        keys(client_id, peer).any(|key| {
            failures
                .get_mut(&key)
                .map(|times| self.prune(times, now) >= self.max_failures as usize)
                .unwrap_or(false)
        })
    }

    /// Records one decryption failure against the client id and the peer.
    pub fn record_failure(&self, client_id: Option<&str>, peer: Option<IpAddr>) {
        if self.max_failures == 0 {
            return;
        }
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() >= MAX_TRACKED_KEYS {
            failures.retain(|_, times| self.prune(times, now) > 0);
        }
        if failures.len() >= MAX_TRACKED_KEYS {
            tracing::warn!(
                tracked = failures.len(),
                "decryption failure limiter is full; dropping the oldest counters"
            );
            failures.clear();
        }
        for key in keys(client_id, peer) {
            let times = failures.entry(key).or_default();
            self.prune(times, now);
            times.push_back(now);
        }
    }

    /// Drops failures older than the window and returns how many remain.
    fn prune(&self, times: &mut VecDeque<Instant>, now: Instant) -> usize {
        while let Some(&oldest) = times.front() {
            if now.duration_since(oldest) < self.window {
                break;
            }
            times.pop_front();
        }
        times.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LimitKey, VecDeque<Instant>>> {
        // A panic while holding the lock leaves only counters behind, which stay usable.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn keys(client_id: Option<&str>, peer: Option<IpAddr>) -> impl Iterator<Item = LimitKey> {
    let client = client_id.map(|id| LimitKey::Client(id.to_owned()));
    let peer = peer.map(LimitKey::Peer);
    client.into_iter().chain(peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn limits_client_after_max_failures() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            limiter.record_failure(Some("a"), None);
        }
        assert!(!limiter.is_limited(Some("a"), None));

        limiter.record_failure(Some("a"), None);
        assert!(limiter.is_limited(Some("a"), None));
        assert!(!limiter.is_limited(Some("b"), None));
    }

    #[test]
    fn limits_peer_across_client_ids() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(60));
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        limiter.record_failure(Some("a"), Some(peer));
        limiter.record_failure(Some("b"), Some(peer));

        assert!(limiter.is_limited(Some("c"), Some(peer)));
        assert!(!limiter.is_limited(Some("c"), None));
    }

    #[test]
    fn failures_age_out() {
        let limiter = FailureLimiter::new(1, Duration::ZERO);
        limiter.record_failure(Some("a"), None);
        assert!(!limiter.is_limited(Some("a"), None));
    }

    #[test]
    fn zero_turns_limiter_off() {
        let limiter = FailureLimiter::new(0, Duration::from_secs(60));
        limiter.record_failure(Some("a"), None);
        assert!(!limiter.is_limited(Some("a"), None));
    }
}

//! Polling limit: at most one manifest request per interval per link and recipient.
//!
//! The spec lets a host answer 429 with `Retry-After` to a client that polls too often (long-term
//! `L` links invite polling). The limit is per link *and* recipient, so two recipients of one
//! link do not slow each other down. A refused request does not move the window, and the check
//! runs before the passcode check, so a throttled request never spends a passcode attempt.
//! State is in memory (a restart forgets it, which is harmless) and keyed by a SHA-256 of link
//! key and recipient, so recipients are not kept in clear; stale entries are swept when the map
//! grows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 4096;

/// Last manifest request per (link, recipient).
#[derive(Debug)]
pub struct PollLimiter {
    interval: Duration,
    last: Mutex<HashMap<[u8; 32], Instant>>,
}

impl PollLimiter {
    /// A limiter allowing one request per `interval` (`Duration::ZERO`: no limit).
    pub fn new(interval: Duration) -> Self {
        PollLimiter {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Record a request, or refuse it with the whole seconds to wait (at least 1).
    pub fn check(&self, link_pk: i64, recipient: &str) -> Result<(), u64> {
        if self.interval.is_zero() {
            return Ok(());
        }
        let key: [u8; 32] = Sha256::new()
            .chain_update(link_pk.to_be_bytes())
            .chain_update(recipient.as_bytes())
            .finalize()
            .into();
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-update; the map is still usable.
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(previous) = last.get(&key) {
            let elapsed = now.duration_since(*previous);
            if elapsed < self.interval {
                let wait = self.interval - elapsed;
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                return Err(secs.max(1));
            }
        }
        if last.len() >= SWEEP_AT {
            let interval = self.interval;
            last.retain(|_, t| now.duration_since(*t) < interval);
        }
        last.insert(key, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_request_within_interval_is_refused() {
        let limiter = PollLimiter::new(Duration::from_secs(3));
        assert!(limiter.check(1, "a").is_ok());
        assert_eq!(limiter.check(1, "a"), Err(3));
        assert!(limiter.check(1, "b").is_ok());
        assert!(limiter.check(2, "a").is_ok());
    }

    #[test]
    fn zero_interval_never_refuses() {
        let limiter = PollLimiter::new(Duration::ZERO);
        assert!(limiter.check(1, "a").is_ok());
        assert!(limiter.check(1, "a").is_ok());
    }
}

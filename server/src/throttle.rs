//! Polling limit: at most one manifest request per interval per link and recipient.
//!
//! The spec lets a host answer 429 with `Retry-After` to a client that polls too often (long-term
//! `L` links invite polling). The limit is per link *and* recipient, so two recipients of one
//! link do not slow each other down. A refused request does not move the window, and the check
//! runs before the passcode check, so a throttled request never spends a passcode attempt.
//! State is in memory (a restart forgets it, which is harmless) and keyed by a SHA-256 of link
//! key and recipient, so recipients are not kept in clear.
//!
//! **Bounded in time and memory.** The interval is the same for every key, so the order requests
//! were let through is the order their windows close: a queue in that order lets each check drop
//! the closed windows from its front (amortised O(1), no scan of the map). At most
//! [`MAX_TRACKED`] windows are open at once (~10 MB); past that a request is refused until the
//! oldest closes, which a host serving this many distinct recipients per interval is overloaded
//! anyway. The lock guards O(1) work and is never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::retry_after_secs;

/// Open windows kept at most; more distinct (link, recipient) pairs within one interval wait.
pub const MAX_TRACKED: usize = 100_000;

/// Last manifest request per (link, recipient).
#[derive(Debug)]
pub struct PollLimiter {
    interval: Duration,
    windows: Mutex<Windows>,
}

/// The open windows and their closing order.
#[derive(Debug, Default)]
struct Windows {
    last: HashMap<[u8; 32], Instant>,
    /// Keys in the order they were let through, with when (oldest first).
    queue: VecDeque<([u8; 32], Instant)>,
}

impl PollLimiter {
    /// A limiter allowing one request per `interval` (`Duration::ZERO`: no limit).
    pub fn new(interval: Duration) -> Self {
        PollLimiter {
            interval,
            windows: Mutex::new(Windows::default()),
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
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Close the windows that ended; each key has exactly one entry in the queue.
        while let Some(&(old, at)) = w.queue.front() {
            if now.duration_since(at) < self.interval {
                break;
            }
            w.queue.pop_front();
            w.last.remove(&old);
        }
        let busy_since = match w.last.get(&key) {
            Some(previous) => Some(*previous),
            None if w.queue.len() >= MAX_TRACKED => w.queue.front().map(|(_, at)| *at),
            None => None,
        };
        if let Some(since) = busy_since {
            let wait = self.interval.saturating_sub(now.duration_since(since));
            return Err(retry_after_secs(wait));
        }
        w.last.insert(key, now);
        w.queue.push_back((key, now));
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
    fn a_flood_of_recipients_is_bounded_and_windows_close_in_order() {
        let limiter = PollLimiter::new(Duration::from_secs(60));
        for i in 0..MAX_TRACKED {
            assert!(limiter.check(1, &i.to_string()).is_ok());
        }
        assert!(limiter.check(1, "one more").is_err(), "full: refused");
        let w = limiter.windows.lock().unwrap();
        assert_eq!((w.last.len(), w.queue.len()), (MAX_TRACKED, MAX_TRACKED));
        drop(w);
        let quick = PollLimiter::new(Duration::from_nanos(1));
        for i in 0..1_000 {
            assert!(quick.check(1, &i.to_string()).is_ok());
        }
        let w = quick.windows.lock().unwrap();
        assert!(
            w.queue.len() < 10,
            "closed windows leave: {}",
            w.queue.len()
        );
    }

    #[test]
    fn zero_interval_never_refuses() {
        let limiter = PollLimiter::new(Duration::ZERO);
        assert!(limiter.check(1, "a").is_ok());
        assert!(limiter.check(1, "a").is_ok());
    }
}

//! Single-use, short-lived tickets for file `location` URLs.
//!
//! The spec lets a `location` URL work without authentication for up to an hour and allows it to
//! be single-use. Here each manifest response mints one ticket per file, bound to that link and
//! file, valid for `ticket_ttl` (60 s by default, as in the reference server), and consumed by
//! the first GET that presents it. Tickets live only in memory: they are short-lived, and a
//! restart simply makes recipients re-POST the manifest, which the spec requires them to handle.
//! The map is keyed by the SHA-256 of the ticket, so a lookup's timing says nothing about ticket
//! prefixes.
//!
//! **Bounded under a flood.** Every ticket lives the same `ttl`, so the order they were minted
//! in is the order they expire in: a queue in minting order lets each mint drop the expired ones
//! from its front (amortised O(1), never a scan of the whole map). At most [`MAX_PER_LINK`]
//! tickets are live per link and [`MAX_LIVE`] in all; past either, a manifest request is told
//! to retry when the oldest expires (429), so memory stays under ~20 MB whatever the request
//! rate. The lock guards O(1) work and is never held across an `.await`, which is what tokio
//! recommends over an async mutex for state like this.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{ServerError, retry_after_secs};
use crate::secrets::{random_token, sha256};

/// Live tickets one link may have; a manifest asking for more is refused until some expire.
pub const MAX_PER_LINK: usize = 1_000;
/// Tickets minted and not yet expired, over all links (redeemed ones count until they expire).
pub const MAX_LIVE: usize = 100_000;

/// What a ticket grants: one GET of one file of one link, until `expires`.
#[derive(Debug, Clone)]
struct Grant {
    link_pk: i64,
    file_hash: String,
    expires: Instant,
}

/// The live tickets.
#[derive(Debug)]
pub struct Tickets {
    ttl: Duration,
    live: Mutex<Live>,
}

/// The tickets and their expiry order.
#[derive(Debug, Default)]
struct Live {
    grants: HashMap<[u8; 32], Grant>,
    /// Every minted ticket's key and expiry, oldest first (redeemed ones too, until they expire).
    queue: VecDeque<([u8; 32], Instant)>,
    /// Unredeemed, unexpired tickets per link.
    per_link: HashMap<i64, usize>,
}

/// Why no ticket was minted.
#[derive(Debug)]
pub enum IssueError {
    /// The link or the host has as many live tickets as it may; retry after this many seconds.
    Full {
        /// Seconds until the oldest ticket expires (at least 1).
        retry_after: u64,
    },
    /// The random number generator failed.
    Host(ServerError),
}

impl Live {
    /// Drops the tickets that expired by `now`.
    fn sweep(&mut self, now: Instant) {
        while let Some(&(key, expires)) = self.queue.front() {
            if expires > now {
                break;
            }
            self.queue.pop_front();
            if let Some(grant) = self.grants.remove(&key) {
                self.release(grant.link_pk);
            }
        }
    }

    /// One ticket of `link_pk` fewer.
    fn release(&mut self, link_pk: i64) {
        if let Some(n) = self.per_link.get_mut(&link_pk) {
            *n -= 1;
            if *n == 0 {
                self.per_link.remove(&link_pk);
            }
        }
    }
}

impl Tickets {
    /// An empty set whose tickets live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Tickets {
            ttl,
            live: Mutex::new(Live::default()),
        }
    }

    /// Mints tickets for link `link_pk`, one per entry of `files` (file hashes), all or none.
    pub fn issue_all(&self, link_pk: i64, files: &[&str]) -> Result<Vec<String>, IssueError> {
        let now = Instant::now();
        // A poisoned lock means a panic mid-update of plain maps; they are still consistent
        // enough to serve (at worst a count is off by one until the entry expires).
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.sweep(now);
        let mine = live.per_link.get(&link_pk).copied().unwrap_or(0);
        if mine + files.len() > MAX_PER_LINK || live.queue.len() + files.len() > MAX_LIVE {
            let oldest = live.queue.front().map_or(now + self.ttl, |(_, at)| *at);
            let wait = oldest.saturating_duration_since(now);
            return Err(IssueError::Full {
                retry_after: retry_after_secs(wait),
            });
        }
        let mut tickets = Vec::with_capacity(files.len());
        for file_hash in files {
            let ticket = random_token().map_err(IssueError::Host)?;
            let key = sha256(&ticket);
            let grant = Grant {
                link_pk,
                file_hash: (*file_hash).to_owned(),
                expires: now + self.ttl,
            };
            live.grants.insert(key, grant);
            live.queue.push_back((key, now + self.ttl));
            *live.per_link.entry(link_pk).or_insert(0) += 1;
            tickets.push(ticket);
        }
        Ok(tickets)
    }

    /// Consume `ticket`: whether it was live and granted this file of this link. A ticket is
    /// gone after its first presentation, whatever the answer.
    pub fn redeem(&self, ticket: &str, link_pk: i64, file_hash: &str) -> bool {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.grants.remove(&sha256(ticket)) {
            Some(grant) => {
                live.release(grant.link_pk);
                grant.expires > Instant::now()
                    && grant.link_pk == link_pk
                    && grant.file_hash == file_hash
            }
            None => false,
        }
    }

    /// Tickets minted and not yet expired (for tests and the flood check).
    #[cfg(test)]
    fn queued(&self) -> usize {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.sweep(Instant::now());
        live.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(tickets: &Tickets, link: i64, hash: &str) -> String {
        match tickets.issue_all(link, &[hash]) {
            Ok(mut t) => t.remove(0),
            Err(e) => panic!("no ticket: {e:?}"),
        }
    }

    #[test]
    fn single_use_and_scoped() {
        let tickets = Tickets::new(Duration::from_secs(60));
        let t = issue(&tickets, 1, "h");
        assert!(tickets.redeem(&t, 1, "h"));
        assert!(!tickets.redeem(&t, 1, "h"));
        let t = issue(&tickets, 1, "h");
        assert!(!tickets.redeem(&t, 2, "h"));
        assert!(
            !tickets.redeem(&t, 1, "h"),
            "consumed by the wrong presentation"
        );
    }

    #[test]
    fn expires() {
        let tickets = Tickets::new(Duration::ZERO);
        let t = issue(&tickets, 1, "h");
        assert!(!tickets.redeem(&t, 1, "h"));
        assert_eq!(tickets.queued(), 0, "an expired ticket leaves the queue");
    }

    #[test]
    fn a_flood_on_one_link_is_capped_and_leaves_other_links_alone() {
        let tickets = Tickets::new(Duration::from_secs(60));
        let files = vec!["h"; 10];
        let mut minted = 0;
        let refused = loop {
            match tickets.issue_all(1, &files) {
                Ok(t) => minted += t.len(),
                Err(e) => break e,
            }
            assert!(minted <= MAX_PER_LINK);
        };
        assert_eq!(minted, MAX_PER_LINK);
        assert!(
            matches!(refused, IssueError::Full { retry_after } if (1..=60).contains(&retry_after)),
            "{refused:?}"
        );
        assert!(
            tickets.issue_all(2, &files).is_ok(),
            "another link still gets tickets"
        );
        // Redeeming gives the link its places back.
        let t = issue(&tickets, 2, "h");
        assert!(tickets.redeem(&t, 2, "h"));
    }

    #[test]
    fn the_whole_host_is_capped_across_links() {
        let tickets = Tickets::new(Duration::from_secs(60));
        let files = vec!["h"; 100];
        let mut link = 0;
        while tickets.issue_all(link, &files).is_ok() {
            link += 1;
            assert!(link <= 1_000, "no cap over all links");
        }
        assert_eq!(tickets.queued(), MAX_LIVE);
    }
}

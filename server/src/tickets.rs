//! Single-use, short-lived tickets for file `location` URLs.
//!
//! The spec lets a `location` URL work without authentication for up to an hour and allows it to
//! be single-use. Here each manifest response mints one ticket per file, bound to that link and
//! file, valid for `ticket_ttl` (60 s by default, as in the reference server), and consumed by
//! the first GET that presents it. Tickets live only in memory: they are short-lived, and a
//! restart simply makes recipients re-POST the manifest, which the spec requires them to handle.
//! The map is keyed by the SHA-256 of the ticket, so a lookup's timing says nothing about ticket
//! prefixes, and expired entries are swept whenever a ticket is minted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ServerError;
use crate::secrets::{random_token, sha256};

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
    grants: Mutex<HashMap<[u8; 32], Grant>>,
}

impl Tickets {
    /// An empty set whose tickets live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Tickets {
            ttl,
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// Mint a ticket for one GET of `file_hash` of link `link_pk`.
    pub fn issue(&self, link_pk: i64, file_hash: &str) -> Result<String, ServerError> {
        let ticket = random_token()?;
        let now = Instant::now();
        let grant = Grant {
            link_pk,
            file_hash: file_hash.to_owned(),
            expires: now + self.ttl,
        };
        let mut grants = self.grants.lock().map_err(|_| ServerError::Task)?;
        grants.retain(|_, g| g.expires > now);
        grants.insert(sha256(&ticket), grant);
        Ok(ticket)
    }

    /// Consume `ticket`: whether it was live and granted this file of this link. A ticket is
    /// gone after its first presentation, whatever the answer.
    pub fn redeem(&self, ticket: &str, link_pk: i64, file_hash: &str) -> bool {
        let Ok(mut grants) = self.grants.lock() else {
            return false;
        };
        match grants.remove(&sha256(ticket)) {
            Some(grant) => {
                grant.expires > Instant::now()
                    && grant.link_pk == link_pk
                    && grant.file_hash == file_hash
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_use_and_scoped() {
        let tickets = Tickets::new(Duration::from_secs(60));
        let t = tickets.issue(1, "h").unwrap();
        assert!(tickets.redeem(&t, 1, "h"));
        assert!(!tickets.redeem(&t, 1, "h"));
        let t = tickets.issue(1, "h").unwrap();
        assert!(!tickets.redeem(&t, 2, "h"));
        assert!(
            !tickets.redeem(&t, 1, "h"),
            "consumed by the wrong presentation"
        );
    }

    #[test]
    fn expires() {
        let tickets = Tickets::new(Duration::ZERO);
        let t = tickets.issue(1, "h").unwrap();
        assert!(!tickets.redeem(&t, 1, "h"));
    }
}

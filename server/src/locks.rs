//! One async lock per link, for the passcode check.
//!
//! The lifetime attempt counter is already exact under parallel requests thanks to the atomic
//! `UPDATE … RETURNING` in [`crate::db::spend_attempt`]. The lock adds a bound on work: passcode
//! checks of one link run one at a time, so 20 parallel wrong guesses against a link with 5
//! attempts cost 5 Argon2 verifications, not 20, and the rest see a disabled link and get 404
//! cheaply. Locks are created on demand and dropped when nobody holds or waits for them, so the
//! map holds only links being checked right now. It is keyed by the link's row key, not its id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The per-link locks.
#[derive(Debug, Default)]
pub struct LinkLocks {
    locks: Mutex<HashMap<i64, Arc<AsyncMutex<()>>>>,
}

/// Holds a link's lock; releases it (and forgets the lock if unused) when dropped.
pub struct LinkGuard<'a> {
    owner: &'a LinkLocks,
    link_pk: i64,
    guard: Option<OwnedMutexGuard<()>>,
}

impl LinkLocks {
    /// Wait for and take the lock of link `link_pk`.
    pub async fn lock(&self, link_pk: i64) -> LinkGuard<'_> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(locks.entry(link_pk).or_default())
        };
        LinkGuard {
            owner: self,
            link_pk,
            guard: Some(lock.lock_owned().await),
        }
    }
}

impl Drop for LinkGuard<'_> {
    fn drop(&mut self) {
        // Release first, then forget the lock if only the map still refers to it. Clones are
        // made only under the map's mutex, so a count of 1 seen under it cannot grow meanwhile.
        self.guard.take();
        let mut locks = self.owner.locks.lock().unwrap_or_else(|p| p.into_inner());
        if locks
            .get(&self.link_pk)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            locks.remove(&self.link_pk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_forgotten_after_use() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let locks = LinkLocks::default();
            {
                let _a = locks.lock(7).await;
                assert_eq!(locks.locks.lock().unwrap().len(), 1);
            }
            assert!(locks.locks.lock().unwrap().is_empty());
        });
    }
}

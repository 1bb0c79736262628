//! The conflict policy as pure decisions: given the policy and the two versions' times, keep
//! or replace, and why. Two situations, two rules:
//!
//! - **against the store** (a version imported earlier): `newer-wins` replaces only when the
//!   incoming `meta.lastUpdated` is later than the stored one's (or than when it was stored);
//!   without one the stored version stays — we cannot tell which is newer;
//! - **within one input** (a later line with the same type and id): file order is event
//!   order, so `newer-wins` takes the later line unless both lines carry `meta.lastUpdated`
//!   and the later line's is not later.

use crate::import::ConflictPolicy;

/// What to do with a differing incoming version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Store it as the next version.
    Replace(&'static str),
    /// Keep what is there.
    Keep(&'static str),
    /// Abort the run (policy `fail`).
    Fail,
}

impl Decision {
    /// `(replace, why)`; policy `fail` aborts the run with `what` said.
    pub(super) fn resolve(self, what: &str) -> crate::error::Result<(bool, &'static str)> {
        match self {
            Decision::Fail => Err(crate::error::Error::ImportAborted(format!(
                "{what} (conflict policy fail)"
            ))),
            Decision::Replace(why) => Ok((true, why)),
            Decision::Keep(why) => Ok((false, why)),
        }
    }
}

/// An incoming version against the stored one of an earlier import. `stored` is the stored
/// version's source `meta.lastUpdated`, or else when it was stored (epoch ms).
pub(super) fn against_store(
    policy: ConflictPolicy,
    incoming: Option<i64>,
    stored: i64,
) -> Decision {
    match policy {
        ConflictPolicy::Fail => Decision::Fail,
        ConflictPolicy::Replace => Decision::Replace("policy replace"),
        ConflictPolicy::KeepExisting => Decision::Keep("policy keep-existing"),
        ConflictPolicy::NewerWins => match incoming {
            Some(t) if t > stored => {
                Decision::Replace("policy newer-wins: incoming meta.lastUpdated is newer")
            }
            Some(_) => Decision::Keep("policy newer-wins: incoming meta.lastUpdated is not newer"),
            None => Decision::Keep("policy newer-wins: incoming has no meta.lastUpdated"),
        },
    }
}

/// A later line against an earlier line of the same input, by their `meta.lastUpdated`.
pub(super) fn later_line(
    policy: ConflictPolicy,
    later: Option<i64>,
    earlier: Option<i64>,
) -> Decision {
    match policy {
        ConflictPolicy::Fail => Decision::Fail,
        ConflictPolicy::Replace => Decision::Replace("policy replace"),
        ConflictPolicy::KeepExisting => Decision::Keep("policy keep-existing"),
        ConflictPolicy::NewerWins => match (later, earlier) {
            (Some(new), Some(old)) if new <= old => {
                Decision::Keep("policy newer-wins: its meta.lastUpdated is not later")
            }
            (Some(_), Some(_)) => {
                Decision::Replace("policy newer-wins: its meta.lastUpdated is later")
            }
            _ => Decision::Replace("policy newer-wins: the later line is the newer version"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConflictPolicy::*;

    fn replaces(d: Decision) -> Option<bool> {
        match d {
            Decision::Replace(_) => Some(true),
            Decision::Keep(_) => Some(false),
            Decision::Fail => None,
        }
    }

    #[test]
    fn against_the_store_only_a_known_newer_time_replaces_under_newer_wins() {
        for (policy, incoming, expected) in [
            (NewerWins, Some(20), Some(true)),
            (NewerWins, Some(10), Some(false)),
            (NewerWins, Some(5), Some(false)),
            (NewerWins, None, Some(false)),
            (KeepExisting, Some(20), Some(false)),
            (Replace, None, Some(true)),
            (Fail, Some(20), None),
        ] {
            assert_eq!(
                replaces(against_store(policy, incoming, 10)),
                expected,
                "{policy:?} {incoming:?}"
            );
        }
    }

    #[test]
    fn within_a_file_the_later_line_is_newer_unless_both_times_say_otherwise() {
        for (policy, later, earlier, expected) in [
            (NewerWins, None, None, Some(true)),
            (NewerWins, Some(1), None, Some(true)),
            (NewerWins, None, Some(1), Some(true)),
            (NewerWins, Some(2), Some(1), Some(true)),
            (NewerWins, Some(1), Some(1), Some(false)),
            (NewerWins, Some(1), Some(2), Some(false)),
            (KeepExisting, Some(2), Some(1), Some(false)),
            (Replace, Some(1), Some(2), Some(true)),
            (Fail, None, None, None),
        ] {
            assert_eq!(
                replaces(later_line(policy, later, earlier)),
                expected,
                "{policy:?} {later:?} {earlier:?}"
            );
        }
    }
}

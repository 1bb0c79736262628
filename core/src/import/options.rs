//! The import's parameters: the IG's `strategy` and `mode`, phrkit's conflict and
//! invalid-resource policies, and the limits that keep hostile input bounded.

use crate::error::{Error, Result};
use crate::ndjson::DEFAULT_MAX_LINE_BYTES;
use std::str::FromStr;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident, $param:literal, { $($(#[$vm:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub enum $name { #[default] $($(#[$vm])* $variant),+ }
        impl $name {
            /// The parameter code, as used in URLs and on the command line.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $code),+ } }
        }
        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s { $($code => Ok($name::$variant),)+
                    _ => Err(Error::param($param, format!("`{s}` is not one of: {}", [$($code),+].join(", ")))) }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

code_enum!(
    /// `strategy`: how incoming resources meet stored ones.
    Strategy, "strategy", {
        /// Reconcile with what is stored (the IG's default): same resource → conflict policy.
        Merge = "merge",
        /// Store everything; an id already used by different content gets a new id.
        Append = "append",
    }
);

code_enum!(
    /// The conflict policy under `strategy=merge`, when an incoming resource differs from the
    /// stored one.
    ConflictPolicy, "conflict", {
        /// The version with the later `meta.lastUpdated` wins; without one, the stored stays.
        NewerWins = "newer-wins",
        /// The stored version always stays.
        KeepExisting = "keep-existing",
        /// The incoming version always replaces the stored one.
        Replace = "replace",
        /// Any conflict aborts the whole import; nothing is written.
        Fail = "fail",
    }
);

code_enum!(
    /// `mode`: commit, or only say what a commit would do.
    ImportMode, "mode", {
        /// Write the changes.
        Commit = "commit",
        /// Run the whole pipeline, report, write nothing.
        Validate = "validate",
    }
);

code_enum!(
    /// What happens to resources that fail validation.
    OnInvalid, "on_invalid", {
        /// Not imported; reported with line and reason.
        Reject = "reject",
        /// Kept apart in the quarantine table (listed, never exported), and reported.
        Quarantine = "quarantine",
    }
);

/// Options of an import run. `Default` gives the IG's defaults.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `merge` (default) or `append`.
    pub strategy: Strategy,
    /// Conflict policy under merge; default `newer-wins`.
    pub conflict: ConflictPolicy,
    /// `commit` (default) or `validate`.
    pub mode: ImportMode,
    /// `reject` (default) or `quarantine`.
    pub on_invalid: OnInvalid,
    /// Longest accepted NDJSON line, or resource inside a JSON document, bytes. Documents
    /// themselves (a Bundle file) are read one resource at a time and have no size limit.
    pub max_line_bytes: usize,
    /// Errors and warnings listed in the report before the rest are only counted (errors are
    /// kept before warnings; information is always counted by kind, never listed).
    pub max_issues: usize,
    /// Limits for `.sphr` archives (entries, decompressed sizes).
    pub archive_limits: crate::sphr::Limits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            strategy: Strategy::Merge,
            conflict: ConflictPolicy::NewerWins,
            mode: ImportMode::Commit,
            on_invalid: OnInvalid::Reject,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_issues: 1000,
            archive_limits: crate::sphr::Limits::default(),
        }
    }
}

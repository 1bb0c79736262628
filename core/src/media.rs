//! Output formats and their media types and file extensions — the one place that maps them,
//! exactly as the PHR IG's response-format table (used by the CLI now and HTTP later).

use crate::error::{Error, Result};
use std::str::FromStr;

/// `application/fhir+ndjson`: what FHIR-aware peers may ask for in `Accept` instead of
/// `application/x-ndjson`.
pub const FHIR_NDJSON: &str = "application/fhir+ndjson";

/// `$phr-export`'s `outputFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A FHIR `document` Bundle (the default).
    #[default]
    Bundle,
    /// NDJSON, one resource per line.
    Ndjson,
    /// NDJSON with a `.phr` file name.
    Phr,
    /// An encrypted zip of `.phr` file(s) plus supporting documents.
    Sphr,
}

impl OutputFormat {
    /// Every format, in the IG's order.
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Bundle,
        OutputFormat::Ndjson,
        OutputFormat::Phr,
        OutputFormat::Sphr,
    ];

    /// The parameter code (`bundle`, `ndjson`, `phr`, `sphr`).
    pub fn code(self) -> &'static str {
        match self {
            OutputFormat::Bundle => "bundle",
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Phr => "phr",
            OutputFormat::Sphr => "sphr",
        }
    }

    /// The media type of the IG's table.
    pub fn media_type(self) -> &'static str {
        match self {
            OutputFormat::Bundle => "application/fhir+json",
            OutputFormat::Ndjson | OutputFormat::Phr => "application/x-ndjson",
            OutputFormat::Sphr => "application/zip",
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Bundle => "json",
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Phr => "phr",
            OutputFormat::Sphr => "sphr",
        }
    }

    /// True for the line-oriented formats.
    pub fn is_ndjson(self) -> bool {
        matches!(self, OutputFormat::Ndjson | OutputFormat::Phr)
    }
}

impl FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.code() == s)
            .ok_or_else(|| {
                Error::param(
                    "outputFormat",
                    format!("`{s}` is not one of: bundle, ndjson, phr, sphr"),
                )
            })
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_ig_table() {
        let table: Vec<(&str, &str, &str)> = OutputFormat::ALL
            .iter()
            .map(|f| (f.code(), f.media_type(), f.extension()))
            .collect();
        assert_eq!(
            table,
            vec![
                ("bundle", "application/fhir+json", "json"),
                ("ndjson", "application/x-ndjson", "ndjson"),
                ("phr", "application/x-ndjson", "phr"),
                ("sphr", "application/zip", "sphr"),
            ]
        );
        assert!(
            matches!("xml".parse::<OutputFormat>(), Err(Error::InvalidParameter { name, .. }) if name == "outputFormat")
        );
    }
}

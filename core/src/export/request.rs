//! `$phr-export`'s parameters: parsed once, with errors that name the parameter.
//!
//! Every front builds its request through the same checks: the typed `with_*` builders
//! (the SDK, share profiles, the CLI's own code) and [`ExportRequest::from_params`] (HTTP
//! query strings and `Parameters`, the CLI's options), which is a thin adapter over them.

use crate::error::{Error, Result};
use crate::fhir::date::{DateRange, parse_fhir_date};
use crate::media::OutputFormat;

/// Base used for Bundle `fullUrl`s when the caller gives none. `.invalid` is the TLD reserved
/// for names that never resolve: the base only lets relative references resolve inside the
/// document; a server passes its real base.
pub const DEFAULT_BASE_URL: &str = "https://phrkit.invalid/fhir";

/// What to export and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// `outputFormat` (default `bundle`).
    pub format: OutputFormat,
    /// `patient`: the Patient's id; required when the store holds more than one patient.
    pub patient: Option<String>,
    /// `start`: the range begins where this (partial) date begins.
    pub start: Option<DateRange>,
    /// `end`: the range ends where this (partial) date ends (inclusive by precision).
    pub end: Option<DateRange>,
    /// `_since`: only resources this store changed at or after this instant (epoch ms).
    pub since: Option<i64>,
    /// `_type`: only these resource types (the Patient and cover page are always present).
    pub types: Vec<String>,
    /// Base for Bundle `fullUrl`s.
    pub base_url: String,
    /// The export's time (epoch ms) instead of now: the same request and store then give the
    /// same bytes.
    pub timestamp: Option<i64>,
    /// `.sphr` only: the passphrase (None with `encrypt` = generate one).
    pub passphrase: Option<crate::secret::Secret>,
    /// `.sphr` only: AES-256 encrypt the entries (default); false writes a plain zip.
    pub encrypt: bool,
    /// Sensitive categories the patient chose to include (all others are left out, unless an
    /// active Consent in the record permits them).
    pub include_sensitive: Vec<crate::sensitivity::Category>,
}

impl Default for ExportRequest {
    fn default() -> Self {
        ExportRequest {
            format: OutputFormat::Bundle,
            patient: None,
            start: None,
            end: None,
            since: None,
            types: Vec::new(),
            base_url: DEFAULT_BASE_URL.to_string(),
            timestamp: None,
            passphrase: None,
            encrypt: true,
            include_sensitive: Vec::new(),
        }
    }
}

impl ExportRequest {
    /// A request for the store's only patient (or one set with [`Self::with_patient`]) in
    /// `format`, everything else at its default.
    pub fn new(format: OutputFormat) -> Self {
        ExportRequest {
            format,
            ..Default::default()
        }
    }

    /// The Patient to export: `Patient/<id>` or `<id>`. Errors name `patient`.
    pub fn with_patient(mut self, patient: &str) -> Result<Self> {
        self.patient = Some(parse_patient(patient)?);
        Ok(self)
    }

    /// `start`: a FHIR (partial) date; the range begins where it begins. Errors name `start`.
    pub fn with_start(mut self, date: &str) -> Result<Self> {
        self.start = Some(date_param("start", date)?);
        Ok(self)
    }

    /// `end`: a FHIR (partial) date; the range ends where it ends. Errors name `end`.
    pub fn with_end(mut self, date: &str) -> Result<Self> {
        self.end = Some(date_param("end", date)?);
        Ok(self)
    }

    /// `_since`: only what this store changed at or after this instant. Errors name `_since`.
    pub fn with_since(mut self, instant: &str) -> Result<Self> {
        self.since = Some(date_param("_since", instant)?.start);
        Ok(self)
    }

    /// `_type`: only these R4 resource types (added to those already chosen, each once).
    /// Errors name `_type`.
    pub fn with_types<'a>(mut self, types: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        for ty in types.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
            if !crate::fhir::validate::schema().is_resource_type(ty) {
                return Err(Error::param(
                    "_type",
                    format!("`{ty}` is not an R4 resource type"),
                ));
            }
            if !self.types.iter().any(|t| t == ty) {
                self.types.push(ty.to_string());
            }
        }
        Ok(self)
    }

    /// Sensitive categories to include, as codes (see
    /// [`crate::sensitivity::parse_categories`]). Errors name `includeSensitive`.
    pub fn with_sensitive<'a>(mut self, codes: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        for cat in crate::sensitivity::parse_categories(codes, "includeSensitive")? {
            if !self.include_sensitive.contains(&cat) {
                self.include_sensitive.push(cat);
            }
        }
        Ok(self)
    }

    /// Parses operation parameters as they arrive in a query string or on the command line,
    /// through the `with_*` builders. Repeated `_type` parameters add up; unknown parameters
    /// are an error.
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut req = ExportRequest::default();
        for (name, value) in params {
            req = match name {
                "outputFormat" | "_outputFormat" => ExportRequest {
                    format: value.parse()?,
                    ..req
                },
                "patient" => req.with_patient(value)?,
                "start" => req.with_start(value)?,
                "end" => req.with_end(value)?,
                "_since" => req.with_since(value)?,
                "_type" => req.with_types(value.split(','))?,
                "includeSensitive" => req.with_sensitive(value.split(','))?,
                "encryption" => ExportRequest {
                    encrypt: match value {
                        "aes256" => true,
                        "none" => false,
                        _ => {
                            return Err(Error::param(
                                "encryption",
                                "expected aes256 (default) or none",
                            ));
                        }
                    },
                    ..req
                },
                other => return Err(Error::param(other, "unknown parameter of $phr-export")),
            };
        }
        req.check()?;
        Ok(req)
    }

    /// Checks combinations: `start` must not be after `end`.
    pub fn check(&self) -> Result<()> {
        if let (Some(s), Some(e)) = (self.start, self.end)
            && s.start >= e.end
        {
            return Err(Error::param("start", "is after `end`"));
        }
        if self.format == OutputFormat::Sphr
            && self.encrypt
            && let Some(p) = &self.passphrase
            && !p.expose().is_empty()
            && !strong_enough(p.expose())
        {
            return Err(Error::param(
                "passphrase",
                "is too easy to guess: use four or more unrelated words, or leave it out and \
                 phrkit generates a strong one",
            ));
        }
        Ok(())
    }

    /// The clinical-date range `[start, end)` the request selects, if any.
    pub fn date_range(&self) -> Option<DateRange> {
        DateRange::spanning(self.start, self.end)
    }
}

fn date_param(name: &str, value: &str) -> Result<DateRange> {
    parse_fhir_date(value).map_err(|e| {
        Error::param(
            name,
            format!("{e} (expected a FHIR date such as 2010, 2020-06 or 2024-01-01)"),
        )
    })
}

/// `Patient/123` or `123` → `123`.
fn parse_patient(value: &str) -> Result<String> {
    let id = value.strip_prefix("Patient/").unwrap_or(value);
    if crate::fhir::is_valid_id(id) {
        Ok(id.to_string())
    } else {
        Err(Error::param("patient", "expected Patient/<id>"))
    }
}

/// True when zxcvbn estimates `passphrase` takes at least ~10^8 guesses (its score 3, "safely
/// unguessable: moderate protection from offline slow-hash scenario"): a `.sphr` travels,
/// and anyone who holds the file can try passphrases offline for as long as they like.
pub fn strong_enough(passphrase: &str) -> bool {
    zxcvbn::zxcvbn(passphrase, &[]).score() >= zxcvbn::Score::Three
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_name(r: Result<ExportRequest>) -> String {
        match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("expected a parameter error, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_seed_examples() {
        let r = ExportRequest::from_params([
            ("patient", "Patient/12345"),
            ("outputFormat", "sphr"),
            ("start", "2020"),
        ])
        .unwrap();
        assert_eq!(r.patient.as_deref(), Some("12345"));
        assert_eq!(r.format, OutputFormat::Sphr);
        let r = ExportRequest::from_params([("start", "2010"), ("end", "2020-06")]).unwrap();
        let range = r.date_range().unwrap();
        assert_eq!(range.start, parse_fhir_date("2010-01-01").unwrap().start);
        assert_eq!(range.end, parse_fhir_date("2020-07-01").unwrap().start);
        let r = ExportRequest::from_params([
            ("_type", "Observation,Condition"),
            ("_type", "Observation"),
        ])
        .unwrap();
        assert_eq!(r.types, vec!["Observation", "Condition"]);
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert_eq!(
            err_name(ExportRequest::from_params([("outputFormat", "xml")])),
            "outputFormat"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([("start", "2020-13")])),
            "start"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([("end", "yesterday")])),
            "end"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([("_since", "2020-02-30")])),
            "_since"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([("_type", "Observation,Blood")])),
            "_type"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([("patient", "Patient/a b")])),
            "patient"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([
                ("start", "2021"),
                ("end", "2020")
            ])),
            "start"
        );
        assert_eq!(
            err_name(ExportRequest::from_params([("colour", "red")])),
            "colour"
        );
    }

    #[test]
    fn chosen_sphr_passphrases_must_be_hard_to_guess() {
        let mut r = ExportRequest::from_params([("outputFormat", "sphr")]).unwrap();
        for weak in ["swordfish", "password1", "benchmark"] {
            r.passphrase = Some(crate::secret::Secret::new(weak));
            let err = r.check().unwrap_err().to_string();
            assert!(
                err.contains("too easy to guess") && !err.contains(weak),
                "{err}"
            );
        }
        r.passphrase = Some(crate::secret::Secret::new("correct horse battery staple"));
        assert!(r.check().is_ok());
        r.passphrase = Some(crate::sphr::generate_passphrase().unwrap());
        assert!(r.check().is_ok(), "generated passphrases pass");
        r.passphrase = Some(crate::secret::Secret::new("swordfish"));
        r.encrypt = false;
        assert!(r.check().is_ok(), "no passphrase is used for a plain zip");
    }
}

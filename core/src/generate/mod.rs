//! Deterministic synthetic health records for the demo and for benchmarks.
//!
//! The project ships no third-party patient data, so everything the demo shows
//! and every benchmark loads comes from [`generate`]. It writes NDJSON: one
//! minified FHIR R4 resource per line, in an order a store can load in a single
//! pass (every reference points to a resource written earlier).
//!
//! **Determinism.** All randomness comes from one `ChaCha8Rng` seeded with
//! [`GenerateOptions::seed`]; no hash-map iteration order, no clock, no
//! environment. "Today" is the constant 2026-11-01, so the same options always
//! produce byte-identical output on every platform.
//!
//! **Shape.** A shared pool comes first: 5 Organizations, 20 Practitioners
//! and 2–3 Locations. Then each patient: the Patient resource followed by
//! encounters in chronological order from birth towards "today", each
//! followed by what happened during it (vital signs, lab panels with their
//! DiagnosticReport, Conditions, MedicationRequests, Immunizations,
//! Procedures, AllergyIntolerances and, now and then, a DocumentReference
//! carrying a small valid PDF). Chronic problems are planned per patient at
//! birth and diagnosed at the first check-up after their onset; they then drive
//! lab values, blood pressure and maintenance prescriptions, so a record reads
//! like one life rather than independent noise. Each record ends with a check-up
//! a few weeks to months before "today" that renews the maintenance drugs: those
//! renewals are the patient's current (`active`) prescriptions, one per drug, and
//! earlier ones are `completed` — about half the patients take something now. About 3% of Conditions are
//! sensitive (mental health, substance use, HIV, sexual health) and carry
//! `meta.security` labels so privacy filters have something to find.
//!
//! **Budget.** Each patient gets exactly `resources_per_patient` resources
//! (Patient included): encounters are generated until the budget is spent and
//! the last encounter's contents are truncated. A fifth of it (at most 30) is kept
//! for that last check-up. The spacing between
//! encounters adapts to the budget still left so the record spans decades
//! and ends close to "today" (infancy is visited more often). Budgets so
//! large that less than a week is left per encounter get only short visits,
//! so even a million resources for one patient end before "today".
//!
//! **Streaming and speed.** Only one patient's small state and one line are
//! held at a time, so memory stays constant whatever the size of the run.
//! Lines are written by the `jw!` macro straight into a reused buffer: it
//! reads like `serde_json::json!` but builds no `Value` tree, which was most
//! of the cost (allocation and map hashing) when benchmarks ask for hundreds
//! of thousands of resources. Times are kept as seconds in the patient's local
//! time (a fixed, DST-free offset per home city) and printed with that offset,
//! so within a patient every timestamp sorts as text.
//!
//! **Modules.** `json` writes the lines, `codes` holds the code tables, `time` the
//! clock; `pool` writes the shared pool, `people` the patients, `encounter` their
//! encounters, which call the writers of `observations`, `clinical` and `document`.

mod bundle;
mod clinical;
mod codes;
mod document;
mod encounter;
mod json;
mod observations;
mod people;
mod pool;
mod time;

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

pub use bundle::References;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of patients written after the shared pool.
    pub patients: usize,
    /// Resources per patient, counting the Patient resource itself.
    pub resources_per_patient: usize,
    /// Seed of the random generator; equal options give byte-identical output.
    pub seed: u64,
    /// One resource per line, or one transaction Bundle per patient per line.
    pub shape: Shape,
}

/// How the generated record is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// NDJSON, one resource per line, every reference to an earlier line (the default).
    #[default]
    Ndjson,
    /// One transaction Bundle per patient per line, as Synthea and hospital portals export:
    /// `urn:uuid:` fullUrls, forward references, the shared pool repeated with differing
    /// extensions, a Provenance last (see the `bundle` module).
    TransactionBundles(References),
}

impl Default for GenerateOptions {
    /// Three patients of 500 resources each, seed 1.
    fn default() -> Self {
        Self {
            patients: 3,
            resources_per_patient: 500,
            seed: 1,
            shape: Shape::Ndjson,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Number of resources (lines) written: pool + patients × budget.
    pub resources: usize,
    /// Number of bytes written, newlines included.
    pub bytes: u64,
    /// Number of resources per `resourceType`.
    pub per_type: BTreeMap<String, usize>,
}

/// Writes a synthetic FHIR R4 record as NDJSON to `out` and tells what it wrote.
///
/// Output is buffered internally; the only errors are those of `out`.
pub fn generate<W: Write>(opts: &GenerateOptions, out: W) -> io::Result<GenerateSummary> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(opts.seed),
        out: BufWriter::with_capacity(1 << 16, out),
        line: Vec::with_capacity(4096),
        summary: GenerateSummary::default(),
        left: usize::MAX,
        orgs: Vec::new(),
        doctors: Vec::new(),
        locations: Vec::new(),
        bundling: bundle::Bundling::default(),
    };
    if let Shape::TransactionBundles(r) = opts.shape {
        g.bundling.references = Some(r);
    }
    g.pool()?;
    for idx in 0..opts.patients {
        g.left = opts.resources_per_patient;
        if g.left == 0 {
            continue;
        }
        let mut p = g.patient(idx)?;
        g.encounters(&mut p)?;
    }
    g.close_bundle()?;
    g.out.flush()?;
    Ok(g.summary)
}

/// Writes one resource of type `$ty` with `jw!` syntax and emits it as a line.
macro_rules! emit {
    ($g:ident, $ty:literal, { $($body:tt)* }) => {{
        let mut buf = std::mem::take(&mut $g.line);
        buf.clear();
        {
            let w = &mut buf;
            $crate::generate::json::jw!(w; { "resourceType": $ty, $($body)* });
        }
        $g.emit($ty, buf)
    }};
}
use emit;

/// The generator's state for a whole run; its methods, spread over the submodules,
/// each write one kind of resource.
struct Gen<W: Write> {
    /// The only source of randomness.
    rng: ChaCha8Rng,
    /// Where lines go.
    out: BufWriter<W>,
    /// The line being written, reused from one resource to the next.
    line: Vec<u8>,
    /// What was written so far.
    summary: GenerateSummary,
    /// Resources left in the current patient's budget.
    left: usize,
    /// Organization ids of the pool, in [`codes::ORGS`] order.
    orgs: Vec<String>,
    /// Practitioners of the pool: (id, "Dr. Given Family").
    doctors: Vec<(String, String)>,
    /// Locations of the pool: (id, index of the managing organization in `orgs`).
    locations: Vec<(String, usize)>,
    /// The Bundle being written, in [`Shape::TransactionBundles`].
    bundling: bundle::Bundling,
}

impl<W: Write> Gen<W> {
    /// Ends the line `line` (one resource of type `ty`), writes it and counts it against the
    /// budget; `line` is kept as the buffer of the next one.
    fn emit(&mut self, ty: &'static str, mut line: Vec<u8>) -> io::Result<()> {
        self.left = self.left.saturating_sub(1);
        if self.bundling.references.is_some() {
            return self.bundle_resource(ty, line);
        }
        line.push(b'\n');
        self.write_out(&line)?;
        self.count(ty);
        self.line = line;
        Ok(())
    }

    /// Writes output bytes and counts them.
    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.summary.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Counts one resource of type `ty` written.
    fn count(&mut self, ty: &str) {
        self.summary.resources += 1;
        match self.summary.per_type.get_mut(ty) {
            Some(n) => *n += 1,
            None => {
                self.summary.per_type.insert(ty.to_owned(), 1);
            }
        }
    }

    /// A random (version 4) UUID in lower-case hex, the id of every resource.
    fn uuid(&mut self) -> String {
        let v: u128 = self.rng.random();
        let v = (v & !(0xf << 76)) | (0x4 << 76);
        let v = (v & !(0x3 << 62)) | (0x2 << 62);
        let h = format!("{v:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// A uniform random number in `lo..hi`.
    fn uni(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.random::<f64>()
    }

    /// A random element of `items`.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use serde_json::Value;

    use super::*;

    /// Generates into memory; shared with the tests of the submodules.
    pub(super) fn run(
        patients: usize,
        resources_per_patient: usize,
        seed: u64,
    ) -> (Vec<u8>, GenerateSummary) {
        let mut out = Vec::new();
        let opts = GenerateOptions {
            patients,
            resources_per_patient,
            seed,
            shape: Shape::Ndjson,
        };
        let summary = generate(&opts, &mut out).expect("writing to a Vec cannot fail");
        (out, summary)
    }

    /// The lines of `out` parsed as JSON, after checking the NDJSON framing.
    pub(super) fn lines(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).expect("UTF-8");
        assert!(text.ends_with('\n') && !text.starts_with('\u{feff}'));
        text.lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    fn references(v: &Value, found: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match x {
                        Value::String(s) if k == "reference" => found.push(s.clone()),
                        _ => references(x, found),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| references(x, found)),
            _ => {}
        }
    }

    /// The time a resource happened, by type: what the per-patient order is about.
    fn when(r: &Value) -> Option<&str> {
        let field = match r["resourceType"].as_str()? {
            "Encounter" => &r["period"]["start"],
            "Condition" | "AllergyIntolerance" => &r["recordedDate"],
            "Observation" | "DiagnosticReport" => &r["effectiveDateTime"],
            "MedicationRequest" => &r["authoredOn"],
            "Immunization" => &r["occurrenceDateTime"],
            "Procedure" if r["performedPeriod"].is_object() => &r["performedPeriod"]["start"],
            "Procedure" => &r["performedDateTime"],
            "DocumentReference" => &r["date"],
            _ => return None,
        };
        field.as_str()
    }

    #[test]
    fn same_options_same_bytes() {
        let (a, sa) = run(4, 300, 42);
        let (b, sb) = run(4, 300, 42);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_ne!(a, run(4, 300, 43).0);
    }

    #[test]
    fn exact_counts_and_summary() {
        for (patients, budget) in [(0, 10), (3, 0), (2, 1), (3, 2), (5, 137)] {
            let (out, s) = run(patients, budget, 7);
            let rows = lines(&out);
            let pool = rows
                .iter()
                .take_while(|r| r["resourceType"] != "Patient")
                .count();
            assert!((27..=28).contains(&pool), "pool of {pool}");
            assert_eq!(rows.len(), pool + patients * budget);
            assert_eq!(s.resources, rows.len());
            assert_eq!(s.bytes, out.len() as u64);
            assert_eq!(s.per_type.values().sum::<usize>(), s.resources);
            let patients_seen = rows
                .iter()
                .filter(|r| r["resourceType"] == "Patient")
                .count();
            assert_eq!(patients_seen, if budget == 0 { 0 } else { patients });
        }
    }

    #[test]
    fn lines_ids_references_and_order() {
        let (out, summary) = run(6, 500, 3);
        let mut seen = HashSet::new();
        let mut last_when = String::new();
        let (mut birth, mut tz) = (String::new(), String::new());
        for r in lines(&out) {
            let ty = r["resourceType"].as_str().expect("resourceType");
            let id = r["id"].as_str().expect("id");
            assert_eq!(id.len(), 36);
            assert!(
                id.bytes()
                    .enumerate()
                    .all(|(i, b)| if [8, 13, 18, 23].contains(&i) {
                        b == b'-'
                    } else {
                        b.is_ascii_hexdigit() && !b.is_ascii_uppercase()
                    })
            );
            assert!(r.get("meta").is_none_or(|m| m.get("lastUpdated").is_none()));
            let mut refs = Vec::new();
            references(&r, &mut refs);
            for target in refs {
                assert!(
                    seen.contains(&target),
                    "{ty}/{id} points to unknown {target}"
                );
            }
            assert!(seen.insert(format!("{ty}/{id}")), "duplicate id");
            if ty == "Patient" {
                birth = r["birthDate"].as_str().unwrap_or_default().to_owned();
                (last_when, tz) = (String::new(), String::new());
            }
            if let Some(t) = when(&r) {
                assert!(
                    t >= last_when.as_str() && t > birth.as_str(),
                    "{ty} at {t} after {last_when}"
                );
                assert!(
                    tz.is_empty() || t.ends_with(tz.as_str()),
                    "one offset per patient"
                );
                (last_when, tz) = (t.to_owned(), t[19..].to_owned());
            }
        }
        let types: BTreeSet<_> = summary.per_type.keys().map(String::as_str).collect();
        let all = [
            "AllergyIntolerance",
            "Condition",
            "DiagnosticReport",
            "DocumentReference",
            "Encounter",
            "Immunization",
            "Location",
            "MedicationRequest",
            "Observation",
            "Organization",
            "Patient",
            "Practitioner",
            "Procedure",
        ];
        assert_eq!(types, all.into_iter().collect());
        assert!(last_when.as_str() < "2026-11-02", "nothing after today");
    }
}

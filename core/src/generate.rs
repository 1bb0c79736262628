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
//! like one life rather than independent noise. About 3% of Conditions are
//! sensitive (mental health, substance use, HIV, sexual health) and carry
//! `meta.security` labels so privacy filters have something to find.
//!
//! **Budget.** Each patient gets exactly `resources_per_patient` resources
//! (Patient included): encounters are generated until the budget is spent and
//! the last encounter's contents are truncated. The spacing between
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

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
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
}

impl Default for GenerateOptions {
    /// Three patients of 500 resources each, seed 1.
    fn default() -> Self {
        Self {
            patients: 3,
            resources_per_patient: 500,
            seed: 1,
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
    };
    g.pool()?;
    for idx in 0..opts.patients {
        g.left = opts.resources_per_patient;
        g.patient(idx)?;
    }
    g.out.flush()?;
    Ok(g.summary)
}

/// Writes JSON with `json!`-like syntax straight into `$w: &mut Vec<u8>`.
///
/// Object entries are `"key": expr` (left out when `expr` is `None`),
/// `"key": {..}`, `"key": [..]`, and `"key" if cond => {..}` / `[..]`
/// (written only when `cond` holds). Array elements are `{..}`, `[..]` or `expr`.
macro_rules! jw {
    ($w:ident; { $($body:tt)* }) => {{
        $w.push(b'{');
        #[allow(unused_mut, unused_variables)]
        let mut first = true;
        jw!(@obj $w first; $($body)*);
        $w.push(b'}');
    }};
    ($w:ident; [ $($body:tt)* ]) => {{
        $w.push(b'[');
        #[allow(unused_mut, unused_variables)]
        let mut first = true;
        jw!(@arr $w first; $($body)*);
        $w.push(b']');
    }};
    (@obj $w:ident $f:ident;) => {};
    (@obj $w:ident $f:ident; $k:literal if $c:expr => { $($v:tt)* } $(, $($rest:tt)*)?) => {
        if $c { jw!(@key $w $f $k); jw!($w; { $($v)* }); }
        jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal if $c:expr => [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        if $c { jw!(@key $w $f $k); jw!($w; [ $($v)* ]); }
        jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal : { $($v:tt)* } $(, $($rest:tt)*)?) => {
        jw!(@key $w $f $k);
        jw!($w; { $($v)* });
        jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal : [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        jw!(@key $w $f $k);
        jw!($w; [ $($v)* ]);
        jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal : $v:expr $(, $($rest:tt)*)?) => {
        let v = $v;
        if Json::present(&v) {
            jw!(@key $w $f $k);
            Json::write(&v, $w);
        }
        jw!(@obj $w $f; $($($rest)*)?);
    };
    (@key $w:ident $f:ident $k:literal) => {
        jw!(@sep $w $f);
        $w.extend_from_slice(concat!("\"", $k, "\":").as_bytes());
    };
    (@arr $w:ident $f:ident;) => {};
    (@arr $w:ident $f:ident; { $($v:tt)* } $(, $($rest:tt)*)?) => {
        jw!(@sep $w $f);
        jw!($w; { $($v)* });
        jw!(@arr $w $f; $($($rest)*)?);
    };
    (@arr $w:ident $f:ident; [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        jw!(@sep $w $f);
        jw!($w; [ $($v)* ]);
        jw!(@arr $w $f; $($($rest)*)?);
    };
    (@arr $w:ident $f:ident; $v:expr $(, $($rest:tt)*)?) => {
        jw!(@sep $w $f);
        Json::write(&$v, $w);
        jw!(@arr $w $f; $($($rest)*)?);
    };
    (@sep $w:ident $f:ident) => {
        separate($w, &mut $f);
    };
}

/// Writes the comma between entries of an object or array.
fn separate(w: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        w.push(b',');
    }
    *first = false;
}

/// Writes one resource of type `$ty` with `jw!` syntax and emits it as a line.
macro_rules! emit {
    ($g:ident, $ty:literal, { $($body:tt)* }) => {{
        let mut buf = std::mem::take(&mut $g.line);
        buf.clear();
        {
            let w = &mut buf;
            jw!(w; { "resourceType": $ty, $($body)* });
        }
        $g.emit($ty, buf)
    }};
}

const DAY: i64 = 86_400;
const YEAR: i64 = 31_556_952;
const TODAY: i64 = days_from_civil(2026, 11, 1) * DAY;
/// Prior guess of resources per encounter, refined per patient as it goes.
const EST_PER_ENCOUNTER: f64 = 8.0;
/// Chance that a check-up or sick visit of a teenager or adult adds a sensitive diagnosis.
const SENSITIVE_P: f64 = 0.03;

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
const CVX: &str = "http://hl7.org/fhir/sid/cvx";
const UCUM: &str = "http://unitsofmeasure.org";
const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const COND_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const COND_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const COND_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

#[rustfmt::skip]
const GIVEN_F: &[&str] = &[
    "Mary", "Linda", "Susan", "Emma", "Olivia", "Sofia", "Ana", "Grace", "Hannah", "Chloe",
    "Maria", "Julia", "Nora", "Elena", "Aisha", "Mei", "Priya", "Claire", "Ruth", "Fatima",
];
#[rustfmt::skip]
const GIVEN_M: &[&str] = &[
    "James", "John", "Robert", "Michael", "David", "Daniel", "Lucas", "Mateo", "Noah", "Liam",
    "Omar", "Wei", "Arjun", "Thomas", "Pieter", "Hugo", "Samuel", "Carlos", "Ethan", "Kofi",
];
#[rustfmt::skip]
const FAMILY: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Lee",
    "Nguyen", "Patel", "Kim", "Chen", "de Vries", "Jansen", "Bakker", "Dubois", "Moreau",
    "Okafor", "Haddad", "Novak",
];
#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Park Road", "Elm Street",
    "Lake View Road", "Hillside Avenue", "River Road", "Church Street", "Mill Lane", "Sunset Way",
];
/// Home cities: (city, state, postal prefix, country, UTC offset, phone prefix). US ones first.
#[rustfmt::skip]
const CITIES: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("Boston", "MA", "021", "US", "-05:00", "+1 617-555-"),
    ("Atlanta", "GA", "303", "US", "-05:00", "+1 404-555-"),
    ("Chicago", "IL", "606", "US", "-06:00", "+1 312-555-"),
    ("Austin", "TX", "787", "US", "-06:00", "+1 512-555-"),
    ("Denver", "CO", "802", "US", "-07:00", "+1 303-555-"),
    ("Seattle", "WA", "981", "US", "-08:00", "+1 206-555-"),
    ("Amsterdam", "NH", "10", "NL", "+01:00", "+31 20 555 "),
    ("Lyon", "ARA", "690", "FR", "+01:00", "+33 4 55 55 "),
];
const US_CITIES: usize = 6;
/// Pool organizations; the first three run the Locations, the last two are laboratories.
const ORGS: &[&str] = &[
    "Riverside General Hospital",
    "Maple Family Health Clinic",
    "Lakeshore Medical Center",
    "Northgate Diagnostics Laboratory",
    "Summit Reference Laboratory",
];
/// Pool locations: (name, managing organization index, v3-RoleCode, display).
#[rustfmt::skip]
const LOCATIONS: &[(&str, usize, &str, &str)] = &[
    ("Riverside General Hospital", 0, "HOSP", "Hospital"),
    ("Maple Family Health Clinic - Main Office", 1, "FMC", "Family medicine clinic"),
    ("Lakeshore Medical Center Outpatient Clinic", 2, "GIM", "General internal medicine clinic"),
];

/// Problems of sick visits (0), emergencies (1) and admissions (2):
/// (SNOMED code, display, days to resolve (0 = ongoing), RxNorm treatment, SNOMED procedure, min age).
#[rustfmt::skip]
type Problem = (&'static str, &'static str, i64, &'static str, &'static str, f64);
#[rustfmt::skip]
const PROBLEMS: [&[Problem]; 3] = [
    &[
        ("444814009", "Viral sinusitis (disorder)", 14, "", "", 2.0),
        ("195662009", "Acute viral pharyngitis (disorder)", 10, "313782", "", 1.0),
        ("10509002", "Acute bronchitis (disorder)", 21, "", "", 1.0),
        ("43878008", "Streptococcal sore throat (disorder)", 10, "834061", "117015009", 3.0),
        ("65363002", "Otitis media (disorder)", 10, "308182", "", 0.5),
        ("68566005", "Urinary tract infectious disease (disorder)", 7, "562251", "", 5.0),
        ("40275004", "Contact dermatitis (disorder)", 14, "", "", 0.5),
    ],
    &[
        ("44465007", "Sprain of ankle (disorder)", 28, "310965", "", 3.0),
        ("58150001", "Fracture of clavicle (disorder)", 56, "313782", "168594001", 1.0),
        ("39848009", "Whiplash injury to neck (disorder)", 42, "849574", "", 16.0),
        ("284551006", "Laceration of foot (disorder)", 14, "313782", "288086009", 2.0),
        ("62106007", "Concussion with no loss of consciousness (disorder)", 21, "313782", "", 3.0),
        ("29857009", "Chest pain (finding)", 1, "", "29303009", 30.0),
    ],
    &[
        ("233604007", "Pneumonia (disorder)", 21, "562251", "399208008", 0.0),
        ("74400008", "Appendicitis (disorder)", 28, "1049221", "80146002", 5.0),
        ("22298006", "Myocardial infarction (disorder)", 90, "243670", "29303009", 45.0),
        ("239873007", "Osteoarthritis of knee (disorder)", 0, "1049221", "609588000", 55.0),
    ],
];
/// Lifelong problems: (SNOMED code, display, RxNorm maintenance drug, lifetime chance, onset age range).
#[rustfmt::skip]
const CHRONIC: &[(&str, &str, &str, f64, f64, f64)] = &[
    ("38341003", "Hypertensive disorder, systemic arterial (disorder)", "314076", 0.35, 30.0, 75.0),
    ("44054006", "Diabetes mellitus type 2 (disorder)", "860975", 0.12, 35.0, 75.0),
    ("55822004", "Hyperlipidemia (disorder)", "259255", 0.30, 30.0, 70.0),
    ("195967001", "Asthma (disorder)", "745679", 0.10, 2.0, 40.0),
    ("40055000", "Chronic sinusitis (disorder)", "", 0.08, 18.0, 60.0),
];
const HYPERTENSION: usize = 0;
const DIABETES: usize = 1;
const HYPERLIPIDEMIA: usize = 2;
/// Sensitive problems: (SNOMED code, display, v3-ActCode label, label display, days to resolve).
#[rustfmt::skip]
const SENSITIVE: &[(&str, &str, &str, &str, i64)] = &[
    ("35489007", "Depressive disorder (disorder)", "PSY", "psychiatry disorder information sensitivity", 0),
    ("191736004", "Obsessive-compulsive disorder (disorder)", "PSY", "psychiatry disorder information sensitivity", 0),
    ("66214007", "Substance abuse (disorder)", "ETH", "substance abuse information sensitivity", 365),
    ("86406008", "Human immunodeficiency virus infection (disorder)", "HIV", "HIV/AIDS information sensitivity", 0),
    ("15628003", "Gonorrhea (disorder)", "SEX", "sexuality and reproductive health information sensitivity", 14),
];
/// Drugs: (RxNorm code, display, instructions, times a day, as needed, course in days; 0 = maintenance).
#[rustfmt::skip]
const MEDS: &[(&str, &str, &str, u32, bool, i64)] = &[
    ("314076", "lisinopril 10 MG Oral Tablet", "Take 1 tablet by mouth once daily", 1, false, 0),
    ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", "Take 1 tablet by mouth once daily with the evening meal", 1, false, 0),
    ("259255", "Atorvastatin 80 MG Oral Tablet", "Take 1 tablet by mouth once daily at bedtime", 1, false, 0),
    ("745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "Inhale 2 puffs every 4 to 6 hours as needed for wheezing", 4, true, 0),
    ("243670", "aspirin 81 MG Oral Tablet", "Take 1 tablet by mouth once daily", 1, false, 0),
    ("313782", "Acetaminophen 325 MG Oral Tablet", "Take 2 tablets by mouth every 6 hours as needed for pain", 4, true, 5),
    ("310965", "Ibuprofen 200 MG Oral Tablet", "Take 2 tablets by mouth every 8 hours as needed for pain", 3, true, 7),
    ("849574", "Naproxen sodium 220 MG Oral Tablet", "Take 1 tablet by mouth every 12 hours with food", 2, false, 10),
    ("834061", "Penicillin V Potassium 250 MG Oral Tablet", "Take 1 tablet by mouth four times daily for 10 days", 4, false, 10),
    ("308182", "Amoxicillin 250 MG Oral Capsule", "Take 1 capsule by mouth three times daily for 10 days", 3, false, 10),
    ("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", "Take 1 tablet by mouth every 8 hours for 7 days", 3, false, 7),
    ("1049221", "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet", "Take 1 tablet by mouth every 6 hours as needed for severe pain", 4, true, 5),
];
/// Procedures: (SNOMED code, display, minutes; 0 = a moment, written as performedDateTime).
#[rustfmt::skip]
const PROCEDURES: &[(&str, &str, i64)] = &[
    ("117015009", "Throat culture (procedure)", 0),
    ("168594001", "Plain X-ray of clavicle (procedure)", 0),
    ("288086009", "Suture open wound (procedure)", 25),
    ("29303009", "Electrocardiographic procedure (procedure)", 0),
    ("399208008", "Plain chest X-ray (procedure)", 0),
    ("80146002", "Appendectomy (procedure)", 75),
    ("609588000", "Total knee replacement (procedure)", 140),
    ("430193006", "Medication reconciliation (procedure)", 0),
    ("73761001", "Colonoscopy (procedure)", 40),
];
/// Lab tests: (LOINC, display, UCUM unit, reference low, high, decimals, chronic problem
/// that raises it, raised low, raised high).
#[rustfmt::skip]
type Lab = (&'static str, &'static str, &'static str, f64, f64, usize, Option<usize>, f64, f64);
#[rustfmt::skip]
const LABS: &[Lab] = &[
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 70.0, 99.0, 0, Some(DIABETES), 110.0, 220.0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6, 1, Some(DIABETES), 6.5, 9.5),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 125.0, 200.0, 0, Some(HYPERLIPIDEMIA), 210.0, 290.0),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 40.0, 150.0, 0, Some(HYPERLIPIDEMIA), 160.0, 320.0),
    ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40.0, 80.0, 0, None, 0.0, 0.0),
    ("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", 50.0, 130.0, 0, Some(HYPERLIPIDEMIA), 135.0, 200.0),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5, 1, None, 0.0, 0.0),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.5, 11.0, 1, None, 0.0, 0.0),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150.0, 400.0, 0, None, 0.0, 0.0),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3, 2, None, 0.0, 0.0),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 136.0, 145.0, 0, None, 0.0, 0.0),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1, 1, None, 0.0, 0.0),
];
/// Lab panels, each reported by one DiagnosticReport: (LOINC, display, member tests).
#[rustfmt::skip]
const PANELS: &[(&str, &str, &[&str])] = &[
    ("57698-3", "Lipid panel with direct LDL - Serum or Plasma", &["2093-3", "2571-8", "2085-9", "18262-6"]),
    ("58410-2", "CBC panel - Blood by Automated count", &["718-7", "6690-2", "777-3"]),
    ("51990-0", "Basic metabolic panel - Blood", &["2339-0", "2160-0", "2951-2", "2823-3"]),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", &["4548-4"]),
];
const LIPID: usize = 0;
const CBC: usize = 1;
const BMP: usize = 2;
const A1C: usize = 3;
/// Vital signs: (LOINC, display, UCUM unit).
const HEART_RATE: (&str, &str, &str) = ("8867-4", "Heart rate", "/min");
const WEIGHT: (&str, &str, &str) = ("29463-7", "Body weight", "kg");
const HEIGHT: (&str, &str, &str) = ("8302-2", "Body height", "cm");
const BMI: (&str, &str, &str) = ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2");
const TEMPERATURE: (&str, &str, &str) = ("8310-5", "Body temperature", "Cel");
/// Routine vaccines: (CVX, display, from age in months, until age in months, first year given).
#[rustfmt::skip]
const VACCINES: &[(&str, &str, f64, f64, i64)] = &[
    ("08", "Hep B, adolescent or pediatric", 0.0, 3.0, 1991),
    ("20", "DTaP", 1.5, 8.0, 1991),
    ("10", "IPV", 1.5, 8.0, 1987),
    ("03", "MMR", 12.0, 30.0, 1971),
    ("21", "varicella", 12.0, 30.0, 1995),
    ("115", "Tdap", 132.0, 168.0, 2005),
    ("62", "HPV, quadrivalent", 132.0, 216.0, 2006),
    ("187", "zoster vaccine recombinant", 600.0, 960.0, 2018),
    ("133", "Pneumococcal conjugate PCV 13", 780.0, 960.0, 2010),
];
const FLU: (&str, &str) = ("140", "Influenza, seasonal, injectable, preservative free");
const COVID: (&str, &str) = (
    "208",
    "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose",
);
/// Allergies: (code system, code, substance, category, type, criticality, SNOMED manifestation, display, severity).
#[rustfmt::skip]
type Allergy = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);
#[rustfmt::skip]
const ALLERGIES: &[Allergy] = &[
    (RXNORM, "7980", "Penicillin G", "medication", "allergy", "high", "247472004", "Wheal (finding)", "moderate"),
    (RXNORM, "2670", "Codeine", "medication", "intolerance", "low", "422587007", "Nausea (finding)", "mild"),
    (SNOMED, "762952008", "Peanut (substance)", "food", "allergy", "high", "39579001", "Anaphylaxis (disorder)", "severe"),
    (SNOMED, "735029006", "Shellfish (substance)", "food", "allergy", "high", "271807003", "Eruption of skin (disorder)", "moderate"),
    (SNOMED, "256277009", "Grass pollen (substance)", "environment", "allergy", "low", "76067001", "Sneezing (finding)", "mild"),
    (SNOMED, "264287008", "Animal dander (substance)", "environment", "allergy", "low", "49727002", "Cough (finding)", "mild"),
    (SNOMED, "111088007", "Latex (substance)", "environment", "allergy", "unable-to-assess", "247472004", "Wheal (finding)", "moderate"),
    (SNOMED, "288328004", "Bee venom (substance)", "environment", "allergy", "high", "39579001", "Anaphylaxis (disorder)", "severe"),
];
/// Note types: (LOINC, display).
const HP_NOTE: (&str, &str) = ("34117-2", "History and physical note");
const PROGRESS_NOTE: (&str, &str) = ("11506-3", "Progress note");
const DISCHARGE: (&str, &str) = ("18842-5", "Discharge summary");

/// Encounter kinds: (shortest, longest minutes, v3-ActCode class, display, SNOMED type, display).
#[rustfmt::skip]
const ENCOUNTERS: [(i64, i64, &str, &str, &str, &str); 5] = [
    (20, 45, "AMB", "ambulatory", "410620009", "Well child visit (procedure)"),
    (20, 45, "AMB", "ambulatory", "162673000", "General examination of patient (procedure)"),
    (15, 30, "AMB", "ambulatory", "185345009", "Encounter for symptom (procedure)"),
    (120, 360, "EMER", "emergency", "50849002", "Emergency room admission (procedure)"),
    (1440, 10080, "IMP", "inpatient encounter", "32485007", "Hospital admission (procedure)"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wellness,
    Sick,
    Emergency,
    Inpatient,
}

/// One patient's state while their record is written.
struct Person {
    id: String,
    name: String,
    mrn: String,
    birth: i64,
    tz: &'static str,
    adult_height: f64,
    bmi: f64,
    pcp: usize,
    clinic: usize,
    onset: [i64; CHRONIC.len()],
    chronic: [Option<String>; CHRONIC.len()],
    vaccines: u16,
    flu_year: i64,
    covid_year: i64,
    allergies_left: u8,
    allergies_seen: u8,
    encounters: usize,
}

impl Person {
    fn age(&self, t: i64) -> f64 {
        (t - self.birth) as f64 / YEAR as f64
    }

    fn dt(&self, t: i64) -> String {
        fmt_dt(t, self.tz)
    }
}

/// The encounter being filled; `cursor` moves forward as things happen.
struct Enc {
    id: String,
    kind: Kind,
    start: i64,
    end: i64,
    cursor: i64,
    doctor: usize,
    location: usize,
    reason: &'static str,
}

struct Gen<W: Write> {
    rng: ChaCha8Rng,
    out: BufWriter<W>,
    line: Vec<u8>,
    summary: GenerateSummary,
    /// Resources left in the current patient's budget.
    left: usize,
    orgs: Vec<String>,
    doctors: Vec<(String, String)>,
    locations: Vec<(String, usize)>,
}

impl<W: Write> Gen<W> {
    fn emit(&mut self, ty: &'static str, line: Vec<u8>) -> io::Result<()> {
        self.line = line;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.summary.resources += 1;
        self.summary.bytes += self.line.len() as u64;
        match self.summary.per_type.get_mut(ty) {
            Some(n) => *n += 1,
            None => {
                self.summary.per_type.insert(ty.to_owned(), 1);
            }
        }
        self.left = self.left.saturating_sub(1);
        Ok(())
    }

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

    fn uni(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.random::<f64>()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn phone(&mut self, city: usize) -> String {
        format!("{}01{:02}", CITIES[city].5, self.rng.random_range(0..100))
    }

    fn address(&mut self, city: usize) -> Address {
        let street = format!("{} {}", self.rng.random_range(1..2000), self.pick(STREETS));
        let postal = format!("{}{:02}", CITIES[city].2, self.rng.random_range(0..100));
        Address {
            city,
            street,
            postal,
        }
    }

    /// A valid NPI: 9 digits plus the Luhn check digit computed with the 80840 prefix.
    fn npi(&mut self) -> String {
        let digits = self
            .rng
            .random_range(100_000_000u32..300_000_000)
            .to_string();
        let mut sum = 24;
        for (i, c) in digits.bytes().rev().enumerate() {
            let mut d = u32::from(c - b'0');
            if i % 2 == 0 {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
        }
        format!("{digits}{}", (10 - sum % 10) % 10)
    }

    fn pool(&mut self) -> io::Result<()> {
        for (i, name) in ORGS.iter().enumerate() {
            let city = self.rng.random_range(0..US_CITIES);
            let (id, phone, address) = (self.uuid(), self.phone(city), self.address(city));
            let (kind, kind_display) = if i < 3 {
                ("prov", "Healthcare Provider")
            } else {
                ("other", "Other")
            };
            emit!(self, "Organization", {
                "id": &id,
                "identifier": [{"system": "https://phrkit.dev/generated/org", "value": format!("ORG-{:04}", i + 1)}],
                "active": true,
                "type": [{"coding": [Coding("http://terminology.hl7.org/CodeSystem/organization-type", kind, kind_display)]}],
                "name": name,
                "telecom": [{"system": "phone", "value": phone, "use": "work"}],
                "address": [address],
            })?;
            self.orgs.push(id);
        }
        for _ in 0..20 {
            let id = self.uuid();
            let male = self.rng.random_bool(0.5);
            let given = self.pick(if male { GIVEN_M } else { GIVEN_F });
            let family = self.pick(FAMILY);
            let npi = self.npi();
            let qualified = self.rng.random_bool(0.7);
            emit!(self, "Practitioner", {
                "id": &id,
                "identifier": [{"system": NPI, "value": npi}],
                "active": true,
                "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr."]}],
                "gender": if male { "male" } else { "female" },
                "qualification" if qualified => [{"code": Concept("http://terminology.hl7.org/CodeSystem/v2-0360", "MD", "Doctor of Medicine")}],
            })?;
            self.doctors.push((id, format!("Dr. {given} {family}")));
        }
        let n = self.rng.random_range(2..=LOCATIONS.len());
        for (i, &(name, org, role, role_display)) in LOCATIONS.iter().take(n).enumerate() {
            let city = self.rng.random_range(0..US_CITIES);
            let (id, phone, address) = (self.uuid(), self.phone(city), self.address(city));
            emit!(self, "Location", {
                "id": &id,
                "identifier": [{"system": "https://phrkit.dev/generated/location", "value": format!("LOC-{:03}", i + 1)}],
                "status": "active",
                "name": name,
                "mode": "instance",
                "type": [Concept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", role, role_display)],
                "telecom": [{"system": "phone", "value": phone, "use": "work"}],
                "address": address,
                "managingOrganization": Ref("Organization", &self.orgs[org]),
            })?;
            self.locations.push((id, org));
        }
        Ok(())
    }

    fn patient(&mut self, idx: usize) -> io::Result<()> {
        if self.left == 0 {
            return Ok(());
        }
        let id = self.uuid();
        let male = self.rng.random_bool(0.5);
        let city = if self.rng.random_bool(0.85) {
            self.rng.random_range(0..US_CITIES)
        } else {
            self.rng.random_range(US_CITIES..CITIES.len())
        };
        let names = if male { GIVEN_M } else { GIVEN_F };
        let (first, family) = (self.pick(names), self.pick(FAMILY));
        let mut given = vec![first];
        if self.rng.random_bool(0.5) {
            given.push(self.pick(names));
        }
        let (from, until) = (days_from_civil(1940, 1, 1), days_from_civil(2006, 1, 1));
        let born = self.rng.random_range(from..until);
        let mut onset = [i64::MAX; CHRONIC.len()];
        for (slot, c) in onset.iter_mut().zip(CHRONIC) {
            if self.rng.random_bool(c.3) {
                *slot = born * DAY + (self.uni(c.4, c.5) * YEAR as f64) as i64;
            }
        }
        let mut p = Person {
            id,
            name: format!("{first} {family}"),
            mrn: format!("MRN-{:08}", 10_000_000 + idx),
            birth: born * DAY,
            tz: CITIES[city].4,
            adult_height: if male {
                self.uni(165.0, 190.0)
            } else {
                self.uni(152.0, 176.0)
            },
            bmi: self.uni(19.0, 31.0),
            pcp: self.rng.random_range(0..self.doctors.len()),
            clinic: self.rng.random_range(1..self.locations.len()),
            onset,
            chronic: Default::default(),
            vaccines: 0,
            flu_year: 0,
            covid_year: 0,
            allergies_left: self.pick(&[0, 0, 1, 1, 1, 2, 2, 3]),
            allergies_seen: 0,
            encounters: 0,
        };
        let (lang, lang_display) = match CITIES[city].3 {
            "NL" => ("nl", "Dutch"),
            "FR" => ("fr", "French"),
            _ if self.rng.random_bool(0.15) => ("es", "Spanish"),
            _ => ("en-US", "English (United States)"),
        };
        let email = format!(
            "{}.{}@example.com",
            first.to_lowercase(),
            family.replace(' ', "").to_lowercase()
        );
        let (phone, address) = (self.phone(city), self.address(city));
        emit!(self, "Patient", {
            "id": &p.id,
            "identifier": [{
                "use": "usual",
                "type": {"coding": [Coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number")]},
                "system": "https://phrkit.dev/generated/mrn",
                "value": &p.mrn,
            }],
            "active": true,
            "name": [{"use": "official", "family": family, "given": given}],
            "telecom": [{"system": "phone", "value": phone, "use": "mobile"}, {"system": "email", "value": email, "use": "home"}],
            "gender": if male { "male" } else { "female" },
            "birthDate": fmt_date(p.birth),
            "address": [address],
            "communication": [{"language": Concept("urn:ietf:bcp:47", lang, lang_display), "preferred": true}],
            "generalPractitioner": [Ref("Practitioner", &self.doctors[p.pcp].0)],
            "managingOrganization": Ref("Organization", &self.orgs[self.locations[p.clinic].1]),
        })?;

        let (mut end, mut spent) = (p.birth, 0usize);
        while self.left > 0 {
            let age = p.age(end);
            // Spread the remaining budget over the time left; infants and the old are seen more often.
            let avg = (spent as f64 + EST_PER_ENCOUNTER * 4.0) / (p.encounters as f64 + 4.0);
            let span = (TODAY - end).max(0) as f64;
            let per_encounter = span / (self.left as f64 / avg).max(1.0);
            let pace = match age {
                a if a < 2.0 => 0.3,
                a if a < 50.0 => 1.2,
                _ => 0.7,
            };
            let gap = (per_encounter * self.uni(0.3, 1.7) * pace).min(span * 0.9);
            // Huge budgets crowd the calendar: then only short visits, so the record ends by "today".
            let crowded = per_encounter < (7 * DAY) as f64;
            let kind = match self.rng.random_range(0..100) {
                _ if age < 2.0 => Kind::Wellness,
                n if n < 45 => Kind::Wellness,
                n if n < 75 || crowded => Kind::Sick,
                n if n < 90 => Kind::Emergency,
                _ => Kind::Inpatient,
            };
            let day = (end + gap as i64).div_euclid(DAY) * DAY;
            let start = match kind {
                Kind::Wellness | Kind::Sick => day + 8 * 3600 + self.rng.random_range(0..34) * 900,
                _ => day + self.rng.random_range(0..1440) * 60,
            };
            let start = if start <= end {
                end + 900 - end.rem_euclid(60)
            } else {
                start
            };
            let before = self.left;
            end = self.encounter(&mut p, kind, start)?;
            spent += before - self.left;
            p.encounters += 1;
        }
        Ok(())
    }

    fn encounter(&mut self, p: &mut Person, kind: Kind, start: i64) -> io::Result<i64> {
        let age = p.age(start);
        let row = match kind {
            Kind::Wellness if age < 18.0 => 0,
            Kind::Wellness => 1,
            Kind::Sick => 2,
            Kind::Emergency => 3,
            Kind::Inpatient => 4,
        };
        let (shortest, longest, class, class_display, code, display) = ENCOUNTERS[row];
        let minutes = self.rng.random_range(shortest..longest);
        let doctor = if kind == Kind::Wellness && self.rng.random_bool(0.8) {
            p.pcp
        } else {
            self.rng.random_range(0..self.doctors.len())
        };
        let location = if matches!(kind, Kind::Wellness | Kind::Sick) {
            p.clinic
        } else {
            0
        };
        let mut e = Enc {
            id: self.uuid(),
            kind,
            start,
            end: start + minutes * 60,
            cursor: start,
            doctor,
            location,
            reason: "Routine examination",
        };
        let (dr_id, dr_name) = &self.doctors[doctor];
        let dr_ref = format!("Practitioner/{dr_id}");
        emit!(self, "Encounter", {
            "id": &e.id,
            "identifier": [{"system": "https://phrkit.dev/generated/encounter", "value": format!("{}-{:05}", p.mrn, p.encounters + 1)}],
            "status": "finished",
            "class": Coding(ACT_CODE, class, class_display),
            "type": [Concept(SNOMED, code, display)],
            "subject": Ref("Patient", &p.id),
            "participant": [{
                "type": [{"coding": [Coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer")]}],
                "individual": {"reference": dr_ref, "display": dr_name.clone()},
            }],
            "period": {"start": p.dt(e.start), "end": p.dt(e.end)},
            "hospitalization" if kind == Kind::Inpatient => {
                "dischargeDisposition": Concept("http://terminology.hl7.org/CodeSystem/discharge-disposition", "home", "Home"),
            },
            "location": [{"location": Ref("Location", &self.locations[location].0)}],
            "serviceProvider": Ref("Organization", &self.orgs[self.locations[location].1]),
        })?;

        match kind {
            Kind::Wellness => self.wellness(p, &mut e)?,
            Kind::Sick => {
                self.vitals(p, &mut e, false)?;
                self.problem(p, &mut e, 0)?;
                if age >= 14.0 && self.rng.random_bool(SENSITIVE_P) {
                    self.sensitive(p, &mut e)?;
                }
            }
            Kind::Emergency => {
                self.vitals(p, &mut e, false)?;
                self.problem(p, &mut e, 1)?;
                if self.rng.random_bool(0.3) {
                    self.panel(p, &mut e, CBC)?;
                }
            }
            Kind::Inpatient => {
                self.vitals(p, &mut e, true)?;
                self.problem(p, &mut e, 2)?;
                self.panel(p, &mut e, CBC)?;
                self.panel(p, &mut e, BMP)?;
            }
        }
        if p.allergies_left > 0 && self.rng.random_bool(0.2) {
            self.allergy(p, &mut e)?;
        }
        let note = match kind {
            Kind::Wellness if self.rng.random_bool(0.12) => Some(PROGRESS_NOTE),
            Kind::Sick if self.rng.random_bool(0.1) => Some(PROGRESS_NOTE),
            Kind::Emergency if self.rng.random_bool(0.5) => Some(HP_NOTE),
            Kind::Inpatient => Some(DISCHARGE),
            _ => None,
        };
        if let Some(note) = note {
            self.document(p, &mut e, note)?;
        }
        Ok(e.end)
    }

    /// Advances the encounter's clock a little and returns it, on a whole minute.
    fn tick(&mut self, e: &mut Enc) -> i64 {
        let step = ((e.end - e.start) / 24).max(60);
        e.cursor = (e.cursor + self.rng.random_range(step / 2..=step)).min(e.end);
        e.cursor - e.cursor.rem_euclid(60)
    }

    fn wellness(&mut self, p: &mut Person, e: &mut Enc) -> io::Result<()> {
        let age = p.age(e.start);
        self.vitals(p, e, true)?;
        // Diagnose chronic problems whose onset has passed; renew their maintenance drugs.
        let mut on_meds = false;
        for (i, &(code, display, drug, ..)) in CHRONIC.iter().enumerate() {
            if p.chronic[i].is_none() && p.onset[i] <= e.start {
                p.chronic[i] = self.condition(p, e, (code, display), 0, None)?;
                e.reason = display;
            }
            if let Some(cid) = p.chronic[i].clone()
                && !drug.is_empty()
            {
                on_meds = true;
                self.medication(p, e, drug, Some(&cid))?;
            }
        }
        if age >= 14.0 && self.rng.random_bool(SENSITIVE_P) {
            self.sensitive(p, e)?;
        }
        self.vaccines(p, e)?;
        if age >= 18.0 {
            if p.chronic[DIABETES].is_some() {
                self.panel(p, e, A1C)?;
            }
            if age >= 30.0 && (p.chronic[HYPERLIPIDEMIA].is_some() || self.rng.random_bool(0.3)) {
                self.panel(p, e, LIPID)?;
            }
            if self.rng.random_bool(0.25) {
                self.panel(p, e, BMP)?;
            }
        }
        if self.rng.random_bool(if age >= 18.0 { 0.2 } else { 0.05 }) {
            self.panel(p, e, CBC)?;
        }
        if on_meds && self.rng.random_bool(0.3) {
            self.procedure(p, e, "430193006", None)?;
        }
        if age >= 50.0 && self.rng.random_bool(0.04) {
            self.procedure(p, e, "73761001", None)?;
        }
        Ok(())
    }

    /// Diagnoses one age-appropriate problem of the given table and treats it.
    fn problem(&mut self, p: &Person, e: &mut Enc, table: usize) -> io::Result<()> {
        let age = p.age(e.start);
        let problems = PROBLEMS[table];
        let eligible = problems.iter().filter(|x| x.5 <= age).count();
        let nth = self.rng.random_range(0..eligible.max(1));
        let Some(&(code, display, days, drug, proc, _)) =
            problems.iter().filter(|x| x.5 <= age).nth(nth)
        else {
            return Ok(());
        };
        e.reason = display;
        let cid = self.condition(p, e, (code, display), days, None)?;
        if !proc.is_empty() {
            self.procedure(p, e, proc, cid.as_deref())?;
        }
        if !drug.is_empty() {
            self.medication(p, e, drug, cid.as_deref())?;
        }
        Ok(())
    }

    fn sensitive(&mut self, p: &Person, e: &mut Enc) -> io::Result<()> {
        let (code, display, label, label_display, days) = self.pick(SENSITIVE);
        self.condition(p, e, (code, display), days, Some((label, label_display)))?;
        Ok(())
    }

    fn condition(
        &mut self,
        p: &Person,
        e: &mut Enc,
        code: (&str, &str),
        days: i64,
        label: Option<(&str, &str)>,
    ) -> io::Result<Option<String>> {
        if self.left == 0 {
            return Ok(None);
        }
        let id = self.uuid();
        let t = self.tick(e);
        let before = if days == 0 {
            self.uni(0.0, 180.0)
        } else {
            self.uni(0.0, 4.0)
        };
        let onset = (t - (before * DAY as f64) as i64).max(p.birth);
        let abated = onset + (days as f64 * self.uni(0.7, 1.3) * DAY as f64) as i64;
        let resolved = days > 0 && abated < TODAY;
        let (category, category_display) = if days == 0 {
            ("problem-list-item", "Problem List Item")
        } else {
            ("encounter-diagnosis", "Encounter Diagnosis")
        };
        let (label_code, label_display) = label.unwrap_or_default();
        emit!(self, "Condition", {
            "id": &id,
            "meta" if label.is_some() => {"security": [Coding(ACT_CODE, label_code, label_display), Coding(CONFIDENTIALITY, "R", "restricted")]},
            "clinicalStatus": {"coding": [if resolved { Coding(COND_CLINICAL, "resolved", "Resolved") } else { Coding(COND_CLINICAL, "active", "Active") }]},
            "verificationStatus": {"coding": [Coding(COND_VERIFICATION, "confirmed", "Confirmed")]},
            "category": [{"coding": [Coding(COND_CATEGORY, category, category_display)]}],
            "code": Concept(SNOMED, code.0, code.1),
            "subject": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "onsetDateTime": p.dt(onset),
            "abatementDateTime": resolved.then(|| p.dt(abated)),
            "recordedDate": p.dt(t),
            "recorder": Ref("Practitioner", &self.doctors[e.doctor].0),
        })?;
        Ok(Some(id))
    }

    fn vitals(&mut self, p: &Person, e: &mut Enc, full: bool) -> io::Result<()> {
        let t = self.tick(e);
        let age = p.age(t);
        let hr = match age {
            a if a < 1.0 => self.rng.random_range(100..=150),
            a if a < 6.0 => self.rng.random_range(80..=130),
            a if a < 13.0 => self.rng.random_range(70..=110),
            _ => self.rng.random_range(55..=100),
        };
        self.vital(p, e, t, HEART_RATE, f64::from(hr), 0)?;
        if age >= 3.0 && self.left > 0 {
            let (sys, dia) = if age < 13.0 {
                (self.uni(90.0, 110.0), self.uni(55.0, 70.0))
            } else {
                (self.uni(105.0, 132.0), self.uni(65.0, 84.0))
            };
            let (sys, dia) = if p.onset[HYPERTENSION] <= t {
                (sys + self.uni(8.0, 25.0), dia + self.uni(4.0, 12.0))
            } else {
                (sys, dia)
            };
            emit!(self, "Observation", {
                "id": self.uuid(),
                "status": "final",
                "category": [{"coding": [Coding(OBS_CATEGORY, "vital-signs", "Vital Signs")]}],
                "code": Concept(LOINC, "85354-9", "Blood pressure panel with all children optional"),
                "subject": Ref("Patient", &p.id),
                "encounter": Ref("Encounter", &e.id),
                "effectiveDateTime": p.dt(t),
                "component": [
                    {"code": Concept(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": Qty(sys, 0, "mm[Hg]")},
                    {"code": Concept(LOINC, "8462-4", "Diastolic blood pressure"), "valueQuantity": Qty(dia, 0, "mm[Hg]")},
                ],
            })?;
        }
        if !full {
            let celsius = self.uni(36.5, 38.9);
            return self.vital(p, e, t, TEMPERATURE, celsius, 1);
        }
        let growth = [
            (0.0, 0.29),
            (1.0, 0.43),
            (2.0, 0.5),
            (5.0, 0.62),
            (10.0, 0.78),
            (14.0, 0.92),
            (18.0, 1.0),
            (60.0, 1.0),
            (100.0, 0.96),
        ];
        let frac = growth.windows(2).find(|w| age < w[1].0).map_or(0.96, |w| {
            w[0].1 + (w[1].1 - w[0].1) * (age - w[0].0) / (w[1].0 - w[0].0)
        });
        let height = p.adult_height * frac + self.uni(-1.0, 1.0);
        let bmi = match age {
            a if a < 2.0 => 14.0 + a * 1.5,
            a if a < 18.0 => 16.5 + (p.bmi - 16.5) * (a - 2.0) / 16.0,
            a => p.bmi + (a - 18.0).min(40.0) * 0.06,
        } + self.uni(-0.6, 0.6);
        let weight = bmi * (height / 100.0).powi(2);
        self.vital(p, e, t, WEIGHT, weight, 1)?;
        if age < 20.0 || self.rng.random_bool(0.4) {
            self.vital(p, e, t, HEIGHT, height, 1)?;
            if age >= 2.0 {
                self.vital(p, e, t, BMI, weight / (height / 100.0).powi(2), 1)?;
            }
        }
        Ok(())
    }

    fn vital(
        &mut self,
        p: &Person,
        e: &Enc,
        t: i64,
        (code, display, unit): (&str, &str, &str),
        value: f64,
        decimals: usize,
    ) -> io::Result<()> {
        if self.left == 0 {
            return Ok(());
        }
        emit!(self, "Observation", {
            "id": self.uuid(),
            "status": "final",
            "category": [{"coding": [Coding(OBS_CATEGORY, "vital-signs", "Vital Signs")]}],
            "code": Concept(LOINC, code, display),
            "subject": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "effectiveDateTime": p.dt(t),
            "valueQuantity": Qty(value, decimals, unit),
        })
    }

    /// Lab observations of one panel, collected at one time, then their DiagnosticReport.
    fn panel(&mut self, p: &Person, e: &mut Enc, panel: usize) -> io::Result<()> {
        let (code, display, tests) = PANELS[panel];
        let t = self.tick(e);
        let mut results = Vec::with_capacity(tests.len());
        for &(lc, ld, unit, lo, hi, decimals, raised_by, rlo, rhi) in
            tests.iter().filter_map(|c| LABS.iter().find(|l| l.0 == *c))
        {
            if self.left == 0 {
                break;
            }
            let w = hi - lo;
            let value = match raised_by {
                Some(i) if p.chronic[i].is_some() => self.uni(rlo, rhi),
                _ => self.uni(lo - 0.12 * w, hi + 0.12 * w),
            };
            let value = round(value.max(lo * 0.5), decimals);
            let (flag, flag_display) = match value {
                v if v > hi => ("H", "High"),
                v if v < lo => ("L", "Low"),
                _ => ("N", "Normal"),
            };
            let ranged = self.rng.random_bool(0.7);
            let id = self.uuid();
            emit!(self, "Observation", {
                "id": &id,
                "status": "final",
                "category": [{"coding": [Coding(OBS_CATEGORY, "laboratory", "Laboratory")]}],
                "code": Concept(LOINC, lc, ld),
                "subject": Ref("Patient", &p.id),
                "encounter": Ref("Encounter", &e.id),
                "effectiveDateTime": p.dt(t),
                "issued": p.dt(t + 3600 * self.rng.random_range(2..30)),
                "valueQuantity": Qty(value, decimals, unit),
                "interpretation" if ranged => [{"coding": [Coding(INTERPRETATION, flag, flag_display)]}],
                "referenceRange" if ranged => [{"low": Qty(lo, decimals, unit), "high": Qty(hi, decimals, unit)}],
            })?;
            results.push(id);
        }
        if self.left == 0 || results.is_empty() {
            return Ok(());
        }
        let lab = if matches!(e.kind, Kind::Wellness | Kind::Sick) {
            self.rng.random_range(3..ORGS.len())
        } else {
            0
        };
        emit!(self, "DiagnosticReport", {
            "id": self.uuid(),
            "status": "final",
            "category": [{"coding": [Coding("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")]}],
            "code": Concept(LOINC, code, display),
            "subject": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "effectiveDateTime": p.dt(t),
            "issued": p.dt(t + 3600 * self.rng.random_range(30..48)),
            "performer": [Ref("Organization", &self.orgs[lab])],
            "result": results.iter().map(|id| Ref("Observation", id)).collect::<Vec<_>>(),
        })
    }

    fn medication(
        &mut self,
        p: &Person,
        e: &mut Enc,
        rxnorm: &str,
        reason: Option<&str>,
    ) -> io::Result<()> {
        let Some(&(code, display, text, per_day, as_needed, days)) =
            MEDS.iter().find(|m| m.0 == rxnorm)
        else {
            return Ok(());
        };
        if self.left == 0 {
            return Ok(());
        }
        let t = self.tick(e);
        let status = match days {
            0 if TODAY - t < 730 * DAY => "active",
            0 if self.rng.random_bool(0.15) => "stopped",
            d if t + d * DAY >= TODAY => "active",
            _ => "completed",
        };
        emit!(self, "MedicationRequest", {
            "id": self.uuid(),
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": Concept(RXNORM, code, display),
            "subject": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "authoredOn": p.dt(t),
            "requester": Ref("Practitioner", &self.doctors[e.doctor].0),
            "reasonReference": reason.map(|r| [Ref("Condition", r)]),
            "dosageInstruction": [{
                "sequence": 1,
                "text": text,
                "timing": {"repeat": {
                    "boundsDuration" if days > 0 => {"value": days, "unit": "days", "system": UCUM, "code": "d"},
                    "frequency": per_day,
                    "period": 1,
                    "periodUnit": "d",
                }},
                "asNeededBoolean": as_needed,
            }],
        })
    }

    fn procedure(
        &mut self,
        p: &Person,
        e: &mut Enc,
        snomed: &str,
        reason: Option<&str>,
    ) -> io::Result<()> {
        let Some(&(code, display, minutes)) = PROCEDURES.iter().find(|x| x.0 == snomed) else {
            return Ok(());
        };
        if self.left == 0 {
            return Ok(());
        }
        let t = self.tick(e);
        emit!(self, "Procedure", {
            "id": self.uuid(),
            "status": "completed",
            "code": Concept(SNOMED, code, display),
            "subject": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "performedDateTime": (minutes == 0).then(|| p.dt(t)),
            "performedPeriod" if minutes > 0 => {"start": p.dt(t), "end": p.dt(t + minutes * 60)},
            "performer": [{"actor": Ref("Practitioner", &self.doctors[e.doctor].0)}],
            "location": Ref("Location", &self.locations[e.location].0),
            "reasonReference": reason.map(|r| [Ref("Condition", r)]),
        })
    }

    fn vaccines(&mut self, p: &mut Person, e: &mut Enc) -> io::Result<()> {
        let (months, year) = (
            p.age(e.start) * 12.0,
            civil_from_days(e.start.div_euclid(DAY)).0,
        );
        for (i, &(code, display, from, until, since)) in VACCINES.iter().enumerate() {
            if p.vaccines & (1 << i) == 0 && months >= from && months <= until && year >= since {
                p.vaccines |= 1 << i;
                self.immunization(p, e, (code, display))?;
            }
        }
        if months >= 6.0 && year >= 1995 && p.flu_year < year && self.rng.random_bool(0.55) {
            p.flu_year = year;
            self.immunization(p, e, FLU)?;
        }
        if months >= 60.0 && year >= 2021 && p.covid_year < year && self.rng.random_bool(0.6) {
            p.covid_year = year;
            self.immunization(p, e, COVID)?;
        }
        Ok(())
    }

    fn immunization(
        &mut self,
        p: &Person,
        e: &mut Enc,
        (code, display): (&str, &str),
    ) -> io::Result<()> {
        if self.left == 0 {
            return Ok(());
        }
        let t = self.tick(e);
        let mut letter = || char::from(b'A' + self.rng.random_range(0..26u8));
        let lot = format!("{}{}", letter(), letter());
        emit!(self, "Immunization", {
            "id": self.uuid(),
            "status": "completed",
            "vaccineCode": Concept(CVX, code, display),
            "patient": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "occurrenceDateTime": p.dt(t),
            "primarySource": true,
            "lotNumber": format!("{lot}{:05}", self.rng.random_range(0..100_000)),
            "expirationDate": fmt_date(t + self.rng.random_range(180..540) * DAY),
            "site": Concept("http://terminology.hl7.org/CodeSystem/v3-ActSite", "LA", "left arm"),
            "route": Concept("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "IM", "Injection, intramuscular"),
            "performer": [{
                "function": {"coding": [Coding("http://terminology.hl7.org/CodeSystem/v2-0443", "AP", "Administering Provider")]},
                "actor": Ref("Practitioner", &self.doctors[e.doctor].0),
            }],
        })
    }

    fn allergy(&mut self, p: &mut Person, e: &mut Enc) -> io::Result<()> {
        let i = self.rng.random_range(0..ALLERGIES.len());
        p.allergies_left -= 1;
        if p.allergies_seen & (1 << i) != 0 || self.left == 0 {
            return Ok(());
        }
        p.allergies_seen |= 1 << i;
        let (system, code, display, category, kind, criticality, sign, sign_display, severity) =
            ALLERGIES[i];
        let t = self.tick(e);
        emit!(self, "AllergyIntolerance", {
            "id": self.uuid(),
            "clinicalStatus": {"coding": [Coding(ALLERGY_CLINICAL, "active", "Active")]},
            "verificationStatus": {"coding": [Coding(ALLERGY_VERIFICATION, "confirmed", "Confirmed")]},
            "type": kind,
            "category": [category],
            "criticality": criticality,
            "code": Concept(system, code, display),
            "patient": Ref("Patient", &p.id),
            "encounter": Ref("Encounter", &e.id),
            "recordedDate": p.dt(t),
            "recorder": Ref("Practitioner", &self.doctors[e.doctor].0),
            "reaction": [{"manifestation": [Concept(SNOMED, sign, sign_display)], "severity": severity}],
        })
    }

    fn document(
        &mut self,
        p: &Person,
        e: &mut Enc,
        (code, display): (&str, &str),
    ) -> io::Result<()> {
        if self.left == 0 {
            return Ok(());
        }
        let t = self.tick(e);
        let stamp = p.dt(t);
        let plan = match e.kind {
            Kind::Inpatient => "discharged home, follow up with primary care in 2 weeks",
            Kind::Emergency => "treated and released, see primary care if not improving",
            _ => "continue current care, return if symptoms worsen",
        };
        let lines = [
            format!(
                "Patient: {}   Born: {}   {}",
                p.name,
                fmt_date(p.birth),
                p.mrn
            ),
            format!(
                "Date: {} {}   Author: {}",
                &stamp[..10],
                &stamp[11..16],
                self.doctors[e.doctor].1
            ),
            format!("Assessment: {}", e.reason),
            format!("Plan: {plan}"),
            "Synthetic document generated by phrkit; it describes no real person.".to_owned(),
        ];
        let pdf = pdf(display, &lines, &stamp);
        emit!(self, "DocumentReference", {
            "id": self.uuid(),
            "status": "current",
            "docStatus": "final",
            "type": Concept(LOINC, code, display),
            "category": [{"coding": [Coding("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note", "Clinical Note")]}],
            "subject": Ref("Patient", &p.id),
            "date": &stamp,
            "author": [Ref("Practitioner", &self.doctors[e.doctor].0)],
            "custodian": Ref("Organization", &self.orgs[self.locations[e.location].1]),
            "content": [{"attachment": {
                "contentType": "application/pdf",
                "data": BASE64.encode(&pdf),
                "size": pdf.len(),
                "title": display,
                "creation": &stamp,
            }}],
            "context": {"encounter": [Ref("Encounter", &e.id)], "period": {"start": p.dt(e.start), "end": p.dt(e.end)}},
        })
    }
}

/// A value `jw!` can write; `present` is false for values to leave out (`None`).
trait Json {
    fn write(&self, w: &mut Vec<u8>);
    fn present(&self) -> bool {
        true
    }
}

impl Json for str {
    fn write(&self, w: &mut Vec<u8>) {
        w.push(b'"');
        for &b in self.as_bytes() {
            match b {
                b'"' | b'\\' => w.extend_from_slice(&[b'\\', b]),
                b'\n' => w.extend_from_slice(b"\\n"),
                0..=0x1f => {
                    let hex = b"0123456789abcdef";
                    w.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        hex[usize::from(b >> 4)],
                        hex[usize::from(b & 15)],
                    ]);
                }
                _ => w.push(b),
            }
        }
        w.push(b'"');
    }
}

impl Json for String {
    fn write(&self, w: &mut Vec<u8>) {
        self.as_str().write(w);
    }
}

impl<T: Json + ?Sized> Json for &T {
    fn write(&self, w: &mut Vec<u8>) {
        (**self).write(w);
    }
    fn present(&self) -> bool {
        (**self).present()
    }
}

impl<T: Json> Json for Option<T> {
    fn write(&self, w: &mut Vec<u8>) {
        if let Some(v) = self {
            v.write(w);
        }
    }
    fn present(&self) -> bool {
        self.as_ref().is_some_and(Json::present)
    }
}

impl<T: Json> Json for [T] {
    fn write(&self, w: &mut Vec<u8>) {
        w.push(b'[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                w.push(b',');
            }
            v.write(w);
        }
        w.push(b']');
    }
}

impl<T: Json, const N: usize> Json for [T; N] {
    fn write(&self, w: &mut Vec<u8>) {
        self.as_slice().write(w);
    }
}

impl<T: Json> Json for Vec<T> {
    fn write(&self, w: &mut Vec<u8>) {
        self.as_slice().write(w);
    }
}

impl Json for bool {
    fn write(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

macro_rules! json_int {
    ($($t:ty),*) => {$(
        impl Json for $t {
            fn write(&self, w: &mut Vec<u8>) {
                w.extend_from_slice(self.to_string().as_bytes());
            }
        }
    )*};
}
json_int!(i32, i64, u32, usize);

/// A FHIR Coding.
struct Coding<'a>(&'a str, &'a str, &'a str);

impl Json for Coding<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        jw!(w; {"system": self.0, "code": self.1, "display": self.2});
    }
}

/// A FHIR CodeableConcept of one Coding (no `text`: the display says it, lines stay short).
struct Concept<'a>(&'a str, &'a str, &'a str);

impl Json for Concept<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        jw!(w; {"coding": [Coding(self.0, self.1, self.2)]});
    }
}

/// A relative FHIR Reference, `Type/id`.
struct Ref<'a>(&'a str, &'a str);

impl Json for Ref<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(b"{\"reference\":");
        format!("{}/{}", self.0, self.1).write(w);
        w.push(b'}');
    }
}

/// A UCUM Quantity written with a fixed number of decimals.
struct Qty<'a>(f64, usize, &'a str);

impl Json for Qty<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        jw!(w; {"value": Decimal(self.0, self.1), "unit": self.2, "system": UCUM, "code": self.2});
    }
}

/// A JSON number with a fixed number of decimals (FHIR keeps the precision).
struct Decimal(f64, usize);

impl Json for Decimal {
    fn write(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(format!("{:.*}", self.1, self.0).as_bytes());
    }
}

/// A postal address in one of [`CITIES`].
struct Address {
    city: usize,
    street: String,
    postal: String,
}

impl Json for Address {
    fn write(&self, w: &mut Vec<u8>) {
        let (city, state, _, country, _, _) = CITIES[self.city];
        jw!(w; {"line": [&self.street], "city": city, "state": state, "postalCode": &self.postal, "country": country});
    }
}

fn round(v: f64, decimals: usize) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (v * f).round() / f
}

const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn fmt_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Local time `t` (seconds) with its UTC offset, e.g. `2019-03-04T10:15:00-05:00`.
fn fmt_dt(t: i64, tz: &str) -> String {
    let s = t.rem_euclid(DAY);
    format!(
        "{}T{:02}:{:02}:{:02}{tz}",
        fmt_date(t),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A one-page PDF 1.4 with a title and a few lines of Helvetica text and a correct xref table.
fn pdf(title: &str, lines: &[String], stamp: &str) -> Vec<u8> {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let mut text = format!(
        "BT\n/F1 16 Tf\n72 720 Td\n({}) Tj\n/F1 11 Tf\n0 -28 Td\n",
        esc(title)
    );
    for line in lines {
        text.push_str(&format!("({}) Tj\n0 -16 Td\n", esc(line)));
    }
    text.push_str("ET");
    let digits: String = stamp
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .collect();
    let created = format!("D:{digits}{}'{}'", &stamp[19..22], &stamp[23..]);
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
        format!("<< /Title ({}) /Producer (phrkit synthetic generator) /CreationDate ({created}) >>", esc(title)),
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        tail.push_str(&format!("{offset:010} 00000 n \n"));
    }
    tail.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.extend_from_slice(tail.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use serde_json::Value;

    use super::*;

    fn run(patients: usize, resources_per_patient: usize, seed: u64) -> (Vec<u8>, GenerateSummary) {
        let mut out = Vec::new();
        let opts = GenerateOptions {
            patients,
            resources_per_patient,
            seed,
        };
        let summary = generate(&opts, &mut out).expect("writing to a Vec cannot fail");
        (out, summary)
    }

    fn lines(out: &[u8]) -> Vec<Value> {
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

    #[test]
    fn huge_budgets_still_end_before_today() {
        let (out, s) = run(1, 20_000, 8);
        assert_eq!(s.per_type["Patient"], 1);
        let last = lines(&out)
            .into_iter()
            .rfind(|r| r["resourceType"] == "Encounter");
        let end = last
            .as_ref()
            .and_then(|r| r["period"]["end"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(
            end.as_str() > "2026-06" && end.as_str() < "2026-11-01",
            "{end}"
        );
    }

    #[test]
    fn documents_carry_valid_pdfs() {
        let (out, summary) = run(4, 500, 11);
        let docs: Vec<Value> = lines(&out)
            .into_iter()
            .filter(|r| r["resourceType"] == "DocumentReference")
            .collect();
        assert_eq!(docs.len(), summary.per_type["DocumentReference"]);
        assert!(
            docs.len() * 60 > summary.resources && docs.len() * 20 < summary.resources,
            "about 1 in 40"
        );
        for doc in docs {
            let attachment = &doc["content"][0]["attachment"];
            assert_eq!(attachment["contentType"], "application/pdf");
            let pdf = BASE64
                .decode(attachment["data"].as_str().expect("data"))
                .expect("base64");
            assert_eq!(attachment["size"].as_u64(), Some(pdf.len() as u64));
            assert!(
                pdf.starts_with(b"%PDF-")
                    && pdf.ends_with(b"%%EOF\n")
                    && (800..2048).contains(&pdf.len())
            );
            let text = String::from_utf8_lossy(&pdf);
            let start: usize = text
                .rsplit("startxref\n")
                .next()
                .and_then(|t| t.lines().next())
                .and_then(|n| n.parse().ok())
                .expect("startxref");
            assert!(pdf[start..].starts_with(b"xref\n0 7\n"));
            for (n, entry) in String::from_utf8_lossy(&pdf[start..])
                .lines()
                .skip(3)
                .take(6)
                .enumerate()
            {
                let offset: usize = entry[..10].parse().expect("xref offset");
                assert!(pdf[offset..].starts_with(format!("{} 0 obj", n + 1).as_bytes()));
            }
        }
    }

    #[test]
    fn sensitive_conditions_are_labelled() {
        let (out, summary) = run(30, 500, 5);
        let conditions = summary.per_type["Condition"];
        let mut labels = BTreeSet::new();
        let mut labelled = 0;
        for r in lines(&out)
            .iter()
            .filter(|r| r["resourceType"] == "Condition")
        {
            let Some(security) = r["meta"]["security"].as_array() else {
                continue;
            };
            labelled += 1;
            let code = r["code"]["coding"][0]["code"].as_str().unwrap_or_default();
            let sensitive = SENSITIVE
                .iter()
                .find(|s| s.0 == code)
                .expect("labelled only if sensitive");
            assert_eq!(security[0]["system"], ACT_CODE);
            assert_eq!(security[0]["code"], sensitive.2);
            assert_eq!(
                (security[1]["system"].as_str(), security[1]["code"].as_str()),
                (Some(CONFIDENTIALITY), Some("R"))
            );
            labels.insert(sensitive.2);
        }
        assert_eq!(labels, ["ETH", "HIV", "PSY", "SEX"].into_iter().collect());
        assert!(
            labelled * 100 > conditions && labelled * 100 < conditions * 6,
            "{labelled} of {conditions}"
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(fmt_dt(TODAY, "+01:00"), "2026-11-01T00:00:00+01:00");
        assert_eq!(
            fmt_date(days_from_civil(1940, 2, 29) * DAY - 1),
            "1940-02-28"
        );
        assert_eq!(
            civil_from_days(days_from_civil(2000, 12, 31)),
            (2000, 12, 31)
        );
        let mut buf = Vec::new();
        let w = &mut buf;
        jw!(w; {"a": "x\"y\n\u{1}", "b": None::<i32>, "c" if false => {}, "d": [1, Decimal(2.5, 2), {"e": true}]});
        assert_eq!(
            String::from_utf8_lossy(&buf),
            r#"{"a":"x\"y\n\u0001","d":[1,2.50,{"e":true}]}"#
        );
    }

    #[test]
    fn practitioner_npis_pass_the_luhn_check() {
        let (out, _) = run(0, 0, 9);
        for r in lines(&out)
            .iter()
            .filter(|r| r["resourceType"] == "Practitioner")
        {
            assert_eq!(r["identifier"][0]["system"], NPI);
            let npi = r["identifier"][0]["value"].as_str().unwrap_or_default();
            assert_eq!(npi.len(), 10);
            let sum: u32 = format!("80840{npi}")
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, b)| {
                    let d = u32::from(b - b'0') * if i % 2 == 1 { 2 } else { 1 };
                    if d > 9 { d - 9 } else { d }
                })
                .sum();
            assert_eq!(sum % 10, 0, "{npi}");
        }
    }
}

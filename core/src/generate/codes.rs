//! The code tables: terminology systems, names and places, and the clinical catalogue
//! (problems, drugs, procedures, labs, vaccines, allergies, note and encounter types).
//!
//! Data only, laid out one row per line (`#[rustfmt::skip]`) so a table reads as a table.
//! Rows are referred to by code or by the index constants next to their table; changing
//! a row, or the order of rows, changes the generated output.

/// SNOMED CT.
pub(super) const SNOMED: &str = "http://snomed.info/sct";
/// LOINC.
pub(super) const LOINC: &str = "http://loinc.org";
/// RxNorm.
pub(super) const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
/// CDC vaccine codes (CVX).
pub(super) const CVX: &str = "http://hl7.org/fhir/sid/cvx";
/// UCUM units.
pub(super) const UCUM: &str = "http://unitsofmeasure.org";
/// US National Provider Identifier.
pub(super) const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
/// HL7 v3 ActCode (encounter classes, sensitivity labels).
pub(super) const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// HL7 v3 Confidentiality.
pub(super) const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
/// Observation categories.
pub(super) const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// HL7 v3 ObservationInterpretation (H, L, N).
pub(super) const INTERPRETATION: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// Condition clinical status.
pub(super) const COND_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
/// Condition verification status.
pub(super) const COND_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/condition-ver-status";
/// Condition category.
pub(super) const COND_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
/// AllergyIntolerance clinical status.
pub(super) const ALLERGY_CLINICAL: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
/// AllergyIntolerance verification status.
pub(super) const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

/// Female given names.
#[rustfmt::skip]
pub(super) const GIVEN_F: &[&str] = &[
    "Mary", "Linda", "Susan", "Emma", "Olivia", "Sofia", "Ana", "Grace", "Hannah", "Chloe",
    "Maria", "Julia", "Nora", "Elena", "Aisha", "Mei", "Priya", "Claire", "Ruth", "Fatima",
];
/// Male given names.
#[rustfmt::skip]
pub(super) const GIVEN_M: &[&str] = &[
    "James", "John", "Robert", "Michael", "David", "Daniel", "Lucas", "Mateo", "Noah", "Liam",
    "Omar", "Wei", "Arjun", "Thomas", "Pieter", "Hugo", "Samuel", "Carlos", "Ethan", "Kofi",
];
/// Family names.
#[rustfmt::skip]
pub(super) const FAMILY: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Lee",
    "Nguyen", "Patel", "Kim", "Chen", "de Vries", "Jansen", "Bakker", "Dubois", "Moreau",
    "Okafor", "Haddad", "Novak",
];
/// Street names of generated addresses.
#[rustfmt::skip]
pub(super) const STREETS: &[&str] = &[
    "Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Park Road", "Elm Street",
    "Lake View Road", "Hillside Avenue", "River Road", "Church Street", "Mill Lane", "Sunset Way",
];
/// Home cities: (city, state, postal prefix, country, UTC offset, phone prefix). US ones first.
#[rustfmt::skip]
pub(super) const CITIES: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("Boston", "MA", "021", "US", "-05:00", "+1 617-555-"),
    ("Atlanta", "GA", "303", "US", "-05:00", "+1 404-555-"),
    ("Chicago", "IL", "606", "US", "-06:00", "+1 312-555-"),
    ("Austin", "TX", "787", "US", "-06:00", "+1 512-555-"),
    ("Denver", "CO", "802", "US", "-07:00", "+1 303-555-"),
    ("Seattle", "WA", "981", "US", "-08:00", "+1 206-555-"),
    ("Amsterdam", "NH", "10", "NL", "+01:00", "+31 20 555 "),
    ("Lyon", "ARA", "690", "FR", "+01:00", "+33 4 55 55 "),
];
/// How many of [`CITIES`] are in the US (they come first).
pub(super) const US_CITIES: usize = 6;
/// Pool organizations; the first three run the Locations, the last two are laboratories.
pub(super) const ORGS: &[&str] = &[
    "Riverside General Hospital",
    "Maple Family Health Clinic",
    "Lakeshore Medical Center",
    "Northgate Diagnostics Laboratory",
    "Summit Reference Laboratory",
];
/// Pool locations: (name, managing organization index, v3-RoleCode, display).
#[rustfmt::skip]
pub(super) const LOCATIONS: &[(&str, usize, &str, &str)] = &[
    ("Riverside General Hospital", 0, "HOSP", "Hospital"),
    ("Maple Family Health Clinic - Main Office", 1, "FMC", "Family medicine clinic"),
    ("Lakeshore Medical Center Outpatient Clinic", 2, "GIM", "General internal medicine clinic"),
];

/// Problems of sick visits (0), emergencies (1) and admissions (2):
/// (SNOMED code, display, days to resolve (0 = ongoing), RxNorm treatment, SNOMED procedure, min age).
#[rustfmt::skip]
pub(super) type Problem = (&'static str, &'static str, i64, &'static str, &'static str, f64);
/// The [`Problem`] tables, indexed by 0 (sick visit), 1 (emergency), 2 (admission).
#[rustfmt::skip]
pub(super) const PROBLEMS: [&[Problem]; 3] = [
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
pub(super) const CHRONIC: &[(&str, &str, &str, f64, f64, f64)] = &[
    ("38341003", "Hypertensive disorder, systemic arterial (disorder)", "314076", 0.35, 30.0, 75.0),
    ("44054006", "Diabetes mellitus type 2 (disorder)", "860975", 0.12, 35.0, 75.0),
    ("55822004", "Hyperlipidemia (disorder)", "259255", 0.30, 30.0, 70.0),
    ("195967001", "Asthma (disorder)", "745679", 0.10, 2.0, 40.0),
    ("40055000", "Chronic sinusitis (disorder)", "", 0.08, 18.0, 60.0),
];
/// Index of hypertension in [`CHRONIC`].
pub(super) const HYPERTENSION: usize = 0;
/// Index of type 2 diabetes in [`CHRONIC`].
pub(super) const DIABETES: usize = 1;
/// Index of hyperlipidemia in [`CHRONIC`].
pub(super) const HYPERLIPIDEMIA: usize = 2;
/// Sensitive problems: (SNOMED code, display, v3-ActCode label, label display, days to resolve).
#[rustfmt::skip]
pub(super) const SENSITIVE: &[(&str, &str, &str, &str, i64)] = &[
    ("35489007", "Depressive disorder (disorder)", "PSY", "psychiatry disorder information sensitivity", 0),
    ("191736004", "Obsessive-compulsive disorder (disorder)", "PSY", "psychiatry disorder information sensitivity", 0),
    ("66214007", "Substance abuse (disorder)", "ETH", "substance abuse information sensitivity", 365),
    ("86406008", "Human immunodeficiency virus infection (disorder)", "HIV", "HIV/AIDS information sensitivity", 0),
    ("15628003", "Gonorrhea (disorder)", "SEX", "sexuality and reproductive health information sensitivity", 14),
];
/// Drugs: (RxNorm code, display, instructions, times a day, as needed, course in days; 0 = maintenance).
#[rustfmt::skip]
pub(super) const MEDS: &[(&str, &str, &str, u32, bool, i64)] = &[
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
pub(super) const PROCEDURES: &[(&str, &str, i64)] = &[
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
pub(super) type Lab = (&'static str, &'static str, &'static str, f64, f64, usize, Option<usize>, f64, f64);
/// The lab tests, see [`Lab`].
#[rustfmt::skip]
pub(super) const LABS: &[Lab] = &[
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
pub(super) const PANELS: &[(&str, &str, &[&str])] = &[
    ("57698-3", "Lipid panel with direct LDL - Serum or Plasma", &["2093-3", "2571-8", "2085-9", "18262-6"]),
    ("58410-2", "CBC panel - Blood by Automated count", &["718-7", "6690-2", "777-3"]),
    ("51990-0", "Basic metabolic panel - Blood", &["2339-0", "2160-0", "2951-2", "2823-3"]),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", &["4548-4"]),
];
/// Index of the lipid panel in [`PANELS`].
pub(super) const LIPID: usize = 0;
/// Index of the blood count in [`PANELS`].
pub(super) const CBC: usize = 1;
/// Index of the basic metabolic panel in [`PANELS`].
pub(super) const BMP: usize = 2;
/// Index of the HbA1c test in [`PANELS`].
pub(super) const A1C: usize = 3;
/// Vital signs: (LOINC, display, UCUM unit). Heart rate.
pub(super) const HEART_RATE: (&str, &str, &str) = ("8867-4", "Heart rate", "/min");
/// Body weight vital sign.
pub(super) const WEIGHT: (&str, &str, &str) = ("29463-7", "Body weight", "kg");
/// Body height vital sign.
pub(super) const HEIGHT: (&str, &str, &str) = ("8302-2", "Body height", "cm");
/// Body mass index vital sign.
pub(super) const BMI: (&str, &str, &str) = ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2");
/// Body temperature vital sign.
pub(super) const TEMPERATURE: (&str, &str, &str) = ("8310-5", "Body temperature", "Cel");
/// Routine vaccines: (CVX, display, from age in months, until age in months, first year given).
#[rustfmt::skip]
pub(super) const VACCINES: &[(&str, &str, f64, f64, i64)] = &[
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
/// Seasonal flu vaccine, offered once a year from 6 months of age.
pub(super) const FLU: (&str, &str) = ("140", "Influenza, seasonal, injectable, preservative free");
/// COVID-19 vaccine, offered once a year from 5 years of age and 2021 on.
pub(super) const COVID: (&str, &str) = (
    "208",
    "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose",
);
/// Allergies: (code system, code, substance, category, type, criticality, SNOMED manifestation, display, severity).
#[rustfmt::skip]
pub(super) type Allergy = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);
/// The allergies, see [`Allergy`].
#[rustfmt::skip]
pub(super) const ALLERGIES: &[Allergy] = &[
    (RXNORM, "7980", "Penicillin G", "medication", "allergy", "high", "247472004", "Wheal (finding)", "moderate"),
    (RXNORM, "2670", "Codeine", "medication", "intolerance", "low", "422587007", "Nausea (finding)", "mild"),
    (SNOMED, "762952008", "Peanut (substance)", "food", "allergy", "high", "39579001", "Anaphylaxis (disorder)", "severe"),
    (SNOMED, "735029006", "Shellfish (substance)", "food", "allergy", "high", "271807003", "Eruption of skin (disorder)", "moderate"),
    (SNOMED, "256277009", "Grass pollen (substance)", "environment", "allergy", "low", "76067001", "Sneezing (finding)", "mild"),
    (SNOMED, "264287008", "Animal dander (substance)", "environment", "allergy", "low", "49727002", "Cough (finding)", "mild"),
    (SNOMED, "111088007", "Latex (substance)", "environment", "allergy", "unable-to-assess", "247472004", "Wheal (finding)", "moderate"),
    (SNOMED, "288328004", "Bee venom (substance)", "environment", "allergy", "high", "39579001", "Anaphylaxis (disorder)", "severe"),
];
/// Note types: (LOINC, display). History and physical.
pub(super) const HP_NOTE: (&str, &str) = ("34117-2", "History and physical note");
/// Progress note type.
pub(super) const PROGRESS_NOTE: (&str, &str) = ("11506-3", "Progress note");
/// Discharge summary type.
pub(super) const DISCHARGE: (&str, &str) = ("18842-5", "Discharge summary");

/// Encounter kinds: (shortest, longest minutes, v3-ActCode class, display, SNOMED type, display).
#[rustfmt::skip]
pub(super) const ENCOUNTERS: [(i64, i64, &str, &str, &str, &str); 5] = [
    (20, 45, "AMB", "ambulatory", "410620009", "Well child visit (procedure)"),
    (20, 45, "AMB", "ambulatory", "162673000", "General examination of patient (procedure)"),
    (15, 30, "AMB", "ambulatory", "185345009", "Encounter for symptom (procedure)"),
    (120, 360, "EMER", "emergency", "50849002", "Emergency room admission (procedure)"),
    (1440, 10080, "IMP", "inpatient encounter", "32485007", "Hospital admission (procedure)"),
];

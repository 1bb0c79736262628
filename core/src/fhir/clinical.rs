//! The clinically relevant time of a resource, as one [`DateRange`].
//!
//! `$phr-export?start=&end=` filters on "when did this happen to the
//! patient", which FHIR spreads over a different element in every resource
//! type (`effective[x]`, `onset[x]`, `period`, `authoredOn`, ...). A static
//! per-type table lists those elements in priority order and the FIRST one
//! present and parseable wins; later rows are fallbacks (usually a
//! record-keeping date such as `issued` or `recordedDate`). The table is
//! data, not code, so the CapabilityStatement can publish it verbatim via
//! [`documented_table`].
//!
//! Trade-offs: one range per resource, not one per element, keeps the SQLite
//! index a single `(start, end)` pair, at the cost of ignoring secondary
//! dates (an Observation's `issued` is not consulted when `effective[x]` is
//! present). Messy data never fails: an element that is absent, not a date,
//! or unparseable is skipped and the next one tried; a resource with none
//! yields `None`, as do types with no clinical date (Patient, Practitioner,
//! Organization, Location, Medication, Device, ...).
//!
//! Table entries:
//! - `name` or `a.b`: an element (dotted for nested objects). Its JSON value
//!   decides how it is read: a string is a FHIR date; an object with `start`
//!   or `end` is a Period; an object with `event` is a Timing (earliest to
//!   latest event).
//! - `a..b|c`: a start/end pair read as ONE range, the union of `a` and the
//!   first of `b`, `c` present (e.g. Condition onset..abatement, Appointment
//!   start..end). `a` must be present; without an end it stands alone.
//!
//! A Period with only `start` is open-ended ([`OPEN_END`]); one with only
//! `end` starts at [`OPEN_START`].

use serde_json::{Map, Value};

use super::date::{DateRange, OPEN_END, OPEN_START, parse_fhir_date};

/// Per-type clinical date elements, in priority order (see module docs).
static TABLE: &[(&str, &[&str])] = &[
    ("Account", &["servicePeriod"]),
    ("AdverseEvent", &["date", "detected", "recordedDate"]),
    (
        "AllergyIntolerance",
        &["onsetDateTime", "onsetPeriod", "recordedDate"],
    ),
    ("Appointment", &["start..end", "created"]),
    ("AppointmentResponse", &["start..end"]),
    ("AuditEvent", &["recorded"]),
    ("Basic", &["created"]),
    ("CarePlan", &["period", "created"]),
    ("CareTeam", &["period"]),
    (
        "ChargeItem",
        &[
            "occurrenceDateTime",
            "occurrencePeriod",
            "occurrenceTiming",
            "enteredDate",
        ],
    ),
    ("Claim", &["billablePeriod", "created"]),
    ("ClaimResponse", &["created"]),
    (
        "ClinicalImpression",
        &["effectiveDateTime", "effectivePeriod", "date"],
    ),
    ("Communication", &["sent", "received"]),
    (
        "CommunicationRequest",
        &["occurrenceDateTime", "occurrencePeriod", "authoredOn"],
    ),
    ("Composition", &["date"]),
    (
        "Condition",
        &[
            "onsetDateTime..abatementDateTime|abatementPeriod",
            "onsetPeriod..abatementDateTime|abatementPeriod",
            "recordedDate",
        ],
    ),
    ("Consent", &["dateTime"]),
    ("Coverage", &["period"]),
    (
        "CoverageEligibilityRequest",
        &["servicedDate", "servicedPeriod", "created"],
    ),
    (
        "CoverageEligibilityResponse",
        &["servicedDate", "servicedPeriod", "created"],
    ),
    ("DetectedIssue", &["identifiedDateTime", "identifiedPeriod"]),
    (
        "DeviceRequest",
        &[
            "occurrenceDateTime",
            "occurrencePeriod",
            "occurrenceTiming",
            "authoredOn",
        ],
    ),
    (
        "DeviceUseStatement",
        &[
            "timingDateTime",
            "timingPeriod",
            "timingTiming",
            "recordedOn",
        ],
    ),
    (
        "DiagnosticReport",
        &["effectiveDateTime", "effectivePeriod", "issued"],
    ),
    ("DocumentManifest", &["created"]),
    ("DocumentReference", &["context.period", "date"]),
    ("Encounter", &["period"]),
    ("EnrollmentRequest", &["created"]),
    ("EpisodeOfCare", &["period"]),
    ("ExplanationOfBenefit", &["billablePeriod", "created"]),
    ("FamilyMemberHistory", &["date"]),
    ("Flag", &["period"]),
    ("Goal", &["startDate", "statusDate"]),
    ("ImagingStudy", &["started"]),
    ("Immunization", &["occurrenceDateTime", "recorded"]),
    ("ImmunizationEvaluation", &["date"]),
    ("ImmunizationRecommendation", &["date"]),
    ("Invoice", &["date"]),
    ("List", &["date"]),
    ("MeasureReport", &["period", "date"]),
    ("Media", &["createdDateTime", "createdPeriod", "issued"]),
    (
        "MedicationAdministration",
        &["effectiveDateTime", "effectivePeriod"],
    ),
    ("MedicationDispense", &["whenHandedOver", "whenPrepared"]),
    ("MedicationRequest", &["authoredOn"]),
    (
        "MedicationStatement",
        &["effectiveDateTime", "effectivePeriod", "dateAsserted"],
    ),
    ("NutritionOrder", &["dateTime"]),
    (
        "Observation",
        &[
            "effectiveDateTime",
            "effectivePeriod",
            "effectiveInstant",
            "effectiveTiming",
            "issued",
        ],
    ),
    ("Procedure", &["performedDateTime", "performedPeriod"]),
    (
        "Provenance",
        &["occurredPeriod", "occurredDateTime", "recorded"],
    ),
    ("QuestionnaireResponse", &["authored"]),
    ("RequestGroup", &["authoredOn"]),
    ("ResearchSubject", &["period"]),
    (
        "RiskAssessment",
        &["occurrenceDateTime", "occurrencePeriod"],
    ),
    ("Schedule", &["planningHorizon"]),
    (
        "ServiceRequest",
        &[
            "occurrenceDateTime",
            "occurrencePeriod",
            "occurrenceTiming",
            "authoredOn",
        ],
    ),
    (
        "Specimen",
        &[
            "collection.collectedDateTime",
            "collection.collectedPeriod",
            "receivedTime",
        ],
    ),
    (
        "SupplyDelivery",
        &["occurrenceDateTime", "occurrencePeriod", "occurrenceTiming"],
    ),
    (
        "SupplyRequest",
        &[
            "occurrenceDateTime",
            "occurrencePeriod",
            "occurrenceTiming",
            "authoredOn",
        ],
    ),
    ("VisionPrescription", &["dateWritten", "created"]),
];

/// The clinically relevant time of `resource`: the first element of its
/// type's row in [`documented_table`] that is present and parseable.
///
/// Returns `None` for types without a clinical date, for JSON without a
/// string `resourceType`, and when no listed element yields a date.
pub fn clinical_period(resource: &Value) -> Option<DateRange> {
    let resource_type = resource.get("resourceType")?.as_str()?;
    clinical_date_elements(resource_type)
        .iter()
        .find_map(|entry| entry_range(resource, entry))
}

/// The element entries consulted for `resource_type`, in priority order
/// (empty for types without a clinical date). Entry syntax is described in
/// the module docs: `name`, `a.b` (nested) or `start..end|altEnd` (pair).
pub fn clinical_date_elements(resource_type: &str) -> &'static [&'static str] {
    TABLE
        .iter()
        .find(|(ty, _)| *ty == resource_type)
        .map_or(&[], |(_, elements)| *elements)
}

/// Every row of the table as `(resourceType, entries)`, sorted by type, for
/// publishing in the CapabilityStatement.
pub fn documented_table() -> Vec<(&'static str, &'static [&'static str])> {
    TABLE.to_vec()
}

/// One table entry: a single element, or a `start..end|altEnd` pair.
fn entry_range(resource: &Value, entry: &str) -> Option<DateRange> {
    match entry.split_once("..") {
        Some((from, to)) => {
            let start = element_range(resource, from)?;
            let end = to.split('|').find_map(|alt| element_range(resource, alt));
            Some(end.map_or(start, |end| start.union(end)))
        }
        None => element_range(resource, entry),
    }
}

/// The range of the element at a dotted path of object keys.
fn element_range(resource: &Value, path: &str) -> Option<DateRange> {
    let value = path.split('.').try_fold(resource, |v, key| v.get(key))?;
    match value {
        Value::String(s) => parse_fhir_date(s).ok(),
        Value::Object(o) if o.contains_key("start") || o.contains_key("end") => period_range(o),
        Value::Object(o) => timing_range(o.get("event")?),
        _ => None,
    }
}

/// A Period; a bound that is present but unparseable discards the Period.
fn period_range(period: &Map<String, Value>) -> Option<DateRange> {
    let bound = |key: &str| {
        period
            .get(key)
            .map(|v| v.as_str().and_then(|s| parse_fhir_date(s).ok()))
    };
    match (bound("start"), bound("end")) {
        (Some(Some(start)), Some(Some(end))) => Some(start.union(end)),
        (Some(Some(start)), None) => Some(DateRange {
            start: start.start,
            end: OPEN_END,
        }),
        (None, Some(Some(end))) => Some(DateRange {
            start: OPEN_START,
            end: end.end,
        }),
        _ => None,
    }
}

/// A Timing's `event` list, earliest to latest; unparseable events are ignored.
fn timing_range(events: &Value) -> Option<DateRange> {
    events
        .as_array()?
        .iter()
        .filter_map(|e| parse_fhir_date(e.as_str()?).ok())
        .reduce(DateRange::union)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> DateRange {
        parse_fhir_date(s).unwrap()
    }

    fn span(a: &str, b: &str) -> Option<DateRange> {
        Some(d(a).union(d(b)))
    }

    #[test]
    fn observation_priority_and_fallbacks() {
        let obs = json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2021-05-03T08:30:00+02:00",
            "issued": "2021-05-04T10:00:00.123Z",
            "valueQuantity": {"value": 72, "unit": "beats/minute"}
        });
        assert_eq!(clinical_period(&obs), Some(d("2021-05-03T06:30:00Z")));
        let mut messy = obs.clone();
        messy["effectiveDateTime"] = json!("yesterday");
        assert_eq!(clinical_period(&messy), Some(d("2021-05-04T10:00:00.123Z")));
        let timing = json!({"resourceType": "Observation", "effectiveTiming": {"event": [
            "2021-01-03", "not a date", "2021-01-01T10:00:00Z", 7]}});
        assert_eq!(
            clinical_period(&timing),
            span("2021-01-01T10:00:00Z", "2021-01-03")
        );
        let nothing = json!({"resourceType": "Observation", "effectiveTiming": {"event": []}});
        assert_eq!(clinical_period(&nothing), None);
    }

    #[test]
    fn periods_open_and_closed() {
        let enc = |period: Value| json!({"resourceType": "Encounter", "period": period});
        let closed = enc(json!({"start": "2020-01-01T10:00:00Z", "end": "2020-01-03"}));
        assert_eq!(
            clinical_period(&closed),
            span("2020-01-01T10:00:00Z", "2020-01-03")
        );
        let open = clinical_period(&enc(json!({"start": "2020-01-01"}))).unwrap();
        assert_eq!((open.start, open.end), (d("2020-01-01").start, OPEN_END));
        let before = clinical_period(&enc(json!({"end": "2020-01-01"}))).unwrap();
        assert_eq!(
            (before.start, before.end),
            (OPEN_START, d("2020-01-01").end)
        );
        assert_eq!(clinical_period(&enc(json!({}))), None);
        assert_eq!(
            clinical_period(&enc(json!({"start": "soon", "end": "2020"}))),
            None
        );
        let reversed = enc(json!({"start": "2020-02", "end": "2020-01"}));
        assert_eq!(clinical_period(&reversed), span("2020-01", "2020-02"));
    }

    #[test]
    fn condition_onset_to_abatement() {
        let mut cond = json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"code": "resolved"}]},
            "subject": {"reference": "Patient/p1"},
            "onsetDateTime": "2019-03", "abatementDateTime": "2019-05-10",
            "recordedDate": "2019-06-01"
        });
        assert_eq!(clinical_period(&cond), span("2019-03", "2019-05-10"));
        cond.as_object_mut().unwrap().remove("abatementDateTime");
        cond["abatementPeriod"] = json!({"start": "2019-04-01", "end": "2019-04-20"});
        assert_eq!(clinical_period(&cond), span("2019-03", "2019-04-20"));
        cond.as_object_mut().unwrap().remove("abatementPeriod");
        assert_eq!(clinical_period(&cond), Some(d("2019-03")));
        cond.as_object_mut().unwrap().remove("onsetDateTime");
        cond["onsetString"] = json!("childhood");
        assert_eq!(clinical_period(&cond), Some(d("2019-06-01")));
    }

    #[test]
    fn nested_and_pair_elements() {
        let doc = json!({"resourceType": "DocumentReference", "date": "2020-07-01T00:00:00Z",
            "context": {"period": {"start": "2020-06-01", "end": "2020-06-02"}}});
        assert_eq!(clinical_period(&doc), span("2020-06-01", "2020-06-02"));
        let spec = json!({"resourceType": "Specimen",
            "collection": {"collectedDateTime": "2020-06-05T09:00:00Z"}});
        assert_eq!(clinical_period(&spec), Some(d("2020-06-05T09:00:00Z")));
        let appt = json!({"resourceType": "Appointment", "status": "booked",
            "start": "2020-06-05T09:00:00Z", "end": "2020-06-05T09:30:00Z"});
        assert_eq!(
            clinical_period(&appt),
            span("2020-06-05T09:00:00Z", "2020-06-05T09:30:00Z")
        );
        let proposed = json!({"resourceType": "Appointment", "created": "2020-05-01"});
        assert_eq!(clinical_period(&proposed), Some(d("2020-05-01")));
    }

    #[test]
    fn other_main_types() {
        let cases = [
            ("MedicationRequest", "authoredOn", "2020-02-02"),
            ("Procedure", "performedDateTime", "2017"),
            ("DiagnosticReport", "issued", "2020-03-03T03:03:03Z"),
            ("MedicationDispense", "whenPrepared", "2020-04"),
            ("Claim", "created", "2020-01-09"),
            ("Immunization", "recorded", "2018-01-01"),
            ("AuditEvent", "recorded", "2024-01-01T00:00:00.5Z"),
        ];
        for (ty, element, value) in cases {
            let r = json!({"resourceType": ty, "occurrenceString": "as a child", element: value});
            assert_eq!(clinical_period(&r), Some(d(value)), "{r}");
        }
    }

    #[test]
    fn no_clinical_date() {
        let types = [
            "Patient",
            "Practitioner",
            "Organization",
            "Location",
            "Medication",
        ];
        for ty in types.into_iter().chain(["Device", "Bogus", ""]) {
            let r = json!({"resourceType": ty, "id": "x", "birthDate": "1980-01-01"});
            assert_eq!(clinical_period(&r), None);
            assert!(clinical_date_elements(ty).is_empty());
        }
        assert_eq!(clinical_period(&json!({"effectiveDateTime": "2020"})), None);
        assert_eq!(clinical_period(&json!({"resourceType": 5})), None);
        assert_eq!(clinical_period(&json!("Observation")), None);
    }

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        let table = documented_table();
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique");
        for (ty, entries) in table {
            assert!(!entries.is_empty(), "{ty}");
            assert_eq!(clinical_date_elements(ty), entries);
            for e in entries {
                assert!(
                    !e.is_empty() && !e.contains(' ') && !e.starts_with('.'),
                    "{ty}: {e}"
                );
            }
        }
        assert_eq!(clinical_date_elements("Encounter"), ["period"]);
    }
}

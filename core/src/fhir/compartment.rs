//! The FHIR R4 (4.0.1) Patient compartment: which patient a resource belongs to.
//!
//! The official CompartmentDefinition
//! (`http://hl7.org/fhir/R4/compartmentdefinition-patient.json`) names, per
//! resource type, the search parameters whose Patient reference puts a
//! resource in that patient's compartment. [`PARAMS`] copies that list
//! verbatim (every type with a non-empty `param`, in the definition's order),
//! so it can be checked against the spec line by line.
//!
//! A search parameter is not an element path, so each parameter is mapped to
//! the JSON elements its R4 expression reads. Most R4 compartment parameters
//! search an element of the same name (`subject`, `patient`, `performer`,
//! ...); [`PATHS`] lists only the exceptions (`Encounter.patient` searches
//! `subject`, `Group.member` searches `member.entity`, ...). Paths are
//! dotted and, as in FHIRPath, arrays are flattened at every step.
//!
//! Trade-off: instead of a FHIRPath engine this is a hand-kept table plus a
//! tiny walker. It cannot express `resolve() is Patient`, so every path keeps
//! only references that literally point at `Patient/<id>` (relative, with
//! `_history`, or an absolute URL). Contained (`#id`), logical
//! (identifier-only) and conditional references are not followed.

use serde_json::Value;

/// Patient compartment parameters per R4 resource type, in definition order.
static PARAMS: &[(&str, &[&str])] = &[
    ("Account", &["subject"]),
    ("AdverseEvent", &["subject"]),
    ("AllergyIntolerance", &["patient", "recorder", "asserter"]),
    ("Appointment", &["actor"]),
    ("AppointmentResponse", &["actor"]),
    ("AuditEvent", &["patient"]),
    ("Basic", &["patient", "author"]),
    ("BodyStructure", &["patient"]),
    ("CarePlan", &["patient", "performer"]),
    ("CareTeam", &["patient", "participant"]),
    ("ChargeItem", &["subject"]),
    ("Claim", &["patient", "payee"]),
    ("ClaimResponse", &["patient"]),
    ("ClinicalImpression", &["subject"]),
    ("Communication", &["subject", "sender", "recipient"]),
    (
        "CommunicationRequest",
        &["subject", "sender", "recipient", "requester"],
    ),
    ("Composition", &["subject", "author", "attester"]),
    ("Condition", &["patient", "asserter"]),
    ("Consent", &["patient"]),
    (
        "Coverage",
        &["policy-holder", "subscriber", "beneficiary", "payor"],
    ),
    ("CoverageEligibilityRequest", &["patient"]),
    ("CoverageEligibilityResponse", &["patient"]),
    ("DetectedIssue", &["patient"]),
    ("DeviceRequest", &["subject", "performer"]),
    ("DeviceUseStatement", &["subject"]),
    ("DiagnosticReport", &["subject"]),
    ("DocumentManifest", &["subject", "author", "recipient"]),
    ("DocumentReference", &["subject", "author"]),
    ("Encounter", &["patient"]),
    ("EnrollmentRequest", &["subject"]),
    ("EpisodeOfCare", &["patient"]),
    ("ExplanationOfBenefit", &["patient", "payee"]),
    ("FamilyMemberHistory", &["patient"]),
    ("Flag", &["patient"]),
    ("Goal", &["patient"]),
    ("Group", &["member"]),
    ("ImagingStudy", &["patient"]),
    ("Immunization", &["patient"]),
    ("ImmunizationEvaluation", &["patient"]),
    ("ImmunizationRecommendation", &["patient"]),
    ("Invoice", &["subject", "patient", "recipient"]),
    ("List", &["subject", "source"]),
    ("MeasureReport", &["patient"]),
    ("Media", &["subject"]),
    (
        "MedicationAdministration",
        &["patient", "performer", "subject"],
    ),
    ("MedicationDispense", &["subject", "patient", "receiver"]),
    ("MedicationRequest", &["subject"]),
    ("MedicationStatement", &["subject"]),
    ("MolecularSequence", &["patient"]),
    ("NutritionOrder", &["patient"]),
    ("Observation", &["subject", "performer"]),
    ("Patient", &["link"]),
    ("Person", &["patient"]),
    ("Procedure", &["patient", "performer"]),
    ("Provenance", &["patient"]),
    ("QuestionnaireResponse", &["subject", "author"]),
    ("RelatedPerson", &["patient"]),
    ("RequestGroup", &["subject", "participant"]),
    ("ResearchSubject", &["individual"]),
    ("RiskAssessment", &["subject"]),
    ("Schedule", &["actor"]),
    ("ServiceRequest", &["subject", "performer"]),
    ("Specimen", &["subject"]),
    ("SupplyDelivery", &["patient"]),
    ("SupplyRequest", &["subject"]),
    ("VisionPrescription", &["patient"]),
];

/// `(type, param) -> element paths` where the element is not named like the
/// parameter (from the R4 SearchParameter expressions).
static PATHS: &[(&str, &str, &[&str])] = &[
    ("Appointment", "actor", &["participant.actor"]),
    ("AuditEvent", "patient", &["agent.who", "entity.what"]),
    ("Basic", "patient", &["subject"]),
    ("CarePlan", "patient", &["subject"]),
    ("CarePlan", "performer", &["activity.detail.performer"]),
    ("CareTeam", "patient", &["subject"]),
    ("CareTeam", "participant", &["participant.member"]),
    ("Claim", "payee", &["payee.party"]),
    ("Composition", "attester", &["attester.party"]),
    ("Condition", "patient", &["subject"]),
    ("Coverage", "policy-holder", &["policyHolder"]),
    ("Encounter", "patient", &["subject"]),
    ("EnrollmentRequest", "subject", &["candidate"]),
    ("ExplanationOfBenefit", "payee", &["payee.party"]),
    ("Flag", "patient", &["subject"]),
    ("Goal", "patient", &["subject"]),
    ("Group", "member", &["member.entity"]),
    ("ImagingStudy", "patient", &["subject"]),
    ("Invoice", "patient", &["subject"]),
    ("MeasureReport", "patient", &["subject"]),
    ("MedicationAdministration", "patient", &["subject"]),
    (
        "MedicationAdministration",
        "performer",
        &["performer.actor"],
    ),
    ("MedicationDispense", "patient", &["subject"]),
    ("Patient", "link", &["link.other"]),
    ("Person", "patient", &["link.target"]),
    ("Procedure", "patient", &["subject"]),
    ("Procedure", "performer", &["performer.actor"]),
    ("Provenance", "patient", &["target"]),
    ("RequestGroup", "participant", &["action.participant"]),
    ("SupplyRequest", "subject", &["deliverTo"]),
];

/// The id of the patient whose compartment `resource` is in.
///
/// Parameters are tried in definition order, and within one the elements in
/// document order; the first reference to `Patient/<id>` (optionally with
/// `/_history/<v>`, optionally as an absolute URL) wins. A Patient resource
/// belongs to its own compartment and yields its `id`. Types outside the
/// compartment, and resources with no Patient reference, yield `None`.
pub fn patient_of(resource: &Value) -> Option<String> {
    let resource_type = resource.get("resourceType")?.as_str()?;
    if resource_type == "Patient" {
        return resource.get("id")?.as_str().map(str::to_owned);
    }
    compartment_params(resource_type).iter().find_map(|param| {
        param_paths(resource_type, param)
            .iter()
            .find_map(|path| first_patient_ref(resource, path))
    })
}

/// The Patient compartment search parameters of `resource_type`, in the
/// order of the R4 CompartmentDefinition (empty if not in the compartment).
pub fn compartment_params(resource_type: &str) -> &'static [&'static str] {
    PARAMS
        .iter()
        .find(|(ty, _)| *ty == resource_type)
        .map_or(&[], |(_, params)| *params)
}

/// True when resources of `resource_type` can be in a Patient compartment.
pub fn is_compartment_type(resource_type: &str) -> bool {
    !compartment_params(resource_type).is_empty()
}

/// True for the types a record shares with other records — never in a Patient compartment
/// and not Patient itself (Practitioner, Organization, Location, Medication…): what an
/// export follows references to.
pub fn is_shared_type(resource_type: &str) -> bool {
    resource_type != "Patient" && !is_compartment_type(resource_type)
}

/// The element paths searched by `param` on `resource_type`: the [`PATHS`]
/// override, or else the element named like the parameter.
fn param_paths(resource_type: &str, param: &'static &'static str) -> &'static [&'static str] {
    PATHS
        .iter()
        .find(|(ty, p, _)| *ty == resource_type && p == param)
        .map_or(std::slice::from_ref(param), |(_, _, paths)| *paths)
}

/// The first `Patient/<id>` reference among the values at a dotted path.
fn first_patient_ref(resource: &Value, path: &str) -> Option<String> {
    let mut values = vec![resource];
    for key in path.split('.') {
        values = values
            .into_iter()
            .filter_map(|v| v.get(key))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            })
            .collect();
    }
    values
        .into_iter()
        .filter_map(|r| r.get("reference")?.as_str())
        .find_map(patient_id)
}

/// The id in `Patient/<id>`, `Patient/<id>/_history/<v>`, or an absolute
/// URL ending in either; `None` for anything else.
fn patient_id(reference: &str) -> Option<String> {
    let mut parts: Vec<&str> = reference.split('/').collect();
    if let [.., "_history", version] = parts[..] {
        if !super::is_valid_id(version) {
            return None;
        }
        parts.truncate(parts.len() - 2);
    }
    match parts[..] {
        ["Patient", id] => super::is_valid_id(id).then(|| id.to_owned()),
        [ref base @ .., "Patient", id] if base.first().is_some_and(|s| s.ends_with(':')) => {
            super::is_valid_id(id).then(|| id.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference(r: &str) -> Value {
        json!({"reference": r})
    }

    #[test]
    fn main_types() {
        let obs = json!({"resourceType": "Observation", "subject": reference("Patient/p1"),
            "performer": [reference("Practitioner/dr"), reference("Patient/p2")]});
        assert_eq!(patient_of(&obs).as_deref(), Some("p1"));
        let by_performer = json!({"resourceType": "Observation",
            "subject": reference("Group/g"),
            "performer": [reference("Practitioner/1"), reference("Patient/p2")]});
        assert_eq!(patient_of(&by_performer).as_deref(), Some("p2"));
        let enc = json!({"resourceType": "Encounter", "subject": reference("Patient/e1")});
        assert_eq!(patient_of(&enc).as_deref(), Some("e1"));
        let cov = json!({"resourceType": "Coverage", "policyHolder": reference("Organization/o"),
            "beneficiary": reference("Patient/b1"), "payor": [reference("Organization/ins")]});
        assert_eq!(patient_of(&cov).as_deref(), Some("b1"));
        let group = json!({"resourceType": "Group", "member": [
            {"entity": reference("Device/d")}, {"entity": reference("Patient/m2")}]});
        assert_eq!(patient_of(&group).as_deref(), Some("m2"));
        let comp = json!({"resourceType": "Composition", "subject": reference("Group/g"),
            "attester": [{"mode": "legal", "party": reference("Patient/a1")}]});
        assert_eq!(patient_of(&comp).as_deref(), Some("a1"));
        let prov = json!({"resourceType": "Provenance",
            "target": [reference("Observation/o1"), reference("Patient/t1")]});
        assert_eq!(patient_of(&prov).as_deref(), Some("t1"));
        let claim = json!({"resourceType": "Claim", "payee": {"party": reference("Patient/c2")}});
        assert_eq!(patient_of(&claim).as_deref(), Some("c2"));
        let audit = json!({"resourceType": "AuditEvent", "agent": [{"who": reference("Device/x")}],
            "entity": [{"what": reference("Patient/ae")}]});
        assert_eq!(patient_of(&audit).as_deref(), Some("ae"));
        let plan = json!({"resourceType": "CarePlan", "activity": [{"detail":
            {"performer": [reference("Patient/cp")]}}]});
        assert_eq!(patient_of(&plan).as_deref(), Some("cp"));
    }

    #[test]
    fn reference_forms() {
        let cases = [
            ("Patient/123", Some("123")),
            ("Patient/a-b.c/_history/7", Some("a-b.c")),
            ("https://ehr.example.org/fhir/Patient/9", Some("9")),
            ("http://x/fhir/R4/Patient/9/_history/2", Some("9")),
            ("urn:uuid:1234", None),
            ("Practitioner/1", None),
            ("#contained", None),
            ("Patient/", None),
            ("Patient?identifier=123", None),
            ("Patient/1/extra", None),
            ("Patient/1/_history/", None),
            ("fhir/Patient/1", None),
            ("Patient/has space", None),
            ("", None),
        ];
        for (r, want) in cases {
            assert_eq!(patient_id(r).as_deref(), want, "{r:?}");
        }
    }

    #[test]
    fn ignores_non_patient_and_malformed() {
        let obs = json!({"resourceType": "Observation", "subject": reference("Practitioner/1"),
            "performer": [{"display": "Dr X"}, "Patient/1", reference("Organization/2")]});
        assert_eq!(patient_of(&obs), None);
        let enc = json!({"resourceType": "Encounter", "patient": reference("Patient/1")});
        assert_eq!(
            patient_of(&enc),
            None,
            "R4 Encounter.patient is searched on subject"
        );
        let logical = json!({"resourceType": "Condition",
            "subject": {"identifier": {"value": "123"}}});
        assert_eq!(patient_of(&logical), None);
    }

    #[test]
    fn patient_itself_and_unknown_types() {
        let p = json!({"resourceType": "Patient", "id": "me",
            "link": [{"other": reference("Patient/other"), "type": "seealso"}]});
        assert_eq!(patient_of(&p).as_deref(), Some("me"));
        assert_eq!(patient_of(&json!({"resourceType": "Patient"})), None);
        let org = json!({"resourceType": "Organization", "partOf": reference("Patient/1")});
        assert_eq!(patient_of(&org), None);
        assert_eq!(
            patient_of(&json!({"subject": reference("Patient/1")})),
            None
        );
        assert!(!is_compartment_type("Practitioner") && !is_compartment_type("Bogus"));
        assert!(is_compartment_type("Observation") && is_compartment_type("Patient"));
        assert_eq!(
            compartment_params("Coverage"),
            ["policy-holder", "subscriber", "beneficiary", "payor"]
        );
        assert!(compartment_params("Medication").is_empty());
    }

    #[test]
    fn tables_are_consistent() {
        assert_eq!(PARAMS.len(), 66);
        assert!(
            PARAMS.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        for (ty, param, paths) in PATHS {
            assert!(compartment_params(ty).contains(param), "{ty}.{param}");
            assert!(!paths.is_empty());
        }
        for (ty, params) in PARAMS {
            for param in *params {
                assert!(
                    !param_paths(ty, param).iter().any(|p| p.is_empty()),
                    "{ty}.{param}"
                );
            }
        }
    }
}

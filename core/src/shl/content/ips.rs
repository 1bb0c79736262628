//! The `emergency` profile's International Patient Summary: its sections as data (title,
//! LOINC code, what fills it) and the Composition (LOINC 60591-5) that lists them, each with
//! a narrative and an `emptyReason` when there is nothing to list.

use super::picks::Pick;
use serde_json::{Value, json};

/// One IPS section.
pub(super) struct Section {
    pub title: &'static str,
    pub loinc: &'static str,
    pub pick: Pick,
}

/// The sections, in the order the summary shows them.
pub(super) const SECTIONS: &[Section] = &[
    Section {
        title: "Allergies and Intolerances",
        loinc: "48765-2",
        pick: Pick::ActiveAllergies,
    },
    Section {
        title: "Medication Summary",
        loinc: "10160-0",
        pick: Pick::ActiveMedications,
    },
    Section {
        title: "Problem List",
        loinc: "11450-4",
        pick: Pick::ActiveProblems,
    },
    Section {
        title: "Immunizations",
        loinc: "11369-6",
        pick: Pick::Immunizations,
    },
    Section {
        title: "Results",
        loinc: "30954-2",
        pick: Pick::LatestLabs(30),
    },
    Section {
        title: "History of Procedures",
        loinc: "47519-4",
        pick: Pick::RecentProcedures(20),
    },
];

/// The summary's Composition about `patient`, written at `now`.
pub(super) fn composition(patient: &str, now: &str, sections: Vec<Value>) -> Value {
    json!({
        "resourceType": "Composition",
        "id": uuid::Uuid::new_v4().to_string(),
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">International Patient Summary</div>"},
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "date": now,
        "author": [{"display": crate::SOFTWARE}],
        "title": "International Patient Summary",
        "section": sections,
    })
}

/// An IPS section: LOINC code, title, entries, narrative; `emptyReason` when empty.
pub(super) fn section(section: &Section, entries: &[Value]) -> Value {
    let (title, loinc) = (section.title, section.loinc);
    let mut s = json!({
        "title": title,
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{title}: {} entries</div>", entries.len())},
    });
    if entries.is_empty() {
        s["emptyReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable", "display": "Unavailable"}]});
    } else {
        s["entry"] = json!(entries.iter().map(reference).collect::<Vec<_>>());
    }
    s
}

fn reference(r: &Value) -> Value {
    json!({"reference": format!("{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""))})
}

//! The clinical writers besides observations: Conditions (sensitive ones labelled),
//! MedicationRequests, Procedures, Immunizations and AllergyIntolerances.
//!
//! Each writes one resource of the current encounter at the encounter's next tick, and
//! writes nothing once the patient's budget is spent.

use std::io::{self, Write};

use rand::Rng;

use super::codes::{
    ACT_CODE, ALLERGIES, ALLERGY_CLINICAL, ALLERGY_VERIFICATION, COND_CATEGORY, COND_CLINICAL,
    COND_VERIFICATION, CONFIDENTIALITY, COVID, CVX, FLU, MEDS, PROCEDURES, RXNORM, SENSITIVE,
    SNOMED, UCUM, VACCINES,
};
use super::encounter::Enc;
use super::json::{Coding, Concept, Ref};
use super::people::{Person, Review};
use super::time::{DAY, TODAY, civil_from_days, fmt_date};
use super::{Gen, emit};

impl<W: Write> Gen<W> {
    /// Diagnoses one of the [`SENSITIVE`] problems, labelled as such.
    pub(super) fn sensitive(&mut self, p: &Person, e: &mut Enc) -> io::Result<()> {
        let (code, display, label, label_display, days) = self.pick(SENSITIVE);
        self.condition(p, e, (code, display), days, Some((label, label_display)))?;
        Ok(())
    }

    /// Writes a Condition diagnosed now, `days` to resolve (0 = lifelong, a problem-list
    /// item), with `meta.security` labels when `label` is given; returns its id, or `None`
    /// when the budget is spent.
    pub(super) fn condition(
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

    /// Prescribes the drug with RxNorm code `rxnorm`, for the Condition `reason` if any; it is
    /// `active` while its course lasts, or for a maintenance drug when prescribed at or after
    /// the patient's last check-up (earlier renewals are `completed`, now and then `stopped`).
    pub(super) fn medication(
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
        // A maintenance drug is renewed at every check-up up to the last one, which is never
        // skipped: only that renewal, or a first prescription after it, is still current.
        let status = match days {
            0 if p.review != Review::Ahead => "active",
            0 if self.rng.random_bool(0.15) => "stopped",
            d if d > 0 && t + d * DAY >= TODAY => "active",
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

    /// Performs the procedure with SNOMED code `snomed`, for the Condition `reason` if any.
    pub(super) fn procedure(
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

    /// Gives the routine vaccines due at this age and year, and the yearly flu and COVID-19
    /// shots now and then.
    pub(super) fn vaccines(&mut self, p: &mut Person, e: &mut Enc) -> io::Result<()> {
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

    /// Writes one Immunization with a made-up lot number.
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

    /// Records one of the patient's allergies, unless it was drawn before.
    pub(super) fn allergy(&mut self, p: &mut Person, e: &mut Enc) -> io::Result<()> {
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
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use std::collections::{BTreeMap, BTreeSet as Set};

    use crate::generate::codes::{ACT_CODE, CHRONIC, CONFIDENTIALITY, SENSITIVE};
    use crate::generate::tests::{lines, run};

    /// As a pharmacist would read a chart: about half the patients take something now; a
    /// maintenance drug is current once, from a recent check-up; every diagnosed chronic
    /// problem with a drug has that drug current.
    #[test]
    fn current_prescriptions_come_from_a_recent_check_up() {
        let (out, _) = run(120, 400, 11);
        let rows = lines(&out);
        let mut current: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut chronic: BTreeMap<String, Set<&str>> = BTreeMap::new();
        let mut patients = 0;
        for r in &rows {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            match r["resourceType"].as_str() {
                Some("Patient") => patients += 1,
                Some("MedicationRequest") if r["status"] == "active" => {
                    let who = text(&r["subject"]["reference"]);
                    let drug = text(&r["medicationCodeableConcept"]["coding"][0]["code"]);
                    let maintenance = r["dosageInstruction"][0]["timing"]["repeat"]
                        .get("boundsDuration")
                        .is_none();
                    if maintenance {
                        current
                            .entry(who)
                            .or_default()
                            .push((drug, text(&r["authoredOn"])));
                    }
                }
                Some("Condition") => {
                    let code = r["code"]["coding"][0]["code"].as_str().unwrap_or_default();
                    if let Some(c) = CHRONIC.iter().find(|c| c.0 == code && !c.2.is_empty()) {
                        let who = text(&r["subject"]["reference"]);
                        chronic.entry(who).or_default().insert(c.2);
                    }
                }
                _ => {}
            }
        }
        let taking = current.len();
        assert!(
            taking * 100 >= patients * 30 && taking * 100 <= patients * 75,
            "{taking} of {patients} patients take a maintenance drug"
        );
        for (who, drugs) in &current {
            let codes: Set<&str> = drugs.iter().map(|(code, _)| code.as_str()).collect();
            assert_eq!(
                codes.len(),
                drugs.len(),
                "{who}: a drug current twice: {drugs:?}"
            );
            for (code, authored) in drugs {
                assert!(
                    authored.as_str() > "2026-04",
                    "{who}: {code} from {authored}"
                );
            }
        }
        for (who, drugs) in &chronic {
            let now: Set<&str> = current
                .get(who)
                .map(|d| d.iter().map(|(code, _)| code.as_str()).collect())
                .unwrap_or_default();
            assert!(
                drugs.is_subset(&now),
                "{who}: {drugs:?} diagnosed, {now:?} current"
            );
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
}

//! Encounters: when they happen over a life, what kind they are, and what each one
//! contains (the clinical writers it calls are in the sibling modules).
//!
//! The schedule spreads the patient's remaining budget over the time left until "today",
//! so a record spans decades whatever its size; see the module docs of
//! [`generate`](super) for the budget rules.

use std::io::{self, Write};

use rand::Rng;

use super::codes::{
    A1C, ACT_CODE, BMP, CBC, CHRONIC, DIABETES, DISCHARGE, ENCOUNTERS, HP_NOTE, HYPERLIPIDEMIA,
    LIPID, PROBLEMS, PROGRESS_NOTE, SNOMED,
};
use super::json::{Coding, Concept, Ref};
use super::people::{Person, Review};
use super::time::{DAY, TODAY};
use super::{Gen, emit};

/// Prior guess of resources per encounter, refined per patient as it goes.
const EST_PER_ENCOUNTER: f64 = 8.0;
/// One patient's budget divided by this is kept for their last check-up (see [`Gen::encounters`]).
const REVIEW_SHARE: usize = 5;
/// At most this many resources are kept for the last check-up: vital signs, the chronic
/// problems and their renewed prescriptions fit.
const REVIEW_BUDGET: usize = 30;
/// Chance that a check-up or sick visit of a teenager or adult adds a sensitive diagnosis.
const SENSITIVE_P: f64 = 0.03;

/// What an encounter is for; it decides its length, class, location and contents.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Check-up (well-child visit under 18).
    Wellness,
    /// Sick visit at the clinic.
    Sick,
    /// Emergency room visit at the hospital.
    Emergency,
    /// Hospital admission.
    Inpatient,
}

/// The encounter being filled; `cursor` moves forward as things happen.
pub(super) struct Enc {
    /// Resource id of the Encounter.
    pub(super) id: String,
    /// What the encounter is for.
    pub(super) kind: Kind,
    /// Start (seconds, local time).
    pub(super) start: i64,
    /// End (seconds, local time).
    pub(super) end: i64,
    /// The time of the latest thing that happened, see [`Gen::tick`].
    pub(super) cursor: i64,
    /// Index of the attending practitioner in the pool.
    pub(super) doctor: usize,
    /// Index of the Location in the pool.
    pub(super) location: usize,
    /// Assessment printed on its document: the latest diagnosis, else "Routine examination".
    pub(super) reason: &'static str,
}

impl<W: Write> Gen<W> {
    /// Writes the patient's encounters, oldest first, until their budget is spent.
    ///
    /// A share of the budget ([`REVIEW_SHARE`], at most [`REVIEW_BUDGET`]) is kept for a
    /// check-up a few weeks to months before "today", where chronic problems are assessed
    /// and maintenance drugs renewed: as in a real chart, the current medications are those
    /// prescribed at a recent visit, not whatever the last random encounter happened to be.
    /// The other encounters are spread over the time until that review; what the review
    /// leaves unspent goes to visits between it and "today".
    pub(super) fn encounters(&mut self, p: &mut Person) -> io::Result<()> {
        let (mut end, mut spent) = (p.birth, 0usize);
        let review_at = TODAY - self.rng.random_range(20..150) * DAY;
        let mut kept = Some((self.left / REVIEW_SHARE).min(REVIEW_BUDGET));
        while self.left > 0 {
            let until = if kept.is_some() { review_at } else { TODAY };
            let planned = self.left - kept.unwrap_or(0).min(self.left);
            if planned == 0 && kept.take().is_some() {
                let start = self.start_time(Kind::Wellness, end.max(review_at), end);
                p.review = Review::Now;
                end = self.encounter(p, Kind::Wellness, start)?;
                p.review = Review::Done;
                p.encounters += 1;
                continue;
            }
            let age = p.age(end);
            // Spread the planned budget over the time left; infants and the old are seen more often.
            let avg = (spent as f64 + EST_PER_ENCOUNTER * 4.0) / (p.encounters as f64 + 4.0);
            let span = (until - end).max(0) as f64;
            let per_encounter = span / (planned as f64 / avg).max(1.0);
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
            let start = self.start_time(kind, end + gap as i64, end);
            let before = self.left;
            end = self.encounter(p, kind, start)?;
            spent += before - self.left;
            p.encounters += 1;
        }
        Ok(())
    }

    /// When an encounter of `kind` on the day of `when` starts: office hours for clinic
    /// visits, any minute for the hospital; always after `after`, when the previous one ended.
    fn start_time(&mut self, kind: Kind, when: i64, after: i64) -> i64 {
        let day = when.div_euclid(DAY) * DAY;
        let start = match kind {
            Kind::Wellness | Kind::Sick => day + 8 * 3600 + self.rng.random_range(0..34) * 900,
            _ => day + self.rng.random_range(0..1440) * 60,
        };
        if start <= after {
            after + 900 - after.rem_euclid(60)
        } else {
            start
        }
    }

    /// Writes one encounter of `kind` starting at `start` and what happened during it;
    /// returns when it ended.
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
    pub(super) fn tick(&mut self, e: &mut Enc) -> i64 {
        let step = ((e.end - e.start) / 24).max(60);
        e.cursor = (e.cursor + self.rng.random_range(step / 2..=step)).min(e.end);
        e.cursor - e.cursor.rem_euclid(60)
    }

    /// A check-up: vital signs, chronic problems diagnosed and treated, vaccines due,
    /// screening labs and procedures by age.
    fn wellness(&mut self, p: &mut Person, e: &mut Enc) -> io::Result<()> {
        let age = p.age(e.start);
        self.vitals(p, e, true)?;
        // Diagnose chronic problems whose onset has passed; renew their maintenance drugs.
        let mut on_meds = false;
        for (i, &(code, display, drug, ..)) in CHRONIC.iter().enumerate() {
            // After the last check-up, only a newly diagnosed problem gets a prescription.
            let mut renew = p.review != Review::Done;
            if p.chronic[i].is_none() && p.onset[i] <= e.start {
                p.chronic[i] = self.condition(p, e, (code, display), 0, None)?;
                e.reason = display;
                renew = true;
            }
            if let Some(cid) = p.chronic[i].clone()
                && !drug.is_empty()
            {
                on_meds = true;
                if renew {
                    self.medication(p, e, drug, Some(&cid))?;
                }
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
        // A drug the patient already takes for a chronic problem is not prescribed twice.
        let taken = CHRONIC
            .iter()
            .zip(&p.chronic)
            .any(|(c, cid)| c.2 == drug && cid.is_some() && p.review != Review::Ahead);
        if !drug.is_empty() && !taken {
            self.medication(p, e, drug, cid.as_deref())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::generate::tests::{lines, run};

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
}

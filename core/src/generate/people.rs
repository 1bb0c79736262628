//! Patients: who they are (name, birth, home, primary care, planned chronic problems) and
//! their Patient resource.
//!
//! A [`Person`] is the only per-patient state the generator keeps; it lives while the
//! patient's record is written and is then dropped, so memory does not grow with the run.

use std::io::{self, Write};

use rand::Rng;

use super::codes::{CHRONIC, CITIES, FAMILY, GIVEN_F, GIVEN_M, US_CITIES};
use super::json::{Coding, Concept, Ref};
use super::time::{DAY, YEAR, days_from_civil, fmt_date, fmt_dt};
use super::{Gen, emit};

/// One patient's state while their record is written.
pub(super) struct Person {
    /// Resource id of the Patient.
    pub(super) id: String,
    /// "Given Family", as printed on documents.
    pub(super) name: String,
    /// Medical record number, also the stem of encounter identifiers.
    pub(super) mrn: String,
    /// Birth, midnight local time (seconds).
    pub(super) birth: i64,
    /// UTC offset of the home city, appended to every timestamp.
    pub(super) tz: &'static str,
    /// Height (cm) when grown up.
    pub(super) adult_height: f64,
    /// Body mass index as a young adult; it creeps up with age.
    pub(super) bmi: f64,
    /// Index of the primary care practitioner in the pool.
    pub(super) pcp: usize,
    /// Index of the clinic (a pool Location other than the hospital).
    pub(super) clinic: usize,
    /// When each of [`CHRONIC`] starts, `i64::MAX` for never.
    pub(super) onset: [i64; CHRONIC.len()],
    /// Condition id of each of [`CHRONIC`] once diagnosed.
    pub(super) chronic: [Option<String>; CHRONIC.len()],
    /// Bit `i` set once routine vaccine `i` was given.
    pub(super) vaccines: u16,
    /// Last year a flu vaccine was given.
    pub(super) flu_year: i64,
    /// Last year a COVID-19 vaccine was given.
    pub(super) covid_year: i64,
    /// Allergy draws left; a repeated allergy is drawn but not written.
    pub(super) allergies_left: u8,
    /// Bit `i` set once allergy `i` was recorded.
    pub(super) allergies_seen: u8,
    /// Encounters written so far.
    pub(super) encounters: usize,
    /// Where the record stands with respect to the last check-up (see `Gen::encounters`).
    pub(super) review: Review,
}

/// The last check-up before "today", where maintenance drugs are renewed: prescriptions
/// before it were superseded by its renewals, and only those (and later first prescriptions)
/// are current.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Review {
    /// Still to come: a maintenance prescription written now is superseded later.
    Ahead,
    /// Taking place: its renewals are the current prescriptions.
    Now,
    /// Over: visits after it renew nothing; only newly diagnosed problems get a prescription.
    Done,
}

impl Person {
    /// Age in years at time `t`.
    pub(super) fn age(&self, t: i64) -> f64 {
        (t - self.birth) as f64 / YEAR as f64
    }

    /// Time `t` as a FHIR dateTime with the patient's UTC offset.
    pub(super) fn dt(&self, t: i64) -> String {
        fmt_dt(t, self.tz)
    }
}

impl<W: Write> Gen<W> {
    /// Makes up a person and writes their Patient resource.
    ///
    /// Lifelong problems are planned here, at birth: [`Person::onset`] holds when each
    /// one of [`CHRONIC`] starts (`i64::MAX` for never).
    pub(super) fn patient(&mut self, idx: usize) -> io::Result<Person> {
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
        let p = Person {
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
            review: Review::Ahead,
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
        Ok(p)
    }
}

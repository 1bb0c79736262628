//! Observations: vital signs (blood pressure raised by hypertension, growth following
//! age) and lab panels with their DiagnosticReport (values raised by the patient's chronic
//! problems, flagged against the reference range).

use std::io::{self, Write};

use rand::Rng;

use super::codes::{
    BMI, HEART_RATE, HEIGHT, HYPERTENSION, INTERPRETATION, LABS, LOINC, OBS_CATEGORY, ORGS, PANELS,
    TEMPERATURE, WEIGHT,
};
use super::encounter::{Enc, Kind};
use super::json::{Coding, Concept, Qty, Ref};
use super::people::Person;
use super::{Gen, emit};

impl<W: Write> Gen<W> {
    /// Vital signs taken at one time: heart rate and, from age 3, blood pressure; then
    /// temperature (`full == false`) or growth: weight, height and BMI (`full == true`).
    pub(super) fn vitals(&mut self, p: &Person, e: &mut Enc, full: bool) -> io::Result<()> {
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

    /// Writes one vital-sign Observation with a single quantity.
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
    pub(super) fn panel(&mut self, p: &Person, e: &mut Enc, panel: usize) -> io::Result<()> {
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
}

/// `v` rounded to `decimals` decimal places.
fn round(v: f64, decimals: usize) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (v * f).round() / f
}

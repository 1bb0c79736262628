//! The shared pool every patient refers to: Organizations (clinics, a hospital,
//! laboratories), Practitioners with valid NPIs and Locations, plus the phone numbers and
//! street addresses that pool and patients alike are given.

use std::io::{self, Write};

use rand::Rng;

use super::codes::{CITIES, FAMILY, GIVEN_F, GIVEN_M, LOCATIONS, NPI, ORGS, STREETS, US_CITIES};
use super::json::{Coding, Concept, Json, Ref, jw};
use super::{Gen, emit};

/// A postal address in one of [`CITIES`].
pub(super) struct Address {
    /// Index into [`CITIES`].
    city: usize,
    /// House number and street.
    street: String,
    /// Postal code.
    postal: String,
}

impl Json for Address {
    fn write(&self, w: &mut Vec<u8>) {
        let (city, state, _, country, _, _) = CITIES[self.city];
        jw!(w; {"line": [&self.street], "city": city, "state": state, "postalCode": &self.postal, "country": country});
    }
}

impl<W: Write> Gen<W> {
    /// A work or mobile phone number in `city` (an index into [`CITIES`]).
    pub(super) fn phone(&mut self, city: usize) -> String {
        format!("{}01{:02}", CITIES[city].5, self.rng.random_range(0..100))
    }

    /// A street address in `city` (an index into [`CITIES`]).
    pub(super) fn address(&mut self, city: usize) -> Address {
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

    /// Writes the shared pool: Organizations, Practitioners and 2–3 Locations, remembered
    /// in `orgs`, `doctors` and `locations` for every patient to refer to.
    pub(super) fn pool(&mut self) -> io::Result<()> {
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
}

#[cfg(test)]
mod tests {
    use crate::generate::codes::NPI;
    use crate::generate::tests::{lines, run};

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

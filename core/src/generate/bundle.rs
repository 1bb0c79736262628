//! The transaction-Bundle shape real exporters produce (Synthea, IPS documents, hospital
//! portals), made from the generated record so tests and benchmarks meet it too:
//!
//! - one transaction Bundle per patient, one per NDJSON line (a large line: ~1 MB for a
//!   thousand resources), every entry with a `fullUrl` of `urn:uuid:<id>` and a `request`;
//! - references as `urn:uuid:` (or, with [`References::Literal`], the same data with
//!   `Type/id`, for comparing the two), and **forward**: each encounter's observations,
//!   conditions and prescriptions come before the Encounter they point to;
//! - the shared Organizations, Practitioners and Locations repeated in every patient's
//!   Bundle, each copy with an extension that differs from patient to patient (as Synthea's
//!   utilization extensions do), so a later copy is a later version of the same resource;
//! - a Provenance as the last entry, listing every entry of its Bundle.

use std::io::{self, Write};

use super::Gen;

/// How the Bundles' entries reference each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum References {
    /// `urn:uuid:<id>`, resolved through the entries' `fullUrl`s.
    Urn,
    /// `Type/id`: the same data with literal references.
    Literal,
}

/// The state of the Bundle being written.
#[derive(Default)]
pub(super) struct Bundling {
    pub(super) references: Option<References>,
    /// The shared pool's resources, repeated in every Bundle.
    pool: Vec<(&'static str, Vec<u8>)>,
    /// Bundles opened so far.
    bundles: usize,
    open: bool,
    entries: usize,
    /// The Encounter being held back until what happened during it is written.
    encounter: Option<Vec<u8>>,
    held: Vec<(&'static str, Vec<u8>)>,
    /// `Type/id` of every entry of the open Bundle, for its Provenance.
    targets: Vec<String>,
}

const EXTENSION_URL: &str = "https://phrkit.dev/generated/StructureDefinition/patients-seen";

impl<W: Write> Gen<W> {
    /// Takes one generated resource in Bundle mode.
    pub(super) fn bundle_resource(&mut self, ty: &'static str, line: Vec<u8>) -> io::Result<()> {
        if ty == "Patient" {
            self.close_bundle()?;
            self.open_bundle()?;
            return self.entry(ty, &line);
        }
        if !self.bundling.open {
            self.bundling.pool.push((ty, line));
            return Ok(());
        }
        if ty == "Encounter" {
            self.release_encounter()?;
            self.bundling.encounter = Some(line);
        } else if self.bundling.encounter.is_some() {
            self.bundling.held.push((ty, line));
        } else {
            self.entry(ty, &line)?;
        }
        Ok(())
    }

    fn open_bundle(&mut self) -> io::Result<()> {
        let id = self.uuid();
        let head =
            format!(r#"{{"resourceType":"Bundle","id":"{id}","type":"transaction","entry":["#);
        self.write_out(head.as_bytes())?;
        let b = &mut self.bundling;
        b.open = true;
        b.entries = 0;
        b.bundles += 1;
        let n = b.bundles;
        let pool = std::mem::take(&mut b.pool);
        for (ty, line) in &pool {
            let copy = with_extension(line, n);
            self.entry(ty, &copy)?;
        }
        self.bundling.pool = pool;
        Ok(())
    }

    /// Writes what happened during the held Encounter, then the Encounter.
    fn release_encounter(&mut self) -> io::Result<()> {
        let held = std::mem::take(&mut self.bundling.held);
        for (ty, line) in &held {
            self.entry(ty, line)?;
        }
        if let Some(enc) = self.bundling.encounter.take() {
            self.entry("Encounter", &enc)?;
        }
        Ok(())
    }

    /// Ends the open Bundle (if any) with its Provenance.
    pub(super) fn close_bundle(&mut self) -> io::Result<()> {
        if !self.bundling.open {
            return Ok(());
        }
        self.release_encounter()?;
        let targets = std::mem::take(&mut self.bundling.targets);
        let mut prov = Vec::with_capacity(targets.len() * 60 + 200);
        let id = self.uuid();
        prov.extend_from_slice(
            format!(r#"{{"resourceType":"Provenance","id":"{id}","target":["#).as_bytes(),
        );
        for (i, t) in targets.iter().enumerate() {
            if i > 0 {
                prov.push(b',');
            }
            prov.extend_from_slice(format!(r#"{{"reference":"{t}"}}"#).as_bytes());
        }
        prov.extend_from_slice(
            br#"],"recorded":"2026-11-01T00:00:00Z","agent":[{"who":{"display":"phrkit generate"}}]}"#,
        );
        self.entry("Provenance", &prov)?;
        self.bundling.targets.clear();
        self.bundling.open = false;
        self.write_out(b"]}\n")
    }

    /// Writes one entry: `fullUrl`, the resource (references rewritten for the style) and
    /// its `request`.
    fn entry(&mut self, ty: &'static str, resource: &[u8]) -> io::Result<()> {
        let urn = self.bundling.references == Some(References::Urn);
        let id = id_of(resource).unwrap_or_default().to_string();
        let body = if urn && ty != "Provenance" {
            urn_references(resource)
        } else {
            resource.to_vec()
        };
        let mut out = Vec::with_capacity(body.len() + 120);
        if self.bundling.entries > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!(r#"{{"fullUrl":"urn:uuid:{id}","resource":"#).as_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(
            format!(r#","request":{{"method":"POST","url":"{ty}"}}}}"#).as_bytes(),
        );
        self.write_out(&out)?;
        self.bundling.entries += 1;
        self.bundling.targets.push(if urn {
            format!("urn:uuid:{id}")
        } else {
            format!("{ty}/{id}")
        });
        self.count(ty);
        Ok(())
    }
}

/// The resource's id: the generator writes `{"resourceType":"T","id":"<uuid>",…`.
fn id_of(resource: &[u8]) -> Option<&str> {
    let at = memchr::memmem::find(resource, b"\"id\":\"")? + 6;
    let end = at + memchr::memchr(b'"', &resource[at..])?;
    std::str::from_utf8(&resource[at..end]).ok()
}

/// A copy of a pool resource carrying an extension that says which Bundle it came with.
fn with_extension(resource: &[u8], bundle: usize) -> Vec<u8> {
    let Some(id) = id_of(resource) else {
        return resource.to_vec();
    };
    let at = memchr::memmem::find(resource, id.as_bytes()).unwrap_or(0) + id.len() + 1;
    let mut out = Vec::with_capacity(resource.len() + 120);
    out.extend_from_slice(&resource[..at]);
    out.extend_from_slice(
        format!(r#","extension":[{{"url":"{EXTENSION_URL}","valueInteger":{bundle}}}]"#).as_bytes(),
    );
    out.extend_from_slice(&resource[at..]);
    out
}

/// `"reference":"Type/<uuid>"` → `"reference":"urn:uuid:<uuid>"`.
fn urn_references(resource: &[u8]) -> Vec<u8> {
    const KEY: &[u8] = b"\"reference\":\"";
    let mut out = Vec::with_capacity(resource.len() + 64);
    let mut rest = resource;
    while let Some(i) = memchr::memmem::find(rest, KEY) {
        let start = i + KEY.len();
        out.extend_from_slice(&rest[..start]);
        rest = &rest[start..];
        let end = memchr::memchr(b'"', rest).unwrap_or(rest.len());
        match rest[..end].iter().position(|&b| b == b'/') {
            Some(slash) if end - slash - 1 == 36 => {
                out.extend_from_slice(b"urn:uuid:");
                out.extend_from_slice(&rest[slash + 1..end]);
                rest = &rest[end..];
            }
            _ => {}
        }
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::{GenerateOptions, Shape, generate};
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    fn bundles(references: References) -> Vec<Value> {
        let mut out = Vec::new();
        let opts = GenerateOptions {
            patients: 3,
            resources_per_patient: 300,
            seed: 9,
            shape: Shape::TransactionBundles(references),
        };
        let summary = generate(&opts, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let entries: usize = lines
            .iter()
            .map(|b| b["entry"].as_array().unwrap().len())
            .sum();
        assert_eq!(summary.resources, entries);
        assert_eq!(summary.bytes, text.len() as u64);
        lines
    }

    #[test]
    fn the_shape_real_exporters_produce() {
        let lines = bundles(References::Urn);
        assert_eq!(lines.len(), 3, "one Bundle per patient, one per line");
        let mut pool_versions: HashMap<String, HashSet<String>> = HashMap::new();
        let mut forward = 0;
        for b in &lines {
            assert_eq!(b["type"], "transaction");
            let entries = b["entry"].as_array().unwrap();
            let position: HashMap<&str, usize> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e["fullUrl"].as_str().unwrap(), i))
                .collect();
            let last = entries.last().unwrap();
            assert_eq!(last["resource"]["resourceType"], "Provenance");
            assert_eq!(
                last["resource"]["target"].as_array().unwrap().len(),
                entries.len() - 1,
                "the Provenance lists every other entry"
            );
            for (i, e) in entries.iter().enumerate() {
                let r = &e["resource"];
                let text = r.to_string();
                assert!(!text.contains("\"reference\":\"Patient/"), "{text}");
                let url = e["fullUrl"].as_str().unwrap();
                assert_eq!(url, format!("urn:uuid:{}", r["id"].as_str().unwrap()));
                for (j, _) in text.match_indices("urn:uuid:") {
                    let p = position.get(&text[j..j + 45]).copied();
                    assert!(p.is_some(), "every urn:uuid names an entry of the Bundle");
                    forward += usize::from(p > Some(i) && r["resourceType"] != "Provenance");
                }
                if matches!(
                    r["resourceType"].as_str(),
                    Some("Organization" | "Practitioner" | "Location")
                ) {
                    pool_versions
                        .entry(url.to_string())
                        .or_default()
                        .insert(text);
                }
            }
        }
        assert!(forward > 100, "{forward} forward references");
        assert!(pool_versions.len() > 20);
        assert!(
            pool_versions.values().all(|v| v.len() == 3),
            "each Bundle's copy differs"
        );
    }

    #[test]
    fn literal_style_is_the_same_data() {
        let urn = bundles(References::Urn);
        let literal = bundles(References::Literal);
        assert_eq!(urn.len(), literal.len());
        for (u, l) in urn.iter().zip(&literal) {
            let rewritten = urn_references(l.to_string().as_bytes());
            assert_eq!(String::from_utf8(rewritten).unwrap(), u.to_string());
        }
    }
}

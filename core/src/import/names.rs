//! The run's names for resources, held compactly: what `urn:uuid:…` and `fullUrl`
//! references mean, and which resources the run stored under another id.
//!
//! A transaction Bundle names every resource by a `fullUrl` (`urn:uuid:…` in Synthea, IPS
//! documents and most portals) and references them by that name, forward as often as
//! backward. Resolving needs only the map from name to `Type/id`, never the resources
//! themselves, so the import keeps just that map for the whole run: 24 bytes a name (a UUID
//! is its own 16-byte key; any other URL is keyed by a 128-bit hash of its text), plus the id
//! text where it differs from the UUID. A million-entry file costs ~30 MB here and nothing
//! else while it waits for forward references.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// A 128-bit key: a UUID's value, or the hash of a name's text.
type Key = [u64; 2];

/// A name's target: the resource type (an index into `types`) and its id.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Target {
    ty: u16,
    /// Length of the id in `ids`, or 0 when the id is the key's UUID in canonical text.
    id_len: u16,
    id_at: u32,
}

/// Names → `Type/id`, with the type names and ids that cannot be derived from the key.
#[derive(Default)]
pub(crate) struct NameTable {
    map: HashMap<Key, Target, foldhash::fast::RandomState>,
    types: Vec<Box<str>>,
    type_index: HashMap<Box<str>, u16>,
    ids: Vec<u8>,
    /// Seeds of the two hashes that key non-UUID names (random per run, so nobody can
    /// craft two names that collide).
    seeds: (
        foldhash::quality::RandomState,
        foldhash::quality::RandomState,
    ),
}

/// What [`NameTable::insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    New,
    /// The name already meant this resource.
    Same,
    /// The name already meant another resource; the table kept that one.
    Other,
}

impl NameTable {
    /// The key of a name: a `urn:uuid:` (or bare UUID) by value, anything else by hash.
    fn key(&self, name: &str) -> Key {
        let uuid = name.strip_prefix("urn:uuid:").unwrap_or(name);
        if uuid.len() == 36
            && let Ok(u) = uuid::Uuid::try_parse(uuid)
        {
            let (hi, lo) = u.as_u64_pair();
            return [hi, lo];
        }
        [
            self.seeds.0.hash_one(name),
            self.seeds.1.hash_one(name) ^ 0x8000_0000_0000_0000,
        ]
    }

    fn target(&mut self, key: &Key, ty: &str, id: &str) -> Target {
        let ty = match self.type_index.get(ty) {
            Some(i) => *i,
            None => {
                let i = u16::try_from(self.types.len()).unwrap_or(u16::MAX);
                self.types.push(ty.into());
                self.type_index.insert(ty.into(), i);
                i
            }
        };
        if uuid_text(key) == id {
            return Target {
                ty,
                id_len: 0,
                id_at: 0,
            };
        }
        let at = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.extend_from_slice(id.as_bytes());
        Target {
            ty,
            id_len: u16::try_from(id.len()).unwrap_or(0),
            id_at: at,
        }
    }

    /// Records that `name` means `ty/id`; the first meaning of a name stays. The caller
    /// passes only valid FHIR ids (at most 64 characters) and R4 type names.
    pub fn insert(&mut self, name: &str, ty: &str, id: &str) -> Inserted {
        let key = self.key(name);
        if let Some(t) = self.map.get(&key).copied() {
            let (t_ty, t_id) = self.text(&key, t);
            return if t_ty == ty && t_id == id {
                Inserted::Same
            } else {
                Inserted::Other
            };
        }
        let t = self.target(&key, ty, id);
        self.map.insert(key, t);
        Inserted::New
    }

    /// What `name` means, as `(type, id)`.
    pub fn get(&self, name: &str) -> Option<(&str, Cow<'_, str>)> {
        let key = self.key(name);
        let t = *self.map.get(&key)?;
        let (ty, id) = self.text(&key, t);
        Some((ty, id))
    }

    /// `Type/id` for `name`.
    pub fn reference(&self, name: &str) -> Option<String> {
        self.get(name).map(|(ty, id)| format!("{ty}/{id}"))
    }

    /// True when `name` has a meaning.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(&self.key(name))
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn text(&self, key: &Key, t: Target) -> (&str, Cow<'_, str>) {
        let ty = self.types.get(t.ty as usize).map_or("", |s| &**s);
        let id = if t.id_len == 0 {
            Cow::Owned(uuid_text(key))
        } else {
            let at = t.id_at as usize;
            let bytes = self.ids.get(at..at + t.id_len as usize).unwrap_or_default();
            String::from_utf8_lossy(bytes)
        };
        (ty, id)
    }
}

/// The canonical (lower-case, hyphenated) text of a UUID key.
fn uuid_text(key: &Key) -> String {
    uuid::Uuid::from_u64_pair(key[0], key[1])
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_never_forgets_and_rarely_imagines() {
        let mut s = Seen::default();
        assert!(!s.maybe("Patient", "a"));
        for i in 0..10_000 {
            s.insert("Observation", &i.to_string());
        }
        assert!((0..10_000).all(|i| s.maybe("Observation", &i.to_string())));
        let imagined = (10_000..20_000)
            .filter(|i| s.maybe("Observation", &i.to_string()))
            .count();
        assert!(imagined < 5, "{imagined} false positives");
    }

    #[test]
    fn uuids_and_other_names_resolve_to_their_resource() {
        let mut t = NameTable::default();
        let u = "urn:uuid:1ae0605d-e5b8-4d6d-a96d-c93dcbd57e06";
        assert_eq!(
            t.insert(u, "Patient", "1ae0605d-e5b8-4d6d-a96d-c93dcbd57e06"),
            Inserted::New
        );
        assert_eq!(
            t.insert(u, "Patient", "1ae0605d-e5b8-4d6d-a96d-c93dcbd57e06"),
            Inserted::Same
        );
        assert_eq!(t.insert(u, "Patient", "other"), Inserted::Other);
        assert_eq!(
            t.reference(u).as_deref(),
            Some("Patient/1ae0605d-e5b8-4d6d-a96d-c93dcbd57e06")
        );
        // Upper-case spelling of the same UUID is the same name.
        assert!(t.contains(&u.to_uppercase().replace("URN:UUID:", "urn:uuid:")));
        // A fullUrl naming a resource stored under a derived id.
        let v = "urn:uuid:00000000-0000-4000-8000-000000000001";
        t.insert(v, "Observation", "c0ffee");
        assert_eq!(t.reference(v).as_deref(), Some("Observation/c0ffee"));
        let url = "https://example.org/fhir/Patient/123";
        t.insert(url, "Patient", "123");
        assert_eq!(t.reference(url).as_deref(), Some("Patient/123"));
        assert!(!t.contains("https://example.org/fhir/Patient/124"));
    }
}

/// A Bloom filter of names: "certainly not seen" or "maybe seen", in a fixed 1 MiB (eight
/// million bits, seven probes: one false "maybe" in 400,000 at 200,000 names, one in four at
/// two million, where a "maybe" only costs the lookup it would have saved).
#[derive(Default)]
pub(crate) struct Seen {
    bits: Vec<u64>,
    seed: foldhash::quality::RandomState,
}

const SEEN_BITS: usize = 8 << 20;
const SEEN_PROBES: u64 = 7;

impl Seen {
    fn probes(&self, ty: &str, id: &str) -> impl Iterator<Item = usize> {
        let h = self.seed.hash_one((ty, id));
        let (a, b) = (h, h.rotate_left(32) | 1);
        (0..SEEN_PROBES).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) as usize) % SEEN_BITS)
    }

    /// Records `ty/id`.
    pub fn insert(&mut self, ty: &str, id: &str) {
        if self.bits.is_empty() {
            self.bits = vec![0; SEEN_BITS / 64];
        }
        for bit in self.probes(ty, id).collect::<Vec<_>>() {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// False only when `ty/id` was certainly never recorded.
    pub fn maybe(&self, ty: &str, id: &str) -> bool {
        !self.bits.is_empty()
            && self
                .probes(ty, id)
                .all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

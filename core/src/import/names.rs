//! The run's names for resources, held compactly: what `urn:uuid:…` and `fullUrl`
//! references mean, and which resources the run stored under another id.
//!
//! A transaction Bundle names every resource by a `fullUrl` (`urn:uuid:…` in Synthea, IPS
//! documents and most portals) and references them by that name, forward as often as
//! backward. Resolving needs only the map from name to `Type/id`, never the resources
//! themselves: 24 bytes a name (a UUID is its own 16-byte key; any other URL is keyed by a
//! 128-bit hash of its text), plus the id text where it differs from the UUID.
//!
//! The run's table ([`NameTable::forgetful`]) keeps the names the store could also answer —
//! `urn:uuid:X` for the resource whose id is `X` — only for the most recent
//! [`GENERATION`]–2×[`GENERATION`] resources (two generations, the older dropped when the newer
//! fills; a name seen again moves to the newer). References are local in real files (to the
//! same patient's Bundle, or to the shared practitioners each Bundle repeats); one to a name
//! dropped long ago is resolved by the writer against the store, where that resource is by
//! then. Names the store cannot answer (an absolute `fullUrl`, a `fullUrl` naming a resource
//! stored under another id) are kept for the whole run. So the table stays under ~3 MB for
//! inputs of any size, plus ~30 bytes for each of those rarer names.

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

/// Names kept per generation by a forgetful table (fills a 65,536-slot hash table).
pub(crate) const GENERATION: usize = 57_344;

type Map = HashMap<Key, Target, foldhash::fast::RandomState>;

/// Names → `Type/id`, with the type names and ids that cannot be derived from the key.
#[derive(Default)]
pub(crate) struct NameTable {
    /// Names the store could answer too (forgetful tables only): newer and older generation.
    recent: Map,
    older: Map,
    /// Every other name, for the whole run.
    map: Map,
    forgetful: bool,
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
    /// A table that drops the names the store can answer once they are old (see the module
    /// documentation); the default table keeps everything.
    pub fn forgetful() -> Self {
        NameTable {
            forgetful: true,
            ..Default::default()
        }
    }

    fn find(&self, key: &Key) -> Option<Target> {
        self.recent
            .get(key)
            .or_else(|| self.older.get(key))
            .or_else(|| self.map.get(key))
            .copied()
    }

    /// The key of a name: a `urn:uuid:` (or bare UUID) by value, anything else by hash.
    fn key(&self, name: &str) -> Key {
        uuid_key(name).unwrap_or_else(|| [self.seeds.0.hash_one(name), self.seeds.1.hash_one(name)])
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
        if let Some(t) = self.find(&key) {
            let (t_ty, t_id) = self.text(&key, t);
            if t_ty != ty || t_id != id {
                return Inserted::Other;
            }
            if let Some(t) = self.older.remove(&key) {
                self.remember(key, t);
            }
            return Inserted::Same;
        }
        let t = self.target(&key, ty, id);
        // `urn:uuid:X` naming the resource with id X: the store can answer it too.
        let answerable = t.id_len == 0 && uuid_key(name).is_some();
        if self.forgetful && answerable {
            self.remember(key, t);
        } else {
            self.map.insert(key, t);
        }
        Inserted::New
    }

    /// Puts a name the store can answer in the newer generation, retiring the older one
    /// when the newer is full.
    fn remember(&mut self, key: Key, t: Target) {
        if self.recent.len() >= GENERATION {
            self.older = std::mem::take(&mut self.recent);
            self.recent.reserve(GENERATION);
        }
        self.recent.insert(key, t);
    }

    /// What `name` means, as `(type, id)`.
    pub fn get(&self, name: &str) -> Option<(&str, Cow<'_, str>)> {
        let key = self.key(name);
        let t = self.find(&key)?;
        let (ty, id) = self.text(&key, t);
        Some((ty, id))
    }

    /// `Type/id` for `name`.
    pub fn reference(&self, name: &str) -> Option<String> {
        self.get(name).map(|(ty, id)| format!("{ty}/{id}"))
    }

    /// True when `name` has a meaning.
    pub fn contains(&self, name: &str) -> bool {
        self.find(&self.key(name)).is_some()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.recent.is_empty() && self.older.is_empty()
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

/// The key of a `urn:uuid:` or bare UUID name: its value.
fn uuid_key(name: &str) -> Option<Key> {
    let uuid = name.strip_prefix("urn:uuid:").unwrap_or(name);
    if uuid.len() != 36 {
        return None;
    }
    let (hi, lo) = uuid::Uuid::try_parse(uuid).ok()?.as_u64_pair();
    Some([hi, lo])
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
    fn a_forgetful_table_drops_only_old_names_the_store_can_answer() {
        let mut t = NameTable::forgetful();
        let name = |i: u64| format!("urn:uuid:{}", uuid::Uuid::from_u64_pair(i, 1));
        let id = |i: u64| uuid::Uuid::from_u64_pair(i, 1).to_string();
        t.insert("https://x.org/Patient/1", "Patient", "1");
        t.insert(&name(0), "Observation", "not-the-uuid");
        t.insert(&name(1), "Patient", &id(1));
        for i in 2..(3 * GENERATION as u64) {
            t.insert(&name(i), "Observation", &id(i));
            if i % 1000 == 0 {
                t.insert(&name(1), "Patient", &id(1)); // seen again: stays
            }
        }
        assert!(t.recent.len() + t.older.len() <= 2 * GENERATION);
        assert!(!t.contains(&name(2)), "an old answerable name is dropped");
        assert!(t.contains(&name(3 * GENERATION as u64 - 1)));
        assert_eq!(t.reference(&name(1)).unwrap(), format!("Patient/{}", id(1)));
        assert_eq!(
            t.reference(&name(0)).as_deref(),
            Some("Observation/not-the-uuid")
        );
        assert_eq!(
            t.reference("https://x.org/Patient/1").as_deref(),
            Some("Patient/1")
        );
    }

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

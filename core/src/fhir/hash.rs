//! The content hash that decides whether two versions of a resource are the same.
//!
//! SHA-256 over a canonical form: keys sorted, no whitespace, and without
//! `meta.versionId` / `meta.lastUpdated`, which every store rewrites. Two exports of the same
//! record from different stores therefore hash alike, so re-importing is a no-op. Everything
//! else in `meta` (source, tags, security labels) is content and counts.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;

/// 32-byte SHA-256 of a resource's canonical content.
pub type ContentHash = [u8; 32];

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The canonical content hash of a resource.
pub fn content_hash(resource: &Value) -> ContentHash {
    let mut w = HashWriter(Sha256::new());
    // Writing into a hasher cannot fail.
    let _ = write_canonical(resource, &mut w, true);
    w.0.finalize().into()
}

/// Lower-case hex of a hash, for display and the Provenance entity.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_volatile_meta(key: &str) -> bool {
    key == "versionId" || key == "lastUpdated"
}

fn write_canonical(v: &Value, w: &mut HashWriter, top: bool) -> std::io::Result<()> {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            w.write_all(b"{")?;
            let mut first = true;
            for k in keys {
                let val = &map[k];
                let val_owned;
                let val = if top && k == "meta" {
                    let Value::Object(meta) = val else {
                        continue;
                    };
                    let kept: serde_json::Map<String, Value> = meta
                        .iter()
                        .filter(|(mk, _)| !is_volatile_meta(mk))
                        .map(|(mk, mv)| (mk.clone(), mv.clone()))
                        .collect();
                    if kept.is_empty() {
                        continue;
                    }
                    val_owned = Value::Object(kept);
                    &val_owned
                } else {
                    val
                };
                if !first {
                    w.write_all(b",")?;
                }
                first = false;
                serde_json::to_writer(&mut *w, k)?;
                w.write_all(b":")?;
                write_canonical(val, w, false)?;
            }
            w.write_all(b"}")
        }
        Value::Array(items) => {
            w.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_canonical(item, w, false)?;
            }
            w.write_all(b"]")
        }
        other => serde_json::to_writer(&mut *w, other).map_err(std::io::Error::other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignores_key_order_whitespace_and_volatile_meta() {
        let a = json!({"resourceType": "Patient", "id": "1", "meta": {"versionId": "3", "lastUpdated": "2020-01-01T00:00:00Z"}, "active": true});
        let b: Value =
            serde_json::from_str(r#"{ "active" : true, "id":"1", "resourceType":"Patient" }"#)
                .unwrap();
        assert_eq!(content_hash(&a), content_hash(&b));
    }

    #[test]
    fn security_labels_and_values_count() {
        let a = json!({"resourceType": "Patient", "id": "1"});
        let b =
            json!({"resourceType": "Patient", "id": "1", "meta": {"security": [{"code": "R"}]}});
        let c = json!({"resourceType": "Patient", "id": "2"});
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(to_hex(&[0, 255]), "00ff");
    }
}

//! The content hash that decides whether two versions of a resource are the same.
//!
//! SHA-256 over a canonical form: keys sorted, no whitespace, and without
//! `meta.versionId` / `meta.lastUpdated`, which every store rewrites. Two exports of the same
//! record from different stores therefore hash alike, so re-importing is a no-op. Everything
//! else in `meta` (source, tags, security labels) is content and counts.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// 32-byte SHA-256 of a resource's canonical content.
pub type ContentHash = [u8; 32];

/// The canonical content hash of a resource. The canonical text is written into a buffer
/// kept per thread and hashed in one call (feeding SHA-256 token by token cost more than the
/// hashing itself).
pub fn content_hash(resource: &Value) -> ContentHash {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        write_canonical(resource, &mut buf, true);
        let hash = Sha256::digest(buf.as_slice()).into();
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new(); // a huge resource: do not keep its buffer
        }
        hash
    })
}

/// Lower-case hex of a hash, for display and the Provenance entity.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_volatile_meta(key: &str) -> bool {
    key == "versionId" || key == "lastUpdated"
}

/// Appends the canonical text of `v`: object keys sorted, no whitespace, and (at the top)
/// `meta` without its volatile members, or left out when nothing else is in it.
fn write_canonical(v: &Value, out: &mut Vec<u8>, top: bool) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            let mut first = true;
            for k in keys {
                let val = &map[k];
                if top && k == "meta" {
                    let Value::Object(meta) = val else {
                        continue;
                    };
                    let mut kept: Vec<&String> =
                        meta.keys().filter(|mk| !is_volatile_meta(mk)).collect();
                    if kept.is_empty() {
                        continue;
                    }
                    kept.sort_unstable();
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(b"\"meta\":{");
                    for (i, mk) in kept.into_iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_scalar(&Value::String(String::new()), out, Some(mk));
                        out.push(b':');
                        write_canonical(&meta[mk], out, false);
                    }
                    out.push(b'}');
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                write_scalar(&Value::Null, out, Some(k));
                out.push(b':');
                write_canonical(val, out, false);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out, false);
            }
            out.push(b']');
        }
        other => write_scalar(other, out, None),
    }
}

/// A scalar, or with `key` the key as a JSON string, as serde_json writes them.
fn write_scalar(v: &Value, out: &mut Vec<u8>, key: Option<&String>) {
    // Writing into a Vec cannot fail.
    let _ = match key {
        Some(k) => serde_json::to_writer(&mut *out, k),
        None => serde_json::to_writer(&mut *out, v),
    };
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

    /// Stored hashes decide whether a re-import changes anything: the canonical form must not
    /// drift. The expected value is Python's `json.dumps(sort_keys=True,
    /// separators=(',', ':'), ensure_ascii=False)` of the same resource without its volatile
    /// meta, hashed with SHA-256.
    #[test]
    fn the_canonical_form_is_pinned() {
        let r = json!({"resourceType": "Observation", "id": "o1",
            "meta": {"versionId": "3", "lastUpdated": "2020-01-01T00:00:00Z", "source": "x"},
            "status": "final", "code": {"text": "Zoë \"q\""},
            "valueQuantity": {"value": 72, "unit": "/min"}, "component": [{"b": true, "a": null}]});
        assert_eq!(
            to_hex(&content_hash(&r)),
            "00fcbfc6b8ba6acb4b71c08fc802348da01053d27faf1d936fd4e4360fe056f4"
        );
        let bare = json!({"resourceType": "Patient", "meta": {"versionId": "1"}});
        let none = json!({"resourceType": "Patient"});
        assert_eq!(content_hash(&bare), content_hash(&none));
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

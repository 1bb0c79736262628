//! Attachments whose bytes the store keeps apart from the resource.
//!
//! A DocumentReference's PDF or a Media's JPEG can be megabytes; stored inline (base64) it
//! would be copied into every version of the resource. On import the bytes move to the
//! store's content-addressed `document` table and the Attachment keeps a pointer: the
//! extension [`STORED_DOCUMENT_EXT`] with the SHA-256 of the bytes, replacing `data`. The
//! move is deterministic, so re-importing the same file still hashes alike. Exports put the
//! bytes back: inline `data` for NDJSON and Bundles, a file beside the `.phr` in a `.sphr`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Extension on an Attachment whose bytes are in the store's document table;
/// `valueString` is the lower-case hex SHA-256 of the bytes.
pub const STORED_DOCUMENT_EXT: &str = "https://phrkit.dev/fhir/StructureDefinition/stored-document";

/// Bytes taken out of a resource, to be stored once.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The Attachment's `contentType`, if given.
    pub content_type: Option<String>,
    /// The document itself.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Document({}, {:?}, {} bytes)",
            self.sha256,
            self.content_type,
            self.bytes.len()
        )
    }
}

/// Fetches the bytes a relative `url` names (inside a `.sphr` archive); `Err` is a message.
pub type Resolver<'a> = &'a dyn Fn(&str) -> Result<Option<Vec<u8>>, String>;

/// Calls `f` on every Attachment of the types that carry documents:
/// `DocumentReference.content[].attachment`, `Media.content`, `DiagnosticReport.presentedForm[]`.
pub fn for_each_attachment_mut(resource: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    let ty = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut visit = |v: Option<&mut Value>| {
        if let Some(Value::Object(att)) = v {
            f(att);
        }
    };
    match ty.as_str() {
        "DocumentReference" => {
            if let Some(Value::Array(content)) = resource.get_mut("content") {
                content
                    .iter_mut()
                    .for_each(|c| visit(c.get_mut("attachment")));
            }
        }
        "Media" => visit(resource.get_mut("content")),
        "DiagnosticReport" => {
            if let Some(Value::Array(forms)) = resource.get_mut("presentedForm") {
                forms.iter_mut().for_each(|a| visit(Some(a)));
            }
        }
        _ => {}
    }
}

/// True when `url` is relative (no scheme): a path inside the archive it came in.
pub fn is_relative_url(url: &str) -> bool {
    !url.contains(':')
}

/// Moves inline `data` (and, with a resolver, the content of relative `url`s) out of the
/// resource into [`Document`]s, leaving the stored-document extension. Data problems become
/// notes; a failing resolver (a corrupted archive) is an `Err`.
pub fn extract_documents(
    resource: &mut Value,
    resolve: Option<Resolver<'_>>,
    notes: &mut Vec<String>,
) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    let mut failure = None;
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("document")
        .to_string();
    for_each_attachment_mut(resource, |att| {
        if stored_document(att).is_some() || failure.is_some() {
            return;
        }
        let bytes = if let Some(Value::String(data)) = att.get("data") {
            let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
            match STANDARD.decode(compact) {
                Ok(b) => {
                    if let Err(what) = check_declared(att, &b) {
                        notes.push(format!(
                            "attachment data does not match its {what}; kept as sent"
                        ));
                    }
                    b
                }
                Err(_) => {
                    notes.push("attachment data is not valid base64; kept inline".into());
                    return;
                }
            }
        } else if let (Some(Value::String(url)), Some(resolve)) = (att.get("url"), resolve) {
            if !is_relative_url(url) {
                return;
            }
            match resolve(url) {
                Ok(Some(b)) => {
                    // Bytes from the archive must be the ones the (authenticated) record
                    // describes: a mismatch is a swapped or altered file, so the import stops.
                    if let Err(what) = check_declared(att, &b) {
                        failure = Some(format!(
                            "an attachment's file in the archive does not match its {what}: \
                             the archive was altered or is inconsistent; refused"
                        ));
                        return;
                    }
                    b
                }
                Ok(None) => {
                    notes.push(format!("attachment `{url}` is not in the archive"));
                    return;
                }
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            }
        } else {
            return;
        };
        let sha256 = crate::fhir::hash::to_hex(&Sha256::digest(&bytes));
        att.remove("data");
        let ext = json!({"url": STORED_DOCUMENT_EXT, "valueString": sha256});
        match att.get_mut("extension") {
            Some(Value::Array(list)) => list.push(ext),
            _ => {
                att.insert("extension".into(), json!([ext]));
            }
        }
        if !att.contains_key("size") {
            att.insert("size".into(), json!(bytes.len()));
        }
        if !att.contains_key("hash") {
            att.insert("hash".into(), json!(STANDARD.encode(Sha1::digest(&bytes))));
        }
        let content_type = att
            .get("contentType")
            .and_then(Value::as_str)
            .map(str::to_string);
        if !att.contains_key("title") {
            let from_url = att
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| is_relative_url(u));
            let title = match from_url
                .and_then(|u| u.rsplit('/').next())
                .filter(|n| !n.is_empty())
            {
                Some(name) => name.to_string(),
                None => document_file_name(&id, docs.len() + 1, content_type.as_deref()),
            };
            att.insert("title".into(), json!(title));
        }
        docs.push(Document {
            sha256,
            content_type,
            bytes,
        });
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(docs),
    }
}

/// Checks `bytes` against the Attachment's declared `size` and `hash`; `Err` names the one
/// that disagrees. `hash` is R4's base64 SHA-1; base64 or hex SHA-256 (written by some
/// national profiles) is recognised too, and a hash in no known form is not checked.
fn check_declared(att: &Map<String, Value>, bytes: &[u8]) -> Result<(), &'static str> {
    if let Some(size) = att.get("size").and_then(Value::as_u64)
        && size != bytes.len() as u64
    {
        return Err("size");
    }
    let Some(declared) = att.get("hash").and_then(Value::as_str) else {
        return Ok(());
    };
    let decoded = if declared.len() == 64 && declared.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&declared[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()
    } else {
        STANDARD.decode(declared.trim()).ok()
    };
    let matches = match decoded.as_deref() {
        Some(d) if d.len() == 20 => d == Sha1::digest(bytes).as_slice(),
        Some(d) if d.len() == 32 => d == Sha256::digest(bytes).as_slice(),
        _ => true,
    };
    if matches { Ok(()) } else { Err("hash") }
}

/// The SHA-256 an Attachment's stored-document extension names, if any.
pub fn stored_document(att: &Map<String, Value>) -> Option<String> {
    att.get("extension")?.as_array()?.iter().find_map(|e| {
        (e.get("url").and_then(Value::as_str) == Some(STORED_DOCUMENT_EXT))
            .then(|| {
                e.get("valueString")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .flatten()
    })
}

/// Removes the stored-document extension (and an `extension` array left empty).
pub fn remove_stored_extension(att: &mut Map<String, Value>) {
    if let Some(Value::Array(list)) = att.get_mut("extension") {
        list.retain(|e| e.get("url").and_then(Value::as_str) != Some(STORED_DOCUMENT_EXT));
        if list.is_empty() {
            att.remove("extension");
        }
    }
}

/// Cheap test on stored JSON text before parsing it (export asks it of every resource, so
/// the searcher is built once).
pub fn mentions_stored_documents(json: impl AsRef<[u8]>) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(STORED_DOCUMENT_EXT));
    FINDER.find(json.as_ref()).is_some()
}

/// The file name a `.sphr` gives the `n`-th (1-based) document of resource `id`.
pub fn document_file_name(id: &str, n: usize, content_type: Option<&str>) -> String {
    let suffix = if n > 1 {
        format!("-{n}")
    } else {
        String::new()
    };
    format!("{id}{suffix}.{}", extension_for(content_type))
}

/// A file extension for a media type.
pub fn extension_for(content_type: Option<&str>) -> &'static str {
    match content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
    {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/tiff" => "tif",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/xml" | "application/xml" => "xml",
        "application/json" | "application/fhir+json" => "json",
        "application/dicom" => "dcm",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_data_moves_out_and_is_deterministic() {
        let mut r = json!({"resourceType": "DocumentReference", "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0x"}}]});
        let mut notes = Vec::new();
        let docs = extract_documents(&mut r, None, &mut notes).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].bytes, b"%PDF-1");
        let att = r["content"][0]["attachment"].as_object().unwrap();
        assert!(att.get("data").is_none());
        assert_eq!(
            stored_document(att).as_deref(),
            Some(docs[0].sha256.as_str())
        );
        assert_eq!(att["size"], 6);
        let mut again = json!({"resourceType": "DocumentReference", "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0x"}}]});
        extract_documents(&mut again, None, &mut notes).unwrap();
        assert_eq!(r, again);
    }

    #[test]
    fn relative_urls_resolve_through_the_archive() {
        let mut r = json!({"resourceType": "Media", "status": "completed", "content": {"contentType": "image/jpeg", "url": "./xr.jpg"}});
        let resolve = |u: &str| -> Result<Option<Vec<u8>>, String> {
            Ok((u == "./xr.jpg").then(|| vec![0xFF, 0xD8]))
        };
        let mut notes = Vec::new();
        let docs = extract_documents(&mut r, Some(&resolve), &mut notes).unwrap();
        assert_eq!(docs[0].bytes, vec![0xFF, 0xD8]);
        let mut missing = json!({"resourceType": "Media", "content": {"url": "gone.jpg"}});
        assert!(
            extract_documents(&mut missing, Some(&resolve), &mut notes)
                .unwrap()
                .is_empty()
        );
        assert!(notes[0].contains("not in the archive"));
        let mut absolute =
            json!({"resourceType": "Media", "content": {"url": "https://x.org/a.jpg"}});
        assert!(
            extract_documents(&mut absolute, Some(&resolve), &mut notes)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn declared_size_and_hash_are_checked_in_every_known_form() {
        let bytes = b"%PDF-1";
        let sha1 = STANDARD.encode(Sha1::digest(bytes));
        let sha256 = Sha256::digest(bytes);
        let hex = crate::fhir::hash::to_hex(&sha256);
        let att = |v: Value| v.as_object().unwrap().clone();
        for good in [
            json!({"size": 6, "hash": sha1}),
            json!({"hash": STANDARD.encode(sha256)}),
            json!({"hash": hex}),
            json!({"hash": "not a hash"}),
            json!({}),
        ] {
            assert_eq!(check_declared(&att(good.clone()), bytes), Ok(()), "{good}");
        }
        assert_eq!(check_declared(&att(json!({"size": 7})), bytes), Err("size"));
        let other = STANDARD.encode(Sha1::digest(b"other"));
        assert_eq!(
            check_declared(&att(json!({"hash": other})), bytes),
            Err("hash")
        );

        // From an archive a mismatch stops the import; inline it is noted and kept.
        let resolve = |_: &str| -> Result<Option<Vec<u8>>, String> { Ok(Some(bytes.to_vec())) };
        let mut swapped = json!({"resourceType": "Media", "content": {"url": "a.pdf", "size": 7}});
        let mut notes = Vec::new();
        let err = extract_documents(&mut swapped, Some(&resolve), &mut notes).unwrap_err();
        assert!(err.contains("does not match its size"), "{err}");
        let mut inline =
            json!({"resourceType": "Media", "content": {"data": "JVBERi0x", "hash": other}});
        let docs = extract_documents(&mut inline, None, &mut notes).unwrap();
        assert_eq!(docs.len(), 1);
        assert!(notes.iter().any(|n| n.contains("does not match its hash")));
    }
}

//! Putting stored documents back into exported resources.
//!
//! Resources whose attachments point into the document table (see
//! [`crate::fhir::attachment`]) are the only ones an export parses and re-serialises: for
//! NDJSON and Bundles the bytes go back inline as `data`; inside a `.sphr` they become files
//! beside the `.phr`, referenced by a relative `url` with `contentType`, `size`, `hash`
//! (base64 SHA-1, as R4 defines `Attachment.hash`) and `title`.

use crate::error::Result;
use crate::fhir::attachment::{
    document_file_name, for_each_attachment_mut, is_relative_url, mentions_stored_documents,
    remove_stored_extension, stored_document,
};
use crate::store::Snapshot;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// Where exported documents go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Back into the resource as base64 `data`.
    Inline,
    /// As files under `documents/`, to be written beside the `.phr`.
    Files,
}

/// A document file a `.sphr` must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFile {
    /// Path relative to the `.phr` (`documents/<id>.<ext>`).
    pub path: String,
    /// SHA-256 (hex) of the bytes in the store.
    pub sha256: String,
}

/// Rewrites attachments of exported resources, remembering the files to write.
pub(crate) struct Attachments<'s> {
    snap: &'s Snapshot<'s>,
    mode: Mode,
    /// Files referenced so far (Files mode).
    pub files: Vec<DocumentFile>,
}

impl<'s> Attachments<'s> {
    pub fn new(snap: &'s Snapshot<'s>, mode: Mode) -> Self {
        Attachments {
            snap,
            mode,
            files: Vec::new(),
        }
    }

    /// The JSON to export for a stored resource: `None` when it is exported as stored.
    pub fn rewrite(&mut self, id: &str, json: &str) -> Result<Option<String>> {
        if !mentions_stored_documents(json) {
            return Ok(None);
        }
        let Ok(mut value) = serde_json::from_str::<Value>(json) else {
            return Ok(None);
        };
        let mut failure = None;
        let mut n = 0;
        for_each_attachment_mut(&mut value, |att| {
            let Some(sha) = stored_document(att) else {
                return;
            };
            let doc = match self.snap.document(&sha) {
                Ok(Some(doc)) => doc,
                Ok(None) => return,
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            };
            let (stored_type, bytes) = (doc.content_type, doc.bytes);
            remove_stored_extension(att);
            match self.mode {
                Mode::Inline => {
                    if att
                        .get("url")
                        .and_then(Value::as_str)
                        .is_some_and(is_relative_url)
                    {
                        att.remove("url");
                    }
                    att.insert("data".into(), json!(STANDARD.encode(&bytes)));
                }
                Mode::Files => {
                    n += 1;
                    let content_type = att
                        .get("contentType")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or(stored_type);
                    let path = format!(
                        "documents/{}",
                        document_file_name(id, n, content_type.as_deref())
                    );
                    if let Some(ct) = &content_type {
                        att.insert("contentType".into(), json!(ct));
                    }
                    att.remove("data");
                    att.insert("url".into(), json!(path));
                    att.insert("size".into(), json!(bytes.len()));
                    att.insert("hash".into(), json!(STANDARD.encode(Sha1::digest(&bytes))));
                    if !att.contains_key("title") {
                        att.insert("title".into(), json!(path.trim_start_matches("documents/")));
                    }
                    self.files.push(DocumentFile { path, sha256: sha });
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(Some(value.to_string()))
    }
}

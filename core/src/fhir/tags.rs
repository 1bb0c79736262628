//! The `meta.tag`s phrkit puts on the pages it adds to an export (the cover Composition and
//! the contents Lists), and how an importer recognises them: they describe an export, not
//! the record, so an import skips them. Here, below both, so export writes and import reads
//! the same codes.

use serde_json::Value;

/// `meta.tag` system phrkit puts on the pages of its exports.
pub const PHRKIT_TAG_SYSTEM: &str = "https://phrkit.dev/CodeSystem/tag";
/// `meta.tag` code of the cover Composition.
pub const EXPORT_COVER_TAG: &str = "export-cover";
/// `meta.tag` code of the contents Lists.
pub const EXPORT_CONTENTS_TAG: &str = "export-contents";

/// True for the pages phrkit adds to an export to describe it: the cover Composition and
/// the contents Lists.
pub(crate) fn is_export_page(value: &Value) -> bool {
    let code = match super::resource_type(value) {
        Some("Composition") => EXPORT_COVER_TAG,
        Some("List") => EXPORT_CONTENTS_TAG,
        _ => return false,
    };
    value
        .pointer("/meta/tag")
        .and_then(Value::as_array)
        .is_some_and(|tags| {
            tags.iter().any(|t| {
                t.get("system").and_then(Value::as_str) == Some(PHRKIT_TAG_SYSTEM)
                    && t.get("code").and_then(Value::as_str) == Some(code)
            })
        })
}

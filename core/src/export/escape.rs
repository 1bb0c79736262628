//! Writing ids and names into JSON text without a serializer: the writers build lines by
//! hand (faster than a `Value`), which is safe only for text that needs no escaping.

/// True when `s` needs no JSON escaping (what FHIR ids, type names and plain URLs are made
/// of), so it can be written between quotes as it is.
pub(crate) fn plain(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'/' | b':' | b'_' | b'~' | b'%')
    })
}

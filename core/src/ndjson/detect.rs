//! Input format detection.
//!
//! PHR files in circulation are NDJSON, pretty-printed or minified Bundles, single resources,
//! Bundles double-encoded as a JSON *string*, and zip archives. The first non-blank byte
//! narrows it down; for `{` the first line decides: if it parses alone it is NDJSON (a
//! one-line Bundle is also handled there, as a line), otherwise the stream is one JSON
//! document spread over many lines.

use std::io::{self, BufRead};

/// What kind of input a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Starts with `{`: NDJSON or one JSON object (decided by [`is_complete_json_line`]).
    JsonObject,
    /// Starts with `[`: a JSON array of resources.
    JsonArray,
    /// Starts with `"`: a JSON string whose content is FHIR JSON.
    JsonString,
    /// Starts with a zip local-file header (`PK\x03\x04`): a `.sphr` archive.
    Zip,
    /// Nothing but whitespace.
    Empty,
    /// Anything else.
    Unknown,
}

/// Peeks at the start of `reader` (consuming nothing) and classifies it.
pub fn detect<R: BufRead>(reader: &mut R) -> io::Result<Format> {
    let buf = reader.fill_buf()?;
    if buf.starts_with(b"PK\x03\x04") || buf.starts_with(b"PK\x05\x06") {
        return Ok(Format::Zip);
    }
    let body = buf.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(buf);
    Ok(match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Format::Empty,
        Some(b'{') => Format::JsonObject,
        Some(b'[') => Format::JsonArray,
        Some(b'"') => Format::JsonString,
        Some(_) => Format::Unknown,
    })
}

/// True when `line` is a complete JSON value on its own, or broken in a way that is not
/// "needs more input" — i.e. the stream is NDJSON and this line stands alone.
pub fn is_complete_json_line(line: &[u8]) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
        Ok(_) => true,
        Err(e) => !e.is_eof(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_first_byte() {
        let f = |s: &[u8]| detect(&mut io::BufReader::new(s)).unwrap();
        assert_eq!(f(b"\xEF\xBB\xBF  {\"a\":1}"), Format::JsonObject);
        assert_eq!(f(b"\n[ {} ]"), Format::JsonArray);
        assert_eq!(f(b"\"{\\\"a\\\":1}\""), Format::JsonString);
        assert_eq!(f(b"PK\x03\x04...."), Format::Zip);
        assert_eq!(f(b"  \n "), Format::Empty);
        assert_eq!(f(b"<xml/>"), Format::Unknown);
    }

    #[test]
    fn a_pretty_printed_first_line_needs_more_input() {
        assert!(!is_complete_json_line(b"{"));
        assert!(!is_complete_json_line(b"{ \"resourceType\": \"Bundle\","));
        assert!(is_complete_json_line(b"{\"resourceType\":\"Patient\"}"));
        assert!(
            is_complete_json_line(b"{\"a\":1}}"),
            "trailing junk is a broken line, not a document"
        );
    }
}

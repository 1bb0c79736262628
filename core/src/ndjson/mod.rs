//! Streaming NDJSON (`.phr`) reading with 1-based line numbers, and input format detection.
//!
//! [`LineReader`] yields one line at a time from any `BufRead`, so memory stays bounded by the
//! longest accepted line whatever the file size. It tolerates what real files carry: a UTF-8
//! BOM, LF, CRLF and old-Mac CR-only endings (JSON text cannot hold a raw CR or LF inside a
//! string, so a lone CR is always a line break), blank lines, a missing final newline. A line
//! longer than the configured maximum is skipped (its bytes are consumed, not stored) and
//! reported as [`Line::TooLong`]. [`detect`] decides whether a stream is NDJSON, a single JSON
//! document (Bundle or resource, possibly double-encoded as a JSON string) or a zip archive;
//! [`document`] streams such a document's resources one at a time; [`parse`] turns one
//! resource's bytes into a JSON tree within limits.

pub mod detect;
pub mod document;
pub mod parse;

use std::io::{self, BufRead};

/// Default maximum length of one NDJSON line or resource: 8 MiB. A resource with an inline
/// attachment of up to ~6 MB fits (base64 adds a third); bigger documents travel as files in a
/// `.sphr`. Reading, parsing and storing one such line costs about four times its size, so
/// this is what keeps an import of any file within a phone's 64 MB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// One non-blank line of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line's bytes, without the line ending or a leading BOM.
    Data {
        /// 1-based line number in the input.
        number: u64,
        /// The line's content.
        bytes: Vec<u8>,
    },
    /// A line longer than the maximum; its content was skipped.
    TooLong {
        /// 1-based line number in the input.
        number: u64,
        /// Its length in bytes.
        len: usize,
    },
}

/// True when `bytes` start `{"resourceType":"Bundle"`, whitespace allowed between the tokens
/// (`across_lines`: line breaks too, as in a pretty-printed document). Such a value is
/// streamed entry by entry ([`document::Scanner`]) rather than read or parsed whole.
pub fn starts_as_bundle(bytes: &[u8], across_lines: bool) -> bool {
    let mut rest = bytes;
    for token in [&b"{"[..], b"\"resourceType\"", b":", b"\"Bundle\""] {
        let skip = rest
            .iter()
            .position(|b| {
                !(matches!(b, b' ' | b'\t') || across_lines && matches!(b, b'\n' | b'\r'))
            })
            .unwrap_or(rest.len());
        match rest[skip..].strip_prefix(token) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

/// What [`LineReader::next_or_bundle`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A line, as the iterator gives it.
    Line(Line),
    /// A line that starts a Bundle, not read: stream it from [`LineReader::inner_mut`], then
    /// call [`LineReader::end_line`].
    Bundle {
        /// 1-based line number.
        number: u64,
    },
    /// The end of the input.
    End,
}

/// Iterator over the non-blank lines of an NDJSON stream.
pub struct LineReader<R> {
    inner: R,
    number: u64,
    max_len: usize,
    done: bool,
    /// The last line ended with CR: a LF right after it belongs to that line ending.
    after_cr: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Reads `inner` line by line, refusing lines longer than `max_len` bytes.
    pub fn new(inner: R, max_len: usize) -> Self {
        LineReader {
            inner,
            number: 0,
            max_len,
            done: false,
            after_cr: false,
        }
    }

    /// Continues numbering after `lines` lines already consumed elsewhere.
    pub fn starting_after(mut self, lines: u64) -> Self {
        self.number = lines;
        self
    }

    /// The next line, or — when a line starts a Bundle — its number without reading it, so a
    /// Bundle line of any length can be streamed entry by entry.
    pub fn next_or_bundle(&mut self) -> io::Result<Next> {
        loop {
            if self.done {
                return Ok(Next::End);
            }
            if std::mem::take(&mut self.after_cr) && self.inner.fill_buf()?.first() == Some(&b'\n')
            {
                self.inner.consume(1);
            }
            if self.number == 0 && self.inner.fill_buf()?.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.inner.consume(3);
            }
            let buf = self.inner.fill_buf()?;
            if starts_as_bundle(buf, false) {
                self.number += 1;
                return Ok(Next::Bundle {
                    number: self.number,
                });
            }
            // A blank line: skipped here, so the line after it is checked too.
            let blank = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t'))
                .filter(|&i| matches!(buf[i], b'\n' | b'\r'));
            if let Some(i) = blank {
                self.after_cr = buf[i] == b'\r';
                self.inner.consume(i + 1);
                self.number += 1;
                continue;
            }
            return match self.next() {
                None => Ok(Next::End),
                Some(Ok(line)) => Ok(Next::Line(line)),
                Some(Err(e)) => Err(e),
            };
        }
    }

    /// The reader, positioned where [`Next::Bundle`]'s line starts.
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// After a Bundle line was streamed from [`Self::inner_mut`]: reads past the rest of that
    /// line. Returns the number of bytes that were left on it (0 for a well-formed line).
    pub fn end_line(&mut self) -> io::Result<usize> {
        let mut rest = Vec::new();
        let len = self.read_physical(&mut rest)?.unwrap_or(0);
        if len == 0 {
            return Ok(0);
        }
        Ok(rest.iter().filter(|b| !b.is_ascii_whitespace()).count())
    }

    /// Reads one physical line into `buf` (up to the limit); returns its full length, or
    /// `None` at end of input.
    fn read_physical(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let mut total = 0usize;
        let mut saw_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(saw_any.then_some(total));
            }
            if std::mem::take(&mut self.after_cr) && chunk[0] == b'\n' {
                self.inner.consume(1);
                continue;
            }
            saw_any = true;
            let (take, found) = match memchr::memchr2(b'\n', b'\r', chunk) {
                Some(i) => {
                    self.after_cr = chunk[i] == b'\r';
                    (i, true)
                }
                None => (chunk.len(), false),
            };
            if total + take <= self.max_len {
                buf.extend_from_slice(&chunk[..take]);
            }
            total += take;
            self.inner.consume(take + usize::from(found));
            if found {
                return Ok(Some(total));
            }
        }
    }
}

impl<R: BufRead> Iterator for LineReader<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let mut buf = Vec::new();
            let len = match self.read_physical(&mut buf) {
                Ok(Some(len)) => len,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            self.number += 1;
            if len > self.max_len {
                return Some(Ok(Line::TooLong {
                    number: self.number,
                    len,
                }));
            }
            if self.number == 1 && buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                buf.drain(..3);
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(Line::Data {
                number: self.number,
                bytes: buf,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        LineReader::new(input, max).map(|l| l.unwrap()).collect()
    }

    #[test]
    fn numbers_lines_and_tolerates_bom_crlf_blank_lines() {
        let got = lines(b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}", 100);
        assert_eq!(
            got,
            vec![
                Line::Data {
                    number: 1,
                    bytes: b"{\"a\":1}".to_vec()
                },
                Line::Data {
                    number: 4,
                    bytes: b"{\"b\":2}".to_vec()
                },
            ]
        );
    }

    #[test]
    fn cr_only_and_mixed_line_endings_are_line_breaks() {
        let got = lines(b"{\"a\":1}\r{\"b\":2}\r\n{\"c\":3}\n\r\r{\"d\":4}", 100);
        let numbers: Vec<u64> = got
            .iter()
            .map(|l| match l {
                Line::Data { number, .. } => *number,
                Line::TooLong { number, .. } => *number,
            })
            .collect();
        assert_eq!(numbers, vec![1, 2, 3, 6]);
        // A CRLF split across reads is still one line ending.
        let reader = io::BufReader::with_capacity(8, &b"{\"a\":12}\r\n{\"b\":2}"[..]);
        let got: Vec<Line> = LineReader::new(reader, 100).map(|l| l.unwrap()).collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Line::Data { number: 2, .. }));
    }

    #[test]
    fn bundle_lines_are_announced_not_read() {
        let input = b"{\"a\":1}\n\n { \"resourceType\" : \"Bundle\", \"entry\": []} \n{\"b\":2}\n";
        let mut r = LineReader::new(&input[..], 10);
        assert!(matches!(
            r.next_or_bundle().unwrap(),
            Next::Line(Line::Data { number: 1, .. })
        ));
        assert_eq!(r.next_or_bundle().unwrap(), Next::Bundle { number: 3 });
        let mut value = Vec::new();
        r.inner_mut().read_until(b'}', &mut value).unwrap();
        assert_eq!(r.end_line().unwrap(), 0);
        assert!(matches!(
            r.next_or_bundle().unwrap(),
            Next::Line(Line::Data { number: 4, .. })
        ));
        assert_eq!(r.next_or_bundle().unwrap(), Next::End);
        assert!(starts_as_bundle(b"{\n  \"resourceType\": \"Bundle\"", true));
        assert!(!starts_as_bundle(
            b"{\n  \"resourceType\": \"Bundle\"",
            false
        ));
        assert!(!starts_as_bundle(b"{\"resourceType\":\"Bundles\"", false));
    }

    #[test]
    fn skips_overlong_lines_without_storing_them() {
        let input = format!("{}\n{{}}\n", "x".repeat(50));
        let got = lines(input.as_bytes(), 10);
        assert_eq!(got[0], Line::TooLong { number: 1, len: 50 });
        assert_eq!(
            got[1],
            Line::Data {
                number: 2,
                bytes: b"{}".to_vec()
            }
        );
    }

    #[test]
    fn long_lines_across_buffer_boundaries() {
        let long = "y".repeat(20_000);
        let input = format!("{long}\n{long}");
        let reader = io::BufReader::with_capacity(64, input.as_bytes());
        let got: Vec<Line> = LineReader::new(reader, 30_000)
            .map(|l| l.unwrap())
            .collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Line::Data { number: 2, bytes } if bytes.len() == 20_000));
    }
}

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
    bundle_start(bytes, across_lines) == Some(true)
}

/// [`starts_as_bundle`], or `None` when `bytes` end before it can tell (they are a proper
/// prefix of such a start).
fn bundle_start(bytes: &[u8], across_lines: bool) -> Option<bool> {
    let mut rest = bytes;
    for token in [&b"{"[..], b"\"resourceType\"", b":", b"\"Bundle\""] {
        let skip = rest
            .iter()
            .position(|b| {
                !(matches!(b, b' ' | b'\t') || across_lines && matches!(b, b'\n' | b'\r'))
            })
            .unwrap_or(rest.len());
        let r = &rest[skip..];
        if r.len() < token.len() {
            return if token.starts_with(r) {
                None
            } else {
                Some(false)
            };
        }
        match r.strip_prefix(token) {
            Some(r) => rest = r,
            None => return Some(false),
        }
    }
    Some(true)
}

/// How many bytes of a line [`LineReader::next_or_bundle`] looks at to tell a Bundle line or
/// a blank line from another line; at most this much is read ahead of the inner reader.
const LOOKAHEAD: usize = 4096;

/// What the start of a line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// It starts a Bundle.
    Bundle,
    /// Only spaces and tabs, then the line break at this index.
    Blank(usize),
    /// Anything else.
    Line,
}

/// Classifies a line from its first bytes; `None` when they cannot tell yet and more input
/// may follow (`complete` is false).
fn classify(start: &[u8], complete: bool) -> Option<Start> {
    let text = start
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .map(|i| (i, start[i]));
    match (text, bundle_start(start, false)) {
        (Some((i, b'\n' | b'\r')), _) => Some(Start::Blank(i)),
        (_, Some(true)) => Some(Start::Bundle),
        (Some(_), Some(false)) => Some(Start::Line),
        _ => complete.then_some(Start::Line),
    }
}

/// The bytes to read next: what was read ahead of `inner` first, then `inner`'s buffer.
fn fill<'a, R: BufRead>(
    ahead: &'a mut io::Cursor<Vec<u8>>,
    inner: &'a mut R,
) -> io::Result<&'a [u8]> {
    let at = usize::try_from(ahead.position()).unwrap_or(usize::MAX);
    if at < ahead.get_ref().len() {
        return Ok(&ahead.get_ref()[at..]);
    }
    if !ahead.get_ref().is_empty() {
        ahead.get_mut().clear();
        ahead.set_position(0);
    }
    inner.fill_buf()
}

/// Consumes `n` bytes of what [`fill`] returned.
fn consume<R: BufRead>(ahead: &mut io::Cursor<Vec<u8>>, inner: &mut R, n: usize) {
    let at = usize::try_from(ahead.position()).unwrap_or(usize::MAX);
    if at < ahead.get_ref().len() {
        ahead.consume(n);
    } else {
        inner.consume(n);
    }
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
    /// Bytes taken from `inner` to see how a line starts, not yet consumed: read before it.
    /// Holds at most [`LOOKAHEAD`] bytes, and only when `inner`'s buffer showed fewer.
    ahead: io::Cursor<Vec<u8>>,
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
            ahead: io::Cursor::new(Vec::new()),
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
    /// Bundle line of any length can be streamed entry by entry. What a line is depends on
    /// its first bytes only, never on where `inner`'s buffer happens to end: when the buffer
    /// shows too few to tell, up to [`LOOKAHEAD`] bytes are read ahead.
    pub fn next_or_bundle(&mut self) -> io::Result<Next> {
        loop {
            if self.done {
                return Ok(Next::End);
            }
            if std::mem::take(&mut self.after_cr)
                && fill(&mut self.ahead, &mut self.inner)?.first() == Some(&b'\n')
            {
                consume(&mut self.ahead, &mut self.inner, 1);
            }
            if self.number == 0 {
                self.read_ahead(3)?;
                if fill(&mut self.ahead, &mut self.inner)?.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    consume(&mut self.ahead, &mut self.inner, 3);
                }
            }
            match self.line_start()? {
                Start::Bundle => {
                    self.number += 1;
                    return Ok(Next::Bundle {
                        number: self.number,
                    });
                }
                // A blank line: skipped here, so the line after it is checked too.
                Start::Blank(i) => {
                    self.after_cr = fill(&mut self.ahead, &mut self.inner)?[i] == b'\r';
                    consume(&mut self.ahead, &mut self.inner, i + 1);
                    self.number += 1;
                }
                Start::Line => {
                    return match self.physical_line()? {
                        Physical::End => Ok(Next::End),
                        Physical::Blank => continue,
                        Physical::Line(line) => Ok(Next::Line(line)),
                    };
                }
            }
        }
    }

    /// How the next line starts, reading ahead as far as that takes.
    fn line_start(&mut self) -> io::Result<Start> {
        loop {
            let buf = fill(&mut self.ahead, &mut self.inner)?;
            let view = &buf[..buf.len().min(LOOKAHEAD)];
            if let Some(start) = classify(view, view.len() == LOOKAHEAD) {
                return Ok(start);
            }
            let shown = view.len();
            if !self.read_ahead(shown + 1)? {
                let buf = fill(&mut self.ahead, &mut self.inner)?;
                return Ok(classify(buf, true).unwrap_or(Start::Line));
            }
        }
    }

    /// Makes at least `want` bytes (at most [`LOOKAHEAD`]) readable at once, moving whole
    /// chunks of `inner`'s buffer into `ahead` (up to [`LOOKAHEAD`] in all); false when the
    /// input ends first.
    fn read_ahead(&mut self, want: usize) -> io::Result<bool> {
        let want = want.min(LOOKAHEAD);
        if fill(&mut self.ahead, &mut self.inner)?.len() >= want {
            return Ok(true);
        }
        let at = usize::try_from(self.ahead.position()).unwrap_or(usize::MAX);
        let mut kept = self.ahead.get_ref().get(at..).unwrap_or_default().to_vec();
        loop {
            let more = match self.inner.fill_buf() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if more.is_empty() {
                self.ahead = io::Cursor::new(kept);
                return Ok(false);
            }
            let n = more.len().min(LOOKAHEAD - kept.len());
            kept.extend_from_slice(&more[..n]);
            self.inner.consume(n);
            if kept.len() >= want {
                self.ahead = io::Cursor::new(kept);
                return Ok(true);
            }
        }
    }

    /// The reader, positioned where [`Next::Bundle`]'s line starts (what was read ahead
    /// first, then the inner reader).
    pub fn inner_mut(&mut self) -> io::Chain<&mut io::Cursor<Vec<u8>>, &mut R> {
        io::Read::chain(&mut self.ahead, &mut self.inner)
    }

    /// After a Bundle line was streamed from [`Self::inner_mut`]: reads past the rest of that
    /// line. Returns the number of bytes that were left on it (0 for a well-formed line).
    pub fn end_line(&mut self) -> io::Result<usize> {
        let mut text = 0;
        self.read_physical(&mut |chunk: &[u8]| {
            text += chunk.iter().filter(|b| !b.is_ascii_whitespace()).count();
        })?;
        Ok(text)
    }

    /// Reads one physical line, handing its content to `out` piece by piece; returns its
    /// full length, or `None` at end of input.
    fn read_physical(&mut self, out: &mut dyn FnMut(&[u8])) -> io::Result<Option<usize>> {
        let mut total = 0usize;
        let mut saw_any = false;
        loop {
            let chunk = match fill(&mut self.ahead, &mut self.inner) {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(saw_any.then_some(total));
            }
            if std::mem::take(&mut self.after_cr) && chunk[0] == b'\n' {
                consume(&mut self.ahead, &mut self.inner, 1);
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
            out(&chunk[..take]);
            total += take;
            consume(&mut self.ahead, &mut self.inner, take + usize::from(found));
            if found {
                return Ok(Some(total));
            }
        }
    }
}

/// One physical line, as [`LineReader::physical_line`] read it.
enum Physical {
    /// The input ended.
    End,
    /// Only whitespace.
    Blank,
    /// A line.
    Line(Line),
}

impl<R: BufRead> LineReader<R> {
    /// Reads one physical line (numbered, even when blank).
    fn physical_line(&mut self) -> io::Result<Physical> {
        let mut buf = Vec::new();
        let max = self.max_len;
        let mut seen = 0;
        let mut keep = |chunk: &[u8]| {
            // Past the limit nothing more is kept: the line is refused whole.
            seen += chunk.len();
            if seen <= max {
                buf.extend_from_slice(chunk);
            } else if !buf.is_empty() {
                buf = Vec::new();
            }
        };
        let len = match self.read_physical(&mut keep) {
            Ok(Some(len)) => len,
            Ok(None) => {
                self.done = true;
                return Ok(Physical::End);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.number += 1;
        if len > self.max_len {
            return Ok(Physical::Line(Line::TooLong {
                number: self.number,
                len,
            }));
        }
        if self.number == 1 && buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            buf.drain(..3);
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(Physical::Blank);
        }
        Ok(Physical::Line(Line::Data {
            number: self.number,
            bytes: buf,
        }))
    }
}

impl<R: BufRead> Iterator for LineReader<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            match self.physical_line() {
                Ok(Physical::End) => return None,
                Ok(Physical::Blank) => continue,
                Ok(Physical::Line(line)) => return Some(Ok(line)),
                Err(e) => return Some(Err(e)),
            }
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

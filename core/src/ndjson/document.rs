//! A whole-file JSON document (a Bundle, an array of resources, a resource, or any of those
//! double-encoded as a JSON string), read one resource at a time.
//!
//! Parsing a 10 MB transaction Bundle into one tree costs ~190 MB, and a hostile 15 MB Bundle
//! of five million empty entries several GB. [`Scanner`] never builds that tree: it walks the
//! document's structure byte by byte and hands out each resource's raw text (with the line it
//! starts on and its place, `Bundle.entry[12]`), which the import parses on its workers. Only
//! one resource is held at a time, and none longer than the configured maximum.
//!
//! A Bundle is streamed when its `resourceType` comes before `entry` (every exporter we know
//! writes it first, as do HL7's examples); otherwise the object is read whole, within the
//! same maximum, and expanded later. Bundles inside entries are streamed the same way, down
//! to [`MAX_BUNDLE_DEPTH`] Bundles deep: streaming recurses, and a file of Bundles nested
//! thousands deep (a few hundred KB) would overflow the reading thread's stack; deeper ones
//! are read whole like any resource, where the parser's own depth limit refuses them.
//! Anything else at the Bundle level (`type`, `link`, `signature`…) is skipped: the Bundle is
//! an envelope, the resources are the record. Several JSON values one after another
//! (concatenated pretty-printed resources) are read in turn.
//!
//! The scanner checks structure only as far as it needs to find where values end; the
//! resources it hands out are parsed in full (and their syntax errors reported) later.

use std::io::{self, BufRead, Read};

/// Longest `fullUrl`, `resourceType` or member name kept; longer ones are read past.
const MAX_SHORT_STRING: usize = 4096;

/// Most Bundles streamed inside one another (real files nest two or three: a document in a
/// collection); a Bundle deeper than this is captured whole instead.
pub const MAX_BUNDLE_DEPTH: usize = 32;

/// One resource (or what stood in its place) found in a document.
#[derive(Debug, PartialEq, Eq)]
pub struct Item {
    /// 1-based line where the resource starts.
    pub line: u64,
    /// Where it sits: `None` for the document itself, `Bundle.entry[3]`, `[2]`, …
    pub location: Option<String>,
    /// The enclosing Bundle entry's `fullUrl`.
    pub full_url: Option<String>,
    /// What was there.
    pub body: Body,
}

/// The content of an [`Item`].
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// The raw JSON text of one value (usually a resource object).
    Json(Vec<u8>),
    /// A Bundle entry without a resource object.
    Missing,
    /// A value longer than the maximum, read past: its length in bytes.
    TooLong(usize),
}

/// What stopped the reading of a document.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading the input failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The document is not well-formed JSON at this line; nothing after it was read.
    #[error("the JSON document is malformed at line {line}: expected {expected}")]
    Malformed {
        /// 1-based line of the problem.
        line: u64,
        /// What was expected there.
        expected: &'static str,
    },
}

/// Why scanning stopped early: an error, or the consumer asked to stop.
enum Stop {
    Error(ScanError),
    Sink,
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Error(ScanError::Io(e))
    }
}

type Flow<T> = Result<T, Stop>;

/// Receives each item; returns false to stop the scan.
pub type Sink<'a> = dyn FnMut(Item) -> bool + 'a;

/// Reads a document's resources one at a time; see the module documentation.
pub struct Scanner<R> {
    inner: R,
    line: u64,
    /// Line numbers are counted (not inside one NDJSON line or a double-encoded document).
    count_lines: bool,
    max_item: usize,
    after_cr: bool,
    /// Bundles being streamed around the current position.
    depth: usize,
}

/// Where a resource-level value ended up.
enum Captured {
    Bytes(Vec<u8>),
    TooLong(usize),
    /// A Bundle whose entries were handed out one by one.
    Streamed,
    /// A Bundle entry without a resource object.
    Missing,
}

/// The bytes of a value being captured, up to a limit (then only counted).
struct Keep {
    buf: Vec<u8>,
    len: usize,
    limit: usize,
}

impl Keep {
    fn new(limit: usize) -> Self {
        Keep {
            buf: Vec::new(),
            len: 0,
            limit,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.len += bytes.len();
        if self.len <= self.limit {
            self.buf.extend_from_slice(bytes);
        } else if !self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// The decoded string, when the kept bytes are a short JSON string.
    fn short_string(&self) -> Option<String> {
        (self.len <= MAX_SHORT_STRING)
            .then(|| serde_json::from_slice::<String>(&self.buf).ok())
            .flatten()
    }

    fn finish(self) -> Captured {
        if self.len <= self.limit {
            Captured::Bytes(self.buf)
        } else {
            Captured::TooLong(self.len)
        }
    }
}

impl<R: BufRead> Scanner<R> {
    /// A scanner at the start of `inner`, numbering lines from `first_line`; no value longer
    /// than `max_item` bytes is held.
    pub fn new(inner: R, first_line: u64, max_item: usize) -> Self {
        Scanner {
            inner,
            line: first_line,
            count_lines: true,
            max_item,
            after_cr: false,
            depth: 0,
        }
    }

    /// Every item gets the first line (a document inside one NDJSON line).
    pub fn on_one_line(mut self) -> Self {
        self.count_lines = false;
        self
    }

    /// The line the scanner has reached.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The reader, positioned after what was scanned.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Hands every resource of the input to `sink`, in order, until the input ends or `sink`
    /// returns false. A JSON string holding a document is decoded on the fly and read the
    /// same way.
    pub fn scan(&mut self, sink: &mut Sink<'_>) -> Result<(), ScanError> {
        match self.values(sink) {
            Ok(()) | Err(Stop::Sink) => Ok(()),
            Err(Stop::Error(e)) => Err(e),
        }
    }

    /// Hands the resources of the next JSON value only to `sink` (a Bundle on one NDJSON
    /// line); the reader is left right after it.
    pub fn scan_one(&mut self, sink: &mut Sink<'_>) -> Result<(), ScanError> {
        match self.value(sink) {
            Ok(_) | Err(Stop::Sink) => Ok(()),
            Err(Stop::Error(e)) => Err(e),
        }
    }

    fn values(&mut self, sink: &mut Sink<'_>) -> Flow<()> {
        while self.value(sink)? {}
        Ok(())
    }

    /// One top-level value; false at the end of the input.
    fn value(&mut self, sink: &mut Sink<'_>) -> Flow<bool> {
        self.skip_ws()?;
        let line = self.line;
        match self.peek()? {
            None => return Ok(false),
            Some(b'{') => {
                let c = self.resource_value(None, sink)?;
                emit(sink, line, None, None, c)?;
            }
            Some(b'[') => self.array(sink)?,
            Some(b'"') => self.encoded_document(sink)?,
            Some(_) => return Err(self.malformed("a JSON object, array or string")),
        }
        Ok(true)
    }

    /// A JSON string whose content is a document: decoded on the fly and scanned in turn.
    fn encoded_document(&mut self, sink: &mut Sink<'_>) -> Flow<()> {
        self.bump()?;
        let line = self.line;
        let max = self.max_item;
        let content: Box<dyn BufRead + '_> = Box::new(io::BufReader::new(StringContent {
            inner: &mut self.inner,
            done: false,
            pending: Vec::new(),
        }));
        let mut nested = Scanner::new(content, line, max).on_one_line();
        let result = nested.values(sink);
        // Read to the closing quote, so what follows the string is scanned next.
        let drained = io::copy(&mut nested.inner, &mut io::sink());
        result?;
        drained?;
        Ok(())
    }

    fn array(&mut self, sink: &mut Sink<'_>) -> Flow<()> {
        self.bump()?;
        let mut i = 0usize;
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.bump()?;
            return Ok(());
        }
        loop {
            self.skip_ws()?;
            let line = self.line;
            let location = format!("[{i}]");
            let c = if self.peek()? == Some(b'{') {
                self.resource_value(Some(&location), sink)?
            } else {
                self.capture()?
            };
            emit(sink, line, Some(location), None, c)?;
            i += 1;
            if !self.next_in(b']')? {
                return Ok(());
            }
        }
    }

    /// At the `{` of something that may be a Bundle: streams its entries if its first member
    /// says it is one, else captures the whole object.
    fn resource_value(&mut self, location: Option<&str>, sink: &mut Sink<'_>) -> Flow<Captured> {
        self.bump()?;
        let mut keep = Keep::new(self.max_item);
        keep.push(b"{");
        self.skip_ws()?;
        if self.peek()? == Some(b'}') {
            self.bump()?;
            keep.push(b"}");
            return Ok(keep.finish());
        }
        let key = self.string(self.max_item)?;
        self.colon()?;
        keep.push(&key.buf);
        keep.push(b":");
        if key.short_string().as_deref() == Some("resourceType") && self.peek()? == Some(b'"') {
            let value = self.string(self.max_item)?;
            if value.short_string().as_deref() == Some("Bundle") && self.depth < MAX_BUNDLE_DEPTH {
                self.depth += 1;
                let streamed = self.bundle_members(location.unwrap_or("Bundle"), sink);
                self.depth -= 1;
                streamed?;
                return Ok(Captured::Streamed);
            }
            keep.push(&value.buf);
        } else {
            self.raw_value(&mut keep, 0)?;
        }
        // The rest of the object, raw: we are one level deep inside it.
        self.raw_value(&mut keep, 1)?;
        Ok(keep.finish())
    }

    /// The members of a Bundle after its `resourceType`: entries streamed, the rest skipped.
    fn bundle_members(&mut self, prefix: &str, sink: &mut Sink<'_>) -> Flow<()> {
        while self.next_in(b'}')? {
            self.skip_ws()?;
            let key = self.string(MAX_SHORT_STRING)?.short_string();
            self.colon()?;
            if key.as_deref() == Some("entry") && self.peek()? == Some(b'[') {
                self.entries(prefix, sink)?;
            } else {
                self.skip_value()?;
            }
        }
        Ok(())
    }

    fn entries(&mut self, prefix: &str, sink: &mut Sink<'_>) -> Flow<()> {
        self.bump()?;
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.bump()?;
            return Ok(());
        }
        let mut i = 0usize;
        loop {
            self.skip_ws()?;
            let location = format!("{prefix}.entry[{i}]");
            if self.peek()? == Some(b'{') {
                self.entry(location, sink)?;
            } else {
                let line = self.line;
                self.skip_value()?;
                emit(sink, line, Some(location), None, Captured::Missing)?;
            }
            i += 1;
            if !self.next_in(b']')? {
                return Ok(());
            }
        }
    }

    /// One entry object: its `fullUrl` and its `resource` (itself streamed if a Bundle).
    fn entry(&mut self, location: String, sink: &mut Sink<'_>) -> Flow<()> {
        let entry_line = self.line;
        self.bump()?;
        let mut full_url = None;
        let mut resource: Option<(u64, Captured)> = None;
        self.skip_ws()?;
        let mut more = if self.peek()? == Some(b'}') {
            self.bump()?;
            false
        } else {
            true
        };
        while more {
            self.skip_ws()?;
            let key = self.string(MAX_SHORT_STRING)?.short_string();
            self.colon()?;
            let line = self.line;
            match key.as_deref() {
                Some("fullUrl") if self.peek()? == Some(b'"') => {
                    full_url = self.string(MAX_SHORT_STRING)?.short_string();
                }
                Some("resource") if self.peek()? == Some(b'{') => {
                    let nested = format!("{location}.resource");
                    resource = Some((line, self.resource_value(Some(&nested), sink)?));
                }
                Some("resource") => resource = Some((line, self.capture()?)),
                _ => self.skip_value()?,
            }
            more = self.next_in(b'}')?;
        }
        match resource {
            Some((_, Captured::Streamed)) => Ok(()),
            Some((line, c)) => emit(sink, line, Some(location), full_url, c),
            None => emit(
                sink,
                entry_line,
                Some(location),
                full_url,
                Captured::Missing,
            ),
        }
    }

    // ---- tokens ----

    fn malformed(&self, expected: &'static str) -> Stop {
        Stop::Error(ScanError::Malformed {
            line: self.line,
            expected,
        })
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.inner.fill_buf()?.first().copied())
    }

    /// Consumes one byte.
    fn bump(&mut self) -> io::Result<Option<u8>> {
        let b = self.peek()?;
        if let Some(b) = b {
            self.count(&[b]);
            self.inner.consume(1);
        }
        Ok(b)
    }

    /// Counts the line breaks in `bytes`, which were just consumed.
    fn count(&mut self, bytes: &[u8]) {
        if self.count_lines {
            count_breaks(bytes, &mut self.line, &mut self.after_cr);
        }
    }

    fn skip_ws(&mut self) -> io::Result<()> {
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            let n = chunk
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(chunk.len());
            let all = n == chunk.len();
            if self.count_lines {
                count_breaks(&chunk[..n], &mut self.line, &mut self.after_cr);
            }
            self.inner.consume(n);
            if !all {
                return Ok(());
            }
        }
    }

    fn colon(&mut self) -> Flow<()> {
        self.skip_ws()?;
        if self.bump()? != Some(b':') {
            return Err(self.malformed("`:` after a member name"));
        }
        self.skip_ws()?;
        Ok(())
    }

    /// After a member or element: true at `,` (another follows), false at `close`.
    fn next_in(&mut self, close: u8) -> Flow<bool> {
        self.skip_ws()?;
        match self.bump()? {
            Some(b',') => Ok(true),
            Some(b) if b == close => Ok(false),
            _ => Err(self.malformed(if close == b'}' {
                "`,` or `}` in an object"
            } else {
                "`,` or `]` in an array"
            })),
        }
    }

    /// A string's raw text (quotes included), kept up to `limit` bytes.
    fn string(&mut self, limit: usize) -> Flow<Keep> {
        if self.peek()? != Some(b'"') {
            return Err(self.malformed("a string"));
        }
        let mut keep = Keep::new(limit);
        self.raw_value(&mut keep, 0)?;
        Ok(keep)
    }

    fn capture(&mut self) -> Flow<Captured> {
        let mut keep = Keep::new(self.max_item);
        self.raw_value(&mut keep, 0)?;
        Ok(keep.finish())
    }

    fn skip_value(&mut self) -> Flow<()> {
        let mut keep = Keep::new(0);
        self.raw_value(&mut keep, 0)
    }

    /// Copies one value's raw text into `keep` — or, with `depth` 1, the rest of the object
    /// or array the scanner is inside, through its closing bracket.
    fn raw_value(&mut self, keep: &mut Keep, depth: usize) -> Flow<()> {
        let mut depth = depth;
        let mut in_string = false;
        let mut escaped = false;
        let mut scalar = false;
        let mut started = depth > 0;
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                if scalar {
                    return Ok(());
                }
                return Err(self.malformed("the rest of a value (the input ends inside it)"));
            }
            let mut i = 0;
            let mut end = None;
            let mut bad = None;
            while i < chunk.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr3(b'"', b'\\', b'\n', &chunk[i..]) {
                        None => i = chunk.len(),
                        Some(j) if chunk[i + j] == b'\n' => {
                            // JSON strings cannot hold a raw line break: the line was cut.
                            bad = Some((i + j, "a string closed on its own line"));
                            break;
                        }
                        Some(j) if chunk[i + j] == b'\\' => {
                            escaped = true;
                            i += j + 1;
                        }
                        Some(j) => {
                            in_string = false;
                            i += j + 1;
                            if depth == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                    }
                    continue;
                }
                let b = chunk[i];
                if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        end = Some(i);
                        break;
                    }
                    i += 1;
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\n' | b'\r' if !started => {}
                    b'}' | b']' | b',' | b':' if depth == 0 => {
                        bad = Some((i, "a value"));
                        break;
                    }
                    _ if depth == 0 => scalar = true,
                    _ => {}
                }
                started = true;
                i += 1;
            }
            let n = bad.map_or(end.unwrap_or(chunk.len()), |(at, _)| at);
            keep.push(&chunk[..n]);
            if self.count_lines {
                count_breaks(&chunk[..n], &mut self.line, &mut self.after_cr);
            }
            self.inner.consume(n);
            if let Some((_, expected)) = bad {
                return Err(self.malformed(expected));
            }
            if end.is_some() {
                return Ok(());
            }
        }
    }
}

/// Counts LF, CRLF and lone CR line breaks in `bytes` (`after_cr`: the byte before was CR).
fn count_breaks(bytes: &[u8], line: &mut u64, after_cr: &mut bool) {
    let mut from = 0;
    while let Some(i) = memchr::memchr2(b'\n', b'\r', &bytes[from..]) {
        let at = from + i;
        if bytes[at] == b'\r' {
            *line += 1;
            *after_cr = true;
        } else {
            if !(*after_cr && i == 0) {
                *line += 1;
            }
            *after_cr = false;
        }
        from = at + 1;
    }
    if from < bytes.len() {
        *after_cr = false;
    }
}

fn emit(
    sink: &mut Sink<'_>,
    line: u64,
    location: Option<String>,
    full_url: Option<String>,
    c: Captured,
) -> Flow<()> {
    let body = match c {
        Captured::Bytes(b) => Body::Json(b),
        Captured::TooLong(n) => Body::TooLong(n),
        Captured::Missing => Body::Missing,
        Captured::Streamed => return Ok(()),
    };
    let item = Item {
        line,
        location,
        full_url,
        body,
    };
    if sink(item) { Ok(()) } else { Err(Stop::Sink) }
}

/// The decoded content of a JSON string, as a byte stream (ends at the closing quote).
struct StringContent<'r, R> {
    inner: &'r mut R,
    done: bool,
    /// Decoded bytes of an escape not yet handed out.
    pending: Vec<u8>,
}

impl<R: BufRead> StringContent<'_, R> {
    fn byte(&mut self) -> io::Result<u8> {
        let b = self.inner.fill_buf()?.first().copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "the JSON string ends early")
        })?;
        self.inner.consume(1);
        Ok(b)
    }

    fn hex4(&mut self) -> io::Result<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = (self.byte()? as char).to_digit(16).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a bad \\u escape in a JSON string",
                )
            })?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn escape(&mut self) -> io::Result<()> {
        let b = match self.byte()? {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'b' => 8,
            b'f' => 12,
            b'u' => {
                let mut cp = self.hex4()?;
                if (0xD800..0xDC00).contains(&cp) && self.byte()? == b'\\' && self.byte()? == b'u' {
                    let low = self.hex4()?;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                }
                let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
                let mut tmp = [0u8; 4];
                self.pending
                    .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                return Ok(());
            }
            other => other,
        };
        self.pending.push(b);
        Ok(())
    }
}

impl<R: BufRead> Read for StringContent<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(out.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the JSON string ends early",
                ));
            }
            match memchr::memchr2(b'"', b'\\', chunk) {
                Some(0) if chunk[0] == b'"' => {
                    self.inner.consume(1);
                    self.done = true;
                }
                Some(0) => {
                    self.inner.consume(1);
                    self.escape()?;
                }
                found => {
                    let n = found.unwrap_or(chunk.len()).min(out.len());
                    out[..n].copy_from_slice(&chunk[..n]);
                    self.inner.consume(n);
                    return Ok(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, max: usize) -> Result<Vec<Item>, ScanError> {
        let mut items = Vec::new();
        let mut s = Scanner::new(io::BufReader::with_capacity(7, text.as_bytes()), 1, max);
        s.scan(&mut |i| {
            items.push(i);
            true
        })?;
        Ok(items)
    }

    fn json(item: &Item) -> serde_json::Value {
        match &item.body {
            Body::Json(b) => serde_json::from_slice(b).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streams_a_pretty_printed_bundle_entry_by_entry_with_lines_and_full_urls() {
        let text = "{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"transaction\",\n  \"entry\": [\n    {\n      \"fullUrl\": \"urn:uuid:1\",\n      \"resource\": {\"resourceType\": \"Patient\", \"id\": \"p\", \"name\": [{\"text\": \"a \\\"q\\\" }]\"}]}\n    },\n    {\"request\": {\"method\": \"POST\"}},\n    {\"resource\": {\"resourceType\": \"Observation\"}, \"fullUrl\": \"urn:uuid:2\"}\n  ]\n}\n";
        let items = scan(text, 1000).unwrap();
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[0].line, 7);
        assert_eq!(items[0].location.as_deref(), Some("Bundle.entry[0]"));
        assert_eq!(items[0].full_url.as_deref(), Some("urn:uuid:1"));
        assert_eq!(json(&items[0])["name"][0]["text"], "a \"q\" }]");
        assert_eq!(items[1].body, Body::Missing);
        assert_eq!(items[1].location.as_deref(), Some("Bundle.entry[1]"));
        assert_eq!(items[2].full_url.as_deref(), Some("urn:uuid:2"));
        assert_eq!(items[2].line, 10);
    }

    #[test]
    fn nested_bundles_stream_too_and_other_objects_come_whole() {
        let text = r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"a"}}]}}]}
{"id":"x","resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}}]}
[{"resourceType":"Patient","id":"b"}, 42, {"resourceType":"Bundle","entry":[{"resource":{}}]}]"#;
        let items = scan(text, 1000).unwrap();
        let locations: Vec<_> = items.iter().map(|i| i.location.as_deref()).collect();
        assert_eq!(
            locations,
            vec![
                Some("Bundle.entry[0].resource.entry[0]"),
                None,
                Some("[0]"),
                Some("[1]"),
                Some("[2].entry[0]"),
            ]
        );
        assert_eq!(
            json(&items[1])["entry"][0]["resource"]["resourceType"],
            "Patient"
        );
        assert_eq!(json(&items[3]), serde_json::json!(42));
        assert_eq!(items[2].line, 3);
    }

    #[test]
    fn millions_of_empty_entries_are_streamed_not_held() {
        let n = 200_000;
        let mut text = String::from(r#"{"resourceType":"Bundle","entry":["#);
        text.push_str(&vec!["{}"; n].join(","));
        text.push_str("]}");
        let mut count = 0;
        let mut s = Scanner::new(text.as_bytes(), 1, 100);
        s.scan(&mut |i| {
            assert_eq!(i.body, Body::Missing);
            count += 1;
            true
        })
        .unwrap();
        assert_eq!(count, n);
    }

    #[test]
    fn a_resource_over_the_limit_is_measured_not_kept() {
        let big = format!(
            r#"{{"resourceType":"Binary","data":"{}"}}"#,
            "A".repeat(5000)
        );
        let text = format!(
            r#"{{"resourceType":"Bundle","entry":[{{"resource":{big}}},{{"resource":{{"resourceType":"Patient"}}}}]}}"#
        );
        let items = scan(&text, 1000).unwrap();
        assert_eq!(items[0].body, Body::TooLong(big.len()));
        assert!(matches!(items[1].body, Body::Json(_)));
    }

    #[test]
    fn a_double_encoded_bundle_is_decoded_on_the_fly() {
        let inner = r#"{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:9","resource":{"resourceType":"Patient","name":[{"text":"Zoë \"Z\""}]}}]}"#;
        let text = serde_json::to_string(inner).unwrap();
        let items = scan(&text, 1000).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].full_url.as_deref(), Some("urn:uuid:9"));
        assert_eq!(json(&items[0])["name"][0]["text"], "Zoë \"Z\"");
    }

    #[test]
    fn broken_documents_stop_with_the_line() {
        for (text, line) in [
            ("[", 1),
            ("{\"resourceType\":\"Bundle\",\n\"entry\":[{}", 2),
            ("{\"resourceType\":\"Bundle\",\"entry\":[}]}", 1),
            ("\n\nnot json", 3),
            ("{\"resourceType\" \"Bundle\"}", 1),
        ] {
            match scan(text, 1000) {
                Err(ScanError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn cr_only_line_endings_count_as_lines() {
        let text = "{\"resourceType\":\"Bundle\",\r\"entry\":[\r{\"resource\":{\"resourceType\":\"Patient\"}},\r\n{\"resource\":{\"resourceType\":\"Patient\"}}]}";
        let items = scan(text, 1000).unwrap();
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), vec![3, 4]);
    }
}

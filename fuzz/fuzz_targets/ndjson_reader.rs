//! The streaming readers of `ndjson` on arbitrary bytes: format detection, the NDJSON line
//! reader (`LineReader`, with its Bundle-line look-ahead), the document scanner (`Scanner`:
//! Bundles, arrays, concatenated and double-encoded documents) and the bounded resource
//! parser (`parse::parse`).
//!
//! Checks, besides "never panics":
//! - reading through a tiny buffer (1–17 bytes, so every token straddles a refill) gives
//!   exactly what reading through a large one gives: lines, items, errors and line numbers;
//! - no line or item held is longer than the limit, line numbers only grow;
//! - when `serde_json` accepts the whole input as an array or object that holds no Bundle,
//!   the scanner hands out each element (or the object) unchanged, and accepts the document;
//! - `parse::parse` agrees with `serde_json` on every value it is given, except that it
//!   refuses repeated member names and more values than its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phrkit::ndjson::document::{Body, Item, Scanner};
use phrkit::ndjson::parse::{ParseError, parse};
use phrkit::ndjson::{Line, LineReader, Next, detect::detect};
use serde_json::Value;
use std::io::{BufRead, BufReader};

/// Values `parse` may build per item here: small, so the limit is reached often.
const MAX_VALUES: usize = 2_000;

/// One thing the line reader produced.
#[derive(Debug, PartialEq)]
enum Event {
    Data(u64, Vec<u8>),
    TooLong(u64, usize),
    /// A Bundle line: its number, the items streamed from it, how the scan ended, and how
    /// much text `end_line` found after it.
    Bundle(u64, Vec<Item>, String, usize),
    Error(String),
}

/// Everything the line reader produced, through a buffer of `cap` bytes.
fn read_lines(data: &[u8], cap: usize, max: usize) -> Vec<Event> {
    let mut out = Vec::new();
    let mut lines = LineReader::new(BufReader::with_capacity(cap, data), max);
    let mut last = 0;
    loop {
        match lines.next_or_bundle() {
            Ok(Next::End) => break,
            Ok(Next::Line(Line::Data { number, bytes })) => {
                assert!(number > last, "line numbers must grow");
                assert!(bytes.len() <= max, "a line over the limit was kept");
                assert!(!bytes.contains(&b'\n') && !bytes.contains(&b'\r'));
                last = number;
                out.push(Event::Data(number, bytes));
            }
            Ok(Next::Line(Line::TooLong { number, len })) => {
                assert!(number > last && len > max);
                last = number;
                out.push(Event::TooLong(number, len));
            }
            Ok(Next::Bundle { number }) => {
                assert!(number > last);
                last = number;
                let mut items = Vec::new();
                let mut scanner = Scanner::new(lines.inner_mut(), number, max).on_one_line();
                let r = scanner.scan_one(&mut |item| {
                    items.push(item);
                    true
                });
                let r = format!("{r:?}");
                match lines.end_line() {
                    Ok(rest) => out.push(Event::Bundle(number, items, r, rest)),
                    Err(e) => {
                        out.push(Event::Error(e.to_string()));
                        break;
                    }
                }
            }
            Err(e) => {
                out.push(Event::Error(e.to_string()));
                break;
            }
        }
    }
    out
}

/// The scanner's items and final result (as text, for comparison).
fn scan(data: &[u8], cap: usize, max: usize) -> (Vec<Item>, String) {
    let mut items = Vec::new();
    let mut scanner = Scanner::new(BufReader::with_capacity(cap, data), 1, max);
    let r = scanner.scan(&mut |item| {
        items.push(item);
        true
    });
    (items, format!("{r:?} at {}", scanner.line()))
}

/// `parse` against `serde_json` on one value's text.
fn compare_parsers(bytes: &[u8]) -> Option<Value> {
    let ours = parse(bytes, MAX_VALUES);
    let theirs = serde_json::from_slice::<Value>(bytes);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "parse and serde_json disagree"),
        (Ok(_), Err(e)) => panic!("parse accepted what serde_json refuses: {e}"),
        (Err(ParseError::Syntax(m)), Ok(_)) => panic!("parse refused valid JSON: {m}"),
        _ => {}
    }
    ours.ok()
}

/// Whether `v` is, or holds at its top level, something the scanner streams.
fn holds_bundle(v: &Value) -> bool {
    let is_bundle = |v: &Value| v.get("resourceType").and_then(Value::as_str) == Some("Bundle");
    match v {
        Value::Array(items) => items.iter().any(is_bundle),
        other => is_bundle(other),
    }
}

fuzz_target!(|data: &[u8]| {
    let cap = 1 + data.len() % 17;
    let max = if data.len() % 2 == 0 { 1 << 20 } else { 64 };

    let _ = detect(&mut BufReader::with_capacity(cap, data));
    let mut small = BufReader::with_capacity(cap, data);
    let _ = small.fill_buf();

    assert_eq!(
        read_lines(data, cap, max),
        read_lines(data, 1 << 16, max),
        "the line reader depends on the buffer size"
    );

    let (items, result) = scan(data, cap, max);
    let (big_items, big_result) = scan(data, 1 << 16, max);
    assert_eq!(items, big_items, "the scanner depends on the buffer size");
    assert_eq!(result, big_result, "the scanner depends on the buffer size");

    let mut last = 0;
    for item in &items {
        assert!(item.line >= last, "item lines must not go back");
        last = item.line;
        match &item.body {
            Body::Json(bytes) => {
                assert!(bytes.len() <= max, "an item over the limit was kept");
                compare_parsers(bytes);
            }
            Body::TooLong(n) => assert!(*n > max),
            Body::Missing => {}
        }
    }

    // A document serde_json reads, holding no Bundle, comes out element by element.
    let Ok(whole) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if holds_bundle(&whole) || max < data.len() {
        return;
    }
    let expected: Vec<&Value> = match &whole {
        Value::Array(elements) => elements.iter().collect(),
        Value::Object(_) => vec![&whole],
        _ => return,
    };
    assert!(result.starts_with("Ok"), "valid JSON refused: {result}");
    assert_eq!(items.len(), expected.len(), "items lost or added");
    for (item, want) in items.iter().zip(expected) {
        let Body::Json(bytes) = &item.body else {
            panic!("{:?} for a plain value", item.body)
        };
        if let Some(got) = compare_parsers(bytes) {
            assert_eq!(&got, want, "the scanner changed a value");
        }
    }
});

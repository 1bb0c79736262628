//! What the NDJSON reader makes of a line never depends on where the reader's buffer ends
//! (found by the `ndjson_reader` fuzz target, which reads every input through a 1–17 byte
//! buffer and a 64 KiB one and compares): a Bundle line is streamed, a blank line skipped
//! and text after a Bundle reported, however the bytes arrive.

mod common;

use common::store;
use phrkit::ImportOptions;
use phrkit::import::ImportSource;
use phrkit::ndjson::document::Scanner;
use phrkit::ndjson::{Line, LineReader, Next};
use phrkit::progress::NoProgress;
use std::io::{BufReader, Read};

/// A one-line Bundle of `n` Patients.
fn bundle_line(n: usize) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"fullUrl":"urn:uuid:{i:08}-0000-4000-8000-000000000000","resource":{{"resourceType":"Patient","id":"p{i}","name":[{{"family":"Doe"}}]}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{}]}}"#,
        entries.join(",")
    )
}

/// What `next_or_bundle` reports for each line, streaming Bundle lines.
fn shapes(input: &[u8], capacity: usize, max: usize) -> Vec<String> {
    let mut lines = LineReader::new(BufReader::with_capacity(capacity, input), max);
    let mut out = Vec::new();
    loop {
        match lines.next_or_bundle().expect("read") {
            Next::End => return out,
            Next::Line(Line::Data { number, .. }) => out.push(format!("{number}: line")),
            Next::Line(Line::TooLong { number, .. }) => out.push(format!("{number}: too long")),
            Next::Bundle { number } => {
                let mut items = 0;
                Scanner::new(lines.inner_mut(), number, max)
                    .on_one_line()
                    .scan_one(&mut |_| {
                        items += 1;
                        true
                    })
                    .expect("scan");
                let rest = lines.end_line().expect("end of line");
                out.push(format!("{number}: bundle of {items}, {rest} bytes after"));
            }
        }
    }
}

#[test]
fn a_bundle_line_is_streamed_whatever_the_buffer_shows_of_its_start() {
    let input = format!("{{\"a\":1}}\n   \n{}\n{{\"b\":2}}\n", bundle_line(3));
    let expected = vec!["1: line", "3: bundle of 3, 0 bytes after", "4: line"];
    for capacity in [1, 2, 5, 7, 13, 64, 1 << 16] {
        assert_eq!(
            shapes(input.as_bytes(), capacity, 100),
            expected,
            "capacity {capacity}"
        );
    }
}

#[test]
fn text_after_a_bundle_is_counted_even_past_the_line_limit() {
    let input = format!("{} {}\n", bundle_line(1), "x".repeat(500));
    for capacity in [3, 1 << 16] {
        assert_eq!(
            shapes(input.as_bytes(), capacity, 100),
            vec!["1: bundle of 1, 500 bytes after"],
            "capacity {capacity}"
        );
    }
}

/// A reader that hands out a few bytes per call, as a network stream may.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(5);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn a_bundle_line_longer_than_the_limit_imports_from_a_trickling_stream() {
    let text = format!("{}\n", bundle_line(4));
    let opts = ImportOptions {
        max_line_bytes: 200,
        ..ImportOptions::default()
    };
    assert!(text.len() > 2 * opts.max_line_bytes);
    let (_dir, s) = store();
    let source = ImportSource::from_reader("trickle.phr", Trickle(text.as_bytes()), None);
    let report = s.import(vec![source], &opts, &NoProgress).expect("import");
    assert_eq!(report.totals().created, 4, "{}", report.summary());
    assert_eq!(report.unreadable_lines, 0, "{}", report.summary());
}

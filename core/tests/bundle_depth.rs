//! Bundles nested inside Bundles are streamed only so deep (found by the `ndjson_reader`
//! fuzz target): streaming recurses, and 2,000 nested Bundles (92 KB) overflowed the
//! reading thread's stack and aborted the whole app. Deeper ones are read whole, like any
//! resource, and refused by the parser's depth limit as one unreadable resource.

mod common;

use common::store;
use phrkit::ImportOptions;
use phrkit::import::ImportSource;
use phrkit::ndjson::document::{Body, MAX_BUNDLE_DEPTH, Scanner};
use phrkit::progress::NoProgress;

/// `depth` Bundles, each the only entry of the one around it, around a Patient.
fn nested(depth: usize) -> String {
    let open = r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":"#;
    let patient = r#"{"resourceType":"Patient","id":"deep"}"#;
    format!("{}{patient}{}", open.repeat(depth), "}]}".repeat(depth))
}

#[test]
fn bundles_nested_thousands_deep_do_not_overflow_the_stack() {
    let text = nested(10_000);
    // A small stack, as on a phone's background thread: the scan must not recurse per level.
    let items = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut items = Vec::new();
            let result = Scanner::new(text.as_bytes(), 1, 1 << 20).scan(&mut |item| {
                items.push(item);
                true
            });
            assert!(result.is_ok(), "{result:?}");
            items
        })
        .expect("spawn")
        .join()
        .expect("the scan finished");
    assert_eq!(
        items.len(),
        1,
        "the Bundle past the depth limit is one item"
    );
    let location = items[0].location.as_deref().unwrap_or_default();
    // Streamed down to the limit: the last streamed Bundle's entry holds the deeper one.
    assert_eq!(location.matches(".resource").count(), MAX_BUNDLE_DEPTH - 1);
    assert!(matches!(items[0].body, Body::Json(_)));
}

#[test]
fn importing_bundles_nested_thousands_deep_reports_one_unreadable_resource() {
    let (_dir, s) = store();
    let source = ImportSource::from_bytes("deep.json", nested(10_000).into_bytes());
    let report = s
        .import(vec![source], &ImportOptions::default(), &NoProgress)
        .expect("import");
    assert_eq!(report.totals().created, 0, "{}", report.summary());
    assert_eq!(report.error_count(), 1, "{}", report.summary());
}

#[test]
fn bundles_nested_up_to_the_limit_are_still_streamed() {
    let (_dir, s) = store();
    let source = ImportSource::from_bytes("deep.json", nested(MAX_BUNDLE_DEPTH).into_bytes());
    let report = s
        .import(vec![source], &ImportOptions::default(), &NoProgress)
        .expect("import");
    assert_eq!(report.totals().created, 1, "{}", report.summary());
    assert!(s.get("Patient", "deep").expect("get").is_some());
}

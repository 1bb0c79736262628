//! The FHIR date parser (`fhir::date::parse_fhir_date`) on arbitrary text.
//!
//! Checks that it never panics or overflows, that every range it returns is non-empty
//! (`start < end`) and one of the widths a precision allows, that a start inside years
//! 0001–9999 survives `format_instant` and parses back to itself, and that the validator's
//! calendar check (`has_valid_calendar_day`) never refuses a value the parser accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phrkit::fhir::date::{format_instant, parse_fhir_date};
use phrkit::fuzzing::has_valid_calendar_day;

/// Milliseconds of one day.
const DAY: i64 = 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let calendar_ok = has_valid_calendar_day(text);
    let Ok(range) = parse_fhir_date(text) else {
        return;
    };
    assert!(range.start < range.end, "{text:?}: empty range {range:?}");
    let width = range.end - range.start;
    let widths_ok = match text.len() {
        4 => width == 365 * DAY || width == 366 * DAY,
        7 => (28..=31).contains(&(width / DAY)) && width % DAY == 0,
        10 => width == DAY,
        _ => width == 1 || width == 1_000 || width == 60_000,
    };
    assert!(widths_ok, "{text:?}: width {width} ms");
    assert!(calendar_ok, "{text:?} parses but fails the calendar check");
    // The instant's text is itself a FHIR instant covering exactly that millisecond.
    let min = parse_fhir_date("0001").map(|r| r.start).unwrap_or(i64::MIN);
    let max = parse_fhir_date("9999").map(|r| r.end).unwrap_or(i64::MAX);
    if (min..max).contains(&range.start) {
        let instant = format_instant(range.start);
        let back = parse_fhir_date(&instant);
        assert_eq!(
            back.map(|r| (r.start, r.end - r.start)),
            Ok((range.start, 1)),
            "{text:?} → {instant}"
        );
    }
});

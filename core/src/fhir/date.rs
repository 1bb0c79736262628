//! FHIR partial dates as half-open UTC ranges of epoch milliseconds.
//!
//! FHIR `date`, `dateTime` and `instant` values carry their own precision:
//! `2020` means "some time in 2020", `2020-03-04T10:15:00Z` means "that
//! second". Rather than pick one instant and lose that information, every
//! value becomes the range `[start, end)` it covers, so "does this record fall
//! in the export window?" is a plain overlap test on two `i64` pairs that
//! SQLite can index. The trade-off is that a value no longer round-trips to
//! its original text: callers keep the JSON for that.
//!
//! Dates without a time (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) carry no zone in
//! FHIR, so they are read as UTC calendar days. Guessing the phone's zone
//! would make the same record fall in different windows on different
//! devices; a consistent choice is worth more than a guess that may be off by
//! a few hours at day boundaries. FHIR requires a zone whenever a time is
//! given; a missing zone is tolerated here and read as UTC, as is
//! minute precision (`YYYY-MM-DDThh:mm`), because real exports contain both.
//!
//! Calendar arithmetic uses the proleptic-Gregorian day-count formulas
//! (H. Hinnant's `days_from_civil`), which are exact and cannot fail; the
//! `time` crate validates calendar dates and supplies the clock.

use thiserror::Error;

/// End of an open-ended range (a Period with a start and no end).
pub const OPEN_END: i64 = i64::MAX;

/// Start of a range with no known beginning (a Period with only an end).
pub const OPEN_START: i64 = i64::MIN;

const MS_PER_DAY: i64 = 86_400_000;

/// A half-open range `[start, end)` of epoch milliseconds (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    /// First millisecond inside the range.
    pub start: i64,
    /// First millisecond after the range; [`OPEN_END`] if open-ended.
    pub end: i64,
}

impl DateRange {
    /// True when the two ranges share at least one millisecond.
    pub fn overlaps(&self, other: &DateRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// From the start of `start` to the end of `end` (each a parsed partial date, either
    /// open), or `None` when neither is given: a search's or an export's clinical-date filter.
    pub fn spanning(start: Option<DateRange>, end: Option<DateRange>) -> Option<DateRange> {
        (start.is_some() || end.is_some()).then(|| DateRange {
            start: start.map_or(i64::MIN, |s| s.start),
            end: end.map_or(i64::MAX, |e| e.end),
        })
    }

    /// The smallest range covering both `self` and `other`.
    pub fn union(self, other: DateRange) -> DateRange {
        DateRange {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Why a string is not a FHIR date, dateTime or instant.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateError {
    /// The input was the empty string.
    #[error("empty date")]
    Empty,
    /// The input does not have the shape of a FHIR date/dateTime/instant.
    #[error("not a FHIR date: {0:?}")]
    Malformed(String),
    /// The shape is right but a field is out of range (month 13, Feb 30, ...).
    #[error("date field out of range: {0:?}")]
    OutOfRange(String),
}

/// Parses a FHIR `date`, `dateTime` or `instant` at any precision into the
/// UTC range it covers.
///
/// Year, month and day precision cover the whole UTC period; `hh:mm` covers
/// one minute, `hh:mm:ss` one second, and a fractional second one
/// millisecond (digits past the third are truncated). Offsets are applied,
/// so `2020-01-01T00:30:00+01:00` starts at `2019-12-31T23:30Z`.
pub fn parse_fhir_date(s: &str) -> Result<DateRange, DateError> {
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let bad = || DateError::Malformed(excerpt(s));
    let out_of_range = || DateError::OutOfRange(excerpt(s));
    let mut cur = Cursor {
        b: s.as_bytes(),
        pos: 0,
    };

    let year = cur.digits(4).ok_or_else(bad)?;
    if !(1..=9999).contains(&year) {
        return Err(out_of_range());
    }
    if cur.done() {
        return Ok(days_range(
            days_from_civil(year, 1, 1),
            days_from_civil(year + 1, 1, 1),
        ));
    }
    cur.expect(b'-').ok_or_else(bad)?;
    let month = cur.digits(2).ok_or_else(bad)?;
    if !(1..=12).contains(&month) {
        return Err(out_of_range());
    }
    if cur.done() {
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        return Ok(days_range(
            days_from_civil(year, month, 1),
            days_from_civil(ny, nm, 1),
        ));
    }
    cur.expect(b'-').ok_or_else(bad)?;
    let day = cur.digits(2).ok_or_else(bad)?;
    if !is_calendar_date(year, month, day) {
        return Err(out_of_range());
    }
    let day_start = days_from_civil(year, month, day);
    if cur.done() {
        return Ok(days_range(day_start, day_start + 1));
    }

    cur.expect(b'T').ok_or_else(bad)?;
    let hour = cur.digits(2).ok_or_else(bad)?;
    cur.expect(b':').ok_or_else(bad)?;
    let minute = cur.digits(2).ok_or_else(bad)?;
    let (second, millis, width) = if cur.eat(b':') {
        let second = cur.digits(2).ok_or_else(bad)?;
        if cur.eat(b'.') {
            (second, cur.fraction_ms().ok_or_else(bad)?, 1)
        } else {
            (second, 0, 1_000)
        }
    } else {
        (0, 0, 60_000)
    };
    if hour > 23 || minute > 59 || second > 59 {
        return Err(out_of_range());
    }
    let offset_min = cur.zone().ok_or_else(bad)?;
    if !(-14 * 60..=14 * 60).contains(&offset_min) {
        return Err(out_of_range());
    }
    if !cur.done() {
        return Err(bad());
    }
    let start =
        day_start * MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1_000 + millis
            - offset_min * 60_000;
    Ok(DateRange {
        start,
        end: start + width,
    })
}

/// Formats epoch milliseconds as an RFC 3339 UTC instant with milliseconds,
/// e.g. `2020-06-30T23:59:59.999Z` (the shape of `meta.lastUpdated`).
///
/// Values outside years 0001–9999 are clamped to that range so the output
/// is always a valid FHIR instant.
pub fn format_instant(ms: i64) -> String {
    let min = days_from_civil(1, 1, 1) * MS_PER_DAY;
    let max = days_from_civil(10_000, 1, 1) * MS_PER_DAY - 1;
    let ms = ms.clamp(min, max);
    let (days, in_day) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

/// The current time as epoch milliseconds (UTC).
pub fn now_ms() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(OPEN_END)
}

/// A range of whole UTC days `[first_day, end_day)`, as days since the epoch.
fn days_range(first_day: i64, end_day: i64) -> DateRange {
    DateRange {
        start: first_day * MS_PER_DAY,
        end: end_day * MS_PER_DAY,
    }
}

/// True unless `value` starts `YYYY-MM-DD` with a day its month does not have (`2021-02-29`,
/// `2020-04-31`). For values that already match a FHIR date, dateTime or instant pattern,
/// whose fields are otherwise in range.
pub(crate) fn has_valid_calendar_day(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return true;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { value.get(r)?.parse().ok() };
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => is_calendar_date(y, m, d),
        _ => true,
    }
}

/// True when `year-month-day` exists in the Gregorian calendar.
fn is_calendar_date(year: i64, month: i64, day: i64) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(year), u8::try_from(month), u8::try_from(day))
    else {
        return false;
    };
    time::Month::try_from(m).is_ok_and(|m| time::Date::from_calendar_date(y, m, d).is_ok())
}

/// Days since 1970-01-01 of a proleptic-Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The start of the input, for error messages that stay short.
fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A byte cursor over ASCII input; every method returns `None` on mismatch.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.pos == self.b.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.pos) == Some(&c);
        self.pos += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let chunk = self.b.get(self.pos..self.pos + n)?;
        if !chunk.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(
            chunk
                .iter()
                .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    }

    /// One or more fraction digits, read as milliseconds (truncated).
    fn fraction_ms(&mut self) -> Option<i64> {
        let len = self.b[self.pos..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if len == 0 {
            return None;
        }
        let ms = (0..3).fold(0, |acc, i| {
            let digit = if i < len {
                self.b[self.pos + i] - b'0'
            } else {
                0
            };
            acc * 10 + i64::from(digit)
        });
        self.pos += len;
        Some(ms)
    }

    /// `Z`, `+hh:mm`, `-hh:mm` or nothing (read as UTC), in minutes east.
    fn zone(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.done() {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else {
            self.expect(b'-')?;
            -1
        };
        let hours = self.digits(2)?;
        self.expect(b':')?;
        let minutes = self.digits(2)?;
        (minutes <= 59).then_some(sign * (hours * 60 + minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};

    /// Independent oracle: the `time` crate's RFC 3339 parser.
    fn at(rfc3339: &str) -> i64 {
        let dt = OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap();
        i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap()
    }

    /// Midnight UTC starting the given `YYYY-MM-DD`.
    fn day(ymd: &str) -> i64 {
        at(&format!("{ymd}T00:00:00Z"))
    }

    fn range(s: &str) -> (i64, i64) {
        let r = parse_fhir_date(s).unwrap();
        (r.start, r.end)
    }

    #[test]
    fn year_month_day_precision() {
        assert_eq!(range("2020"), (day("2020-01-01"), day("2021-01-01")));
        assert_eq!(range("2020-02"), (day("2020-02-01"), day("2020-03-01")));
        assert_eq!(range("2020-12"), (day("2020-12-01"), day("2021-01-01")));
        assert_eq!(range("2020-12-31"), (day("2020-12-31"), day("2021-01-01")));
        assert_eq!(range("1970-01-01"), (0, MS_PER_DAY));
        assert_eq!(range("1969-12-31"), (-MS_PER_DAY, 0));
        assert_eq!(range("0001").0, day("0001-01-01"));
        assert_eq!(range("9999").1, day("9999-12-31") + MS_PER_DAY);
    }

    #[test]
    fn leap_years() {
        assert_eq!(range("2020-02-29"), (day("2020-02-29"), day("2020-03-01")));
        assert_eq!(range("2000-02"), (day("2000-02-01"), day("2000-03-01")));
        assert_eq!(range("1900-02").1 - range("1900-02").0, 28 * MS_PER_DAY);
        assert!(parse_fhir_date("2024-02-29").is_ok());
        assert!(parse_fhir_date("1900-02-29").is_err());
        assert!(parse_fhir_date("2021-02-29").is_err());
    }

    #[test]
    fn date_times_and_offsets() {
        let t = at("2020-03-04T10:15:30Z");
        assert_eq!(range("2020-03-04T10:15:30Z"), (t, t + 1_000));
        assert_eq!(range("2020-03-04T10:15:30+00:00"), (t, t + 1_000));
        assert_eq!(range("2020-03-04T10:15:30"), (t, t + 1_000));
        let m = at("2020-03-04T10:15:00Z");
        assert_eq!(range("2020-03-04T10:15"), (m, m + 60_000));
        assert_eq!(range("2020-03-04T10:15Z"), (m, m + 60_000));
        let east = range("2020-01-01T00:30:00+01:00").0;
        assert_eq!(east, at("2019-12-31T23:30:00Z"));
        let west = range("2019-12-31T23:00:00-06:30").0;
        assert_eq!(west, at("2020-01-01T05:30:00Z"));
        let far_east = range("2020-01-01T00:00:00+14:00").0;
        assert_eq!(far_east, at("2019-12-31T10:00:00Z"));
    }

    #[test]
    fn fractions() {
        let t = at("2020-06-30T23:59:59Z");
        assert_eq!(range("2020-06-30T23:59:59.999Z"), (t + 999, t + 1_000));
        assert_eq!(range("2020-06-30T23:59:59.5Z"), (t + 500, t + 501));
        assert_eq!(
            range("2020-06-30T23:59:59.12345678+00:00"),
            (t + 123, t + 124)
        );
        assert_eq!(range("2020-06-30T23:59:59.000Z"), (t, t + 1));
    }

    #[test]
    fn rejects() {
        let bad = "2020-13|2020-00|2020-02-30|2021-02-29|2020-04-31|2020-01-00|0000|10000|\
            2020-01-01T25:00:00Z|2020-01-01T10:60:00Z|2020-01-01T10:00:61Z|2020-1-01|\
            2020-01-01T10:00:00+15:00|2020-01-01T10:00:00+01:60|2020-01-01T10:00:00+0100|\
            garbage|20200101|2020-01-01T|2020-01-01T10|2020-01-01T10:00:00.Z|2020-|+2020|\
            2020-01-01T10:00:00ZZ|2020-01-01 10:00:00Z| 2020|2020 |２０２０|2020-01-01T10:00z";
        for s in bad.split('|') {
            assert!(parse_fhir_date(s).is_err(), "accepted {s:?}");
        }
        assert_eq!(parse_fhir_date(""), Err(DateError::Empty));
        assert!(matches!(
            parse_fhir_date("2020-13"),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_fhir_date("junk"),
            Err(DateError::Malformed(_))
        ));
        let msg = parse_fhir_date(&"9".repeat(200)).unwrap_err().to_string();
        assert!(msg.len() < 80, "{msg}");
    }

    #[test]
    fn range_ops() {
        let a = DateRange { start: 0, end: 10 };
        let b = DateRange { start: 10, end: 20 };
        let open = DateRange {
            start: 5,
            end: OPEN_END,
        };
        assert!(!a.overlaps(&b) && !b.overlaps(&a));
        assert!(a.overlaps(&open) && b.overlaps(&open));
        assert_eq!(a.union(b), DateRange { start: 0, end: 20 });
        assert_eq!(b.union(a), DateRange { start: 0, end: 20 });
    }

    #[test]
    fn format_round_trips() {
        for s in [
            "2020-06-30T23:59:59.999Z",
            "2000-02-29T12:00:00.000Z",
            "1600-03-01T00:00:00.001Z",
        ] {
            assert_eq!(format_instant(range(s).0), s);
        }
        assert_eq!(format_instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_instant(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_instant(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_instant(i64::MIN), "0001-01-01T00:00:00.000Z");
        let now = now_ms();
        assert_eq!(range(&format_instant(now)).0, now);
    }
}

//! The generator's clock: seconds in the patient's local time, civil dates and their text.
//!
//! Times are `i64` seconds since 1970-01-01 in a fixed, DST-free local time; the UTC
//! offset is only appended when printing, so within one patient timestamps sort as text.
//! "Today" is a constant, never the system clock, to keep the output deterministic.

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;
/// Seconds in an average Gregorian year (365.2425 days).
pub(super) const YEAR: i64 = 31_556_952;
/// "Today" for every generated record: 2026-11-01, midnight.
pub(super) const TODAY: i64 = days_from_civil(2026, 11, 1) * DAY;

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
pub(super) const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The `(year, month, day)` of a day number from [`days_from_civil`].
pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The date of `t` (seconds) as `YYYY-MM-DD`.
pub(super) fn fmt_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Local time `t` (seconds) with its UTC offset, e.g. `2019-03-04T10:15:00-05:00`.
pub(super) fn fmt_dt(t: i64, tz: &str) -> String {
    let s = t.rem_euclid(DAY);
    format!(
        "{}T{:02}:{:02}:{:02}{tz}",
        fmt_date(t),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(fmt_dt(TODAY, "+01:00"), "2026-11-01T00:00:00+01:00");
        assert_eq!(
            fmt_date(days_from_civil(1940, 2, 29) * DAY - 1),
            "1940-02-28"
        );
        assert_eq!(
            civil_from_days(days_from_civil(2000, 12, 31)),
            (2000, 12, 31)
        );
    }
}

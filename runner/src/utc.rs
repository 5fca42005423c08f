//! Epoch milliseconds as UTC calendar text, for messages people read (when a replay's oldest
//! event falls, when retention would delete it) and for the sample's Camus names. No time zones:
//! Camus' bucket starts are absolute, and UTC is what an operator can compare.

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of epoch milliseconds.
pub(crate) fn text(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A length of time as people say it: `3d 4h`, `5h 2m`, `40s`.
pub(crate) fn span(ms: i64) -> String {
    let secs = ms.unsigned_abs() / 1000;
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let sign = if ms < 0 { "-" } else { "" };
    match (d, h, m) {
        (0, 0, 0) => format!("{sign}{s}s"),
        (0, 0, _) => format!("{sign}{m}m {s}s"),
        (0, _, _) => format!("{sign}{h}h {m}m"),
        _ => format!("{sign}{d}d {h}h"),
    }
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_milliseconds_read_as_utc_text() {
        assert_eq!(text(0), "1970-01-01T00:00:00Z");
        assert_eq!(text(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(text(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn spans_read_in_their_largest_units() {
        assert_eq!(span(40_000), "40s");
        assert_eq!(span(7 * 86_400_000 + 3_600_000), "7d 1h");
        assert_eq!(span(-90_000), "-1m 30s");
    }
}

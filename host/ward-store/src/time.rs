//! RFC 3339 UTC timestamps without a calendar dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339 UTC with second precision, e.g. `2026-11-22T06:06:25Z`.
pub(crate) fn now_rfc3339() -> String {
    format_unix(now_unix())
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC.
pub fn format_unix(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ` (the shape ward writes) or of a bare
/// date `YYYY-MM-DD` (midnight UTC); `None` for anything else, an impossible date included.
pub fn parse_utc(s: &str) -> Option<u64> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    if !is_rfc3339_utc(&full) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| full[r].parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    u64::try_from(secs).ok()
}

/// True when `s` has the exact shape `YYYY-MM-DDTHH:MM:SSZ` that ward writes and compares
/// lexicographically.
pub(crate) fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        10 => *c == b'T',
        13 | 16 => *c == b':',
        19 => *c == b'Z',
        _ => c.is_ascii_digit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1_795_327_585), "2026-11-22T06:06:25Z");
        assert!(is_rfc3339_utc(&now_rfc3339()));
        assert!(!is_rfc3339_utc("2026-11-22 06:06:25Z"));
    }

    #[test]
    fn parses_what_it_formats_and_refuses_the_rest() {
        for secs in [0, 951_782_400, 1_795_327_585, 4_102_444_800] {
            assert_eq!(parse_utc(&format_unix(secs)), Some(secs));
        }
        assert_eq!(parse_utc("2027-01-01"), Some(1_798_761_600));
        for bad in [
            "",
            "2027-1-01",
            "2027-02-30",
            "2027-13-01",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:00:00+01:00",
            "2027-01-01 00:00:00Z",
            "tomorrow",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad:?}");
        }
    }
}

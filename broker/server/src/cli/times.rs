//! Times on the command line: parsing `weir send --at` (ms since the Unix epoch, an RFC
//! 3339 time, or a delay from now such as `30s` or `1h30m`), and the local clock that
//! human output measures ages and waits against.
//!
//! No date-time crate is in the dependency tree, so the RFC 3339 subset needed here
//! (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) is parsed by hand; anything else is
//! refused with the accepted forms named, never guessed at.

use std::time::{SystemTime, UNIX_EPOCH};

/// What `--at` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// An absolute time, in ms since the Unix epoch.
    Time(i64),
    /// A delay from now, in ms. Sent as a relative delay, so that the broker's clock
    /// counts it and a skewed local clock does not matter.
    After(u64),
}

/// The accepted forms, for error messages and `--help`.
const FORMS: &str = "ms since the Unix epoch (1764000000000), an RFC 3339 time \
                     (2025-11-24T16:00:00Z, 2025-11-24T17:00:00.250+01:00) or a delay \
                     from now (500ms, 30s, 5m, 1h30m, 2d)";

const MS_PER_UNIT: [(&str, u64); 6] = [
    ("ms", 1),
    ("s", 1_000),
    ("min", 60_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Parses a `--at` value; the error names the accepted forms.
pub(crate) fn parse_at(text: &str) -> Result<At, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(At::Time)
            .map_err(|_| format!("'{text}' is too large for a time in ms since the epoch"));
    }
    if text.contains(['T', 't', ' ']) && text.contains('-') {
        let at = parse_rfc3339(text)?;
        if at < 0 {
            return Err(format!("'{text}' is before 1970; give a later time"));
        }
        return Ok(At::Time(at));
    }
    parse_delay(text.strip_prefix('+').unwrap_or(text))
        .map(At::After)
        .ok_or_else(|| format!("'{text}' is not a time; give {FORMS}"))
}

/// A delay such as `30s`, `5m`, `1h30m` or `1500ms`, in ms: one or more
/// `<number><unit>` parts with units `ms`, `s`, `m` (or `min`), `h` and `d`.
fn parse_delay(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, factor) = MS_PER_UNIT
            .iter()
            .find(|(unit, _)| {
                rest.starts_with(unit)
                    // `m` must not swallow the `m` of `ms` or `min`.
                    && !rest[unit.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
            })
            .copied()?;
        rest = &rest[unit.len()..];
        total = total.checked_add(number.checked_mul(factor)?)?;
    }
    Some(total)
}

/// An RFC 3339 time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) in ms since the Unix
/// epoch; digits of the fraction past milliseconds are dropped.
pub(crate) fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let invalid = |why: &str| format!("'{text}' is not an RFC 3339 time: {why}");
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = bytes.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|&(at, sep)| bytes.get(at) != Some(&sep))
        || !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
    {
        return Err(invalid(
            "expected YYYY-MM-DDTHH:MM:SS followed by Z or an offset",
        ));
    }
    let field = |range, name: &str| number(range).ok_or_else(|| invalid(name));
    let year = field(0..4, "bad year")?;
    let month = field(5..7, "bad month")?;
    let day = field(8..10, "bad day")?;
    let hour = field(11..13, "bad hour")?;
    let minute = field(14..16, "bad minute")?;
    let second = field(17..19, "bad second")?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(invalid("no such date"));
    }
    // A leap second (60) is taken as the last millisecond of its minute.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(invalid("no such time of day"));
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid("a '.' must be followed by digits"));
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().map_err(|_| invalid("bad fraction"))?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => parse_offset(rest)
            .ok_or_else(|| invalid("expected Z or an offset such as +01:00 at the end"))?,
    };
    let (second, millis) = if second == 60 {
        (59, 999)
    } else {
        (second, millis)
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

/// A UTC offset `±HH:MM`, in minutes.
fn parse_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of the output's `civil_from_days`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now on the local clock, in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_ms_since_the_epoch() {
        assert_eq!(parse_at("1764000000000"), Ok(At::Time(1_764_000_000_000)));
        assert_eq!(parse_at("0"), Ok(At::Time(0)));
        assert!(parse_at("99999999999999999999").is_err());
    }

    #[test]
    fn delays_from_now_add_up_their_parts() {
        assert_eq!(parse_at("30s"), Ok(At::After(30_000)));
        assert_eq!(parse_at("+5m"), Ok(At::After(300_000)));
        assert_eq!(parse_at("5min"), Ok(At::After(300_000)));
        assert_eq!(parse_at("1h30m"), Ok(At::After(5_400_000)));
        assert_eq!(parse_at("1500ms"), Ok(At::After(1_500)));
        assert_eq!(parse_at("2d"), Ok(At::After(172_800_000)));
        assert_eq!(parse_at("1m30s"), Ok(At::After(90_000)));
    }

    #[test]
    fn malformed_delays_name_the_accepted_forms() {
        for bad in [
            "",
            "s",
            "30x",
            "5mm",
            "1h 30m",
            "-5s",
            "m5",
            "99999999999999999999d",
        ] {
            let err = parse_at(bad).unwrap_err();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }

    #[test]
    fn rfc3339_times_agree_with_the_output_format() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2025-11-24T16:00:00.001Z", 1_764_000_000_001),
            ("2025-11-24T17:00:00.001+01:00", 1_764_000_000_001),
            ("2025-11-24T15:30:00.001-00:30", 1_764_000_000_001),
            ("2000-02-29T00:00:00Z", 951_782_400_000),
            ("2025-11-24 16:00:00.0019z", 1_764_000_000_001),
            ("2016-12-31T23:59:60Z", 1_483_228_799_999),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_at(text), Ok(At::Time(ms)), "{text}");
        }
        let round_trip = super::super::output::utc_timestamp(1_764_000_000_001);
        assert_eq!(parse_rfc3339(&round_trip), Ok(1_764_000_000_001));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.5Z"), Ok(-500));
        assert!(
            parse_at("1969-12-31T23:59:59.5Z")
                .unwrap_err()
                .contains("before 1970")
        );
    }

    #[test]
    fn bad_rfc3339_times_are_refused() {
        for bad in [
            "2025-11-24T16:00:00",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-11-24T24:00:00Z",
            "2025-11-24T16:00:00.Z",
            "2025-11-24T16:00:00+1:00",
            "2025-11-24T16:00:00+01:60",
            "2025-11-24T16:00Z",
            "25-11-24T16:00:00Z",
            "2025-11-24T16:00:00Zjunk",
        ] {
            let err = parse_at(bad).unwrap_err();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }
}

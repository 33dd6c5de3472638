//! Collects every rule a record breaks, so one error names every offending
//! field at once instead of making an officer fix them one by one.

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use serde::Serialize;

use super::common::{MAX_SHORT_LEN, MAX_TEXT_LEN};

/// What a field holding a control character is told: no keyboard types one
/// (a terminal's escape sequences, C1 included, are made of them), and
/// every place a record is shown, a terminal, a page or a CSV file among
/// them, would have to make it inert.
const CONTROL_CHARACTER: &str = "holds a control character";

/// One broken rule: the field (dotted path, police.uk names) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct FieldViolation {
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl FieldViolation {
    /// Several violations as one message: `field: problem; field: problem`.
    pub fn list(violations: &[FieldViolation]) -> String {
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Accumulates violations while a record is checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// Free text that must be present.
    pub fn required_text(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(field, "required");
        } else {
            self.optional_text(field, value);
        }
    }

    /// Free text that may be empty but not oversized, nor hold a control
    /// character other than a line break or a tab.
    pub fn optional_text(&mut self, field: &str, value: &str) {
        if value.len() > MAX_TEXT_LEN {
            self.push(field, format!("longer than {MAX_TEXT_LEN} bytes"));
        } else if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.push(field, CONTROL_CHARACTER);
        }
    }

    /// A short identifier-like value that must be present, on one line,
    /// with no control character.
    pub fn required_short(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(field, "required");
        } else if value.len() > MAX_SHORT_LEN {
            self.push(field, format!("longer than {MAX_SHORT_LEN} bytes"));
        } else if value.chars().any(char::is_control) {
            self.push(field, CONTROL_CHARACTER);
        }
    }

    /// An RFC 3339 time with offset; returns it parsed when valid.
    pub fn timestamp(&mut self, field: &str, value: &str) -> Option<DateTime<FixedOffset>> {
        match parse_time(value) {
            Some(t) => Some(t),
            None if value.trim().is_empty() => {
                self.push(field, "required");
                None
            }
            None => {
                self.push(
                    field,
                    "not an RFC 3339 time with offset (e.g. 2026-11-28T14:05:00Z)",
                );
                None
            }
        }
    }

    /// Ends the check: Ok when nothing was broken.
    pub fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Parses a time in the one spelling records carry: RFC 3339 that
/// round-trips everywhere it is read (chrono, SQLite's `julianday`):
/// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9 digits, then `Z` or
/// `+HH:MM`/`-HH:MM`; uppercase `T` and `Z`, seconds 00-59, a four-digit
/// year, nothing around it. chrono alone also accepts a lowercase `t` or
/// `z`, a space for `T` and second 60, which SQLite reads as NULL.
pub fn parse_time(value: &str) -> Option<DateTime<FixedOffset>> {
    if !strict_spelling(value.as_bytes()) {
        return None;
    }
    DateTime::parse_from_rfc3339(value).ok()
}

/// The spelling check of [`parse_time`]; chrono then checks the ranges
/// (month, day of month, hour, minute).
fn strict_spelling(b: &[u8]) -> bool {
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let two = |at: usize| u32::from(b[at] - b'0') * 10 + u32::from(b[at + 1] - b'0');
    let date_time = digits(0, 4)
        && b.get(4) == Some(&b'-')
        && digits(5, 7)
        && b.get(7) == Some(&b'-')
        && digits(8, 10)
        && b.get(10) == Some(&b'T')
        && digits(11, 13)
        && b.get(13) == Some(&b':')
        && digits(14, 16)
        && b.get(16) == Some(&b':')
        && digits(17, 19);
    if !date_time || two(17) > 59 {
        return false;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start || at - start > 9 {
            return false;
        }
    }
    match &b[at..] {
        [b'Z'] => true,
        [sign, ..] if (*sign == b'+' || *sign == b'-') && b.len() == at + 6 => {
            digits(at + 1, at + 3)
                && b[at + 3] == b':'
                && digits(at + 4, at + 6)
                && two(at + 1) <= 23
                && two(at + 4) <= 59
                // RFC 3339's "-00:00" means the offset is unknown: no instant.
                && !(*sign == b'-' && two(at + 1) == 0 && two(at + 4) == 0)
        }
        _ => false,
    }
}

/// A time that is not in the one spelling records carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 time with offset (e.g. 2026-11-28T14:05:00Z)")]
pub struct InvalidTime;

/// The one form a time is indexed and compared in: UTC,
/// `YYYY-MM-DDTHH:MM:SSZ`. A fraction of a second is truncated (an index
/// needs whole seconds, and truncating never moves a time later); the
/// document keeps the spelling the device wrote. Refuses what [`parse_time`]
/// refuses, and a time whose UTC form leaves years 0000-9999.
pub fn normalise_time(value: &str) -> Result<String, InvalidTime> {
    parse_time(value).ok_or(InvalidTime).and_then(utc_form)
}

/// [`normalise_time`] for times stored before the spelling was checked
/// (schema-v1 records): whatever chrono reads, in the one form.
pub fn normalise_stored_time(value: &str) -> Result<String, InvalidTime> {
    match normalise_time(value) {
        Ok(t) => Ok(t),
        Err(_) => DateTime::parse_from_rfc3339(value.trim())
            .map_err(|_| InvalidTime)
            .and_then(utc_form),
    }
}

fn utc_form(t: DateTime<FixedOffset>) -> Result<String, InvalidTime> {
    let utc = t.with_timezone(&Utc);
    if !(0..=9999).contains(&utc.year()) {
        return Err(InvalidTime);
    }
    Ok(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spellings_that_round_trip_are_times() {
        for good in [
            "2026-11-28T14:05:00Z",
            "2026-11-28T14:05:00.123Z",
            "2026-11-28T14:05:59.123456789+01:00",
            "2026-11-28T14:05:00-05:30",
            "2026-02-28T23:59:59+23:59",
        ] {
            assert!(parse_time(good).is_some(), "{good}");
        }
        for bad in [
            "2026-11-28t14:05:00Z",
            "2026-11-28T14:05:00z",
            " 2026-11-28T14:05:00Z",
            "2026-11-28T14:05:00Z ",
            "2026-11-28 14:05:00Z",
            "2026-11-28T14:05:60Z",
            "2026-11-28T24:05:00Z",
            "2026-02-30T14:05:00Z",
            "+2026-11-28T14:05:00Z",
            "26-11-28T14:05:00Z",
            "2026-11-28T14:05Z",
            "2026-11-28T14:05:00",
            "2026-11-28T14:05:00.Z",
            "2026-11-28T14:05:00.1234567890Z",
            "2026-11-28T14:05:00+0100",
            "2026-11-28T14:05:00+24:00",
            "2026-11-28T14:05:00+01:60",
            "2026-11-28T14:05:00+01:00:00",
            "",
            "yesterday",
        ] {
            assert!(parse_time(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_time_normalises_to_one_utc_form() {
        assert_eq!(
            normalise_time("2026-11-28T14:05:00.999+01:00").unwrap(),
            "2026-11-28T13:05:00Z"
        );
        assert_eq!(
            normalise_time("2026-11-28T23:30:00-01:00").unwrap(),
            "2026-11-29T00:30:00Z"
        );
        assert_eq!(
            normalise_time("2026-11-28T14:05:00Z").unwrap(),
            "2026-11-28T14:05:00Z"
        );
        assert_eq!(normalise_time("2026-11-28t14:05:00Z"), Err(InvalidTime));
        assert_eq!(
            normalise_time("0000-01-01T00:30:00+01:00"),
            Err(InvalidTime)
        );
        assert_eq!(
            normalise_stored_time(" 2026-11-28t14:05:00z").unwrap(),
            "2026-11-28T14:05:00Z"
        );
    }
}

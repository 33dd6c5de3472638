//! The server's one source of "now". Every time the server writes or
//! compares (the store, the feed, the audit trail, rate limits, copies, the
//! admin commands) comes from a [`Clock`], so tests inject one and jump
//! ahead without sleeping, and no module reads the system time by itself.
//! The written forms of an instant live here too: [`stamp`] for the times
//! the server writes, [`index_time`] for the times the store indexes, and
//! [`normalise_time`] / [`lenient_time`] for the times devices send.

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};

/// The time source; tests inject one to jump ahead without sleeping.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    pub fn new(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// Now, written as the store writes times: see [`stamp`].
    pub fn stamp(&self) -> String {
        stamp(self.now())
    }
}

/// The one way the server writes an instant (RFC 3339, UTC, milliseconds):
/// in the store, the feed and the audit trail, so times compare as text.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The one form of every time the store indexes and compares (retention,
/// targets, lookups): UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`. Times in
/// this form sort as text in time order, so plain comparisons use the
/// indexes (no `julianday` over whatever spelling a device wrote).
pub fn index_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time as a device must write it, in [`index_time`]'s form; `None` for a
/// spelling that does not round-trip. Exactly RFC 3339's grammar: uppercase
/// `T` and `Z`, no surrounding space, seconds 00 to 59 (no leap second), an
/// optional fraction of 1 to 9 digits, and `Z` or a numeric offset other
/// than `-00:00` ("offset unknown"). Offsets are converted to UTC; the
/// fraction is dropped from the indexed form.
///
/// The server's own copy of the rule until the core's `normalise_time`
/// lands; it has the same meaning.
pub fn normalise_time(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let shape = b.len() >= 20
        && digits(0, 4)
        && b[4] == b'-'
        && digits(5, 7)
        && b[7] == b'-'
        && digits(8, 10)
        && b[10] == b'T'
        && digits(11, 13)
        && b[13] == b':'
        && digits(14, 16)
        && b[16] == b':'
        && digits(17, 19)
        && b[17] <= b'5';
    if !shape {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset_ok = match rest {
        b"Z" => true,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let numbers = [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit());
            numbers && !(*sign == b'-' && [h1, h2, m1, m2].iter().all(|c| **c == b'0'))
        }
        _ => false,
    };
    if !offset_ok {
        return None;
    }
    let parsed = DateTime::parse_from_rfc3339(text).ok()?;
    Some(index_time(parsed.with_timezone(&Utc)))
}

/// A time in [`index_time`]'s form from any RFC 3339 spelling chrono
/// accepts, however odd (surrounding space, lowercase letters, a leap
/// second): for rows stored before times were checked, and for bounds that
/// callers pass to queries.
pub fn lenient_time(text: &str) -> Option<String> {
    let parsed = DateTime::parse_from_rfc3339(text.trim())
        .or_else(|_| DateTime::parse_from_rfc3339(&text.trim().to_ascii_uppercase()))
        .ok()?;
    // A leap second counts as the second before it.
    let parsed = parsed.with_nanosecond(0)?;
    Some(index_time(parsed.with_timezone(&Utc)))
}

#[cfg(test)]
mod time_tests {
    use super::{lenient_time, normalise_time};

    #[test]
    fn only_exact_rfc_3339_is_accepted_and_it_is_indexed_in_utc() {
        for (written, indexed) in [
            ("2026-11-28T14:05:00Z", "2026-11-28T14:05:00Z"),
            ("2026-11-28T14:05:00.123Z", "2026-11-28T14:05:00Z"),
            ("2026-11-28T14:05:00.000Z", "2026-11-28T14:05:00Z"),
            ("2026-11-28T15:05:00+01:00", "2026-11-28T14:05:00Z"),
            ("2026-11-28T00:30:00+01:00", "2026-11-27T23:30:00Z"),
            ("2026-11-28T14:05:00+00:00", "2026-11-28T14:05:00Z"),
        ] {
            assert_eq!(
                normalise_time(written).as_deref(),
                Some(indexed),
                "{written}"
            );
        }
        for odd in [
            "2026-11-28t14:05:00Z",
            "2026-11-28T14:05:00z",
            " 2026-11-28T14:05:00Z",
            "2026-11-28T14:05:00Z ",
            "2026-11-28T14:05:60Z",
            "2026-11-28T14:05:00-00:00",
            "2026-11-28T14:05:00.Z",
            "2026-11-28T14:05:00.1234567890Z",
            "2026-11-28 14:05:00Z",
            "2026-11-28T14:05Z",
            "2026-02-30T14:05:00Z",
            "2026-11-28T14:05:00+0100",
            "",
        ] {
            assert_eq!(normalise_time(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn stored_spellings_of_older_servers_still_index() {
        assert_eq!(
            lenient_time(" 2026-11-28t14:05:60z").as_deref(),
            Some("2026-11-28T14:05:59Z")
        );
        assert_eq!(lenient_time("yesterday"), None);
    }
}

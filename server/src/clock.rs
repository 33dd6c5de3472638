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
/// spelling that does not round-trip: the core's rule
/// ([`pocketbook_core::model::normalise_time`]), so a device and the server
/// accept exactly the same spellings.
pub fn normalise_time(text: &str) -> Option<String> {
    pocketbook_core::model::normalise_time(text).ok()
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

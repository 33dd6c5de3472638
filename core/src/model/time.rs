//! The one time type of the records: [`Timestamp`]. Inside a document a
//! time stays the string a device wrote (strict RFC 3339, "Record fields"
//! in `ARCHITECTURE.md`), so no read or merge ever rewrites it; the apps
//! get the instant (`SystemTime`: `java.time.Instant` in Kotlin, `Date` in
//! Swift). A `Timestamp` is only ever made from a string that converts, so
//! handing it across the FFI cannot fail: a stored time that does not
//! convert is refused when the document is read, as an error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

use super::validate::{InvalidTime, parse_time};

/// A time of a record: the text as written, with the instant it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// As written: strict RFC 3339 for a time an app or device gave, or
    /// what chrono reads for a time stored by a schema-v1 record.
    text: String,
    instant: DateTime<Utc>,
    /// The same instant as the FFI hands it over, computed once so that
    /// handing it over cannot fail.
    system: SystemTime,
}

impl Timestamp {
    /// A time as typed or sent: the one strict spelling records carry
    /// (see [`parse_time`]), in years 0000-9999 once in UTC. The text is
    /// kept as written.
    pub fn parse(text: &str) -> Result<Self, InvalidTime> {
        let instant = parse_time(text).ok_or(InvalidTime)?.with_timezone(&Utc);
        Self::new(text.to_string(), instant)
    }

    /// A time read from a document: also what schema-v1 records stored
    /// before the spelling was checked (whatever chrono reads as RFC
    /// 3339), kept as stored. A time that names no instant is an error.
    pub fn from_stored(text: &str) -> Result<Self, InvalidTime> {
        match Self::parse(text) {
            Ok(t) => Ok(t),
            Err(_) => {
                let instant = DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|_| InvalidTime)?
                    .with_timezone(&Utc);
                Self::new(text.to_string(), instant)
            }
        }
    }

    /// An instant, written in the one normalised form
    /// (`YYYY-MM-DDTHH:MM:SSZ`, [`super::normalise_time`]): a fraction of
    /// a second is dropped.
    pub fn from_instant(instant: DateTime<Utc>) -> Result<Self, InvalidTime> {
        let text = instant.to_rfc3339_opts(SecondsFormat::Secs, true);
        let whole = DateTime::parse_from_rfc3339(&text)
            .map_err(|_| InvalidTime)?
            .with_timezone(&Utc);
        Self::new(text, whole)
    }

    /// A time the FFI hands in (a Kotlin `Instant`, a Swift `Date`), to
    /// the second; refused outside years 0000-9999.
    pub fn from_system_time(time: SystemTime) -> Result<Self, InvalidTime> {
        let (secs, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => (i64::try_from(after.as_secs()).map_err(|_| InvalidTime)?, 0),
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).map_err(|_| InvalidTime)?;
                // Round towards the past, as for times after 1970.
                (-secs - i64::from(before.subsec_nanos() > 0), 0)
            }
        };
        let instant = DateTime::from_timestamp(secs, nanos).ok_or(InvalidTime)?;
        Self::from_instant(instant)
    }

    /// Now, in the normalised form.
    pub fn now() -> Self {
        let now = Utc::now();
        // Today is always within years 0000-9999 and a SystemTime.
        Self::from_instant(now).unwrap_or_else(|_| Timestamp {
            text: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            instant: now,
            system: SystemTime::now(),
        })
    }

    fn new(text: String, instant: DateTime<Utc>) -> Result<Self, InvalidTime> {
        if !(0..=9999).contains(&instant.year()) {
            return Err(InvalidTime);
        }
        let secs = instant.timestamp();
        let nanos = instant.timestamp_subsec_nanos();
        let system = if secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::new(secs.unsigned_abs(), 0))
                .and_then(|t| t.checked_add(Duration::new(0, nanos)))
        }
        .ok_or(InvalidTime)?;
        Ok(Timestamp {
            text,
            instant,
            system,
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant, in UTC.
    pub fn instant(&self) -> DateTime<Utc> {
        self.instant
    }

    /// The instant as the FFI hands it over.
    pub fn system_time(&self) -> SystemTime {
        self.system
    }

    /// The one indexed form (`YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds).
    pub fn normalised(&self) -> String {
        self.instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

impl std::ops::Deref for Timestamp {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for Timestamp {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = InvalidTime;
    fn from_str(text: &str) -> Result<Self, InvalidTime> {
        Self::parse(text)
    }
}

impl TryFrom<&str> for Timestamp {
    type Error = InvalidTime;
    fn try_from(text: &str) -> Result<Self, InvalidTime> {
        Self::parse(text)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = InvalidTime;
    fn try_from(text: String) -> Result<Self, InvalidTime> {
        Self::parse(&text)
    }
}

impl PartialEq<str> for Timestamp {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Timestamp {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for Timestamp {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not an RFC 3339 time with offset (e.g. 2026-11-28T14:05:00Z)"
            ))
        })
    }
}

impl autosurgeon::Reconcile for Timestamp {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
        self.text.reconcile(reconciler)
    }
}

impl autosurgeon::Hydrate for Timestamp {
    fn hydrate_string(text: &'_ str) -> Result<Self, autosurgeon::HydrateError> {
        Self::from_stored(text).map_err(|_| {
            autosurgeon::HydrateError::unexpected(
                "an RFC 3339 time",
                "a string that names no instant".to_string(),
            )
        })
    }
}

// Over the FFI a time is a `SystemTime`: `java.time.Instant` in Kotlin,
// `Date` in Swift. Handing one out cannot fail (every `Timestamp` holds
// its `SystemTime`); one handed in outside years 0000-9999 is refused as
// `ApiError::BadInput` by the call it was given to.
#[cfg(feature = "ffi")]
uniffi::custom_type!(Timestamp, SystemTime, {
    lower: |t| t.system_time(),
    try_lift: |t| Timestamp::from_system_time(t).map_err(lift_error),
});

#[cfg(feature = "ffi")]
fn lift_error(e: InvalidTime) -> uniffi::deps::anyhow::Error {
    #[cfg(feature = "device")]
    {
        uniffi::deps::anyhow::Error::new(crate::error::ApiError::bad_input(format!(
            "a time outside years 0000-9999: {e}"
        )))
    }
    #[cfg(not(feature = "device"))]
    {
        uniffi::deps::anyhow::Error::new(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_keeps_its_text_and_crosses_as_its_instant() {
        let t = Timestamp::parse("2026-11-28T15:05:00.250+01:00").unwrap();
        assert_eq!(t.as_str(), "2026-11-28T15:05:00.250+01:00");
        assert_eq!(t.normalised(), "2026-11-28T14:05:00Z");
        let back = Timestamp::from_system_time(t.system_time()).unwrap();
        // Handed back in, a time is kept to the second, in the one form.
        assert_eq!(back.as_str(), "2026-11-28T14:05:00Z");
        assert_eq!(
            back.instant(),
            t.instant() - chrono::Duration::milliseconds(250)
        );
    }

    #[test]
    fn times_before_1970_cross_too() {
        let t = Timestamp::parse("1969-12-31T23:59:59Z").unwrap();
        let back = Timestamp::from_system_time(t.system_time()).unwrap();
        assert_eq!(back, t);
        let early = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(
            Timestamp::from_system_time(early).unwrap().as_str(),
            "1969-12-31T23:59:58Z"
        );
    }

    #[test]
    fn what_names_no_instant_in_range_is_refused_never_a_panic() {
        for bad in [
            "yesterday",
            "",
            "2026-11-28t14:05:00Z",
            "0000-01-01T00:30:00+01:00",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(InvalidTime), "{bad:?}");
        }
        let far = UNIX_EPOCH + Duration::from_secs(400 * 366 * 24 * 3600 * 100);
        assert_eq!(Timestamp::from_system_time(far), Err(InvalidTime));
        let max = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64);
        assert_eq!(Timestamp::from_system_time(max), Err(InvalidTime));
        // A schema-v1 spelling is read from a document as it was stored.
        let stored = Timestamp::from_stored("2026-11-28t14:05:00z").unwrap();
        assert_eq!(stored.as_str(), "2026-11-28t14:05:00z");
        assert_eq!(stored.normalised(), "2026-11-28T14:05:00Z");
        assert_eq!(Timestamp::from_stored("not a time"), Err(InvalidTime));
    }

    #[test]
    fn json_carries_the_text_and_refuses_what_is_not_a_time() {
        let t: Timestamp = serde_json::from_str("\"2026-11-28T14:05:00Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-28T14:05:00Z\""
        );
        assert!(serde_json::from_str::<Timestamp>("\"tomorrow\"").is_err());
    }
}

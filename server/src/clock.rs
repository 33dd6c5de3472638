//! The server's one source of "now". Every time the server writes or
//! compares (the store, the feed, the audit trail, rate limits, copies, the
//! admin commands) comes from a [`Clock`], so tests inject one and jump
//! ahead without sleeping, and no module reads the system time by itself.

use std::sync::Arc;

use chrono::{DateTime, Utc};

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

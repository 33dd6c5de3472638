//! How long a request may wait: the timeouts an app sets for its network,
//! with the defaults a handheld at a scene needs and the bounds an app's
//! setting is checked against.

use std::time::Duration;

/// How long a request may wait, set by the app (`Notebook::set_network_settings`,
/// `enrol_device_with_network`). The defaults suit a handheld at a scene:
///
/// - `connect_timeout` **5 s**: a TCP (and TLS) connection that takes longer
///   is a dead or unreachable network; the officer should hear so at once.
/// - `read_timeout` **15 s**: the longest silence between two reads, so a
///   server that accepts and never answers (or a link that stalls mid-page)
///   is given up after 15 s, while a slow page that keeps arriving is not cut.
/// - `overall_timeout` **60 s**: the most one request may take end to end,
///   sending included. A sync is many requests; a full page (at most 500
///   feed entries) fits well within a minute on a poor mobile link.
///
/// Each must be between 1 ms and 10 minutes (otherwise `ApiError::Invalid`
/// naming the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct NetworkSettings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub overall_timeout: Duration,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(15),
            overall_timeout: Duration::from_secs(60),
        }
    }
}

/// Longest timeout an app may set: anything longer is a mistake.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

impl NetworkSettings {
    /// Every out-of-range timeout, named as a field.
    pub fn violations(&self) -> Vec<crate::model::FieldViolation> {
        [
            ("network.connect_timeout", self.connect_timeout),
            ("network.read_timeout", self.read_timeout),
            ("network.overall_timeout", self.overall_timeout),
        ]
        .into_iter()
        .filter(|(_, d)| d.is_zero() || *d > MAX_TIMEOUT)
        .map(|(field, _)| crate::model::FieldViolation {
            field: field.into(),
            problem: "must be more than 0 and at most 10 minutes".into(),
        })
        .collect()
    }
}

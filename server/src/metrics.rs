//! Prometheus metrics. Labels are fixed, low-cardinality words (endpoint,
//! outcome, rejection code, and the station and promise of the overdue
//! promise gauges): never an officer, a device, a record or a reference.

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::retention::ClockStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    pub code: &'static str,
}

/// How a sync request ended: `ok`, `partly-rejected`, or the error code
/// of the refusal (`unauthorised`, `malformed`, `too-large`, ...): a fixed
/// vocabulary chosen by the server, never by the client.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

/// Which limit refused a request or a connection: `copy-client`,
/// `copy-reference`, `enrol-client`, `busy` (the concurrency limit),
/// `connections-per-client`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: &'static str,
}

/// A station and a promise (`PromiseId::as_str`): the station is a place,
/// not a person, and the promise a fixed word.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PromiseLabels {
    pub station: String,
    pub promise: &'static str,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram>,
    pub response_bytes: Family<EndpointLabels, Counter>,
    pub sync_requests: Family<OutcomeLabels, Counter>,
    pub records_pushed: Counter,
    pub records_pulled: Counter,
    pub rejections: Family<RejectionLabels, Counter>,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub enrolments: Counter,
    /// Requests and connections refused by a limit, by limit.
    pub throttled: Family<LimitLabels, Counter>,
    /// Connections open now (both listeners).
    pub connections_open: Gauge,
    /// Promises overdue now, by station and promise (`crate::pledge`).
    pub promises_overdue: Family<PromiseLabels, Gauge>,
    /// 1 while the retention job holds its erasures because the clock is
    /// further ahead of the last trusted run than the step allows
    /// (`crate::retention::guard`), else 0.
    pub retention_clock_held: Gauge,
    /// Seconds this instance's clock is ahead of the retention job's
    /// trusted reference (negative: behind), as of its last retention tick
    /// or readiness check (`/readyz` reads the reference and sets both).
    pub retention_clock_ahead: Gauge,
    /// Tickets of the retention clock's judgements: the next to hand out,
    /// and the one the gauges show.
    retention_clock_tickets: std::sync::atomic::AtomicU64,
    retention_clock_shown: std::sync::Mutex<u64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pocketbook");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by endpoint and status",
            requests.clone(),
        );
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        let response_bytes = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "http_response_bytes",
            "Response body bytes by endpoint, before compression",
            response_bytes.clone(),
        );
        let sync_requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "sync_requests",
            "Sync requests by outcome",
            sync_requests.clone(),
        );
        let records_pushed = Counter::default();
        registry.register(
            "sync_records_pushed",
            "Pushed records accepted",
            records_pushed.clone(),
        );
        let records_pulled = Counter::default();
        registry.register(
            "sync_records_pulled",
            "Feed entries sent to devices",
            records_pulled.clone(),
        );
        let rejections = Family::<RejectionLabels, Counter>::default();
        registry.register(
            "sync_rejections",
            "Pushed records refused, by code",
            rejections.clone(),
        );
        let bytes_in = Counter::default();
        registry.register(
            "sync_request_bytes",
            "Sync request bytes received (as sent)",
            bytes_in.clone(),
        );
        let bytes_out = Counter::default();
        registry.register(
            "sync_change_bytes_sent",
            "Automerge change bytes sent to devices",
            bytes_out.clone(),
        );
        let enrolments = Counter::default();
        registry.register("enrolments", "Devices enrolled", enrolments.clone());
        let throttled = Family::<LimitLabels, Counter>::default();
        registry.register(
            "throttled",
            "Requests or connections refused by a limit, by limit",
            throttled.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "http_connections_open",
            "Connections open now",
            connections_open.clone(),
        );
        let promises_overdue = Family::<PromiseLabels, Gauge>::default();
        registry.register(
            "promises_overdue",
            "Pledge promises overdue now, by station and promise",
            promises_overdue.clone(),
        );
        let retention_clock_held = Gauge::default();
        registry.register(
            "retention_clock_held",
            "Whether retention erases nothing (1) because the clock jumped ahead of the last trusted run, until an admin confirms it (admin retention confirm-clock)",
            retention_clock_held.clone(),
        );
        let retention_clock_ahead = Gauge::default();
        registry.register(
            "retention_clock_ahead_seconds",
            "Seconds the clock is ahead of the last trusted retention run (negative: behind)",
            retention_clock_ahead.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            response_bytes,
            sync_requests,
            records_pushed,
            records_pulled,
            rejections,
            bytes_in,
            bytes_out,
            enrolments,
            throttled,
            connections_open,
            promises_overdue,
            retention_clock_held,
            retention_clock_ahead,
            retention_clock_tickets: std::sync::atomic::AtomicU64::new(1),
            retention_clock_shown: std::sync::Mutex::new(0),
        }
    }
}

impl Metrics {
    /// Shows the retention clock as `status` found it at `now`: held (a
    /// run now would erase nothing), and how far the clock is from the
    /// trusted reference (0 before the first run). The readiness check
    /// calls it with what it read, so a confirmation shows at the next
    /// check instead of the schedule's next tick.
    ///
    /// The schedule and the readiness check judge the clock on their own
    /// threads and may finish out of order: each takes a
    /// [`Metrics::retention_clock_ticket`] before it reads the clock, and
    /// the gauges keep the judgement of the latest ticket, so a run that
    /// started earlier and finished later does not overwrite a newer one
    /// (whichever way the clock moved in between).
    pub fn show_retention_clock(&self, ticket: u64, status: &ClockStatus, now: DateTime<Utc>) {
        let mut shown = self
            .retention_clock_shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *shown > ticket {
            return;
        }
        *shown = ticket;
        let ahead = status
            .reference
            .as_deref()
            .and_then(|r| DateTime::parse_from_rfc3339(r).ok())
            .map_or(0, |r| now.signed_duration_since(r).num_seconds());
        self.retention_clock_ahead.set(ahead);
        self.retention_clock_held
            .set(i64::from(status.state.is_ahead()));
    }

    /// A ticket for a judgement of the retention clock, taken before the
    /// clock is read ([`Metrics::show_retention_clock`]).
    pub fn retention_clock_ticket(&self) -> u64 {
        self.retention_clock_tickets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

//! Retention on the device, as the app sees it: when the notebook applies
//! the server's retention periods by itself (`store/expiry.rs` has the
//! rule), what it reports, and the clock it reads.
//!
//! When the check runs, which an app can rely on without a timer of its own:
//!
//! - when a notebook opens (every `open`, `open_existing` and enrolment),
//!   before the app can read anything;
//! - after every sync that runs to its end (`SyncSummary::expired`);
//! - on the first call into the notebook once 24 hours have passed since
//!   the last check by the device's clock (or the clock moved back), before
//!   that call reads or writes, so a notebook kept open for days still
//!   erases daily whenever the app uses it;
//! - whenever the app calls [`Notebook::check_retention`] (e.g. from a
//!   daily WorkManager or BGTaskScheduler job, for a notebook left open and
//!   unused).
//!
//! "Now" for retention is the latest of the device's clock, the last
//! server time heard, and that server time plus the time the monotonic
//! clock has seen pass since (while the app runs): on time with a clock
//! set back, never early (`docs/device-retention.md`).
//!
//! A record erased by a check is announced to listeners as a change with
//! origin `Erased` (none are registered yet when a notebook opens: the
//! app's first `list` does not show it).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};

use super::{ApiError, ChangeOrigin, Notebook, Shared, lock};
use crate::model::Officer;
use crate::store::{Expiry, OverdueRecord, Store, StoreKey};
use crate::sync::wire::RetentionTerms;

/// How often a notebook in use checks retention at least.
pub const RETENTION_CHECK_EVERY: TimeDelta = TimeDelta::hours(24);

/// The device's clocks as a notebook reads them for retention: the system
/// clock (which anyone may set), and a monotonic clock (time passing since
/// the app's process started, which setting the clock does not move). For
/// tests (Rust only) both can be moved, so a test passes a year without
/// sleeping.
#[derive(Debug, Clone)]
pub struct DeviceClock {
    /// Seconds added to the system clock.
    ahead: Arc<AtomicI64>,
    /// Seconds added to the monotonic clock.
    passed: Arc<AtomicI64>,
    /// The monotonic clock's origin.
    origin: Instant,
}

impl Default for DeviceClock {
    fn default() -> Self {
        DeviceClock {
            ahead: Arc::default(),
            passed: Arc::default(),
            origin: Instant::now(),
        }
    }
}

impl DeviceClock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Sets this clock (and every notebook reading it) forward, or back
    /// with a negative `by`, as someone setting the handset's clock does:
    /// no time passes.
    pub fn advance(&self, by: TimeDelta) {
        self.ahead.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    /// Lets `by` pass: the clock moves on by `by`, and so does the
    /// monotonic clock.
    pub fn pass(&self, by: TimeDelta) {
        self.advance(by);
        self.passed.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    /// Now, by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::seconds(self.ahead.load(Ordering::SeqCst))
    }

    /// The monotonic clock: time passed since this clock was made.
    fn monotonic(&self) -> TimeDelta {
        TimeDelta::from_std(self.origin.elapsed())
            .unwrap_or(TimeDelta::MAX)
            .checked_add(&TimeDelta::seconds(self.passed.load(Ordering::SeqCst)))
            .unwrap_or(TimeDelta::MAX)
    }
}

/// What a retention check did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RetentionCheck {
    /// Records erased from this device now (listeners heard `Erased`).
    pub erased: i32,
    /// Records past their period kept until the server has them (see
    /// [`Notebook::overdue_records`]).
    pub overdue: Vec<OverdueRecord>,
}

#[uniffi::export]
impl Notebook {
    /// Applies the server's retention periods now: erases every record
    /// past its period that the server holds in full and is not on legal
    /// hold (listeners hear `Erased`), and lists those kept because the
    /// server lacks some of their changes. The notebook also does this on
    /// its own (on opening, after each sync, and daily while in use).
    pub fn check_retention(&self) -> Result<RetentionCheck, ApiError> {
        let expiry = self.shared.expire_now()?;
        Ok(RetentionCheck {
            erased: super::sync::count(u32::try_from(expiry.erased.len()).unwrap_or(u32::MAX)),
            overdue: expiry.overdue,
        })
    }

    /// Records past their retention period that this device keeps because
    /// the server does not hold all of them yet (changes not acknowledged,
    /// or refused), oldest first: the app shows them as waiting to be sent.
    /// Each is erased here once the server acknowledges it.
    pub fn overdue_records(&self) -> Result<Vec<OverdueRecord>, ApiError> {
        let store = self.store()?;
        let now = self.shared.retention_now(&store)?;
        Ok(store.overdue(now)?)
    }

    /// The retention periods the server last sent; `None` before the first
    /// sync with a server that sends them (nothing is erased by the
    /// device's own retention until then).
    pub fn retention_terms(&self) -> Result<Option<RetentionTerms>, ApiError> {
        Ok(self.store()?.retention_terms()?)
    }

    /// The records on legal hold as the server last listed them: never
    /// erased by the device's own retention.
    pub fn legal_holds(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.store()?.legal_holds()?)
    }
}

impl Notebook {
    /// Opens (or creates) an unencrypted notebook, reading time from
    /// `clock` (Rust only: tests move it forward).
    pub fn open_with_clock(
        directory: String,
        officer: Officer,
        clock: DeviceClock,
    ) -> Result<Arc<Self>, ApiError> {
        super::opening::check_officer(&officer)?;
        let store = Store::open(std::path::Path::new(&directory))?;
        Self::with_store(store, officer, clock)
    }

    /// Reopens a notebook already set up in `directory` (encrypted with
    /// `key`, or plain without one), reading time from `clock` (Rust only:
    /// tests move it forward).
    pub fn open_existing_with_clock(
        directory: String,
        key: Option<Vec<u8>>,
        clock: DeviceClock,
    ) -> Result<Arc<Self>, ApiError> {
        let path = std::path::Path::new(&directory);
        let store = match key {
            Some(key) => Store::open_encrypted(path, &StoreKey::from_bytes(&key)?)?,
            None => Store::open(path)?,
        };
        let officer = super::opening::owner(&store)?;
        Self::with_store(store, officer, clock)
    }
}

impl Shared {
    /// Runs the retention check if a day has passed since the last one by
    /// the device's clock (or the clock moved back). A failure is logged
    /// and the check is tried again on the next call: it never fails the
    /// app's call.
    pub(super) fn expire_if_due(&self) {
        let now = self.clock.now();
        let due = lock(&self.retention_checked)
            .is_none_or(|last| (now - last).abs() >= RETENTION_CHECK_EVERY);
        if !due {
            return;
        }
        match self.expire_now() {
            // A closed or wiped notebook: the call itself says so.
            Ok(_) | Err(ApiError::Closed { .. } | ApiError::NotEnrolled { .. }) => {}
            Err(e) => tracing::warn!(
                error = %e,
                "the device's retention check failed; it runs again on the next call"
            ),
        }
    }

    /// The retention check now: erases what is due under the store lock,
    /// then tells listeners with the lock released.
    pub(super) fn expire_now(&self) -> Result<Expiry, ApiError> {
        let now = self.clock.now();
        let expiry = {
            let mut store = self.open_store()?;
            let counted = self.retention_now(&store)?;
            let expiry = store.expire(counted)?;
            *lock(&self.retention_checked) = Some(now);
            expiry
        };
        for (id, kind) in &expiry.erased {
            self.notify_id(id, *kind, ChangeOrigin::Erased);
        }
        Ok(expiry)
    }

    /// The time retention counts at: the device's clock or, when later,
    /// the last server time heard plus the time the monotonic clock has
    /// seen pass since this notebook first saw that server time. The
    /// second is never later than the true time (the server's clock was
    /// read before this notebook saw its answer, and setting the handset's
    /// clock does not move the monotonic one), so a handset whose clock is
    /// behind still erases on time while the app runs, never early. It
    /// starts again from the server time at each opening (the monotonic
    /// clock does not outlive the app's process).
    fn retention_now(&self, store: &Store) -> Result<DateTime<Utc>, ApiError> {
        let device = self.clock.now();
        let Some(heard) = store.server_time_heard()? else {
            return Ok(device);
        };
        let monotonic = self.clock.monotonic();
        let mut seen = lock(&self.server_time_seen);
        let since = match *seen {
            Some((time, at)) if time == heard => at,
            _ => {
                *seen = Some((heard, monotonic));
                monotonic
            }
        };
        let passed = (monotonic - since).max(TimeDelta::zero());
        Ok(device.max(heard.checked_add_signed(passed).unwrap_or(heard)))
    }
}

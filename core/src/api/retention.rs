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
//! A record erased by a check is announced to listeners as a change with
//! origin `Erased` (none are registered yet when a notebook opens: the
//! app's first `list` does not show it).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

use super::{ApiError, ChangeOrigin, Notebook, Shared, lock};
use crate::model::Officer;
use crate::store::{Expiry, OverdueRecord, Store, StoreKey};
use crate::sync::wire::RetentionTerms;

/// How often a notebook in use checks retention at least.
pub const RETENTION_CHECK_EVERY: TimeDelta = TimeDelta::hours(24);

/// The device's clock as a notebook reads it for retention: the system
/// clock, or (for tests, Rust only) the system clock moved forward by an
/// amount the test sets, so a test passes a year without sleeping.
#[derive(Debug, Clone, Default)]
pub struct DeviceClock {
    /// Seconds added to the system clock.
    ahead: Arc<AtomicI64>,
}

impl DeviceClock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Moves this clock (and every notebook reading it) forward.
    pub fn advance(&self, by: TimeDelta) {
        self.ahead.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    /// Now, by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::seconds(self.ahead.load(Ordering::SeqCst))
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
        let now = self.shared.clock.now();
        Ok(self.store()?.overdue(now)?)
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
            let expiry = store.expire(now)?;
            *lock(&self.retention_checked) = Some(now);
            expiry
        };
        for (id, kind) in &expiry.erased {
            self.notify_id(id, *kind, ChangeOrigin::Erased);
        }
        Ok(expiry)
    }
}

//! The Pledge's promises on the handset, offline, from the records on the
//! device: [`Notebook::promises`] lists each promise a record triggers with
//! its due time and status (`pledge::evaluate`'s judgement, the one the
//! server also makes, of the terms the store keeps beside each record:
//! `store/promise_terms.rs`); the calls that record what keeps a promise (the offence
//! category, a victim update, a review, a contact, and their corrections);
//! and a [`PromiseWatch`] that tells the app when a promise becomes due
//! soon or overdue, so it can notify the officer.
//!
//! The watch is a check, not a thread: it runs on every change the
//! notebook makes or receives (that record only), and whenever the app
//! calls [`PromiseWatch::check`] (on its own timer: a foreground ticker,
//! WorkManager or BGTaskScheduler in the background). Each check compares
//! every promise's status with the one it last saw and tells the listener
//! of each promise that has *become* due soon or overdue since; the first
//! check of a watch tells of every promise due soon or overdue then (an
//! app restarted hears each once more). Its clock is the device's unless
//! the app (or a test) gives one ([`PromiseClock`]).

use super::*;

use std::collections::HashMap;
use std::sync::Weak;

use chrono::{DateTime, Utc};

use crate::model::{OffenceCategory, PromiseEntry, PromiseEntryKind, RecordKind, Timestamp};
use crate::pledge::{PromiseId, PromiseState, PromiseStatus};
use crate::store::RecordTerms;

/// Which promises [`Notebook::promises`] lists. Every field narrows the
/// list; the default lists every promise of every record on the device.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct PromiseFilter {
    /// Only these statuses (e.g. due soon and overdue).
    #[uniffi(default = None)]
    pub statuses: Option<Vec<PromiseStatus>>,
    /// Only the promises of this record.
    #[uniffi(default = None)]
    pub record_id: Option<String>,
    /// Only promises due at or before this time.
    #[uniffi(default = None)]
    pub due_by: Option<Timestamp>,
    /// The moment to judge at; the device clock when `None`.
    #[uniffi(default = None)]
    pub now: Option<Timestamp>,
}

/// One promise of one record on the device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, uniffi::Record)]
pub struct RecordPromise {
    pub record_id: String,
    /// The record's reference, to show and read aloud.
    pub reference: String,
    pub kind: RecordKind,
    pub promise: PromiseId,
    /// The clause of the Pledge it restates (`P1` ... `P9`).
    pub clause: String,
    /// 0, or the n-th interval of victim updates.
    pub occurrence: u32,
    pub status: PromiseStatus,
    pub started_at: Timestamp,
    /// `None` before an officer leaves a burgled home (due on leaving),
    /// and for `Unknown`.
    pub due_at: Option<Timestamp>,
    pub due_soon_at: Option<Timestamp>,
    pub kept_at: Option<Timestamp>,
}

fn instant(at: Option<DateTime<Utc>>) -> Option<Timestamp> {
    at.and_then(|at| Timestamp::from_instant(at).ok())
}

impl RecordPromise {
    fn of(record: &RecordTerms, state: PromiseState) -> Option<RecordPromise> {
        Some(RecordPromise {
            record_id: record.record_id.clone(),
            reference: record.reference.clone(),
            kind: record.kind,
            promise: state.promise,
            clause: state.clause.to_string(),
            occurrence: state.occurrence,
            status: state.status,
            started_at: instant(Some(state.started_at))?,
            due_at: instant(state.due_at),
            due_soon_at: instant(state.due_soon_at),
            kept_at: instant(state.kept_at),
        })
    }

    fn key(&self) -> (String, PromiseId, u32) {
        (self.record_id.clone(), self.promise, self.occurrence)
    }
}

/// Most urgent first: overdue, due soon, due, unknown, broken, kept; then
/// by due time.
fn rank(status: PromiseStatus) -> u8 {
    match status {
        PromiseStatus::Overdue => 0,
        PromiseStatus::DueSoon => 1,
        PromiseStatus::Due => 2,
        PromiseStatus::Unknown => 3,
        PromiseStatus::Broken => 4,
        PromiseStatus::Kept => 5,
    }
}

/// Every promise of every record on the device (or of `only`), at `now`:
/// the terms the store keeps beside each record (`pledge::terms` of the
/// record, written with it), judged at `now` (`PromiseTerms::at`, what
/// `pledge::evaluate` does with a record's own), without reading any
/// document. A record that left the device (erased, wiped) has none; an
/// id that is not on the device is `NotFound`.
fn collect(
    shared: &Shared,
    only: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<RecordPromise>, ApiError> {
    let records = shared.store()?.promise_terms(only)?;
    Ok(records
        .iter()
        .flat_map(|record| {
            record
                .terms
                .iter()
                .filter_map(move |terms| RecordPromise::of(record, terms.at(now)))
        })
        .collect())
}

/// The device clock, or the app's.
fn now_of(at: Option<&Timestamp>) -> DateTime<Utc> {
    at.map_or_else(Utc::now, Timestamp::instant)
}

#[uniffi::export]
impl Notebook {
    /// The promises of the records on this device, most urgent first
    /// (overdue, due soon, due, unknown, broken, kept; then by due time).
    /// Works offline. `NotFound` for a `record_id` not on the device
    /// (never made here, or erased since).
    pub fn promises(&self, filter: PromiseFilter) -> Result<Vec<RecordPromise>, ApiError> {
        let now = now_of(filter.now.as_ref());
        let mut promises = collect(&self.shared, filter.record_id.as_deref(), now)?;
        promises.retain(|p| {
            filter
                .statuses
                .as_ref()
                .is_none_or(|wanted| wanted.contains(&p.status))
                && filter.due_by.as_ref().is_none_or(|by| {
                    p.due_at
                        .as_ref()
                        .is_some_and(|due| due.instant() <= by.instant())
                })
        });
        promises.sort_by(|a, b| {
            (rank(a.status), a.due_at.as_ref().map(Timestamp::instant))
                .cmp(&(rank(b.status), b.due_at.as_ref().map(Timestamp::instant)))
                .then_with(|| {
                    (&a.record_id, a.promise.as_str(), a.occurrence).cmp(&(
                        &b.record_id,
                        b.promise.as_str(),
                        b.occurrence,
                    ))
                })
        });
        Ok(promises)
    }

    /// Records the offence category of a scene or burglary record (what
    /// triggers the review and contact promises); may be recorded again.
    pub fn record_offence(
        &self,
        record_id: String,
        offence: OffenceCategory,
    ) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.set_offence(offence))
    }

    /// Records that a victim was updated, a review done or a contact made,
    /// at `made_at`, in this officer's name; returns the entry's id.
    /// Entries are never changed: see [`Notebook::correct_promise_entry`].
    pub fn record_promise_entry(
        &self,
        record_id: String,
        kind: PromiseEntryKind,
        made_at: Timestamp,
    ) -> Result<String, ApiError> {
        let entry = PromiseEntry {
            id: String::new(),
            kind,
            made_by: self.officer.shoulder_number.clone(),
            made_at,
            corrects: None,
            withdrawn: false,
        };
        self.edit(&record_id, |doc| doc.add_promise_entry(&entry))
    }

    /// Corrects the entry `entry_id`: a new entry of the same kind at
    /// `made_at` counts in its place, or, with `withdraw`, neither counts.
    /// The corrected entry stays as written. Returns the new entry's id.
    pub fn correct_promise_entry(
        &self,
        record_id: String,
        entry_id: String,
        made_at: Timestamp,
        withdraw: bool,
    ) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| {
            let kind = doc
                .body()?
                .scene()
                .and_then(|s| s.promise_entries.iter().find(|e| e.id == entry_id))
                .map(|e| e.kind)
                .ok_or_else(|| {
                    crate::document::DocumentError::Invalid(vec![crate::model::FieldViolation {
                        field: "promise_entries.corrects".into(),
                        problem: "no entry with this id in the record".into(),
                    }])
                })?;
            doc.add_promise_entry(&PromiseEntry {
                id: String::new(),
                kind,
                made_by: by,
                made_at,
                corrects: Some(entry_id),
                withdrawn: withdraw,
            })
        })
    }

    /// Watches the promises of this device's records: `listener` hears of
    /// each one that becomes due soon or overdue (see the module's notes
    /// on when checks run). `clock` is the device clock when `None`. Keep
    /// the watch to keep watching; [`PromiseWatch::cancel`] or dropping
    /// it stops it.
    pub fn watch_promises(
        &self,
        listener: Arc<dyn PromiseListener>,
        clock: Option<Arc<dyn PromiseClock>>,
    ) -> Arc<PromiseWatch> {
        let state = Arc::new(WatchState {
            shared: Arc::downgrade(&self.shared),
            listener,
            clock,
            seen: Mutex::new(None),
            cancelled: std::sync::atomic::AtomicBool::new(false),
        });
        let hook = Arc::new(WatchHook(Arc::downgrade(&state)));
        let subscription = self.subscribe(hook);
        Arc::new(PromiseWatch {
            state,
            subscription: Mutex::new(Some(subscription)),
        })
    }
}

/// The label an app shows for a promise's status.
#[uniffi::export]
pub fn promise_status_label(value: PromiseStatus) -> String {
    value.label().to_string()
}

/// The label an app shows for a promise.
#[uniffi::export]
pub fn promise_label(value: PromiseId) -> String {
    value.label().to_string()
}

/// Implemented by the app to hear when a promise becomes due soon or
/// overdue. Called on the thread of the check (the app's, or the core's
/// during a sync); throwing is harmless (see [`CallbackError`]).
#[uniffi::export(with_foreign)]
pub trait PromiseListener: Send + Sync {
    fn on_promise(&self, promise: RecordPromise) -> Result<(), CallbackError>;
}

/// The time a [`PromiseWatch`] judges at, when the app gives one (tests
/// give a clock they move; the device clock otherwise).
#[uniffi::export(with_foreign)]
pub trait PromiseClock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The status last seen of each promise, by record, promise and occurrence.
type Seen = HashMap<(String, PromiseId, u32), PromiseStatus>;

/// What a watch keeps between checks: the status it last saw of each
/// promise (`None` before its first full check).
struct WatchState {
    shared: Weak<Shared>,
    listener: Arc<dyn PromiseListener>,
    clock: Option<Arc<dyn PromiseClock>>,
    seen: Mutex<Option<Seen>>,
    cancelled: std::sync::atomic::AtomicBool,
}

impl WatchState {
    fn now(&self) -> DateTime<Utc> {
        match &self.clock {
            Some(clock) => clock.now().instant(),
            None => Utc::now(),
        }
    }

    /// Checks every promise (`record: None`) or one record's, tells the
    /// listener of those that became due soon or overdue, and returns them.
    fn check(&self, record: Option<&str>) -> Result<Vec<RecordPromise>, ApiError> {
        if self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        let shared = self.shared.upgrade().ok_or_else(ApiError::closed)?;
        let now = self.now();
        let current = match record {
            None => collect(&shared, None, now)?,
            Some(id) => match collect(&shared, Some(id), now) {
                Ok(promises) => promises,
                // The record left the device: it has no promises now.
                Err(ApiError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e),
            },
        };
        let alerts = {
            let mut seen = lock(&self.seen);
            if record.is_some() && seen.is_none() {
                // No full check yet: the first one announces everything.
                return Ok(Vec::new());
            }
            let seen = seen.get_or_insert_with(HashMap::new);
            // What was seen of the promises checked now; the rest stays.
            let previous: HashMap<_, _> = match record {
                None => std::mem::take(seen),
                Some(id) => {
                    let (mine, rest) = std::mem::take(seen)
                        .into_iter()
                        .partition(|((r, _, _), _)| r == id);
                    *seen = rest;
                    mine
                }
            };
            current
                .into_iter()
                .filter_map(|promise| {
                    let before = previous.get(&promise.key()).copied();
                    seen.insert(promise.key(), promise.status);
                    let alarming = matches!(
                        promise.status,
                        PromiseStatus::DueSoon | PromiseStatus::Overdue
                    );
                    (alarming && before != Some(promise.status)).then_some(promise)
                })
                .collect::<Vec<_>>()
        };
        for alert in &alerts {
            events::guarded("promise listener", || {
                self.listener.on_promise(alert.clone())
            });
        }
        Ok(alerts)
    }
}

/// A watch of the notebook's promises ([`Notebook::watch_promises`]).
#[derive(uniffi::Object)]
pub struct PromiseWatch {
    state: Arc<WatchState>,
    /// Its hook into the notebook's changes.
    subscription: Mutex<Option<Arc<Subscription>>>,
}

#[uniffi::export]
impl PromiseWatch {
    /// Checks every promise on the device now (by the watch's clock),
    /// tells the listener of each that became due soon or overdue since
    /// the last check, and returns them. Call it on the app's timer.
    /// `Closed` once the notebook is closed or wiped; nothing once the
    /// watch is cancelled.
    pub fn check(&self) -> Result<Vec<RecordPromise>, ApiError> {
        self.state.check(None)
    }

    /// Stops the watch: no check runs or tells anything again.
    pub fn cancel(&self) {
        self.state
            .cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(subscription) = lock(&self.subscription).take() {
            subscription.cancel();
        }
    }
}

impl Drop for PromiseWatch {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The watch's hook into the notebook's change events: a change re-checks
/// that record's promises (an erased record's are forgotten).
struct WatchHook(Weak<WatchState>);

impl ChangeListener for WatchHook {
    fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError> {
        if let Some(state) = self.0.upgrade()
            && let Err(e) = state.check(Some(&event.record_id))
        {
            // The next check (the app's timer) tries again; no content here.
            tracing::debug!(error = %e, "a promise check after a change failed");
        }
        Ok(())
    }
}

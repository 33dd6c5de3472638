//! A record's promises as they stand at a moment: which promises of the
//! table it triggers, when each started and falls due, and whether it is
//! due, due soon, overdue, kept or broken. One pure function,
//! [`evaluate`], that the handset (its list and its alerts) and the server
//! (overdue lists, gauges, published figures) both call, so the two never
//! disagree about a promise.
//!
//! Kept and broken depend only on what the record holds (an arrival, the
//! promise entries that count, the ticks and the departure), never on
//! `now`: a device clock that is far off can make an open promise look
//! due or overdue too early or too late, but never keeps or breaks one.
//! The rules are restated, with the Pledge's clauses, in
//! `docs/domain/promises.md` ("Status").

use chrono::{DateTime, TimeDelta, Utc};

use super::rules::{Clock, Due, Keeper, Promise, PromiseId, RecordFacts, Start, Terms};
use crate::model::{
    PromiseEntryKind, RecordBody, ResponseGrade, SceneAttendance, TickOutcome, counting_entries,
};

vocabulary! {
    /// Where one promise stands.
    PromiseStatus {
        /// Open, and not yet due soon.
        Due => "due",
        /// Open, and the due time is close ([`due_soon_from`]).
        DueSoon => "due soon",
        /// Open, and the due time has passed.
        Overdue => "overdue",
        /// What keeps it was recorded in time.
        Kept => "kept",
        /// What keeps it was recorded, but late (or the officer left
        /// without it).
        Broken => "broken",
        /// The due time cannot be computed: a working-day clock that runs
        /// past the bank-holiday table (`calendar::CalendarError`).
        Unknown => "unknown",
    }
}

impl PromiseStatus {
    /// Whether the promise is still waiting for what keeps it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PromiseStatus::Due | PromiseStatus::DueSoon | PromiseStatus::Overdue
        )
    }
}

/// One promise of one record at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromiseState {
    pub promise: PromiseId,
    /// The clause of `docs/domain/promises.md` it restates.
    pub clause: &'static str,
    /// Which occurrence: 0 for a promise made once; for victim updates
    /// (P4), the n-th interval since the agreement.
    pub occurrence: u32,
    pub started_at: DateTime<Utc>,
    /// When it falls due; `None` for "before leaving" (P9, due at the
    /// departure, which is `due_at` once recorded) and for `Unknown`.
    pub due_at: Option<DateTime<Utc>>,
    /// From when an open promise is due soon (`None` without a due time).
    pub due_soon_at: Option<DateTime<Utc>>,
    pub status: PromiseStatus,
    /// What kept it (or, late, closed it): the arrival, the entry's time,
    /// the last of the ticks.
    pub kept_at: Option<DateTime<Utc>>,
}

/// How long before its due time a promise is due soon: a quarter of its
/// clock (3 minutes of an emergency's 12, 6 hours of 24), at most 24 hours.
pub fn due_soon_from(started_at: DateTime<Utc>, due_at: DateTime<Utc>) -> DateTime<Utc> {
    let span = (due_at - started_at).max(TimeDelta::zero());
    due_at - (span / 4).min(TimeDelta::hours(24))
}

/// The status of an open promise at `now`: overdue after its due time,
/// due soon from [`due_soon_from`] to the due time itself (the due time
/// still keeps it), due before. A `now` before the start (a clock far
/// behind) is simply due.
pub fn open_status(
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> PromiseStatus {
    if now > due_at {
        PromiseStatus::Overdue
    } else if now >= due_soon_from(started_at, due_at) {
        PromiseStatus::DueSoon
    } else {
        PromiseStatus::Due
    }
}

/// What a promise of a record stands on apart from the clock: when it
/// started, falls due and is due soon, what kept it, and its status when
/// no clock can change it. [`terms`] reads them from a record;
/// [`PromiseTerms::at`] judges them at a moment. The device store keeps
/// each record's terms beside its row (`store/promise_terms.rs`), so its
/// promises screen judges them without reading the record: the same
/// function on the same terms, whichever source they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromiseTerms {
    pub promise: PromiseId,
    /// 0, or the n-th interval of victim updates (P4).
    pub occurrence: u32,
    pub started_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub due_soon_at: Option<DateTime<Utc>>,
    pub kept_at: Option<DateTime<Utc>>,
    /// Kept, broken, unknown, or due before leaving (P9): the status at
    /// any moment. `None`: open against `due_at`, judged by
    /// [`open_status`].
    pub settled: Option<PromiseStatus>,
}

impl PromiseTerms {
    /// The promise as it stands at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> PromiseState {
        let status = match (self.settled, self.due_at) {
            (Some(status), _) => status,
            (None, Some(due)) => open_status(self.started_at, due, now),
            // Never built (an open promise has its due time).
            (None, None) => PromiseStatus::Unknown,
        };
        PromiseState {
            promise: self.promise,
            clause: super::rules::promise(self.promise).clause,
            occurrence: self.occurrence,
            started_at: self.started_at,
            due_at: self.due_at,
            due_soon_at: self.due_soon_at,
            status,
            kept_at: self.kept_at,
        }
    }
}

/// Every promise the record triggers, as it stands at `now`, in the
/// table's order (victim updates in time order). Stop-search and
/// stop-account records trigger none.
pub fn evaluate(body: &RecordBody, now: DateTime<Utc>) -> Vec<PromiseState> {
    terms(body).iter().map(|t| t.at(now)).collect()
}

/// The terms of every promise the record triggers (what [`evaluate`]
/// judges), in the table's order (victim updates in time order).
pub fn terms(body: &RecordBody) -> Vec<PromiseTerms> {
    let Some(scene) = body.scene() else {
        return Vec::new();
    };
    let facts = RecordFacts::of(body);
    let call = scene.call_received.instant();
    let mut states = Vec::new();
    for promise in super::rules::triggered_by(&facts) {
        let terms = Terms {
            appointment: scene.appointment.as_ref().map(|a| a.instant()),
            every_days: scene
                .updates
                .as_ref()
                .and_then(|u| u32::try_from(u.every_days).ok()),
        };
        let start = match promise.start {
            Start::Arrival => scene.arrived.as_ref().map_or(call, |a| a.instant()),
            Start::CallReceived | Start::AgreementOrLastUpdate | Start::CommentReceived => call,
        };
        match promise.kept_by {
            Keeper::Arrival => {
                let arrived = scene.arrived.as_ref().map(|a| a.instant());
                states.push(once(promise, start, &terms, arrived));
            }
            Keeper::Review => {
                let review = first_entry(scene, PromiseEntryKind::ReviewDone);
                states.push(once(promise, start, &terms, review));
            }
            Keeper::Contact => {
                let contact = first_entry(scene, PromiseEntryKind::ContactMade);
                states.push(once(promise, start, &terms, contact));
            }
            Keeper::VictimUpdate => updates(promise, scene, &terms, &mut states),
            Keeper::Ticked(items) => {
                if let Some(state) = before_leaving(promise, scene, start, items) {
                    states.push(state);
                }
            }
            // No record kind holds a comment (P8 triggers on none).
            Keeper::Acknowledgement => {}
        }
    }
    states
}

fn state(promise: &Promise, occurrence: u32, started_at: DateTime<Utc>) -> PromiseTerms {
    PromiseTerms {
        promise: promise.id,
        occurrence,
        started_at,
        due_at: None,
        due_soon_at: None,
        kept_at: None,
        settled: Some(PromiseStatus::Unknown),
    }
}

/// A promise kept once, by the first `keeping` event.
fn once(
    promise: &Promise,
    start: DateTime<Utc>,
    terms: &Terms,
    keeping: Option<DateTime<Utc>>,
) -> PromiseTerms {
    timed(promise, 0, start, promise.clock, terms, keeping)
}

fn timed(
    promise: &Promise,
    occurrence: u32,
    start: DateTime<Utc>,
    clock: Clock,
    terms: &Terms,
    keeping: Option<DateTime<Utc>>,
) -> PromiseTerms {
    let mut s = state(promise, occurrence, start);
    s.kept_at = keeping;
    let Ok(Due::At(due)) = clock.due(start, terms) else {
        return s;
    };
    s.due_at = Some(due);
    s.due_soon_at = Some(due_soon_from(start, due));
    s.settled = match keeping {
        Some(at) if at <= due => Some(PromiseStatus::Kept),
        Some(_) => Some(PromiseStatus::Broken),
        None => None,
    };
    s
}

/// The earliest counting entry of `kind` (corrections applied).
fn first_entry(scene: &SceneAttendance, kind: PromiseEntryKind) -> Option<DateTime<Utc>> {
    counting_entries(&scene.promise_entries)
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.made_at.instant())
        .min()
}

/// P4: one occurrence per interval. The clock starts at the agreement
/// (never before the call; at the call for an agreement recorded without
/// its time), then again at each update; each update keeps the interval
/// it ends (or breaks it, late); the last interval is open.
fn updates(
    promise: &Promise,
    scene: &SceneAttendance,
    terms: &Terms,
    states: &mut Vec<PromiseTerms>,
) {
    let call = scene.call_received.instant();
    let mut start = scene
        .updates_agreed_at
        .as_ref()
        .map_or(call, |a| a.instant())
        .max(call);
    let mut given: Vec<DateTime<Utc>> = counting_entries(&scene.promise_entries)
        .into_iter()
        .filter(|e| e.kind == PromiseEntryKind::VictimUpdated)
        .map(|e| e.made_at.instant())
        .filter(|at| *at >= start)
        .collect();
    given.sort();
    given.dedup();
    let mut occurrence = 0;
    for at in given {
        let s = timed(promise, occurrence, start, promise.clock, terms, Some(at));
        let unknown = s.settled == Some(PromiseStatus::Unknown);
        states.push(s);
        if unknown {
            return;
        }
        start = at;
        occurrence += 1;
    }
    states.push(timed(
        promise,
        occurrence,
        start,
        promise.clock,
        terms,
        None,
    ));
}

/// P9: kept when each item's latest tick is `done` (at or before the
/// departure, once one is recorded); broken when the officer left
/// without; due until then. A burglary reported but not attended has no
/// visit to leave, so no such promise.
fn before_leaving(
    promise: &Promise,
    scene: &SceneAttendance,
    start: DateTime<Utc>,
    items: &[crate::model::ChecklistItem],
) -> Option<PromiseTerms> {
    if scene.grade == ResponseGrade::NotAttended {
        return None;
    }
    let latest = scene.latest_ticks();
    let done: Option<Vec<DateTime<Utc>>> = items
        .iter()
        .map(|item| {
            latest
                .iter()
                .find(|t| t.item == *item && t.outcome == TickOutcome::Done)
                .map(|t| t.ticked_at.instant())
        })
        .collect();
    let done_at = done.and_then(|times| times.into_iter().max());
    let left = scene.left.as_ref().map(|l| l.instant());
    let mut s = state(promise, 0, start);
    s.due_at = left;
    s.kept_at = done_at;
    s.settled = Some(match (done_at, left) {
        (Some(done), Some(left)) if done <= left => PromiseStatus::Kept,
        (_, Some(_)) => PromiseStatus::Broken,
        (Some(_), None) => PromiseStatus::Kept,
        (None, None) => PromiseStatus::Due,
    });
    Some(s)
}

#[cfg(test)]
mod tests;

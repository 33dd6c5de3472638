//! How long records are kept, and the job that erases them.
//!
//! Stop and search and stop and account records are kept 12 months from the
//! encounter (`docs/domain/retention.md`), then erased everywhere: on the server in one
//! transaction per record (document, changes, feed entries; a content-free
//! tombstone stays so a stale device cannot bring it back), and on devices
//! through an `erased` feed entry. Scene and burglary records follow a
//! configured period, by default none (not erased automatically). Records on
//! legal hold are never erased. The job runs on a schedule inside the server
//! and on demand (`admin retention run [--dry-run]`); the clock is injected,
//! so tests jump a year without sleeping. Before a record is erased, the
//! published figures of its month are frozen (`crate::figures`), so the
//! erasure changes no published number; and each run freezes the newest
//! published month if nobody has asked for it yet. A run whose clock
//! jumped ahead of the last trusted run erases nothing until an admin
//! confirms the clock ([`guard`]).

pub mod guard;

use chrono::{DateTime, Months, Utc};
use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::RetentionTerms;
use serde_json::json;

use crate::audit::{self, Action};
use crate::clock::index_time;
use crate::clock::stamp;
use crate::storage::{RecordIndex, Storage, StorageError};
use guard::{ClockState, Verdict};

/// Records erased per storage call; the job loops until none are due.
const BATCH: u32 = 500;
/// Copy attempts are kept this long for the rate limits, then forgotten.
const ATTEMPTS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(2);

/// How long each kind is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RetentionPolicy {
    /// Stop and search, stop and account: months after the encounter.
    pub encounter_months: u32,
    /// Scene attendance and home burglary: days after the call, or never.
    pub attendance_days: Option<u32>,
    /// How far (hours) the clock may be ahead of the last trusted run
    /// before the job stops erasing and waits for an admin ([`guard`]).
    pub clock_step_hours: u32,
}

/// The default of [`RetentionPolicy::clock_step_hours`]: four days, so a
/// server down over a long weekend comes back erasing on its own, and a
/// jump smaller than this erases at most four days early
/// (`docs/retention-clock.md`).
pub const DEFAULT_CLOCK_STEP_HOURS: u32 = 96;

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            encounter_months: 12,
            attendance_days: None,
            clock_step_hours: DEFAULT_CLOCK_STEP_HOURS,
        }
    }
}

impl RetentionPolicy {
    /// The policy as devices are told it in sync answers, and the one rule
    /// of when a record falls due, which both ends count with.
    pub fn terms(&self) -> RetentionTerms {
        RetentionTerms {
            encounter_months: self.encounter_months,
            attendance_days: self.attendance_days,
        }
    }

    /// For each group of kinds, the instant before which its records are due.
    fn cutoffs(&self, now: DateTime<Utc>) -> Vec<(&'static [RecordKind], DateTime<Utc>)> {
        const GROUPS: [&[RecordKind]; 2] = [
            &[RecordKind::StopSearch, RecordKind::StopAccount],
            &[RecordKind::SceneAttendance, RecordKind::HomeBurglary],
        ];
        GROUPS
            .into_iter()
            .filter_map(|kinds| Some((kinds, self.due_before(kinds[0], now)?)))
            .collect()
    }

    /// Before this instant a record of `kind` is already due for erasure
    /// (`None` if the kind is kept indefinitely): the server refuses to
    /// accept such a record, it would only be erased again.
    pub fn due_before(&self, kind: RecordKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.terms().due_before(kind, now)
    }

    /// How far the clock may move ahead of the trusted reference.
    pub fn clock_step(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::hours(i64::from(self.clock_step_hours))
    }

    /// The first day a copy can no longer exist: the start of the window.
    pub fn encounter_window_start(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_sub_months(Months::new(self.encounter_months))
    }
}

/// The retention bounds at one instant, each kind's computed once, for
/// asking of many records (a feed page) whether each is past its period.
#[derive(Debug, Clone)]
pub struct Deadlines {
    policy: RetentionPolicy,
    now: DateTime<Utc>,
    /// Each kind asked so far, with the [`index_time`] before which it is
    /// due (`None`: kept indefinitely).
    cutoffs: Vec<(RecordKind, Option<String>)>,
}

impl Deadlines {
    pub fn new(policy: &RetentionPolicy, now: DateTime<Utc>) -> Self {
        Deadlines {
            policy: *policy,
            now,
            cutoffs: Vec::new(),
        }
    }

    /// Whether a record of `kind` that occurred at `occurred_at` (as the
    /// store keeps it, in [`index_time`]'s form) is past its period: the
    /// comparison `retention_due` makes, so it says exactly what the job
    /// would erase now (a legal hold aside, which the caller asks).
    pub fn passed(&mut self, kind: RecordKind, occurred_at: &str) -> bool {
        let at = match self.cutoffs.iter().position(|(k, _)| *k == kind) {
            Some(at) => at,
            None => {
                let cutoff = self.policy.due_before(kind, self.now).map(index_time);
                self.cutoffs.push((kind, cutoff));
                self.cutoffs.len() - 1
            }
        };
        self.cutoffs[at]
            .1
            .as_deref()
            .is_some_and(|cutoff| occurred_at < cutoff)
    }
}

/// One record the job erased (or would erase): ids and times only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Due {
    pub record_id: String,
    pub kind: RecordKind,
    pub occurred_at: String,
}

impl From<RecordIndex> for Due {
    fn from(index: RecordIndex) -> Self {
        Due {
            record_id: index.id,
            kind: index.kind,
            occurred_at: index.occurred_at,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    pub ran_at: String,
    pub dry_run: bool,
    /// Erased, or (dry run) due for erasure.
    pub records: Vec<Due>,
    /// Records on legal hold, kept whatever their age.
    pub legal_holds: usize,
    /// The clock against the trusted reference: when `ahead`, the run
    /// erased nothing ([`guard`]).
    pub clock: ClockState,
}

/// The name the schedule claims its periods under ([`Storage`]'s `claim_run`).
pub const JOB: &str = "retention";

/// The scheduled run at `now`, for the schedule period of length `every`
/// that `now` falls in: the first instance to claim the period runs the
/// job (as `system`), every other one (on the same store) finds it
/// claimed and returns `None`, so retention runs once per period whichever
/// instances are up.
pub fn run_scheduled(
    storage: &dyn Storage,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    every: std::time::Duration,
) -> Result<Option<RetentionReport>, StorageError> {
    let every = i64::try_from(every.as_secs()).unwrap_or(i64::MAX).max(1);
    let period = now.timestamp().div_euclid(every);
    if !storage.claim_run(JOB, period, &stamp(now))? {
        return Ok(None);
    }
    run(storage, policy, now, audit::actor::SYSTEM, false, false).map(Some)
}

/// Runs the job once at `now`. `actor` is who asked (`system` for the
/// schedule, `admin` on demand); each erasure is audited in its own
/// transaction. The clock is checked first ([`guard::check`]): a clock
/// too far ahead of the last trusted run erases nothing, unless
/// `confirm_clock` (an admin confirmed it, audited). A dry run writes
/// nothing, the clock's check included.
pub fn run(
    storage: &dyn Storage,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    actor: &str,
    dry_run: bool,
    confirm_clock: bool,
) -> Result<RetentionReport, StorageError> {
    let at = stamp(now);
    let clock = match guard::check(
        storage,
        policy.clock_step(),
        now,
        actor,
        confirm_clock,
        dry_run,
    )? {
        Verdict::Erase(state) => state,
        Verdict::Hold(state) => {
            return Ok(RetentionReport {
                ran_at: at,
                dry_run,
                records: Vec::new(),
                legal_holds: storage.legal_holds()?.len(),
                clock: state,
            });
        }
    };
    let mut records = Vec::new();
    for (kinds, cutoff) in policy.cutoffs(now) {
        let cutoff = index_time(cutoff);
        if dry_run {
            records.extend(
                storage
                    .retention_due(kinds, &cutoff, u32::MAX)?
                    .into_iter()
                    .map(Due::from),
            );
            continue;
        }
        loop {
            let due = storage.retention_due(kinds, &cutoff, BATCH)?;
            if due.is_empty() {
                break;
            }
            // The published figures of these records' months are frozen
            // first, so erasing them changes no published number.
            let times: Vec<String> = due.iter().map(|i| i.occurred_at.clone()).collect();
            crate::figures::freeze_before_erasure(storage, storage, &times, now, actor)?;
            for index in due {
                let event = audit::event(
                    actor,
                    Action::RecordErased,
                    Some(&index.id),
                    json!({"kind": index.kind.as_str(), "reason": "retention"}),
                );
                match storage.erase_record(&index.id, &at, "retention", &[event]) {
                    Ok(()) => records.push(Due::from(index)),
                    // Held or erased since it was listed: not this run's to erase.
                    Err(StorageError::Conflict | StorageError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if !dry_run {
        // The month published last is counted here, on the schedule,
        // rather than by its first visitor.
        crate::figures::freeze_latest(storage, now, actor)?;
        storage.prune_attempts((now - ATTEMPTS_KEPT).timestamp())?;
        if !records.is_empty() {
            // Nothing of an erased record stays readable in the files.
            storage.scrub()?;
        }
    }
    if !records.is_empty() {
        tracing::info!(records = records.len(), dry_run, "retention run");
    }
    Ok(RetentionReport {
        ran_at: at,
        dry_run,
        records,
        legal_holds: storage.legal_holds()?.len(),
        clock,
    })
}

/// Confirms the clock at `now` without running the job: the reference
/// becomes `now` and a held clock is released (audited); the next run
/// erases by it.
pub fn confirm_clock(
    storage: &dyn Storage,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<ClockState, StorageError> {
    let was = guard::judge(
        storage.retention_clock()?.as_ref(),
        now,
        policy.clock_step(),
    );
    guard::check(storage, policy.clock_step(), now, actor, true, false)?;
    Ok(was)
}

/// The clock's standing now, for an admin and the metrics: the stored
/// reference and the state a run at `now` would find.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClockStatus {
    pub now: String,
    /// The newest time a run trusted; `None` before the first run.
    pub reference: Option<String>,
    /// When a run found the clock too far ahead and erased nothing.
    pub held_at: Option<String>,
    pub state: ClockState,
}

pub fn clock_status(
    storage: &dyn Storage,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<ClockStatus, StorageError> {
    let reference = storage.retention_clock()?;
    Ok(ClockStatus {
        now: stamp(now),
        state: guard::judge(reference.as_ref(), now, policy.clock_step()),
        held_at: reference.as_ref().and_then(|r| r.held.clone()),
        reference: reference.map(|r| r.trusted),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encounters_are_due_after_twelve_months_and_scenes_never_by_default() {
        let now: DateTime<Utc> = "2027-11-29T12:00:00Z".parse().unwrap();
        let cutoffs = RetentionPolicy::default().cutoffs(now);
        assert_eq!(cutoffs.len(), 1);
        assert_eq!(
            cutoffs[0].1,
            "2026-11-29T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let with_scenes = RetentionPolicy {
            attendance_days: Some(30),
            ..RetentionPolicy::default()
        };
        assert_eq!(with_scenes.cutoffs(now).len(), 2);
    }
}

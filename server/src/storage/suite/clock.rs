//! The retention job's trusted reference of time (`crate::retention::guard`)
//! on every backend, through two handles on one store (two instances): the
//! reference is the store's, never a process's; it never moves back but
//! by a confirmation; a held clock is audited once; and the guarded job
//! run through either handle erases nothing early when one instance's
//! clock jumps a year.

use std::path::Path;

use super::retention::record_at;
use super::*;
use crate::retention::guard::ClockState;
use crate::retention::{self, RetentionPolicy};

const HELD: &str = "retention-clock-held";
const CONFIRMED: &str = "retention-clock-confirmed";

fn event(action: Action) -> Vec<NewAuditEvent> {
    vec![crate::audit::event(
        "system",
        action,
        None,
        serde_json::json!({}),
    )]
}

fn reference(store: &dyn Storage) -> Option<RetentionClock> {
    store.retention_clock().unwrap()
}

/// `retention_clock`, `trust_clock`, `hold_clock`, across two handles.
pub(crate) fn reference_shared(make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (make(dir.path()), make(dir.path()));
    assert_eq!(reference(a.as_ref()), None, "no reference before a run");
    // Nothing to hold against yet: nothing written, nothing audited.
    assert!(
        !a.hold_clock(
            "2027-01-01T00:00:00.000Z",
            &event(Action::RetentionClockHeld)
        )
        .unwrap()
    );
    assert_eq!(
        (reference(a.as_ref()), events_of(a.as_ref(), HELD)),
        (None, 0)
    );

    a.trust_clock("2026-11-28T10:00:00.000Z", false, &[])
        .unwrap();
    let trusted = |at: &str| RetentionClock {
        trusted: at.into(),
        held: None,
    };
    assert_eq!(
        reference(b.as_ref()),
        Some(trusted("2026-11-28T10:00:00.000Z"))
    );
    // A run with an earlier clock does not move the reference back.
    b.trust_clock("2026-11-01T10:00:00.000Z", false, &[])
        .unwrap();
    assert_eq!(
        reference(a.as_ref()),
        Some(trusted("2026-11-28T10:00:00.000Z"))
    );
    b.trust_clock("2026-11-28T11:00:00.000Z", false, &[])
        .unwrap();
    assert_eq!(
        reference(a.as_ref()),
        Some(trusted("2026-11-28T11:00:00.000Z"))
    );

    // Held once, audited once, whichever handle asks again.
    let jumped = "2027-11-28T11:00:00.000Z";
    assert!(
        b.hold_clock(jumped, &event(Action::RetentionClockHeld))
            .unwrap()
    );
    assert!(
        !a.hold_clock(
            "2027-11-28T12:00:00.000Z",
            &event(Action::RetentionClockHeld)
        )
        .unwrap()
    );
    assert_eq!(events_of(a.as_ref(), HELD), 1);
    let held = reference(a.as_ref()).unwrap();
    assert_eq!(held.held.as_deref(), Some(jumped));
    assert_eq!(
        held.trusted, "2026-11-28T11:00:00.000Z",
        "a hold trusts nothing"
    );

    // A confirmation sets the reference exactly, back as well as forward,
    // clears the hold, and is audited with it.
    a.trust_clock(
        "2026-11-20T00:00:00.000Z",
        true,
        &event(Action::RetentionClockConfirmed),
    )
    .unwrap();
    assert_eq!(
        reference(b.as_ref()),
        Some(trusted("2026-11-20T00:00:00.000Z"))
    );
    assert_eq!(events_of(b.as_ref(), CONFIRMED), 1);
}

/// The guarded job on two instances of one store: the one whose clock
/// jumped a year erases nothing and holds the clock for both; the one with
/// a true clock goes on erasing on time and trusts the clock again; an
/// admin's confirmation lets the jumped one erase.
pub(crate) fn jump_on_one_instance(make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let (good, jumped) = (make(dir.path()), make(dir.path()));
    let policy = RetentionPolicy::default();
    let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    // Due on 2027-11-28 10:00 (12 months after the encounter).
    good.commit_record(&record_at(
        "search",
        RecordKind::StopSearch,
        "2026-11-28T10:00:00Z",
    ))
    .unwrap();
    let run = |store: &dyn Storage, now: &str| {
        retention::run(store, &policy, at(now), "system", false, false).unwrap()
    };
    assert!(
        run(good.as_ref(), "2026-12-01T00:00:00Z")
            .records
            .is_empty()
    );

    let report = run(jumped.as_ref(), "2027-12-01T00:00:00Z");
    assert!(report.records.is_empty(), "a clock a year ahead erased");
    assert!(report.clock.is_ahead());
    assert!(good.record("search").unwrap().is_some());
    assert_eq!(events_of(good.as_ref(), HELD), 1);
    assert!(reference(good.as_ref()).unwrap().held.is_some());

    // The instance with a true clock, an hour on: within the step, trusted
    // (the hold it clears is audited), and nothing of the search is due.
    let report = run(good.as_ref(), "2026-12-01T01:00:00Z");
    assert_eq!(report.clock, ClockState::Trusted);
    assert!(report.records.is_empty());
    assert_eq!(reference(jumped.as_ref()).unwrap().held, None);
    assert_eq!(events_of(good.as_ref(), CONFIRMED), 1);

    // The jumped instance still erases nothing until an admin confirms.
    assert!(
        run(jumped.as_ref(), "2027-12-01T01:00:00Z")
            .records
            .is_empty()
    );
    let confirmed = retention::run(
        jumped.as_ref(),
        &policy,
        at("2027-12-01T02:00:00Z"),
        "admin",
        false,
        true,
    )
    .unwrap();
    assert_eq!(confirmed.records.len(), 1);
    assert!(good.record("search").unwrap().is_none());
    assert_eq!(events_of(good.as_ref(), CONFIRMED), 2);
}

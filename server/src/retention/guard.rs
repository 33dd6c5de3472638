//! The retention job does not trust a clock that jumped.
//!
//! Erasure is irreversible, and the server's clock decides what is due: a
//! clock set a year ahead (a bad NTP answer, a typo, a virtual machine
//! restored with a wrong clock) would erase every record then "due" at the
//! next run, months early, and devices, which count with the latest
//! `server_time` they heard, would follow. So the job keeps a trusted
//! reference of time in the store ([`RetentionClock`], one row shared by
//! every instance): the newest time a run trusted. A run whose clock is
//! more than the configured step ahead of it erases nothing: it marks the
//! clock held (audited once), logs and shows it in the metrics, and waits
//! for an admin to confirm the clock (`admin retention confirm-clock`, or
//! `admin retention run --confirm-clock`; audited). A clock behind the
//! reference erases by its own earlier time, which is never early; the
//! reference does not move back. While the clock is ahead, sync answers
//! carry the reference instead of the clock's time ([`reported_time`]), so
//! devices erase later, never earlier. `docs/retention-clock.md` says why
//! the step is what it is.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::audit::{self, Action};
use crate::clock::stamp;
use crate::storage::{RetentionClock, Storage, StorageError};

/// How a run's clock compares with the store's trusted reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ClockState {
    /// Within the step of the reference (or no reference yet): trusted.
    Trusted,
    /// More than the step ahead of the reference: nothing is erased until
    /// the clock comes back or an admin confirms it.
    Ahead {
        reference: String,
        ahead_seconds: i64,
    },
    /// More than the step behind the reference: erasing by this clock is
    /// late, never early, so the job runs; an admin should set the clock.
    Behind {
        reference: String,
        behind_seconds: i64,
    },
}

impl ClockState {
    pub fn is_ahead(&self) -> bool {
        matches!(self, ClockState::Ahead { .. })
    }

    /// The state in words, as the admin command line and the readiness
    /// check show it.
    pub fn in_words(&self) -> String {
        match self {
            ClockState::Trusted => "trusted".to_string(),
            ClockState::Ahead {
                reference,
                ahead_seconds,
            } => format!(
                "{} hour(s) ahead of the last trusted run ({reference})",
                ahead_seconds / 3600
            ),
            ClockState::Behind {
                reference,
                behind_seconds,
            } => format!(
                "{} hour(s) behind the last trusted run ({reference}): records are erased late",
                behind_seconds / 3600
            ),
        }
    }
}

/// The reference as an instant; a value this server did not write (it
/// only writes [`stamp`]s) counts as no reference, logged.
fn reference_instant(clock: &RetentionClock) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(&clock.trusted).ok();
    if parsed.is_none() {
        tracing::error!("the retention clock's reference is unreadable; it is set again");
    }
    parsed.map(|t| t.with_timezone(&Utc))
}

/// Judges `now` against the stored reference, with the allowed `step`.
pub fn judge(
    reference: Option<&RetentionClock>,
    now: DateTime<Utc>,
    step: TimeDelta,
) -> ClockState {
    let Some((clock, at)) = reference.and_then(|c| Some((c, reference_instant(c)?))) else {
        return ClockState::Trusted;
    };
    let gap = now.signed_duration_since(at);
    if gap > step {
        ClockState::Ahead {
            reference: clock.trusted.clone(),
            ahead_seconds: gap.num_seconds(),
        }
    } else if -gap > step {
        ClockState::Behind {
            reference: clock.trusted.clone(),
            behind_seconds: (-gap).num_seconds(),
        }
    } else {
        ClockState::Trusted
    }
}

/// The time a sync answer reports as the server's (`server_time`): `now`,
/// unless `now` is more than `step` ahead of the trusted reference, then
/// the reference. A device counts retention from the latest server time
/// it heard, so a reported time at or before the true time makes it erase
/// on time or later, never earlier.
pub fn reported_time(
    reference: Option<&RetentionClock>,
    now: DateTime<Utc>,
    step: TimeDelta,
) -> DateTime<Utc> {
    match (
        judge(reference, now, step),
        reference.and_then(reference_instant),
    ) {
        (ClockState::Ahead { .. }, Some(at)) => at,
        _ => now,
    }
}

/// What a guarded run may do: erase at `now`, or nothing.
pub(super) enum Verdict {
    Erase(ClockState),
    Hold(ClockState),
}

/// Checks the clock before a run at `now` (`confirm`: an admin confirmed
/// it) and writes what the check found, unless `dry_run`: a trusted clock
/// moves the reference forward (never back), a confirmed one sets it, a
/// clock too far ahead is marked held, audited the first time.
pub(super) fn check(
    storage: &dyn Storage,
    step: TimeDelta,
    now: DateTime<Utc>,
    actor: &str,
    confirm: bool,
    dry_run: bool,
) -> Result<Verdict, StorageError> {
    let reference = storage.retention_clock()?;
    let state = judge(reference.as_ref(), now, step);
    let at = stamp(now);
    let previous = reference.as_ref().map(|r| r.trusted.clone());
    if confirm {
        if !dry_run {
            let event = audit::event(
                actor,
                Action::RetentionClockConfirmed,
                None,
                json!({"reference": previous, "now": at, "was": state}),
            );
            storage.trust_clock(&at, true, &[event])?;
            tracing::warn!(clock = %at, "the retention clock was confirmed by an admin");
        }
        return Ok(Verdict::Erase(ClockState::Trusted));
    }
    if let ClockState::Ahead { ahead_seconds, .. } = &state {
        tracing::error!(
            clock = %at,
            reference = previous.as_deref().unwrap_or_default(),
            ahead_seconds,
            "the clock is further ahead of the last trusted retention run than the allowed step: \
             nothing is erased until an admin confirms the clock (admin retention confirm-clock)"
        );
        if !dry_run {
            let event = audit::event(
                actor,
                Action::RetentionClockHeld,
                None,
                json!({"reference": previous, "now": at, "ahead_seconds": ahead_seconds}),
            );
            storage.hold_clock(&at, &[event])?;
        }
        return Ok(Verdict::Hold(state));
    }
    if let ClockState::Behind { behind_seconds, .. } = &state {
        tracing::warn!(
            clock = %at,
            reference = previous.as_deref().unwrap_or_default(),
            behind_seconds,
            "the clock is behind the last trusted retention run: records are erased late until it is set right"
        );
    }
    if !dry_run {
        // A clock held before and within the step again (set right, or
        // another instance with a good clock) is trusted again: audited.
        let events = match reference.as_ref().and_then(|r| r.held.as_ref()) {
            Some(held) => vec![audit::event(
                actor,
                Action::RetentionClockConfirmed,
                None,
                json!({"reference": previous, "now": at, "held_at": held, "by": "clock-within-step"}),
            )],
            None => Vec::new(),
        };
        storage.trust_clock(&at, false, &events)?;
    }
    Ok(Verdict::Erase(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_clock_within_the_step_is_trusted_and_one_beyond_it_is_not() {
        let reference = RetentionClock {
            trusted: "2026-11-28T12:00:00.000Z".into(),
            held: None,
        };
        let step = TimeDelta::hours(96);
        let r = Some(&reference);
        assert_eq!(
            judge(None, at("2099-01-01T00:00:00Z"), step),
            ClockState::Trusted
        );
        assert_eq!(
            judge(r, at("2026-12-02T12:00:00Z"), step),
            ClockState::Trusted
        );
        assert!(judge(r, at("2026-12-02T12:00:01Z"), step).is_ahead());
        assert!(matches!(
            judge(r, at("2026-11-24T11:59:59Z"), step),
            ClockState::Behind { .. }
        ));
        assert_eq!(
            reported_time(r, at("2027-11-28T12:00:00Z"), step),
            at("2026-11-28T12:00:00Z")
        );
        assert_eq!(
            reported_time(r, at("2026-11-29T12:00:00Z"), step),
            at("2026-11-29T12:00:00Z")
        );
        assert_eq!(
            reported_time(r, at("2025-11-29T12:00:00Z"), step),
            at("2025-11-29T12:00:00Z")
        );
    }
}

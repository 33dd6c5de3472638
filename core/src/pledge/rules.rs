//! The Pledge's promises as one typed table: for each promise, what
//! triggers it (record kind, response grade, offence category, an update
//! agreement), when its clock starts, how long the clock runs (minutes,
//! hours, calendar days, working days, an appointment, an agreed interval,
//! or before the officer leaves), and what keeps it. Each row cites the
//! clause of `docs/domain/promises.md` that restates the Pledge's wording;
//! a test checks that every clause cited is there and every clause there
//! is in the table.
//!
//! This is the rule both ends will compute promises from (the handset's
//! list of what is due, the server's overdue lists and published figures),
//! so it lives in the shared core, free of storage and I/O. The offence
//! category and the promise entries that keep promises are fields of the
//! record (`model::OffenceCategory`, `model::PromiseEntry`); `evaluate`
//! applies this table to a record.

use chrono::{DateTime, TimeDelta, Utc};

use super::calendar::{self, CalendarError};
pub use crate::model::OffenceCategory;
use crate::model::{ChecklistItem, RecordBody, RecordKind, ResponseGrade};

vocabulary! {
    /// The promises, one per row of [`PROMISES`] (the text is what the
    /// CLI, the JSON and the apps' labels show).
    PromiseId {
        EmergencyAttendance => "emergency attendance",
        PriorityAttendance => "priority attendance",
        AppointmentAttendance => "appointment attendance",
        VictimUpdate => "victim update",
        SeriousAssaultReview => "serious assault review",
        DomesticViolenceContact => "domestic violence contact",
        RoadTrafficCollisionContact => "road-traffic collision contact",
        CommentAcknowledged => "comment acknowledged",
        BurglaryBeforeLeaving => "burglary before leaving",
    }
}

/// When a promise applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A record of one of `kinds`; when set, also with this grade, this
    /// offence category, and an update agreement.
    Record {
        kinds: &'static [RecordKind],
        grade: Option<ResponseGrade>,
        offence: Option<OffenceCategory>,
        needs_agreement: bool,
    },
    /// A comment about the Pledge from a member of the public (no record
    /// kind holds one yet).
    Comment,
}

/// What a record shows about itself, for matching triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFacts {
    pub kind: RecordKind,
    pub grade: Option<ResponseGrade>,
    pub offence: Option<OffenceCategory>,
    pub has_agreement: bool,
}

impl RecordFacts {
    /// The facts of a record: kind, grade, offence category and update
    /// agreement, as the record holds them.
    pub fn of(body: &RecordBody) -> Self {
        let scene = match body {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                Some(scene)
            }
            RecordBody::StopSearch { .. } | RecordBody::StopAccount { .. } => None,
        };
        RecordFacts {
            kind: body.kind(),
            grade: scene.map(|s| s.grade),
            offence: scene.and_then(|s| s.offence),
            has_agreement: scene.is_some_and(|s| s.updates.is_some()),
        }
    }
}

impl Trigger {
    /// Whether a record with these facts triggers the promise.
    pub fn matches(&self, facts: &RecordFacts) -> bool {
        match *self {
            Trigger::Comment => false,
            Trigger::Record {
                kinds,
                grade,
                offence,
                needs_agreement,
            } => {
                kinds.contains(&facts.kind)
                    && grade.is_none_or(|g| facts.grade == Some(g))
                    && offence.is_none_or(|o| facts.offence == Some(o))
                    && (!needs_agreement || facts.has_agreement)
            }
        }
    }
}

/// Where a promise's clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The call or report was received (`call_received`).
    CallReceived,
    /// The update agreement was made, then each update given.
    AgreementOrLastUpdate,
    /// The comment was received.
    CommentReceived,
    /// The officer arrived.
    Arrival,
}

/// How long a promise's clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Minutes(u32),
    Hours(u32),
    /// Calendar days, at the same UK local time of day.
    CalendarDays(u32),
    /// Working days in England and Wales (`calendar::add_working_days`).
    WorkingDays(u32),
    /// At the appointment agreed with the caller, itself no later than
    /// `within_hours` after the start.
    Appointment {
        within_hours: u32,
    },
    /// Every interval agreed with the victim (in days), and never longer
    /// than `max_days`.
    AgreedInterval {
        max_days: u32,
    },
    /// Before the officer leaves (the recorded departure).
    BeforeLeaving,
}

/// What a record agreed that a clock depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terms {
    /// The appointment agreed with the caller (`Clock::Appointment`).
    pub appointment: Option<DateTime<Utc>>,
    /// The agreed interval between updates, in days (`Clock::AgreedInterval`).
    pub every_days: Option<u32>,
}

/// When a promise falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    At(DateTime<Utc>),
    /// When the officer leaves: kept or not by what is recorded by then.
    OnLeaving,
}

impl Clock {
    /// When a promise started at `start` falls due. An appointment later
    /// than the clock allows, or none, is due at the clock's limit; an
    /// agreed interval longer than the maximum, or none, is the maximum
    /// (the record's own validation refuses both; the promise never
    /// stretches).
    pub fn due(&self, start: DateTime<Utc>, terms: &Terms) -> Result<Due, CalendarError> {
        let after = |delta: TimeDelta| {
            start
                .checked_add_signed(delta)
                .map(Due::At)
                .ok_or(CalendarError::OutOfRange)
        };
        match *self {
            Clock::Minutes(n) => after(TimeDelta::minutes(i64::from(n))),
            Clock::Hours(n) => after(TimeDelta::hours(i64::from(n))),
            Clock::CalendarDays(n) => calendar::add_calendar_days(start, n).map(Due::At),
            Clock::WorkingDays(n) => calendar::add_working_days(start, n).map(Due::At),
            Clock::Appointment { within_hours } => {
                let limit = start
                    .checked_add_signed(TimeDelta::hours(i64::from(within_hours)))
                    .ok_or(CalendarError::OutOfRange)?;
                Ok(Due::At(terms.appointment.map_or(limit, |a| a.min(limit))))
            }
            Clock::AgreedInterval { max_days } => {
                let days = terms.every_days.map_or(max_days, |d| d.clamp(1, max_days));
                calendar::add_calendar_days(start, days).map(Due::At)
            }
            Clock::BeforeLeaving => Ok(Due::OnLeaving),
        }
    }
}

/// What keeps a promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeper {
    /// An arrival recorded at or before the due time.
    Arrival,
    /// A "victim updated" entry.
    VictimUpdate,
    /// A "review done" entry by a supervising detective.
    Review,
    /// A "contact made" entry.
    Contact,
    /// The comment acknowledged to the person who made it.
    Acknowledgement,
    /// Each of these checklist items ticked `done` before the recorded departure.
    Ticked(&'static [ChecklistItem]),
}

/// One promise: what triggers it, its clock, what keeps it, and the clause
/// of `docs/domain/promises.md` it restates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promise {
    pub id: PromiseId,
    pub trigger: Trigger,
    pub start: Start,
    pub clock: Clock,
    pub kept_by: Keeper,
    /// The clause, e.g. `P1`: a heading `### P1.` in docs/domain/promises.md.
    pub clause: &'static str,
}

/// The record kinds an officer attends.
const ATTENDED: &[RecordKind] = &[RecordKind::SceneAttendance, RecordKind::HomeBurglary];

const fn attended(grade: Option<ResponseGrade>, offence: Option<OffenceCategory>) -> Trigger {
    Trigger::Record {
        kinds: ATTENDED,
        grade,
        offence,
        needs_agreement: false,
    }
}

/// The Pledge's promises with clocks: the one table.
pub const PROMISES: &[Promise] = &[
    Promise {
        id: PromiseId::EmergencyAttendance,
        trigger: attended(Some(ResponseGrade::Emergency), None),
        start: Start::CallReceived,
        clock: Clock::Minutes(12),
        kept_by: Keeper::Arrival,
        clause: "P1",
    },
    Promise {
        id: PromiseId::PriorityAttendance,
        trigger: attended(Some(ResponseGrade::Priority), None),
        start: Start::CallReceived,
        clock: Clock::Minutes(60),
        kept_by: Keeper::Arrival,
        clause: "P2",
    },
    Promise {
        id: PromiseId::AppointmentAttendance,
        trigger: attended(Some(ResponseGrade::Scheduled), None),
        start: Start::CallReceived,
        clock: Clock::Appointment { within_hours: 48 },
        kept_by: Keeper::Arrival,
        clause: "P3",
    },
    Promise {
        id: PromiseId::VictimUpdate,
        trigger: Trigger::Record {
            kinds: ATTENDED,
            grade: None,
            offence: None,
            needs_agreement: true,
        },
        start: Start::AgreementOrLastUpdate,
        clock: Clock::AgreedInterval { max_days: 28 },
        kept_by: Keeper::VictimUpdate,
        clause: "P4",
    },
    Promise {
        id: PromiseId::SeriousAssaultReview,
        trigger: attended(None, Some(OffenceCategory::SeriousAssault)),
        start: Start::CallReceived,
        clock: Clock::Hours(18),
        kept_by: Keeper::Review,
        clause: "P5",
    },
    Promise {
        id: PromiseId::DomesticViolenceContact,
        trigger: attended(None, Some(OffenceCategory::DomesticViolence)),
        start: Start::CallReceived,
        clock: Clock::Hours(24),
        kept_by: Keeper::Contact,
        clause: "P6",
    },
    Promise {
        id: PromiseId::RoadTrafficCollisionContact,
        trigger: attended(None, Some(OffenceCategory::RoadTrafficCollision)),
        start: Start::CallReceived,
        clock: Clock::WorkingDays(10),
        kept_by: Keeper::Contact,
        clause: "P7",
    },
    Promise {
        id: PromiseId::CommentAcknowledged,
        trigger: Trigger::Comment,
        start: Start::CommentReceived,
        clock: Clock::Hours(24),
        kept_by: Keeper::Acknowledgement,
        clause: "P8",
    },
    Promise {
        id: PromiseId::BurglaryBeforeLeaving,
        trigger: Trigger::Record {
            kinds: &[RecordKind::HomeBurglary],
            grade: None,
            offence: None,
            needs_agreement: false,
        },
        start: Start::Arrival,
        clock: Clock::BeforeLeaving,
        kept_by: Keeper::Ticked(&[
            ChecklistItem::ReferenceNumberGiven,
            ChecklistItem::InvestigationPhoneGiven,
            ChecklistItem::CrimePreventionAdviceGiven,
        ]),
        clause: "P9",
    },
];

/// The row of a promise.
pub fn promise(id: PromiseId) -> &'static Promise {
    PROMISES
        .iter()
        .find(|p| p.id == id)
        .expect("every promise has its row (tested)")
}

/// The promises a record with these facts triggers, in table order.
pub fn triggered_by(facts: &RecordFacts) -> Vec<&'static Promise> {
    PROMISES
        .iter()
        .filter(|p| p.trigger.matches(facts))
        .collect()
}

#[cfg(test)]
mod tests;

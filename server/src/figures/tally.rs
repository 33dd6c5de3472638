//! The exact counts of one station's month, from its decoded records: what
//! is frozen, and what suppression ([`super::publish`]) is applied to
//! before anything is shown. Pure: no storage, no clock.
//!
//! Attendances are counted by the grade of the call and the target the
//! model computes (`SceneAttendance::target_status`); searches by each
//! police.uk field the public figures break them down by, every value of
//! its vocabulary listed (zeros included) and a missing optional value
//! counted as "Not recorded". Victim updates, serious-assault reviews and
//! domestic-violence contacts are counted from the core's one evaluation
//! of the Pledge (`pocketbook_core::pledge::evaluate`), as they stand when
//! the month is counted.

use chrono::{DateTime, Utc};
use pocketbook_core::model::{
    AgeRange, Legislation, ObjectOfSearch, Outcome, Record, RecordBody, ResponseGrade,
    SelfDefinedEthnicity, TargetStatus,
};
use pocketbook_core::pledge::{PromiseId, PromiseStatus, evaluate};
use serde::{Deserialize, Serialize};

/// The label of a missing optional value in a breakdown.
pub const NOT_RECORDED: &str = "Not recorded";

/// The grades whose attendance target the figures show, with the target in words.
pub const GRADES: [(ResponseGrade, &str); 3] = [
    (ResponseGrade::Emergency, "within 12 minutes"),
    (ResponseGrade::Priority, "within 60 minutes"),
    (ResponseGrade::Scheduled, "at the agreed appointment"),
];

/// The promises besides attendance whose keeping is published, with the
/// promise in words (`docs/domain/promises.md`).
pub const PROMISES: [(PromiseId, &str); 3] = [
    (PromiseId::VictimUpdate, "victims updated as agreed"),
    (
        PromiseId::SeriousAssaultReview,
        "serious assaults reviewed within 18 hours",
    ),
    (
        PromiseId::DomesticViolenceContact,
        "domestic violence victims contacted within 24 hours",
    ),
];

/// One promise of the month's records, as it stood when the month was
/// counted ([`pocketbook_core::pledge::evaluate`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PromiseTally {
    /// The promise (`PromiseId::as_str`).
    pub promise: String,
    /// Kept in time.
    pub kept: u64,
    /// Kept late.
    pub broken: u64,
    /// Past due and not kept when counted (it can no longer be kept in time).
    pub overdue: u64,
    /// Not due yet when counted, or its due time unknown: not in the share.
    pub open: u64,
}

impl PromiseTally {
    /// Promises whose outcome is settled: the share's denominator.
    pub fn settled(&self) -> u64 {
        self.kept + self.broken + self.overdue
    }
}

/// Attendances of one grade.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttendanceTally {
    /// `emergency`, `priority` or `scheduled`.
    pub grade: String,
    /// Arrived within the target.
    pub within: u64,
    /// Arrived after it.
    pub missed: u64,
    /// No arrival recorded (not counted in the share).
    pub no_arrival: u64,
}

impl AttendanceTally {
    /// Attendances with an arrival: the share's denominator.
    pub fn attended(&self) -> u64 {
        self.within + self.missed
    }
}

/// Searches broken down by one field: `(value, count)` in vocabulary order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The police.uk field, e.g. `legislation`.
    pub field: String,
    pub cells: Vec<(String, u64)>,
}

/// The exact counts of one station's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationTally {
    pub station: String,
    /// One per grade of [`GRADES`], in that order.
    pub attendance: Vec<AttendanceTally>,
    pub searches: u64,
    /// legislation, object_of_search, outcome, self_defined_ethnicity, age_range.
    pub breakdowns: Vec<Breakdown>,
    /// Searches whose outcome was linked to the object of the search.
    pub linked: u64,
    /// Searches recorded as not linked.
    pub not_linked: u64,
    /// One per promise of [`PROMISES`], in that order (empty in months
    /// frozen before promises were counted).
    #[serde(default)]
    pub promises: Vec<PromiseTally>,
}

impl StationTally {
    /// A station with nothing counted.
    pub fn empty(station: &str) -> StationTally {
        count(station, &[], DateTime::UNIX_EPOCH)
    }

    /// Records counted (attendances of any grade and searches).
    pub fn records(&self) -> u64 {
        self.searches
            + self
                .attendance
                .iter()
                .map(|a| a.attended() + a.no_arrival)
                .sum::<u64>()
    }
}

fn breakdown<T: Copy + PartialEq>(
    field: &str,
    all: &[T],
    text: fn(T) -> &'static str,
    values: &[Option<T>],
    optional: bool,
) -> Breakdown {
    let mut cells: Vec<(String, u64)> = all
        .iter()
        .map(|v| {
            let n = values.iter().filter(|x| **x == Some(*v)).count() as u64;
            (text(*v).to_string(), n)
        })
        .collect();
    let missing = values.iter().filter(|x| x.is_none()).count() as u64;
    if optional {
        cells.push((NOT_RECORDED.to_string(), missing));
    }
    Breakdown {
        field: field.to_string(),
        cells,
    }
}

/// Counts one station's records of the month at `now` (records of other
/// kinds are ignored; attendances of the `not attended` grade have no
/// target; promises are counted as they stand at `now`).
pub fn count(station: &str, records: &[Record], now: DateTime<Utc>) -> StationTally {
    let mut promises: Vec<PromiseTally> = PROMISES
        .iter()
        .map(|(id, _)| PromiseTally {
            promise: id.as_str().to_string(),
            ..PromiseTally::default()
        })
        .collect();
    for record in records {
        for state in evaluate(&record.body, now) {
            let Some(at) = PROMISES.iter().position(|(id, _)| *id == state.promise) else {
                continue;
            };
            let slot = &mut promises[at];
            match state.status {
                PromiseStatus::Kept => slot.kept += 1,
                PromiseStatus::Broken => slot.broken += 1,
                PromiseStatus::Overdue => slot.overdue += 1,
                PromiseStatus::Due | PromiseStatus::DueSoon | PromiseStatus::Unknown => {
                    slot.open += 1
                }
            }
        }
    }
    let mut attendance: Vec<AttendanceTally> = GRADES
        .iter()
        .map(|(grade, _)| AttendanceTally {
            grade: grade.as_str().to_string(),
            ..AttendanceTally::default()
        })
        .collect();
    let mut searches = Vec::new();
    for record in records {
        match &record.body {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                let Some(at) = GRADES.iter().position(|(g, _)| *g == scene.grade) else {
                    continue;
                };
                let slot = &mut attendance[at];
                match scene.target_status() {
                    TargetStatus::Met => slot.within += 1,
                    TargetStatus::Missed => slot.missed += 1,
                    TargetStatus::Pending | TargetStatus::NotApplicable => slot.no_arrival += 1,
                }
            }
            RecordBody::StopSearch { search } => searches.push(search),
            RecordBody::StopAccount { .. } => {}
        }
    }
    let breakdowns = vec![
        breakdown(
            "legislation",
            Legislation::ALL,
            Legislation::as_str,
            &searches
                .iter()
                .map(|s| Some(s.legislation))
                .collect::<Vec<_>>(),
            false,
        ),
        breakdown(
            "object_of_search",
            ObjectOfSearch::ALL,
            ObjectOfSearch::as_str,
            &searches
                .iter()
                .map(|s| Some(s.object_of_search))
                .collect::<Vec<_>>(),
            false,
        ),
        breakdown(
            "outcome",
            Outcome::ALL,
            Outcome::as_str,
            &searches.iter().map(|s| Some(s.outcome)).collect::<Vec<_>>(),
            false,
        ),
        breakdown(
            "self_defined_ethnicity",
            SelfDefinedEthnicity::ALL,
            SelfDefinedEthnicity::as_str,
            &searches
                .iter()
                .map(|s| s.self_defined_ethnicity)
                .collect::<Vec<_>>(),
            true,
        ),
        breakdown(
            "age_range",
            AgeRange::ALL,
            AgeRange::as_str,
            &searches.iter().map(|s| s.age_range).collect::<Vec<_>>(),
            true,
        ),
    ];
    StationTally {
        station: station.to_string(),
        attendance,
        searches: searches.len() as u64,
        breakdowns,
        linked: searches
            .iter()
            .filter(|s| s.outcome_linked_to_object_of_search == Some(true))
            .count() as u64,
        not_linked: searches
            .iter()
            .filter(|s| s.outcome_linked_to_object_of_search == Some(false))
            .count() as u64,
        promises,
    }
}

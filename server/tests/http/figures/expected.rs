//! Every figure of a station's month computed here from what the test
//! recorded, without the server's code: London months by chrono-tz,
//! targets from the Pledge's minutes, the suppression rule of
//! `docs/domain/published-figures.md` written again.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Europe::London;
use pocketbook_core::model::*;
use serde_json::{Value, json};

use super::seed::Seeded;

const THRESHOLD: u64 = 5;

fn month_of(text: &str) -> String {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&London)
        .format("%Y-%m")
        .to_string()
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn cell(n: u64) -> Value {
    if n > 0 && n < THRESHOLD {
        json!({"count": null, "suppressed": true})
    } else {
        json!({"count": n, "suppressed": false})
    }
}

fn share(part: u64, whole: u64) -> Value {
    if whole < THRESHOLD {
        return Value::Null;
    }
    // Half up to one decimal: 2 * 1000 * part / whole, then halved.
    let doubled = 2000 * part / whole;
    let tenths = doubled / 2 + doubled % 2;
    json!(tenths as f64 / 10.0)
}

fn breakdown(field: &str, title: &str, cells: Vec<(String, u64)>) -> Value {
    let mut hidden: Vec<bool> = cells
        .iter()
        .map(|(_, n)| *n > 0 && *n < THRESHOLD)
        .collect();
    if hidden.iter().filter(|h| **h).count() == 1 {
        let mut partner: Option<usize> = None;
        for (i, (_, n)) in cells.iter().enumerate() {
            if *n == 0 || hidden[i] {
                continue;
            }
            if partner.is_none_or(|p| *n < cells[p].1) {
                partner = Some(i);
            }
        }
        if let Some(p) = partner {
            hidden[p] = true;
        }
    }
    let cells: Vec<Value> = cells
        .iter()
        .zip(hidden)
        .map(|((value, n), hide)| {
            if hide {
                json!({"value": value, "count": null, "suppressed": true})
            } else {
                json!({"value": value, "count": n, "suppressed": false})
            }
        })
        .collect();
    json!({"field": field, "title": title, "cells": cells})
}

fn counts<T: Copy + PartialEq>(
    all: &[T],
    text: fn(T) -> &'static str,
    values: &[Option<T>],
    optional: bool,
) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = all
        .iter()
        .map(|v| {
            (
                text(*v).to_string(),
                values.iter().filter(|x| **x == Some(*v)).count() as u64,
            )
        })
        .collect();
    if optional {
        out.push((
            "Not recorded".into(),
            values.iter().filter(|x| x.is_none()).count() as u64,
        ));
    }
    out
}

/// Kept, broken, overdue and open promises: the keeping times against
/// each due time, and `now` for those never kept.
#[derive(Default)]
struct Promises {
    kept: u64,
    broken: u64,
    overdue: u64,
    open: u64,
}

impl Promises {
    fn add(&mut self, due: DateTime<Utc>, kept_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        match kept_at {
            Some(at) if at <= due => self.kept += 1,
            Some(_) => self.broken += 1,
            None if now > due => self.overdue += 1,
            None => self.open += 1,
        }
    }

    fn json(&self, promise: &str, title: &str) -> Value {
        let settled = self.kept + self.broken + self.overdue;
        json!({
            "promise": promise,
            "title": title,
            "settled": cell(settled),
            "kept": cell(self.kept),
            "share_percent": share(self.kept, settled),
            "still_open": cell(self.open),
        })
    }
}

/// The promises of the calls of `promised`, at `now`. Victim updates: the
/// first interval runs from the call, each later one from the update
/// before (the seeded intervals cross no change of the clocks, so a day
/// is 24 hours).
fn promises(promised: &[&Seeded], now: DateTime<Utc>) -> Vec<Value> {
    let (mut updates, mut reviews, mut contacts) = (
        Promises::default(),
        Promises::default(),
        Promises::default(),
    );
    for p in promised {
        let Seeded::Promised {
            call,
            offence,
            every_days,
            entries,
            ..
        } = p
        else {
            continue;
        };
        let call = instant(call);
        let first = |kind: PromiseEntryKind| {
            entries
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, at)| instant(at))
                .min()
        };
        match offence {
            Some(OffenceCategory::DomesticViolence) => contacts.add(
                call + TimeDelta::hours(24),
                first(PromiseEntryKind::ContactMade),
                now,
            ),
            Some(OffenceCategory::SeriousAssault) => reviews.add(
                call + TimeDelta::hours(18),
                first(PromiseEntryKind::ReviewDone),
                now,
            ),
            _ => {}
        }
        if let Some(days) = every_days {
            let mut start = call;
            let mut given: Vec<DateTime<Utc>> = entries
                .iter()
                .filter(|(k, _)| *k == PromiseEntryKind::VictimUpdated)
                .map(|(_, at)| instant(at))
                .collect();
            given.sort();
            for at in given {
                updates.add(start + TimeDelta::days(i64::from(*days)), Some(at), now);
                start = at;
            }
            updates.add(start + TimeDelta::days(i64::from(*days)), None, now);
        }
    }
    vec![
        updates.json("victim update", "victims updated as agreed"),
        reviews.json(
            "serious assault review",
            "serious assaults reviewed within 18 hours",
        ),
        contacts.json(
            "domestic violence contact",
            "domestic violence victims contacted within 24 hours",
        ),
    ]
}

/// The published figures of `station` in `month`, counted at
/// `counted_at`, as JSON (without `computed_at`).
pub fn station(seeded: &[Seeded], month: &str, station: &str, counted_at: &str) -> Value {
    let mut searches: Vec<&StopSearch> = Vec::new();
    let mut scenes: Vec<&SceneInput> = Vec::new();
    let mut promised: Vec<&Seeded> = Vec::new();
    for s in seeded {
        match s {
            Seeded::Promised {
                station: at, call, ..
            } if at == station && month_of(call) == month => promised.push(s),
            Seeded::Search {
                station: at,
                search,
            } if at == station && month_of(&search.datetime) == month => searches.push(search),
            Seeded::Attendance { station: at, scene }
                if at == station && month_of(&scene.call_received) == month =>
            {
                scenes.push(scene)
            }
            _ => {}
        }
    }
    let mut attendance = Vec::new();
    for (grade, name, target) in [
        (ResponseGrade::Emergency, "emergency", "within 12 minutes"),
        (ResponseGrade::Priority, "priority", "within 60 minutes"),
        (
            ResponseGrade::Scheduled,
            "scheduled",
            "at the agreed appointment",
        ),
    ] {
        let (mut within, mut missed, mut none) = (0, 0, 0);
        for s in scenes.iter().filter(|s| s.grade == grade) {
            let call = instant(&s.call_received);
            let deadline = match grade {
                ResponseGrade::Emergency => call + TimeDelta::minutes(12),
                ResponseGrade::Priority => call + TimeDelta::minutes(60),
                _ => instant(s.appointment.as_ref().unwrap()),
            };
            match &s.arrived {
                None => none += 1,
                Some(a) if instant(a) <= deadline => within += 1,
                Some(_) => missed += 1,
            }
        }
        attendance.push(json!({
            "grade": name,
            "target": target,
            "attended": cell(within + missed),
            "within_target": cell(within),
            "share_percent": share(within, within + missed),
            "no_arrival_recorded": cell(none),
        }));
    }
    let linked = searches
        .iter()
        .filter(|s| s.outcome_linked_to_object_of_search == Some(true))
        .count() as u64;
    let recorded = searches
        .iter()
        .filter(|s| s.outcome_linked_to_object_of_search.is_some())
        .count() as u64;
    json!({
        "month": month,
        "station": station,
        "suppression_threshold": THRESHOLD,
        "attendance": attendance,
        "searches": cell(searches.len() as u64),
        "breakdowns": [
            breakdown("legislation", "Searches by legislation", counts(
                Legislation::ALL, Legislation::as_str,
                &searches.iter().map(|s| Some(s.legislation)).collect::<Vec<_>>(), false)),
            breakdown("object_of_search", "Searches by object of search", counts(
                ObjectOfSearch::ALL, ObjectOfSearch::as_str,
                &searches.iter().map(|s| Some(s.object_of_search)).collect::<Vec<_>>(), false)),
            breakdown("outcome", "Searches by outcome", counts(
                Outcome::ALL, Outcome::as_str,
                &searches.iter().map(|s| Some(s.outcome)).collect::<Vec<_>>(), false)),
            breakdown("self_defined_ethnicity", "Searches by self-defined ethnicity", counts(
                SelfDefinedEthnicity::ALL, SelfDefinedEthnicity::as_str,
                &searches.iter().map(|s| s.self_defined_ethnicity).collect::<Vec<_>>(), true)),
            breakdown("age_range", "Searches by age range", counts(
                AgeRange::ALL, AgeRange::as_str,
                &searches.iter().map(|s| s.age_range).collect::<Vec<_>>(), true)),
        ],
        "outcome_linked": {
            "linked": cell(linked),
            "recorded": cell(recorded),
            "share_percent": share(linked, recorded),
        },
        "promises": promises(&promised, instant(counted_at)),
    })
}

/// `got` (the server's JSON) equals `want` except for `computed_at`.
pub fn compare(got: &Value, want: &Value, what: &str) {
    let mut got = got.clone();
    let computed = got
        .as_object_mut()
        .and_then(|o| o.remove("computed_at"))
        .expect("computed_at");
    assert!(computed.as_str().is_some_and(|c| c.ends_with('Z')));
    if got != *want {
        for key in want.as_object().unwrap().keys() {
            assert_eq!(got[key], want[key], "{what}: {key} differs");
        }
        assert_eq!(got, *want, "{what}");
    }
}

//! The seeded records: searches and attendances of three officers at two
//! stations, made by device cores and pushed through `/v1/sync`, around
//! the edges of March 2027 (its first instant, the change to BST, the last
//! hour, which is April in London).

use pocketbook_core::Notebook;
use pocketbook_core::model::*;
use pocketbook_core::sync::wire::PushedRecord;
use pocketbook_server::scope::Role;

use super::Desk;
use crate::support::*;

/// Lewisham's searches in March 2027 (London).
pub const LEWISHAM_MARCH_SEARCHES: u64 = 40;

/// What was recorded, as the test knows it.
#[derive(Debug, Clone)]
pub enum Seeded {
    Search {
        station: String,
        search: Box<StopSearch>,
    },
    Attendance {
        station: String,
        scene: Box<SceneInput>,
    },
    /// A call (not attended) with an offence, an update agreement and the
    /// entries that keep its promises.
    Promised {
        station: String,
        call: String,
        offence: Option<OffenceCategory>,
        every_days: Option<i32>,
        entries: Vec<(PromiseEntryKind, String)>,
    },
}

fn officer_of(number: &str, station: &str) -> Officer {
    Officer {
        shoulder_number: number.into(),
        name: format!("Officer {number}"),
        station: station.into(),
    }
}

async fn push(desk: &Desk, token: &str, nb: &Notebook, id: &str, kind: RecordKind) {
    let answer = desk
        .server
        .sync(
            token,
            &request(
                None,
                vec![PushedRecord {
                    record_id: id.to_string(),
                    kind,
                    changes: changes_of(nb, id),
                }],
            ),
        )
        .await;
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
}

fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

/// The `i`th search of Lewisham: every field varies with `i`.
pub fn search(i: u32, datetime: &str) -> StopSearch {
    let legislation = match i {
        39 => Legislation::TerrorismSection43,
        _ => [
            Legislation::PaceSection1,
            Legislation::MisuseOfDrugsSection23,
            Legislation::MisuseOfDrugsSection23,
            Legislation::CjpoSection60,
        ][i as usize % 4],
    };
    let self_defined = [
        Some(SelfDefinedEthnicity::W1),
        Some(SelfDefinedEthnicity::B1),
        Some(SelfDefinedEthnicity::A1),
        Some(SelfDefinedEthnicity::NotStated),
        None,
        Some(SelfDefinedEthnicity::W1),
    ][i as usize % 6];
    let search_type = match i % 8 {
        7 => SearchType::Vehicle,
        6 => SearchType::PersonAndVehicle,
        _ => SearchType::Person,
    };
    let (latitude, longitude) = if i % 5 == 4 {
        (None, None)
    } else {
        (
            Some(51.4613 + f64::from(i) * 0.0007),
            Some(-0.0106 - f64::from(i) * 0.0003),
        )
    };
    StopSearch {
        search_type,
        vehicle_registration: search_type.includes_vehicle().then(|| "AB12 CDE".into()),
        datetime: t(datetime),
        location: Location {
            latitude,
            longitude,
            street: format!("{i} Secret Road"),
        },
        gender: [Some(Gender::Male), Some(Gender::Female), None][i as usize % 3],
        age_range: match i {
            36 => Some(AgeRange::From10To17),
            _ => [
                Some(AgeRange::From18To24),
                Some(AgeRange::From25To34),
                Some(AgeRange::Over34),
                None,
            ][i as usize % 4],
        },
        self_defined_ethnicity: self_defined,
        officer_defined_ethnicity: (self_defined == Some(SelfDefinedEthnicity::NotStated))
            .then_some(OfficerDefinedEthnicity::Black),
        grounds: format!("Grounds of search {i}"),
        object_of_search: match i {
            38 => ObjectOfSearch::Fireworks,
            _ => [
                ObjectOfSearch::ControlledDrugs,
                ObjectOfSearch::OffensiveWeapons,
                ObjectOfSearch::StolenGoods,
            ][i as usize % 3],
        },
        operation_name: legislation
            .needs_authorisation()
            .then(|| "Op Bluebell, \"phase\" 2".into()),
        legislation,
        outcome: match i {
            37 => Outcome::CommunityResolution,
            _ if i.is_multiple_of(5) => Outcome::Arrest,
            _ => Outcome::NoFurtherAction,
        },
        outcome_linked_to_object_of_search: [Some(true), Some(false), None][i as usize % 3],
        removal_of_more_than_outer_clothing: i.is_multiple_of(9),
        ..pocketbook_fixtures::stop_search()
    }
}

/// The time of Lewisham's `i`th March search: the month's edges first.
fn march_time(i: u32) -> String {
    match i {
        0 => "2027-03-01T00:00:00Z".into(),
        1 => "2027-03-28T00:59:59Z".into(),
        2 => "2027-03-28T01:00:00Z".into(),
        3 => "2027-03-31T22:59:59Z".into(),
        4 => "2027-03-31T23:59:59+01:00".into(),
        _ => format!("2027-03-{:02}T{:02}:07:00Z", 1 + i % 28, i % 24),
    }
}

fn scene(grade: ResponseGrade, call: &str, arrived_after_minutes: Option<i64>) -> SceneInput {
    let call_at = t(call);
    let appointment = (grade == ResponseGrade::Scheduled).then(|| {
        Timestamp::from_instant(call_at.instant() + chrono::TimeDelta::hours(24)).unwrap()
    });
    let arrived = arrived_after_minutes.map(|m| {
        let base = appointment.as_ref().unwrap_or(&call_at).instant();
        Timestamp::from_instant(base + chrono::TimeDelta::minutes(m)).unwrap()
    });
    SceneInput {
        reasons: vec![AttendanceReason::CrimeInProgress],
        grade,
        call_received: call_at,
        appointment,
        arrived,
        left: None,
        location: pocketbook_fixtures::street("1 Private Lane"),
        notes: String::new(),
    }
}

/// Lewisham's attendances: minutes after the call (or, for an appointment,
/// after it) that officers arrived; `None` for no arrival recorded.
fn attendances() -> Vec<(RecordKind, SceneInput)> {
    use ResponseGrade::*;
    let mut out = Vec::new();
    for (i, m) in [10, 10, 11, 12, 5, 1, 9, 20, 30].iter().enumerate() {
        let call = format!("2027-03-{:02}T09:00:00Z", 2 + i);
        out.push((
            RecordKind::SceneAttendance,
            scene(Emergency, &call, Some(*m)),
        ));
    }
    out.push((
        RecordKind::SceneAttendance,
        scene(Emergency, "2027-03-20T09:00:00Z", None),
    ));
    out.push((
        RecordKind::HomeBurglary,
        scene(Emergency, "2027-03-28T00:55:00Z", Some(12)),
    ));
    // Called at 00:05 BST on 1 April: April's.
    out.push((
        RecordKind::SceneAttendance,
        scene(Emergency, "2027-03-31T23:05:00Z", Some(5)),
    ));
    for (i, m) in [50, 60, 59, 61].iter().enumerate() {
        let call = format!("2027-03-{:02}T15:00:00Z", 10 + i);
        out.push((
            RecordKind::SceneAttendance,
            scene(Priority, &call, Some(*m)),
        ));
    }
    for (i, m) in [-5, -30, 0, -1, -60, 1].iter().enumerate() {
        let call = format!("2027-03-{:02}T11:00:00Z", 5 + i);
        out.push((RecordKind::HomeBurglary, scene(Scheduled, &call, Some(*m))));
    }
    out
}

type Promised = (
    String,
    Option<OffenceCategory>,
    Option<i32>,
    Vec<(PromiseEntryKind, String)>,
);

/// Calls whose promises are counted: five domestic-violence calls
/// contacted after 1, 5, 23 and 30 hours and never; a serious assault
/// never reviewed; a victim to be updated weekly, updated after 6 days,
/// then 9 days later, then not again.
fn promised() -> Vec<Promised> {
    use PromiseEntryKind::*;
    let mut out: Vec<Promised> = Vec::new();
    for (day, contact) in [
        (3, Some("2027-03-03T11:00:00Z")),
        (4, Some("2027-03-04T15:00:00Z")),
        (5, Some("2027-03-06T09:00:00Z")),
        (6, Some("2027-03-07T16:00:00Z")),
        (7, None),
    ] {
        out.push((
            format!("2027-03-{day:02}T10:00:00Z"),
            Some(OffenceCategory::DomesticViolence),
            None,
            contact
                .map(|at| vec![(ContactMade, at.to_string())])
                .unwrap_or_default(),
        ));
    }
    out.push((
        "2027-03-08T10:00:00Z".into(),
        Some(OffenceCategory::SeriousAssault),
        None,
        Vec::new(),
    ));
    out.push((
        "2027-03-02T10:00:00Z".into(),
        None,
        Some(7),
        vec![
            (VictimUpdated, "2027-03-08T10:00:00Z".into()),
            (VictimUpdated, "2027-03-17T10:00:00Z".into()),
        ],
    ));
    out
}

/// Records everything and pushes it; returns what was recorded.
pub async fn seed(desk: &Desk) -> Vec<Seeded> {
    desk.server.add_officer_as("PC9", "Brockley", Role::Officer);
    let mut seeded = Vec::new();
    let lewisham = desk.server.device("PC1", "Lewisham").await;
    let (_d1, nb1) = notebook_of(officer_of("PC1", "Lewisham"));
    let mut searches: Vec<StopSearch> = (0..40).map(|i| search(i, &march_time(i))).collect();
    // Outside March in London: February's last hour, April's first ones.
    searches.push(search(5, "2027-02-28T23:30:00Z"));
    searches.push(search(6, "2027-03-31T23:30:00Z"));
    searches.push(search(7, "2027-03-31T23:00:00Z"));
    for s in searches {
        let record = nb1.create_stop_search(s.clone()).unwrap();
        push(
            desk,
            &lewisham,
            &nb1,
            &record.header.id,
            RecordKind::StopSearch,
        )
        .await;
        seeded.push(Seeded::Search {
            station: "Lewisham".into(),
            search: Box::new(s),
        });
    }
    let pc2 = desk.server.device("PC2", "Lewisham").await;
    let (_d2, nb2) = notebook_of(officer_of("PC2", "Lewisham"));
    for (kind, input) in attendances() {
        let record = match kind {
            RecordKind::HomeBurglary => nb2.create_burglary(input.clone()),
            _ => nb2.create_scene(input.clone()),
        }
        .unwrap();
        push(desk, &pc2, &nb2, &record.header.id, kind).await;
        seeded.push(Seeded::Attendance {
            station: "Lewisham".into(),
            scene: Box::new(input),
        });
    }
    for (call, offence, every_days, entries) in promised() {
        let mut input = scene(ResponseGrade::NotAttended, &call, None);
        input.reasons = vec![AttendanceReason::SeriousAssault];
        let id = nb2.create_scene(input).unwrap().header.id;
        if let Some(offence) = offence {
            nb2.record_offence(id.clone(), offence).unwrap();
        }
        if let Some(every_days) = every_days {
            nb2.agree_updates(
                id.clone(),
                UpdateAgreement {
                    method: UpdateMethod::Phone,
                    every_days,
                },
            )
            .unwrap();
        }
        for (kind, at) in &entries {
            nb2.record_promise_entry(id.clone(), *kind, t(at)).unwrap();
        }
        push(desk, &pc2, &nb2, &id, RecordKind::SceneAttendance).await;
        seeded.push(Seeded::Promised {
            station: "Lewisham".into(),
            call,
            offence,
            every_days,
            entries,
        });
    }
    let catford = desk.server.device("PC3", "Catford").await;
    let (_d3, nb3) = notebook_of(officer_of("PC3", "Catford"));
    for i in 0..3 {
        let s = search(i, &format!("2027-03-1{i}T12:00:00Z"));
        let record = nb3.create_stop_search(s.clone()).unwrap();
        push(
            desk,
            &catford,
            &nb3,
            &record.header.id,
            RecordKind::StopSearch,
        )
        .await;
        seeded.push(Seeded::Search {
            station: "Catford".into(),
            search: Box::new(s),
        });
    }
    seeded
}

/// One more Lewisham search, recorded and synced now.
pub async fn late_search(desk: &Desk, datetime: &str) {
    let token = desk.server.device("PC4", "Lewisham").await;
    let (_dir, nb) = notebook_of(officer_of("PC4", "Lewisham"));
    let record = nb.create_stop_search(search(1, datetime)).unwrap();
    push(desk, &token, &nb, &record.header.id, RecordKind::StopSearch).await;
}

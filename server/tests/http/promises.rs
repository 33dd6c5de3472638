//! The Pledge's promises on the server, from records synced by device
//! cores: a station's overdue list for supervisors (audited, ids only),
//! the Prometheus gauges of overdue promises per station (no person or
//! record in them), and a promise whose record was erased, which is
//! simply gone. The clock is injected (`figures::Desk`).

use std::time::Duration;

use pocketbook_core::model::*;
use pocketbook_core::sync::wire::PushedRecord;
use pocketbook_server::ServerConfig;
use pocketbook_server::pledge::{GaugeMemo, overdue_counts};
use pocketbook_server::retention::RetentionPolicy;

use crate::figures::Desk;
use crate::support::*;

fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

/// A call of `grade` at `call`, arrived after `arrived` minutes if any.
fn call(grade: ResponseGrade, call: &str, arrived: Option<i64>) -> SceneInput {
    let at = t(call);
    SceneInput {
        reasons: vec![AttendanceReason::SomeoneInDanger],
        grade,
        call_received: at.clone(),
        appointment: None,
        arrived: arrived.map(|m| {
            Timestamp::from_instant(at.instant() + chrono::TimeDelta::minutes(m)).unwrap()
        }),
        left: None,
        location: pocketbook_fixtures::street("1 Private Lane"),
        notes: String::new(),
    }
}

/// Records a call for `officer` of `station` and syncs it; returns its id.
async fn record(
    desk: &Desk,
    officer: &str,
    station: &str,
    input: SceneInput,
    contact_after_hours: Option<Option<i64>>,
) -> String {
    let token = desk.server.device(officer, station).await;
    let (_dir, nb) = notebook_of(Officer {
        shoulder_number: officer.into(),
        name: format!("Officer {officer}"),
        station: station.into(),
    });
    let call = input.call_received.instant();
    let id = nb.create_scene(input).unwrap().header.id;
    if let Some(contact) = contact_after_hours {
        nb.record_offence(id.clone(), OffenceCategory::DomesticViolence)
            .unwrap();
        if let Some(hours) = contact {
            let at = Timestamp::from_instant(call + chrono::TimeDelta::hours(hours)).unwrap();
            nb.record_promise_entry(id.clone(), PromiseEntryKind::ContactMade, at)
                .unwrap();
        }
    }
    let answer = desk
        .server
        .sync(
            &token,
            &request(
                None,
                vec![PushedRecord {
                    record_id: id.clone(),
                    kind: RecordKind::SceneAttendance,
                    changes: changes_of(&nb, &id),
                }],
            ),
        )
        .await;
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
    id
}

#[tokio::test]
async fn overdue_promises_are_listed_for_a_station_and_counted_in_gauges() {
    let desk = Desk::start().await;
    use ResponseGrade::*;
    // Lewisham: a domestic-violence call never contacted (overdue), one
    // contacted in time (kept), an emergency with no arrival (overdue),
    // a priority call attended late (broken, not overdue).
    let dv = record(
        &desk,
        "PC1",
        "Lewisham",
        call(NotAttended, "2027-03-30T10:00:00Z", None),
        Some(None),
    )
    .await;
    record(
        &desk,
        "PC1",
        "Lewisham",
        call(NotAttended, "2027-03-30T11:00:00Z", None),
        Some(Some(3)),
    )
    .await;
    let emergency = record(
        &desk,
        "PC2",
        "Lewisham",
        call(Emergency, "2027-04-01T09:00:00Z", None),
        None,
    )
    .await;
    record(
        &desk,
        "PC2",
        "Lewisham",
        call(Priority, "2027-04-01T10:00:00Z", Some(90)),
        None,
    )
    .await;
    // Catford: one overdue contact.
    record(
        &desk,
        "PC3",
        "Catford",
        call(NotAttended, "2027-03-31T10:00:00Z", None),
        Some(None),
    )
    .await;
    desk.server.add_officer("PC9", "Brockley");

    let admin = desk.server.admin();
    let overdue = admin.overdue_promises("Lewisham").unwrap();
    let listed: Vec<(&str, &str, &str)> = overdue
        .iter()
        .map(|p| (p.record_id.as_str(), p.promise.as_str(), p.clause.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (dv.as_str(), "domestic violence contact", "P6"),
            (emergency.as_str(), "emergency attendance", "P1"),
        ],
        "soonest due first"
    );
    assert_eq!(overdue[0].due_at, "2027-03-31T10:00:00.000Z");
    assert_eq!(overdue[0].officer, "PC1");
    assert!(admin.overdue_promises("Brockley").unwrap().is_empty());
    assert!(admin.overdue_promises("").is_err());
    let audited = desk.server.audit("promises-listed");
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0].detail["station"], "Lewisham");
    assert_eq!(audited[0].detail["overdue"], 2);

    // The gauges: a server started on this store counts at once.
    let mut config = ServerConfig::for_tests(desk.server.dir.path());
    config.clock = desk.server.clock.clone();
    let second = pocketbook_server::start_with(config, desk.server.storage.clone())
        .await
        .unwrap();
    let want = [
        "pocketbook_promises_overdue{station=\"Lewisham\",promise=\"domestic violence contact\"} 1",
        "pocketbook_promises_overdue{station=\"Lewisham\",promise=\"emergency attendance\"} 1",
        "pocketbook_promises_overdue{station=\"Lewisham\",promise=\"priority attendance\"} 0",
        "pocketbook_promises_overdue{station=\"Catford\",promise=\"domestic violence contact\"} 1",
    ];
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = desk
            .server
            .http
            .get(format!("{}/metrics", second.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if want.iter().all(|w| metrics.contains(w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in want {
        assert!(metrics.contains(w), "{w} not in\n{metrics}");
    }
    for personal in [
        "PC1",
        "PC2",
        "PC3",
        dv.as_str(),
        overdue[0].reference.as_str(),
    ] {
        assert!(!metrics.contains(personal), "{personal} in the metrics");
    }
    second.shutdown().await.unwrap();

    // A promise whose record was erased is gone from the list.
    let policy = RetentionPolicy {
        attendance_days: Some(2),
        ..RetentionPolicy::default()
    };
    desk.set("2027-04-02T00:00:00Z");
    admin.run_retention(&policy, false).unwrap();
    assert!(desk.server.storage.record(&dv).unwrap().is_none());
    let after: Vec<String> = admin
        .overdue_promises("Lewisham")
        .unwrap()
        .into_iter()
        .map(|p| p.record_id)
        .collect();
    assert_eq!(after, [emergency]);
}

/// The gauges' count decodes only what changed since the last count: a
/// promise falls overdue with time alone, a record changed is read again,
/// an erased one leaves; and a count with a memo equals a fresh one.
/// A domestic-violence call at Lewisham, not yet contacted, made on PC1's
/// notebook and pushed by PC1's device: its token, the notebook (and its
/// directory) and the record's id.
async fn domestic_violence_call(
    desk: &Desk,
) -> (
    String,
    tempfile::TempDir,
    std::sync::Arc<pocketbook_core::api::Notebook>,
    String,
) {
    let token = desk.server.device("PC1", "Lewisham").await;
    let (dir, nb) = notebook_of(Officer {
        shoulder_number: "PC1".into(),
        name: "Officer PC1".into(),
        station: "Lewisham".into(),
    });
    let dv = nb
        .create_scene(call(
            ResponseGrade::NotAttended,
            "2027-03-30T10:00:00Z",
            None,
        ))
        .unwrap()
        .header
        .id;
    nb.record_offence(dv.clone(), OffenceCategory::DomesticViolence)
        .unwrap();
    assert!(
        desk.server
            .sync(&token, &pushed_scene(&nb, &dv))
            .await
            .rejected
            .is_empty()
    );
    (token, dir, nb, dv)
}

/// A sync request pushing the whole of scene `id` from `nb`.
fn pushed_scene(
    nb: &pocketbook_core::api::Notebook,
    id: &str,
) -> pocketbook_core::sync::wire::SyncRequest {
    request(
        None,
        vec![PushedRecord {
            record_id: id.to_string(),
            kind: RecordKind::SceneAttendance,
            changes: changes_of(nb, id),
        }],
    )
}

#[tokio::test]
async fn the_gauge_count_reads_again_only_records_that_changed() {
    use ResponseGrade::*;
    let desk = Desk::start().await;
    let storage = desk.server.storage.clone();
    let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let contact = |counts: &std::collections::BTreeMap<(String, &str), u64>| {
        counts[&("Lewisham".to_string(), "domestic violence contact")]
    };

    // A domestic-violence call, not yet contacted, kept on its notebook.
    let (token, _dir, nb, dv) = domestic_violence_call(&desk).await;
    let push = |nb: &pocketbook_core::api::Notebook| pushed_scene(nb, &dv);

    let mut memo = GaugeMemo::default();
    let early = overdue_counts(storage.as_ref(), at("2027-03-30T11:00:00Z"), &mut memo).unwrap();
    assert_eq!((contact(&early), memo.decoded_last_count()), (0, 1));
    // Two days on, unchanged: overdue by time alone, nothing decoded, and
    // the same as a count from nothing.
    let later = at("2027-04-01T11:00:00Z");
    let kept = overdue_counts(storage.as_ref(), later, &mut memo).unwrap();
    assert_eq!((contact(&kept), memo.decoded_last_count()), (1, 0));
    let mut fresh = GaugeMemo::default();
    assert_eq!(
        overdue_counts(storage.as_ref(), later, &mut fresh).unwrap(),
        kept
    );
    assert_eq!(fresh.decoded_last_count(), 1);

    // A second record is the only one read; the first one changed (a late
    // contact: broken, no longer open) is read again.
    record(
        &desk,
        "PC2",
        "Lewisham",
        call(Emergency, "2027-04-01T09:00:00Z", None),
        None,
    )
    .await;
    let counts = overdue_counts(storage.as_ref(), later, &mut memo).unwrap();
    assert_eq!(memo.decoded_last_count(), 1);
    assert_eq!(contact(&counts), 1);
    assert_eq!(counts[&("Lewisham".to_string(), "emergency attendance")], 1);
    nb.record_promise_entry(
        dv.clone(),
        PromiseEntryKind::ContactMade,
        t("2027-04-01T10:00:00Z"),
    )
    .unwrap();
    assert!(
        desk.server
            .sync(&token, &push(&nb))
            .await
            .rejected
            .is_empty()
    );
    let counts = overdue_counts(storage.as_ref(), later, &mut memo).unwrap();
    assert_eq!((contact(&counts), memo.decoded_last_count()), (0, 1));
    assert_eq!(memo.len(), 2);

    // Erased by retention: it leaves the memo.
    desk.set("2027-04-02T00:00:00Z");
    let policy = RetentionPolicy {
        attendance_days: Some(2),
        ..RetentionPolicy::default()
    };
    desk.server.admin().run_retention(&policy, false).unwrap();
    let counts = overdue_counts(storage.as_ref(), later, &mut memo).unwrap();
    assert_eq!(memo.len(), 1);
    assert_eq!(counts[&("Lewisham".to_string(), "emergency attendance")], 1);
}

/// A count after one record of several changed fetches that record's
/// snapshot alone (counted in what the store's fetch by id returned: the
/// others are listed by id and version only), and counts what a count
/// from nothing counts.
#[tokio::test]
async fn a_count_after_one_record_changed_fetches_only_its_snapshot() {
    use ResponseGrade::*;
    let desk = Desk::start().await;
    let storage = desk.server.storage.clone();
    let now = "2027-04-01T11:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let contact = |counts: &std::collections::BTreeMap<(String, &str), u64>| {
        counts[&("Lewisham".to_string(), "domestic violence contact")]
    };
    for (officer, station) in [("PC2", "Lewisham"), ("PC3", "Brixton"), ("PC4", "Brixton")] {
        record(
            &desk,
            officer,
            station,
            call(Emergency, "2027-04-01T09:00:00Z", None),
            None,
        )
        .await;
    }
    // A domestic-violence call, not yet contacted, kept on its notebook.
    let (token, _dir, nb, dv) = domestic_violence_call(&desk).await;
    let push = |nb: &pocketbook_core::api::Notebook| pushed_scene(nb, &dv);

    let mut memo = GaugeMemo::default();
    let first = overdue_counts(storage.as_ref(), now, &mut memo).unwrap();
    assert_eq!((memo.fetched_last_count(), memo.len()), (4, 4));
    assert_eq!(contact(&first), 1);
    assert_eq!(first[&("Brixton".to_string(), "emergency attendance")], 2);
    let again = overdue_counts(storage.as_ref(), now, &mut memo).unwrap();
    assert_eq!((memo.fetched_last_count(), &again), (0, &first));

    // A late contact: the promise is broken, no longer open.
    nb.record_promise_entry(
        dv.clone(),
        PromiseEntryKind::ContactMade,
        t("2027-04-01T10:00:00Z"),
    )
    .unwrap();
    assert!(
        desk.server
            .sync(&token, &push(&nb))
            .await
            .rejected
            .is_empty()
    );
    let after = overdue_counts(storage.as_ref(), now, &mut memo).unwrap();
    assert_eq!((memo.fetched_last_count(), memo.len()), (1, 4));
    assert_eq!(contact(&after), 0);
    let mut fresh = GaugeMemo::default();
    assert_eq!(
        overdue_counts(storage.as_ref(), now, &mut fresh).unwrap(),
        after
    );
    assert_eq!(fresh.fetched_last_count(), 4);
}

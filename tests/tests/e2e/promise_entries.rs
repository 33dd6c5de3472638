//! Promise entries written by people who may not otherwise change a record
//! (the field table of ARCHITECTURE.md): a station's supervisor records the
//! review of an officer's serious-assault report on their own handset, the
//! server accepts it and audits it, and the author's handset receives it.
//! The supervisor gains nothing else: the record's other fields stay the
//! author's. The station's overdue promises reach the supervisor's handset
//! through sync, as the records of the station it may see. Station staff,
//! who do not sync, record a victim update with `admin records entry`.

use pocketbook_core::api::ApiError;
use pocketbook_core::api::promises::PromiseFilter;
use pocketbook_core::model::{OffenceCategory, PromiseEntryKind, Timestamp};
use pocketbook_core::pledge::{PromiseId, PromiseStatus};
use pocketbook_tests::Station;
use pocketbook_tests::inputs::{note, scene};
use pocketbook_tests::process::admin_output;

#[tokio::test]
async fn a_supervisors_review_reaches_the_author_and_is_audited() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer_as("PS1", "Lewisham", pocketbook_tests::Role::Supervisor);
    let officer = station.device("PC1").await;
    let supervisor = station.device("PS1").await;

    let id = officer.create_scene(scene()).unwrap().header.id;
    officer
        .record_offence(id.clone(), OffenceCategory::SeriousAssault)
        .unwrap();
    officer.sync(None).await.unwrap();
    supervisor.sync(None).await.unwrap();

    // The station's overdue list reaches the supervisor through sync: two
    // days on, the unreviewed serious assault is overdue on their handset.
    let overdue = |device: &pocketbook_tests::Device| {
        let later = Timestamp::from_instant(chrono::Utc::now() + chrono::TimeDelta::days(2));
        device
            .promises(PromiseFilter {
                statuses: Some(vec![PromiseStatus::Overdue]),
                now: Some(later.unwrap()),
                ..PromiseFilter::default()
            })
            .unwrap()
            .into_iter()
            .filter(|p| p.promise == PromiseId::SeriousAssaultReview)
            .map(|p| p.record_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(overdue(&supervisor), vec![id.clone()]);

    // The supervisor may not change the officer's record...
    let refused = supervisor.add_scene_action(id.clone(), note("supervisor's words".into()));
    assert!(
        matches!(refused, Err(ApiError::Forbidden { .. })),
        "{refused:?}"
    );
    // ...but records the review the Pledge asks of them.
    let review = supervisor
        .record_promise_entry(id.clone(), PromiseEntryKind::ReviewDone, Timestamp::now())
        .unwrap();
    let pushed = supervisor.sync(None).await.unwrap();
    assert!(pushed.rejected.is_empty(), "{pushed:?}");
    assert_eq!(pushed.acknowledged, 1, "{pushed:?}");

    let events = station.audit("promise-entry-added");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor, "officer:PS1");
    assert_eq!(events[0].record_id.as_deref(), Some(id.as_str()));
    assert_eq!(events[0].detail["kind"], "review done");
    assert!(
        !events[0].detail.to_string().contains(&review),
        "the audit names no device-chosen id"
    );

    assert!(overdue(&supervisor).is_empty(), "the review keeps it");
    officer.sync(None).await.unwrap();
    assert!(overdue(&officer).is_empty());
    let record = officer.get(id.clone()).unwrap();
    let entries = &record.body.scene().unwrap().promise_entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].kind, entries[0].made_by.as_str()),
        (PromiseEntryKind::ReviewDone, "PS1")
    );
    // The review keeps the 18-hour promise on the author's handset.
    let review_promise = pocketbook_core::pledge::evaluate(&record.body, chrono::Utc::now())
        .into_iter()
        .find(|p| p.promise == PromiseId::SeriousAssaultReview)
        .expect("a serious assault triggers the review promise");
    assert!(
        !review_promise.status.is_open(),
        "{:?}",
        review_promise.status
    );
    // The author's own entries are part of their record, not audited apart.
    officer
        .record_promise_entry(id, PromiseEntryKind::ContactMade, Timestamp::now())
        .unwrap();
    officer.sync(None).await.unwrap();
    assert_eq!(station.audit("promise-entry-added").len(), 1);
}

/// An entry dated far ahead of the server's clock would keep a promise
/// before anyone kept it: the server refuses that record's push, naming
/// the entry's position and never its content.
#[tokio::test]
async fn an_entry_dated_ahead_of_the_servers_clock_is_refused() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let officer = station.device("PC1").await;
    let id = officer.create_scene(scene()).unwrap().header.id;
    officer.sync(None).await.unwrap();

    let ahead = Timestamp::from_instant(chrono::Utc::now() + chrono::TimeDelta::days(30)).unwrap();
    officer
        .record_promise_entry(id.clone(), PromiseEntryKind::VictimUpdated, ahead)
        .unwrap();
    let pushed = officer.sync(None).await.unwrap();
    assert_eq!(pushed.rejected.len(), 1, "{pushed:?}");
    let message = &pushed.rejected[0].message;
    assert!(message.contains("promise_entries[0].made_at"), "{message}");
    // The server's copy has no such entry.
    let stored = station.admin.record(&id).unwrap().expect("stored");
    let doc =
        pocketbook_core::document::RecordDoc::load(&stored.snapshot, automerge::ActorId::random())
            .unwrap();
    assert!(
        doc.record()
            .unwrap()
            .body
            .scene()
            .unwrap()
            .promise_entries
            .is_empty()
    );
}

/// Station staff do not sync: a victim update they made at the desk is
/// recorded with `admin records entry`, under the same write rule (staff
/// add only victim updates, and only to their station's records), audited,
/// and reaches the author's handset through the feed.
#[tokio::test]
async fn station_staff_record_a_victim_update_at_the_desk() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer_as("ST1", "Lewisham", pocketbook_tests::Role::Staff);
    station.add_officer_as("ST2", "Deptford", pocketbook_tests::Role::Staff);
    let officer = station.device("PC1").await;
    let id = officer.create_scene(scene()).unwrap().header.id;
    officer.sync(None).await.unwrap();
    let data = station.data.path();
    let entry = |by: &str, kind: &str| {
        admin_output(data, &["records", "entry", &id, "--by", by, "--kind", kind])
    };

    // Staff of another station, and a review by staff, are refused.
    let elsewhere = entry("ST2", "victim updated");
    assert!(!elsewhere.status.success());
    let review = entry("ST1", "review done");
    assert!(!review.status.success());
    assert!(
        String::from_utf8_lossy(&review.stderr).contains("in the role of staff"),
        "{}",
        String::from_utf8_lossy(&review.stderr)
    );
    assert!(station.audit("promise-entry-added").is_empty());

    let made = entry("ST1", "victim updated");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let events = station.audit("promise-entry-added");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor, "officer:ST1");
    assert_eq!(events[0].detail["kind"], "victim updated");

    officer.sync(None).await.unwrap();
    let record = officer.get(id.clone()).unwrap();
    let entries = &record.body.scene().unwrap().promise_entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].kind, entries[0].made_by.as_str()),
        (PromiseEntryKind::VictimUpdated, "ST1")
    );
}

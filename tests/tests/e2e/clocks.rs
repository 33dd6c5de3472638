//! Handsets whose clocks are hours apart from the server's and from each
//! other: scene actions keep one order everywhere, the order they were
//! appended in (a device's clock never reorders them), and the server keeps
//! its own receive time of every change set beside the device times
//! (`admin records history`). docs/clocks.md says which times count where.
//!
//! A handset's clock is what `Timestamp::now()` reads when the app stamps
//! an action; a skewed one is played by stamping the action through the
//! document layer with the skewed time and handing the document to the
//! device as an import, which it then syncs like any edit.

use automerge::ActorId;
use chrono::{TimeDelta, Utc};
use pocketbook_core::model::{ChecklistItem, RecordBody, SceneAction, Tick, TickOutcome};
use pocketbook_core::{Record, RecordDoc};
use pocketbook_tests::inputs::*;
use pocketbook_tests::{Device, Station};

/// Appends a note action to `id` on `device`, stamped by a handset clock
/// `skew` away from the true time, as `officer`; returns the action's id.
fn action_at_skew(device: &Device, id: &str, officer: &str, skew: TimeDelta, text: &str) -> String {
    let mut doc = RecordDoc::load(&device.export(id.to_string()).unwrap(), ActorId::random())
        .expect("the device's document loads");
    let stamp = pocketbook_fixtures::text(Utc::now() + skew);
    let action = doc
        .add_action(note(text.to_string()), officer, &stamp)
        .expect("a valid action");
    device
        .import(doc.save())
        .expect("the device takes its own edit");
    action
}

/// Ticks `item` on `device` as `officer`, stamped by a handset clock
/// `skew` away from the true time.
fn tick_at_skew(
    device: &Device,
    id: &str,
    officer: &str,
    skew: TimeDelta,
    outcome: TickOutcome,
    reason: Option<&str>,
) {
    let mut doc = RecordDoc::load(&device.export(id.to_string()).unwrap(), ActorId::random())
        .expect("the device's document loads");
    let tick = Tick {
        id: String::new(),
        item: ChecklistItem::WitnessesSought,
        outcome,
        reason: reason.map(str::to_string),
        ticked_by: officer.to_string(),
        ticked_at: pocketbook_fixtures::text(Utc::now() + skew)
            .parse()
            .expect("a time"),
    };
    doc.tick(&tick).expect("a valid tick");
    device
        .import(doc.save())
        .expect("the device takes its own edit");
}

fn actions(record: &Record) -> Vec<SceneAction> {
    match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
            scene.actions.clone()
        }
        other => panic!("not a scene: {other:?}"),
    }
}

fn ids(actions: &[SceneAction]) -> Vec<String> {
    actions.iter().map(|a| a.id.clone()).collect()
}

fn on_server(station: &Station, id: &str) -> Vec<SceneAction> {
    let stored = station.admin.record(id).unwrap().expect("stored");
    let doc = RecordDoc::load(&stored.snapshot, ActorId::random()).unwrap();
    actions(&doc.record().unwrap())
}

#[tokio::test]
async fn scene_actions_keep_their_append_order_whatever_the_handset_clocks_say() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let behind = station.device("PC1").await; // three hours slow
    let ahead = station.device("PC2").await; // five hours fast
    let (slow, fast) = (TimeDelta::hours(-3), TimeDelta::hours(5));
    let id = behind.create_scene(scene()).unwrap().header.id;
    behind
        .add_attending_officer(id.clone(), "PC2".into())
        .unwrap();
    behind.sync(None).await.unwrap();
    ahead.sync(None).await.unwrap();

    // One after another, each device having seen the last action.
    let first = action_at_skew(&behind, &id, "PC1", slow, "arrived, door forced");
    behind.sync(None).await.unwrap();
    ahead.sync(None).await.unwrap();
    let second = action_at_skew(&ahead, &id, "PC2", fast, "neighbour spoken to");
    ahead.sync(None).await.unwrap();
    behind.sync(None).await.unwrap();
    let third = action_at_skew(&behind, &id, "PC1", slow, "scene photographed");
    behind.sync(None).await.unwrap();
    ahead.sync(None).await.unwrap();

    let appended = vec![first.clone(), second.clone(), third.clone()];
    let seen = actions(&behind.get(id.clone()).unwrap());
    assert_eq!(ids(&seen), appended, "the order they were appended in");
    assert!(
        seen[1].recorded_at.instant() > seen[2].recorded_at.instant(),
        "the handset stamps disagree with that order: the fast clock's action reads hours later"
    );
    assert_eq!(ids(&actions(&ahead.get(id.clone()).unwrap())), appended);
    assert_eq!(ids(&on_server(&station, &id)), appended);

    // Offline at once: both survive, in one order on every replica.
    let offline_slow = action_at_skew(&behind, &id, "PC1", slow, "witness left");
    let offline_fast = action_at_skew(&ahead, &id, "PC2", fast, "crime scene examiner called");
    behind.sync(None).await.unwrap();
    ahead.sync(None).await.unwrap();
    behind.sync(None).await.unwrap();
    let merged = ids(&actions(&behind.get(id.clone()).unwrap()));
    assert_eq!(merged.len(), 5);
    assert_eq!(merged[..3], appended[..]);
    assert!(merged.contains(&offline_slow) && merged.contains(&offline_fast));
    assert_eq!(ids(&actions(&ahead.get(id.clone()).unwrap())), merged);
    assert_eq!(ids(&on_server(&station, &id)), merged);

    // The server's own receive time of each change set, beside the device
    // times: in feed order, and hours away from what the skewed handsets
    // wrote.
    let history = station.admin_service().record_history(&id).unwrap();
    let received: Vec<_> = history
        .iter()
        .map(|c| {
            let at = c.received_at.as_deref().expect("a receive time");
            chrono::DateTime::parse_from_rfc3339(at)
                .expect("RFC 3339")
                .with_timezone(&Utc)
        })
        .collect();
    assert!(received.is_sorted(), "{history:?}");
    let all = actions(&behind.get(id.clone()).unwrap());
    let stamped = |action: &str| {
        all.iter()
            .find(|a| a.id == action)
            .expect("the action")
            .recorded_at
            .instant()
    };
    let from = |device: &Device| {
        history
            .iter()
            .zip(&received)
            .filter(|(c, _)| c.origin_device == device.device_id)
            .map(|(_, at)| *at)
            .collect::<Vec<_>>()
    };
    for at in from(&ahead) {
        assert!(stamped(&second) - at > TimeDelta::hours(4), "fast handset");
    }
    for at in from(&behind).into_iter().skip(1) {
        assert!(at - stamped(&first) > TimeDelta::hours(2), "slow handset");
    }
}

#[tokio::test]
async fn a_later_tick_counts_even_from_a_handset_whose_clock_is_behind() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let behind = station.device("PC1").await; // three hours slow
    let ahead = station.device("PC2").await; // five hours fast
    let id = behind.create_burglary(scene()).unwrap().header.id;
    behind
        .add_attending_officer(id.clone(), "PC2".into())
        .unwrap();
    behind.sync(None).await.unwrap();
    ahead.sync(None).await.unwrap();

    // The fast handset ticks the item done; the slow one, having seen that,
    // corrects it to not done. The correction is the later entry, though
    // its device time reads eight hours earlier.
    tick_at_skew(
        &ahead,
        &id,
        "PC2",
        TimeDelta::hours(5),
        TickOutcome::Done,
        None,
    );
    ahead.sync(None).await.unwrap();
    behind.sync(None).await.unwrap();
    tick_at_skew(
        &behind,
        &id,
        "PC1",
        TimeDelta::hours(-3),
        TickOutcome::NotDone,
        Some("the neighbours were out; calling back tomorrow"),
    );
    behind.sync(None).await.unwrap();
    ahead.sync(None).await.unwrap();

    for device in [&behind, &ahead] {
        let record = device.get(id.clone()).unwrap();
        let counted = &record.derived.latest_ticks;
        assert_eq!(counted.len(), 1, "{counted:?}");
        assert_eq!(counted[0].ticked_by, "PC1", "the correction counts");
        assert_eq!(counted[0].outcome, TickOutcome::NotDone);
    }
}

//! The trust boundary for records, one test per attack class: what a
//! hostile enrolled device may try with the records it pushes. Each gets a
//! precise 4xx or a per-record refusal, writes nothing, is audited when a
//! person tried something they may not do, and the server keeps serving
//! other devices in the same test.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ROOT, ReadDoc};
use chrono::{DateTime, TimeDelta, Utc};
use pocketbook_core::model::{ActionDetail, ChecklistItem, ReceiptMedium, RecordKind, TickOutcome};
use pocketbook_core::sync::wire::*;
use pocketbook_server::Clock;
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_server::sync::OUT_OF_SCOPE;

use crate::support::*;
use pocketbook_fixtures::as_change_chunks;

/// The station's clock starts at noon the day after the fixtures' searches.
fn today() -> DateTime<Utc> {
    pocketbook_fixtures::station_now()
}

/// The station's "now" moved by `seconds`, spelt as records carry times.
fn from_today(seconds: i64) -> String {
    pocketbook_fixtures::text(today() + TimeDelta::seconds(seconds))
}

/// The fixtures' day (`YYYY-MM-DD`), to spell times of that day by hand.
fn day() -> String {
    pocketbook_fixtures::fixture_day().to_string()
}

/// The last instant a search may have happened and still be kept: 12
/// months before the station's clock.
fn retention_edge() -> DateTime<Utc> {
    today().checked_sub_months(chrono::Months::new(12)).unwrap()
}

/// A server on a clock the test moves.
async fn station() -> (TestServer, Arc<AtomicI64>) {
    let ahead = Arc::new(AtomicI64::new(0));
    let moved = ahead.clone();
    let server = TestServer::start_with_clock(Clock::new(move || {
        today() + TimeDelta::seconds(moved.load(Ordering::SeqCst))
    }))
    .await;
    (server, ahead)
}

/// The object at `path` (map keys from the root).
fn object(doc: &AutoCommit, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for key in path {
        obj = doc.get(&obj, *key).unwrap().unwrap().1;
    }
    obj
}

const SEARCH: &[&str] = &["body", "StopSearch", "search"];
const SCENE: &[&str] = &["body", "SceneAttendance", "scene"];

/// A change to a document the server already holds, made behind the API's
/// back: only the new change chunks, as a device pushes them.
fn changed(bytes: &[u8], edit: impl FnOnce(&mut AutoCommit)) -> Vec<u8> {
    let mut doc = AutoCommit::load(bytes).unwrap();
    let before = doc.get_heads();
    edit(&mut doc);
    doc.save_after(&before)
}

/// The changes in `now` that the server's copy `known` lacks, as a device
/// pushes them.
fn since(now: &[u8], known: &[u8]) -> Vec<u8> {
    let known = AutoCommit::load(known).unwrap().get_heads();
    AutoCommit::load(now).unwrap().save_after(&known)
}

/// A whole new document, edited behind the API's back before its first push.
fn rewritten(bytes: &[u8], edit: impl FnOnce(&mut AutoCommit)) -> Vec<u8> {
    let mut doc = AutoCommit::load(bytes).unwrap();
    edit(&mut doc);
    doc.save_after(&[])
}

fn push(record_id: &str, kind: RecordKind, changes: Vec<u8>) -> PushedRecord {
    PushedRecord {
        record_id: record_id.into(),
        kind,
        changes: as_change_chunks(changes),
    }
}

/// The refusals of an answer exactly as they travel.
fn refusals(response: &SyncResponse) -> String {
    serde_json::to_string(&response.rejected).unwrap()
}

/// Another device still gets a normal answer.
async fn still_serving(server: &TestServer, token: &str) {
    let answer = server.sync(token, &request(None, vec![])).await;
    assert!(answer.rejected.is_empty());
}

/// What the intruder hears about one id, pushed as a whole document in
/// its owner's name, and as garbage.
async fn probe(
    server: &TestServer,
    intruder: &str,
    record: &PushedRecord,
    garbage: &PushedRecord,
) -> (SyncResponse, SyncResponse) {
    (
        server
            .sync(intruder, &request(None, vec![record.clone()]))
            .await,
        server
            .sync(intruder, &request(None, vec![garbage.clone()]))
            .await,
    )
}

#[tokio::test]
async fn refusals_outside_scope_do_not_tell_whether_a_record_exists_or_was_erased() {
    let (server, _) = station().await;
    let owner = server.device("PC1", "Lewisham").await;
    let intruder = server.device("PC2", "Lewisham").await;
    let bystander = server.device("PC3", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let record = new_search(&nb);
    let id = record.record_id.clone();
    let garbage = PushedRecord {
        changes: b"\x85\x6f\x4a\x83 not automerge".to_vec(),
        ..record.clone()
    };
    let (never, never_garbage) = probe(&server, &intruder, &record, &garbage).await;
    assert!(server.storage.record(&id).unwrap().is_none());
    let stored = server
        .sync(&owner, &request(None, vec![record.clone()]))
        .await;
    assert_eq!(stored.acknowledged.len(), 1);
    let (exists, exists_garbage) = probe(&server, &intruder, &record, &garbage).await;
    server
        .storage
        .erase_record(&id, &from_today(0), "retention", &[])
        .unwrap();
    let (erased, erased_garbage) = probe(&server, &intruder, &record, &garbage).await;

    assert_eq!(never.rejected[0].code, RejectionCode::Forbidden);
    assert_eq!(never.rejected[0].message, OUT_OF_SCOPE);
    assert_eq!(refusals(&never), refusals(&exists));
    assert_eq!(refusals(&never), refusals(&erased));
    assert_eq!(never_garbage.rejected[0].code, RejectionCode::Corrupt);
    assert_eq!(refusals(&never_garbage), refusals(&exists_garbage));
    assert_eq!(refusals(&never_garbage), refusals(&erased_garbage));
    // Each refusal in scope terms is audited the same way, three times.
    let refused = server.audit("push-refused");
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|e| e.actor == "officer:PC2"
        && e.detail["reason"] == OUT_OF_SCOPE
        && e.record_id.as_deref() == Some(id.as_str())));

    // The owner's stale device is told the truth, and erases its copy.
    let told = server.sync(&owner, &request(None, vec![record])).await;
    assert_eq!(told.rejected[0].code, RejectionCode::Erased);
    still_serving(&server, &bystander).await;
}

#[tokio::test]
async fn a_push_repeating_a_record_id_or_over_the_byte_limit_is_refused_whole() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let record = new_search(&nb);

    let twice = request(None, vec![record.clone(), record.clone()]);
    let response = server
        .post_raw(Some(&token), serde_json::to_vec(&twice).unwrap())
        .await;
    assert_eq!(response.status(), 400);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error, "malformed");
    assert!(
        error.message.contains("more than once"),
        "{}",
        error.message
    );
    assert!(server.storage.records().unwrap().is_empty());
    assert_eq!(server.audit("push-refused").len(), 1);

    // Records before the last already over the limit (a device stops
    // adding records once it is reached): 413, nothing merged.
    let filler = |i: usize| {
        push(
            &format!("f{i}"),
            RecordKind::StopSearch,
            vec![0; 700 * 1024],
        )
    };
    let over = request(None, vec![filler(0), filler(1), filler(2), record.clone()]);
    let response = server
        .post_raw(Some(&token), serde_json::to_vec(&over).unwrap())
        .await;
    assert_eq!(response.status(), 413);
    assert!(server.storage.records().unwrap().is_empty());
    let refused = server.audit("push-refused");
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[1].detail["reason"], "too-large");
    // The last record may cross it, as an honest device's does.
    let crossing = request(None, vec![filler(0), filler(1), record.clone()]);
    let answer = server.sync(&token, &crossing).await;
    assert_eq!(answer.acknowledged.len(), 1);
    assert_eq!(answer.rejected.len(), 2, "the filler is not Automerge");
}

#[tokio::test]
async fn a_new_record_repeating_a_reference_or_forging_its_header_is_refused_and_audited() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let first = new_search(&nb);
    let first_reference = nb.get(first.record_id.clone()).unwrap().header.reference;
    server.sync(&token, &request(None, vec![first])).await;

    let header = ["header"];
    let author = ["header", "author"];
    let twin = new_search(&nb);
    let twin = PushedRecord {
        changes: rewritten(&twin.changes, |doc| {
            let h = object(doc, &header);
            doc.put(&h, "reference", first_reference.as_str()).unwrap();
        }),
        ..twin
    };
    let renamed = new_search(&nb);
    let renamed = PushedRecord {
        changes: rewritten(&renamed.changes, |doc| {
            let a = object(doc, &author);
            doc.put(&a, "name", "Chief Superintendent").unwrap();
        }),
        ..renamed
    };
    let moved = new_search(&nb);
    let moved = PushedRecord {
        changes: rewritten(&moved.changes, |doc| {
            let a = object(doc, &author);
            doc.put(&a, "station", "Scotland Yard").unwrap();
        }),
        ..moved
    };
    let honest = new_search(&nb);
    let answer = server
        .sync(
            &token,
            &request(None, vec![twin, renamed, moved, honest.clone()]),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1);
    assert_eq!(answer.acknowledged[0].record_id, honest.record_id);
    let refused: Vec<(RejectionCode, &str)> = answer
        .rejected
        .iter()
        .map(|r| (r.code, r.message.as_str()))
        .collect();
    assert_eq!(refused[0].0, RejectionCode::Forbidden);
    assert!(refused[0].1.starts_with("reference:"), "{}", refused[0].1);
    assert!(refused[1..].iter().all(|(code, message)| {
        *code == RejectionCode::Forbidden && message.starts_with("author:")
    }));
    assert_eq!(server.storage.records().unwrap().len(), 2);
    assert_eq!(server.audit("push-refused").len(), 3);
    // Nothing the device typed reaches the trail.
    let trail = serde_json::to_string(&server.audit("push-refused")[2].detail).unwrap();
    assert!(!trail.contains("Scotland Yard"));
    still_serving(&server, &other).await;
}

#[tokio::test]
async fn times_in_odd_spellings_or_beyond_belief_are_refused_for_their_record_alone() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let dated = |datetime: &str| {
        let record = new_search(&nb);
        let datetime = datetime.to_string();
        PushedRecord {
            changes: rewritten(&record.changes, |doc| {
                let s = object(doc, SEARCH);
                doc.put(&s, "datetime", datetime).unwrap();
            }),
            ..record
        }
    };
    // Spellings chrono reads but that do not round-trip, one per record.
    let day = day();
    let odd = [
        format!("{day}t14:05:00Z"),
        format!("{day}T14:05:00z"),
        format!(" {day}T14:05:00Z"),
        format!("{day}T14:05:60Z"),
        format!("{day}T14:05:00-00:00"),
    ];
    // The clock reads noon the day after: 6 hours ahead is the limit,
    // and a search older than its 12 months would only be erased again.
    let edge = pocketbook_fixtures::text(retention_edge());
    let implausible = [
        from_today(6 * 3600 + 1),
        "2099-01-01T00:00:00Z".to_string(),
        pocketbook_fixtures::text(retention_edge() - TimeDelta::seconds(1)),
    ];
    let fine = [
        from_today(6 * 3600),
        format!("{day}T15:05:00+01:00"),
        format!("{day}T14:05:00.250Z"),
        edge.clone(),
    ];
    let mut pushes: Vec<PushedRecord> = Vec::new();
    for t in odd.iter().chain(&implausible).chain(&fine) {
        pushes.push(dated(t));
    }
    let answer = server.sync(&token, &request(None, pushes.clone())).await;
    assert_eq!(answer.rejected.len(), odd.len() + implausible.len());
    assert!(
        answer
            .rejected
            .iter()
            .all(|r| r.code == RejectionCode::Invalid && r.message.contains("datetime:")),
        "{:?}",
        answer.rejected
    );
    assert!(
        answer.rejected[odd.len()]
            .message
            .contains("hours after the server's time")
    );
    assert!(
        answer.rejected[odd.len() + 2]
            .message
            .contains("retention period")
    );
    assert_eq!(answer.acknowledged.len(), fine.len());
    // Clock errors are not misconduct: nothing audited.
    assert!(server.audit("push-refused").is_empty());
    // The server's time travels with every answer.
    assert_eq!(
        answer.server_time,
        Some(
            today()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .to_string()
        )
    );

    // Stored and indexed in one UTC form, whatever offset the device wrote.
    let mut stored: Vec<String> = server
        .storage
        .records()
        .unwrap()
        .into_iter()
        .map(|r| r.occurred_at)
        .collect();
    stored.sort();
    let search_at = pocketbook_fixtures::at_text(14, 5);
    assert_eq!(
        stored,
        vec![edge, search_at.clone(), search_at, from_today(6 * 3600)]
    );

    // A time new in a later push is checked the same way: an arrival in
    // lowercase is refused, the record stays as it was.
    let scene_id = nb.create_scene(scene()).unwrap().header.id;
    let scene_push = push(
        &scene_id,
        RecordKind::SceneAttendance,
        nb.export(scene_id.clone()).unwrap(),
    );
    server
        .sync(&token, &request(None, vec![scene_push.clone()]))
        .await;
    let arrival = changed(&scene_push.changes, |doc| {
        let s = object(doc, SCENE);
        doc.put(&s, "arrived", format!("{}t10:09:00Z", day))
            .unwrap();
    });
    let answer = server
        .sync(
            &token,
            &request(
                None,
                vec![push(&scene_id, RecordKind::SceneAttendance, arrival)],
            ),
        )
        .await;
    assert_eq!(answer.rejected[0].code, RejectionCode::Invalid);
    assert!(answer.rejected[0].message.contains("arrived:"));
    still_serving(&server, &other).await;
}

#[tokio::test]
async fn once_the_receipt_is_given_the_encounter_cannot_move() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let id = nb.create_stop_search(stop_search()).unwrap().header.id;
    nb.issue_receipt(id.clone(), ReceiptMedium::Printed)
        .unwrap();
    let whole = nb.export(id.clone()).unwrap();
    server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, whole.clone())]),
        )
        .await;
    let receipt_given = server.storage.record(&id).unwrap().unwrap();

    // Backdated by its own author: refused, audited, the retention clock stays.
    let backdated = changed(&whole, |doc| {
        let s = object(doc, SEARCH);
        doc.put(
            &s,
            "datetime",
            pocketbook_fixtures::day_time(-30, 9, 0, 0).as_str(),
        )
        .unwrap();
    });
    let outcome = changed(&whole, |doc| {
        let s = object(doc, SEARCH);
        doc.put(&s, "outcome", "A no further action disposal")
            .unwrap();
    });
    let answer = server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, backdated)]),
        )
        .await;
    assert_eq!(answer.rejected[0].code, RejectionCode::Forbidden);
    assert!(
        answer.rejected[0]
            .message
            .starts_with("datetime: cannot change once the receipt is recorded"),
        "{}",
        answer.rejected[0].message
    );
    let answer = server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, outcome)]),
        )
        .await;
    assert!(answer.rejected[0].message.starts_with("outcome:"));
    let now = server.storage.record(&id).unwrap().unwrap();
    assert_eq!(now.index.occurred_at, pocketbook_fixtures::at_text(14, 5));
    assert_eq!(now.version, receipt_given.version, "nothing written");
    assert_eq!(server.audit("push-refused").len(), 2);

    // A correction in the notes is still welcome.
    nb.add_note(
        id.clone(),
        "Time on the receipt is right; place was Lee High Road".into(),
    )
    .unwrap();
    let notes = since(&nb.export(id.clone()).unwrap(), &whole);
    let answer = server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, notes)]),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    still_serving(&server, &other).await;
}

#[tokio::test]
async fn a_colleague_cannot_remove_or_alter_another_officers_entries() {
    let (server, _) = station().await;
    let author = server.device("PC1", "Lewisham").await;
    let colleague = server.device("PC2", "Lewisham").await;
    let bystander = server.device("PC3", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let id = nb.create_burglary(scene()).unwrap().header.id;
    nb.add_attending_officer(id.clone(), "PC2".into()).unwrap();
    nb.add_scene_action(
        id.clone(),
        ActionDetail::Note {
            text: "door forced".into(),
        },
    )
    .unwrap();
    nb.tick(
        id.clone(),
        ChecklistItem::IntroducedThemselves,
        TickOutcome::Done,
        None,
    )
    .unwrap();
    let whole = nb.export(id.clone()).unwrap();
    let first = server
        .sync(
            &author,
            &request(
                None,
                vec![push(&id, RecordKind::HomeBurglary, whole.clone())],
            ),
        )
        .await;
    assert_eq!(first.acknowledged.len(), 1, "{:?}", first.rejected);
    let burglary = ["body", "HomeBurglary", "scene"];
    let edits: Vec<(&str, Vec<u8>)> = vec![
        (
            "scene action 1 of the server's copy was removed; entries are never removed",
            changed(&whole, |doc| {
                let actions = object(doc, &[burglary.as_slice(), &["actions"]].concat());
                doc.delete(&actions, 0).unwrap();
            }),
        ),
        (
            "scene action 1 was altered; entries are never changed",
            changed(&whole, |doc| {
                let actions = object(doc, &[burglary.as_slice(), &["actions"]].concat());
                let action = doc.get(&actions, 0).unwrap().unwrap().1;
                doc.put(&action, "recorded_by", "PC2").unwrap();
            }),
        ),
        (
            "tick 1 of the server's copy was removed; entries are never removed",
            changed(&whole, |doc| {
                let ticks = object(doc, &[burglary.as_slice(), &["tick_entries"]].concat());
                doc.delete(&ticks, 0).unwrap();
            }),
        ),
    ];
    for (expected, changes) in edits {
        let answer = server
            .sync(
                &colleague,
                &request(None, vec![push(&id, RecordKind::HomeBurglary, changes)]),
            )
            .await;
        assert_eq!(answer.rejected[0].code, RejectionCode::Forbidden);
        assert_eq!(answer.rejected[0].message, expected);
    }
    assert_eq!(server.storage.feed_after(0, 100).unwrap().len(), 1);
    let refused = server.audit("push-refused");
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|e| e.actor == "officer:PC2"));

    // Adding in their own name is what a colleague may do.
    let (_d2, mine) = notebook("PC2");
    mine.import(whole.clone()).unwrap();
    mine.add_scene_action(
        id.clone(),
        ActionDetail::Note {
            text: "neighbour spoken to".into(),
        },
    )
    .unwrap();
    let answer = server
        .sync(
            &colleague,
            &request(
                None,
                vec![push(
                    &id,
                    RecordKind::HomeBurglary,
                    since(&mine.export(id.clone()).unwrap(), &whole),
                )],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    still_serving(&server, &bystander).await;
}

#[tokio::test]
async fn text_typed_as_a_colleague_stays_out_of_the_audit_trail() {
    let (server, _) = station().await;
    let author = server.device("PC1", "Lewisham").await;
    let colleague = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let id = nb.create_scene(scene()).unwrap().header.id;
    nb.add_attending_officer(id.clone(), "PC2".into()).unwrap();
    nb.add_attending_officer(id.clone(), "Jane Doe 07700900123".into())
        .unwrap();
    let answer = server
        .sync(
            &author,
            &request(
                None,
                vec![push(
                    &id,
                    RecordKind::SceneAttendance,
                    nb.export(id.clone()).unwrap(),
                )],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    let shared = server.audit("record-shared");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].detail["with"], serde_json::json!(["PC2"]));
    assert_eq!(shared[0].detail["not_known"], 1);
    assert!(!serde_json::to_string(&shared).unwrap().contains("Jane"));
    still_serving(&server, &colleague).await;
}

#[tokio::test]
async fn an_erased_record_leaves_nothing_readable_in_the_store_files() {
    let (server, ahead) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    // A short street is stored as it is (long columns are compressed).
    let street = "Qz7 Residue Lane";
    let mut search = stop_search();
    search.location.street = street.into();
    let id = nb.create_stop_search(search).unwrap().header.id;
    let reference = nb.get(id.clone()).unwrap().header.reference;
    let pushed = server
        .sync(
            &token,
            &request(
                None,
                vec![push(
                    &id,
                    RecordKind::StopSearch,
                    nb.export(id.clone()).unwrap(),
                )],
            ),
        )
        .await;
    assert_eq!(pushed.acknowledged.len(), 1);
    let files = |dir: &std::path::Path| -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["server.db", "server.db-wal"] {
            bytes.extend(std::fs::read(dir.join(name)).unwrap_or_default());
        }
        bytes
    };
    let holds = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    // Positive control: before the erasure both are there, as stored.
    let before = files(server.dir.path());
    assert!(holds(&before, street), "the street is stored literally");
    assert!(holds(&before, &reference));

    ahead.store(TimeDelta::days(367).num_seconds(), Ordering::SeqCst);
    let report = server
        .admin()
        .run_retention(&RetentionPolicy::default(), false)
        .unwrap();
    assert_eq!(report.records.len(), 1);
    let after = files(server.dir.path());
    assert!(
        !holds(&after, street),
        "the erased street is still in the files"
    );
    assert!(!holds(&after, &reference));
    still_serving(&server, &other).await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_is_private_to_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("pocketbook-data");
    let storage = pocketbook_server::storage::sqlite::SqliteStorage::open(&data).unwrap();
    // A write creates the write-ahead log and its shared memory.
    use pocketbook_server::storage::{AuditLog, Storage};
    storage.ping().unwrap();
    storage
        .append_audit(
            &from_today(0),
            &[pocketbook_server::audit::event(
                "admin",
                pocketbook_server::audit::Action::OfficerAdded,
                None,
                serde_json::json!({}),
            )],
        )
        .unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for name in ["server.db", "server.db-wal", "server.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}

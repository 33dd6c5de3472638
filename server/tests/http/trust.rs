//! The trust boundary for records, one test per attack class: what a
//! hostile enrolled device may try with the records it pushes. Each gets a
//! precise 4xx or a per-record refusal, writes nothing, is audited when a
//! person tried something they may not do, and the server keeps serving
//! other devices in the same test.

mod entries;
mod pushes;
mod store;
mod times;

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

//! The device against a server that answers what no honest server would:
//! a feed entry carrying another record's history under this record's id,
//! a record kind this app does not know, JSON nested past any sense. The
//! server here is a few lines of HTTP on a loopback port answering from a
//! script; the device is the real command line. Each answer must end in a
//! typed error or an entry held aside, never in a record lost or changed,
//! and the sync summary must say what was held.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::FeedEntry;
use serde_json::{Value, json};

use super::*;

/// A scripted server on a loopback port: enrolment always works, and the
/// n-th sync (from 0) gets `sync(n)` as its body. Runs until the test ends.
fn scripted(sync: impl Fn(usize) -> String + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let syncs = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut path, mut length) = (String::new(), 0usize);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if path.is_empty() {
                    path = line.split(' ').nth(1).unwrap_or("").to_string();
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let mut body = vec![0; length];
            // A client that went away: answer nothing, take the next.
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let answer = if path == "/v1/enrol" {
                json!({
                    "protocol": 2, "device_id": "dev-1", "token": "t".repeat(43),
                    "officer": {"shoulder_number": "PC1", "name": "Jo Smith", "station": "Lewisham"},
                    "access": {"role": "officer", "station": "Lewisham"}
                })
                .to_string()
            } else {
                sync(syncs.fetch_add(1, Ordering::SeqCst))
            };
            // A client that stopped reading is its own failure to report.
            let _written = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

/// A sync answer acknowledging nothing, with `changes` as its feed page.
fn answer(cursor: u64, changes: Value) -> String {
    json!({
        "protocol": 2, "acknowledged": [], "rejected": [], "changes": changes,
        "cursor": cursor, "more": false,
        "access": {"role": "officer", "station": "Lewisham"}
    })
    .to_string()
}

/// A device enrolled with `url`, holding one new stop and search: its id.
fn enrolled_with_a_search(dir: &Path, store: &Path, url: &str) -> String {
    ok(store, &["enrol", "--server", url, "--code", "ABCDE-12345"]);
    let file = write(dir, "search.json", &stop_search_json());
    let record = ok(store, &["new", "stop-search", "--json", &file]);
    record["header"]["id"].as_str().unwrap().to_string()
}

/// The record as the device shows it, without what a sync may change.
fn shown(store: &Path, id: &str) -> Value {
    let mut record = ok(store, &["show", id]);
    record["header"]["updated_at"] = Value::Null;
    record
}

#[test]
fn another_records_history_under_a_records_id_is_held_and_said() {
    let dir = tempfile::tempdir().unwrap();
    // Another officer's search, as its whole Automerge history.
    let other = dir.path().join("other");
    init(&other, "PC9");
    let mut search = stop_search_json();
    search["grounds"] = json!("Grounds the server slipped in");
    let file = write(dir.path(), "other.json", &search);
    let other_id = ok(&other, &["new", "stop-search", "--json", &file])["header"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let history = dir.path().join("other.bin");
    ok(
        &other,
        &["export", &other_id, "--out", history.to_str().unwrap()],
    );
    let history = std::fs::read(&history).unwrap();

    let store = dir.path().join("device");
    let id = Arc::new(std::sync::OnceLock::<String>::new());
    let named = id.clone();
    let url = scripted(move |_| {
        let entry = FeedEntry {
            seq: 9,
            record_id: named.get().unwrap().clone(),
            kind: RecordKind::StopSearch,
            changes: history.clone(),
            erased: false,
        };
        answer(9, json!([entry]))
    });
    id.set(enrolled_with_a_search(dir.path(), &store, &url))
        .unwrap();
    let id = id.get().unwrap();
    let before = shown(&store, id);

    let summary = ok(&store, &["sync"]);
    assert_eq!(summary["held"], 1, "{summary}");
    assert_eq!(summary["received"], 0, "{summary}");
    // The record is as it was: same id, same grounds, still waiting for
    // a server that acknowledges it.
    assert_eq!(shown(&store, id), before);
    assert_eq!(summary["pending"], 1, "{summary}");
}

/// A record kind this app does not know (a newer server's) and a cursor
/// past any feed position: refused as a protocol error today, or held;
/// either way the device's own record is untouched and still waits for
/// the server.
#[test]
fn an_answer_the_device_cannot_read_loses_nothing() {
    let unknown_kind = answer(
        5,
        json!([{"seq": 5, "record_id": "0190f0f0-0000-7000-8000-000000000001",
                "kind": "missing-person", "changes": "AAAA"}]),
    );
    let cursor_past_u64 =
        answer(0, json!([])).replace("\"cursor\":0", "\"cursor\":1180591620717411303424");
    for hostile in [unknown_kind, cursor_past_u64] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("device");
        let url = scripted(move |_| hostile.clone());
        let id = enrolled_with_a_search(dir.path(), &store, &url);
        let before = shown(&store, &id);
        let out = device(&store, &["sync"]);
        if out.status.success() {
            let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(summary["held"].as_u64() >= Some(1), "{summary}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            let error: Value = serde_json::from_slice(&out.stderr).unwrap();
            assert_eq!(error["error"], "protocol", "{error}");
        }
        assert_eq!(shown(&store, &id), before);
        let list = ok(&store, &["list"]);
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    }
}

/// A server that answers each sync with `answer(record id)`, and a
/// device enrolled with it holding one new stop and search (its id).
fn device_against(
    dir: &Path,
    store: &Path,
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> String {
    let id = Arc::new(std::sync::OnceLock::<String>::new());
    let named = id.clone();
    let url = scripted(move |_| answer(named.get().unwrap()));
    id.set(enrolled_with_a_search(dir, store, &url)).unwrap();
    id.get().unwrap().clone()
}

/// The server's word that it erased a record is not enough to erase one
/// it never held: it may be the only copy of the search.
#[test]
fn an_erasure_of_a_record_the_server_never_acknowledged_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let id = device_against(dir.path(), &store, |id| {
        answer(
            7,
            json!([{"seq": 7, "record_id": id, "kind": "stop-search", "changes": "", "erased": true}]),
        )
    });
    ok(&store, &["sync"]);
    let list = ok(&store, &["list"]);
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the only copy of {id} is gone"
    );
}

/// Terms that would erase a scene as soon as the server has it are
/// refused with the whole answer.
#[test]
fn retention_terms_of_zero_days_do_not_erase_a_new_scene() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let scene = Arc::new(std::sync::OnceLock::<String>::new());
    let named = scene.clone();
    device_against(dir.path(), &store, move |_| {
        let mut a: Value = serde_json::from_str(&answer(1, json!([]))).unwrap();
        a["acknowledged"] = json!([{"record_id": named.get().unwrap(), "heads": []}]);
        a["retention"] = json!({"encounter_months": 12, "attendance_days": 0});
        a["legal_holds"] = json!([]);
        a.to_string()
    });
    let burglary = json!({
        "reasons": ["crime in progress"], "grade": "emergency",
        "call_received": at_text(10, 0), "location": {"street": "12 Acacia Avenue"}
    });
    let file = write(dir.path(), "burglary.json", &burglary);
    let id = ok(&store, &["new", "burglary", "--json", &file])["header"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    scene.set(id.clone()).unwrap();
    let _ = device(&store, &["sync"]);
    let list = ok(&store, &["list", "--kind", "burglary"]);
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "{id} erased by 0-day terms"
    );
}

/// A server that says more pages wait but never sends one nor moves the
/// cursor would be asked again and again, every pending record pushed
/// each time: the device stops at the first such answer with a protocol
/// error, and its record still waits for the server.
#[test]
fn more_pages_that_never_come_end_the_sync_with_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = asked.clone();
    device_against(dir.path(), &store, move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        answer(0, json!([])).replace("\"more\":false", "\"more\":true")
    });
    let out = device(&store, &["sync"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"], "protocol", "{error}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "asked again for nothing");
    let list = ok(&store, &["list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

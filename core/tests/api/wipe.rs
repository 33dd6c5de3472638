//! The end of a device's life, against a scripted stand-in for the server
//! (the real server's side is tested end to end in `tests/`): a revoked
//! device is erased when told to wipe, a device being handed back uploads
//! everything, confirms on `/v1/retire` and is erased, and an unknown token
//! never erases anything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use pocketbook_core::api::{ChangeOrigin, enrol_device};
use pocketbook_core::model::*;
use pocketbook_core::store::ListFilter;
use pocketbook_core::{ApiError, Notebook};
use serde_json::{Value, json};

use crate::support::*;

const TOKEN: &str = "secret-device-token-3f9a1c";

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: Value,
}

/// Answers a request: status and JSON body (empty for none).
type Script = Box<dyn FnMut(&Seen) -> (u16, String) + Send>;

/// A one-thread HTTP/1.1 server that answers enrolment itself and every
/// other request from the current script.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<Script>>,
    /// The officer the next enrolment is for.
    officer: Arc<Mutex<Value>>,
}

impl StandIn {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Box::new(ack_all(false))));
        let officer = Arc::new(Mutex::new(Value::Null));
        let (log, answer, enrolled) = (seen.clone(), script.clone(), officer.clone());
        // Blocks on accept until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                // A connection the client dropped is simply not answered.
                serve(stream, &log, &answer, &enrolled).ok();
            }
        });
        StandIn {
            url,
            seen,
            script,
            officer,
        }
    }

    fn answer(&self, script: impl FnMut(&Seen) -> (u16, String) + Send + 'static) {
        *self.script.lock().unwrap() = Box::new(script);
    }

    fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .filter(|p| p != "/v1/enrol")
            .collect()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Enrols a device of `number` into `dir`.
    fn enrol(&self, dir: &tempfile::TempDir, number: &str) -> Arc<Notebook> {
        *self.officer.lock().unwrap() = serde_json::to_value(officer(number)).unwrap();
        let url = self.url.clone();
        let dir = dir.path().display().to_string();
        block_on(enrol_device(dir, url, "ABCDE-FGHJK".into(), "test".into())).unwrap()
    }
}

fn serve(
    stream: std::net::TcpStream,
    log: &Mutex<Vec<Seen>>,
    script: &Mutex<Script>,
    officer: &Mutex<Value>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let (mut length, mut gzip, mut authorization) = (0, false, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "content-encoding" => gzip = value == "gzip",
            "authorization" => authorization = Some(value.to_string()),
            _ => {}
        }
    }
    let mut raw = vec![0; length];
    reader.read_exact(&mut raw)?;
    let mut text = Vec::new();
    if gzip {
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut text)?;
    } else {
        text = raw;
    }
    let seen = Seen {
        path,
        authorization,
        body: serde_json::from_slice(&text).unwrap_or(Value::Null),
    };
    log.lock().unwrap().push(seen.clone());
    let (status, body) = if seen.path == "/v1/enrol" {
        let officer = officer.lock().unwrap().clone();
        (
            200,
            json!({"protocol": 1, "device_id": "d1", "token": TOKEN, "officer": officer})
                .to_string(),
        )
    } else {
        (script.lock().unwrap())(&seen)
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// A sync answer acknowledging every pushed record.
fn acknowledge(request: &Value, retire: bool, more: bool) -> String {
    let acknowledged: Vec<Value> = request["push"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| json!({"record_id": p["record_id"], "heads": []}))
        .collect();
    json!({"protocol": 1, "acknowledged": acknowledged, "rejected": [], "changes": [],
           "cursor": 7, "more": more, "retire": retire})
    .to_string()
}

fn ack_all(retire: bool) -> impl FnMut(&Seen) -> (u16, String) + Send {
    move |seen| match seen.path.as_str() {
        "/v1/sync" => (200, acknowledge(&seen.body, retire, false)),
        "/v1/retire" => (204, String::new()),
        _ => (
            404,
            json!({"error": "not-found", "message": "no"}).to_string(),
        ),
    }
}

fn refusal(code: &str, wipe: bool) -> String {
    json!({"error": code, "message": "closed", "wipe": wipe}).to_string()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn sync(nb: &Notebook) -> Result<pocketbook_core::api::SyncSummary, ApiError> {
    block_on(nb.sync(None))
}

/// The store's bytes on disk (database and write-ahead log).
fn store_bytes(dir: &tempfile::TempDir) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["pocketbook.db", "pocketbook.db-wal"] {
        bytes.extend(std::fs::read(dir.path().join(name)).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// After a wipe: the notebook answers `NotEnrolled`, the directory holds
/// no notebook, and neither the token nor any record is left on disk.
fn assert_erased(dir: &tempfile::TempDir, nb: &Notebook) {
    assert!(matches!(
        nb.list(ListFilter::default()),
        Err(ApiError::NotEnrolled(_))
    ));
    assert!(matches!(
        nb.create_scene(scene(ResponseGrade::Emergency)),
        Err(ApiError::NotEnrolled(_))
    ));
    assert!(matches!(sync(nb), Err(ApiError::NotEnrolled(_))));
    assert!(nb.store_moved_aside().is_none());
    assert!(matches!(
        Notebook::open_existing(dir.path().display().to_string()),
        Err(ApiError::NotEnrolled(_))
    ));
    assert!(
        !contains(&store_bytes(dir), TOKEN),
        "the token is still on disk"
    );
    let conn = rusqlite::Connection::open(dir.path().join("pocketbook.db")).unwrap();
    let records: i64 = conn
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    let keys: Vec<String> = conn
        .prepare("SELECT key FROM meta")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records, 0);
    assert_eq!(keys, ["actor"]);
}

#[test]
fn a_revoked_device_is_erased_at_its_next_contact() {
    let server = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    // An unreadable store left from before: moved aside at enrolment, and
    // erased with the rest.
    std::fs::write(
        dir.path().join("pocketbook.db"),
        b"not a database at all, no",
    )
    .unwrap();
    let nb = server.enrol(&dir, "PC2001");
    assert!(nb.store_moved_aside().is_some());
    let recorder = Arc::new(Recorder::default());
    let _subscription = nb.subscribe(recorder.clone());
    let scene_id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    sync(&nb).unwrap();
    // One record synced, one still pending when the device is revoked.
    let search_id = nb.create_stop_search(stop_search()).unwrap().header.id;
    server.answer(|_| (401, refusal("device-revoked", true)));
    assert!(
        contains(&store_bytes(&dir), TOKEN),
        "the check below means something"
    );

    match sync(&nb) {
        Err(ApiError::Wiped(message)) => {
            assert!(message.contains("revoked"), "{message}");
            assert!(message.contains("erased"), "{message}");
        }
        other => panic!("expected Wiped, got {other:?}"),
    }
    let mut erased: Vec<(String, RecordKind)> = recorder
        .events()
        .into_iter()
        .filter(|e| e.origin == ChangeOrigin::Erased)
        .map(|e| (e.record_id, e.kind))
        .collect();
    erased.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (scene_id, RecordKind::SceneAttendance),
        (search_id, RecordKind::StopSearch),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(erased, expected, "one Erased event per record");
    let requests = server.paths().len();
    assert_erased(&dir, &nb);
    assert_eq!(
        server.paths().len(),
        requests,
        "a wiped device calls no more"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The device can be enrolled again, as a new device.
    drop(nb);
    server.answer(ack_all(false));
    let again = server.enrol(&dir, "PC2001");
    assert!(again.list(ListFilter::default()).unwrap().is_empty());
    assert_eq!(sync(&again).unwrap().requests, 1);
}

#[test]
fn an_unknown_token_is_refused_but_erases_nothing() {
    let server = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let nb = server.enrol(&dir, "PC2002");
    let recorder = Arc::new(Recorder::default());
    let _subscription = nb.subscribe(recorder.clone());
    nb.create_stop_account(stop_account()).unwrap();
    // A server restored from an old backup no longer knows this device:
    // `unauthorised` without `wipe`, or even a closed-device code without it.
    for body in [
        refusal("unauthorised", false),
        refusal("device-revoked", false),
    ] {
        server.answer(move |_| (401, body.clone()));
        assert!(matches!(sync(&nb), Err(ApiError::Unauthorised(_))));
    }
    assert_eq!(nb.list(ListFilter::default()).unwrap().len(), 1);
    assert!(
        recorder
            .events()
            .iter()
            .all(|e| e.origin != ChangeOrigin::Erased)
    );
    assert!(Notebook::open_existing(dir.path().display().to_string()).is_ok());
    server.answer(ack_all(false));
    assert_eq!(sync(&nb).unwrap().acknowledged, 1);
}

#[test]
fn a_retiring_device_uploads_everything_then_confirms_and_is_erased() {
    let server = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let nb = server.enrol(&dir, "PC2003");
    for _ in 0..3 {
        nb.create_stop_account(stop_account()).unwrap();
    }
    // Marked for retirement; the first answer says more of the feed waits.
    let mut round = 0;
    server.answer(move |seen| match seen.path.as_str() {
        "/v1/sync" => {
            round += 1;
            (200, acknowledge(&seen.body, true, round == 1))
        }
        "/v1/retire" => (204, String::new()),
        _ => (404, String::new()),
    });
    match sync(&nb) {
        Err(ApiError::Wiped(message)) => {
            assert!(message.contains("handed back"), "{message}");
            assert!(message.contains("uploaded"), "{message}");
        }
        other => panic!("expected Wiped, got {other:?}"),
    }
    assert_eq!(server.paths(), ["/v1/sync", "/v1/sync", "/v1/retire"]);
    let seen = server.seen();
    let sync_request = seen.iter().find(|s| s.path == "/v1/sync").unwrap();
    assert_eq!(sync_request.body["push"].as_array().unwrap().len(), 3);
    let retire = seen.iter().find(|s| s.path == "/v1/retire").unwrap();
    assert_eq!(retire.body, json!({"protocol": 1}));
    assert_eq!(
        retire.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_erased(&dir, &nb);
}

#[test]
fn a_retiring_device_with_refused_records_keeps_them_and_does_not_retire() {
    let server = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let nb = server.enrol(&dir, "PC2004");
    let id = nb.create_stop_account(stop_account()).unwrap().header.id;
    server.answer(move |seen| match seen.path.as_str() {
        "/v1/sync" => {
            let rejected: Vec<Value> = seen.body["push"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| json!({"record_id": p["record_id"], "code": "invalid", "message": "m"}))
                .collect();
            let body = json!({"protocol": 1, "acknowledged": [], "rejected": rejected,
                              "changes": [], "cursor": 3, "more": false, "retire": true});
            (200, body.to_string())
        }
        _ => (204, String::new()),
    });
    let summary = sync(&nb).unwrap();
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].record_id, id);
    // The refused record is not pending (nothing to resend), yet not uploaded.
    assert_eq!(summary.pending, 0);
    assert_eq!(server.paths(), ["/v1/sync"]);
    assert!(nb.get(id.clone()).is_ok());

    // Nothing pushed this time, and still the refused record stays.
    sync(&nb).unwrap();
    assert!(!server.paths().contains(&"/v1/retire".to_string()));
    assert!(nb.get(id).is_ok());
}

#[test]
fn a_withdrawn_retirement_leaves_the_device_as_it_is() {
    let server = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let nb = server.enrol(&dir, "PC2005");
    nb.create_stop_account(stop_account()).unwrap();
    server.answer(|seen| match seen.path.as_str() {
        "/v1/sync" => (200, acknowledge(&seen.body, true, false)),
        _ => (409, refusal("not-retiring", false)),
    });
    let summary = sync(&nb).unwrap();
    assert_eq!(summary.acknowledged, 1);
    assert_eq!(server.paths(), ["/v1/sync", "/v1/retire"]);
    assert_eq!(nb.list(ListFilter::default()).unwrap().len(), 1);
}

#[test]
fn a_retired_device_that_calls_again_is_erased() {
    // The 204 of `/v1/retire` was lost: the next call hears `device-retired`.
    let server = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let nb = server.enrol(&dir, "PC2006");
    server.answer(|_| (401, refusal("device-retired", true)));
    match sync(&nb) {
        Err(ApiError::Wiped(message)) => assert!(message.contains("handed back"), "{message}"),
        other => panic!("expected Wiped, got {other:?}"),
    }
    assert_erased(&dir, &nb);
}

//! The fuzz targets' bodies, one function per input that crosses the trust
//! boundary, so cargo-fuzz (nightly, `fuzz_targets/`) and the stable
//! randomized harness (`src/bin/smoke.rs`, run by `scripts/fuzz-smoke`)
//! exercise the same code. A body must never panic, whatever the bytes: a
//! panic is a bug, and each one found becomes a regression test in the core
//! or server tests (`RELIABILITY.md`, "Fuzzing").
//!
//! Inputs to the Automerge targets start with a mode byte: 0 passes the
//! rest as it is; 1 (2) wraps it in a change (document) chunk header whose
//! checksum holds, so mutations reach the column decoders behind the
//! checksum instead of stopping there.

// A body runs a decoder for its panics alone: the results are dropped on
// purpose.
#![allow(clippy::let_underscore_must_use)]

use std::sync::OnceLock;

use automerge::ActorId;
use pocketbook_core::chunks::{ChunkType, bombs, write_chunk};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;
use pocketbook_core::sync::wire::{EnrolRequest, PushedRecord, SyncRequest};
use pocketbook_server::{auth, copy, http, retention::RetentionPolicy};

/// libfuzzer-sys aborts in its panic hook, before any `catch_unwind` runs,
/// so a panic Pocketbook catches on purpose (`chunks::no_panic` around
/// Automerge's decode) would count as a crash. Its hook is replaced by a
/// silent one: a panic that escapes a body still aborts (libfuzzer-sys
/// catches it at the boundary), and `smoke --replay FILE` shows its message.
pub fn panics_caught_by_the_code_are_not_crashes() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// A fuzz target's body.
pub type Body = fn(&[u8]);

/// The targets by name, with their bodies.
pub const TARGETS: [(&str, Body); 5] = [
    ("sync_request", sync_request),
    ("push_load", push_load),
    ("import", import),
    ("enrol_body", enrol_body),
    ("copy_form", copy_form),
];

fn actor() -> ActorId {
    ActorId::from(vec![7u8; 16])
}

/// The bytes an Automerge target works on, after its mode byte.
fn automerge_input(data: &[u8]) -> Vec<u8> {
    match data.split_first() {
        Some((1, rest)) => write_chunk(ChunkType::Change, rest),
        Some((2, rest)) => write_chunk(ChunkType::Document, rest),
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    }
}

/// A record's document as the honest devices hold it: (saved, changes).
fn honest() -> &'static (Vec<u8>, Vec<u8>) {
    static HONEST: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    HONEST.get_or_init(|| {
        let header = RecordHeader {
            id: "0190f2a4-0000-7000-8000-000000000001".into(),
            kind: RecordKind::StopAccount,
            reference: pocketbook_core::reference::Reference::generate().to_string(),
            created_at: "2026-11-28T15:00:00Z".parse().expect("a valid time"),
            author: Officer {
                shoulder_number: "PC1234".into(),
                name: "Test Officer".into(),
                station: "Lewisham".into(),
            },
        };
        let body = RecordBody::StopAccount {
            account: StopAccount {
                datetime: "2026-11-28T15:00:00+00:00".parse().expect("a valid time"),
                location: Location {
                    latitude: Some(51.46),
                    longitude: Some(-0.01),
                    street: "High Street".into(),
                },
                self_defined_ethnicity: None,
                asked_about: "Presence near a reported break-in".into(),
                receipt: None,
                notes: Vec::new(),
            },
        };
        let mut doc = RecordDoc::create(header, &body, actor()).expect("an honest record");
        doc.add_note("Seen near the side gate", "PC1234", "2026-11-28T15:05:00Z")
            .expect("notes");
        (doc.save(), doc.changes_since(&[]))
    })
}

/// The Automerge load path of a pushed record: a new record from its
/// changes (what `push_new` does), and changes merged into a stored one
/// (`push_existing`, and a device applying a feed entry).
pub fn push_load(data: &[u8]) {
    let bytes = automerge_input(data);
    if let Ok(mut doc) = RecordDoc::from_changes(&bytes, actor()) {
        let _ = doc.checked_record();
        let _ = doc.index_columns();
        let _ = doc.save();
    }
    let mut stored = RecordDoc::load(&honest().0, actor()).expect("the honest record loads");
    if stored.apply_changes(&bytes).is_ok() {
        let _ = stored.checked_record();
        let _ = RecordDoc::load(&stored.save(), actor());
    }
}

/// Import on the device: `Notebook::import` loads the bytes as a saved
/// document, checks the record, then reads it.
pub fn import(data: &[u8]) {
    let bytes = automerge_input(data);
    if let Ok(doc) = RecordDoc::load(&bytes, actor()) {
        let _ = doc.validate();
        let _ = doc.record();
        let _ = doc.index_columns();
    }
}

/// The sync request decoder as the server runs it: gunzip under its cap
/// when the body is gzip, JSON into a `SyncRequest`, then each pushed
/// record's changes through the load path.
pub fn sync_request(data: &[u8]) {
    let body = if data.starts_with(&[0x1f, 0x8b]) {
        match http::gunzip(data, pocketbook_core::sync::wire::MAX_REQUEST_BYTES, "fuzz") {
            Ok(body) => body,
            Err(_) => return,
        }
    } else {
        data.to_vec()
    };
    if let Ok(request) = http::decode::<SyncRequest>(&body) {
        for push in request.push.iter().take(8) {
            let _ = RecordDoc::from_changes(&push.changes, actor());
        }
    }
}

/// The enrolment body: JSON into an `EnrolRequest`, then the code's
/// normalisation (what `POST /v1/enrol` does before any storage).
pub fn enrol_body(data: &[u8]) {
    if let Ok(request) = http::decode::<EnrolRequest>(data) {
        let _ = auth::normalise_code(&request.code);
        let _ = auth::device_label(&request.device_label);
    }
}

/// The copy form's checks on what a member of the public typed. The form
/// is decoded by axum's `Form` extractor (serde_urlencoded), not by our
/// code, so this splits `name=value&...` plainly and fuzzes the public
/// checks that follow, and the JSON body's fields.
pub fn copy_form(data: &[u8]) {
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("a time");
    let policy = RetentionPolicy::default();
    let check = |value: &str| {
        let _ = copy::check_reference(value);
        let _ = copy::check_date(value, &policy, now);
    };
    if let Ok(text) = std::str::from_utf8(data) {
        for pair in text.split('&') {
            let mut halves = pair.splitn(2, '=');
            let _name = halves.next();
            check(halves.next().unwrap_or_default());
        }
    }
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(data) {
        for value in fields.values() {
            if let Some(text) = value.as_str() {
                check(text);
            }
        }
    }
}

/// Starting inputs for each target: honest bytes and the known bombs.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let (saved, changes) = honest();
    let with_mode = |mode: u8, bytes: &[u8]| {
        let mut out = vec![mode];
        out.extend_from_slice(bytes);
        out
    };
    // A chunk's body, without its header, for the wrapping modes.
    let body_of = |chunk: &[u8]| {
        let mut at = 9;
        while chunk.get(at).is_some_and(|b| b & 0x80 != 0) {
            at += 1;
        }
        chunk.get(at + 1..).unwrap_or_default().to_vec()
    };
    let first_change = {
        // The first change chunk of `changes`: re-read its length.
        let mut at = 9;
        let mut len = 0u64;
        let mut shift = 0;
        while let Some(b) = changes.get(at) {
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        changes[..(at + len as usize).min(changes.len())].to_vec()
    };
    let sync_json = |changes: &[u8]| {
        serde_json::to_vec(&SyncRequest {
            protocol: 1,
            cursor: Some(3),
            push: vec![PushedRecord {
                record_id: "0190f2a4-0000-7000-8000-000000000001".into(),
                kind: RecordKind::StopAccount,
                changes: changes.to_vec(),
            }],
            page_size: None,
        })
        .expect("json")
    };
    match target {
        "push_load" => vec![
            with_mode(0, changes),
            with_mode(0, &first_change),
            with_mode(1, &body_of(&first_change)),
            with_mode(0, &bombs::rle_change(1_000_000_000)),
            with_mode(0, &bombs::compressed_change(100_000)),
        ],
        "import" => vec![
            with_mode(0, saved),
            with_mode(2, &body_of(saved)),
            with_mode(0, changes),
            with_mode(0, &bombs::rle_change(1_000_000_000)),
        ],
        "sync_request" => vec![
            sync_json(changes),
            sync_json(&bombs::rle_change(1_000_000_000)),
            br#"{"protocol": 1, "cursor": 0, "push": []}"#.to_vec(),
        ],
        "enrol_body" => vec![
            br#"{"protocol": 1, "code": "7KD3Q-9QW2H", "device_label": "Pixel 8"}"#.to_vec(),
            br#"{"protocol": 1, "code": "7kd3q9qw2h"}"#.to_vec(),
        ],
        "copy_form" => vec![
            b"reference=7KD3Q9QW2HXYZ&date=2026-11-28".to_vec(),
            br#"{"reference": "7KD3Q-9QW2H-XYZ", "date": "2026-11-28"}"#.to_vec(),
        ],
        _ => Vec::new(),
    }
}

//! Bounded decoding of Automerge bytes on the device: an import (a `save()`
//! document) or changes that would expand to gigabytes are refused with a
//! typed error before Automerge expands them, and honest records of every
//! kind, a large scene included, still pass with room to spare.

use automerge::ActorId;
use pocketbook_core::ApiError;
use pocketbook_core::chunks::{self, ChunkError, ChunkType, bombs, write_chunk, write_uleb};
use pocketbook_core::document::{DocumentError, RecordDoc};
use pocketbook_core::model::*;
use pocketbook_core::reference::Reference;
use pocketbook_core::store::ListFilter;

use crate::support::*;

const GIB: u64 = 1 << 30;

/// `bombs::rle_change(4_000_000_000)`: 74 bytes declaring 4 billion operations.
const RLE_BOMB_HEX: &str = "856f4a839f3c841c01400010abababababababababababababababab0101000000051507340542065606700680d0acf30e016b80d0acf30e80d0acf30e0180d0acf30e0080d0acf30e00";

fn refused(result: Result<Record, ApiError>, says: &str) {
    match result {
        Err(ApiError::BadInput { detail: message }) => {
            assert!(message.contains(says), "{message:?} should say {says:?}")
        }
        other => panic!("expected a BadInput refusal saying {says:?}, got {other:?}"),
    }
}

/// A document chunk whose one operation column (the action column) is
/// deflated and inflates to `inflated` bytes.
fn deflated_document(inflated: u64) -> Vec<u8> {
    let deflate = bombs::zeros_deflate(inflated);
    let mut body = Vec::new();
    write_uleb(&mut body, 0); // actors
    write_uleb(&mut body, 0); // heads
    write_uleb(&mut body, 0); // change columns
    write_uleb(&mut body, 1); // operation columns
    write_uleb(&mut body, (4 << 4) | 0b1000 | 2); // action, deflated, integer
    write_uleb(&mut body, deflate.len() as u64);
    body.extend_from_slice(&deflate);
    write_chunk(ChunkType::Document, &body)
}

#[test]
fn import_refuses_a_compressed_change_that_inflates_to_a_gibibyte() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    let bomb = bombs::compressed_change(GIB);
    assert!(bomb.len() < 1_100_000, "{} bytes", bomb.len());
    refused(nb.import(bomb), "compressed chunk");
    assert!(nb.list(ListFilter::default()).unwrap().is_empty());
}

#[test]
fn import_refuses_a_document_whose_columns_inflate_past_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    refused(nb.import(deflated_document(GIB)), "bytes once inflated");
    // Just past the cap is refused too; the cap, not the bomb's size, decides.
    let just_past = chunks::DOCUMENT.inflated_bytes + 1;
    assert_eq!(
        chunks::check_document(&deflated_document(just_past), &chunks::DOCUMENT),
        Err(ChunkError::TooLarge {
            what: "bytes once inflated",
            limit: chunks::DOCUMENT.inflated_bytes
        })
    );
}

#[test]
fn import_refuses_a_run_length_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    // 4 billion operations declared in a chunk of about 80 bytes.
    let bomb = bombs::rle_change(4_000_000_000);
    // The bytes of the reproduction in RELIABILITY.md's disclosure note.
    let hex: String = bomb.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, RLE_BOMB_HEX);
    refused(nb.import(bomb.clone()), "too large");
    // The same bytes as a push or a feed entry.
    assert!(matches!(
        chunks::check_changes(&bomb, &chunks::CHANGES),
        Err(ChunkError::TooLarge { .. })
    ));
    // One row past the limit is refused; at the limit, the pre-parse passes.
    let over = bombs::rle_change(chunks::CHANGES.ops + 1);
    assert!(chunks::check_changes(&over, &chunks::CHANGES).is_err());
    let at = bombs::rle_change(chunks::CHANGES.ops);
    assert_eq!(
        chunks::check_changes(&at, &chunks::CHANGES).unwrap().ops,
        chunks::CHANGES.ops
    );
}

#[test]
fn chunk_types_honest_devices_never_send_are_refused_as_changes() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    let record = nb.create_stop_account(stop_account()).unwrap();
    let document = nb.export(record.header.id).unwrap();
    // A whole document where change chunks are expected.
    assert_eq!(
        chunks::check_changes(&document, &chunks::CHANGES),
        Err(ChunkError::NotAccepted("a document chunk"))
    );
    // A bundle, and a flipped checksum byte.
    let bundle = write_chunk(ChunkType::Bundle, &[0]);
    assert!(matches!(
        chunks::check_document(&bundle, &chunks::DOCUMENT),
        Err(ChunkError::NotAccepted(_))
    ));
    let mut flipped = document.clone();
    flipped[5] ^= 1;
    refused(nb.import(flipped), "checksum");
    // Truncated anywhere: a typed refusal, never a panic.
    for cut in 1..document.len() {
        assert!(chunks::check_document(&document[..cut], &chunks::DOCUMENT).is_err());
    }
}

/// Every kind, exported (`save()`, deflated columns) and imported into
/// another notebook: accepted, and far below every limit.
#[test]
fn honest_records_of_every_kind_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    let attended = nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    nb.add_scene_action(attended.header.id.clone(), note("Door forced"))
        .unwrap();
    nb.add_note(
        attended.header.id.clone(),
        "Neighbour heard glass break".into(),
    )
    .unwrap();
    let burglary = nb.create_burglary(scene(ResponseGrade::Priority)).unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap();
    nb.issue_receipt(search.header.id.clone(), ReceiptMedium::Printed)
        .unwrap();
    let account = nb.create_stop_account(stop_account()).unwrap();

    let other_dir = tempfile::tempdir().unwrap();
    let other = notebook(&other_dir, "PC1001");
    for id in [
        attended.header.id,
        burglary.header.id,
        search.header.id,
        account.header.id,
    ] {
        let bytes = nb.export(id.clone()).unwrap();
        let census = chunks::check_document(&bytes, &chunks::DOCUMENT).unwrap();
        assert!(census.ops * 100 < chunks::DOCUMENT.ops, "{census:?}");
        assert_eq!(other.import(bytes).unwrap().header.id, id);
    }
}

/// A scene with thousands of actions stays below a tenth of every limit,
/// as a stored document and as the changes a device pushes for it. Built
/// with the document API (each edit its own change, as on a device) and
/// imported through the notebook.
#[test]
fn a_scene_with_thousands_of_actions_is_accepted_with_room_to_spare() {
    let header = RecordHeader {
        id: uuid::Uuid::now_v7().to_string(),
        kind: RecordKind::SceneAttendance,
        reference: Reference::generate().to_string(),
        created_at: pocketbook_fixtures::at(10, 0),
        author: officer("PC1001"),
    };
    let body = RecordBody::SceneAttendance {
        scene: SceneAttendance::from_input(scene(ResponseGrade::Emergency)),
    };
    let mut doc = RecordDoc::create(header, &body, ActorId::random()).unwrap();
    for i in 0..2_000 {
        let detail = ActionDetail::EvidenceCollected {
            what: format!("Exhibit {i}: a glove found by the rear fence"),
            where_found: "Rear garden, beside the shed".into(),
            exhibit_number: format!("JS/{i}"),
        };
        doc.add_action(detail, "PC1001", "2026-11-28T10:30:00Z")
            .unwrap();
    }
    let pushed = doc.changes_since(&[]);
    let census = chunks::check_changes(&pushed, &chunks::CHANGES).unwrap();
    within_a_tenth(&census, pushed.len(), &chunks::CHANGES);
    let bytes = doc.save();
    let census = chunks::check_document(&bytes, &chunks::DOCUMENT).unwrap();
    within_a_tenth(&census, bytes.len(), &chunks::DOCUMENT);

    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    let imported = nb.import(bytes).unwrap();
    assert_eq!(scene_of(&imported).actions.len(), 2_000);
    // And as the changes a feed entry carries.
    assert!(RecordDoc::from_changes(&pushed, ActorId::random()).is_ok());
}

fn within_a_tenth(census: &chunks::Census, bytes: usize, limits: &chunks::Limits) {
    for (used, limit) in [
        (census.ops, limits.ops),
        (census.objects, limits.objects),
        (census.changes, limits.changes),
        (census.expanded_bytes, limits.expanded_bytes),
        (bytes as u64, limits.bytes as u64),
    ] {
        assert!(used * 10 < limit, "{used} of {limit}: {census:?}");
    }
    assert!(
        census.inflated_bytes * 10 <= limits.inflated_bytes,
        "{census:?}"
    );
}

/// Inputs the fuzz targets found (`fuzz/regressions/`), replayed through
/// the device's paths. Their first byte is the fuzz input's mode: 1 (2)
/// wraps the rest in a change (document) chunk with a correct checksum.
fn fuzz_regression(name: &str) -> Vec<u8> {
    let path = format!("{}/../fuzz/regressions/{name}", env!("CARGO_MANIFEST_DIR"));
    let input = std::fs::read(path).unwrap();
    match input.split_first() {
        Some((1, rest)) => write_chunk(ChunkType::Change, rest),
        Some((2, rest)) => write_chunk(ChunkType::Document, rest),
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    }
}

/// Automerge's hexane column reader panicked on this document ("take would
/// cross slab boundary"): an import must refuse it, not crash the app.
#[test]
fn a_document_that_made_automerge_panic_is_refused_on_import() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1001");
    let bytes = fuzz_regression("import-hexane-slab-panic.bin");
    refused(nb.import(bytes), "could not decode");
    // The notebook still works (its store's lock is not poisoned).
    nb.create_stop_account(stop_account()).unwrap();
}

/// Automerge unwrapped an invalid actor index in this change: a push or a
/// feed entry carrying it is refused, for a new record and for a stored one.
#[test]
fn a_change_that_made_automerge_panic_is_refused_as_a_push_or_feed_entry() {
    let bytes = fuzz_regression("push-load-invalid-actor-index-panic.bin");
    let new = RecordDoc::from_changes(&bytes, ActorId::random());
    assert!(
        matches!(&new, Err(DocumentError::Corrupt(m)) if m.contains("could not decode")),
        "{new:?}"
    );
}

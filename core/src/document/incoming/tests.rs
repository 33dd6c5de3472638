//! How a document comes in, against what the document holds: a header
//! read in range walks, an uncompressed snapshot, the schema version read
//! again after changes from elsewhere, and a pushed record read in the
//! header's walk (new or an update) against the two steps it replaces.

use automerge::{ObjType, ROOT};
use autosurgeon::hydrate_prop;

use crate::document::read::inner_in;
use crate::document::tests::{actor, new_record};
use crate::document::{RecordDoc, entries};
use crate::model::{RecordHeader, RecordKind};

#[test]
fn a_header_read_in_range_walks_is_the_header_the_document_holds() {
    use automerge::transaction::Transactable;
    let mut a = new_record();
    let mut b = a.fork(actor(2));
    let mut c = a.fork(actor(3));
    // A conflict inside the header and one inside its author.
    let header = match automerge::ReadDoc::get(&b.doc, ROOT, "header").unwrap() {
        Some((_, id)) => id,
        None => panic!("no header"),
    };
    b.doc.put(&header, "reference", "B-REF").unwrap();
    c.doc.put(&header, "reference", "C-REF").unwrap();
    let author = match automerge::ReadDoc::get(&b.doc, &header, "author").unwrap() {
        Some((_, id)) => id,
        None => panic!("no author"),
    };
    b.doc.put(&author, "name", "B").unwrap();
    c.doc.put(&author, "name", "C").unwrap();
    a.merge(&mut b).unwrap();
    a.merge(&mut c).unwrap();
    let held: RecordHeader = hydrate_prop(&a.doc, ROOT, "header").unwrap();
    let loaded = RecordDoc::load(&a.save(), actor(4)).unwrap();
    assert_eq!(*loaded.header(), held);
    assert_eq!(held.reference, "C-REF", "the later actor's value wins");
    let mut merged = a.fork(actor(5));
    merged.reread_header().unwrap();
    assert_eq!(*merged.header(), held);
}

#[test]
fn an_uncompressed_snapshot_loads_to_the_same_document() {
    let mut doc = new_record();
    doc.add_note(
        &"Spoke to the neighbour. ".repeat(40),
        "PC1",
        "2026-11-02T10:30:00Z",
    )
    .unwrap();
    let compressed = doc.save();
    let plain = doc.save_uncompressed();
    assert_ne!(compressed, plain, "the columns over 256 bytes are deflated");
    let mut from_plain = RecordDoc::load(&plain, actor(4)).unwrap();
    let mut from_compressed = RecordDoc::load(&compressed, actor(5)).unwrap();
    assert_eq!(from_plain.heads(), doc.heads());
    assert_eq!(from_plain.heads(), from_compressed.heads());
    assert_eq!(
        from_plain.checked_record_in_one_walk().unwrap(),
        from_compressed.checked_record_in_one_walk().unwrap()
    );
    assert_eq!(from_plain.save(), compressed, "the same document");
}

/// The schema version kept from the header's read is dropped when changes
/// from elsewhere arrive: a change that makes the record a schema-v1 one
/// (whose legacy keys are then accepted) is judged as a fresh load of the
/// merged document is, by applied changes and by a merge alike.
#[test]
fn the_schema_version_is_read_again_after_changes_from_elsewhere() {
    use automerge::transaction::Transactable;
    let mut a = new_record();
    a.check_schema().unwrap();
    let mut b = a.fork(actor(2));
    let inner = inner_in(&b.doc, RecordKind::SceneAttendance).unwrap();
    b.doc
        .put_object(&inner, entries::LEGACY_CHECKLIST, ObjType::Map)
        .unwrap();
    b.doc.put(ROOT, "schema_version", 1u64).unwrap();
    let judged = |doc: &mut RecordDoc| {
        let fresh = RecordDoc::load(&doc.save(), actor(7)).unwrap();
        (
            doc.check_schema().is_ok(),
            doc.checked_record_in_one_walk().is_ok(),
            fresh.check_schema().is_ok(),
        )
    };
    let mut applied = a.fork(actor(3));
    let heads = applied.heads();
    applied.apply_changes(&b.changes_since(&heads)).unwrap();
    assert_eq!(judged(&mut applied), (true, true, true));
    let mut merged = a.fork(actor(4));
    merged.merge(&mut b).unwrap();
    assert_eq!(judged(&mut merged), (true, true, true));
}

/// What the server reads of a new record: in the walk that reads the
/// header (`from_changes_walked`) or in two steps (`from_changes_exact`,
/// then `checked_record_in_one_walk`), the same header, the same record
/// and the same refusal, for a plain record, conflicts, a key outside the
/// schema, a header naming another kind than its body, and a push naming
/// another kind; the walk is used where it can be.
#[test]
fn a_new_record_read_in_the_headers_walk_is_what_the_two_steps_give() {
    use automerge::transaction::Transactable;
    let mut base = new_record();
    let header_of = |d: &RecordDoc| match automerge::ReadDoc::get(&d.doc, ROOT, "header") {
        Ok(Some((_, id))) => id,
        _ => panic!("no header"),
    };
    let mut conflicted = {
        let mut b = base.fork(actor(2));
        let mut c = base.fork(actor(3));
        let inner = inner_in(&b.doc, RecordKind::SceneAttendance).unwrap();
        b.doc.put(&inner, "offence", "burglary").unwrap();
        c.doc.put(&inner, "offence", "theft").unwrap();
        let mut a = base.fork(actor(4));
        a.merge(&mut b).unwrap();
        a.merge(&mut c).unwrap();
        a
    };
    let mut extra_key = base.fork(actor(5));
    extra_key.doc.put(ROOT, "extra", "x").unwrap();
    let mut other_kind = base.fork(actor(6));
    let header = header_of(&other_kind);
    other_kind
        .doc
        .put(&header, "kind", RecordKind::HomeBurglary.as_str())
        .unwrap();
    let cases = [
        (base.changes_since(&[]), RecordKind::SceneAttendance, true),
        (
            conflicted.changes_since(&[]),
            RecordKind::SceneAttendance,
            true,
        ),
        (
            extra_key.changes_since(&[]),
            RecordKind::SceneAttendance,
            false,
        ),
        (
            other_kind.changes_since(&[]),
            RecordKind::SceneAttendance,
            false,
        ),
        (base.changes_since(&[]), RecordKind::HomeBurglary, false),
    ];
    for (n, (bytes, kind, in_the_walk)) in cases.into_iter().enumerate() {
        let two = RecordDoc::from_changes_exact(&bytes, actor(7))
            .map(|(d, exact)| {
                let record = d.checked_record_in_one_walk().map_err(|e| e.to_string());
                (d.header().clone(), exact, record)
            })
            .map_err(|e| e.to_string());
        let one = RecordDoc::from_changes_walked(&bytes, actor(8), kind)
            .map(|(d, exact, walked)| {
                assert_eq!(walked.is_some(), in_the_walk, "case {n}");
                let record = walked
                    .unwrap_or_else(|| d.checked_record_in_one_walk())
                    .map_err(|e| e.to_string());
                (d.header().clone(), exact, record)
            })
            .map_err(|e| e.to_string());
        assert_eq!(one, two, "case {n}");
    }
}

/// What the server reads of an update: the pushed changes applied to its
/// copy, then the header and record read in one walk
/// (`reread_header_walked`) or in two steps (`reread_header`, then
/// `checked_record_in_one_walk`): the same header, the same record and the
/// same refusal, for a note added, conflicts, a key outside the schema, a
/// header changed (another reference; another kind), a body that breaks
/// its kind's rules, and a change that makes it a schema-v1 record with a
/// legacy key; the walk is used where it can be.
#[test]
fn an_update_read_in_the_headers_walk_is_what_the_two_steps_give() {
    use automerge::transaction::Transactable;
    let mut base = new_record();
    let stored = base.save_uncompressed();
    let header_of = |d: &RecordDoc| match automerge::ReadDoc::get(&d.doc, ROOT, "header") {
        Ok(Some((_, id))) => id,
        _ => panic!("no header"),
    };
    let inner = inner_in(&base.doc, RecordKind::SceneAttendance).unwrap();
    let heads = base.heads();
    let changed = |base: &mut RecordDoc, n: u8, edit: &dyn Fn(&mut RecordDoc)| {
        let mut d = base.fork(actor(n));
        edit(&mut d);
        d.doc.commit();
        d.changes_since(&heads)
    };
    let noted = changed(&mut base, 2, &|d| {
        d.add_note("Spoke to the neighbour.", "PC1", "2026-11-02T10:30:00Z")
            .map(drop)
            .unwrap()
    });
    let conflicted = {
        let mut b = base.fork(actor(3));
        let mut c = base.fork(actor(4));
        b.doc.put(&inner, "offence", "burglary").unwrap();
        c.doc.put(&inner, "offence", "theft").unwrap();
        b.merge(&mut c).unwrap();
        b.changes_since(&heads)
    };
    let extra_key = changed(&mut base, 5, &|d| d.doc.put(ROOT, "extra", "x").unwrap());
    let other_reference = changed(&mut base, 6, &|d| {
        let header = header_of(d);
        d.doc.put(&header, "reference", "OTHER").unwrap()
    });
    let other_kind = changed(&mut base, 7, &|d| {
        let header = header_of(d);
        d.doc
            .put(&header, "kind", RecordKind::HomeBurglary.as_str())
            .unwrap()
    });
    let broken_rule = changed(&mut base, 8, &|d| {
        d.doc.put(&inner, "grade", "no such grade").unwrap()
    });
    let legacy = changed(&mut base, 9, &|d| {
        d.doc
            .put_object(&inner, entries::LEGACY_CHECKLIST, ObjType::Map)
            .unwrap();
        d.doc.put(ROOT, "schema_version", 1u64).unwrap();
    });
    let cases = [
        (noted, true),
        (conflicted, true),
        (extra_key, false),
        (other_reference, true),
        (other_kind, false),
        (broken_rule, true),
        (legacy, false),
    ];
    for (n, (push, in_the_walk)) in cases.into_iter().enumerate() {
        let read = |walk: bool| {
            let mut d = RecordDoc::load(&stored, actor(10)).unwrap();
            d.apply_changes(&push).unwrap();
            let (header, record) = if walk {
                let walked = d.reread_header_walked().map_err(|e| e.to_string())?;
                assert_eq!(walked.is_some(), in_the_walk, "case {n}");
                let record = walked.unwrap_or_else(|| d.checked_record_in_one_walk());
                (d.header().clone(), record)
            } else {
                d.reread_header().map_err(|e| e.to_string())?;
                (d.header().clone(), d.checked_record_in_one_walk())
            };
            Ok::<_, String>((header, record.map_err(|e| e.to_string())))
        };
        assert_eq!(read(true), read(false), "case {n}");
    }
}

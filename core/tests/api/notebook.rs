//! The notebook as evidence: entries written and corrected on two and three
//! devices offline survive verbatim, merged in any order; a schema-v1
//! record (notes as Automerge text, the checklist as a map) is read without
//! being rewritten and takes appends from two devices at once; whole values
//! (update agreement, receipt) never merge field by field.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, Value};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;
use pocketbook_core::rules::check_edit;
use pocketbook_core::{ApiError, Notebook};

use crate::merge::{Replica, exchange, replicas, share};
use crate::support::*;
use pocketbook_fixtures::legacy::v1_burglary;

/// Every order of `n` items (n <= 3 here).
fn orders(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut all = Vec::new();
    for rest in orders(n - 1) {
        for at in 0..=rest.len() {
            let mut order = rest.clone();
            order.insert(at, n - 1);
            all.push(order);
        }
    }
    all
}

/// Imports every replica's copy into a fresh notebook in each order, and
/// returns the records read there.
fn merged_in_every_order(all: &[Replica], id: &str) -> Vec<Record> {
    let exports: Vec<Vec<u8>> = all
        .iter()
        .map(|r| r.nb.export(id.into()).unwrap())
        .collect();
    orders(exports.len())
        .into_iter()
        .map(|order| {
            let dir = tempfile::tempdir().unwrap();
            let nb = notebook(&dir, "PC900");
            for i in order {
                nb.import(exports[i].clone()).unwrap();
            }
            assert_schema_true(&nb, id);
            nb.get(id.into()).unwrap()
        })
        .collect()
}

fn notes_of(record: &Record) -> &[NoteEntry] {
    record.body.notes()
}

/// Each writer uses one letter only, so a text holding two writers'
/// characters is caught by its alphabet, whatever the merge did.
fn text(letter: char, n: usize) -> String {
    format!("{} {n}", letter.to_string().repeat(40 + n))
}

#[test]
fn three_devices_writing_and_correcting_notes_keep_every_entry_verbatim() {
    let all = replicas(&["PC1", "PC2", "PC3"]);
    let mut input = scene(ResponseGrade::Emergency);
    input.notes = "Rear door forced".into();
    let id = all[0].nb.create_burglary(input).unwrap().header.id;
    share(&all, &id);
    let first = notes_of(&all[0].nb.get(id.clone()).unwrap())[0].id.clone();
    let mut written = vec!["Rear door forced".to_string()];
    for (replica, letter) in all.iter().zip(['a', 'b', 'c']) {
        for n in 0..3 {
            let t = text(letter, n);
            replica.nb.add_note(id.clone(), t.clone()).unwrap();
            written.push(t);
        }
        let t = text(letter, 9);
        replica
            .nb
            .correct_note(id.clone(), first.clone(), t.clone())
            .unwrap();
        written.push(t);
    }
    let merged = merged_in_every_order(&all, &id);
    assert_eq!(merged.len(), 6);
    for record in &merged {
        assert_eq!(record, &merged[0], "every order gives the same record");
    }
    let notes = notes_of(&merged[0]);
    assert_eq!(notes.len(), written.len());
    for entry in notes {
        assert!(written.contains(&entry.text), "not written by anyone");
        let letters: std::collections::BTreeSet<char> = entry
            .text
            .chars()
            .filter(char::is_ascii_lowercase)
            .collect();
        assert!(
            letters.len() == 1 || entry.text == "Rear door forced",
            "characters of two writers in one entry: {letters:?}"
        );
    }
    for t in &written {
        assert_eq!(notes.iter().filter(|e| &e.text == t).count(), 1, "{t}");
    }
    // The original stays, marked as corrected by all three corrections.
    assert_eq!(notes[0].text, "Rear door forced");
    assert_eq!(notes[0].corrected_by.len(), 3);
    for c in &notes[0].corrected_by {
        let correction = notes.iter().find(|e| &e.id == c).unwrap();
        assert_eq!(correction.corrects.as_deref(), Some(first.as_str()));
    }
    // Each entry is in its writer's name.
    for (number, letter) in [("PC1", 'a'), ("PC2", 'b'), ("PC3", 'c')] {
        assert!(
            notes
                .iter()
                .filter(|e| e.text.starts_with(letter))
                .all(|e| e.written_by == number)
        );
    }
}

#[test]
fn two_devices_of_one_officer_replacing_a_note_no_longer_garble_it() {
    // The reported case: both devices "changed" the same note offline.
    let all = replicas(&["PC1", "PC1"]);
    let mut input = scene(ResponseGrade::Emergency);
    input.notes = "Rear door forced".into();
    let id = all[0].nb.create_scene(input).unwrap().header.id;
    share(&all, &id);
    let first = notes_of(&all[0].nb.get(id.clone()).unwrap())[0].id.clone();
    all[0]
        .nb
        .correct_note(
            id.clone(),
            first.clone(),
            "Rear door forced with a jemmy".into(),
        )
        .unwrap();
    all[1]
        .nb
        .correct_note(id.clone(), first.clone(), "Entry via kitchen window".into())
        .unwrap();
    exchange(&all, &id);
    for record in merged_in_every_order(&all, &id) {
        let texts: Vec<&str> = notes_of(&record).iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0], "Rear door forced");
        assert!(texts.contains(&"Rear door forced with a jemmy"));
        assert!(texts.contains(&"Entry via kitchen window"));
    }
}

#[test]
fn bad_note_entries_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1");
    let id = nb.create_stop_account(stop_account()).unwrap().header.id;
    let field_of = |r: Result<String, ApiError>| match r {
        Err(e @ ApiError::Invalid { .. }) => e.to_string(),
        other => panic!("expected Invalid, got {other:?}"),
    };
    assert!(field_of(nb.add_note(id.clone(), "  ".into())).contains("notes.text: required"));
    let long = "x".repeat(MAX_TEXT_LEN + 1);
    let message = field_of(nb.add_note(id.clone(), long));
    assert!(message.contains("notes.text: longer than"), "{message}");
    assert!(!message.contains("xxx"), "no content in errors");
    let message = field_of(nb.correct_note(id.clone(), "no-such-entry".into(), "Fix".into()));
    assert!(message.contains("notes.corrects"), "{message}");
    assert!(
        nb.get(id.clone()).unwrap().body.notes().is_empty(),
        "nothing stored"
    );
    // A stop account takes notes after its receipt too (they are not on the copy).
    nb.issue_receipt(id.clone(), ReceiptMedium::Printed)
        .unwrap();
    nb.add_note(id.clone(), "Person left calmly".into())
        .unwrap();
    assert_eq!(nb.get(id.clone()).unwrap().body.notes().len(), 1);
    assert_schema_true(&nb, &id);
}

/// The raw `notes` text and schema version of an exported document.
fn raw_legacy(bytes: &[u8]) -> (String, u64) {
    let doc = AutoCommit::load(bytes).unwrap();
    let (_, body) = doc.get(ROOT, "body").unwrap().unwrap();
    let (_, variant) = doc.get(&body, "HomeBurglary").unwrap().unwrap();
    let (_, scene) = doc.get(&variant, "scene").unwrap().unwrap();
    let (value, notes) = doc.get(&scene, "notes").unwrap().unwrap();
    assert_eq!(value, Value::Object(ObjType::Text));
    let version = match doc.get(ROOT, "schema_version").unwrap().unwrap().0 {
        Value::Scalar(s) => s.as_u64().unwrap(),
        other => panic!("{other:?}"),
    };
    (doc.text(&notes).unwrap(), version)
}

#[test]
fn a_schema_v1_record_reads_in_place_and_takes_appends_from_two_devices_at_once() {
    // Two devices of the author (a colleague must be named attending first,
    // and this old record has no attending map yet).
    let all = replicas(&["PC1", "PC1"]);
    let (bytes, id) = v1_burglary(&officer("PC1"));
    RecordDoc::load(&bytes, ActorId::random())
        .unwrap()
        .check_schema()
        .expect("a v1 document is schema-true");
    for replica in &all {
        replica.nb.import(bytes.clone()).unwrap();
    }
    let record = all[0].nb.get(id.clone()).unwrap();
    let scene = scene_of(&record);
    assert_eq!(scene.notes.len(), 1);
    assert_eq!(scene.notes[0].id, LEGACY_NOTES_ID);
    assert_eq!(scene.notes[0].text, "Rear door forced");
    assert_eq!(scene.notes[0].written_by, "PC1");
    let created = format!("{}T10:00:00.000Z", pocketbook_fixtures::fixture_day());
    assert_eq!(scene.notes[0].written_at.as_deref(), Some(created.as_str()));
    assert_eq!(scene.checklist.len(), 1);
    assert_eq!(scene.checklist[0].id, "legacy-witnesses sought");

    // Offline, each device appends: both create the new lists (and the
    // attending map) this old record lacks.
    all[0].nb.add_note(id.clone(), "From PC1".into()).unwrap();
    all[0]
        .nb
        .tick(
            id.clone(),
            ChecklistItem::WitnessesSought,
            TickOutcome::NotApplicable,
            None,
        )
        .unwrap();
    all[0]
        .nb
        .add_attending_officer(id.clone(), "PC2".into())
        .unwrap();
    all[1].nb.add_note(id.clone(), "From PC2".into()).unwrap();
    all[1]
        .nb
        .correct_note(
            id.clone(),
            LEGACY_NOTES_ID.into(),
            "Front door forced".into(),
        )
        .unwrap();
    all[1]
        .nb
        .tick(
            id.clone(),
            ChecklistItem::CrimeDetailsRecorded,
            TickOutcome::Done,
            None,
        )
        .unwrap();
    all[1]
        .nb
        .add_attending_officer(id.clone(), "PC3".into())
        .unwrap();
    exchange(&all, &id);

    let merged = merged_in_every_order(&all, &id);
    for record in &merged {
        assert_eq!(record, &merged[0]);
    }
    let record = &merged[0];
    let scene = scene_of(record);
    let texts: Vec<&str> = scene.notes.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(texts[0], "Rear door forced");
    for t in ["From PC1", "From PC2", "Front door forced"] {
        assert!(texts.contains(&t), "{t} lost");
    }
    assert_eq!(scene.notes[0].corrected_by.len(), 1);
    assert_eq!(
        scene.checklist.len(),
        3,
        "the legacy tick and both new ones"
    );
    assert_eq!(record.derived.latest_ticks.len(), 2);
    assert_eq!(scene.attending, ["PC2", "PC3"]);
    assert!(
        record.derived.conflicts.is_empty(),
        "combined, not conflicting"
    );

    // Never rewritten: the old text and the schema version stay as they were.
    let exported = all[0].nb.export(id.clone()).unwrap();
    assert_eq!(raw_legacy(&exported), ("Rear door forced".into(), 1));
}

#[test]
fn an_old_app_rewriting_the_v1_notes_text_is_an_alteration() {
    let (bytes, _) = v1_burglary(&officer("PC1"));
    let before = RecordDoc::load(&bytes, ActorId::random()).unwrap();
    let mut old_app = AutoCommit::load(&bytes).unwrap();
    let (_, body) = old_app.get(ROOT, "body").unwrap().unwrap();
    let (_, variant) = old_app.get(&body, "HomeBurglary").unwrap().unwrap();
    let (_, scene) = old_app.get(&variant, "scene").unwrap().unwrap();
    let (_, notes) = old_app.get(&scene, "notes").unwrap().unwrap();
    old_app
        .update_text(&notes, "Rear door forced. Dog")
        .unwrap();
    let after = RecordDoc::load(&old_app.save(), ActorId::random()).unwrap();
    let refusal = check_edit(
        Some(&before.record().unwrap()),
        &after.record().unwrap(),
        "PC1",
    )
    .unwrap_err();
    assert_eq!(refusal.field, "notes");
    assert_eq!(refusal.entry_id.as_deref(), Some(LEGACY_NOTES_ID));
}

#[test]
fn an_update_agreement_set_concurrently_is_one_whole_value_and_a_named_conflict() {
    let all = replicas(&["PC1", "PC2"]);
    let id = all[0]
        .nb
        .create_burglary(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;
    let agree = |nb: &Notebook, method: UpdateMethod, every_days: i32| {
        nb.agree_updates(id.clone(), UpdateAgreement { method, every_days })
            .unwrap()
    };
    agree(&all[0].nb, UpdateMethod::Phone, 7);
    share(&all, &id);
    // One device changes the method, the other the interval: merged field
    // by field that would be {email, 14}, which nobody agreed.
    agree(&all[0].nb, UpdateMethod::Email, 7);
    agree(&all[1].nb, UpdateMethod::Phone, 14);
    exchange(&all, &id);
    let merged = merged_in_every_order(&all, &id);
    for record in &merged {
        assert_eq!(record, &merged[0]);
        let updates = scene_of(record).updates.clone().unwrap();
        let value = (updates.method.as_str(), updates.every_days);
        assert!(
            value == ("email", 7) || value == ("phone", 14),
            "a value nobody entered: {value:?}"
        );
        assert_eq!(record.derived.conflicts, ["updates"]);
    }
}

#[test]
fn a_receipt_recorded_concurrently_is_one_whole_value_and_a_named_conflict() {
    let all = replicas(&["PC1", "PC1"]);
    let id = all[0]
        .nb
        .create_stop_search(stop_search())
        .unwrap()
        .header
        .id;
    share(&all, &id);
    all[0]
        .nb
        .receipt_not_given(id.clone(), "Called to an emergency".into())
        .unwrap();
    all[1]
        .nb
        .issue_receipt(id.clone(), ReceiptMedium::Email)
        .unwrap();
    exchange(&all, &id);
    let merged = merged_in_every_order(&all, &id);
    for record in &merged {
        assert_eq!(record, &merged[0]);
        match record.body.receipt().unwrap() {
            Receipt::Given { medium, .. } => assert_eq!(*medium, ReceiptMedium::Email),
            Receipt::NotGiven { reason, .. } => assert_eq!(reason, "Called to an emergency"),
        }
        assert_eq!(record.derived.conflicts, ["receipt"]);
    }
    // "Not given" never becomes another "not given".
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1");
    let id = nb.create_stop_search(stop_search()).unwrap().header.id;
    nb.receipt_not_given(id.clone(), "First".into()).unwrap();
    assert!(matches!(
        nb.receipt_not_given(id.clone(), "Second".into()),
        Err(ApiError::Invalid { .. })
    ));
    nb.issue_receipt(id.clone(), ReceiptMedium::Printed)
        .unwrap();
}

//! Several officers editing one record offline: every change survives the
//! merge, and every replica converges to the same record.

use std::sync::Arc;

use pocketbook_core::Notebook;
use pocketbook_core::model::*;

use crate::support::*;

pub struct Replica {
    _dir: tempfile::TempDir,
    pub nb: Arc<Notebook>,
}

pub fn replicas(numbers: &[&str]) -> Vec<Replica> {
    numbers
        .iter()
        .map(|n| {
            let dir = tempfile::tempdir().unwrap();
            let nb = notebook(&dir, n);
            Replica { _dir: dir, nb }
        })
        .collect()
}

/// Exchanges every replica's copy with every other (in both orders), and
/// checks that every copy is schema-true afterwards.
pub fn exchange(all: &[Replica], id: &str) {
    let exports: Vec<Vec<u8>> = all
        .iter()
        .map(|r| r.nb.export(id.into()).unwrap())
        .collect();
    for (i, replica) in all.iter().enumerate() {
        for (j, bytes) in exports.iter().enumerate().rev() {
            if i != j {
                replica.nb.import(bytes.clone()).unwrap();
            }
        }
    }
    for replica in all {
        assert_schema_true(&replica.nb, id);
    }
}

/// Gives every replica the record, its author first naming the others'
/// officers as attending (a scene or burglary record), as they must be to
/// add to it: the core refuses an edit out of scope, as the server does.
pub fn share(all: &[Replica], id: &str) {
    for replica in &all[1..] {
        let number = replica.nb.officer().unwrap().shoulder_number;
        let named = all[0].nb.add_attending_officer(id.into(), number);
        assert!(
            matches!(
                named,
                Ok(()) | Err(pocketbook_core::ApiError::Conflict { .. })
            ),
            "{named:?}"
        );
    }
    let bytes = all[0].nb.export(id.into()).unwrap();
    for replica in &all[1..] {
        replica.nb.import(bytes.clone()).unwrap();
    }
}

#[test]
fn concurrent_scene_actions_from_three_officers_all_survive_in_one_order() {
    let all = replicas(&["PC1", "PC2", "PC3"]);
    let id = all[0]
        .nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    share(&all, &id);
    for (i, replica) in all.iter().enumerate() {
        for n in 0..5 {
            replica
                .nb
                .add_scene_action(id.clone(), note(&format!("officer {i} action {n}")))
                .unwrap();
        }
    }
    exchange(&all, &id);
    let records: Vec<Record> = all.iter().map(|r| r.nb.get(id.clone()).unwrap()).collect();
    assert_eq!(scene_of(&records[0]).actions.len(), 15);
    assert_eq!(records[0], records[1]);
    assert_eq!(records[1], records[2]);
    // Each officer's own actions keep their relative order.
    for i in 0..3 {
        let mine: Vec<String> = scene_of(&records[0])
            .actions
            .iter()
            .filter_map(|a| match &a.detail {
                ActionDetail::Note { text } if text.starts_with(&format!("officer {i}")) => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        let expected: Vec<String> = (0..5).map(|n| format!("officer {i} action {n}")).collect();
        assert_eq!(mine, expected);
    }
}

#[test]
fn two_officers_ticking_different_items_both_stick() {
    let all = replicas(&["PC1", "PC2"]);
    let id = all[0]
        .nb
        .create_burglary(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;
    share(&all, &id);
    all[0]
        .nb
        .tick(
            id.clone(),
            ChecklistItem::WitnessesSought,
            TickOutcome::Done,
            None,
        )
        .unwrap();
    all[1]
        .nb
        .tick(
            id.clone(),
            ChecklistItem::ForensicExaminationArranged,
            TickOutcome::NotDone,
            Some("No examiner available tonight".into()),
        )
        .unwrap();
    exchange(&all, &id);
    let a = all[0].nb.get(id.clone()).unwrap();
    let b = all[1].nb.get(id.clone()).unwrap();
    assert_eq!(a, b);
    assert_eq!(scene_of(&a).checklist.len(), 2);
    let ticks = &a.derived.latest_ticks;
    assert_eq!(ticks.len(), 2);
    assert_eq!(ticks[0].item, ChecklistItem::WitnessesSought);
    assert_eq!(ticks[0].ticked_by, "PC1");
    assert_eq!(ticks[1].item, ChecklistItem::ForensicExaminationArranged);
    assert_eq!(ticks[1].ticked_by, "PC2");
}

#[test]
fn co_attending_officers_added_concurrently_all_survive() {
    let all = replicas(&["PC1", "PC2", "PC3"]);
    let id = all[0]
        .nb
        .create_burglary(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;
    share(&all, &id);
    // Offline, each officer names a different colleague; two name the same one.
    all[0]
        .nb
        .add_attending_officer(id.clone(), "PC5678".into())
        .unwrap();
    all[1]
        .nb
        .add_attending_officer(id.clone(), "PC9012".into())
        .unwrap();
    all[1]
        .nb
        .add_attending_officer(id.clone(), "PC3456".into())
        .unwrap();
    all[2]
        .nb
        .add_attending_officer(id.clone(), "PC5678".into())
        .unwrap();
    exchange(&all, &id);
    let records: Vec<Record> = all.iter().map(|r| r.nb.get(id.clone()).unwrap()).collect();
    assert_eq!(
        scene_of(&records[0]).attending,
        ["PC2", "PC3", "PC3456", "PC5678", "PC9012"]
    );
    assert_eq!(records[0], records[1]);
    assert_eq!(records[1], records[2]);
}

#[test]
fn the_same_field_set_concurrently_converges_everywhere() {
    let all = replicas(&["PC1", "PC2", "PC3"]);
    let id = all[0]
        .nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    share(&all, &id);
    for (i, replica) in all.iter().enumerate() {
        replica
            .nb
            .record_arrival(id.clone(), at(10, i as u32 + 1))
            .unwrap();
        replica
            .nb
            .tick(
                id.clone(),
                ChecklistItem::IntroducedThemselves,
                TickOutcome::Done,
                None,
            )
            .unwrap();
    }
    exchange(&all, &id);
    let records: Vec<Record> = all.iter().map(|r| r.nb.get(id.clone()).unwrap()).collect();
    assert_eq!(records[0], records[1]);
    assert_eq!(records[1], records[2]);
    let arrived = scene_of(&records[0]).arrived.clone().unwrap();
    assert!(arrived.starts_with(&at(10, 0)[..15]), "{arrived}");
    assert_eq!(records[0].derived.conflicts, vec!["arrived".to_string()]);
    // Each officer's tick is an entry of the history; one counts per item.
    assert_eq!(scene_of(&records[0]).checklist.len(), 3);
    assert_eq!(records[0].derived.latest_ticks.len(), 1);
}

#[test]
fn concurrent_notes_and_corrections_all_survive_verbatim() {
    let all = replicas(&["PC1", "PC2"]);
    let mut input = scene(ResponseGrade::Emergency);
    input.notes = "Rear door forced".into();
    let id = all[0].nb.create_scene(input).unwrap().header.id;
    share(&all, &id);
    let first = scene_of(&all[0].nb.get(id.clone()).unwrap()).notes[0]
        .id
        .clone();
    let a = all[0]
        .nb
        .correct_note(
            id.clone(),
            first.clone(),
            "Rear door forced with a jemmy".into(),
        )
        .unwrap();
    let b = all[1]
        .nb
        .correct_note(id.clone(), first.clone(), "Entry via kitchen window".into())
        .unwrap();
    exchange(&all, &id);
    let records: Vec<Record> = all.iter().map(|r| r.nb.get(id.clone()).unwrap()).collect();
    assert_eq!(records[0], records[1]);
    let notes = &scene_of(&records[0]).notes;
    let texts: Vec<&str> = notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(texts[0], "Rear door forced");
    assert!(texts.contains(&"Rear door forced with a jemmy"));
    assert!(texts.contains(&"Entry via kitchen window"));
    let mut corrected_by = notes[0].corrected_by.clone();
    corrected_by.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(corrected_by, expected);
}

#[test]
fn merging_in_any_order_gives_the_same_record() {
    let all = replicas(&["PC1", "PC2", "PC3"]);
    let id = all[0]
        .nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    share(&all, &id);
    let mut exports = Vec::new();
    for (i, replica) in all.iter().enumerate() {
        replica
            .nb
            .add_scene_action(id.clone(), note(&format!("from {i}")))
            .unwrap();
        exports.push(replica.nb.export(id.clone()).unwrap());
    }
    let orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0]];
    let mut results = Vec::new();
    for order in orders {
        let dir = tempfile::tempdir().unwrap();
        let fresh = notebook(&dir, "PC9");
        for i in order {
            fresh.import(exports[i].clone()).unwrap();
        }
        results.push(fresh.get(id.clone()).unwrap());
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[1], results[2]);
    assert_eq!(scene_of(&results[0]).actions.len(), 3);
}

//! Who may add which promise entry, and that nothing else becomes
//! writable: each case is a real edit of a typed record, checked as both
//! ends check it.

use super::*;
use crate::model::*;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

const AUTHOR: &str = "PC1";
const COLLEAGUE: &str = "PC2";

fn record() -> Record {
    let input: SceneInput = serde_json::from_value(serde_json::json!({
        "reasons": ["serious assault"],
        "grade": "emergency",
        "call_received": "2026-11-28T10:00:00Z",
        "location": { "street": "High Street" }
    }))
    .unwrap();
    let mut scene = SceneAttendance::from_input(input);
    scene.offence = Some(OffenceCategory::SeriousAssault);
    scene.attending.push(COLLEAGUE.into());
    scene
        .promise_entries
        .push(entry("e0", PromiseEntryKind::VictimUpdated, AUTHOR));
    let body = RecordBody::SceneAttendance { scene };
    Record {
        header: RecordHeader {
            id: "r1".into(),
            kind: body.kind(),
            reference: "REF".into(),
            created_at: ts("2026-11-28T10:00:00Z"),
            author: Officer {
                shoulder_number: AUTHOR.into(),
                name: "Name".into(),
                station: "Lewisham".into(),
            },
        },
        derived: body.derived(),
        body,
    }
}

fn entry(id: &str, kind: PromiseEntryKind, by: &str) -> PromiseEntry {
    PromiseEntry {
        id: id.into(),
        kind,
        made_by: by.into(),
        made_at: ts("2026-11-28T12:00:00Z"),
        corrects: None,
        withdrawn: false,
    }
}

fn scene(r: &mut Record) -> &mut SceneAttendance {
    match &mut r.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => scene,
        _ => unreachable!(),
    }
}

fn with_entry(kind: PromiseEntryKind, by: &str) -> Record {
    let mut after = record();
    scene(&mut after)
        .promise_entries
        .push(entry("e1", kind, by));
    after
}

fn check(who: &str, role: Role, station: &str, after: &Record) -> Result<Write, EditRefusal> {
    let before = record();
    let readers = [COLLEAGUE.to_string()];
    let scope = RecordScope {
        author: AUTHOR,
        station: "Lewisham",
        readers: &readers,
    };
    let actor = Actor {
        shoulder_number: who,
        role,
        station,
    };
    check_write(actor, scope, &before, after)
}

#[test]
fn the_rights_to_each_entry_kind_by_role_and_station() {
    use PromiseEntryKind::*;
    // who, role, station, kind, allowed, entries only
    let cases = [
        (
            AUTHOR,
            Role::Officer,
            "Lewisham",
            VictimUpdated,
            Some(false),
        ),
        (AUTHOR, Role::Officer, "Lewisham", ContactMade, Some(false)),
        (AUTHOR, Role::Officer, "Lewisham", ReviewDone, None),
        (
            COLLEAGUE,
            Role::Officer,
            "Lewisham",
            ContactMade,
            Some(false),
        ),
        (COLLEAGUE, Role::Officer, "Lewisham", ReviewDone, None),
        ("PC3", Role::Officer, "Lewisham", VictimUpdated, None),
        ("PS1", Role::Supervisor, "Lewisham", ReviewDone, Some(true)),
        ("PS1", Role::Supervisor, "Lewisham", ContactMade, Some(true)),
        (
            "PS1",
            Role::Supervisor,
            "Lewisham",
            VictimUpdated,
            Some(true),
        ),
        ("PS2", Role::Supervisor, "Catford", ReviewDone, None),
        ("ST1", Role::Staff, "Lewisham", VictimUpdated, Some(true)),
        ("ST1", Role::Staff, "Lewisham", ContactMade, None),
        ("ST1", Role::Staff, "Lewisham", ReviewDone, None),
        ("ST2", Role::Staff, "Catford", VictimUpdated, None),
        ("AD1", Role::Admin, "Lewisham", VictimUpdated, None),
    ];
    for (who, role, station, kind, expected) in cases {
        let result = check(who, role, station, &with_entry(kind, who));
        match (expected, result) {
            (Some(only), Ok(write)) => {
                assert_eq!(write.entries_only, only, "{who} {kind}");
                assert_eq!(
                    write.new_entries,
                    [NewEntry {
                        id: "e1".into(),
                        kind,
                        correction: false
                    }]
                );
            }
            (None, Err(refusal)) => assert!(
                refusal.field == "promise_entries" || refusal.field == "record",
                "{who} {kind}: {refusal:?}"
            ),
            (expected, result) => panic!("{who} {role} {kind}: {expected:?} but {result:?}"),
        }
    }
}

#[test]
fn nothing_else_becomes_writable_by_an_entry_right() {
    use PromiseEntryKind::*;
    // Staff adding an update and also the arrival.
    let mut after = with_entry(VictimUpdated, "ST1");
    scene(&mut after).arrived = Some(ts("2026-11-28T10:09:00Z"));
    let refusal = check("ST1", Role::Staff, "Lewisham", &after).unwrap_err();
    assert_eq!(refusal.field, "record");
    // A supervisor's note, tick or offence: refused.
    let mut note = record();
    note.body.notes_mut().push(NoteEntry {
        id: "n1".into(),
        written_by: "PS1".into(),
        written_at: Some(ts("2026-11-28T12:00:00Z")),
        text: "Text".into(),
        corrects: None,
        corrected_by: Vec::new(),
    });
    assert!(check("PS1", Role::Supervisor, "Lewisham", &note).is_err());
    let mut offence = record();
    scene(&mut offence).offence = Some(OffenceCategory::Other);
    assert!(check("PS1", Role::Supervisor, "Lewisham", &offence).is_err());
    // An entry in someone else's name, or one removed: refused.
    assert!(
        check(
            "PS1",
            Role::Supervisor,
            "Lewisham",
            &with_entry(ReviewDone, "PS9")
        )
        .is_err()
    );
    let mut removed = record();
    scene(&mut removed).promise_entries.clear();
    assert!(check("ST1", Role::Staff, "Lewisham", &removed).is_err());
    assert!(check(AUTHOR, Role::Officer, "Lewisham", &removed).is_err());
    // An editor still makes any other edit.
    let mut arrival = record();
    scene(&mut arrival).arrived = Some(ts("2026-11-28T10:09:00Z"));
    let write = check(COLLEAGUE, Role::Officer, "Lewisham", &arrival).unwrap();
    assert!(write.new_entries.is_empty() && !write.entries_only);
}

#[test]
fn a_correction_by_staff_of_a_victim_update_is_theirs_to_add() {
    let mut after = record();
    let mut fix = entry("e1", PromiseEntryKind::VictimUpdated, "ST1");
    fix.corrects = Some("e0".into());
    fix.withdrawn = true;
    scene(&mut after).promise_entries.push(fix);
    let write = check("ST1", Role::Staff, "Lewisham", &after).unwrap();
    assert!(write.entries_only);
    assert!(write.new_entries[0].correction);
}

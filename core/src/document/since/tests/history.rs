//! The random histories the property draws: one edit a device makes (of
//! every kind a device makes, each with values drawn), a step (an edit on
//! one device or a merge of two), and making an edit on a copy as the
//! store would, a refusal changing nothing.

use proptest::prelude::*;

use super::at;
use crate::document::{DocumentError, RecordDoc};
use crate::model::{
    ActionDetail, ChecklistItem, OffenceCategory, PromiseEntry, PromiseEntryKind, Receipt,
    ReceiptMedium, Record, Tick, TickOutcome, Timestamp, UpdateAgreement, UpdateMethod,
};

/// One edit a device makes (its fields pick values; an edit that does not
/// apply to the record's kind is refused and changes nothing).
#[derive(Debug, Clone)]
pub(super) enum Edit {
    Action(u8, u32),
    Note(u32),
    CorrectNote(usize, u32),
    Tick(usize, usize, u32, Option<usize>),
    Attending(u8),
    Times(Option<u32>, Option<u32>),
    Offence(usize),
    Agree(usize, i32, u32),
    Promise(usize, u32, Option<usize>),
    Receipt(bool, u32),
}

/// One step of a history: device `d` edits, or device `a` merges `b`.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Edit(usize, Edit),
    Merge(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (0..5u8, 0..600u32).prop_map(|(v, t)| Edit::Action(v, t)),
        2 => (0..600u32).prop_map(Edit::Note),
        1 => (0..8usize, 0..600u32).prop_map(|(i, t)| Edit::CorrectNote(i, t)),
        2 => (
            0..ChecklistItem::ALL.len(),
            0..TickOutcome::ALL.len(),
            0..600u32,
            proptest::option::weighted(0.1, 0..4usize)
        )
            .prop_map(|(i, o, t, same)| Edit::Tick(i, o, t, same)),
        1 => (1..5u8).prop_map(Edit::Attending),
        1 => (
            proptest::option::of(0..600u32),
            proptest::option::of(0..600u32)
        )
            .prop_map(|(a, l)| Edit::Times(a, l)),
        1 => (0..OffenceCategory::ALL.len()).prop_map(Edit::Offence),
        1 => (0..UpdateMethod::ALL.len(), 1..=28i32, 0..600u32)
            .prop_map(|(m, e, t)| Edit::Agree(m, e, t)),
        1 => (
            0..PromiseEntryKind::ALL.len(),
            0..600u32,
            proptest::option::of(0..4usize)
        )
            .prop_map(|(k, t, c)| Edit::Promise(k, t, c)),
        1 => (any::<bool>(), 0..600u32).prop_map(|(g, t)| Edit::Receipt(g, t)),
    ]
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..3usize, edit()).prop_map(|(d, e)| Step::Edit(d, e)),
        1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Step::Merge(a, b)),
    ]
}

/// Makes `edit` on `doc` (whose record now is `record`); a refusal changes
/// nothing and is not the property's concern.
pub(super) fn make(doc: &mut RecordDoc, record: &Record, edit: &Edit) {
    let by = "PC1";
    let refused: Result<(), DocumentError> = match edit {
        Edit::Action(variant, t) => {
            let detail = match variant {
                0 => ActionDetail::Note {
                    text: format!("Spoke to neighbour {t}"),
                },
                1 => ActionDetail::Search {
                    area: "Garden".into(),
                    victim_pointed_out_suspect: t % 2 == 0,
                },
                2 => ActionDetail::Witness {
                    found: false,
                    contact_details: String::new(),
                },
                3 => ActionDetail::SuspectDescription {
                    description: "Grey hoodie".into(),
                    circulated: true,
                },
                _ => ActionDetail::EvidenceCollected {
                    what: "Glove".into(),
                    where_found: "Path".into(),
                    exhibit_number: format!("EX{t}"),
                },
            };
            doc.add_action(detail, by, &at(*t)).map(drop)
        }
        Edit::Note(t) => doc.add_note(&format!("Entry {t}"), by, &at(*t)).map(drop),
        Edit::CorrectNote(i, t) => match record.body.notes().get(*i) {
            Some(n) => doc
                .correct_note(&n.id.clone(), &format!("Fixed {t}"), by, &at(*t))
                .map(drop),
            None => Ok(()),
        },
        Edit::Tick(i, o, t, same) => {
            let outcome = TickOutcome::ALL[*o];
            // Now and then the id of a tick already there (a device
            // writing a tick twice): the read keeps the first.
            let id = same
                .and_then(|s| record.body.scene().and_then(|sc| sc.checklist.get(s)))
                .map(|tick| tick.id.clone())
                .unwrap_or_default();
            doc.tick(&Tick {
                id,
                item: ChecklistItem::ALL[*i],
                outcome,
                reason: (outcome == TickOutcome::NotDone).then(|| "No light".into()),
                ticked_by: by.into(),
                ticked_at: Timestamp::parse(&at(*t)).unwrap(),
            })
            .map(drop)
        }
        Edit::Attending(n) => doc.add_attending(&format!("PC{n}")).map(drop),
        Edit::Times(a, l) => {
            let (a, l) = (a.map(at), l.map(at));
            doc.set_times(a.as_deref(), l.as_deref())
        }
        Edit::Offence(o) => doc.set_offence(OffenceCategory::ALL[*o]),
        Edit::Agree(m, every_days, t) => doc.agree_updates_at(
            &UpdateAgreement {
                method: UpdateMethod::ALL[*m],
                every_days: *every_days,
            },
            &at(*t),
        ),
        Edit::Promise(k, t, corrects) => {
            let kind = PromiseEntryKind::ALL[*k];
            let corrects = corrects.and_then(|c| {
                record
                    .body
                    .scene()
                    .and_then(|s| s.promise_entries.get(c))
                    .map(|e| e.id.clone())
            });
            doc.add_promise_entry(&PromiseEntry {
                id: String::new(),
                kind,
                made_by: by.into(),
                made_at: Timestamp::parse(&at(*t)).unwrap(),
                corrects,
                withdrawn: false,
            })
            .map(drop)
        }
        Edit::Receipt(given, t) => doc.set_receipt(&if *given {
            Receipt::Given {
                medium: ReceiptMedium::ALL[0],
                given_at: Timestamp::parse(&at(*t)).unwrap(),
            }
        } else {
            Receipt::NotGiven {
                reason: "Called away".into(),
                recorded_at: Timestamp::parse(&at(*t)).unwrap(),
            }
        }),
    };
    drop(refused);
}

//! [`RecordDoc::record_since`] is the whole read: a property test over
//! random histories of the edits a device makes on every record kind, with
//! concurrent devices merged in, checks it against
//! [`RecordDoc::record_in_one_walk`] after every step (each step's record
//! the "before" of the next, as the store keeps it); and unit tests show
//! which changes take the short way and which fall back. The records a
//! history starts from are in `records`, the edits and steps it draws in
//! `history`.

use automerge::transaction::Transactable;
use automerge::{ActorId, ROOT};
use proptest::prelude::*;

use super::*;
use crate::model::ActionDetail;

mod history;
mod records;

use history::{Edit, Step, make, step};
use records::record_of;

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn at(minutes: u32) -> String {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z").unwrap()
        + chrono::TimeDelta::minutes(i64::from(minutes));
    at.to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A device's copy with the record last read from it, and the heads it was
/// read at: what the store's memo keeps.
struct Device {
    doc: RecordDoc,
    record: Record,
    heads: Vec<ChangeHash>,
}

impl Device {
    /// After a local edit: the record and change the store takes from
    /// [`RecordDoc::record_after_local_edit`] are the whole read and the
    /// last local change; then [`Device::read`].
    fn read_local(&mut self) -> Result<(), TestCaseError> {
        let whole = self.doc.record_in_one_walk();
        let local = self
            .doc
            .record_after_local_edit(self.record.clone(), &self.heads);
        match (whole, local) {
            (Ok(whole), Ok((edited, change))) => {
                prop_assert_eq!(edited.after(), &whole);
                match edited {
                    Edited::Whole { before, .. } => prop_assert_eq!(&before, &self.record),
                    Edited::ActionsAppended { record, added } => {
                        let actions = &record.body.scene().unwrap().actions;
                        let mut before = record.clone();
                        if let RecordBody::SceneAttendance { scene }
                        | RecordBody::HomeBurglary { scene } = &mut before.body
                        {
                            scene.actions.truncate(actions.len() - added);
                        }
                        before.derived = before.body.derived();
                        before.derived.conflicts = record.derived.conflicts.clone();
                        prop_assert!(added > 0);
                        prop_assert_eq!(&before, &self.record);
                    }
                }
                let last = self.doc.last_local_change();
                if self.doc.heads() == self.heads {
                    // A refused edit: no change of its own was made now.
                } else {
                    prop_assert_eq!(change, last);
                }
            }
            (whole, local) => prop_assert_eq!(whole.is_err(), local.is_err()),
        }
        self.read()
    }

    /// Reads the record since the last read and checks it against the
    /// whole read; the result is the next step's "before".
    fn read(&mut self) -> Result<(), TestCaseError> {
        let whole = self.doc.record_in_one_walk();
        let short = self.doc.read_since(&self.record, &self.heads);
        let since = self.doc.record_since(&self.record, &self.heads);
        match (whole, since) {
            (Ok(whole), Ok(since)) => {
                prop_assert_eq!(&since, &whole);
                if let Some(short) = short {
                    prop_assert_eq!(&short, &whole);
                }
                self.record = since;
                self.heads = self.doc.heads();
            }
            (whole, since) => prop_assert_eq!(whole.is_err(), since.is_err()),
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_record_since_its_heads_is_the_whole_read(
        kind in 0..6usize,
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut base = record_of(kind);
        let mut devices: Vec<Device> = (1..=3)
            .map(|n| {
                let mut doc = base.fork(actor(n));
                let record = doc.record_in_one_walk().unwrap();
                let heads = doc.heads();
                Device { doc, record, heads }
            })
            .collect();
        for step in steps {
            match step {
                Step::Edit(d, edit) => {
                    let device = &mut devices[d];
                    make(&mut device.doc, &device.record, &edit);
                    device.read_local()?;
                }
                Step::Merge(a, b) if a != b => {
                    let mut other = devices[b].doc.fork(actor(99));
                    devices[a].doc.merge(&mut other).unwrap();
                    devices[a].read()?;
                }
                Step::Merge(..) => {}
            }
        }
    }
}

#[test]
fn most_reads_of_the_property_take_the_short_way() {
    // Runs the property's edits without merges on a new scene record: every
    // edit the store makes there is read in part.
    let mut device = {
        let mut doc = record_of(1);
        let record = doc.record_in_one_walk().unwrap();
        let heads = doc.heads();
        Device { doc, record, heads }
    };
    let edits = [
        Edit::Action(0, 5),
        Edit::Action(4, 6),
        Edit::Note(7),
        Edit::CorrectNote(0, 8),
        Edit::Tick(0, 0, 9, None),
        Edit::Attending(2),
        Edit::Times(Some(10), None),
        Edit::Offence(1),
        Edit::Agree(0, 14, 11),
        Edit::Promise(0, 12, None),
        Edit::Promise(0, 13, Some(0)),
        Edit::Times(None, Some(20)),
    ];
    for edit in &edits {
        let record = device.record.clone();
        let heads = device.heads.clone();
        make(&mut device.doc, &record, edit);
        assert_ne!(device.doc.heads(), heads, "{edit:?} changed the record");
        let short = device.doc.read_since(&record, &heads);
        assert!(short.is_some(), "{edit:?} took the long way");
        device.read().unwrap();
    }
}

#[test]
fn what_the_short_way_does_not_read_is_read_whole() {
    let mut doc = record_of(0);
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();

    // A header change: read whole (and equal).
    let mut raw = doc.doc.fork().with_actor(actor(5));
    let header = match raw.get(ROOT, "header").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    raw.put(&header, "reference", "OTHER").unwrap();
    raw.commit();
    let mut changed = RecordDoc::load(&raw.save(), actor(5)).unwrap();
    assert!(changed.read_since(&before, &heads).is_none());
    assert_eq!(
        changed.record_since(&before, &heads).unwrap(),
        changed.record_in_one_walk().unwrap()
    );

    // An entry deleted from a list (no device does this; a hostile one
    // might): read whole.
    doc.add_action(ActionDetail::Note { text: "One".into() }, "PC1", &at(3))
        .unwrap();
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();
    let inner = doc.inner_obj().unwrap();
    let actions = match doc.doc.get(&inner, "actions").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    doc.doc.delete(&actions, 0).unwrap();
    doc.doc.commit();
    assert!(doc.read_since(&before, &heads).is_none());
    let after = doc.record_since(&before, &heads).unwrap();
    assert!(after.body.scene().unwrap().actions.is_empty());

    // An existing entry overwritten in place: read whole.
    doc.add_action(ActionDetail::Note { text: "Two".into() }, "PC1", &at(4))
        .unwrap();
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();
    let first = match doc.doc.get(&actions, 0).unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    doc.doc.put(&first, "recorded_by", "PC7").unwrap();
    doc.doc.commit();
    assert!(doc.read_since(&before, &heads).is_none());
    let after = doc.record_since(&before, &heads).unwrap();
    assert_eq!(after.body.scene().unwrap().actions[0].recorded_by, "PC7");
    assert_eq!(after, doc.record_in_one_walk().unwrap());

    // Heads this copy does not hold, or a record of another copy: whole.
    let before = doc.record_in_one_walk().unwrap();
    let mut other = record_of(1);
    let other_heads = other.heads();
    assert!(doc.read_since(&before, &other_heads).is_none());
    assert!(doc.read_since(&before, &[]).is_none());
    let theirs = other.record_in_one_walk().unwrap();
    let heads = doc.heads();
    assert!(doc.read_since(&theirs, &heads).is_none());
    assert_eq!(doc.record_since(&theirs, &heads).unwrap(), before);
}

#[test]
fn an_element_inserted_before_the_end_of_its_list_is_read_whole() {
    // Two devices append concurrently: merged, one device's action lands
    // before the other's, not at the end of what this copy held.
    let mut a = record_of(0);
    let mut b = a.fork(actor(2));
    let note = |t: &str| ActionDetail::Note { text: t.into() };
    a.add_action(note("a"), "PC1", &at(1)).unwrap();
    b.add_action(note("b"), "PC1", &at(1)).unwrap();
    let before = a.record_in_one_walk().unwrap();
    let heads = a.heads();
    a.merge(&mut b).unwrap();
    let actions = a.record_in_one_walk().unwrap();
    let ours_last = actions.body.scene().unwrap().actions.last().unwrap().detail == note("a");
    // Whichever way Automerge orders them, the answer is the whole read.
    assert_eq!(a.record_since(&before, &heads).unwrap(), actions);
    assert_eq!(a.read_since(&before, &heads).is_none(), ours_last);
}

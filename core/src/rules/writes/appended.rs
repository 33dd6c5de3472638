//! The write rule on an append of scene actions, in proportion to what
//! was appended. [`super::check_appended_with`] checks each list of the
//! record against itself and the new actions against the ones held: on
//! every edit, a hash of every entry id of the record. What that reads of
//! the record before the append (each list's answer against itself, the
//! ids of the actions held) does not change when actions are appended, so
//! the device store keeps it beside the record it last read
//! (`core/src/store/cache.rs`) as an [`AppendIndex`], brought up to date
//! by each append it accepts: the next append is checked on its own new
//! actions. The answer is the same ([`super::check_write`]'s): the
//! property tests of `rules::tests` compare them, one append and a chain
//! of appends carrying one index.

use std::collections::HashMap;

use super::super::{EditRefusal, check_entries, refuse};
use crate::model::{NoteEntry, Record, SceneAction};

/// What the rule reads of a record's lists before an append of scene
/// actions: built once ([`AppendIndex::of`]), then extended by each
/// accepted append ([`AppendIndex::extend`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AppendIndex {
    /// The notes, then the actions held, each checked against itself:
    /// the first refusal, as `check_entries` gives it.
    held: Result<(), EditRefusal>,
    /// The promise entries, then the ticks, likewise.
    rest: Result<(), EditRefusal>,
    /// Each id of an action held, with the place of its last occurrence
    /// (the entry `check_entries` compares a new one with).
    ids: HashMap<String, usize>,
    /// The number of actions held.
    count: usize,
}

/// A list checked against itself: the author of an entry is never asked
/// (every entry is known), so no editor is named.
fn against_itself<T>(
    field: &str,
    what: &str,
    list: &[T],
    id: impl Fn(&T) -> &str,
    author: impl Fn(&T) -> &str,
    same: impl Fn(&T, &T) -> bool,
) -> Result<(), EditRefusal> {
    check_entries(field, what, list, list, "", id, author, same)
}

impl AppendIndex {
    /// The index of `record` with only its first `held` scene actions
    /// (the record before an append of the rest).
    pub fn of(record: &Record, held: usize) -> AppendIndex {
        let notes = record.body.notes();
        let scene = record.body.scene();
        let actions = scene.map(|s| s.actions.as_slice()).unwrap_or_default();
        let actions = &actions[..held.min(actions.len())];
        let held_answer = against_itself(
            "notes",
            "note entry",
            notes,
            |e: &NoteEntry| e.id.as_str(),
            |e| e.written_by.as_str(),
            NoteEntry::same_entry,
        )
        .and_then(|()| {
            against_itself(
                "actions",
                "scene action",
                actions,
                |a| a.id.as_str(),
                |a| a.recorded_by.as_str(),
                |a, b| a == b,
            )
        });
        let rest = match scene {
            None => Ok(()),
            Some(scene) => against_itself(
                "promise_entries",
                "promise entry",
                &scene.promise_entries,
                |e| e.id.as_str(),
                |e| e.made_by.as_str(),
                |a, b| a == b,
            )
            .and_then(|()| {
                against_itself(
                    "checklist",
                    "tick",
                    &scene.checklist,
                    |t| t.id.as_str(),
                    |t| t.ticked_by.as_str(),
                    |a, b| a == b,
                )
            }),
        };
        let ids = actions
            .iter()
            .enumerate()
            .map(|(place, a)| (a.id.clone(), place))
            .collect();
        AppendIndex {
            held: held_answer,
            rest,
            ids,
            count: actions.len(),
        }
    }

    /// The number of scene actions this index holds.
    pub fn held(&self) -> usize {
        self.count
    }

    /// The lists' answer up to the new actions of `actions` (those past
    /// the ones held), the new actions' own, then the rest's: the order in
    /// which `check_entries` meets them in
    /// [`super::check_appended_with`]. `editor` writes the append.
    pub(super) fn check(&self, actions: &[SceneAction], editor: &str) -> Result<(), EditRefusal> {
        self.held.clone()?;
        for (place, action) in actions.iter().enumerate().skip(self.count) {
            match self.ids.get(action.id.as_str()) {
                Some(&old) if actions[old] == *action => {}
                Some(_) => {
                    return Err(refuse(
                        "actions",
                        Some(&action.id),
                        format!(
                            "scene action {} was altered; entries are never changed",
                            place + 1
                        ),
                    ));
                }
                None if action.recorded_by != editor => {
                    return Err(refuse(
                        "actions",
                        Some(&action.id),
                        format!(
                            "scene action {} is written in another officer's name",
                            place + 1
                        ),
                    ));
                }
                None => {}
            }
        }
        self.rest.clone()
    }

    /// Takes in the actions of `actions` past the ones held, once an
    /// append of them was accepted; `false` when one of them repeats an id
    /// (the lists' answer against themselves may then change: the caller
    /// builds the index again rather than reason about it).
    pub fn extend(&mut self, actions: &[SceneAction]) -> bool {
        for (place, action) in actions.iter().enumerate().skip(self.count) {
            if self.ids.insert(action.id.clone(), place).is_some() {
                return false;
            }
        }
        self.count = actions.len();
        true
    }
}

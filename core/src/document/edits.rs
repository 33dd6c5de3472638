//! The typed edits of a record document: each appends or sets exactly
//! what one API call means (a scene action, a tick, a note entry or its
//! correction, a co-attending officer, the times, the update agreement,
//! the offence category, a promise entry or its correction, the receipt) as one targeted Automerge change, validated before it is
//! committed, so its change is small and nothing is rewritten.

use super::*;

impl RecordDoc {
    /// Appends a scene action; returns its id.
    pub fn add_action(
        &mut self,
        detail: ActionDetail,
        recorded_by: &str,
        recorded_at: &str,
    ) -> Result<String, DocumentError> {
        self.require_scene("adding a scene action")?;
        let mut v = Violations::new();
        detail.validate(&mut v);
        v.finish().map_err(DocumentError::Invalid)?;
        let action = SceneAction {
            id: uuid::Uuid::now_v7().to_string(),
            recorded_by: recorded_by.to_string(),
            recorded_at: time("action.recorded_at", recorded_at)?,
            detail,
        };
        let (inner, actions, alone) = match self.places_now() {
            Some(Places {
                inner,
                actions,
                alone,
                ..
            }) => (inner, actions, alone),
            None => {
                let inner = self.inner_obj()?;
                let actions = self.child(&inner, "actions", ObjType::List)?;
                let alone = self.doc.get_all(&inner, "actions")?.len() == 1;
                (inner, actions, alone)
            }
        };
        let at = self.doc.length(&actions);
        if at >= MAX_ACTIONS {
            return Err(full("actions", MAX_ACTIONS));
        }
        let appended = match insert_action(&mut self.doc, &actions, at, &action) {
            Ok(element) => element,
            Err(e) => {
                self.doc.rollback();
                return Err(e.into());
            }
        };
        self.commit("add-action");
        // This edit wrote one element at the end of the list and nothing
        // else: the places hold at the new heads.
        self.places = Some(Places {
            heads: self.doc.get_heads(),
            inner,
            actions,
            alone,
            appended,
        });
        Ok(action.id)
    }

    /// The [`Places`] found by this copy's last scene action, while the
    /// document is as that edit left it.
    fn places_now(&mut self) -> Option<Places> {
        let heads = self.doc.get_heads();
        self.places.take().filter(|p| p.heads == heads)
    }

    /// Where the action of this copy's last scene action is, when the
    /// document is still as that edit left it (`heads`) and the list it
    /// went to is `list`, alone under the record's `actions`: the
    /// element, at the end of that list.
    pub(super) fn appended_action(&self, heads: &[ChangeHash], list: &ObjId) -> Option<&ObjId> {
        self.places
            .as_ref()
            .filter(|p| p.heads == heads && p.alone && p.actions == *list)
            .map(|p| &p.appended)
    }

    /// Ticks one checklist item (done, not applicable, or not done with a
    /// reason): a new entry of the tick history, never a rewrite of an
    /// earlier tick. Returns the entry's id (assigned if `tick.id` is empty).
    pub fn tick(&mut self, tick: &Tick) -> Result<String, DocumentError> {
        let kind = self.require_scene("ticking a checklist item")?;
        let mut v = Violations::new();
        if !tick.item.applies_to(kind) {
            v.push(
                format!("checklist.{}", tick.item.as_str()),
                format!("not an item of a {} record", kind.as_str()),
            );
        }
        tick.validate(&mut v);
        v.finish().map_err(DocumentError::Invalid)?;
        let mut tick = tick.clone();
        if tick.id.is_empty() {
            tick.id = uuid::Uuid::now_v7().to_string();
        }
        let inner = self.inner_obj()?;
        let legacy = entries::legacy_tick_count(&self.doc, &inner)?;
        if entries::count(&self.doc, &inner, TICK_ENTRIES, legacy)? >= MAX_TICKS {
            return Err(full("checklist", MAX_TICKS));
        }
        let ticks = self.child(&inner, TICK_ENTRIES, ObjType::List)?;
        let at = self.doc.length(&ticks);
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, ticks, at, &tick)?;
        self.commit("tick");
        Ok(tick.id)
    }

    /// Appends an entry to the record's notebook (any record kind); returns
    /// its id. Nothing ever edits or removes an entry: see `correct_note`.
    pub fn add_note(
        &mut self,
        text: &str,
        written_by: &str,
        written_at: &str,
    ) -> Result<String, DocumentError> {
        self.append_note(text, written_by, written_at, None)
    }

    /// Appends an entry that corrects `entry_id`; the corrected entry stays
    /// as written and reads as corrected. Returns the new entry's id.
    pub fn correct_note(
        &mut self,
        entry_id: &str,
        text: &str,
        written_by: &str,
        written_at: &str,
    ) -> Result<String, DocumentError> {
        self.append_note(text, written_by, written_at, Some(entry_id))
    }

    fn append_note(
        &mut self,
        text: &str,
        written_by: &str,
        written_at: &str,
        corrects: Option<&str>,
    ) -> Result<String, DocumentError> {
        let mut v = Violations::new();
        validate_note_text(&mut v, text);
        validate_shoulder_number(&mut v, "notes.written_by", written_by);
        v.timestamp("notes.written_at", written_at);
        v.finish().map_err(DocumentError::Invalid)?;
        let inner = self.inner_obj()?;
        if let Some(target) = corrects
            && !entries::note_exists(&self.doc, &inner, &self.header, target)?
        {
            return Err(DocumentError::Invalid(vec![FieldViolation {
                field: "notes.corrects".into(),
                problem: "no entry with this id in the record".into(),
            }]));
        }
        let legacy = entries::legacy_note_count(&self.doc, &inner, &self.header)?;
        if entries::count(&self.doc, &inner, NOTE_ENTRIES, legacy)? >= MAX_NOTE_ENTRIES {
            return Err(full("notes", MAX_NOTE_ENTRIES));
        }
        let entry = StoredNote {
            id: uuid::Uuid::now_v7().to_string(),
            written_by: written_by.to_string(),
            written_at: written_at.to_string(),
            text: text.to_string(),
            corrects: corrects.map(str::to_string),
        };
        let list = self.child(&inner, NOTE_ENTRIES, ObjType::List)?;
        let at = self.doc.length(&list);
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, list, at, &entry)?;
        self.commit("note");
        Ok(entry.id)
    }

    /// Names a co-attending officer (by shoulder number) on a scene or
    /// burglary record. Returns whether the record changed: naming the
    /// author, or an officer already named, changes nothing.
    ///
    /// Each officer is one key of the `attending` map, so officers adding
    /// different colleagues offline all survive the merge. A record made
    /// before sharing existed has no map yet; the first addition creates
    /// it, and if two devices do that concurrently both maps are kept as a
    /// conflict and read together (records made since carry the map from
    /// creation).
    pub fn add_attending(&mut self, shoulder_number: &str) -> Result<bool, DocumentError> {
        self.require_scene("naming a co-attending officer")?;
        let mut v = Violations::new();
        validate_shoulder_number(&mut v, "attending", shoulder_number);
        v.finish().map_err(DocumentError::Invalid)?;
        let shoulder_number = shoulder_number.trim();
        if shoulder_number == self.header.author.shoulder_number {
            return Ok(false);
        }
        let inner = self.inner_obj()?;
        let named = entries::read_attending(&self.doc, &inner)?;
        if named.iter().any(|o| o == shoulder_number) {
            return Ok(false);
        }
        if named.len() >= MAX_ATTENDING {
            return Err(full("attending", MAX_ATTENDING));
        }
        let attending = self.child(&inner, ATTENDING, ObjType::Map)?;
        self.doc.put(&attending, shoulder_number, true)?;
        self.commit("attending");
        Ok(true)
    }

    /// Records arrival and/or departure times.
    pub fn set_times(
        &mut self,
        arrived: Option<&str>,
        left: Option<&str>,
    ) -> Result<(), DocumentError> {
        self.require_scene("recording arrival or departure")?;
        let inner = self.inner_obj()?;
        if let Some(arrived) = arrived {
            reconcile_prop(&mut self.doc, &inner, "arrived", Some(arrived))?;
        }
        if let Some(left) = left {
            reconcile_prop(&mut self.doc, &inner, "left", Some(left))?;
        }
        self.validated_commit("times")
    }

    /// Records how and how often the victim wants updates, agreed now
    /// (the device time).
    pub fn agree_updates(&mut self, updates: &UpdateAgreement) -> Result<(), DocumentError> {
        self.agree_updates_at(updates, &Timestamp::now())
    }

    /// Records an update agreement made at `agreed_at`. The time goes
    /// inside the same fresh map as the agreement (`updates.agreed_at`), so
    /// whichever agreement wins a conflict brings its own time.
    pub fn agree_updates_at(
        &mut self,
        updates: &UpdateAgreement,
        agreed_at: &str,
    ) -> Result<(), DocumentError> {
        self.require_scene("agreeing updates")?;
        let agreed_at = time("updates.agreed_at", agreed_at)?;
        let inner = self.inner_obj()?;
        self.put_whole(&inner, "updates", Some(updates))?;
        if let Some((Value::Object(ObjType::Map), map)) = self.doc.get(&inner, "updates")? {
            self.doc.put(&map, "agreed_at", agreed_at.as_str())?;
        }
        self.validated_commit("updates")
    }

    /// Records the offence category of a scene or burglary record: one
    /// scalar, so a concurrent conflict keeps one whole value written by
    /// someone, the same on every replica, and is named in `conflicts`.
    pub fn set_offence(&mut self, offence: OffenceCategory) -> Result<(), DocumentError> {
        self.require_scene("recording the offence category")?;
        let inner = self.inner_obj()?;
        self.doc.put(&inner, "offence", offence.as_str())?;
        self.validated_commit("offence")
    }

    /// Appends a promise entry ("victim updated", "review done", "contact
    /// made") or a correction of one; never rewrites an entry. Returns the
    /// entry's id (assigned if `entry.id` is empty).
    pub fn add_promise_entry(&mut self, entry: &PromiseEntry) -> Result<String, DocumentError> {
        self.require_scene("recording a promise entry")?;
        let mut v = Violations::new();
        entry.validate(&mut v);
        v.finish().map_err(DocumentError::Invalid)?;
        let inner = self.inner_obj()?;
        if let Some(target) = &entry.corrects {
            match entries::promise_entry_kind(&self.doc, &inner, target)? {
                Some(kind) if kind == entry.kind => {}
                found => {
                    return Err(DocumentError::Invalid(vec![FieldViolation {
                        field: "promise_entries.corrects".into(),
                        problem: if found.is_some() {
                            "a correction is of the same kind as the entry it corrects".into()
                        } else {
                            "no entry with this id in the record".into()
                        },
                    }]));
                }
            }
        }
        if entries::count(&self.doc, &inner, PROMISE_ENTRIES, 0)? >= MAX_PROMISE_ENTRIES {
            return Err(full("promise_entries", MAX_PROMISE_ENTRIES));
        }
        let mut entry = entry.clone();
        if entry.id.is_empty() {
            entry.id = uuid::Uuid::now_v7().to_string();
        }
        let list = self.child(&inner, PROMISE_ENTRIES, ObjType::List)?;
        let at = self.doc.length(&list);
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, list, at, &entry)?;
        self.validated_commit("promise-entry")?;
        Ok(entry.id)
    }

    /// Issues the receipt (or records why it could not be given).
    pub fn set_receipt(&mut self, receipt: &Receipt) -> Result<(), DocumentError> {
        if !self.kind().is_encounter() {
            return Err(DocumentError::WrongKind {
                operation: "issuing a receipt",
                kind: self.kind(),
            });
        }
        let inner = self.inner_obj()?;
        let existing: Option<Receipt> = hydrate_prop(&self.doc, &inner, "receipt")?;
        match (&existing, receipt) {
            (Some(Receipt::Given { .. }), _) => return Err(DocumentError::ReceiptAlreadyIssued),
            // "Not given" may become "given" (handed over later), never
            // another "not given": the reason recorded is evidence too.
            (Some(Receipt::NotGiven { .. }), Receipt::NotGiven { .. }) => {
                return Err(DocumentError::Invalid(vec![FieldViolation {
                    field: "receipt".into(),
                    problem: "already recorded as not given; it may only become given".into(),
                }]));
            }
            _ => {}
        }
        self.put_whole(&inner, "receipt", Some(receipt))?;
        self.validated_commit("receipt")
    }

    fn require_scene(&self, operation: &'static str) -> Result<RecordKind, DocumentError> {
        match self.kind() {
            k @ (RecordKind::SceneAttendance | RecordKind::HomeBurglary) => Ok(k),
            kind => Err(DocumentError::WrongKind { operation, kind }),
        }
    }

    /// The map inside `body` that holds this kind's fields.
    pub(super) fn inner_obj(&self) -> Result<ObjId, DocumentError> {
        let (variant, field) = match self.kind() {
            RecordKind::SceneAttendance => ("SceneAttendance", "scene"),
            RecordKind::HomeBurglary => ("HomeBurglary", "scene"),
            RecordKind::StopSearch => ("StopSearch", "search"),
            RecordKind::StopAccount => ("StopAccount", "account"),
        };
        let body = self.existing(&ROOT, "body", ObjType::Map)?;
        let variant = self.existing(&body, variant, ObjType::Map)?;
        self.existing(&variant, field, ObjType::Map)
    }

    fn existing(&self, parent: &ObjId, key: &str, ty: ObjType) -> Result<ObjId, DocumentError> {
        match self.doc.get(parent, key)? {
            Some((Value::Object(found), id)) if found == ty => Ok(id),
            _ => Err(DocumentError::Shape(format!("missing {key}"))),
        }
    }

    /// A child object, created if a concurrent edit or an old record lacks it.
    fn child(&mut self, parent: &ObjId, key: &str, ty: ObjType) -> Result<ObjId, DocumentError> {
        match self.existing(parent, key, ty) {
            Ok(id) => Ok(id),
            Err(_) => Ok(self.doc.put_object(parent, key, ty)?),
        }
    }

    /// Writes a multi-field value as one fresh map: a register of the whole
    /// value. Two devices writing concurrently create two maps, and
    /// Automerge picks one whole map on every replica (named in
    /// `conflicts`), never fields of both, as reconciling into the existing
    /// map field by field would.
    fn put_whole<T: autosurgeon::Reconcile>(
        &mut self,
        parent: &ObjId,
        key: &str,
        value: T,
    ) -> Result<(), DocumentError> {
        self.doc.put_object(parent, key, ObjType::Map)?;
        reconcile_prop(&mut self.doc, parent, key, value)?;
        Ok(())
    }

    fn commit(&mut self, message: &str) {
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(chrono::Utc::now().timestamp()),
        );
    }

    /// Commits an edit if the record is still valid after it, else undoes it.
    fn validated_commit(&mut self, message: &str) -> Result<(), DocumentError> {
        match self.validate() {
            Ok(()) => {
                self.commit(message);
                Ok(())
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }
}

/// Writes a scene action as a new map at `at` of the actions list (and
/// returns the map, the list's new element): the
/// map `autosurgeon::reconcile_insert` makes for a [`SceneAction`] (the
/// same keys, value types and nesting: `id`, `recorded_by`,
/// `recorded_at`, and `detail` holding one map under the variant's name),
/// written as one Automerge batch. Reconciling put each value on its own
/// (one splice of the document's columns per value, and a lookup of each
/// key of the fresh map before writing it), most of an edit's cost; the
/// batch splices the whole map in at once. The operations differ in order
/// and ids from the reconciled ones, the document they make does not. The
/// destructuring names every field, so a field added to the model fails
/// to compile here rather than going unwritten; `direct_put_tests` below
/// checks the document and the record read against reconciling.
fn insert_action(
    doc: &mut AutoCommit,
    actions: &ObjId,
    at: usize,
    action: &SceneAction,
) -> Result<ObjId, automerge::AutomergeError> {
    use automerge::hydrate::{Map, MapValue, Value as H};
    // Each key hashed once into a map of its final size (collecting into a
    // `HashMap<&str, _>` first, as `From` takes it, hashed every key twice
    // and grew both maps).
    let map = |entries: Vec<(&str, H)>| {
        let mut map = Map::default();
        map.reserve(entries.len());
        for (key, value) in entries {
            map.insert(
                key.to_string(),
                MapValue {
                    value,
                    conflict: false,
                },
            );
        }
        H::Map(map)
    };
    let SceneAction {
        id,
        recorded_by,
        recorded_at,
        detail,
    } = action;
    let (variant, fields) = match detail {
        ActionDetail::EvidenceCollected {
            what,
            where_found,
            exhibit_number,
        } => (
            "EvidenceCollected",
            vec![
                ("what", H::from(what.as_str())),
                ("where_found", H::from(where_found.as_str())),
                ("exhibit_number", H::from(exhibit_number.as_str())),
            ],
        ),
        ActionDetail::SuspectDescription {
            description,
            circulated,
        } => (
            "SuspectDescription",
            vec![
                ("description", H::from(description.as_str())),
                ("circulated", H::scalar(*circulated)),
            ],
        ),
        ActionDetail::Search {
            area,
            victim_pointed_out_suspect,
        } => (
            "Search",
            vec![
                ("area", H::from(area.as_str())),
                (
                    "victim_pointed_out_suspect",
                    H::scalar(*victim_pointed_out_suspect),
                ),
            ],
        ),
        ActionDetail::Witness {
            found,
            contact_details,
        } => (
            "Witness",
            vec![
                ("found", H::scalar(*found)),
                ("contact_details", H::from(contact_details.as_str())),
            ],
        ),
        ActionDetail::Note { text } => ("Note", vec![("text", H::from(text.as_str()))]),
    };
    let value = map(vec![
        ("id", H::from(id.as_str())),
        ("recorded_by", H::from(recorded_by.as_str())),
        ("recorded_at", H::from(recorded_at.as_str())),
        ("detail", map(vec![(variant, map(fields))])),
    ]);
    doc.batch_create_object(actions, at, &value, true)
}

/// A time given to an edit, as a record's time field; `field` names it
/// when it is refused.
fn time(field: &str, text: &str) -> Result<Timestamp, DocumentError> {
    Timestamp::parse(text).map_err(|e| {
        DocumentError::Invalid(vec![FieldViolation {
            field: field.into(),
            problem: e.to_string(),
        }])
    })
}

/// A list reached its bound: refused here as the server would.
fn full(field: &str, bound: usize) -> DocumentError {
    DocumentError::Invalid(vec![FieldViolation {
        field: field.into(),
        problem: format!("the record already holds {bound}, the most it may"),
    }])
}

/// [`insert_action`] against the autosurgeon reconcile it replaced: the
/// same document (every key, value and type, as Automerge hydrates it)
/// and the same record read, for every kind of action, after the change
/// is stored and loaded again as the store does; and devices on either
/// code converge on the record both would read.
#[cfg(test)]
mod direct_put_tests;

/// The places kept between scene actions against a merge that replaced
/// the actions list or put a second one beside it.
#[cfg(test)]
mod places_tests;

//! The record calls of the facade: create each record kind, make each
//! typed edit, read, list, export and import.

use super::*;

use crate::document::DocumentError;
use crate::model::{
    ActionDetail, ChecklistItem, FieldViolation, Receipt, ReceiptMedium, Record, RecordBody,
    RecordHeader, RecordSummary, SceneAttendance, SceneInput, StopAccount, StopSearch, Tick,
    TickOutcome, Timestamp, UpdateAgreement, normalise_registration,
};
use crate::reference::Reference;
use crate::store::ListFilter;

use crate::error::ApiError;

#[uniffi::export]
impl Notebook {
    /// Opens a scene-attendance record.
    pub fn create_scene(&self, input: SceneInput) -> Result<Record, ApiError> {
        let scene = SceneAttendance::from_input(input);
        self.create(RecordBody::SceneAttendance { scene })
    }

    /// Opens a home-burglary record (a scene attendance with the burglary checklist).
    pub fn create_burglary(&self, input: SceneInput) -> Result<Record, ApiError> {
        let scene = SceneAttendance::from_input(input);
        self.create(RecordBody::HomeBurglary { scene })
    }

    /// Records a stop and search. The receipt is issued separately with
    /// [`Notebook::issue_receipt`] or [`Notebook::receipt_not_given`].
    pub fn create_stop_search(&self, mut search: StopSearch) -> Result<Record, ApiError> {
        search.vehicle_registration = search
            .vehicle_registration
            .as_deref()
            .map(normalise_registration)
            .filter(|r| !r.is_empty());
        if search.receipt.is_some() {
            return Err(ApiError::invalid_field(
                "receipt",
                "issue it with issue_receipt once the record is made",
            ));
        }
        self.create(RecordBody::StopSearch { search })
    }

    /// Records a stop and account.
    pub fn create_stop_account(&self, account: StopAccount) -> Result<Record, ApiError> {
        if account.receipt.is_some() {
            return Err(ApiError::invalid_field(
                "receipt",
                "issue it with issue_receipt once the record is made",
            ));
        }
        self.create(RecordBody::StopAccount { account })
    }

    /// Appends a scene action by this officer; returns the action's id.
    pub fn add_scene_action(
        &self,
        record_id: String,
        detail: ActionDetail,
    ) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| {
            doc.add_action(detail, &by, &Timestamp::now())
        })
    }

    /// Ticks a checklist item. "Not done" needs the reason. Every tick is a
    /// new entry of the item's history (ticking an item again, or a
    /// colleague's later tick, never rewrites an earlier one); the record
    /// shows the latest per item in `derived.latest_ticks`. Returns the
    /// tick entry's id.
    pub fn tick(
        &self,
        record_id: String,
        item: ChecklistItem,
        outcome: TickOutcome,
        reason: Option<String>,
    ) -> Result<String, ApiError> {
        let tick = Tick {
            id: String::new(),
            item,
            outcome,
            reason: reason.filter(|r| !r.trim().is_empty()),
            ticked_by: self.officer.shoulder_number.clone(),
            ticked_at: Timestamp::now(),
        };
        self.edit(&record_id, |doc| doc.tick(&tick))
    }

    /// Names another officer who attended the scene (scene-attendance and
    /// home-burglary records): the server then lets them see and add to the
    /// record. The shoulder number is checked as an officer's own is.
    /// Naming the record's author, or an officer already named, succeeds
    /// and changes nothing. Stop-search and stop-account records are never
    /// shared this way (`Conflict`).
    pub fn add_attending_officer(
        &self,
        record_id: String,
        shoulder_number: String,
    ) -> Result<(), ApiError> {
        let (changed, header) =
            self.edit_quietly(&record_id, |doc| doc.add_attending(&shoulder_number))?;
        if let (true, Some(header)) = (changed, header) {
            self.notify(&header, ChangeOrigin::Local);
        }
        Ok(())
    }

    /// Records when officers arrived at the scene (kept to the second).
    pub fn record_arrival(&self, record_id: String, at: Timestamp) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.set_times(Some(&at), None))
    }

    /// Records when officers left the scene (kept to the second).
    pub fn record_departure(&self, record_id: String, at: Timestamp) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.set_times(None, Some(&at)))
    }

    /// Records how and how often the victim wants updates (at least every 4 weeks).
    pub fn agree_updates(
        &self,
        record_id: String,
        updates: UpdateAgreement,
    ) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.agree_updates(&updates))
    }

    /// Writes a new entry in the record's notebook (any record kind), in
    /// this officer's name; returns the entry's id. Entries are never
    /// edited or removed: a mistake is put right with [`Notebook::correct_note`].
    pub fn add_note(&self, record_id: String, text: String) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| {
            doc.add_note(&text, &by, &Timestamp::now())
        })
    }

    /// Writes a new entry that corrects the entry `entry_id`: the corrected
    /// entry stays readable as written and lists this one in its
    /// `corrected_by`. Returns the new entry's id.
    pub fn correct_note(
        &self,
        record_id: String,
        entry_id: String,
        text: String,
    ) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| {
            doc.correct_note(&entry_id, &text, &by, &Timestamp::now())
        })
    }

    /// Issues the receipt of a stop and search (or the record of a stop and
    /// account); returns the reference printed on it.
    pub fn issue_receipt(
        &self,
        record_id: String,
        medium: ReceiptMedium,
    ) -> Result<String, ApiError> {
        let receipt = Receipt::Given {
            medium,
            given_at: Timestamp::now(),
        };
        self.edit(&record_id, |doc| {
            doc.set_receipt(&receipt)?;
            Ok(doc.header().reference.clone())
        })
    }

    /// Records why no receipt could be given (exceptional circumstances).
    pub fn receipt_not_given(&self, record_id: String, reason: String) -> Result<(), ApiError> {
        let receipt = Receipt::NotGiven {
            reason,
            recorded_at: Timestamp::now(),
        };
        self.edit(&record_id, |doc| doc.set_receipt(&receipt))
    }

    /// Reads a whole typed record.
    pub fn get(&self, record_id: String) -> Result<Record, ApiError> {
        Ok(self.store()?.get(&record_id)?)
    }

    /// Lists records, newest first, from the index alone.
    pub fn list(&self, filter: ListFilter) -> Result<Vec<RecordSummary>, ApiError> {
        if let Some(reference) = &filter.reference {
            Reference::parse(reference).map_err(|e| ApiError::bad_input(e.to_string()))?;
        }
        if filter.limit.is_some_and(|limit| limit < 0) {
            return Err(ApiError::invalid_field(
                "limit",
                "a number of records, 0 or more",
            ));
        }
        Ok(self.store()?.list(&filter)?)
    }

    /// The record's Automerge document, for repair and interop.
    pub fn export(&self, record_id: String) -> Result<Vec<u8>, ApiError> {
        Ok(self.store()?.export(&record_id)?)
    }

    /// Imports a record's Automerge document, merging it with the stored copy.
    pub fn import(&self, bytes: Vec<u8>) -> Result<Record, ApiError> {
        let record = self.store()?.import(&bytes)?;
        self.notify(&record.header, ChangeOrigin::Import);
        Ok(record)
    }
}

/// Checks a record body without storing it, so a form can mark every
/// offending field before the officer submits.
#[uniffi::export]
pub fn validate_record(body: RecordBody) -> Vec<FieldViolation> {
    body.validate().err().unwrap_or_default()
}

/// Checks a reference as typed; returns it in canonical form.
#[uniffi::export]
pub fn parse_reference(text: String) -> Result<String, ApiError> {
    Reference::parse(&text)
        .map(|r| r.to_string())
        .map_err(|e| ApiError::bad_input(e.to_string()))
}

impl Notebook {
    fn create(&self, body: RecordBody) -> Result<Record, ApiError> {
        body.validate().map_err(invalid)?;
        let header = RecordHeader {
            id: uuid::Uuid::now_v7().to_string(),
            kind: body.kind(),
            reference: Reference::generate().to_string(),
            created_at: Timestamp::now(),
            author: self.officer.clone(),
        };
        let record = {
            let mut store = self.store()?;
            store.check_create(&header)?;
            store.create(header, &body)?
        };
        self.notify(&record.header, ChangeOrigin::Local);
        Ok(record)
    }

    /// An edit of this officer's, checked by the store's write rule; the
    /// listeners hear of it.
    pub(super) fn edit<T>(
        &self,
        record_id: &str,
        edit: impl FnOnce(&mut crate::document::RecordDoc) -> Result<T, DocumentError>,
    ) -> Result<T, ApiError> {
        let (value, header) = self.edit_quietly(record_id, edit)?;
        if let Some(header) = header {
            self.notify(&header, ChangeOrigin::Local);
        }
        Ok(value)
    }

    /// An edit whose caller decides whether listeners hear of it; returns
    /// the record's header with the edit's value.
    fn edit_quietly<T>(
        &self,
        record_id: &str,
        edit: impl FnOnce(&mut crate::document::RecordDoc) -> Result<T, DocumentError>,
    ) -> Result<(T, Option<RecordHeader>), ApiError> {
        let mut header = None;
        let editor = &self.officer.shoulder_number;
        let value = self.store()?.edit_as(record_id, editor, |doc| {
            header = Some(doc.header().clone());
            edit(doc)
        })?;
        Ok((value, header))
    }
}

pub(super) fn invalid(violations: Vec<FieldViolation>) -> ApiError {
    DocumentError::Invalid(violations).into()
}

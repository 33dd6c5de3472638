//! What admins do to people and devices, each step audited: the one
//! implementation behind the `admin` command line (and the tests' station).
//! Admins manage people and devices, never record contents. The command
//! line reaches the store only through [`Admin`]: listings, the audit
//! trail, retention, legal holds and the station staff's copies.

use std::sync::Arc;

use serde_json::json;

mod pledge;
mod retention;

use crate::audit::{self, Action, Verification, actor};
use crate::auth;
use crate::clock::Clock;
use crate::copy::RecordCopy;
use crate::copy::staff::{self, RecordMatch, StaffError};
use crate::figures::FiguresError;
use crate::identity::Role;
use crate::retention::RetentionPolicy;
use crate::storage::{
    AuditEvent, AuditQuery, DeviceRow, LegalHold, NewAuditEvent, OfficerRow, RecordIndex,
    RevokeReason, Storage, StorageError,
};

/// A refusal an admin can act on.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error(transparent)]
    Figures(#[from] FiguresError),
}

/// One change set of a record as the server received it (`admin records
/// history`): no content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChangeReceived {
    /// Its place in the change feed.
    pub seq: u64,
    /// The server's receive time (RFC 3339, UTC); `None` for an erasure
    /// and for changes stored before the server kept it.
    pub received_at: Option<String>,
    /// The device that pushed it (`admin device list`).
    pub origin_device: String,
    /// Size of the change set, in bytes.
    pub bytes: u64,
    /// The record's erasure at the end of its retention period.
    pub erased: bool,
}

/// A one-time enrolment code as issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedCode {
    pub officer: String,
    pub code: String,
    pub expires_at: String,
}

/// The admin operations over one store.
#[derive(Clone)]
pub struct Admin {
    storage: Arc<dyn Storage>,
    clock: Clock,
    /// The retention periods copies are given within, once
    /// [`Admin::with_retention`] gave the configured ones (until then a
    /// record is given until the retention job erases it).
    retention: Option<RetentionPolicy>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

fn checked(field: &str, value: &str) -> Result<String, AdminError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 120 || value.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "the {field} must be 1 to 120 printable characters"
        )));
    }
    Ok(value.to_string())
}

impl Admin {
    pub fn new(storage: Arc<dyn Storage>, clock: Clock) -> Self {
        Admin {
            storage,
            clock,
            retention: None,
        }
    }

    /// The configured retention periods: station staff are given no copy
    /// of a record past its period, though the job has not erased it yet.
    pub fn with_retention(mut self, retention: RetentionPolicy) -> Self {
        self.retention = Some(retention);
        self
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    fn now(&self) -> String {
        self.clock.stamp()
    }

    pub fn officers(&self) -> Result<Vec<OfficerRow>, AdminError> {
        Ok(self.storage.officers()?)
    }

    pub fn devices(&self) -> Result<Vec<DeviceRow>, AdminError> {
        Ok(self.storage.devices()?)
    }

    /// The index of every record (never its contents).
    pub fn records(&self) -> Result<Vec<RecordIndex>, AdminError> {
        Ok(self.storage.records()?)
    }

    /// A record's history as the server received it: each change set with
    /// the server's receive time and the device it came from (never the
    /// changes themselves). The device times are inside the document; the
    /// receive times are the server's own, whatever a handset's clock said.
    pub fn record_history(&self, record_id: &str) -> Result<Vec<ChangeReceived>, AdminError> {
        let rows = self.storage.record_feed(record_id)?;
        if rows.is_empty() {
            return Err(AdminError::NotFound(format!(
                "no record {record_id} (see `admin records list`)"
            )));
        }
        Ok(rows
            .into_iter()
            .map(|row| ChangeReceived {
                seq: row.seq,
                received_at: row.received_at,
                origin_device: row.origin_device,
                bytes: row.changes.len() as u64,
                erased: row.erased,
            })
            .collect())
    }

    pub fn legal_holds(&self) -> Result<Vec<LegalHold>, AdminError> {
        Ok(self.storage.legal_holds()?)
    }

    /// Audit events matching the query, oldest first; an action that is
    /// not one of [`Action::ALL`] is refused rather than matching nothing.
    pub fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, AdminError> {
        if let Some(action) = &query.action
            && !Action::ALL.iter().any(|a| a.as_str() == action)
        {
            let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            return Err(AdminError::Invalid(format!(
                "unknown action {action:?}; one of: {}",
                known.join(", ")
            )));
        }
        Ok(self.storage.audit_events(query)?)
    }

    /// Walks the whole hash chain.
    pub fn verify_audit(&self) -> Result<Verification, AdminError> {
        Ok(audit::verify(self.storage.as_ref())?)
    }

    /// A member of station staff looks for a person's records (audited).
    pub fn find_copies(
        &self,
        staff_member: &str,
        date: chrono::NaiveDate,
        place: Option<&str>,
        officer: Option<&str>,
    ) -> Result<Vec<RecordMatch>, AdminError> {
        Ok(staff::find_for_person(
            self.storage.as_ref(),
            self.retention.as_ref(),
            self.clock.now(),
            staff_member,
            date,
            place,
            officer,
        )?)
    }

    /// A member of station staff issues a copy of one record (audited).
    pub fn issue_copy(
        &self,
        staff_member: &str,
        record_id: &str,
    ) -> Result<RecordCopy, AdminError> {
        Ok(staff::issue_copy(
            self.storage.as_ref(),
            self.retention.as_ref(),
            self.clock.now(),
            staff_member,
            record_id,
        )?)
    }

    /// The admin's event of a state change, written in the change's own
    /// transaction.
    fn event(action: Action, detail: serde_json::Value) -> Vec<NewAuditEvent> {
        vec![audit::event(actor::ADMIN, action, None, detail)]
    }

    pub fn add_officer(
        &self,
        shoulder_number: &str,
        name: &str,
        station: &str,
        role: Role,
    ) -> Result<OfficerRow, AdminError> {
        let shoulder_number = checked("shoulder number", shoulder_number)?;
        if shoulder_number.contains(char::is_whitespace) {
            return Err(AdminError::Invalid(
                "the shoulder number may not contain spaces".into(),
            ));
        }
        let officer = OfficerRow {
            shoulder_number,
            name: checked("name", name)?,
            station: checked("station", station)?,
            role,
            active: true,
        };
        let event = Self::event(
            Action::OfficerAdded,
            json!({"officer": officer.shoulder_number, "station": officer.station, "role": officer.role.as_str()}),
        );
        self.storage
            .add_officer(&officer, &self.now(), &event)
            .map_err(|e| match e {
                StorageError::Duplicate(_) => AdminError::Conflict(format!(
                    "officer {} already exists (see `admin officer list`)",
                    officer.shoulder_number
                )),
                other => other.into(),
            })?;
        Ok(officer)
    }

    /// Marks the officer inactive and revokes every device of theirs: each
    /// is told to wipe at its next contact. Returns the revoked device ids.
    pub fn deactivate_officer(&self, shoulder_number: &str) -> Result<Vec<String>, AdminError> {
        let officer = self.storage.officer(shoulder_number)?.ok_or_else(|| {
            AdminError::NotFound(format!(
                "no officer {shoulder_number} (see `admin officer list`)"
            ))
        })?;
        if !officer.active {
            return Err(AdminError::Conflict(format!(
                "officer {shoulder_number} is already inactive"
            )));
        }
        let event = |devices: &[String]| {
            Self::event(
                Action::OfficerDeactivated,
                json!({"officer": shoulder_number, "devices_revoked": devices}),
            )
        };
        Ok(self
            .storage
            .deactivate_officer(shoulder_number, &self.now(), &event)?)
    }

    /// A one-time code for a new device of an active officer.
    pub fn issue_enrolment_code(
        &self,
        officer: &str,
        ttl_minutes: u32,
    ) -> Result<IssuedCode, AdminError> {
        if !(1..=24 * 60).contains(&ttl_minutes) {
            return Err(AdminError::Invalid(
                "a code lives 1 minute to 24 hours (--ttl-minutes 1..=1440)".into(),
            ));
        }
        match self.storage.officer(officer)? {
            Some(o) if o.active => {}
            _ => {
                return Err(AdminError::NotFound(format!(
                    "no active officer {officer}: add them first with `admin officer add`"
                )));
            }
        }
        let code = auth::new_enrolment_code();
        let canonical = auth::normalise_code(&code)
            .ok_or(AdminError::Invalid("generated an invalid code".into()))?;
        let expires = self.clock.now() + chrono::Duration::minutes(i64::from(ttl_minutes));
        let event = Self::event(
            Action::EnrolmentCodeIssued,
            json!({"officer": officer, "expires_at": expires.to_rfc3339()}),
        );
        self.storage.add_enrolment_code(
            &auth::hash(&canonical),
            officer,
            expires.timestamp(),
            &self.now(),
            &event,
        )?;
        Ok(IssuedCode {
            officer: officer.to_string(),
            code,
            expires_at: expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    fn active_device(&self, id: &str) -> Result<DeviceRow, AdminError> {
        let device = self.storage.device(id)?.ok_or_else(|| {
            AdminError::NotFound(format!("no device {id} (see `admin device list`)"))
        })?;
        if device.revoked_at.is_some() {
            return Err(AdminError::Conflict(format!(
                "device {id} is already {}",
                device.revoke_reason.map_or("revoked", RevokeReason::as_str)
            )));
        }
        Ok(device)
    }

    /// Lost or stolen: the device is cut off now and told to wipe at its
    /// next contact.
    pub fn revoke_device(&self, id: &str) -> Result<DeviceRow, AdminError> {
        let device = self.active_device(id)?;
        let event = Self::event(
            Action::DeviceRevoked,
            json!({"device": id, "officer": device.officer}),
        );
        self.storage
            .revoke_device(id, RevokeReason::Revoked, &self.now(), &event)?;
        Ok(device)
    }

    /// Handed back: at its next sync the device uploads what is pending,
    /// confirms, and wipes; its credential closes then.
    pub fn retire_device(&self, id: &str) -> Result<DeviceRow, AdminError> {
        let device = self.active_device(id)?;
        let event = Self::event(
            Action::DeviceRetireRequested,
            json!({"device": id, "officer": device.officer}),
        );
        self.storage.request_retire(id, &self.now(), &event)?;
        Ok(device)
    }
}

//! Retention's admin operations: running the job (`admin retention run`),
//! the clock it trusts (`admin retention clock`, `admin retention
//! confirm-clock`: `crate::retention::guard`), and legal holds (`admin
//! hold`). Kept apart from the people, devices, records and audit
//! operations of `admin.rs`.

use serde_json::json;

use super::{Admin, AdminError, checked};
use crate::audit::{self, Action, actor};
use crate::retention::guard::ClockState;
use crate::retention::{self, ClockStatus, RetentionPolicy, RetentionReport};
use crate::storage::{LegalHold, StorageError};

impl Admin {
    /// Runs the retention job now (or lists what it would erase). A clock
    /// too far ahead of the last trusted run erases nothing (the report
    /// says so): see [`Admin::run_retention_confirmed`].
    pub fn run_retention(
        &self,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<RetentionReport, AdminError> {
        self.retention_run(policy, dry_run, false)
    }

    /// Runs the retention job after the admin confirmed the clock is right
    /// (audited): it erases by the clock, however far it moved. A dry run
    /// lists what the confirmed run would erase and confirms nothing.
    pub fn run_retention_confirmed(
        &self,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<RetentionReport, AdminError> {
        self.retention_run(policy, dry_run, true)
    }

    fn retention_run(
        &self,
        policy: &RetentionPolicy,
        dry_run: bool,
        confirm_clock: bool,
    ) -> Result<RetentionReport, AdminError> {
        Ok(retention::run(
            self.storage.as_ref(),
            policy,
            self.clock.now(),
            actor::ADMIN,
            dry_run,
            confirm_clock,
        )?)
    }

    /// The admin confirms the clock is right (audited): it becomes the
    /// trusted reference, and the next run erases by it. Returns how the
    /// clock stood before.
    pub fn confirm_clock(&self, policy: &RetentionPolicy) -> Result<ClockState, AdminError> {
        Ok(retention::confirm_clock(
            self.storage.as_ref(),
            policy,
            self.clock.now(),
            actor::ADMIN,
        )?)
    }

    /// The clock against the trusted reference, as a run now would find it.
    pub fn retention_clock(&self, policy: &RetentionPolicy) -> Result<ClockStatus, AdminError> {
        Ok(retention::clock_status(
            self.storage.as_ref(),
            policy,
            self.clock.now(),
        )?)
    }

    /// A complaint or court case names the record: retention keeps it.
    pub fn hold(&self, record_id: &str, reason: &str) -> Result<LegalHold, AdminError> {
        let reason = checked("reason", reason)?;
        let hold = LegalHold {
            record_id: record_id.to_string(),
            reason: reason.clone(),
            set_at: self.now(),
        };
        let event = audit::event(
            actor::ADMIN,
            Action::LegalHoldSet,
            Some(record_id),
            json!({"reason": reason}),
        );
        self.storage
            .set_legal_hold(&hold, &[event])
            .map_err(|e| match e {
                StorageError::NotFound(_) => AdminError::NotFound(format!(
                    "no record {record_id} on the server (see `admin records list`)"
                )),
                other => other.into(),
            })?;
        Ok(hold)
    }

    /// Lifts a hold; retention applies again from the next run.
    pub fn release(&self, record_id: &str, reason: &str) -> Result<(), AdminError> {
        let reason = checked("reason", reason)?;
        let event = audit::event(
            actor::ADMIN,
            Action::LegalHoldReleased,
            Some(record_id),
            json!({"reason": reason}),
        );
        self.storage
            .release_legal_hold(record_id, &self.now(), &[event])
            .map_err(|e| match e {
                StorageError::NotFound(_) => AdminError::NotFound(format!(
                    "record {record_id} has no legal hold (see `admin hold list`)"
                )),
                other => other.into(),
            })
    }
}

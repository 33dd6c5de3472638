//! A member of the public gets a copy of the record of their own stop and
//! search, or stop and account, for 12 months after it (`docs/domain/retention.md`), with
//! the reference from their receipt and the date of the encounter.
//!
//! This module is the whole rule, over [`Storage`] and free of HTTP:
//!
//! - **Checks before any lookup.** A reference whose check character does
//!   not match is refused with "check the reference on your receipt"; a date
//!   that is not a date, is in the future, or is older than the retention
//!   window is refused with its own clear message. None of these depends on
//!   what is stored, so none of them tells anyone anything.
//! - **Rate limits** ([`crate::limit`], shared with enrolment). Every
//!   attempt counts against its client (a salted hash of the address, never
//!   the address): [`CLIENT_LIMIT`] an hour. Failed lookups count against
//!   the reference: after [`REFERENCE_FAILURES`] in an hour the reference is
//!   locked, even for the right date, until the oldest of them is an hour
//!   old. A refusal by a limit is itself not counted, so a limit ends an
//!   hour after the attempts that caused it. The check, the lookup and the
//!   counting run under one lock, so parallel requests from one client
//!   cannot overshoot a limit on this instance.
//! - **The uniform answer.** A wrong reference, a wrong date, an erased
//!   record and a record that never existed all give [`CopyError::NotFound`]
//!   (one status, one body), after the same storage work: one lookup by
//!   reference, one comparison of index dates, no document decoded, no
//!   tombstone read. A record past its retention period is not found from
//!   that second, though the hourly job has not erased it yet. Only a match decodes its document; the HTTP layer
//!   holds every answer until a fixed minimum time from the start of the
//!   request, so found and not found also take the same time.
//! - **Audit.** Every attempt that passes the limits appends `copy-issued`
//!   (with the record id) or `copy-refused` (with a reason code), carrying
//!   the hashed client key and, where the reference parsed, a hash of it:
//!   no address, no typed text, no record content. Refusals by a limit,
//!   and refusals past the hour's budget of single events
//!   (`limits.audited_refusals_per_hour`, however many clients there are),
//!   are counted and summarised once per window instead ([`Throttled`]),
//!   so the public cannot grow the trail without bound.
//!
//! Station staff finding a record for a person without the reference are in
//! [`staff`]; the HTML form of a copy in [`page`].

mod limits;
mod lookup;
pub mod page;
pub mod staff;
mod view;

use limits::{CLIENT, REFERENCE, reference_key};
pub use limits::{CLIENT_LIMIT, REFERENCE_FAILURES};
use lookup::{COPY_KINDS, find_by_reference, london_date_of};
pub use lookup::{check_date, check_reference, london_date};
pub use view::{
    AccountCopy, Complaints, CopyOfficer, ReceiptCopy, RecordCopy, SearchCopy, copy_of, make_copy,
};

use chrono::{DateTime, Utc};
use pocketbook_core::document::DocumentError;
use serde_json::json;

use crate::audit::{self, Action, actor};
use crate::clock::stamp;
use crate::limit::{self, Throttled};
pub use crate::limit::{WINDOW_SECS, client_key};
use crate::retention::RetentionPolicy;
use crate::storage::{Storage, StorageError};

/// Longest reference or date text looked at (a reference is 17 characters
/// with its hyphens; anything much longer is not one).
pub const MAX_FIELD_LEN: usize = 64;

/// The answer to every lookup that did not find exactly this record.
pub const NOT_FOUND_MESSAGE: &str = "We could not find a record with that reference and date. \
Check both against your receipt and try again. Records are kept for 12 months after the stop; \
if you have no receipt, or you still cannot find your record, ask at a police station.";

/// Why a copy was not given. Every message is safe to show the person.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "That reference is not right: check the reference on your receipt. It has 14 letters and numbers, for example K3F9-QW2H-M4XT-C7."
    )]
    BadReference,
    #[error("{0}")]
    BadDate(String),
    /// The uniform answer: see the module docs.
    #[error("{NOT_FOUND_MESSAGE}")]
    NotFound,
    #[error(
        "There have been too many attempts from your connection. Please try again in {} minutes, or ask at a police station.",
        minutes(*retry_after)
    )]
    ClientThrottled { retry_after: u64 },
    #[error(
        "There have been too many unsuccessful attempts with this reference, so it is locked for now. Please try again in {} minutes, or ask at a police station.",
        minutes(*retry_after)
    )]
    ReferenceLocked { retry_after: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the stored record could not be read: {0}")]
    Document(#[from] DocumentError),
}

fn minutes(seconds: u64) -> u64 {
    seconds.div_ceil(60).max(1)
}

impl CopyError {
    /// The stable code (JSON `error`, audit `reason`).
    pub fn code(&self) -> &'static str {
        match self {
            CopyError::BadReference => "bad-reference",
            CopyError::BadDate(_) => "bad-date",
            CopyError::NotFound => "not-found",
            CopyError::ClientThrottled { .. } => "too-many-attempts",
            CopyError::ReferenceLocked { .. } => "reference-locked",
            CopyError::Storage(_) | CopyError::Document(_) => "unavailable",
        }
    }

    /// Seconds until a rate limit lifts, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            CopyError::ClientThrottled { retry_after }
            | CopyError::ReferenceLocked { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The HTML form.
    Web,
    /// `POST /v1/copy`.
    Api,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Api => "api",
        }
    }
}

/// One request for a copy, as typed.
#[derive(Debug, Clone, Copy)]
pub struct CopyRequest<'a> {
    pub reference: &'a str,
    /// `YYYY-MM-DD`, the day of the stop in London.
    pub date: &'a str,
    /// From [`client_key`]: never the address itself.
    pub client: &'a str,
    pub channel: Channel,
}

/// Looks a record up for a member of the public and makes their copy, or
/// says why not. Every call is counted; every call that passes the limits
/// is audited, the others are summarised by `throttled` (see the module docs).
pub fn request_copy(
    storage: &dyn Storage,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    request: CopyRequest<'_>,
    throttled: &Throttled,
) -> Result<RecordCopy, CopyError> {
    let at = stamp(now);
    let now_unix = now.timestamp();
    let mut detail = json!({"client": request.client, "via": request.channel.as_str()});
    // A refused attempt is counted and audited in one transaction; past
    // the hour's budget of single events it is counted into the summary.
    let refuse = |error: CopyError, detail: &mut serde_json::Value, attempts: &[(&str, bool)]| {
        if !throttled.single_event(now) {
            storage.add_attempts_audited(attempts, now_unix, &at, &[])?;
            let key = detail.get("reference_key").and_then(|k| k.as_str());
            throttled.refused(
                limit::AUDIT_BUDGET,
                Action::CopyRefused,
                error.code(),
                key,
                now,
            );
            return Err(error);
        }
        detail["reason"] = json!(error.code());
        storage.add_attempts_audited(
            attempts,
            now_unix,
            &at,
            &[audit::event(
                actor::PUBLIC,
                Action::CopyRefused,
                None,
                detail.take(),
            )],
        )?;
        Err(error)
    };

    let _serial = limit::serial();
    if let Some(retry_after) = limit::check(storage, request.client, CLIENT, now_unix)? {
        let error = CopyError::ClientThrottled { retry_after };
        throttled.refused(CLIENT.name, Action::CopyRefused, error.code(), None, now);
        return Err(error);
    }

    let checked = check_reference(request.reference)
        .and_then(|reference| check_date(request.date, policy, now).map(|date| (reference, date)));
    let (reference, date) = match checked {
        Ok(checked) => checked,
        Err(error) => return refuse(error, &mut detail, &[(request.client, true)]),
    };
    let ref_key = reference_key(&reference);
    detail["reference_key"] = json!(ref_key);

    if let Some(retry_after) = limit::check(storage, &ref_key, REFERENCE, now_unix)? {
        storage.add_attempt(request.client, now_unix, true)?;
        let error = CopyError::ReferenceLocked { retry_after };
        throttled.refused(
            REFERENCE.name,
            Action::CopyRefused,
            error.code(),
            Some(&ref_key),
            now,
        );
        return Err(error);
    }

    // The same work whatever the outcome: one lookup, index dates compared.
    let found = find_by_reference(storage, &reference, date, policy, now)?;
    let attempts = [
        (request.client, found.is_none()),
        (ref_key.as_str(), found.is_none()),
    ];
    let Some(stored) = found else {
        return refuse(CopyError::NotFound, &mut detail, &attempts);
    };
    let copy = make_copy(&stored, now)?;
    detail["kind"] = json!(stored.index.kind.as_str());
    storage.add_attempts_audited(
        &attempts,
        now_unix,
        &at,
        &[audit::event(
            actor::PUBLIC,
            Action::CopyIssued,
            Some(&stored.index.id),
            detail,
        )],
    )?;
    Ok(copy)
}

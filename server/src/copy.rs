//! A member of the public gets a copy of the record of their own stop and
//! search, or stop and account, for 12 months after it (DOMAIN.md §3-4), with
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
//!   tombstone read. Only a match decodes its document; the HTTP layer
//!   holds every answer until a fixed minimum time from the start of the
//!   request, so found and not found also take the same time.
//! - **Audit.** Every attempt that passes the limits appends `copy-issued`
//!   (with the record id) or `copy-refused` (with a reason code), carrying
//!   the hashed client key and, where the reference parsed, a hash of it:
//!   no address, no typed text, no record content. Refusals by a limit are
//!   counted and summarised once per window instead ([`Throttled`]), so the
//!   public cannot grow the trail without bound.
//!
//! Station staff finding a record for a person without the reference are in
//! [`staff`]; the HTML form of a copy in [`page`].

pub mod page;
pub mod staff;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use pocketbook_core::document::{DocumentError, RecordDoc};
use pocketbook_core::model::{Receipt, Record, RecordBody, RecordKind};
use pocketbook_core::reference::Reference;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Action, actor};
use crate::clock::stamp;
use crate::limit::{self, Limit, Throttled};
pub use crate::limit::{WINDOW_SECS, client_key};
use crate::retention::RetentionPolicy;
use crate::storage::{Storage, StorageError, StoredRecord};

/// Attempts one client may make in [`WINDOW_SECS`].
pub const CLIENT_LIMIT: u32 = 20;
/// Failed lookups of one reference in [`WINDOW_SECS`] before it is locked.
pub const REFERENCE_FAILURES: u32 = 5;
/// Longest reference or date text looked at (a reference is 17 characters
/// with its hyphens; anything much longer is not one).
pub const MAX_FIELD_LEN: usize = 64;

/// The answer to every lookup that did not find exactly this record.
pub const NOT_FOUND_MESSAGE: &str = "We could not find a record with that reference and date. \
Check both against your receipt and try again. Records are kept for 12 months after the stop; \
if you have no receipt, or you still cannot find your record, ask at a police station.";

/// The kinds a member of the public may get a copy of.
const COPY_KINDS: [RecordKind; 2] = [RecordKind::StopSearch, RecordKind::StopAccount];

/// Attempts per client (every attempt counts).
const CLIENT: Limit = Limit {
    name: "copy-client",
    max: CLIENT_LIMIT,
    failed_only: false,
};
/// Failed lookups per reference.
const REFERENCE: Limit = Limit {
    name: "copy-reference",
    max: REFERENCE_FAILURES,
    failed_only: true,
};

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

/// What the person is entitled to see, as JSON (`POST /v1/copy`) and as the
/// page (`POST /copy`). Leaves out the device position (the street
/// description stands for the place), the officer's name (DOMAIN.md: name
/// *or* shoulder number; the shoulder number identifies them), and the
/// officer's working notes and conduct checklist, which are not part of
/// the record a person is given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordCopy {
    pub reference: String,
    /// `stop-search` or `stop-account`.
    pub kind: RecordKind,
    /// "Stop and search" or "Stop and account".
    pub title: String,
    /// The time recorded (RFC 3339, with its offset).
    pub datetime: String,
    /// The same time in London, readable: "Saturday 28 November 2026 at 14:05".
    pub local_time: String,
    /// The street or place description.
    pub place: String,
    pub officer: CopyOfficer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchCopy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountCopy>,
    pub receipt: ReceiptCopy,
    pub how_to_complain: Complaints,
    /// When this copy was made (RFC 3339 UTC).
    pub issued_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyOfficer {
    pub shoulder_number: String,
    pub station: String,
}

/// The search fields, by their police.uk names and texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchCopy {
    #[serde(rename = "type")]
    pub search_type: String,
    pub vehicle_registration: Option<String>,
    /// The power used.
    pub legislation: String,
    pub operation_name: Option<String>,
    pub grounds: String,
    pub object_of_search: String,
    pub outcome: String,
    pub outcome_linked_to_object_of_search: Option<bool>,
    pub removal_of_more_than_outer_clothing: bool,
    pub self_defined_ethnicity: Option<String>,
    pub officer_defined_ethnicity: Option<String>,
    pub gender: Option<String>,
    pub age_range: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountCopy {
    /// What the person was asked to account for.
    pub asked_about: String,
    pub self_defined_ethnicity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptCopy {
    /// `given`, `not given` or `not recorded`.
    pub status: String,
    /// How it was given (printed, email, text).
    pub medium: Option<String>,
    /// When it was given, or when the reason was recorded (RFC 3339).
    pub at: Option<String>,
    /// Why it could not be given at the time.
    pub reason: Option<String>,
}

/// How to comment or complain, from the Policing Pledge leaflet ("Your
/// feedback").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Complaints {
    pub feedback: String,
    pub about_an_officer: Vec<String>,
    pub oversight: String,
}

impl Complaints {
    pub fn from_leaflet() -> Self {
        Complaints {
            feedback: "If you feel we have not kept to our pledge, you can leave a comment on \
                       our website (www.met.police.uk) or phone us on 020 7230 4737. We will \
                       acknowledge your comment within 24 hours."
                .into(),
            about_an_officer: vec![
                "visit or write to your local police station;".into(),
                "contact us through someone else (for example, a lawyer or citizens advice \
                 bureau);"
                    .into(),
                "phone our Professional Standards team on 0208 785 8666 or e-mail us at \
                 complaints@met.police.uk; or"
                    .into(),
                "contact the Independent Police Complaints Commission on 0845 3002002 or \
                 through their website (www.ipcc.gov.uk)."
                    .into(),
            ],
            oversight: "Our service is overseen by the Metropolitan Police Authority: e-mail \
                        enquiries@mpa.gov.uk or write to 10 Dean Farrar Street, London, \
                        SW1H 0NY. We will investigate all complaints we receive about our staff."
                .into(),
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

/// The rate-limit and audit key of a (canonical) reference: a hash, so the
/// attempts table and the trail hold no usable reference.
fn reference_key(reference: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"pocketbook copy reference\0");
    h.update(reference.as_bytes());
    format!("ref:{}", &hex::encode(h.finalize())[..24])
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
    let refuse = |error: CopyError, detail: &mut serde_json::Value| {
        detail["reason"] = json!(error.code());
        storage.append_audit(
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
        Err(error) => {
            storage.add_attempt(request.client, now_unix, true)?;
            return refuse(error, &mut detail);
        }
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
    let found = find_by_reference(storage, &reference, date)?;
    storage.add_attempt(request.client, now_unix, found.is_none())?;
    storage.add_attempt(&ref_key, now_unix, found.is_none())?;
    let Some(stored) = found else {
        return refuse(CopyError::NotFound, &mut detail);
    };
    let copy = make_copy(&stored, now)?;
    detail["kind"] = json!(stored.index.kind.as_str());
    storage.append_audit(
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

/// The canonical reference, or [`CopyError::BadReference`] (no lookup).
pub fn check_reference(text: &str) -> Result<String, CopyError> {
    if text.len() > MAX_FIELD_LEN {
        return Err(CopyError::BadReference);
    }
    Reference::parse(text.trim())
        .map(|r| r.to_string())
        .map_err(|_| CopyError::BadReference)
}

/// The day of the stop: a real date, not in the future, and not before
/// the retention window (both in London time).
pub fn check_date(
    text: &str,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<NaiveDate, CopyError> {
    let text = text.trim();
    let date = (text.len() == 10)
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            CopyError::BadDate(
                "That is not a date we can read: give the date of the stop as year-month-day, \
                 for example 2026-11-28."
                    .into(),
            )
        })?;
    if date > london_date(now) {
        return Err(CopyError::BadDate(
            "That date is in the future: give the date of the stop as shown on your receipt."
                .into(),
        ));
    }
    if let Some(start) = policy.encounter_window_start(now)
        && date < london_date(start)
    {
        return Err(CopyError::BadDate(format!(
            "Records of a stop are kept for {} months and then erased, so there is no record \
             from that date any more.",
            policy.encounter_months
        )));
    }
    Ok(date)
}

/// The calendar day in London of an instant.
pub fn london_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// The London day of an RFC 3339 time, `None` if it is not one.
fn london_date_of(rfc3339: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| london_date(t.with_timezone(&Utc)))
}

/// The stop or account with this reference on this London day. Reads the
/// index only: whether a record exists, was erased or never was, the work
/// is this one query.
fn find_by_reference(
    storage: &dyn Storage,
    reference: &str,
    date: NaiveDate,
) -> Result<Option<StoredRecord>, StorageError> {
    Ok(storage
        .records_by_reference(reference)?
        .into_iter()
        .find(|r| {
            COPY_KINDS.contains(&r.index.kind) && london_date_of(&r.index.occurred_at) == Some(date)
        }))
}

/// Decodes a stored record and makes the copy of it.
pub fn make_copy(stored: &StoredRecord, now: DateTime<Utc>) -> Result<RecordCopy, CopyError> {
    let record = RecordDoc::load(&stored.snapshot, automerge::ActorId::random())?.record()?;
    copy_of(&record, now).ok_or(CopyError::NotFound)
}

/// The copy of a stop and search or stop and account; `None` for other kinds.
pub fn copy_of(record: &Record, now: DateTime<Utc>) -> Option<RecordCopy> {
    let header = &record.header;
    let (title, datetime, place, search, account, receipt) = match &record.body {
        RecordBody::StopSearch { search } => (
            "Stop and search",
            &search.datetime,
            &search.location.street,
            Some(SearchCopy {
                search_type: search.search_type.as_str().into(),
                vehicle_registration: search.vehicle_registration.clone(),
                legislation: search.legislation.as_str().into(),
                operation_name: search.operation_name.clone(),
                grounds: search.grounds.clone(),
                object_of_search: search.object_of_search.as_str().into(),
                outcome: search.outcome.as_str().into(),
                outcome_linked_to_object_of_search: search.outcome_linked_to_object_of_search,
                removal_of_more_than_outer_clothing: search.removal_of_more_than_outer_clothing,
                self_defined_ethnicity: search.self_defined_ethnicity.map(|e| e.as_str().into()),
                officer_defined_ethnicity: search
                    .officer_defined_ethnicity
                    .map(|e| e.as_str().into()),
                gender: search.gender.map(|g| g.as_str().into()),
                age_range: search.age_range.map(|a| a.as_str().into()),
            }),
            None,
            &search.receipt,
        ),
        RecordBody::StopAccount { account } => (
            "Stop and account",
            &account.datetime,
            &account.location.street,
            None,
            Some(AccountCopy {
                asked_about: account.asked_about.clone(),
                self_defined_ethnicity: account.self_defined_ethnicity.map(|e| e.as_str().into()),
            }),
            &account.receipt,
        ),
        RecordBody::SceneAttendance { .. } | RecordBody::HomeBurglary { .. } => return None,
    };
    Some(RecordCopy {
        reference: header.reference.clone(),
        kind: header.kind,
        title: title.into(),
        datetime: datetime.clone(),
        local_time: DateTime::parse_from_rfc3339(datetime)
            .map(|t| {
                t.with_timezone(&London)
                    .format("%A %-d %B %Y at %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| datetime.clone()),
        place: place.clone(),
        officer: CopyOfficer {
            shoulder_number: header.author.shoulder_number.clone(),
            station: header.author.station.clone(),
        },
        search,
        account,
        receipt: receipt_copy(receipt.as_ref()),
        how_to_complain: Complaints::from_leaflet(),
        issued_at: stamp(now),
    })
}

fn receipt_copy(receipt: Option<&Receipt>) -> ReceiptCopy {
    match receipt {
        Some(Receipt::Given { medium, given_at }) => ReceiptCopy {
            status: "given".into(),
            medium: Some(medium.as_str().into()),
            at: Some(given_at.clone()),
            reason: None,
        },
        Some(Receipt::NotGiven {
            reason,
            recorded_at,
        }) => ReceiptCopy {
            status: "not given".into(),
            medium: None,
            at: Some(recorded_at.clone()),
            reason: Some(reason.clone()),
        },
        None => ReceiptCopy {
            status: "not recorded".into(),
            medium: None,
            at: None,
            reason: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn dates_are_london_days_within_the_window() {
        let policy = RetentionPolicy::default();
        let now = at("2026-11-29T00:30:00Z");
        assert!(check_date("2026-11-29", &policy, now).is_ok());
        assert!(matches!(
            check_date("2026-11-30", &policy, now),
            Err(CopyError::BadDate(m)) if m.contains("future")
        ));
        assert!(matches!(
            check_date("2025-11-28", &policy, now),
            Err(CopyError::BadDate(m)) if m.contains("12 months")
        ));
        assert!(check_date("2025-11-29", &policy, now).is_ok());
        for bad in ["", "29/11/2026", "2026-02-30", "2026-1-5", "tomorrow"] {
            assert!(
                matches!(check_date(bad, &policy, now), Err(CopyError::BadDate(_))),
                "{bad}"
            );
        }
        // 23:30 UTC on 30 June is already 1 July in London (summer time).
        assert_eq!(
            london_date(at("2026-06-30T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
        );
    }

    #[test]
    fn references_are_checked_without_a_lookup() {
        let good = Reference::generate().to_string();
        assert_eq!(check_reference(&good.to_lowercase()).unwrap(), good);
        let mut typo: Vec<char> = good.chars().collect();
        typo[0] = if typo[0] == '1' { '2' } else { '1' };
        let typo: String = typo.into_iter().collect();
        assert!(matches!(
            check_reference(&typo),
            Err(CopyError::BadReference)
        ));
        assert!(matches!(
            check_reference(&"A".repeat(500)),
            Err(CopyError::BadReference)
        ));
    }
}

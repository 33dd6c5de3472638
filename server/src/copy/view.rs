//! What a person is given: the copy of their stop and search or stop and
//! account, made from the decoded record, with the complaints leaflet
//! text. Only what the person is entitled to see is in it.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::{Receipt, Record, RecordBody, RecordKind};
use serde::Serialize;

use super::CopyError;
use crate::clock::stamp;
use crate::storage::StoredRecord;

/// What the person is entitled to see, as JSON (`POST /v1/copy`) and as the
/// page (`POST /copy`). Leaves out the device position (the street
/// description stands for the place), the officer's name (`docs/domain/stop-and-search.md`: name
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
        datetime: datetime.to_string(),
        local_time: DateTime::parse_from_rfc3339(datetime)
            .map(|t| {
                t.with_timezone(&London)
                    .format("%A %-d %B %Y at %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| datetime.to_string()),
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
            at: Some(given_at.to_string()),
            reason: None,
        },
        Some(Receipt::NotGiven {
            reason,
            recorded_at,
        }) => ReceiptCopy {
            status: "not given".into(),
            medium: None,
            at: Some(recorded_at.to_string()),
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

//! `POST /v1/enrol`: a device redeems a one-time code for its token.
//!
//! The body is at most [`super::BodyLimit::ENROL`]. Refused codes count against
//! the client ([`ENROL_CLIENT`], the same per-client mechanism as the
//! public copy, [`crate::limit`]): past the limit, attempts get 429 with
//! `Retry-After` and are summarised in the audit trail instead of written
//! one by one; so are refusals past the hour's budget of single events
//! (`limits.audited_refusals_per_hour`, shared with the copy door).
//! Successful enrolments do not count, so a station enrolling many
//! devices from one address is not held up.
//!
//! A device whose notebook already belongs to an officer names them
//! (`notebook_officer`); a code issued for anyone else is refused with 409
//! inside the code's transaction, so it stays unspent and no device is
//! registered that nobody holds the token of.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use pocketbook_core::model::{Officer, Violations, validate_shoulder_number};
use pocketbook_core::sync::wire::{Access, EnrolRequest, EnrolResponse};
use serde_json::json;

use super::body::DeviceJson;
use super::edge::ClientAddr;
use super::{AppState, HttpError, blocking};
use crate::audit::{self, Action, actor};
use crate::auth;
use crate::limit::{self, Limit};
use crate::storage::{DeviceRow, OfficerRow, StorageError};

/// Refused enrolment attempts one client may make in an hour.
pub const ENROL_CLIENT: Limit = Limit {
    name: "enrol-client",
    max: 10,
    failed_only: true,
};

/// A good code for another officer than the notebook's: the device keeps
/// its notebook, and the code stays for the right one.
fn for_another_officer() -> HttpError {
    HttpError::new(
        StatusCode::CONFLICT,
        "notebook-of-another-officer",
        "this enrolment code was issued for another officer than the one this notebook belongs to; the code was not used: enrol the right officer's notebook with it",
    )
}

/// The notebook's officer as the device sent it: empty when it sent none.
fn notebook_officer(request: &EnrolRequest) -> Result<String, HttpError> {
    let Some(number) = &request.notebook_officer else {
        return Ok(String::new());
    };
    let mut v = Violations::new();
    validate_shoulder_number(&mut v, "notebook_officer", number);
    v.finish().map_err(|_| {
        HttpError::malformed(
            "notebook_officer: the shoulder number the notebook belongs to (short, printable), or absent",
        )
    })?;
    Ok(number.clone())
}

fn refused() -> HttpError {
    HttpError::new(
        StatusCode::BAD_REQUEST,
        "enrolment-code-refused",
        "the enrolment code is unknown, already used or expired: ask an admin for a new one",
    )
}

pub async fn handle(
    State(state): State<Arc<AppState>>,
    client: Option<Extension<ClientAddr>>,
    DeviceJson { value: request, .. }: DeviceJson<EnrolRequest>,
) -> Result<Json<EnrolResponse>, HttpError> {
    let client_key = format!(
        "enrol/{}",
        state
            .salt
            .client_key(client.map(|Extension(ClientAddr(ip))| ip))
    );
    let code = auth::normalise_code(&request.code);
    let label = auth::device_label(&request.device_label).map_err(HttpError::malformed)?;
    // Checked in the code's transaction: a code for another officer stays unspent.
    let officer = notebook_officer(&request)?;
    let token = auth::new_token();
    let now = state.now();
    let device = DeviceRow {
        id: uuid::Uuid::now_v7().to_string(),
        officer,
        label,
        enrolled_at: now.to_rfc3339(),
        revoked_at: None,
        last_seen: None,
        revoke_reason: None,
        retire_requested_at: None,
    };
    let storage = state.storage.clone();
    let token_hash = auth::hash(&token);
    let device_id = device.id.clone();
    let at = crate::clock::stamp(now);
    let shared = state.clone();
    let officer = blocking(move || {
        let _serial = limit::serial();
        let now_unix = now.timestamp();
        if let Some(retry_after) =
            limit::check(storage.as_ref(), &client_key, ENROL_CLIENT, now_unix)?
        {
            shared.throttled.refused(
                ENROL_CLIENT.name,
                Action::EnrolmentRefused,
                "too-many-attempts",
                None,
                now,
            );
            return Err(HttpError::throttled(
                format!(
                    "too many refused enrolment codes from this address: try again in {} minutes, with a new code from an admin",
                    retry_after.div_ceil(60).max(1)
                ),
                retry_after,
            ));
        }
        let Some(code) = code else {
            // Not even the shape of a code: counted, not audited.
            storage.add_attempt(&client_key, now_unix, true)?;
            return Err(refused());
        };
        // The enrolment and its event are one transaction.
        let enrolled = |officer: &OfficerRow| {
            vec![audit::event(
                actor::device(&device.id),
                Action::DeviceEnrolled,
                None,
                json!({"officer": officer.shoulder_number}),
            )]
        };
        let redeemed = storage.redeem_enrolment_code(
            &auth::hash(&code),
            now.timestamp(),
            &device,
            &token_hash,
            &at,
            &enrolled,
        );
        // A refused code is counted against the address and audited: one
        // event each while refusals are few, a throttled count after (a
        // run of them is someone guessing, and a good code refused is
        // counted all the same, so codes cannot be probed for free).
        let refuse = |code: &'static str, reason: &str| -> Result<(), HttpError> {
            storage.add_attempt(&client_key, now_unix, true)?;
            if shared.throttled.single_event(now) {
                storage.append_audit(
                    &at,
                    &[audit::event(
                        actor::PUBLIC,
                        Action::EnrolmentRefused,
                        None,
                        json!({ "reason": reason }),
                    )],
                )?;
            } else {
                shared.throttled.refused(
                    limit::AUDIT_BUDGET,
                    Action::EnrolmentRefused,
                    code,
                    None,
                    now,
                );
            }
            Ok(())
        };
        match redeemed {
            Ok(officer) => Ok(officer),
            Err(StorageError::CodeForAnotherOfficer) => {
                refuse("notebook-of-another-officer", "notebook of another officer")?;
                Err(for_another_officer())
            }
            Err(StorageError::CodeRefused) => {
                refuse("code-refused", "unknown, used or expired code")?;
                Err(refused())
            }
            Err(other) => Err(other.into()),
        }
    })
    .await?;
    state.metrics.enrolments.inc();
    tracing::info!(device = %device_id, "device enrolled");
    // Answered in the request's protocol: a device of the previous
    // version reads no access (it would not check edits by it).
    let access = (request.protocol >= 2).then(|| Access {
        role: officer.role,
        station: officer.station.clone(),
    });
    Ok(Json(EnrolResponse {
        protocol: request.protocol,
        device_id,
        token,
        officer: Officer {
            shoulder_number: officer.shoulder_number,
            name: officer.name,
            station: officer.station,
        },
        access,
    }))
}

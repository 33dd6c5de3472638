//! `POST /v1/enrol`: a device redeems a one-time code for its token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pocketbook_core::model::Officer;
use pocketbook_core::sync::wire::{EnrolRequest, EnrolResponse, PROTOCOL_VERSION};
use serde_json::json;

use super::{AppState, HttpError, blocking, read_json};
use crate::audit::{self, Action, actor};
use crate::auth;
use crate::storage::{DeviceRow, OfficerRow, StorageError};

fn refused() -> HttpError {
    HttpError::new(
        StatusCode::BAD_REQUEST,
        "enrolment-code-refused",
        "the enrolment code is unknown, already used or expired: ask an admin for a new one",
    )
}

pub async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<EnrolResponse>, HttpError> {
    let (request, _) = read_json::<EnrolRequest>(&headers, body).await?;
    let code = auth::normalise_code(&request.code).ok_or_else(refused)?;
    let label: String = request.device_label.chars().take(80).collect();
    let token = auth::new_token();
    let now = state.now();
    let device = DeviceRow {
        id: uuid::Uuid::now_v7().to_string(),
        officer: String::new(),
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
    let at = crate::config::stamp(now);
    let officer = blocking(move || {
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
        match redeemed {
            Ok(officer) => Ok(officer),
            // Refusals are audited too: a run of them is someone guessing.
            Err(StorageError::CodeRefused) => {
                storage.append_audit(
                    &at,
                    &[audit::event(
                        actor::PUBLIC,
                        Action::EnrolmentRefused,
                        None,
                        json!({"reason": "unknown, used or expired code"}),
                    )],
                )?;
                Err(refused())
            }
            Err(other) => Err(other.into()),
        }
    })
    .await?;
    state.metrics.enrolments.inc();
    tracing::info!(device = %device_id, "device enrolled");
    Ok(Json(EnrolResponse {
        protocol: PROTOCOL_VERSION,
        device_id,
        token,
        officer: Officer {
            shoulder_number: officer.shoulder_number,
            name: officer.name,
            station: officer.station,
        },
    }))
}

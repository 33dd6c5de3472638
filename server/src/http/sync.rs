//! `POST /v1/sync` and `POST /v1/retire` over HTTP: read the token, then
//! the bounded request ([`DeviceJson`], only once the token is good), call [`crate::auth::authenticate`] and
//! [`crate::sync::round_trip`], encode the answer and count it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use pocketbook_core::sync::wire::{
    MAX_PUSH_BYTES, MAX_PUSH_RECORDS, MAX_RECORD_ID_LEN, RetireRequest, SUPPORTED_PROTOCOLS,
    SyncRequest, SyncResponse,
};
use serde_json::json;

use super::body::DeviceJson;
use super::{AppState, HttpError, blocking};
use crate::audit::{self, Action, actor};
use crate::auth::{self, AuthError};
use crate::metrics::{OutcomeLabels, RejectionLabels};
use crate::storage::{Principal, RevokeReason};
use crate::sync::{Arrival, CommitMode, round_trip};

/// The active device behind a bearer token, or 401; a closed device gets
/// the wipe answer (the rule is [`auth::authenticate`]).
pub async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Principal, HttpError> {
    let token = auth::bearer(headers.get(header::AUTHORIZATION))
        .ok_or_else(HttpError::unauthorised)?
        .to_string();
    let state = state.clone();
    blocking(move || {
        let now = state.now();
        auth::authenticate(
            state.storage.as_ref(),
            &token,
            now,
            &state.wipes_told,
            &state.throttled,
        )
        .map_err(|e| match e {
            AuthError::Unknown => HttpError::unauthorised(),
            AuthError::Wipe(reason) => HttpError::wipe(reason),
            AuthError::Storage(e) => e.into(),
        })
    })
    .await
}

/// `POST /v1/retire`: a device marked for handing back confirms it has
/// uploaded everything; its credential closes and it erases itself.
pub async fn retire(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<StatusCode, HttpError> {
    let principal = authenticate(&state, request.headers()).await?;
    let DeviceJson { value: request, .. } =
        DeviceJson::<RetireRequest>::from_request(request, &state).await?;
    if !SUPPORTED_PROTOCOLS.contains(&request.protocol) {
        return Err(HttpError::unsupported_protocol(request.protocol));
    }
    if principal.device.retire_requested_at.is_none() {
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            "not-retiring",
            "this device has not been marked for handing back; ask an admin (`admin device retire`)",
        ));
    }
    let storage = state.storage.clone();
    let now = crate::clock::stamp(state.now());
    blocking(move || {
        let event = audit::event(
            actor::device(&principal.device.id),
            Action::DeviceRetired,
            None,
            json!({"officer": principal.officer.shoulder_number}),
        );
        storage.revoke_device(&principal.device.id, RevokeReason::Retired, &now, &[event])?;
        Ok(())
    })
    .await?;
    tracing::info!("device retired");
    Ok(StatusCode::NO_CONTENT)
}

/// The bounds of one push, checked before any record is touched: at most
/// [`MAX_PUSH_RECORDS`] records, each id once (a repeated id would be
/// merged again and again for nothing) and a plausible id ([`plausible_id`]), and change bytes within
/// [`MAX_PUSH_BYTES`] as a device counts them: it stops adding records once
/// the total reaches the limit, so every record but the last fits under it.
fn check_push_bounds(request: &SyncRequest) -> Result<(), HttpError> {
    if request.push.len() > MAX_PUSH_RECORDS {
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("at most {MAX_PUSH_RECORDS} records per request"),
        ));
    }
    let before_last: usize = request
        .push
        .iter()
        .rev()
        .skip(1)
        .map(|p| p.changes.len())
        .sum();
    if before_last >= MAX_PUSH_BYTES {
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "at most {MAX_PUSH_BYTES} bytes of changes per request (the last record may cross it)"
            ),
        ));
    }
    if let Some(bad) = request.push.iter().find(|p| !plausible_id(&p.record_id)) {
        return Err(HttpError::malformed(format!(
            "a record id must be 1 to {MAX_RECORD_ID_LEN} printable ASCII characters without spaces (one of {} characters was not); record ids are UUIDs",
            bad.record_id.chars().count()
        )));
    }
    let mut ids = std::collections::HashSet::with_capacity(request.push.len());
    if !request
        .push
        .iter()
        .all(|p| ids.insert(p.record_id.as_str()))
    {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "a record id appears more than once in one push; send each record once",
        ));
    }
    Ok(())
}

/// Whether `id` can be a record id a device made (a UUID; anything of at
/// most [`MAX_RECORD_ID_LEN`] printable ASCII characters passes here, the
/// document's own header decides the rest). Anything else would reach the
/// store as it is: a NUL PostgreSQL refuses, escapes `admin records list`
/// would print to a terminal, an id longer than a device accepts in the
/// legal holds of every answer.
fn plausible_id(id: &str) -> bool {
    (1..=MAX_RECORD_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The endpoint: one sync round trip, counted by outcome.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Json<SyncResponse>, HttpError> {
    let result = sync(&state, request).await;
    let outcome = match &result {
        Ok(response) if response.rejected.is_empty() => "ok",
        Ok(_) => "partly-rejected",
        Err(e) => e.code(),
    };
    state
        .metrics
        .sync_requests
        .get_or_create(&OutcomeLabels {
            outcome: outcome.to_string(),
        })
        .inc();
    result.map(Json)
}

async fn sync(state: &Arc<AppState>, request: Request) -> Result<SyncResponse, HttpError> {
    let principal = authenticate(state, request.headers()).await?;
    let DeviceJson {
        value: request,
        received,
    } = DeviceJson::<SyncRequest>::from_request(request, state).await?;
    state.metrics.bytes_in.inc_by(received as u64);
    let clock = state.now();
    let now = crate::clock::stamp(clock);
    if let Err(refusal) = check_push_bounds(&request) {
        // An honest device never sends such a push: someone tried.
        let storage = state.storage.clone();
        let event = audit::event(
            actor::officer(&principal.officer.shoulder_number),
            Action::PushRefused,
            None,
            json!({"device": principal.device.id, "reason": refusal.code(), "records": request.push.len()}),
        );
        let at = now.clone();
        blocking(move || Ok(storage.append_audit(&at, &[event])?)).await?;
        return Err(refusal);
    }
    let arrival = Arrival {
        at: clock,
        stamp: now,
        retention: state.config.retention,
        // Set by the round trip from its read of the trusted reference.
        retention_now: clock,
        commit: CommitMode::configured(),
    };
    let storage = state.storage.clone();
    let trip = blocking(move || {
        Ok(round_trip(
            storage.as_ref(),
            &principal,
            &request,
            &arrival,
        )?)
    })
    .await?;
    let metrics = &state.metrics;
    metrics.records_pushed.inc_by(trip.pushed);
    for code in trip.rejections {
        metrics
            .rejections
            .get_or_create(&RejectionLabels {
                code: code.as_str(),
            })
            .inc();
    }
    metrics.records_pulled.inc_by(trip.pulled);
    metrics.bytes_out.inc_by(trip.bytes_out);
    let mut response = trip.response;
    // Pin rotation: the keys the server will move to (checked at start).
    response.next_pins = state.config.next_pins.clone();
    Ok(response)
}

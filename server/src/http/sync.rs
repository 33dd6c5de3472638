//! `POST /v1/sync`: authenticate the device, decode its bounded request,
//! merge what it pushed, and answer with acknowledgements and a feed page.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use pocketbook_core::sync::wire::{
    MAX_PUSH_RECORDS, PROTOCOL_VERSION, RejectionCode, SyncRequest, SyncResponse,
};

use super::{AppState, HttpError, blocking, decode, read_body};
use crate::auth;
use crate::metrics::RejectionLabels;
use crate::storage::Principal;
use crate::sync::{PushResult, feed_page, push_record};

/// The device behind a bearer token, or 401.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, HttpError> {
    let token =
        auth::bearer(headers.get(header::AUTHORIZATION)).ok_or_else(HttpError::unauthorised)?;
    let token_hash = auth::hash(token);
    let storage = state.storage.clone();
    let principal = blocking(move || Ok(storage.principal(&token_hash)?)).await?;
    principal.ok_or_else(HttpError::unauthorised)
}

fn code_label(code: RejectionCode) -> &'static str {
    match code {
        RejectionCode::Invalid => "invalid",
        RejectionCode::Corrupt => "corrupt",
        RejectionCode::MissingDependencies => "missing-dependencies",
        RejectionCode::Forbidden => "forbidden",
        RejectionCode::Erased => "erased",
        RejectionCode::WrongKind => "wrong-kind",
    }
}

pub async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<SyncResponse>, HttpError> {
    let principal = authenticate(&state, &headers).await?;
    let bytes = read_body(&headers, body).await?;
    state.metrics.bytes_in.inc_by(bytes.len() as u64);
    let request: SyncRequest = decode(&bytes)?;
    if request.push.len() > MAX_PUSH_RECORDS {
        return Err(HttpError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("at most {MAX_PUSH_RECORDS} records per request"),
        ));
    }
    let now = state
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let worker = state.clone();
    let response = blocking(move || {
        let storage = worker.storage.as_ref();
        storage.touch_device(&principal.device.id, &now)?;
        let mut acknowledged = Vec::new();
        let mut rejected = Vec::new();
        for push in &request.push {
            match push_record(storage, &principal, push, &now)? {
                PushResult::Accepted(ack) => {
                    worker.metrics.records_pushed.inc();
                    acknowledged.push(ack);
                }
                PushResult::Rejected(rejection) => {
                    worker
                        .metrics
                        .rejections
                        .get_or_create(&RejectionLabels {
                            code: code_label(rejection.code),
                        })
                        .inc();
                    rejected.push(rejection);
                }
            }
        }
        let page = feed_page(
            storage,
            &principal,
            request.cursor.unwrap_or(0),
            request.page_size,
        )?;
        worker
            .metrics
            .records_pulled
            .inc_by(page.entries.len() as u64);
        worker
            .metrics
            .bytes_out
            .inc_by(page.entries.iter().map(|e| e.changes.len() as u64).sum());
        Ok(SyncResponse {
            protocol: PROTOCOL_VERSION,
            acknowledged,
            rejected,
            changes: page.entries,
            cursor: page.cursor,
            more: page.more,
        })
    })
    .await?;
    Ok(Json(response))
}

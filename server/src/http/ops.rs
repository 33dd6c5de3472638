//! Endpoints for the people running the server: liveness, readiness, metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::{AppState, HttpError, blocking};

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, HttpError> {
    let storage = state.storage.clone();
    blocking(move || {
        storage
            .ping()
            .map_err(|_| HttpError::unavailable("the store is not answering"))
    })
    .await?;
    Ok("ready\n")
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

//! Endpoints for the people running the server: liveness, readiness (with
//! the retention clock's state, read from the store when asked), metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::{AppState, HttpError, blocking};
use crate::retention::{self, guard::ClockState};

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers; the second line is the retention clock
/// as a run now would find it (`crate::retention::guard`). A held clock
/// is still ready: syncs are served and only erasure waits, and a 503
/// would take every instance out of the load balancer. What it read also
/// sets the clock metrics, so an admin's confirmation shows at the next
/// check, not at the schedule's next tick. No personal data: a state, a
/// time and a number of hours.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<String, HttpError> {
    let storage = state.storage.clone();
    let policy = state.config.retention;
    let ticket = state.metrics.retention_clock_ticket();
    let now = state.now();
    let status = blocking(move || {
        let unavailable = |_| HttpError::unavailable("the store is not answering");
        storage.ping().map_err(unavailable)?;
        retention::clock_status(storage.as_ref(), &policy, now).map_err(unavailable)
    })
    .await?;
    state.metrics.show_retention_clock(ticket, &status, now);
    Ok(format!(
        "ready\nretention clock: {}\n",
        clock(&status.state)
    ))
}

/// The retention clock's state in words, with what to do about it.
fn clock(state: &ClockState) -> String {
    let words = state.in_words();
    match state {
        ClockState::Trusted => words,
        ClockState::Ahead { .. } => format!(
            "held, {words}: nothing is erased until the clock is set right or an admin confirms it (admin retention confirm-clock)"
        ),
        ClockState::Behind { .. } => format!("{words} until the clock is set right"),
    }
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

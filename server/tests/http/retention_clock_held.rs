//! While the retention job holds a clock that jumped ahead
//! (`server/src/retention/guard.rs`), through a real server: a record made
//! today is judged against its retention period by the trusted time, not
//! refused as a year old; and the readiness answer shows the held clock,
//! read from the store when asked, with the metrics brought up to date.

use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use pocketbook_core::sync::wire::RejectionCode;
use pocketbook_server::retention::RetentionPolicy;

use crate::retention_clock::moving_server;
use crate::support::*;

#[tokio::test]
async fn a_record_made_today_is_not_refused_as_too_old_while_the_clock_is_held() {
    let start = pocketbook_fixtures::station_now();
    let (server, ahead) = moving_server(start).await;
    let policy = RetentionPolicy::default();
    off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    let phone = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");

    // The server's clock jumps a year ahead; the handset's does not. By
    // the jumped clock the search (made the day before start) is past its
    // 12 months; by the trusted time it is a day old.
    ahead.store(TimeDelta::days(366).num_seconds(), Ordering::SeqCst);
    let today = new_search(&nb);
    let answer = server
        .sync(&phone, &request(None, vec![today.clone()]))
        .await;
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
    assert_eq!(answer.acknowledged.len(), 1);
    assert!(server.storage.record(&today.record_id).unwrap().is_some());

    // An admin confirms the clock: the year is real, and the normal rule
    // applies again (a record dated a year back would be erased at once).
    off_runtime(|| server.admin().confirm_clock(&policy).unwrap());
    let late = new_search(&nb);
    let answer = server.sync(&phone, &request(None, vec![late])).await;
    assert!(answer.acknowledged.is_empty());
    assert_eq!(answer.rejected.len(), 1);
    assert_eq!(answer.rejected[0].code, RejectionCode::Invalid);
    assert!(
        answer.rejected[0]
            .message
            .contains("older than the retention period"),
        "{}",
        answer.rejected[0].message
    );
}

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let answer = server.http.get(server.url(path)).send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

fn clock_lines(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("pocketbook_retention_clock"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn readiness_shows_the_held_clock_and_a_confirmation_at_once() {
    let start = pocketbook_fixtures::station_now();
    let (server, ahead) = moving_server(start).await;
    let policy = RetentionPolicy::default();
    off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    let (status, body) = get(&server, "/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body, "ready\nretention clock: trusted\n");

    // A year ahead: still ready (syncs are served; only erasure waits),
    // and the answer says the clock is held and by how much.
    ahead.store(TimeDelta::days(366).num_seconds(), Ordering::SeqCst);
    let (status, body) = get(&server, "/readyz").await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(
            "ready\nretention clock: held, 8784 hour(s) ahead of the last trusted run"
        ),
        "{body}"
    );
    assert!(body.contains("admin retention confirm-clock"), "{body}");
    let ahead_seconds = TimeDelta::days(366).num_seconds();
    let (_, metrics) = get(&server, "/metrics").await;
    assert_eq!(
        clock_lines(&metrics),
        [
            "pocketbook_retention_clock_held 1".to_string(),
            format!("pocketbook_retention_clock_ahead_seconds {ahead_seconds}"),
        ],
    );

    // Confirmed by an admin: the next readiness answer, and the metrics
    // after it, show it without waiting for the schedule's next tick.
    off_runtime(|| server.admin().confirm_clock(&policy).unwrap());
    let (status, body) = get(&server, "/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body, "ready\nretention clock: trusted\n");
    let (_, metrics) = get(&server, "/metrics").await;
    assert_eq!(
        clock_lines(&metrics),
        [
            "pocketbook_retention_clock_held 0",
            "pocketbook_retention_clock_ahead_seconds 0"
        ],
    );
}

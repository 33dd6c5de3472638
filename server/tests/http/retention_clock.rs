//! The retention job does not trust a clock that jumped
//! (`server/src/retention/guard.rs`): through a real server, the admin API
//! and the admin command line, a clock a year ahead erases nothing and
//! tells devices no later time until an admin confirms it; a schedule
//! whose clock moves normally (a long weekend of downtime included) erases
//! on time exactly as before.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use pocketbook_server::Clock;
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_server::retention::guard::ClockState;

use crate::admin::{admin_json, server as cli};
use crate::support::*;

/// A server whose clock is `start` plus the seconds in the returned cell.
pub(crate) async fn moving_server(start: DateTime<Utc>) -> (TestServer, Arc<AtomicI64>) {
    let ahead = Arc::new(AtomicI64::new(0));
    let moved = ahead.clone();
    let server = TestServer::start_with_clock(Clock::new(move || {
        start + TimeDelta::seconds(moved.load(Ordering::SeqCst))
    }))
    .await;
    (server, ahead)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_clock_a_year_ahead_erases_nothing_and_tells_devices_no_later_time_until_confirmed() {
    let start = pocketbook_fixtures::station_now();
    let (server, ahead) = moving_server(start).await;
    let policy = RetentionPolicy::default();
    // The run at start is the trusted reference (run here, not left to the
    // schedule's first tick, so the test knows when it happened).
    off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    let phone = server.device("PC1", "Lewisham").await;
    let tablet = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let search = new_search(&nb);
    let pushed = server
        .sync(&phone, &request(None, vec![search.clone()]))
        .await;
    assert_eq!(pushed.acknowledged.len(), 1);

    // The clock jumps 400 days: the search would be 13 months old.
    ahead.store(TimeDelta::days(400).num_seconds(), Ordering::SeqCst);
    let answer = server.sync(&tablet, &request(None, Vec::new())).await;
    assert_eq!(
        answer.server_time.as_deref(),
        Some(stamp(start).as_str()),
        "a device was told a time the retention job does not trust"
    );
    let sent: Vec<&str> = answer
        .changes
        .iter()
        .map(|c| c.record_id.as_str())
        .collect();
    assert_eq!(
        sent,
        [search.record_id.as_str()],
        "a record whose period is not over was held back"
    );

    for _ in 0..2 {
        let report = off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
        assert!(report.records.is_empty(), "a year's jump erased");
        assert!(report.clock.is_ahead(), "{:?}", report.clock);
    }
    assert!(server.storage.record(&search.record_id).unwrap().is_some());
    assert_eq!(
        server.audit("retention-clock-held").len(),
        1,
        "audited once"
    );
    assert!(server.audit("record-erased").is_empty());

    // An admin confirms the clock: the next run erases, and devices hear it.
    let was = off_runtime(|| server.admin().confirm_clock(&policy).unwrap());
    assert!(was.is_ahead());
    let confirmed = server.audit("retention-clock-confirmed");
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].actor, "admin");
    let report = off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    assert_eq!(report.clock, ClockState::Trusted);
    assert_eq!(report.records.len(), 1);
    let after = server
        .sync(&tablet, &request(Some(answer.cursor), Vec::new()))
        .await;
    assert!(after.changes.iter().any(|c| c.erased));
    assert_eq!(
        after.server_time.as_deref(),
        Some(stamp(start + TimeDelta::days(400)).as_str())
    );
}

#[tokio::test]
async fn a_schedule_moving_normally_erases_on_time_through_a_long_weekend_down() {
    let start = pocketbook_fixtures::station_now();
    let (server, ahead) = moving_server(start).await;
    let policy = RetentionPolicy::default();
    let phone = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let search = new_search(&nb);
    server
        .sync(&phone, &request(None, vec![search.clone()]))
        .await;
    let encounter: DateTime<Utc> = pocketbook_fixtures::instant(14, 5);
    let due = encounter
        .checked_add_months(chrono::Months::new(12))
        .unwrap();
    let run_at = |offset: TimeDelta| {
        ahead.store(offset.num_seconds(), Ordering::SeqCst);
        let report = off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
        assert_eq!(report.clock, ClockState::Trusted, "at {offset}");
        let kept = server.storage.record(&search.record_id).unwrap().is_some();
        assert_eq!(kept, start + offset <= due, "at {}", start + offset);
    };
    // Daily for most of a year, then down from a Friday evening to a
    // Tuesday morning (3 days 14 hours), then daily again.
    let mut offset = TimeDelta::zero();
    while offset < TimeDelta::days(200) {
        run_at(offset);
        offset += TimeDelta::days(1);
    }
    offset += TimeDelta::hours(86) - TimeDelta::days(1);
    while start + offset < due - TimeDelta::days(1) {
        run_at(offset);
        offset += TimeDelta::days(1);
    }
    // Every five minutes around the due time: erased at the first run after it.
    let mut at = due - TimeDelta::hours(1);
    while at < due + TimeDelta::hours(1) {
        run_at(at - start);
        at += TimeDelta::minutes(5);
    }
    assert!(server.storage.record(&search.record_id).unwrap().is_none());
    assert!(server.audit("retention-clock-held").is_empty());
    assert_eq!(server.audit("record-erased").len(), 1);
}

#[tokio::test]
async fn a_clock_set_back_erases_nothing_early_and_does_not_move_the_reference_back() {
    let start = pocketbook_fixtures::station_now();
    let (server, ahead) = moving_server(start).await;
    let policy = RetentionPolicy::default();
    off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    ahead.store(-TimeDelta::days(30).num_seconds(), Ordering::SeqCst);
    let report = off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    assert!(
        matches!(report.clock, ClockState::Behind { .. }),
        "{:?}",
        report.clock
    );
    let status = off_runtime(|| server.admin().retention_clock(&policy).unwrap());
    assert_eq!(status.reference.as_deref(), Some(stamp(start).as_str()));
    // Devices hear the earlier time: they erase later, never earlier.
    let phone = server.device("PC1", "Lewisham").await;
    let answer = server.sync(&phone, &request(None, Vec::new())).await;
    assert_eq!(
        answer.server_time.as_deref(),
        Some(stamp(start - TimeDelta::days(30)).as_str())
    );
}

/// A second instance on the same store whose clock is a year ahead: its
/// scheduled run at start erases nothing and its metrics say so.
#[tokio::test]
async fn an_instance_whose_clock_jumped_holds_and_shows_it_in_its_metrics() {
    let start = pocketbook_fixtures::station_now();
    let (first, _) = moving_server(start).await;
    let policy = RetentionPolicy::default();
    off_runtime(|| first.admin().run_retention(&policy, false).unwrap());
    let phone = first.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let search = new_search(&nb);
    first
        .sync(&phone, &request(None, vec![search.clone()]))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let jumped = start + TimeDelta::days(366);
    let second = TestServer::start_on(dir, first.storage.clone(), Clock::new(move || jumped)).await;
    let mut metrics = String::new();
    for _ in 0..400 {
        metrics = second
            .http
            .get(second.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics
            .lines()
            .any(|l| l == "pocketbook_retention_clock_held 1")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let shown: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("retention_clock"))
        .collect();
    assert!(
        shown.contains(&"pocketbook_retention_clock_held 1"),
        "{shown:?}"
    );
    let ahead = TimeDelta::days(366).num_seconds();
    assert!(
        shown.contains(&format!("pocketbook_retention_clock_ahead_seconds {ahead}").as_str()),
        "{shown:?}"
    );
    assert!(first.storage.record(&search.record_id).unwrap().is_some());
    assert_eq!(first.audit("retention-clock-held").len(), 1);
}

/// Through the command line, whose clock is the system's: a store whose
/// last trusted run was 399 days ago.
#[tokio::test]
async fn the_admin_command_line_erases_nothing_after_a_jump_until_the_clock_is_confirmed() {
    let now = Utc::now();
    let (server, _) = moving_server(now - TimeDelta::days(399)).await;
    let policy = RetentionPolicy::default();
    off_runtime(|| server.admin().run_retention(&policy, false).unwrap());
    let phone = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let encounter = pocketbook_fixtures::text(now - TimeDelta::days(400));
    let record = nb
        .create_stop_search(pocketbook_core::model::StopSearch {
            datetime: pocketbook_fixtures::time(&encounter),
            ..stop_search()
        })
        .unwrap();
    let push = pocketbook_core::sync::wire::PushedRecord {
        record_id: record.header.id.clone(),
        kind: pocketbook_core::model::RecordKind::StopSearch,
        changes: changes_of(&nb, &record.header.id),
    };
    let pushed = server.sync(&phone, &request(None, vec![push])).await;
    assert_eq!(pushed.acknowledged.len(), 1, "{:?}", pushed.rejected);
    let data = server.dir.path().to_path_buf();

    let refused = off_runtime(|| cli(&data, &["admin", "retention", "run"]));
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("admin retention confirm-clock"), "{said}");
    assert_eq!(
        off_runtime(|| admin_json(&data, &["records", "list"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let status = off_runtime(|| admin_json(&data, &["retention", "clock"]));
    assert_eq!(status["state"]["state"], "ahead", "{status}");
    assert!(status["held_at"].is_string(), "{status}");

    let confirmed = off_runtime(|| cli(&data, &["admin", "retention", "confirm-clock"]));
    assert!(confirmed.status.success(), "{confirmed:?}");
    let report = off_runtime(|| admin_json(&data, &["retention", "run"]));
    assert_eq!(report["records"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(server.audit("retention-clock-held").len(), 1);
    assert_eq!(server.audit("retention-clock-confirmed").len(), 1);
}

//! The feed holds back a record past its retention period until the job
//! erases it (`server/src/sync/feed.rs`): through a real server, a device
//! syncing between the record's due time and the job's next run does not
//! receive it, a held record still goes, and the erasure arrives once the
//! job has run.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::TimeDelta;
use pocketbook_server::Clock;
use pocketbook_server::retention::RetentionPolicy;

use crate::support::*;

/// Thirteen months and a little, in seconds: every fixture search is past
/// the default 12 months by then.
const PAST_DUE: i64 = 400 * 24 * 3600;

#[tokio::test]
async fn a_record_due_for_erasure_is_not_sent_before_the_job_and_its_erasure_is_after() {
    let ahead = Arc::new(AtomicI64::new(0));
    let moved = ahead.clone();
    let server = TestServer::start_with_clock(Clock::new(move || {
        pocketbook_fixtures::station_now() + TimeDelta::seconds(moved.load(Ordering::SeqCst))
    }))
    .await;
    let phone = server.device("PC1", "Lewisham").await;
    let tablet = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let (due, held) = (new_search(&nb), new_search(&nb));
    let pushed = server
        .sync(&phone, &request(None, vec![due.clone(), held.clone()]))
        .await;
    assert_eq!(pushed.acknowledged.len(), 2);
    off_runtime(|| server.admin().hold(&held.record_id, "complaint").unwrap());

    // Both are past their period; the job has not run since (it runs at
    // start, then hourly: here only when the test runs it). The clock moved
    // thirteen months at once: an admin confirms it is right, so the server
    // trusts it (the retention clock guard), and runs nothing.
    ahead.store(PAST_DUE, Ordering::SeqCst);
    off_runtime(|| {
        server
            .admin()
            .confirm_clock(&RetentionPolicy::default())
            .unwrap()
    });
    let first = server.sync(&tablet, &request(None, Vec::new())).await;
    let sent: Vec<&str> = first.changes.iter().map(|c| c.record_id.as_str()).collect();
    assert_eq!(sent, [held.record_id.as_str()], "only the held record goes");
    assert!(!first.more);
    // Nothing of the due record was audited as read by the tablet.
    let reads = server.audit("record-read");
    assert!(
        reads
            .iter()
            .all(|e| e.record_id.as_deref() != Some(&due.record_id)),
        "a read of a record that was not sent was audited"
    );

    let report = off_runtime(|| {
        server
            .admin()
            .run_retention(&RetentionPolicy::default(), false)
    })
    .unwrap();
    assert_eq!(report.records.len(), 1);
    let after = server
        .sync(&tablet, &request(Some(first.cursor), Vec::new()))
        .await;
    assert_eq!(after.changes.len(), 1);
    assert_eq!(after.changes[0].record_id, due.record_id);
    assert!(
        after.changes[0].erased,
        "the erasure follows through the feed"
    );
}

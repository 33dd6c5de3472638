//! An idle sync costs the same with 3 records or 100: counted storage
//! calls and rows read, never a wall-clock time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pocketbook_server::storage::*;
use pocketbook_server::{ServerConfig, Storage};

use crate::support::*;

/// Delegates to SQLite and counts what each request asks of the store.
pub(crate) struct Counting {
    pub(crate) inner: Arc<dyn Storage>,
    pub(crate) calls: AtomicU64,
    pub(crate) rows_read: AtomicU64,
}

impl Counting {
    pub(crate) fn take(&self) -> (u64, u64) {
        (
            self.calls.swap(0, Ordering::SeqCst),
            self.rows_read.swap(0, Ordering::SeqCst),
        )
    }

    fn call(&self) -> &dyn Storage {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_ref()
    }

    fn rows<T>(&self, rows: Vec<T>) -> Vec<T> {
        self.rows_read
            .fetch_add(rows.len() as u64, Ordering::SeqCst);
        rows
    }
}

impl Storage for Counting {
    fn ping(&self) -> Result<(), StorageError> {
        self.call().ping()
    }
    fn add_officer(
        &self,
        officer: &OfficerRow,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().add_officer(officer, at, audit)
    }
    fn officer(&self, number: &str) -> Result<Option<OfficerRow>, StorageError> {
        self.call().officer(number)
    }
    fn officers(&self) -> Result<Vec<OfficerRow>, StorageError> {
        Ok(self.rows(self.call().officers()?))
    }
    fn add_enrolment_code(
        &self,
        hash: &[u8],
        officer: &str,
        expires_at: i64,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call()
            .add_enrolment_code(hash, officer, expires_at, at, audit)
    }
    fn redeem_enrolment_code(
        &self,
        hash: &[u8],
        now: i64,
        device: &DeviceRow,
        token_hash: &[u8],
        at: &str,
        audit: AuditOf<'_, OfficerRow>,
    ) -> Result<OfficerRow, StorageError> {
        self.call()
            .redeem_enrolment_code(hash, now, device, token_hash, at, audit)
    }
    fn principal(&self, token_hash: &[u8]) -> Result<Option<Principal>, StorageError> {
        self.call().principal(token_hash)
    }
    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError> {
        Ok(self.rows(self.call().devices()?))
    }
    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError> {
        self.call().device(id)
    }
    fn deactivate_officer(
        &self,
        number: &str,
        at: &str,
        audit: AuditOf<'_, [String]>,
    ) -> Result<Vec<String>, StorageError> {
        self.call().deactivate_officer(number, at, audit)
    }
    fn revoke_device(
        &self,
        id: &str,
        reason: RevokeReason,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().revoke_device(id, reason, at, audit)
    }
    fn request_retire(
        &self,
        id: &str,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().request_retire(id, at, audit)
    }
    fn touch_device(&self, device_id: &str, at: &str) -> Result<(), StorageError> {
        self.call().touch_device(device_id, at)
    }
    fn record(&self, id: &str) -> Result<Option<StoredRecord>, StorageError> {
        self.call().record(id)
    }
    fn commit_record(&self, commit: &RecordCommit) -> Result<u64, StorageError> {
        self.call().commit_record(commit)
    }
    fn commit_records(
        &self,
        commits: &[RecordCommit],
    ) -> Result<Vec<Result<u64, StorageError>>, StorageError> {
        self.call().commit_records(commits)
    }
    fn records(&self) -> Result<Vec<RecordIndex>, StorageError> {
        Ok(self.rows(self.call().records()?))
    }
    fn stations_holding(
        &self,
        kinds: &[pocketbook_core::model::RecordKind],
    ) -> Result<Vec<String>, StorageError> {
        Ok(self.rows(self.call().stations_holding(kinds)?))
    }
    fn record_versions(
        &self,
        station: &str,
        kinds: &[pocketbook_core::model::RecordKind],
    ) -> Result<Vec<pocketbook_server::storage::RecordVersion>, StorageError> {
        Ok(self.rows(self.call().record_versions(station, kinds)?))
    }
    fn records_by_id(&self, ids: &[String]) -> Result<Vec<StoredRecord>, StorageError> {
        Ok(self.rows(self.call().records_by_id(ids)?))
    }
    fn feed_window(
        &self,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<FeedRow>, StorageError> {
        Ok(self.rows(self.call().feed_window(cursor, limit, max_bytes)?))
    }
    fn feed_for(
        &self,
        audience: &[Audience],
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FeedSlice, StorageError> {
        let slice = self.call().feed_for(audience, cursor, limit, max_bytes)?;
        // Every row the backend touched: index entries and feed entries.
        self.rows_read.fetch_add(slice.examined, Ordering::SeqCst);
        Ok(slice)
    }
}

impl AuditLog for Counting {
    fn append_audit(&self, at: &str, events: &[NewAuditEvent]) -> Result<(), StorageError> {
        self.call().append_audit(at, events)
    }
    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StorageError> {
        Ok(self.rows(self.call().audit_events(query)?))
    }
    fn audit_head(&self) -> Result<Option<(u64, String)>, StorageError> {
        self.call().audit_head()
    }
}

impl RetentionStore for Counting {
    fn retention_due(
        &self,
        kinds: &[pocketbook_core::model::RecordKind],
        before: &str,
        limit: u32,
    ) -> Result<Vec<RecordIndex>, StorageError> {
        Ok(self.rows(self.call().retention_due(kinds, before, limit)?))
    }
    fn erase_record(
        &self,
        id: &str,
        at: &str,
        reason: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().erase_record(id, at, reason, audit)
    }
    fn tombstone(&self, id: &str) -> Result<Option<Tombstone>, StorageError> {
        self.call().tombstone(id)
    }
    fn scrub(&self) -> Result<(), StorageError> {
        self.call().scrub()
    }
    fn set_legal_hold(
        &self,
        hold: &LegalHold,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().set_legal_hold(hold, audit)
    }
    fn release_legal_hold(
        &self,
        id: &str,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().release_legal_hold(id, at, audit)
    }
    fn legal_holds(&self) -> Result<Vec<LegalHold>, StorageError> {
        Ok(self.rows(self.call().legal_holds()?))
    }
    fn legal_holds_in(
        &self,
        audience: &[Audience],
        limit: u32,
    ) -> Result<Vec<HeldInScope>, StorageError> {
        Ok(self.rows(self.call().legal_holds_in(audience, limit)?))
    }
    fn claim_run(&self, job: &str, period: i64, at: &str) -> Result<bool, StorageError> {
        self.call().claim_run(job, period, at)
    }
    fn retention_clock(&self) -> Result<Option<RetentionClock>, StorageError> {
        self.call().retention_clock()
    }
    fn trust_clock(
        &self,
        at: &str,
        exact: bool,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call().trust_clock(at, exact, audit)
    }
    fn hold_clock(&self, at: &str, audit: &[NewAuditEvent]) -> Result<bool, StorageError> {
        self.call().hold_clock(at, audit)
    }
}

impl FiguresStore for Counting {
    fn frozen_figures(&self, month: &str) -> Result<Option<String>, StorageError> {
        self.call().frozen_figures(month)
    }
    fn freeze_figures(
        &self,
        month: &str,
        at: &str,
        body: &str,
        audit: &[NewAuditEvent],
    ) -> Result<String, StorageError> {
        self.call().freeze_figures(month, at, body, audit)
    }
}

impl CopyStore for Counting {
    fn records_by_reference(&self, reference: &str) -> Result<Vec<StoredRecord>, StorageError> {
        Ok(self.rows(self.call().records_by_reference(reference)?))
    }
    fn records_at_station(
        &self,
        station: &str,
        kinds: &[pocketbook_core::model::RecordKind],
        from: &str,
        to: &str,
    ) -> Result<Vec<StoredRecord>, StorageError> {
        Ok(self.rows(self.call().records_at_station(station, kinds, from, to)?))
    }
    fn add_attempt(&self, key: &str, at: i64, failed: bool) -> Result<(), StorageError> {
        self.call().add_attempt(key, at, failed)
    }

    fn add_attempts_audited(
        &self,
        attempts: &[(&str, bool)],
        at: i64,
        stamp: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.call()
            .add_attempts_audited(attempts, at, stamp, events)
    }
    fn attempts_since(&self, key: &str, since: i64) -> Result<(u32, u32), StorageError> {
        self.call().attempts_since(key, since)
    }
    fn nth_newest_attempt(
        &self,
        key: &str,
        since: i64,
        n: u32,
        failed_only: bool,
    ) -> Result<Option<i64>, StorageError> {
        self.call().nth_newest_attempt(key, since, n, failed_only)
    }
    fn limit_salt(&self, period: i64, fresh: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.call().limit_salt(period, fresh)
    }
    fn prune_attempts(&self, before: i64) -> Result<u64, StorageError> {
        self.call().prune_attempts(before)
    }
}

/// A second server on `plain`'s store that counts the storage calls and
/// rows its requests make: the counter, the server (keep it alive) and
/// its sync URL.
pub(crate) async fn counting_server(
    plain: &TestServer,
) -> (Arc<Counting>, pocketbook_server::RunningServer, String) {
    let counting = Arc::new(Counting {
        inner: plain.storage.clone(),
        calls: AtomicU64::new(0),
        rows_read: AtomicU64::new(0),
    });
    let config = ServerConfig::for_tests(plain.dir.path());
    let server = pocketbook_server::start_with(config, counting.clone())
        .await
        .unwrap();
    let url = format!("{}{}", server.url(), pocketbook_core::sync::wire::SYNC_PATH);
    (counting, server, url)
}

/// Storage calls and rows read by one idle sync of a device that is up to
/// date, after `records` records were pushed by another device.
async fn idle_sync_cost(records: usize) -> (u64, u64) {
    let plain = TestServer::start().await;
    let (counting, server, url) = counting_server(&plain).await;
    let writer = plain.device("PC1", "Lewisham").await;
    // The station's supervisor: receives every record, then is up to date.
    let idle = plain
        .enrol(
            "PS2",
            "Lewisham",
            pocketbook_server::scope::Role::Supervisor,
        )
        .await
        .token;
    let (_dir, nb) = notebook("PC1");
    let pushes: Vec<_> = (0..records).map(|_| new_search(&nb)).collect();
    for chunk in pushes.chunks(100) {
        plain.sync(&writer, &request(None, chunk.to_vec())).await;
    }
    // Catch up once (this also stamps last_seen), then measure an idle sync.
    let mut cursor = None;
    loop {
        let page = sync_with(
            plain.http.clone(),
            url.clone(),
            idle.clone(),
            request(cursor, vec![]),
        )
        .await;
        cursor = Some(page.cursor);
        if !page.more {
            break;
        }
    }
    counting.take();
    let page = sync_with(plain.http.clone(), url, idle, request(cursor, vec![])).await;
    assert!(page.changes.is_empty() && !page.more);
    let cost = counting.take();
    server.shutdown().await.unwrap();
    cost
}

#[tokio::test]
async fn an_idle_sync_does_not_grow_with_the_number_of_records() {
    let small = idle_sync_cost(3).await;
    let large = idle_sync_cost(100).await;
    assert_eq!(small, large);
    // One token lookup, one read of the retention clock's trusted
    // reference (the answer's server time never runs ahead of it), one
    // empty read of the feed, one read of the legal holds (the device
    // honours them offline).
    assert_eq!(small, (4, 0));
}

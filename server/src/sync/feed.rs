//! The feed as one device may see it: a bounded page after its cursor,
//! skipping what it caused, what is out of its scope and what is past its
//! retention period (due for erasure, not yet erased), with a
//! `record-read` audit event for every record of another officer's.

use chrono::{DateTime, Utc};
use pocketbook_core::sync::wire::{FeedEntry, MAX_PAGE_ENTRIES};
use serde_json::json;

use crate::audit::{self, Action, actor};
use crate::retention::{Deadlines, RetentionPolicy};
use crate::scope;
use crate::storage::{NewAuditEvent, Principal, Storage, StorageError};

/// Feed entries read per request at most, whatever the device may see,
/// so one request's cost stays bounded.
const MAX_EXAMINED: u32 = 4 * MAX_PAGE_ENTRIES;
/// Change bytes per page, roughly.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A page of the feed for one device.
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
    pub cursor: u64,
    pub more: bool,
    /// A `record-read` event for each entry of a record the device's
    /// officer did not author: appended before the page is sent.
    pub reads: Vec<NewAuditEvent>,
    /// Rows the read touched (audience index and feed entries): bounded by
    /// what the device may see, not by what others wrote.
    pub examined: u64,
}

/// The feed after `cursor` that this device may see, skipping what it
/// caused and, at `now` under `retention`, every record past its retention
/// period and not on legal hold: the job erases it at its next run (every
/// `retention.every_minutes`), and until then it goes to no device; its
/// erasure entry follows through the feed when the job runs.
///
/// The read goes through the feed's audience index
/// ([`crate::storage::Storage::feed_for`]) under the device's officer's
/// audiences ([`scope::audience`]), so it touches only entries the device
/// may see, and the scope rule is still asked of each. One request reads at
/// most [`MAX_EXAMINED`] entries and about [`PAGE_BYTES`] of changes;
/// `cursor` moves past every entry read (sent or skipped), and to the
/// feed's head when nothing more is there for the device, so an idle device
/// reads nothing twice; `more` says the device should ask again at once.
pub fn feed_page(
    storage: &dyn Storage,
    principal: &Principal,
    cursor: u64,
    page_size: Option<u32>,
    retention: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<FeedPage, StorageError> {
    page(
        storage,
        principal,
        cursor,
        page_size,
        Some(Deadlines::new(retention, now)),
    )
}

/// [`feed_page`] without the retention check, for the storage suite's
/// scope tests (their records' times are fixed, so a period would make
/// them due as the calendar moves).
#[cfg(test)]
pub(crate) fn feed_page_unchecked(
    storage: &dyn Storage,
    principal: &Principal,
    cursor: u64,
    page_size: Option<u32>,
) -> Result<FeedPage, StorageError> {
    page(storage, principal, cursor, page_size, None)
}

fn page(
    storage: &dyn Storage,
    principal: &Principal,
    cursor: u64,
    page_size: Option<u32>,
    mut deadlines: Option<Deadlines>,
) -> Result<FeedPage, StorageError> {
    let limit = page_size
        .unwrap_or(MAX_PAGE_ENTRIES)
        .clamp(1, MAX_PAGE_ENTRIES) as usize;
    let slice = storage.feed_for(
        &scope::audience(principal),
        cursor,
        MAX_EXAMINED,
        PAGE_BYTES,
    )?;
    let mut page = FeedPage {
        entries: Vec::new(),
        cursor,
        more: false,
        reads: Vec::new(),
        examined: slice.examined,
    };
    for row in slice.rows {
        if page.entries.len() >= limit {
            page.more = true;
            return Ok(page);
        }
        page.cursor = row.seq;
        if row.origin_device == principal.device.id
            || !scope::may_see(principal, scope::of_row(&row))
        {
            continue;
        }
        // Past its period and not held: the job will erase it, and its
        // erasure entry comes later in the feed.
        if let (Some(deadlines), Some(record)) = (&mut deadlines, slice.records.get(&row.record_id))
            && !record.held
            && deadlines.passed(row.kind, &record.occurred_at)
        {
            continue;
        }
        if row.author != principal.officer.shoulder_number && !row.erased {
            page.reads.push(audit::event(
                actor::officer(&principal.officer.shoulder_number),
                Action::RecordRead,
                Some(&row.record_id),
                json!({"device": principal.device.id, "seq": row.seq}),
            ));
        }
        page.entries.push(FeedEntry {
            seq: row.seq,
            record_id: row.record_id,
            kind: row.kind,
            changes: row.changes,
            erased: row.erased,
        });
    }
    // Unless a bound cut the slice, its end is the head, which is also
    // where a cursor beyond it (a restored store) is brought back to.
    page.cursor = if slice.more {
        page.cursor.max(slice.end)
    } else {
        slice.end
    };
    page.more = slice.more;
    Ok(page)
}

#[cfg(test)]
mod tests {
    //! The page's retention check on both backends (PostgreSQL when the
    //! tests have one, `storage::postgres::testdb`): the storage half, the
    //! records read beside the entries, is in the behaviour suite
    //! (`storage/suite/retention.rs`).

    use std::path::Path;

    use pocketbook_core::model::{RecordKind, RecordStatus};

    use super::*;
    use crate::identity::Role;
    use crate::storage::{
        DeviceRow, LegalHold, OfficerRow, RecordCommit, RecordIndex, postgres, sqlite,
    };

    const T: &str = "2027-01-10T00:00:00Z";

    fn principal(device: &str, number: &str, role: Role) -> Principal {
        Principal {
            device: DeviceRow {
                id: device.into(),
                officer: number.into(),
                label: "test".into(),
                enrolled_at: T.into(),
                revoked_at: None,
                last_seen: None,
                revoke_reason: None,
                retire_requested_at: None,
            },
            officer: OfficerRow {
                shoulder_number: number.into(),
                name: format!("Officer {number}"),
                station: "Lewisham".into(),
                role,
                active: true,
            },
        }
    }

    /// A record of PC1's, from its tablet, that occurred at `occurred_at`.
    fn record(id: &str, kind: RecordKind, occurred_at: &str) -> RecordCommit {
        RecordCommit {
            index: RecordIndex {
                id: id.into(),
                kind,
                reference: format!("REF-{id}"),
                author: "PC1".into(),
                station: "Lewisham".into(),
                occurred_at: occurred_at.into(),
                status: RecordStatus::Open,
                created_at: occurred_at.into(),
                updated_at: occurred_at.into(),
            },
            snapshot: id.as_bytes().to_vec(),
            new_changes: id.as_bytes().to_vec(),
            expected_version: None,
            origin_device: "pc1-tablet".into(),
            grant: Vec::new(),
            audit: Vec::new(),
        }
    }

    fn ids(page: &FeedPage) -> Vec<&str> {
        page.entries.iter().map(|e| e.record_id.as_str()).collect()
    }

    /// Between a record's due time and the job's next run the feed sends
    /// it to no device (nor audits a read of it), and moves the cursor past
    /// it; a held record, a recent one and a kind kept indefinitely still
    /// go; once the job erased it, its erasure goes. Before its due time it
    /// went as ever.
    fn due_records_wait_for_the_job(store: &dyn Storage) {
        let policy = RetentionPolicy::default();
        let now: DateTime<Utc> = T.parse().unwrap();
        let page_at = |who: &Principal, cursor: u64, size: Option<u32>, now: DateTime<Utc>| {
            feed_page(store, who, cursor, size, &policy, now).unwrap()
        };
        for (id, kind, occurred) in [
            ("due", RecordKind::StopSearch, "2026-01-01T00:00:00Z"),
            ("held", RecordKind::StopAccount, "2026-01-02T00:00:00Z"),
            ("recent", RecordKind::StopSearch, "2026-06-01T00:00:00Z"),
            ("scene", RecordKind::SceneAttendance, "2025-01-01T00:00:00Z"),
        ] {
            store.commit_record(&record(id, kind, occurred)).unwrap();
        }
        // A second entry of the due record, after the others.
        let mut again = record("due", RecordKind::StopSearch, "2026-01-01T00:00:00Z");
        again.expected_version = Some(store.record("due").unwrap().unwrap().version);
        let head = store.commit_record(&again).unwrap();
        store
            .set_legal_hold(
                &LegalHold {
                    record_id: "held".into(),
                    reason: "complaint".into(),
                    set_at: T.into(),
                },
                &[],
            )
            .unwrap();

        let phone = principal("pc1-phone", "PC1", Role::Officer);
        let sergeant = principal("ps1-phone", "PS1", Role::Supervisor);
        // Before it is due, it goes.
        let before: DateTime<Utc> = "2026-12-31T00:00:00Z".parse().unwrap();
        assert_eq!(
            ids(&page_at(&phone, 0, None, before)),
            ["due", "held", "recent", "scene", "due"]
        );

        let page = page_at(&phone, 0, None, now);
        assert_eq!(ids(&page), ["held", "recent", "scene"]);
        assert_eq!((page.cursor, page.more), (head, false));
        // Another officer's device audits the reads it got, not the record
        // it did not.
        let page = page_at(&sergeant, 0, None, now);
        assert_eq!(ids(&page), ["held", "recent", "scene"]);
        let read: Vec<_> = page.reads.iter().map(|e| e.record_id.clone()).collect();
        assert_eq!(
            read,
            [
                Some("held".into()),
                Some("recent".into()),
                Some("scene".into())
            ]
        );
        // Skipped, it still moves the cursor: a one-entry page past it.
        let page = page_at(&phone, 0, Some(1), now);
        assert_eq!(ids(&page), ["held"]);
        assert!(page.more);
        let page = page_at(&phone, page.cursor, Some(1), now);
        assert_eq!(ids(&page), ["recent"]);

        // The hold released, it waits for the job too.
        store.release_legal_hold("held", T, &[]).unwrap();
        assert_eq!(ids(&page_at(&phone, 0, None, now)), ["recent", "scene"]);

        // The job erases them: the erasures go to a device that never had
        // the records, after the cursor it holds.
        for id in ["due", "held"] {
            store.erase_record(id, T, "retention", &[]).unwrap();
        }
        let page = page_at(&phone, head, None, now);
        assert_eq!(ids(&page), ["due", "held"]);
        assert!(page.entries.iter().all(|e| e.erased));
    }

    fn on(make: impl FnOnce(&Path) -> Box<dyn Storage>) {
        let dir = tempfile::tempdir().unwrap();
        due_records_wait_for_the_job(make(dir.path()).as_ref());
    }

    #[test]
    fn due_records_wait_for_the_job_on_sqlite() {
        on(|dir| Box::new(sqlite::SqliteStorage::open(dir).unwrap()));
    }

    #[test]
    fn due_records_wait_for_the_job_on_postgres() {
        if postgres::testdb::available() {
            on(|dir| Box::new(postgres::testdb::open(dir)));
        }
    }
}

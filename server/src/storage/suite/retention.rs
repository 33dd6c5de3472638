//! Retention, legal holds and erasure: what retention may take, what a hold
//! protects, what an erasure leaves behind (a tombstone and one `erased`
//! feed entry), and that each refused change writes no audit event.

use pocketbook_core::model::RecordKind;

use super::*;

/// A record of `kind` at `station` that occurred at `occurred_at`.
pub(crate) fn record_at(id: &str, kind: RecordKind, occurred_at: &str) -> RecordCommit {
    let mut c = commit(id, None, id.as_bytes());
    c.index.kind = kind;
    c.index.occurred_at = occurred_at.into();
    c
}

fn hold(id: &str, reason: &str, at: &str) -> LegalHold {
    LegalHold {
        record_id: id.into(),
        reason: reason.into(),
        set_at: at.into(),
    }
}

fn ids(rows: &[RecordIndex]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

/// `retention_due`: only the kinds asked, strictly before the bound (in any
/// offset), oldest first, at most `limit`, never a held or erased record.
pub(crate) fn retention_due(store: &dyn Storage) {
    let stop = RecordKind::StopSearch;
    let account = RecordKind::StopAccount;
    for (id, kind, at) in [
        ("new", stop, "2026-03-01T00:00:00Z"),
        ("old", stop, "2026-01-01T00:00:00Z"),
        ("mid", stop, "2026-02-01T00:00:00Z"),
        ("acct", account, "2026-01-15T00:00:00Z"),
    ] {
        store.commit_record(&record_at(id, kind, at)).unwrap();
    }
    let due = |kinds: &[RecordKind], before: &str, limit: u32| {
        store.retention_due(kinds, before, limit).unwrap()
    };
    assert_eq!(
        ids(&due(&[stop], "2026-12-01T00:00:00Z", 10)),
        ["old", "mid", "new"]
    );
    assert_eq!(
        ids(&due(&[stop, account], "2026-12-01T00:00:00Z", 10)),
        ["old", "acct", "mid", "new"]
    );
    assert_eq!(
        ids(&due(&[stop], "2026-12-01T00:00:00Z", 2)),
        ["old", "mid"]
    );
    assert!(due(&[], "2026-12-01T00:00:00Z", 10).is_empty());
    // The bound is exclusive, and the same instant in another offset.
    assert_eq!(ids(&due(&[stop], "2026-02-01T00:00:00Z", 10)), ["old"]);
    assert_eq!(
        ids(&due(&[stop], "2026-02-01T01:00:01+01:00", 10)),
        ["old", "mid"]
    );
    assert!(due(&[stop], "2025-12-31T23:59:59Z", 10).is_empty());
    // A bound that is no time is refused, not read as "everything".
    assert!(store.retention_due(&[stop], "yesterday", 10).is_err());

    // A held record is never due; released, it is due again.
    store
        .set_legal_hold(&hold("old", "complaint", T), &[])
        .unwrap();
    assert_eq!(
        ids(&due(&[stop], "2026-12-01T00:00:00Z", 10)),
        ["mid", "new"]
    );
    // The hold does not use up the limit either.
    assert_eq!(ids(&due(&[stop], "2026-12-01T00:00:00Z", 1)), ["mid"]);
    store.release_legal_hold("old", T, &[]).unwrap();
    assert_eq!(ids(&due(&[stop], "2026-12-01T00:00:00Z", 1)), ["old"]);
    // An erased record is gone from retention's view.
    store.erase_record("old", T, "retention", &[]).unwrap();
    assert_eq!(
        ids(&due(&[stop], "2026-12-01T00:00:00Z", 10)),
        ["mid", "new"]
    );
}

/// Holds are set (once per record, a second time replacing the reason),
/// listed, released once; unknown records and absent holds are refused
/// and a refusal audits nothing. A held record cannot be erased.
pub(crate) fn legal_holds(store: &dyn Storage) {
    let set = |id: &str| {
        [crate::audit::event(
            "admin",
            Action::LegalHoldSet,
            Some(id),
            serde_json::json!({}),
        )]
    };
    let released = |id: &str| {
        [crate::audit::event(
            "admin",
            Action::LegalHoldReleased,
            Some(id),
            serde_json::json!({}),
        )]
    };
    store.commit_record(&commit("h1", None, b"h1")).unwrap();
    store.commit_record(&commit("h2", None, b"h2")).unwrap();
    assert!(store.legal_holds().unwrap().is_empty());

    assert!(matches!(
        store.set_legal_hold(&hold("nope", "complaint", T), &set("nope")),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "legal-hold-set"), 0);
    assert!(store.legal_holds().unwrap().is_empty());

    store
        .set_legal_hold(&hold("h1", "complaint", "2026-11-28T10:00:00Z"), &set("h1"))
        .unwrap();
    store
        .set_legal_hold(&hold("h2", "court", "2026-11-28T10:00:01Z"), &set("h2"))
        .unwrap();
    // Setting again replaces the reason: still one hold on h1.
    store
        .set_legal_hold(&hold("h1", "appeal", "2026-11-28T10:00:02Z"), &set("h1"))
        .unwrap();
    let mut holds = store.legal_holds().unwrap();
    holds.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    assert_eq!(
        holds,
        vec![
            hold("h1", "appeal", "2026-11-28T10:00:02Z"),
            hold("h2", "court", "2026-11-28T10:00:01Z"),
        ]
    );
    // Each placement is audited, at its own time, naming the record.
    let events = store
        .audit_events(&AuditQuery {
            action: Some("legal-hold-set".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    let placed: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.at.as_str(), e.record_id.as_deref()))
        .collect();
    assert_eq!(
        placed,
        [
            ("2026-11-28T10:00:00Z", Some("h1")),
            ("2026-11-28T10:00:01Z", Some("h2")),
            ("2026-11-28T10:00:02Z", Some("h1")),
        ]
    );

    // A held record is not erased, and the refusal leaves no trace.
    let erased = [crate::audit::event(
        "system",
        Action::RecordErased,
        Some("h1"),
        serde_json::json!({}),
    )];
    assert!(matches!(
        store.erase_record("h1", T, "retention", &erased),
        Err(StorageError::Conflict)
    ));
    assert_eq!(store.record("h1").unwrap().unwrap().snapshot, b"h1");
    assert!(store.tombstone("h1").unwrap().is_none());
    assert_eq!(events_of(store, "record-erased"), 0);

    // Release: once; a second release, or one of a record never held, is
    // refused and audits nothing.
    store
        .release_legal_hold("h1", "2026-11-28T11:00:00Z", &released("h1"))
        .unwrap();
    assert!(matches!(
        store.release_legal_hold("h1", T, &released("h1")),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.release_legal_hold("nope", T, &released("nope")),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "legal-hold-released"), 1);
    assert_eq!(
        store.legal_holds().unwrap(),
        vec![hold("h2", "court", "2026-11-28T10:00:01Z")]
    );
    // Released, the record may be erased.
    store.erase_record("h1", T, "retention", &erased).unwrap();
    assert_eq!(events_of(store, "record-erased"), 1);
}

/// Erasure removes a record whole and leaves a content-free tombstone and
/// one `erased` feed entry, later than every entry before it; a second
/// erasure and an unknown record are refused without an audit event.
pub(crate) fn erasure(store: &dyn Storage) {
    let erased = |id: &str| {
        [crate::audit::event(
            "system",
            Action::RecordErased,
            Some(id),
            serde_json::json!({"reason": "retention"}),
        )]
    };
    let mut shared = record_at("e1", RecordKind::StopAccount, "2026-01-01T00:00:00Z");
    shared.grant = vec!["PC7".into()];
    let first = store.commit_record(&shared).unwrap();
    let version = store.record("e1").unwrap().unwrap().version;
    let mut again = shared.clone();
    again.expected_version = Some(version);
    again.grant = Vec::new();
    store.commit_record(&again).unwrap();
    let kept = store.commit_record(&commit("e2", None, b"kept")).unwrap();
    assert!(store.tombstone("e1").unwrap().is_none());

    store
        .erase_record("e1", "2026-11-28T12:00:00Z", "retention", &erased("e1"))
        .unwrap();

    assert!(store.record("e1").unwrap().is_none());
    assert_eq!(
        store
            .records()
            .unwrap()
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["e2"]
    );
    assert!(store.records_by_reference("REF-e1").unwrap().is_empty());
    assert_eq!(
        store.tombstone("e1").unwrap(),
        Some(Tombstone {
            record_id: "e1".into(),
            kind: RecordKind::StopAccount,
            erased_at: "2026-11-28T12:00:00Z".into(),
            reason: "retention".into(),
            author: "PC1".into(),
            station: "Lewisham".into(),
            readers: vec!["PC7".into()],
        })
    );
    assert!(store.tombstone("e2").unwrap().is_none());
    // The one read a push makes answers what the two reads answer.
    held_as_read_apart(store, &["e1", "e2", "never"]);

    // The record's entries are gone; one `erased` entry, after every
    // earlier one, tells each device that may hold a copy (the co-attending
    // officer's too) to erase it. Other records' entries stay.
    let feed = store.feed_after(0, 100).unwrap();
    let of_e1: Vec<&FeedRow> = feed.iter().filter(|f| f.record_id == "e1").collect();
    assert_eq!(of_e1.len(), 1);
    let tomb = of_e1[0];
    assert!(tomb.erased && tomb.changes.is_empty());
    assert_eq!(tomb.kind, RecordKind::StopAccount);
    assert_eq!(
        (tomb.author.as_str(), tomb.station.as_str()),
        ("PC1", "Lewisham")
    );
    assert_eq!(tomb.readers, vec!["PC7".to_string()]);
    assert!(tomb.seq > kept && kept > first);
    assert_eq!(store.feed_after(kept, 10).unwrap(), vec![tomb.clone()]);
    assert!(feed.iter().any(|f| f.record_id == "e2" && !f.erased));

    // The erasure is audited with it, at its time.
    let events = store
        .audit_events(&AuditQuery {
            record_id: Some("e1".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "record-erased");
    assert_eq!(events[0].at, "2026-11-28T12:00:00Z");

    // Erasing again, or a record never stored, is refused: nothing audited,
    // the tombstone and the feed unchanged.
    assert!(matches!(
        store.erase_record("e1", "2026-11-29T00:00:00Z", "again", &erased("e1")),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.erase_record("never", T, "retention", &erased("never")),
        Err(StorageError::NotFound(_))
    ));
    // A push loaded before the erasure loses its compare-and-swap, and a
    // hold cannot be placed on what is gone: the record stays erased.
    assert!(matches!(
        store.commit_record(&RecordCommit {
            expected_version: Some(version + 1),
            ..again.clone()
        }),
        Err(StorageError::Conflict)
    ));
    assert!(matches!(
        store.set_legal_hold(&hold("e1", "complaint", T), &[]),
        Err(StorageError::NotFound(_))
    ));
    assert!(store.record("e1").unwrap().is_none());
    assert!(store.legal_holds().unwrap().is_empty());
    assert_eq!(events_of(store, "record-erased"), 1);
    assert_eq!(store.tombstone("e1").unwrap().unwrap().reason, "retention");
    assert!(store.tombstone("never").unwrap().is_none());
    assert_eq!(store.feed_after(0, 100).unwrap(), feed);

    // Scrubbing after the run keeps everything that was not erased.
    store.scrub().unwrap();
    store.scrub().unwrap();
    assert_eq!(store.record("e2").unwrap().unwrap().snapshot, b"kept");
    assert!(store.record("e1").unwrap().is_none());
    assert_eq!(store.feed_after(0, 100).unwrap(), feed);
    assert!(crate::audit::verify(store).unwrap().intact());
}

/// [`Storage::record_or_tombstone`] for each id is the record (its row,
/// readers and version) if [`Storage::record`] finds one, else the
/// tombstone if [`RetentionStore::tombstone`] finds one, else nothing.
pub(crate) fn held_as_read_apart(store: &dyn Storage, ids: &[&str]) {
    use crate::storage::Held;
    for id in ids {
        let held = store.record_or_tombstone(id).unwrap();
        match (
            store.record(id).unwrap(),
            store.tombstone(id).unwrap(),
            held,
        ) {
            (Some(record), _, Some(Held::Record(held))) => {
                assert_eq!(held.index, record.index, "{id}");
                assert_eq!(held.readers, record.readers, "{id}");
                assert_eq!(held.snapshot, record.snapshot, "{id}");
                assert_eq!(held.version, record.version, "{id}");
            }
            (None, Some(tombstone), Some(Held::Tombstone(held))) => {
                assert_eq!(held, tombstone, "{id}")
            }
            (None, None, None) => {}
            (record, tombstone, held) => {
                panic!("{id}: read apart {record:?} and {tombstone:?}, in one {held:?}")
            }
        }
    }
}

/// `feed_for` reads each entry's record as it is now (`FeedSlice::records`),
/// the facts the feed holds back a record past its period by
/// (`crate::sync::feed`): its encounter time as last written, its legal
/// hold as set or released since, and nothing once it is erased (its
/// entry is then the erasure, which always goes out).
pub(crate) fn feed_reads_records_now(store: &dyn Storage) {
    let pc1 = [Audience::Officer("PC1".into())];
    let read = || store.feed_for(&pc1, 0, 100, usize::MAX).unwrap();
    let now_of = |slice: &FeedSlice, id: &str| slice.records.get(id).cloned();
    let at = |occurred_at: &str, held: bool| {
        Some(RecordNow {
            occurred_at: occurred_at.into(),
            held,
        })
    };
    for (id, kind, occurred) in [
        ("old", RecordKind::StopSearch, "2025-01-01T00:00:00Z"),
        ("held", RecordKind::StopAccount, "2025-01-02T00:00:00Z"),
        ("scene", RecordKind::SceneAttendance, "2025-01-03T00:00:00Z"),
    ] {
        store.commit_record(&record_at(id, kind, occurred)).unwrap();
    }
    store
        .set_legal_hold(&hold("held", "complaint", T), &[])
        .unwrap();
    // A later edit moves the encounter: the record's time now is read.
    let version = store.record("old").unwrap().unwrap().version;
    let mut moved = record_at("old", RecordKind::StopSearch, "2025-01-05T00:00:00Z");
    moved.expected_version = Some(version);
    store.commit_record(&moved).unwrap();

    let slice = read();
    assert_eq!(slice.rows.len(), 4);
    assert_eq!(slice.records.len(), 3);
    assert_eq!(now_of(&slice, "old"), at("2025-01-05T00:00:00Z", false));
    assert_eq!(now_of(&slice, "held"), at("2025-01-02T00:00:00Z", true));
    assert_eq!(now_of(&slice, "scene"), at("2025-01-03T00:00:00Z", false));
    // Only the records of the entries read are there.
    let last = store.feed_for(&pc1, slice.rows[2].seq, 100, usize::MAX);
    assert_eq!(
        last.unwrap().records.keys().collect::<Vec<_>>(),
        ["old"],
        "the records of the entries after the cursor only"
    );

    store.release_legal_hold("held", T, &[]).unwrap();
    store
        .erase_record("old", "2026-11-28T12:00:00Z", "retention", &[])
        .unwrap();
    let slice = read();
    assert_eq!(now_of(&slice, "held"), at("2025-01-02T00:00:00Z", false));
    let erasure = slice.rows.iter().find(|r| r.record_id == "old").unwrap();
    assert!(erasure.erased);
    assert_eq!(now_of(&slice, "old"), None, "an erased record is not read");
}

//! The audit trail: appended in order, chained, verified, cut short or
//! altered detected.

use super::*;

/// Appends chain, read back in order with filters, and verify.
pub(super) fn audit_chain(store: &dyn Storage) {
    use crate::audit::{event, verify};
    let before = store.audit_head().unwrap().map_or(0, |(seq, _)| seq);
    store
        .append_audit(
            "2026-11-28T12:00:00Z",
            &[
                event(
                    "admin",
                    Action::OfficerAdded,
                    None,
                    serde_json::json!({"officer": "PC1"}),
                ),
                event(
                    "officer:PC1",
                    Action::RecordRead,
                    Some("r1"),
                    serde_json::json!({"seq": 1}),
                ),
            ],
        )
        .unwrap();
    store.append_audit("2026-11-28T12:00:01Z", &[]).unwrap();
    let all = store
        .audit_events(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(all.len() as u64, before + 2);
    assert!(
        all.windows(2)
            .all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1)
    );
    assert_eq!(
        store.audit_head().unwrap(),
        Some((all.last().unwrap().seq, all.last().unwrap().hash.clone()))
    );
    let reads = store
        .audit_events(&AuditQuery {
            action: Some("record-read".into()),
            actor: Some("officer:PC1".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].detail, serde_json::json!({"seq": 1}));
    // Paging: only events after `after_seq`, at most `limit`, oldest first.
    let page = |after_seq: u64, limit: u32| {
        store
            .audit_events(&AuditQuery {
                after_seq,
                limit,
                ..AuditQuery::default()
            })
            .unwrap()
    };
    assert_eq!(page(0, 2), all[..2]);
    assert_eq!(page(all[0].seq, 1), all[1..2]);
    assert_eq!(page(all[all.len() - 2].seq, 10), all[all.len() - 1..]);
    assert!(page(all.last().unwrap().seq, 10).is_empty());
    assert!(verify(store).unwrap().intact());
}

/// An empty store: nothing to read, no audit head; the first event starts
/// the chain from 64 zeros and becomes the head.
pub(crate) fn empty(store: &dyn Storage) {
    store.ping().unwrap();
    assert!(store.officers().unwrap().is_empty());
    assert!(store.devices().unwrap().is_empty());
    assert!(store.records().unwrap().is_empty());
    assert!(store.feed_after(0, 10).unwrap().is_empty());
    assert!(store.legal_holds().unwrap().is_empty());
    assert_eq!(store.audit_head().unwrap(), None);
    assert!(
        store
            .audit_events(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap()
            .is_empty()
    );
    store
        .append_audit(T, &[admin_event(Action::OfficerAdded, "PC1")])
        .unwrap();
    let first = store
        .audit_events(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].prev_hash, "0".repeat(64));
    assert_eq!(first[0].at, T);
    assert_eq!(
        store.audit_head().unwrap(),
        Some((first[0].seq, first[0].hash.clone()))
    );
    assert!(crate::audit::verify(store).unwrap().intact());
}

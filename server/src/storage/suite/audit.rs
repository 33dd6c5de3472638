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
    assert!(verify(store).unwrap().intact());
}

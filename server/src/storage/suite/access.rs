//! Readers granted with a commit land with it; the feed reports readers
//! as they are now.

use super::*;

/// Readers granted with a commit, and its audit events, land with it; the
/// feed reports a record's readers as they are now.
pub(super) fn access(store: &dyn Storage) {
    let mut shared = commit("r3", None, b"shared");
    // Any text a device typed survives as one reader, separators included.
    shared.grant = vec!["PC7".into(), "PC8, \"x\"".into()];
    shared.audit = vec![crate::audit::event(
        "officer:PC1",
        crate::audit::Action::RecordShared,
        Some("r3"),
        serde_json::json!({"with": ["PC7", "PC8"]}),
    )];
    let seq = store.commit_record(&shared).unwrap();
    let stored = store.record("r3").unwrap().unwrap();
    assert_eq!(
        stored.readers,
        vec!["PC7".to_string(), "PC8, \"x\"".to_string()]
    );
    let entry = store.feed_after(seq - 1, 1).unwrap().remove(0);
    assert_eq!(entry.readers, stored.readers);

    // The desk's search by day: station, kind and instant range.
    let day = |station: &str, kind: RecordKind, from: &str, to: &str| {
        store
            .records_at_station(station, &[kind], from, to)
            .unwrap()
            .len()
    };
    let (from, to) = ("2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z");
    assert_eq!(day("Lewisham", RecordKind::StopSearch, from, to), 3);
    // The same instants written with another offset.
    assert_eq!(
        day(
            "Lewisham",
            RecordKind::StopSearch,
            "2026-11-28T11:00:00+01:00",
            "2026-11-28T11:00:01+01:00"
        ),
        3
    );
    assert_eq!(
        day(
            "Lewisham",
            RecordKind::StopSearch,
            to,
            "2026-11-30T00:00:00Z"
        ),
        0
    );
    assert_eq!(day("Brixton", RecordKind::StopSearch, from, to), 0);
    assert_eq!(day("Lewisham", RecordKind::StopAccount, from, to), 0);
    let events = store
        .audit_events(&AuditQuery {
            record_id: Some("r3".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].at, "2026-11-28T10:00:00Z");

    // A commit that loses its compare-and-swap grants nothing and audits nothing.
    let mut stale = commit("r3", Some(stored.version - 1), b"stale");
    stale.grant = vec!["PC9".into()];
    stale.audit = shared.audit.clone();
    assert!(matches!(
        store.commit_record(&stale),
        Err(StorageError::Conflict)
    ));
    assert_eq!(store.record("r3").unwrap().unwrap().readers.len(), 2);
    assert_eq!(
        store
            .audit_events(&AuditQuery {
                record_id: Some("r3".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap()
            .len(),
        1
    );
}

//! Group commit (`Storage::commit_records`): the records of one push
//! committed together, a record the store refuses refusing only itself.

use super::*;

fn event(record: &str) -> NewAuditEvent {
    crate::audit::event(
        "officer:PC1",
        Action::RecordShared,
        Some(record),
        serde_json::json!({ "with": ["PC2"] }),
    )
}

/// One push of several records: accepted ones land with their readers,
/// audit events and feed entries in push order; a record whose reference
/// an earlier record of the same push took, a stale update and a second
/// creation of one record are refused alone, leaving nothing of
/// themselves; a record created earlier in the push can be updated later
/// in it. A push wholly refused, or empty, changes nothing.
pub(crate) fn grouped_commits(store: &dyn Storage) {
    assert!(store.commit_records(&[]).unwrap().is_empty());
    let first = store.commit_record(&commit("g1", None, b"one")).unwrap();

    let mut taken = commit("g3", None, b"taken");
    taken.index.reference = "REF-g2".into();
    taken.audit = vec![event("g3")];
    let mut shared = commit("g4", None, b"shared");
    shared.grant = vec!["PC2".into()];
    shared.audit = vec![event("g4")];
    let push = [
        commit("g2", None, b"two"),
        taken,
        commit("g1", Some(7), b"stale"),
        commit("g1", Some(1), b"newer"),
        commit("g1", None, b"again"),
        shared,
        commit("g5", None, b"five"),
        commit("g5", Some(1), b"five again"),
    ];
    let results = store.commit_records(&push).unwrap();
    assert_eq!(results.len(), push.len());
    assert!(matches!(results[1], Err(StorageError::Duplicate(_))));
    assert!(matches!(results[2], Err(StorageError::Conflict)));
    assert!(matches!(results[4], Err(StorageError::Conflict)));
    let seqs: Vec<u64> = [0, 3, 5, 6, 7]
        .iter()
        .map(|&i| match &results[i] {
            Ok(seq) => *seq,
            Err(e) => panic!("record {i} of the push was refused: {e}"),
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(seqs[0] > first);

    // The feed holds the accepted records, in push order, nothing else.
    let feed = store.feed_after(first, 100).unwrap();
    let entries: Vec<(u64, &str, &[u8])> = feed
        .iter()
        .map(|f| (f.seq, f.record_id.as_str(), f.changes.as_slice()))
        .collect();
    assert_eq!(
        entries,
        vec![
            (seqs[0], "g2", &b"two"[..]),
            (seqs[1], "g1", b"newer"),
            (seqs[2], "g4", b"shared"),
            (seqs[3], "g5", b"five"),
            (seqs[4], "g5", b"five again"),
        ]
    );
    assert!(store.record("g3").unwrap().is_none());
    let g1 = store.record("g1").unwrap().unwrap();
    assert_eq!((g1.snapshot.as_slice(), g1.version), (&b"newer"[..], 2));
    assert_eq!(store.record("g5").unwrap().unwrap().version, 2);
    assert_eq!(store.record("g4").unwrap().unwrap().readers, vec!["PC2"]);
    assert_eq!(feed[2].readers, vec!["PC2"]);
    // Only the accepted record's audit event was written, and the chain holds.
    let shared_events = store
        .audit_events(&AuditQuery {
            action: Some("record-shared".into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .unwrap();
    let subjects: Vec<Option<&str>> = shared_events
        .iter()
        .map(|e| e.record_id.as_deref())
        .collect();
    assert_eq!(subjects, vec![Some("g4")]);
    assert!(crate::audit::verify(store).unwrap().intact());

    // A push wholly refused leaves the feed as it was.
    let refused = store
        .commit_records(&[commit("g2", Some(9), b"stale"), commit("g2", None, b"dup")])
        .unwrap();
    assert!(
        refused
            .iter()
            .all(|r| matches!(r, Err(StorageError::Conflict)))
    );
    assert_eq!(store.feed_after(seqs[4], 10).unwrap(), vec![]);
    // And the store goes on committing after it.
    let next = store.commit_records(&[commit("g6", None, b"six")]).unwrap();
    assert!(matches!(next[0], Ok(seq) if seq > seqs[4]));
}

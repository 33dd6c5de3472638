//! A record the server refused never reached it, so it is evidence only
//! this handset holds: past its period it is kept, listed as overdue and as
//! refused, until the officer amends it and the server acknowledges it.

use super::*;

/// One sync with a server that refuses `refused` (as invalid, for good)
/// and acknowledges every other pending change.
fn sync_refusing(dir: &Path, refused: &str) {
    let mut store = Store::open(dir).unwrap();
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    let mut answer = answer(vec![]);
    answer.acknowledged = pushes
        .iter()
        .filter(|p| p.record_id != refused)
        .map(|p| Ack {
            record_id: p.record_id.clone(),
            heads: vec![],
        })
        .collect();
    answer.rejected = vec![Rejection {
        record_id: refused.into(),
        code: RejectionCode::Invalid,
        message: "datetime: too long ago for a new record".into(),
    }];
    store.apply_sync(&pushes, &answer, &mut |_| {}).unwrap();
}

#[test]
fn a_new_record_the_server_refused_stays_overdue_and_refused_until_the_officer_amends_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, scene, _) = three_synced_records(dir.path());
    let nb = Notebook::open(dir.path().display().to_string(), officer("PC1")).unwrap();
    let refused = nb.create_stop_search(stop_search()).unwrap().header;
    drop(nb);
    sync_refusing(dir.path(), &refused.id);

    // A year on, the acknowledged encounters go; the refused one never
    // reached the server, so it is evidence only this handset holds: it is
    // kept, listed as overdue and as refused, at every check, however late.
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    let nb = open(dir.path(), &clock);
    assert_eq!(
        record_ids(&nb),
        sorted(vec![refused.id.clone(), scene.clone()])
    );
    for _ in 0..2 {
        let overdue = nb.overdue_records().unwrap();
        assert_eq!(overdue.len(), 1, "{overdue:?}");
        assert_eq!(
            (overdue[0].record_id.as_str(), overdue[0].refused),
            (refused.id.as_str(), true)
        );
        assert_eq!(
            overdue[0].refusal.as_deref(),
            Some("datetime: too long ago for a new record"),
            "with the server's reason"
        );
        assert_eq!(overdue[0].reference, refused.reference);
        assert_eq!(nb.check_retention().unwrap().overdue, overdue);
        clock.advance(TimeDelta::days(400));
    }
    assert!(
        nb.list(ListFilter::default())
            .unwrap()
            .iter()
            .any(|s| s.id == refused.id && s.refused),
        "the list marks it refused too"
    );
    nb.get(refused.id.clone()).expect("kept whole");

    // The officer resolves it: an amendment (a note saying what was
    // wrong) clears the refusal and sends it again; once acknowledged it
    // goes like any other.
    nb.add_note(refused.id.clone(), "Time entered wrongly; see note".into())
        .unwrap();
    let overdue = nb.overdue_records().unwrap();
    assert_eq!(overdue.len(), 1);
    assert!(!overdue[0].refused, "waiting to be sent, no longer refused");
    assert_eq!(overdue[0].refusal, None);
    drop(nb);
    sync_with(dir.path(), answer(vec![]));
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), vec![scene]);
    assert!(nb.overdue_records().unwrap().is_empty());
}

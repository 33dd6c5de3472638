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

/// An answer in which the server says it erased `id` (a push refused as
/// erased), at `server_time`; nothing else is acknowledged.
fn erased_by_the_server(dir: &Path, id: &str, server_time: DateTime<Utc>) {
    let mut store = Store::open(dir).unwrap();
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    let mut answer = answer(vec![]);
    answer.server_time = Some(server_time.to_rfc3339());
    answer.rejected = vec![Rejection {
        record_id: id.into(),
        code: RejectionCode::Erased,
        message: "this record was erased by retention".into(),
    }];
    store.apply_sync(&pushes, &answer, &mut |_| {}).unwrap();
}

/// The server's word that it erased a record is honoured for a copy, not
/// for what may be the only one: a record it never acknowledged is kept
/// (listed as refused, with a reason naming no content) whatever time the
/// server claims; edits made here to one it acknowledged go with it once
/// it is past its period by the retention clock, not before.
#[test]
fn an_erasure_by_the_server_takes_only_what_it_held_and_only_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let (search, _, _, _) = three_synced_records(dir.path());
    let nb = Notebook::open(dir.path().display().to_string(), officer("PC1")).unwrap();
    let never_held = nb.create_stop_search(stop_search()).unwrap().header.id;
    nb.add_note(search.clone(), "added after the acknowledgement".into())
        .unwrap();
    drop(nb);
    let years_on = Utc::now() + chrono::TimeDelta::days(3 * 366);

    // Acknowledged, edited since, and not yet due: kept.
    erased_by_the_server(dir.path(), &search, Utc::now());
    let mut store = Store::open(dir.path()).unwrap();
    assert!(store.get(&search).is_ok(), "erased before its period");
    drop(store);

    // Never acknowledged: kept, whatever time the server gives.
    erased_by_the_server(dir.path(), &never_held, years_on);
    let mut store = Store::open(dir.path()).unwrap();
    assert!(store.get(&never_held).is_ok(), "the only copy is kept");
    assert_eq!(
        store.rejection(&never_held).unwrap().as_deref(),
        Some(pocketbook_core::store::KEPT_FROM_ERASURE)
    );
    drop(store);

    // Kept as refused, it is not sent again until the officer edits it;
    // pushed again past its period by the server's time, it goes, with the
    // edits.
    let nb = Notebook::open(dir.path().display().to_string(), officer("PC1")).unwrap();
    nb.add_note(search.clone(), "a second note".into()).unwrap();
    drop(nb);
    erased_by_the_server(dir.path(), &search, years_on);
    let mut store = Store::open(dir.path()).unwrap();
    assert!(store.get(&search).is_err(), "kept past its period");
    assert!(store.get(&never_held).is_ok());
}

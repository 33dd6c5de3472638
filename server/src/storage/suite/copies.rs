//! Copies: lookup by reference and by station, and the attempts that
//! rate-limit the public copy page (counted per key within a window,
//! audited with their count, pruned when old).

use pocketbook_core::model::RecordKind;

use super::retention::record_at;
use super::*;

/// A record is found by its exact reference only; the desk's search by day
/// returns a station's records oldest first, `[from, to)`.
pub(crate) fn lookups(store: &dyn Storage) {
    let stop = RecordKind::StopSearch;
    for (id, kind, station, at) in [
        ("late", stop, "Lewisham", "2026-11-28T18:00:00Z"),
        ("early", stop, "Lewisham", "2026-11-28T06:00:00Z"),
        (
            "acct",
            RecordKind::StopAccount,
            "Lewisham",
            "2026-11-28T12:00:00Z",
        ),
        ("away", stop, "Brixton", "2026-11-28T12:00:00Z"),
        ("edge", stop, "Lewisham", "2026-11-29T00:00:00Z"),
    ] {
        let mut c = record_at(id, kind, at);
        c.index.station = station.into();
        store.commit_record(&c).unwrap();
    }

    let found = store.records_by_reference("REF-early").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].index.id, "early");
    assert_eq!(found[0].snapshot, b"early");
    assert!(
        store
            .records_by_reference("REF-nothing")
            .unwrap()
            .is_empty()
    );
    // Exact: no prefix, no other case.
    assert!(store.records_by_reference("REF-").unwrap().is_empty());
    assert!(store.records_by_reference("ref-early").unwrap().is_empty());

    let day = |station: &str, kinds: &[RecordKind]| {
        store
            .records_at_station(
                station,
                kinds,
                "2026-11-28T00:00:00Z",
                "2026-11-29T00:00:00Z",
            )
            .unwrap()
            .into_iter()
            .map(|r| r.index.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(day("Lewisham", &[stop]), ["early", "late"]);
    assert_eq!(
        day("Lewisham", &[stop, RecordKind::StopAccount]),
        ["early", "acct", "late"]
    );
    assert_eq!(day("Brixton", &[stop]), ["away"]);
    assert!(day("Lewisham", &[]).is_empty());
    assert!(
        store
            .records_at_station("Lewisham", &[stop], "today", "2026-11-29T00:00:00Z")
            .is_err()
    );
}

/// Attempts are counted per key within a window (`since` inclusive), the
/// `n`-th newest is found, and pruning forgets only those before the bound.
pub(crate) fn attempts(store: &dyn Storage) {
    assert_eq!(store.attempts_since("client", 0).unwrap(), (0, 0));
    assert_eq!(
        store.nth_newest_attempt("client", 0, 1, false).unwrap(),
        None
    );
    for (at, failed) in [(100, false), (110, true), (120, false), (130, true)] {
        store.add_attempt("client", at, failed).unwrap();
    }
    store.add_attempt("other", 125, true).unwrap();

    assert_eq!(store.attempts_since("client", 0).unwrap(), (4, 2));
    assert_eq!(store.attempts_since("client", 110).unwrap(), (3, 2));
    assert_eq!(store.attempts_since("client", 111).unwrap(), (2, 1));
    assert_eq!(store.attempts_since("client", 131).unwrap(), (0, 0));
    assert_eq!(store.attempts_since("other", 0).unwrap(), (1, 1));
    assert_eq!(store.attempts_since("nobody", 0).unwrap(), (0, 0));

    let nth = |since, n, failed_only| {
        store
            .nth_newest_attempt("client", since, n, failed_only)
            .unwrap()
    };
    assert_eq!(nth(0, 1, false), Some(130));
    assert_eq!(nth(0, 2, false), Some(120));
    assert_eq!(nth(0, 4, false), Some(100));
    assert_eq!(nth(0, 5, false), None);
    assert_eq!(nth(0, 1, true), Some(130));
    assert_eq!(nth(0, 2, true), Some(110));
    assert_eq!(nth(0, 3, true), None);
    // Outside the window an attempt does not count.
    assert_eq!(nth(111, 2, true), None);
    assert_eq!(nth(110, 3, false), Some(110));
    assert_eq!(nth(111, 3, false), None);
    assert_eq!(
        store.nth_newest_attempt("other", 0, 1, false).unwrap(),
        Some(125)
    );

    // Pruning forgets attempts strictly before the bound, of every key.
    assert_eq!(store.prune_attempts(120).unwrap(), 2);
    assert_eq!(store.attempts_since("client", 0).unwrap(), (2, 1));
    assert_eq!(store.attempts_since("other", 0).unwrap(), (1, 1));
    assert_eq!(store.prune_attempts(120).unwrap(), 0);
    assert_eq!(store.prune_attempts(1_000).unwrap(), 3);
    assert_eq!(store.attempts_since("client", 0).unwrap(), (0, 0));
}

/// Audited attempts are counted, every key of them, with their events at
/// `stamp` in the same transaction.
pub(crate) fn audited_attempts(store: &dyn Storage) {
    let refused = [crate::audit::event(
        "public",
        Action::CopyRefused,
        None,
        serde_json::json!({"reason": "no-match"}),
    )];
    store
        .add_attempts_audited(
            &[("client-a", true), ("ref:REF-1", true)],
            200,
            "2026-11-28T12:00:00Z",
            &refused,
        )
        .unwrap();
    store
        .add_attempts_audited(&[("client-a", false)], 210, "2026-11-28T12:00:10Z", &[])
        .unwrap();
    assert_eq!(store.attempts_since("client-a", 0).unwrap(), (2, 1));
    assert_eq!(store.attempts_since("ref:REF-1", 0).unwrap(), (1, 1));
    assert_eq!(
        store.nth_newest_attempt("client-a", 0, 1, false).unwrap(),
        Some(210)
    );
    let events = store
        .audit_events(&AuditQuery {
            action: Some("copy-refused".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].at, "2026-11-28T12:00:00Z");
    assert_eq!(events[0].actor, "public");
    assert_eq!(events[0].detail, serde_json::json!({"reason": "no-match"}));
    assert!(crate::audit::verify(store).unwrap().intact());
}

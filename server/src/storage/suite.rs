//! The behaviour every storage backend must show. Each backend's tests call
//! [`run`] with a constructor; the PostgreSQL backend runs the same suite.

use std::path::Path;

use pocketbook_core::model::RecordKind;

use super::*;

fn officer(number: &str, station: &str) -> OfficerRow {
    OfficerRow {
        shoulder_number: number.into(),
        name: format!("Officer {number}"),
        station: station.into(),
        role: crate::identity::Role::Officer,
        active: true,
    }
}

fn device(id: &str) -> DeviceRow {
    DeviceRow {
        id: id.into(),
        officer: String::new(),
        label: "test".into(),
        enrolled_at: "2026-11-28T10:00:00Z".into(),
        revoked_at: None,
        last_seen: None,
        revoke_reason: None,
        retire_requested_at: None,
    }
}

fn commit(id: &str, version: Option<i64>, changes: &[u8]) -> RecordCommit {
    RecordCommit {
        index: RecordIndex {
            id: id.into(),
            kind: RecordKind::StopSearch,
            reference: format!("REF-{id}"),
            author: "PC1".into(),
            station: "Lewisham".into(),
            occurred_at: "2026-11-28T10:00:00Z".into(),
            status: pocketbook_core::model::RecordStatus::Open,
            created_at: "2026-11-28T10:00:00Z".into(),
            updated_at: "2026-11-28T10:00:00Z".into(),
        },
        snapshot: changes.to_vec(),
        new_changes: changes.to_vec(),
        expected_version: version,
        origin_device: "dev-1".into(),
        grant: Vec::new(),
        audit: Vec::new(),
    }
}

/// Runs every behaviour against a fresh backend made by `make`.
pub fn run(make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let store = make(dir.path());
    store.ping().unwrap();
    let none = |_: &OfficerRow| Vec::new();

    // Officers: add, read back, refuse duplicates.
    store
        .add_officer(&officer("PC1", "Lewisham"), T, &[])
        .unwrap();
    assert!(matches!(
        store.add_officer(&officer("PC1", "Lewisham"), T, &[]),
        Err(StorageError::Duplicate(_))
    ));
    assert_eq!(store.officer("PC1").unwrap().unwrap().station, "Lewisham");
    assert!(store.officer("PC9").unwrap().is_none());
    assert_eq!(store.officers().unwrap().len(), 1);

    // Enrolment codes work once, before they expire, for known officers.
    assert!(matches!(
        store.add_enrolment_code(b"code-x", "PC9", 100, T, &[]),
        Err(StorageError::NotFound(_))
    ));
    store
        .add_enrolment_code(b"code-1", "PC1", 100, T, &[])
        .unwrap();
    store
        .add_enrolment_code(b"code-2", "PC1", 100, T, &[])
        .unwrap();
    assert!(matches!(
        store.redeem_enrolment_code(b"code-2", 100, &device("d0"), b"tok-0", T, &none),
        Err(StorageError::CodeRefused)
    ));
    let who = store
        .redeem_enrolment_code(b"code-1", 50, &device("d1"), b"tok-1", T, &none)
        .unwrap();
    assert_eq!(who.shoulder_number, "PC1");
    assert!(matches!(
        store.redeem_enrolment_code(b"code-1", 51, &device("d2"), b"tok-2", T, &none),
        Err(StorageError::CodeRefused)
    ));
    assert!(matches!(
        store.redeem_enrolment_code(b"nope", 51, &device("d3"), b"tok-3", T, &none),
        Err(StorageError::CodeRefused)
    ));
    let principal = store.principal(b"tok-1").unwrap().unwrap();
    assert_eq!(principal.device.id, "d1");
    assert_eq!(principal.device.officer, "PC1");
    assert!(store.principal(b"tok-2").unwrap().is_none());
    assert_eq!(store.device("d1").unwrap().unwrap().officer, "PC1");
    assert!(store.device("d9").unwrap().is_none());
    store.touch_device("d1", "2026-11-28T11:00:00Z").unwrap();
    assert_eq!(
        store.devices().unwrap()[0].last_seen.as_deref(),
        Some("2026-11-28T11:00:00Z")
    );

    // Records: insert, compare-and-swap, conflicts, feed order.
    assert_eq!(store.feed_after(0, 10).unwrap(), vec![]);
    let first = store.commit_record(&commit("r1", None, b"one")).unwrap();
    assert!(matches!(
        store.commit_record(&commit("r1", None, b"dup")),
        Err(StorageError::Conflict)
    ));
    let stored = store.record("r1").unwrap().unwrap();
    assert_eq!(stored.snapshot, b"one");
    let second = store
        .commit_record(&commit("r1", Some(stored.version), b"two"))
        .unwrap();
    assert!(second > first);
    assert!(matches!(
        store.commit_record(&commit("r1", Some(stored.version), b"stale")),
        Err(StorageError::Conflict)
    ));
    let third = store.commit_record(&commit("r2", None, b"three")).unwrap();
    let feed = store.feed_after(0, 10).unwrap();
    let seqs: Vec<u64> = feed.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, vec![first, second, third]);
    assert_eq!(feed[1].changes, b"two");
    assert_eq!(store.feed_after(first, 1).unwrap()[0].seq, second);
    assert_eq!(store.feed_after(third, 10).unwrap(), vec![]);
    assert_eq!(store.records().unwrap().len(), 2);
    assert!(store.record("missing").unwrap().is_none());

    // Byte-bounded windows stop once the budget is spent, but never return
    // nothing while entries remain; a cursor past the end reads nothing.
    assert_eq!(store.feed_window(0, 10, 1).unwrap().len(), 1);
    assert_eq!(store.feed_window(0, 10, 4).unwrap().len(), 2);
    assert_eq!(store.feed_window(0, 2, usize::MAX).unwrap().len(), 2);
    assert!(store.feed_window(u64::MAX, 10, 100).unwrap().is_empty());

    // Writers racing on one record: compare-and-swap loses nothing, and
    // every commit gets its own feed entry in order.
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    std::thread::scope(|threads| {
        for _ in 0..WRITERS {
            threads.spawn(|| {
                for _ in 0..EACH {
                    loop {
                        let current = store.record("r2").unwrap().unwrap();
                        match store.commit_record(&commit("r2", Some(current.version), b"more")) {
                            Ok(_) => break,
                            Err(StorageError::Conflict) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let feed = store.feed_after(third, 1000).unwrap();
    assert_eq!(feed.len(), WRITERS * EACH);
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.record("r2").unwrap().unwrap().snapshot, b"more");

    // References are unique: a new record repeating one is refused whole.
    let mut twin = commit("r9", None, b"twin");
    twin.index.reference = "REF-r1".into();
    twin.audit = vec![admin_event(Action::RecordShared, "r9")];
    assert!(matches!(
        store.commit_record(&twin),
        Err(StorageError::Duplicate(_))
    ));
    assert!(store.record("r9").unwrap().is_none());
    assert_eq!(events_of(store.as_ref(), "record-shared"), 0);

    access(store.as_ref());
    devices_close(store.as_ref());
    audit_chain(store.as_ref());
}

const T: &str = "2026-11-28T10:00:00Z";

use crate::audit::Action;

fn admin_event(action: Action, subject: &str) -> NewAuditEvent {
    crate::audit::event(
        "admin",
        action,
        None,
        serde_json::json!({ "subject": subject }),
    )
}

/// How many events of this action the trail holds.
fn events_of(store: &dyn Storage, action: &str) -> usize {
    store
        .audit_events(&AuditQuery {
            action: Some(action.into()),
            limit: 10_000,
            ..AuditQuery::default()
        })
        .unwrap()
        .len()
}

/// Readers granted with a commit, and its audit events, land with it; the
/// feed reports a record's readers as they are now.
fn access(store: &dyn Storage) {
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

/// Revocation, retirement and deactivation close credentials for good; each
/// state change writes its audit events with it, and a refused change
/// writes none.
fn devices_close(store: &dyn Storage) {
    let added = |n: &[String]| vec![admin_event(Action::DeviceEnrolled, &n.join(","))];
    store
        .add_officer(
            &officer("PC5", "Lewisham"),
            T,
            &[admin_event(Action::OfficerAdded, "PC5")],
        )
        .unwrap();
    assert!(matches!(
        store.add_officer(
            &officer("PC5", "Lewisham"),
            T,
            &[admin_event(Action::OfficerAdded, "PC5")]
        ),
        Err(StorageError::Duplicate(_))
    ));
    assert_eq!(events_of(store, "officer-added"), 1);
    for (n, id) in ["d5", "d6", "d7"].iter().enumerate() {
        let code = format!("code-5{n}");
        store
            .add_enrolment_code(
                code.as_bytes(),
                "PC5",
                100,
                T,
                &[admin_event(Action::EnrolmentCodeIssued, "PC5")],
            )
            .unwrap();
        store
            .redeem_enrolment_code(
                code.as_bytes(),
                50,
                &device(id),
                format!("tok-5{n}").as_bytes(),
                T,
                &|o: &OfficerRow| added(std::slice::from_ref(&o.shoulder_number)),
            )
            .unwrap();
        // Used: refused, and nothing audited.
        assert!(matches!(
            store.redeem_enrolment_code(
                code.as_bytes(),
                50,
                &device("d-again"),
                b"tok-again",
                T,
                &|o: &OfficerRow| added(std::slice::from_ref(&o.shoulder_number)),
            ),
            Err(StorageError::CodeRefused)
        ));
    }
    assert!(matches!(
        store.add_enrolment_code(
            b"code-59",
            "PC404",
            100,
            T,
            &[admin_event(Action::EnrolmentCodeIssued, "PC404")]
        ),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "enrolment-code-issued"), 3);
    let enrolled = store
        .audit_events(&AuditQuery {
            action: Some("device-enrolled".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(enrolled.len(), 3);
    assert_eq!(enrolled[0].detail, serde_json::json!({"subject": "PC5"}));

    let revoked_event = [admin_event(Action::DeviceRevoked, "d5")];
    store
        .revoke_device("d5", RevokeReason::Revoked, "t1", &revoked_event)
        .unwrap();
    assert!(matches!(
        store.revoke_device("d5", RevokeReason::Revoked, "t2", &revoked_event),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "device-revoked"), 1);
    let d5 = store.principal(b"tok-50").unwrap().unwrap().device;
    assert_eq!(d5.revoked_at.as_deref(), Some("t1"));
    assert_eq!(d5.revoke_reason, Some(RevokeReason::Revoked));

    let retire_event = [admin_event(Action::DeviceRetireRequested, "d6")];
    store.request_retire("d6", "t3", &retire_event).unwrap();
    store.request_retire("d6", "t4", &retire_event).unwrap();
    assert_eq!(
        store
            .device("d6")
            .unwrap()
            .unwrap()
            .retire_requested_at
            .as_deref(),
        Some("t3")
    );
    assert!(matches!(
        store.request_retire("d5", "t4", &retire_event),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "device-retire-requested"), 2);

    let deactivated =
        |devices: &[String]| vec![admin_event(Action::OfficerDeactivated, &devices.join(","))];
    let revoked = store.deactivate_officer("PC5", "t5", &deactivated).unwrap();
    assert_eq!(revoked.len(), 2, "d6 and d7, not the already revoked d5");
    assert!(!store.officer("PC5").unwrap().unwrap().active);
    assert_eq!(
        store.device("d7").unwrap().unwrap().revoke_reason,
        Some(RevokeReason::OfficerDeactivated)
    );
    assert!(matches!(
        store.deactivate_officer("PC404", "t5", &deactivated),
        Err(StorageError::NotFound(_))
    ));
    let events = store
        .audit_events(&AuditQuery {
            action: Some("officer-deactivated".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail, serde_json::json!({"subject": "d6,d7"}));
}

/// Appends chain, read back in order with filters, and verify.
fn audit_chain(store: &dyn Storage) {
    use crate::audit::{Action, event, verify};
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

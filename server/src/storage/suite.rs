//! The behaviour every storage backend must show. Each backend's tests call
//! [`run`] with a constructor (`storage_suite!`): SQLite and PostgreSQL run
//! the same suite. Nothing here knows which backend it drives: checks that
//! only one backend can make (its files, its migrations) stay in that
//! backend's own tests (SQLite: `storage/sqlite/tests.rs`).
//!
//! Coverage, every trait method -> where its promises are checked:
//!
//! | Method                              | Behaviour (file::function)                            |
//! |-------------------------------------|-------------------------------------------------------|
//! | `Storage::ping`                     | `run`; `audit::empty`                                 |
//! | `add_officer`                       | `run`; `devices::devices_close` (audit, duplicate)    |
//! | `officer`, `officers`               | `run`                                                 |
//! | `deactivate_officer`                | `devices::devices_close` (codes refused after it)     |
//! | `add_enrolment_code`                | `run`; `devices::devices_close`                       |
//! | `redeem_enrolment_code`             | `run` (once, expiry); `devices::devices_close`        |
//! | `principal`, `device`, `devices`    | `run`; `devices::devices_close`                       |
//! | `revoke_device`, `request_retire`   | `devices::devices_close`                              |
//! | `touch_device`                      | `run`; `scoped::idle_syncs_do_not_write`              |
//! | `record`, `records`                 | `run`; `retention::erasure`                           |
//! | `record_or_tombstone`               | `retention::erasure` (`held_as_read_apart`)           |
//! | `commit_record`                     | `run` (CAS, races, duplicates); `access::access`      |
//! | `commit_records`                    | `grouped::grouped_commits` (refusals refuse only one) |
//! | `feed_window`, `feed_after`         | `run`; `access::access`; `retention::erasure`         |
//! | `feed_for` (the read per scope)     | `scoped::scoped_reads`; `scoped::reader_added_later`  |
//! | `feed_for`'s records now            | `retention::feed_reads_records_now` (time, hold)      |
//! | `AuditLog::append_audit`            | `audit::audit_chain`                                  |
//! | `audit_events`, `audit_head`        | `audit::audit_chain` (filters, paging); `audit::empty`|
//! | `RetentionStore::retention_due`     | `retention::retention_due`                            |
//! | `erase_record`, `tombstone`         | `retention::erasure`; `retention::legal_holds`        |
//! | `scrub`                             | `retention::erasure` (store intact after it)          |
//! | `set_legal_hold`, `legal_holds`     | `retention::legal_holds`; `retention::retention_due`  |
//! | `release_legal_hold`                | `retention::legal_holds`                              |
//! | `legal_holds_in`                    | `scoped::holds_in_scope` (audiences, limit, readers)  |
//! | `CopyStore::records_by_reference`   | `copies::lookups`; `retention::erasure`               |
//! | `records_at_station`                | `access::access`; `copies::lookups` (order)           |
//! | `stations_holding`, `record_versions`, `records_by_id` | `versions::gauge_reads`    |
//! | `add_attempt`, `attempts_since`     | `copies::attempts`                                    |
//! | `nth_newest_attempt`                | `copies::attempts`; `copies::audited_attempts`        |
//! | `prune_attempts`                    | `copies::attempts`                                    |
//! | `add_attempts_audited`              | `copies::audited_attempts`                            |
//! | `claim_run`, `limit_salt`           | `shared::runs_and_salts` (two handles racing)         |
//! | `retention_clock`, `trust_clock`, `hold_clock` | `clock::reference_shared` (two handles); `clock::jump_on_one_instance` |
//! | `FiguresStore::freeze_figures`      | `figures::frozen_once` (two handles racing, audit once)|
//! | `frozen_figures`                    | `figures::frozen_once` (after a restart too)          |
//!
//! (`run` is the first behaviour: identity, records, feed, then
//! `access`, `devices` and `audit` on the state it leaves.)
//!
//! Besides, `shared::reopened` checks every kind of state survives a
//! restart, and `shared::two_handles` that two handles on one store (two
//! instances) see each other's writes: codes used once, holds, attempts,
//! feed order and one audit chain across them; `shared::racing_handles`
//! races writers through both handles (codes won once, no attempt lost,
//! one feed entry per commit).
//!
//! A state change undone when its audit event cannot be written is
//! provoked through SQLite's own tables, so it is checked in
//! `storage/sqlite/tests.rs`; the suite checks that refused changes audit
//! nothing and accepted ones audit with the change.

use std::path::Path;

use pocketbook_core::model::RecordKind;

use super::*;
use crate::audit::Action;

mod access;
pub(crate) mod audit;
pub(crate) mod clock;
pub(crate) mod copies;
mod devices;
pub(crate) mod figures;
pub(crate) mod grouped;
pub(crate) mod retention;
pub(crate) mod scoped;
pub(crate) mod shared;
pub(crate) mod versions;

use access::access;
use audit::audit_chain;
use devices::devices_close;

/// Runs `behaviour` against a fresh, empty backend made by `make`.
pub fn fresh(behaviour: fn(&dyn Storage), make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let store = make(dir.path());
    behaviour(store.as_ref());
}

/// One test per behaviour, against the backend `$make` builds (an
/// `Fn(&Path) -> Box<dyn Storage>`), so each behaviour is counted, and
/// fails, on its own in the test output. A backend's tests invoke it once.
macro_rules! storage_suite {
    ($make:expr) => {
        $crate::storage::suite::storage_suite!($make, ready: || true);
    };
    // `$ready` says whether the backend is there to test (a database
    // server may not be); each test returns at once when it is not.
    ($make:expr, ready: $ready:expr) => {
        #[test]
        fn suite_identity_records_feed_and_audit() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::run($make)
        }
        #[test]
        fn suite_store_reopened() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::shared::reopened($make)
        }
        #[test]
        fn suite_two_handles_on_one_store() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::shared::two_handles($make)
        }
        #[test]
        fn suite_writers_racing_through_two_handles() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::shared::racing_handles($make)
        }
        #[test]
        fn suite_runs_claimed_once_and_salts_shared() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::shared::runs_and_salts($make)
        }
        #[test]
        fn suite_empty_store() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::audit::empty, $make)
        }
        #[test]
        fn suite_retention_due() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::retention::retention_due, $make)
        }
        #[test]
        fn suite_legal_holds() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::retention::legal_holds, $make)
        }
        #[test]
        fn suite_erasure_and_tombstones() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::retention::erasure, $make)
        }
        #[test]
        fn suite_feed_reads_records_now() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh(
                $crate::storage::suite::retention::feed_reads_records_now,
                $make,
            )
        }
        #[test]
        fn suite_lookups_by_reference_and_station() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::copies::lookups, $make)
        }
        #[test]
        fn suite_grouped_commits() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::grouped::grouped_commits, $make)
        }
        #[test]
        fn suite_gauge_reads_versions_and_batches() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::versions::gauge_reads, $make)
        }
        #[test]
        fn suite_copy_attempts() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::copies::attempts, $make)
        }
        #[test]
        fn suite_figures_frozen_once() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::figures::frozen_once($make)
        }
        #[test]
        fn suite_feed_read_per_scope() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::scoped::scoped_reads, $make)
        }
        #[test]
        fn suite_feed_reader_added_later() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::scoped::reader_added_later, $make)
        }
        #[test]
        fn suite_idle_syncs_do_not_write() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh(
                $crate::storage::suite::scoped::idle_syncs_do_not_write,
                $make,
            )
        }
        #[test]
        fn suite_copy_attempts_audited() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::copies::audited_attempts, $make)
        }
        #[test]
        fn suite_holds_in_scope() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::fresh($crate::storage::suite::scoped::holds_in_scope, $make)
        }
        #[test]
        fn suite_retention_clock_shared() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::clock::reference_shared($make)
        }
        #[test]
        fn suite_retention_clock_jump_on_one_instance() {
            if !($ready)() {
                return;
            }
            $crate::storage::suite::clock::jump_on_one_instance($make)
        }
    };
}
pub(crate) use storage_suite;

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

/// Runs the identity, record, feed and audit behaviours, in turn on one
/// backend made by `make` (each builds on the state the one before left).
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

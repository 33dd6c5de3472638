//! The feed read per scope (`Storage::feed_for` through
//! `crate::sync::feed_page`): a device's sync touches only the entries its
//! officer may see, however many others wrote, and still gets everything
//! the scope rule allows: its colleagues' shared records (earlier entries
//! too, for an officer added as a reader later), its station's for a
//! supervisor, the erasure of a record it held. And an idle sync writes
//! nothing: `last_seen` moves only when the stored one is old.

use super::*;
use crate::identity::Role;
use crate::sync::Arrival;
use crate::sync::feed::feed_page_unchecked as feed_page;

/// Entries written by officers the reading device may not see.
const OTHERS: usize = 10_000;
/// Rows a read may touch for the few entries the device may see here:
/// they are bounded by what it may see, never by [`OTHERS`].
const FEW: u64 = 16;

fn principal(device: &str, number: &str, station: &str, role: Role) -> Principal {
    Principal {
        device: DeviceRow {
            officer: number.into(),
            ..super::device(device)
        },
        officer: OfficerRow {
            role,
            ..officer(number, station)
        },
    }
}

fn by(id: &str, author: &str, station: &str, device: &str) -> RecordCommit {
    let mut c = commit(id, None, id.as_bytes());
    c.index.author = author.into();
    c.index.station = station.into();
    c.origin_device = device.into();
    c
}

fn ids(page: &crate::sync::FeedPage) -> Vec<&str> {
    page.entries.iter().map(|e| e.record_id.as_str()).collect()
}

fn head(store: &dyn Storage) -> u64 {
    let mut cursor = 0;
    loop {
        match store.feed_after(cursor, 5000).unwrap().last() {
            Some(last) => cursor = last.seq,
            None => return cursor,
        }
    }
}

/// A device's page after [`OTHERS`] entries of officers at another station
/// costs a handful of rows, moves its cursor to the feed's head and says
/// there is no more; read again, it costs nothing. What it may see still
/// arrives, exactly, with its `record-read` events: its officer's record
/// written on another handset; for a supervisor, the station's records
/// too; nothing it caused, nothing out of scope, nothing for staff.
pub(crate) fn scoped_reads(store: &dyn Storage) {
    let pc1 = principal("pc1-phone", "PC1", "Lewisham", Role::Officer);
    let ps1 = principal("ps1-phone", "PS1", "Lewisham", Role::Supervisor);
    let pc3 = principal("pc3-phone", "PC3", "Brixton", Role::Officer);
    let staff = principal("st1-desk", "ST1", "Lewisham", Role::Staff);

    store
        .commit_record(&by("mine", "PC1", "Lewisham", "pc1-tablet"))
        .unwrap();
    store
        .commit_record(&by("caused", "PC1", "Lewisham", "pc1-phone"))
        .unwrap();
    let others: Vec<RecordCommit> = (0..OTHERS)
        .map(|n| by(&format!("o{n}"), "PC3", "Brixton", "pc3-tablet"))
        .collect();
    for push in others.chunks(1000) {
        assert!(
            store
                .commit_records(push)
                .unwrap()
                .iter()
                .all(Result::is_ok)
        );
    }
    store
        .commit_record(&by("colleague", "PC2", "Lewisham", "pc2-phone"))
        .unwrap();
    let head = head(store);

    let page = feed_page(store, &pc1, 0, None).unwrap();
    assert_eq!(ids(&page), ["mine"], "its own, not what it caused");
    assert!(
        page.examined <= FEW,
        "a page after {OTHERS} entries of others examined {} rows",
        page.examined
    );
    assert_eq!((page.cursor, page.more), (head, false));
    assert!(page.reads.is_empty(), "its officer's own record");
    let again = feed_page(store, &pc1, page.cursor, None).unwrap();
    assert_eq!(
        (
            again.entries.len(),
            again.examined,
            again.cursor,
            again.more
        ),
        (0, 0, head, false),
        "an idle device reads nothing twice"
    );
    // A cursor beyond the head (the store was restored from a backup
    // taken before the device's last sync) is brought back to the head:
    // kept, the device would never see the entries numbered below it that
    // the restored store writes next.
    let beyond = feed_page(store, &pc1, head + 1000, None).unwrap();
    assert_eq!(
        (beyond.entries.len(), beyond.cursor, beyond.more),
        (0, head, false),
        "a cursor past the head is answered with the head"
    );

    let page = feed_page(store, &ps1, 0, None).unwrap();
    assert_eq!(ids(&page), ["mine", "caused", "colleague"]);
    assert!(page.examined <= FEW, "examined {}", page.examined);
    assert_eq!((page.cursor, page.more), (head, false));
    let read: Vec<_> = page
        .reads
        .iter()
        .map(|e| (e.action.as_str(), e.record_id.as_deref().unwrap()))
        .collect();
    assert_eq!(
        read,
        [
            ("record-read", "mine"),
            ("record-read", "caused"),
            ("record-read", "colleague")
        ]
    );

    let page = feed_page(store, &staff, 0, None).unwrap();
    assert_eq!(
        (page.entries.len(), page.cursor, page.more),
        (0, head, false)
    );

    // The officer who wrote them pages through them, bounded per request,
    // never skipping or repeating one, and is level with the head at the end.
    let (mut cursor, mut seen, mut pages) = (0, Vec::new(), 0);
    loop {
        let page = feed_page(store, &pc3, cursor, Some(700)).unwrap();
        assert!(page.entries.len() <= 500 && page.examined <= 2 * 2000);
        assert!(page.cursor >= cursor);
        seen.extend(page.entries.iter().map(|e| e.record_id.clone()));
        cursor = page.cursor;
        pages += 1;
        if !page.more {
            break;
        }
    }
    assert_eq!(cursor, head);
    assert_eq!(seen.len(), OTHERS);
    assert_eq!(
        seen,
        others
            .iter()
            .map(|c| c.index.id.clone())
            .collect::<Vec<_>>()
    );
    assert!(pages >= OTHERS / 500);
}

/// An officer named as a co-attending reader after a record's first
/// entries receives the earlier entries too when its cursor is before
/// them (the scope uses a record's readers now), and the entry that shared
/// it (which carries the whole history) whatever its cursor; the erasure
/// of the record reaches the reader, and the author, as an entry too.
pub(crate) fn reader_added_later(store: &dyn Storage) {
    let pc2 = principal("pc2-phone", "PC2", "Lewisham", Role::Officer);
    let pc4 = principal("pc4-phone", "PC4", "Lewisham", Role::Officer);
    let pc1 = principal("pc1-phone", "PC1", "Lewisham", Role::Officer);
    let first = store
        .commit_record(&by("scene", "PC1", "Lewisham", "pc1-tablet"))
        .unwrap();
    // PC4 syncs before the grant: it moves past the first entry, seeing nothing.
    let before = feed_page(store, &pc4, 0, None).unwrap();
    assert_eq!((before.entries.len(), before.cursor), (0, first));

    let stored = store.record("scene").unwrap().unwrap();
    let mut shared = by("scene", "PC1", "Lewisham", "pc1-tablet");
    shared.expected_version = Some(stored.version);
    shared.grant = vec!["PC2".into(), "PC4".into()];
    let sharing = store.commit_record(&shared).unwrap();

    let page = feed_page(store, &pc2, 0, None).unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        [first, sharing],
        "the earlier entry and the sharing one"
    );
    assert_eq!(page.reads.len(), 2);
    let page = feed_page(store, &pc4, before.cursor, None).unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [sharing]);

    // A later entry reaches both readers, and the erasure every reader.
    let stored = store.record("scene").unwrap().unwrap();
    let mut later = by("scene", "PC1", "Lewisham", "pc1-tablet");
    later.expected_version = Some(stored.version);
    let third = store.commit_record(&later).unwrap();
    store.erase_record("scene", T, "retention", &[]).unwrap();
    for reader in [&pc2, &pc4, &pc1] {
        let page = feed_page(store, reader, sharing, None).unwrap();
        assert_eq!(page.entries.len(), 1, "{}", reader.officer.shoulder_number);
        assert!(page.entries[0].erased && page.entries[0].seq > third);
        assert!(page.reads.is_empty(), "an erasure is no read");
        assert!(!page.more);
    }
}

/// An idle sync writes nothing: a device's `last_seen` is written when it
/// has none or the stored one is at least ten minutes old
/// (`LAST_SEEN_RESOLUTION` in `sync/round_trip.rs`), and not in between.
pub(crate) fn idle_syncs_do_not_write(store: &dyn Storage) {
    store
        .add_officer(&officer("PC1", "Lewisham"), T, &[])
        .unwrap();
    store
        .add_enrolment_code(b"code", "PC1", 100, T, &[])
        .unwrap();
    store
        .redeem_enrolment_code(b"code", 50, &device("d1"), b"tok", T, &|_| Vec::new())
        .unwrap();
    let sync_at = |at: &str| {
        let principal = store.principal(b"tok").unwrap().unwrap();
        let arrival = Arrival {
            at: at.parse().unwrap(),
            stamp: at.into(),
            retention: Default::default(),
            retention_now: at.parse().unwrap(),
            commit: Default::default(),
        };
        let request = pocketbook_core::sync::wire::SyncRequest {
            protocol: pocketbook_core::sync::wire::PROTOCOL_VERSION,
            cursor: None,
            push: Vec::new(),
            page_size: None,
        };
        crate::sync::round_trip(store, &principal, &request, &arrival).unwrap();
        store.device("d1").unwrap().unwrap().last_seen
    };
    let seen = |t: &str| Some(t.to_string());
    assert_eq!(
        sync_at("2026-11-28T10:00:00Z"),
        seen("2026-11-28T10:00:00Z")
    );
    assert_eq!(
        sync_at("2026-11-28T10:01:00Z"),
        seen("2026-11-28T10:00:00Z")
    );
    assert_eq!(
        sync_at("2026-11-28T10:09:59Z"),
        seen("2026-11-28T10:00:00Z")
    );
    assert_eq!(
        sync_at("2026-11-28T10:10:00Z"),
        seen("2026-11-28T10:10:00Z")
    );
    assert_eq!(
        sync_at("2026-11-28T10:15:00Z"),
        seen("2026-11-28T10:10:00Z")
    );
}

/// The three feed entries a backend's migration test writes in the
/// previous schema, with raw SQL, before the audience index existed.
pub(crate) const BEFORE_THE_INDEX: &str = "
INSERT INTO feed (seq, record_id, kind, author, station, origin_device, changes)
    VALUES (1, 'a', 'stop-search', 'PC1', 'Lewisham', 'd1', CHANGES),
           (2, 'b', 'scene-attendance', 'PC2', 'Brixton', 'd2', CHANGES),
           (3, 'c', 'stop-search', 'PC3', 'Lewisham', 'd3', CHANGES);
INSERT INTO record_access (record_id, officer, granted_at) VALUES ('b', 'PC1', 't');
";

/// After the migration, the entries of [`BEFORE_THE_INDEX`] are indexed
/// under their authors, readers and stations, as new ones are.
pub(crate) fn backfilled(store: &dyn Storage) {
    let read = |audience: &[Audience]| -> Vec<u64> {
        let slice = store.feed_for(audience, 0, 100, usize::MAX).unwrap();
        assert_eq!((slice.end, slice.more), (3, false));
        slice.rows.iter().map(|r| r.seq).collect()
    };
    let officer = |n: &str| Audience::Officer(n.into());
    let station = |s: &str| Audience::Station(s.into());
    assert_eq!(read(&[officer("PC1")]), [1, 2]);
    assert_eq!(read(&[officer("PC2")]), [2]);
    assert_eq!(read(&[station("Lewisham")]), [1, 3]);
    assert_eq!(read(&[officer("PC3"), station("Brixton")]), [2, 3]);
    assert_eq!(read(&[]), Vec::<u64>::new());
}

/// `legal_holds_in`: the held records indexed under the audiences (their
/// author, a reader, their station), by id, at most `limit`, with who may
/// see each; never a record not held, nor one outside the audiences.
pub(crate) fn holds_in_scope(store: &dyn Storage) {
    let mut shared = by("c-shared", "PC9", "Brixton", "dev-9");
    shared.grant = vec!["PC1".into()];
    for commit in [
        by("b-own", "PC1", "Lewisham", "dev-1"),
        shared,
        by("a-station", "PC7", "Lewisham", "dev-7"),
        by("d-other", "PC9", "Brixton", "dev-9"),
        by("e-unheld", "PC1", "Lewisham", "dev-1"),
    ] {
        store.commit_record(&commit).unwrap();
    }
    for id in ["b-own", "c-shared", "a-station", "d-other"] {
        let hold = LegalHold {
            record_id: id.into(),
            reason: "complaint".into(),
            set_at: T.into(),
        };
        store.set_legal_hold(&hold, &[]).unwrap();
    }
    let listed = |audience: &[Audience], limit: u32| -> Vec<String> {
        store
            .legal_holds_in(audience, limit)
            .unwrap()
            .into_iter()
            .map(|h| h.record_id)
            .collect()
    };
    let officer = [Audience::Officer("PC1".into())];
    assert_eq!(listed(&officer, 10), ["b-own", "c-shared"]);
    let supervisor = [
        Audience::Officer("PC1".into()),
        Audience::Station("Lewisham".into()),
    ];
    assert_eq!(listed(&supervisor, 10), ["a-station", "b-own", "c-shared"]);
    assert_eq!(listed(&supervisor, 2), ["a-station", "b-own"]);
    assert!(listed(&[], 10).is_empty());
    let held = store.legal_holds_in(&officer, 10).unwrap();
    assert_eq!(
        (
            held[1].author.as_str(),
            held[1].station.as_str(),
            held[1].readers.clone()
        ),
        ("PC9", "Brixton", vec!["PC1".to_string()])
    );
    store.release_legal_hold("b-own", T, &[]).unwrap();
    assert_eq!(listed(&officer, 10), ["c-shared"]);
}

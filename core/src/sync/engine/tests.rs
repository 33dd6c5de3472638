//! The engine driven without HTTP: real device stores (SQLite in a temp
//! directory) against the in-memory server of `fake.rs`.

use std::sync::Mutex;

use super::fake::{FakeServer, Fault, Link};
use super::*;
use crate::document::RecordDoc;
use crate::model::{
    AttendanceReason, Location, Officer, RecordBody, RecordHeader, ResponseGrade, SceneAttendance,
    SceneInput, Timestamp,
};
use crate::sync::wire::RejectionCode;

/// Store steps run inline, under a plain mutex.
struct Inline(Mutex<Store>);

impl StoreAccess for Inline {
    fn run<R: Send + 'static>(&self, work: StoreWork<R>) -> BoxFuture<'_, Result<R, ApiError>> {
        let result = work(&mut self.0.lock().unwrap());
        Box::pin(async move { result })
    }
}

/// Everything the engine told the app.
#[derive(Default)]
struct Heard {
    received: Mutex<Vec<String>>,
    erased: Mutex<Vec<String>>,
    rolled_back: Mutex<Vec<String>>,
    progress: Mutex<Vec<(u32, u32)>>,
}

impl SyncObserver for Heard {
    fn received(&self, records: &[(String, RecordKind)]) {
        let mut heard = self.received.lock().unwrap();
        heard.extend(records.iter().map(|(id, _)| id.clone()));
    }
    fn erased(&self, records: &[(String, RecordKind)]) {
        let mut heard = self.erased.lock().unwrap();
        heard.extend(records.iter().map(|(id, _)| id.clone()));
    }
    fn rolled_back(&self, records: &[RolledBack]) {
        let mut heard = self.rolled_back.lock().unwrap();
        heard.extend(records.iter().map(|r| r.record_id.clone()));
    }
    fn progress(&self, sent: u32, received: u32) {
        self.progress.lock().unwrap().push((sent, received));
    }
}

struct Device {
    _dir: tempfile::TempDir,
    store: Inline,
    link: Link,
    heard: Arc<Heard>,
}

impl Device {
    fn new(server: &FakeServer, name: &str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        Device {
            _dir: dir,
            store: Inline(Mutex::new(store)),
            link: server.link(name),
            heard: Arc::default(),
        }
    }

    async fn sync(&self) -> Result<SyncEnd, ApiError> {
        let heard: Arc<dyn SyncObserver> = self.heard.clone();
        run(&self.link, &self.store, heard).await
    }

    async fn sync_done(&self) -> SyncOutcome {
        match self.sync().await {
            Ok(SyncEnd::Done(outcome)) => outcome,
            other => panic!("sync did not finish: {other:?}"),
        }
    }

    fn with<R>(&self, work: impl FnOnce(&mut Store) -> R) -> R {
        work(&mut self.store.0.lock().unwrap())
    }

    /// A new scene record; its id.
    fn scene(&self, author: &str) -> String {
        let scene = SceneAttendance::from_input(SceneInput {
            reasons: vec![AttendanceReason::CrimeInProgress],
            grade: ResponseGrade::Emergency,
            call_received: Timestamp::now(),
            appointment: None,
            arrived: None,
            left: None,
            location: Location {
                latitude: None,
                longitude: None,
                street: "High Street".into(),
            },
            notes: String::new(),
        });
        let body = RecordBody::SceneAttendance { scene };
        let header = RecordHeader {
            id: uuid::Uuid::now_v7().to_string(),
            kind: body.kind(),
            reference: crate::reference::Reference::generate().to_string(),
            created_at: Timestamp::now(),
            author: Officer {
                shoulder_number: author.into(),
                name: "Name".into(),
                station: "Lewisham".into(),
            },
        };
        self.with(|s| s.create(header, &body).unwrap().header.id)
    }

    fn note(&self, id: &str, by: &str, text: &str) {
        self.with(|s| {
            s.edit(id, |doc| doc.add_note(text, by, "2026-11-28T10:30:00Z"))
                .unwrap()
        });
    }

    fn notes(&self, id: &str) -> Vec<String> {
        self.with(|s| s.get(id).unwrap())
            .body
            .notes()
            .iter()
            .map(|n| n.text.clone())
            .collect()
    }

    fn heads(&self, id: &str) -> Vec<String> {
        let mut heads = self.with(|s| s.take_doc(id).unwrap().heads_hex());
        heads.sort();
        heads
    }

    fn changes_stored(&self, id: &str) -> i64 {
        self.with(|s| s.changes_stored(id))
    }
}

#[tokio::test]
async fn two_devices_converge_through_the_engine() {
    let server = FakeServer::default();
    let (a, b) = (Device::new(&server, "a"), Device::new(&server, "b"));
    let id = a.scene("PC1");
    a.note(&id, "PC1", "Rear door forced");
    let first = a.sync_done().await;
    assert_eq!(
        (first.sent, first.acknowledged, first.pending),
        (1, 1, 0),
        "{first:?}"
    );
    let got = b.sync_done().await;
    assert_eq!((got.received, got.sent), (1, 0), "{got:?}");
    assert_eq!(*b.heard.received.lock().unwrap(), vec![id.clone()]);
    b.note(&id, "PC2", "Witness at number 4");
    b.sync_done().await;
    a.sync_done().await;
    assert_eq!(a.notes(&id), b.notes(&id));
    assert_eq!(a.notes(&id).len(), 2);
    assert_eq!(a.heads(&id), server.heads(&id));
    assert_eq!(b.heads(&id), server.heads(&id));
    // Level: one request, nothing moves.
    let idle = a.sync_done().await;
    assert_eq!((idle.requests, idle.sent, idle.received), (1, 0, 0));
}

#[tokio::test]
async fn an_answer_cut_after_the_server_committed_is_repaired_by_the_next_sync() {
    let server = FakeServer::default();
    let (a, b) = (Device::new(&server, "a"), Device::new(&server, "b"));
    let id = a.scene("PC1");
    server.fault("a", Fault::CutAfterCommit);
    let cut = a.sync().await;
    assert!(
        matches!(cut, Err(ApiError::Offline { .. })),
        "the cut is an offline error: {cut:?}"
    );
    // The server has the record; the device does not know it yet.
    assert_eq!(server.entries_of(&id), 1);
    assert_eq!(a.with(|s| s.unsynced_count().unwrap()), 1);
    let again = a.sync_done().await;
    assert_eq!(
        (again.sent, again.acknowledged, again.pending),
        (1, 1, 0),
        "{again:?}"
    );
    // The resend was a replay: no second feed entry, nothing doubled.
    assert_eq!(server.entries_of(&id), 1);
    b.sync_done().await;
    assert_eq!(b.heads(&id), server.heads(&id));
    assert_eq!(a.heads(&id), server.heads(&id));
}

#[tokio::test]
async fn a_repeated_answer_changes_nothing_twice() {
    let server = FakeServer::default();
    let (a, b) = (Device::new(&server, "a"), Device::new(&server, "b"));
    let id = a.scene("PC1");
    a.note(&id, "PC1", "Rear door forced");
    a.sync_done().await;
    let first = b.sync_done().await;
    assert_eq!(first.received, 1);
    let stored = b.changes_stored(&id);
    let cursor = b.with(|s| s.cursor().unwrap());
    // The same page again, as a proxy replaying a cached answer would.
    server.fault("b", Fault::RepeatLastAnswer);
    let repeated = b.sync_done().await;
    assert_eq!(repeated.received, 0, "{repeated:?}");
    assert_eq!(b.changes_stored(&id), stored, "no change stored twice");
    assert_eq!(b.with(|s| s.cursor().unwrap()), cursor);
    assert_eq!(b.heard.received.lock().unwrap().len(), 1, "heard once");
    assert_eq!(b.heads(&id), server.heads(&id));
}

#[tokio::test]
async fn pages_are_followed_until_the_feed_is_level() {
    let server = FakeServer::default();
    let (a, b) = (Device::new(&server, "a"), Device::new(&server, "b"));
    let ids: Vec<String> = (0..(PAGE_SIZE as usize + 5))
        .map(|_| a.scene("PC1"))
        .collect();
    let sent = a.sync_done().await;
    assert_eq!((sent.sent as usize, sent.pending), (ids.len(), 0));
    assert!(sent.requests >= 2, "pushes are batched: {sent:?}");
    let got = b.sync_done().await;
    assert_eq!(got.received as usize, ids.len());
    assert!(got.requests >= 2, "pages are followed: {got:?}");
    let progress = b.heard.progress.lock().unwrap();
    assert_eq!(progress.last(), Some(&(0, ids.len() as u32)));
}

#[tokio::test]
async fn a_record_on_two_pages_is_counted_once() {
    let server = FakeServer::default();
    let (a, b) = (Device::new(&server, "a"), Device::new(&server, "b"));
    let first = a.scene("PC1");
    let others: Vec<String> = (0..PAGE_SIZE as usize).map(|_| a.scene("PC1")).collect();
    a.sync_done().await;
    // A later entry of the first record lands on the second page.
    a.note(&first, "PC1", "Rear door forced");
    a.sync_done().await;
    let got = b.sync_done().await;
    assert!(got.requests >= 2, "two pages: {got:?}");
    assert_eq!(got.received as usize, others.len() + 1, "{got:?}");
}

#[tokio::test]
async fn a_record_refused_for_good_is_rolled_back_and_its_changes_set_aside() {
    let server = FakeServer::default();
    let (a, b) = (Device::new(&server, "a"), Device::new(&server, "b"));
    let id = a.scene("PC1");
    a.note(&id, "PC1", "Acknowledged entry");
    a.sync_done().await;
    b.sync_done().await;
    let acknowledged = server.heads(&id);
    // B's colleague adds an entry the server takes; A writes two entries
    // offline, the second building on the first, and the server refuses them.
    b.note(&id, "PC2", "From the other device");
    b.sync_done().await;
    a.note(&id, "PC1", "Refused entry");
    a.note(&id, "PC1", "Built on the refused one");
    server.refuse(&id, RejectionCode::Forbidden);
    let outcome = a.sync_done().await;
    assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
    assert_eq!(outcome.rolled_back, vec![id.clone()]);
    assert_eq!(*a.heard.rolled_back.lock().unwrap(), vec![id.clone()]);
    // Gone from the record; the other device's entry is there.
    assert_eq!(
        a.notes(&id),
        vec![
            "Acknowledged entry".to_string(),
            "From the other device".into()
        ]
    );
    assert_eq!(a.heads(&id), server.heads(&id));
    assert_ne!(
        server.heads(&id),
        acknowledged,
        "B's change is on the server"
    );
    assert_eq!(a.with(|s| s.unacknowledged_count().unwrap()), 0);
    // Kept aside, readable, and never pushed again.
    let aside = a.with(|s| s.set_aside().unwrap());
    assert_eq!(aside.len(), 1);
    assert_eq!(
        (
            aside[0].record_id.as_str(),
            aside[0].code,
            aside[0].edits,
            aside[0].changes
        ),
        (id.as_str(), RejectionCode::Forbidden, 2, 2)
    );
    let version = a.with(|s| s.set_aside_version(aside[0].id).unwrap());
    let kept = RecordDoc::load(&version, automerge::ActorId::random()).unwrap();
    let texts: Vec<String> = kept
        .record()
        .unwrap()
        .body
        .notes()
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(
        texts.contains(&"Built on the refused one".to_string()),
        "{texts:?}"
    );
    server.accept(&id);
    let after = a.sync_done().await;
    assert_eq!((after.sent, after.rejected.len()), (0, 0), "{after:?}");
    b.sync_done().await;
    assert_eq!(b.heads(&id), server.heads(&id));
    assert_eq!(a.notes(&id), b.notes(&id));
    // The device goes on: a new edit is pushed and accepted.
    a.note(&id, "PC1", "After the rollback");
    let next = a.sync_done().await;
    assert_eq!((next.sent, next.acknowledged), (1, 1), "{next:?}");
}

#[tokio::test]
async fn a_refused_new_record_stays_marked_refused() {
    let server = FakeServer::default();
    let a = Device::new(&server, "a");
    let id = a.scene("PC1");
    server.refuse(&id, RejectionCode::Invalid);
    let outcome = a.sync_done().await;
    assert!(outcome.rolled_back.is_empty(), "{outcome:?}");
    let listed = a.with(|s| s.list(&Default::default()).unwrap());
    assert_eq!(listed.len(), 1);
    assert!(listed[0].refused);
    assert!(a.with(|s| s.set_aside().unwrap()).is_empty());
}

#[tokio::test]
async fn a_refused_record_is_reported_and_not_pushed_again() {
    let server = FakeServer::default();
    let a = Device::new(&server, "a");
    let id = a.scene("PC1");
    server.refuse(&id, RejectionCode::Invalid);
    let outcome = a.sync_done().await;
    assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
    assert_eq!(outcome.rejected[0].code, RejectionCode::Invalid);
    assert_eq!(outcome.pending, 0);
    let before = server.requests();
    let again = a.sync_done().await;
    assert_eq!((again.sent, again.rejected.len()), (0, 0), "{again:?}");
    assert_eq!(server.requests(), before + 1);
}

#[tokio::test]
async fn wipe_and_retire_orders_end_the_sync() {
    let server = FakeServer::default();
    let a = Device::new(&server, "a");
    a.scene("PC1");
    server.fault("a", Fault::Wipe(WipeReason::Revoked));
    assert_eq!(a.sync().await.unwrap(), SyncEnd::Wipe(WipeReason::Revoked));

    // Handed back: ready to retire only once everything is acknowledged;
    // the caller erases, then confirms.
    server.retire("a");
    assert!(
        matches!(a.sync().await.unwrap(), SyncEnd::Retire(_)),
        "level and asked: ready to retire"
    );
    confirm_retire(&a.link).await.expect("confirmed");
    // A confirmation whose answer was lost: the next call's wipe order
    // means the same.
    server.fault("a", Fault::Wipe(WipeReason::Retired));
    confirm_retire(&a.link).await.expect("already retired");
    let b = Device::new(&server, "b");
    let id = b.scene("PC2");
    server.refuse(&id, RejectionCode::Invalid);
    server.retire("b");
    // Asked, and level with the feed: the caller's erasure decides (a
    // refused record keeps the device, tests/tests/e2e/identity.rs).
    match b.sync().await.unwrap() {
        SyncEnd::Retire(outcome) => assert_eq!(outcome.rejected.len(), 1),
        other => panic!("{other:?}"),
    }
}

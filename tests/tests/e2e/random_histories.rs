//! Property-based convergence: random histories of edits on 2 to 4
//! replicas of one record, of each of the four kinds, synced through the
//! real server in random orders with responses cut at random.
//!
//! After every history, each replica syncs until level, and then:
//! - every replica and the server's stored document have the same heads,
//!   and every replica reads the same typed record;
//! - no entry was lost or invented: the note entries and scene actions are
//!   exactly the ones the replicas wrote (each once, verbatim), or, on a
//!   device whose push the server refused, kept aside with the rest of its
//!   unacknowledged changes;
//! - every register (arrival time, updates agreement, receipt) holds a
//!   value some replica wrote, never a blend of two.
//!
//! Cases: `PROPTEST_CASES` (default 16 here; RELIABILITY.md has the longer
//! runs). A failing case is shrunk and its seed kept in
//! `tests/proptest-regressions/`, which is committed and replayed first.

use std::collections::BTreeSet;

use pocketbook_core::ApiError;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;
use pocketbook_tests::inputs::*;
use pocketbook_tests::{Device, FlakyLink, Serving, Station};
use proptest::prelude::*;

/// The record kind a history is about.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Scene,
    Burglary,
    StopSearch,
    StopAccount,
}

impl Kind {
    /// Scenes are shared by several officers; an encounter is changed only
    /// by its author, so its replicas are that officer's devices.
    fn shared(self) -> bool {
        matches!(self, Kind::Scene | Kind::Burglary)
    }
}

/// One step of a history, on replica `.0`.
#[derive(Debug, Clone)]
enum Step {
    Note(usize),
    /// Corrects the `n`th note entry this replica can see (if any).
    Correct(usize, usize),
    Action(usize),
    Tick(usize, usize, usize),
    Arrival(usize, u32),
    Updates(usize, u32),
    Receipt(usize, usize),
    NoReceipt(usize),
    Sync(usize),
    /// Syncs with the response cut after this many bytes.
    CutSync(usize, usize),
}

fn step(replicas: usize) -> impl Strategy<Value = Step> {
    let r = 0..replicas;
    prop_oneof![
        4 => r.clone().prop_map(Step::Note),
        2 => (r.clone(), 0..8usize).prop_map(|(r, n)| Step::Correct(r, n)),
        3 => r.clone().prop_map(Step::Action),
        2 => (r.clone(), 0..4usize, 0..3usize).prop_map(|(r, i, o)| Step::Tick(r, i, o)),
        1 => (r.clone(), 1..120u32).prop_map(|(r, m)| Step::Arrival(r, m)),
        1 => (r.clone(), 1..30u32).prop_map(|(r, d)| Step::Updates(r, d)),
        // Receipts from any replica: two devices of one officer recording
        // the receipt at once is a clash the server refuses for the second;
        // that device rolls the record back and keeps its change aside.
        1 => (r.clone(), 0..3usize).prop_map(|(r, m)| Step::Receipt(r, m)),
        1 => r.clone().prop_map(Step::NoReceipt),
        3 => r.clone().prop_map(Step::Sync),
        1 => (r, 1..2_000usize).prop_map(|(r, b)| Step::CutSync(r, b)),
    ]
}

fn history() -> impl Strategy<Value = (Kind, usize, Vec<Step>)> {
    let kind = prop_oneof![
        Just(Kind::Scene),
        Just(Kind::Burglary),
        Just(Kind::StopSearch),
        Just(Kind::StopAccount),
    ];
    (kind, 2..=4usize).prop_flat_map(|(kind, replicas)| {
        (
            Just(kind),
            Just(replicas),
            proptest::collection::vec(step(replicas), 4..28),
        )
    })
}

/// What the replicas wrote, to check the merged record against.
#[derive(Default)]
struct Written {
    notes: BTreeSet<String>,
    actions: BTreeSet<String>,
    arrivals: Vec<Timestamp>,
    updates: Vec<(UpdateMethod, i32)>,
}

fn officer(kind: Kind, replica: usize) -> String {
    if kind.shared() {
        format!("PC{}", replica + 1)
    } else {
        "PC1".into()
    }
}

/// A time `minutes` after an hour ago.
fn minutes_past_an_hour_ago(minutes: u32) -> Timestamp {
    let at = chrono::Utc::now() - chrono::TimeDelta::hours(1)
        + chrono::TimeDelta::minutes(i64::from(minutes));
    Timestamp::from_instant(at).expect("a time in range")
}

/// Refusals a step may meet by the record's own rules (a frozen field, an
/// edit of the wrong kind); anything else fails the case.
fn allowed(result: Result<(), ApiError>) {
    match result {
        Ok(()) | Err(ApiError::Invalid { .. }) => {}
        Err(ApiError::Conflict { .. }) | Err(ApiError::NotFound { .. }) => {}
        Err(other) => panic!("unexpected refusal: {other:?}"),
    }
}

async fn run(kind: Kind, replicas: usize, steps: Vec<Step>) {
    // Plain http: the link cuts responses by byte count, which over TLS
    // would cut the handshake instead of the answer.
    let station = Station::start_serving(Serving::PlainHttp).await;
    let link = FlakyLink::start(station.addr()).await;
    let officers: BTreeSet<String> = (0..replicas).map(|r| officer(kind, r)).collect();
    for number in &officers {
        station.add_officer(number, "Lewisham");
    }
    let mut devices: Vec<Device> = Vec::new();
    for r in 0..replicas {
        devices.push(station.device_via(&officer(kind, r), &link.url()).await);
    }
    let mut written = Written::default();

    let author = &devices[0];
    let record = match kind {
        Kind::Scene => author.create_scene(scene()),
        Kind::Burglary => author.create_burglary(scene()),
        Kind::StopSearch => author.create_stop_search(stop_search(&minutes_past_an_hour_ago(0))),
        Kind::StopAccount => author.create_stop_account(stop_account()),
    }
    .expect("record made");
    let id = record.header.id;
    if kind.shared() {
        for r in 1..replicas {
            author
                .add_attending_officer(id.clone(), officer(kind, r))
                .expect("colleague named");
        }
    }
    author.sync(None).await.expect("first sync");
    for device in &devices[1..] {
        device
            .sync(None)
            .await
            .expect("replica receives the record");
        device.get(id.clone()).expect("replica holds the record");
    }

    for (n, step) in steps.into_iter().enumerate() {
        match step {
            Step::Note(r) => {
                let text = format!("note {n} by replica {r}");
                written.notes.insert(text.clone());
                devices[r].add_note(id.clone(), text).expect("note added");
            }
            Step::Correct(r, which) => {
                let entries = devices[r]
                    .get(id.clone())
                    .expect("read")
                    .body
                    .notes()
                    .to_vec();
                if let Some(entry) = entries.get(which % entries.len().max(1)) {
                    let text = format!("correction {n} by replica {r}");
                    written.notes.insert(text.clone());
                    devices[r]
                        .correct_note(id.clone(), entry.id.clone(), text)
                        .expect("correction added");
                }
            }
            Step::Action(r) if kind.shared() => {
                let text = format!("action {n} by replica {r}");
                written.actions.insert(text.clone());
                devices[r]
                    .add_scene_action(id.clone(), note(text))
                    .expect("action added");
            }
            Step::Tick(r, item, outcome) if kind.shared() => {
                let outcome = [
                    TickOutcome::Done,
                    TickOutcome::NotApplicable,
                    TickOutcome::NotDone,
                ][outcome];
                let reason = (outcome == TickOutcome::NotDone).then(|| format!("reason {n}"));
                devices[r]
                    .tick(id.clone(), ChecklistItem::ALL[item], outcome, reason)
                    .expect("ticked");
            }
            Step::Arrival(r, minutes) if kind.shared() => {
                let at = minutes_past_an_hour_ago(minutes);
                written.arrivals.push(at.clone());
                allowed(devices[r].record_arrival(id.clone(), at).map(drop));
            }
            Step::Updates(r, days) if kind.shared() => {
                let method = UpdateMethod::ALL[days as usize % UpdateMethod::ALL.len()];
                let days = days as i32;
                written.updates.push((method, days));
                allowed(devices[r].agree_updates(
                    id.clone(),
                    UpdateAgreement {
                        method,
                        every_days: days,
                    },
                ));
            }
            Step::Receipt(r, medium) if !kind.shared() => {
                let medium = ReceiptMedium::ALL[medium % ReceiptMedium::ALL.len()];
                allowed(devices[r].issue_receipt(id.clone(), medium).map(drop));
            }
            Step::NoReceipt(r) if !kind.shared() => {
                allowed(devices[r].receipt_not_given(id.clone(), "person left".into()));
            }
            Step::Sync(r) => {
                devices[r].sync(None).await.expect("sync");
            }
            Step::CutSync(r, bytes) => {
                link.cut_responses_after(bytes);
                // Cut mid-answer: the server may have committed the push;
                // the device must not count it acknowledged.
                // Either outcome is fine here; `level` then checks nothing
                // was counted twice or lost.
                if let Err(e) = devices[r].sync(None).await {
                    assert!(
                        matches!(e, ApiError::Offline { .. } | ApiError::Protocol { .. }),
                        "a cut answer is a network failure, not {e:?}"
                    );
                }
                link.cut_responses_after(0);
            }
            // A step of the other family of kinds.
            _ => {}
        }
    }

    level(&devices).await;
    check(&station, &devices, &id, &written);
}

/// Syncs every replica, round after round, until a whole round changes nothing.
async fn level(devices: &[Device]) {
    for _ in 0..6 {
        let mut quiet = true;
        for device in devices {
            let summary = device.sync(None).await.expect("sync while level");
            quiet &= summary.sent == 0 && summary.received == 0;
        }
        if quiet {
            return;
        }
    }
    panic!("replicas still exchanging changes after six rounds");
}

fn sorted_heads(bytes: &[u8]) -> Vec<automerge::ChangeHash> {
    let mut heads = automerge::AutoCommit::load(bytes)
        .expect("loads")
        .get_heads();
    heads.sort();
    heads
}

fn check(station: &Station, devices: &[Device], id: &str, written: &Written) {
    let stored = station
        .admin
        .record(id)
        .expect("server read")
        .expect("server holds the record");
    let server_heads = sorted_heads(&stored.snapshot);
    let first = devices[0].get(id.into()).expect("read");
    for (r, device) in devices.iter().enumerate() {
        let bytes = device.export(id.into()).expect("export");
        assert_eq!(sorted_heads(&bytes), server_heads, "replica {r} heads");
        assert_eq!(
            device.get(id.into()).expect("read"),
            first,
            "replica {r} record"
        );
    }

    let notes: Vec<&str> = first.body.notes().iter().map(|e| e.text.as_str()).collect();
    let unique: BTreeSet<String> = notes.iter().map(|t| t.to_string()).collect();
    assert_eq!(unique.len(), notes.len(), "a note entry appears twice");
    assert!(
        unique.is_subset(&written.notes),
        "a note entry nobody wrote"
    );
    // A device whose push the server refused (two handsets recording the
    // receipt at once) rolled the record back: its unacknowledged changes,
    // note entries written after the refused one included, went aside,
    // readable there. Every entry written is in the record or set aside.
    let mut kept = unique.clone();
    for device in devices {
        for aside in device.set_aside().expect("set-aside list") {
            let bytes = device
                .set_aside_version(aside.id)
                .expect("set-aside version");
            let doc = RecordDoc::load(&bytes, automerge::ActorId::random()).expect("loads");
            for entry in doc.record().expect("reads").body.notes() {
                assert!(
                    written.notes.contains(&entry.text),
                    "a set-aside entry nobody wrote"
                );
                kept.insert(entry.text.clone());
            }
        }
    }
    assert_eq!(kept, written.notes, "note entries lost");
    if let RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } = &first.body
    {
        let actions: Vec<String> = scene
            .actions
            .iter()
            .filter_map(|a| match &a.detail {
                ActionDetail::Note { text } => Some(text.clone()),
                _ => None,
            })
            .collect();
        let unique: BTreeSet<String> = actions.iter().cloned().collect();
        assert_eq!(unique.len(), actions.len(), "a scene action appears twice");
        assert_eq!(unique, written.actions, "scene actions lost or invented");
        if let Some(arrived) = &scene.arrived {
            assert!(written.arrivals.contains(arrived), "arrival nobody wrote");
        }
        if let Some(updates) = &scene.updates {
            let pair = (updates.method, updates.every_days);
            assert!(written.updates.contains(&pair), "updates nobody agreed");
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Each case runs a server and up to four device cores: shrinking
        // is bounded so a failure reports in minutes, not hours.
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_histories_converge_without_losing_or_inventing_anything(
        (kind, replicas, steps) in history()
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run(kind, replicas, steps));
    }
}

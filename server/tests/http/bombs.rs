//! Memory bombs in a push: Automerge bytes of a few KB that Automerge 0.12
//! would expand to gigabytes (a compressed change chunk, an RLE run length
//! of billions). The real server binary runs as a child process, so its
//! peak memory (`VmHWM`) is its own: the bombs are refused per record, the
//! process stays small, and another device syncs in the same test.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use automerge::ActorId;
use pocketbook_core::chunks::bombs;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;
use pocketbook_core::sync::wire::*;

use crate::support::*;
use pocketbook_fixtures::stop_account;

/// Peak resident memory the server may reach in this test. An idle server
/// with the honest 2,000-action scene merged stays well below; either bomb
/// unbounded needs more than a gibibyte.
const PEAK_LIMIT_KIB: u64 = 256 * 1024;

struct ChildServer {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl ChildServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
            .arg("serve")
            .current_dir(dir.path())
            .env("POCKETBOOK_LISTEN", "127.0.0.1:0")
            .env_remove("POCKETBOOK_DATA_DIR")
            .env_remove("POCKETBOOK_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut ready).unwrap();
        // Keep reading the server's log: a closed pipe would fail its writes.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = ready.split_whitespace().nth(3).unwrap().to_string();
        ChildServer { child, url, dir }
    }

    fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
            .current_dir(self.dir.path())
            .arg("admin")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    async fn device(&self, http: &reqwest::Client, officer: &str) -> String {
        self.admin(&[
            "officer",
            "add",
            "--shoulder-number",
            officer,
            "--name",
            &format!("Officer {officer}"),
            "--station",
            "Lewisham",
        ]);
        let code = self.admin(&["device", "enrol", "--officer", officer]);
        let enrolled: serde_json::Value = http
            .post(format!("{}{ENROL_PATH}", self.url))
            .json(&serde_json::json!({"protocol": 1, "code": code}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        enrolled["token"].as_str().unwrap().to_string()
    }

    /// One sync, its body gzipped as devices send it.
    async fn sync(
        &self,
        http: &reqwest::Client,
        token: &str,
        push: Vec<PushedRecord>,
    ) -> SyncResponse {
        let json = serde_json::to_vec(&request(None, push)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).unwrap();
        let body = gz.finish().unwrap();
        let response = http
            .post(format!("{}{SYNC_PATH}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The process's peak resident memory so far, in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Already gone is fine: the server is only being cleaned up.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A record's whole history as devices push it: plain change chunks.
fn changes_of(nb: &pocketbook_core::Notebook, id: &str) -> Vec<u8> {
    let saved = nb.export(id.to_string()).unwrap();
    RecordDoc::load(&saved, ActorId::random())
        .unwrap()
        .changes_since(&[])
}

fn push(id: &str, kind: RecordKind, changes: Vec<u8>) -> PushedRecord {
    PushedRecord {
        record_id: id.to_string(),
        kind,
        changes,
    }
}

/// A scene of `officer` with `actions` actions, each its own change.
fn large_scene(officer_number: &str, actions: usize) -> (String, Vec<u8>) {
    let header = pocketbook_fixtures::header(RecordKind::SceneAttendance, officer(officer_number));
    let body = RecordBody::SceneAttendance {
        scene: SceneAttendance::from_input(scene()),
    };
    let mut doc = RecordDoc::create(header.clone(), &body, ActorId::random()).unwrap();
    for i in 0..actions {
        let detail = ActionDetail::Search {
            area: format!("Gardens behind numbers {i} to {}", i + 10),
            victim_pointed_out_suspect: false,
        };
        doc.add_action(detail, officer_number, &pocketbook_fixtures::at(10, 30))
            .unwrap();
    }
    (header.id, doc.changes_since(&[]))
}

#[tokio::test]
async fn memory_bombs_are_refused_per_record_and_the_server_stays_small() {
    pocketbook_core::sync::client::install_crypto_provider();
    let server = ChildServer::start();
    // Idle connections go before the server's 10 s idle limit closes them.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let attacker = server.device(&http, "PC6666").await;
    let honest = server.device(&http, "PC1234").await;

    // The attacker's own record, so a bomb also reaches the merge path.
    let (_dir, attacker_nb) = notebook("PC6666");
    let own = attacker_nb.create_stop_account(stop_account()).unwrap();
    let own_id = own.header.id.clone();
    let answer = server
        .sync(
            &http,
            &attacker,
            vec![push(
                &own_id,
                RecordKind::StopAccount,
                changes_of(&attacker_nb, &own_id),
            )],
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);

    // 1 GiB behind a compressed change chunk; 4 billion operations in
    // 80 bytes, as a new record and as changes to an existing one.
    let compressed = bombs::compressed_change(1 << 30);
    let rle = bombs::rle_change(4_000_000_000);
    let new_id = uuid::Uuid::now_v7().to_string();
    let rle_id = uuid::Uuid::now_v7().to_string();
    let answer = server
        .sync(
            &http,
            &attacker,
            vec![
                push(&new_id, RecordKind::StopSearch, compressed),
                push(&rle_id, RecordKind::StopSearch, rle.clone()),
                push(&own_id, RecordKind::StopAccount, rle),
            ],
        )
        .await;
    assert!(answer.acknowledged.is_empty(), "{:?}", answer.acknowledged);
    let refusals: Vec<_> = answer
        .rejected
        .iter()
        .map(|r| (r.record_id.as_str(), r.code, r.message.as_str()))
        .collect();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert_eq!(refusals[0].0, new_id);
    assert!(refusals[0].2.contains("compressed chunk"), "{refusals:?}");
    assert_eq!(refusals[1].0, rle_id);
    assert!(refusals[1].2.contains("too large"), "{refusals:?}");
    assert_eq!(refusals[2].0, own_id);
    assert!(refusals[2].2.contains("too large"), "{refusals:?}");
    assert!(refusals.iter().all(|r| r.1 == RejectionCode::Corrupt));

    // Another device syncs honest records of every kind, a scene with
    // 2,000 actions among them, in the same server process.
    let (_dir, nb) = notebook("PC1234");
    let mut pushes = Vec::new();
    let scene_record = nb.create_scene(scene()).unwrap();
    nb.add_scene_action(
        scene_record.header.id.clone(),
        ActionDetail::Note {
            text: "Door forced".into(),
        },
    )
    .unwrap();
    let mut burglary_input = scene();
    burglary_input.reasons = vec![AttendanceReason::CrimeInProgress];
    let burglary = nb.create_burglary(burglary_input).unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap();
    let account = nb.create_stop_account(stop_account()).unwrap();
    for record in [scene_record, burglary, search, account] {
        let id = record.header.id.clone();
        pushes.push(push(&id, record.header.kind, changes_of(&nb, &id)));
    }
    let (large_id, large) = large_scene("PC1234", 2_000);
    pushes.push(push(&large_id, RecordKind::SceneAttendance, large));
    let answer = server.sync(&http, &honest, pushes).await;
    assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
    assert_eq!(answer.acknowledged.len(), 5);

    let peak = server.peak_kib();
    eprintln!("server peak memory: {peak} KiB");
    assert!(
        peak < PEAK_LIMIT_KIB,
        "the server's peak memory reached {peak} KiB (limit {PEAK_LIMIT_KIB} KiB)"
    );
    // Nothing of the bombs was stored.
    let listing = server.admin(&["records", "list"]);
    assert!(
        !listing.contains(&new_id) && !listing.contains(&rle_id),
        "{listing}"
    );
}

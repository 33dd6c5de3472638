//! The parts the scale scenarios share: a store on either backend with its
//! server processes, records made by a real device core, devices enrolled
//! straight into the store, a bare sync client speaking the wire protocol,
//! and readings of a process's memory and CPU time from `/proc`.

use std::sync::Arc;
use std::time::Duration;

use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::{PROTOCOL_VERSION, PushedRecord, SyncRequest, SyncResponse};
use pocketbook_server::auth;
use pocketbook_server::identity::{DeviceRow, OfficerRow, Role};
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_server::storage::{Principal, RecordCommit, Storage};
use pocketbook_server::sync::{self, Arrival, CommitMode};
use pocketbook_tests::process::{ServerOptions, ServerProcess};

/// A time the setup writes with.
pub const AT: &str = "2026-01-01T00:00:00.000Z";

/// Which database the servers of a scenario use.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// A PostgreSQL server's URL; each store is a fresh schema in it.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// One empty store (a data directory, and on PostgreSQL a schema of its
/// own) that server processes and the setup share.
pub struct Store {
    pub data: tempfile::TempDir,
    /// The URL whose connections use this store's schema.
    pub url: Option<String>,
}

impl Store {
    pub fn new(backend: &Backend) -> Result<Store, String> {
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(base) => {
                let schema = format!("pb_load_{}", uuid::Uuid::new_v4().simple());
                blocking(|| {
                    let mut client = postgres::Client::connect(base, postgres::NoTls)
                        .map_err(|e| format!("PostgreSQL: {e}"))?;
                    client
                        .batch_execute(&format!("CREATE SCHEMA {schema}"))
                        .map_err(|e| format!("create schema: {e}"))
                })?;
                let joiner = if base.contains('?') { '&' } else { '?' };
                Some(format!("{base}{joiner}options=-c%20search_path%3D{schema}"))
            }
        };
        Ok(Store { data, url })
    }

    /// The store, opened here (created or migrated on first open).
    pub fn open(&self) -> Result<Arc<dyn Storage>, String> {
        blocking(|| {
            pocketbook_server::storage::open(self.data.path(), self.url.as_deref())
                .map_err(|e| e.to_string())
        })
    }

    /// A `pocketbook-server serve` process on this store, with `env` besides.
    pub fn serve(&self, env: &[(&str, &str)]) -> ServerProcess {
        let mut options = ServerOptions::default();
        if let Some(url) = &self.url {
            options
                .env
                .push(("POCKETBOOK_DATABASE_URL".into(), url.clone()));
        }
        for (k, v) in env {
            options.env.push(((*k).into(), (*v).into()));
        }
        blocking(|| ServerProcess::start(self.data.path(), &options))
    }

    /// Runs SQL on this store's PostgreSQL schema (setup only).
    pub fn sql(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> Result<(), postgres::Error>,
    ) -> Result<(), String> {
        let url = self.url.as_deref().ok_or("not a PostgreSQL store")?;
        blocking(|| {
            let mut client =
                postgres::Client::connect(url, postgres::NoTls).map_err(|e| e.to_string())?;
            work(&mut client).map_err(|e| e.to_string())
        })
    }
}

/// Runs blocking work (SQLite, the synchronous PostgreSQL client, a child
/// process starting) off the async workers.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// The officer of the generated records (the fixtures' officer).
pub fn author() -> pocketbook_core::model::Officer {
    pocketbook_fixtures::officer("PC1")
}

/// `n` new records of [`author`], made by a real device core as a device
/// would push them: stop-and-accounts and scenes in turn.
pub fn records(n: usize) -> Vec<PushedRecord> {
    records_of(&author().shoulder_number, n)
}

/// `n` new records of the fixtures' officer with this shoulder number.
pub fn records_of(officer: &str, n: usize) -> Vec<PushedRecord> {
    blocking(|| {
        let (_dir, nb) = pocketbook_fixtures::notebook_of(pocketbook_fixtures::officer(officer));
        (0..n)
            .map(|i| {
                let (id, kind) = if i % 2 == 0 {
                    let r = nb
                        .create_stop_account(pocketbook_fixtures::stop_account())
                        .expect("create");
                    (r.header.id, RecordKind::StopAccount)
                } else {
                    let r = nb
                        .create_scene(pocketbook_fixtures::emergency_scene())
                        .expect("create");
                    (r.header.id, RecordKind::SceneAttendance)
                };
                PushedRecord {
                    changes: pocketbook_fixtures::changes_of(&nb, &id),
                    record_id: id,
                    kind,
                }
            })
            .collect()
    })
}

fn officer_row(number: &str, station: &str) -> OfficerRow {
    OfficerRow {
        shoulder_number: number.into(),
        name: format!("Officer {number}"),
        station: station.into(),
        role: Role::Officer,
        active: true,
    }
}

/// The principal the server would see for a device of [`author`].
pub fn principal() -> Principal {
    let officer = author();
    Principal {
        device: device_row("floor", &officer.shoulder_number),
        officer: officer_row(&officer.shoulder_number, &officer.station),
    }
}

fn device_row(id: &str, officer: &str) -> DeviceRow {
    DeviceRow {
        id: id.into(),
        officer: officer.into(),
        label: "loadgen".into(),
        enrolled_at: AT.into(),
        revoked_at: None,
        last_seen: None,
        revoke_reason: None,
        retire_requested_at: None,
    }
}

/// The commits the server would make for `records`, new to an empty
/// store: the storage floor's writes.
pub fn commits(records: &[PushedRecord]) -> Vec<RecordCommit> {
    blocking(|| {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            pocketbook_server::storage::sqlite::SqliteStorage::open(dir.path()).expect("store");
        let at = pocketbook_fixtures::station_now();
        let arrival = Arrival {
            at,
            stamp: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            retention: RetentionPolicy::default(),
            retention_now: at,
            commit: CommitMode::Grouped,
        };
        let principal = principal();
        records
            .iter()
            .map(|p| {
                match sync::prepare_commit(&store, &principal, p, &arrival).expect("prepare") {
                    Ok(commit) => commit,
                    Err(_) => panic!("a generated record was refused"),
                }
            })
            .collect()
    })
}

/// Adds the officer if missing and enrols a device for them straight in
/// the store (as `/v1/enrol` would, without the HTTP): its token.
pub fn enrol(
    store: &dyn Storage,
    officer: &str,
    station: &str,
    id: &str,
) -> Result<String, String> {
    blocking(|| {
        if store.officer(officer).map_err(|e| e.to_string())?.is_none() {
            store
                .add_officer(&officer_row(officer, station), AT, &[])
                .map_err(|e| e.to_string())?;
        }
        let code = format!("code-{id}");
        store
            .add_enrolment_code(&auth::hash(&code), officer, i64::MAX / 2, AT, &[])
            .map_err(|e| e.to_string())?;
        let token = auth::new_token();
        store
            .redeem_enrolment_code(
                &auth::hash(&code),
                0,
                &device_row(id, officer),
                &auth::hash(&token),
                AT,
                &|_| Vec::new(),
            )
            .map_err(|e| e.to_string())?;
        Ok(token)
    })
}

/// How a sync request failed.
#[derive(Debug)]
pub enum Failure {
    /// 503: the server shed the request (at its bound of requests).
    Shed,
    Error(String),
}

/// A device's sync requests without a device core: the wire protocol
/// over one HTTP client (kept-alive connections, as a load balancer's).
#[derive(Clone)]
pub struct Wire {
    client: reqwest::Client,
}

impl Wire {
    pub fn new() -> Wire {
        pocketbook_core::sync::client::install_crypto_provider();
        Wire {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .tcp_nodelay(true)
                .build()
                .expect("client"),
        }
    }

    /// The JSON body of a sync request.
    pub fn body(cursor: Option<u64>, push: &[PushedRecord]) -> Vec<u8> {
        serde_json::to_vec(&SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            push: push.to_vec(),
            page_size: None,
        })
        .expect("json")
    }

    /// One `POST /v1/sync` with a prepared body.
    pub async fn sync(
        &self,
        server: &str,
        token: &str,
        body: Vec<u8>,
    ) -> Result<SyncResponse, Failure> {
        let response = self
            .client
            .post(format!("{server}/v1/sync"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Error(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::Error(e.to_string()))?;
        if status.as_u16() == 503 {
            return Err(Failure::Shed);
        }
        if !status.is_success() {
            return Err(Failure::Error(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| Failure::Error(e.to_string()))
    }

    /// Pushes every record, a request's worth at a time, with `token`;
    /// every record must be acknowledged. The cursor it ends at.
    pub async fn push_all(
        &self,
        server: &str,
        token: &str,
        records: &[PushedRecord],
    ) -> Result<u64, String> {
        let mut cursor = None;
        for chunk in records.chunks(pocketbook_core::sync::wire::MAX_PUSH_RECORDS) {
            let answer = self
                .sync(server, token, Wire::body(cursor, chunk))
                .await
                .map_err(|e| format!("push: {e:?}"))?;
            if answer.acknowledged.len() != chunk.len() {
                return Err(format!(
                    "push: {} of {} records acknowledged ({:?})",
                    answer.acknowledged.len(),
                    chunk.len(),
                    answer.rejected.first().map(|r| &r.message)
                ));
            }
            cursor = Some(answer.cursor);
        }
        Ok(cursor.unwrap_or(0))
    }
}

/// A process's resident memory in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The CPU time a process has used (user and system), from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's clock tick is 100 Hz on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// The CPU time of a process and all its children (a PostgreSQL server:
/// the postmaster and its backends), by their parent ids.
pub fn tree_cpu_time(root: u32) -> Duration {
    let mut total = cpu_time(root).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_string))
            })
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(root) {
            total += cpu_time(pid).unwrap_or_default();
        }
    }
    total
}

/// The 1-minute load average.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The `q` quantile (0.0 to 1.0) of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

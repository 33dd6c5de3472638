//! A running server on port 0 with its storage at hand, and raw HTTP helpers.

use std::sync::Arc;

use pocketbook_core::Notebook;
use pocketbook_core::model::*;
use pocketbook_core::sync::wire::*;
use pocketbook_server::admin::Admin;
use pocketbook_server::scope::Role;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{AuditEvent, AuditQuery, OfficerRow, Storage};

/// A device's credential as enrolment returned it.
pub struct Enrolled {
    pub token: String,
    pub device_id: String,
}
use pocketbook_server::{Clock, RunningServer, ServerConfig};

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub storage: Arc<dyn Storage>,
    pub server: Option<RunningServer>,
    pub http: reqwest::Client,
    /// The server's clock: codes and admin operations use it too.
    pub clock: Clock,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with_clock(Clock::system()).await
    }

    /// A server whose time is `clock`'s (tests move it instead of sleeping).
    pub async fn start_with_clock(clock: Clock) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path()).unwrap());
        Self::start_on(dir, storage, clock).await
    }

    /// A server on PostgreSQL (a fresh schema of the test database), or
    /// `None`, having said so, when no test database is configured
    /// (`storage::postgres::testdb`).
    pub async fn start_on_postgres() -> Option<Self> {
        use pocketbook_server::storage::postgres::testdb;
        if !testdb::available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(off_runtime(|| testdb::open(dir.path())));
        Some(Self::start_on(dir, storage, Clock::system()).await)
    }

    /// A server on `storage`, its config in `dir`.
    pub async fn start_on(dir: tempfile::TempDir, storage: Arc<dyn Storage>, clock: Clock) -> Self {
        pocketbook_core::sync::client::install_crypto_provider();
        let mut config = ServerConfig::for_tests(dir.path());
        config.clock = clock.clone();
        let server = pocketbook_server::start_with(config, storage.clone())
            .await
            .unwrap();
        TestServer {
            dir,
            storage,
            server: Some(server),
            http: reqwest::Client::new(),
            clock,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.as_ref().unwrap().url())
    }

    pub fn add_officer(&self, number: &str, station: &str) {
        self.add_officer_as(number, station, Role::Officer);
    }

    pub fn add_officer_as(&self, number: &str, station: &str, role: Role) {
        off_runtime(|| {
            self.storage
                .add_officer(
                    &OfficerRow {
                        shoulder_number: number.into(),
                        name: format!("Officer {number}"),
                        station: station.into(),
                        role,
                        active: true,
                    },
                    &self.clock.stamp(),
                    &[],
                )
                .unwrap()
        });
    }

    /// A fresh enrolment code for an officer, valid for `seconds`.
    pub fn code(&self, officer: &str, seconds: i64) -> String {
        let code = pocketbook_server::auth::new_enrolment_code();
        let canonical = pocketbook_server::auth::normalise_code(&code).unwrap();
        off_runtime(|| {
            self.storage
                .add_enrolment_code(
                    &pocketbook_server::auth::hash(&canonical),
                    officer,
                    self.clock.now().timestamp() + seconds,
                    &self.clock.stamp(),
                    &[],
                )
                .unwrap()
        });
        code
    }

    /// Enrols a device for the officer (adding them if needed); returns its token.
    pub async fn device(&self, officer: &str, station: &str) -> String {
        self.enrol(officer, station, Role::Officer).await.token
    }

    /// Enrols a device for an officer of this role (adding them if needed).
    pub async fn enrol(&self, officer: &str, station: &str, role: Role) -> Enrolled {
        if off_runtime(|| self.storage.officer(officer).unwrap()).is_none() {
            self.add_officer_as(officer, station, role);
        }
        let code = self.code(officer, 600);
        let response = self
            .http
            .post(self.url(ENROL_PATH))
            .json(&EnrolRequest {
                protocol: PROTOCOL_VERSION,
                code,
                device_label: "test".into(),
                notebook_officer: None,
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let enrolled: EnrolResponse = response.json().await.unwrap();
        Enrolled {
            token: enrolled.token,
            device_id: enrolled.device_id,
        }
    }

    /// The admin operations over this server's store, as the CLI runs them.
    pub fn admin(&self) -> Admin {
        Admin::new(self.storage.clone(), self.clock.clone())
            .with_retention(pocketbook_server::retention::RetentionPolicy::default())
    }

    /// Audit events of one action, oldest first.
    pub fn audit(&self, action: &str) -> Vec<AuditEvent> {
        off_runtime(|| {
            self.storage
                .audit_events(&AuditQuery {
                    action: Some(action.into()),
                    limit: 10_000,
                    ..AuditQuery::default()
                })
                .unwrap()
        })
    }

    pub async fn post_raw(&self, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        self.post_to(SYNC_PATH, token, body).await
    }

    pub async fn post_to(
        &self,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn sync(&self, token: &str, request: &SyncRequest) -> SyncResponse {
        let response = self
            .post_raw(Some(token), serde_json::to_vec(request).unwrap())
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// Runs blocking storage work from a test: on a multi-threaded runtime
/// off its worker (the PostgreSQL driver blocks on a runtime of its own,
/// which may not start inside another), else in place.
/// Stops a server process as a service manager would (SIGTERM), checks it
/// exited cleanly, and returns what it logged on stderr.
pub fn stop_and_read_logs(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(child.wait().unwrap().success());
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    logs
}

pub fn off_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

pub fn request(cursor: Option<u64>, push: Vec<PushedRecord>) -> SyncRequest {
    SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor,
        push,
        page_size: None,
    }
}

pub use pocketbook_fixtures::{changes_of, notebook_of, officer};

/// The fixtures' search, as the server tests have always recorded it: an
/// arrest, the place typed without a position.
pub fn stop_search() -> StopSearch {
    StopSearch {
        location: pocketbook_fixtures::street("High Street"),
        gender: None,
        age_range: None,
        self_defined_ethnicity: None,
        officer_defined_ethnicity: None,
        grounds: "Seen passing packages".into(),
        outcome: Outcome::Arrest,
        outcome_linked_to_object_of_search: Some(true),
        conduct: Conduct::default(),
        ..pocketbook_fixtures::stop_search()
    }
}

/// A notebook of `officer` (of Lewisham, named as `add_officer` names
/// them) in its own directory, for building real documents.
pub fn notebook(officer_number: &str) -> (tempfile::TempDir, Arc<Notebook>) {
    notebook_of(officer(officer_number))
}

/// A new stop and search by `officer`, as a push of its whole document.
pub fn new_search(nb: &Notebook) -> PushedRecord {
    let record = nb.create_stop_search(stop_search()).unwrap();
    PushedRecord {
        record_id: record.header.id.clone(),
        kind: RecordKind::StopSearch,
        changes: changes_of(nb, &record.header.id),
    }
}

/// A scene attendance opened by an emergency call.
pub fn scene() -> SceneInput {
    pocketbook_fixtures::emergency_scene()
}

/// One sync round trip without a `TestServer` borrow, for spawned tasks.
pub async fn sync_with(
    http: reqwest::Client,
    url: String,
    token: String,
    request: SyncRequest,
) -> SyncResponse {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

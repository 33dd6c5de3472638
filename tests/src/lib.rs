//! The end-to-end harness: a station (a real server on a loopback port with
//! its own data directory, serving HTTPS with a certificate made for it:
//! [`tls`]), officers, and device cores enrolled by the enrolment link
//! with the station's pin, that sync with it through the same API the apps
//! use. Also a TCP proxy that can cut
//! a response half way, to play a mobile link that drops. The fault suites
//! add the real binaries as child processes ([`process`]), a
//! fault-injecting proxy ([`proxy`]), a proxy that runs a test's hook
//! while one request is in flight ([`intercept`]) and a sync storm with its ledger of
//! acknowledged edits ([`storm`]).

#![forbid(unsafe_code)]

pub mod inputs;
pub mod intercept;
pub mod process;
pub mod proxy;
pub mod storm;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use pocketbook_core::Notebook;
use pocketbook_server::admin::Admin;
pub use pocketbook_server::scope::Role;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{AuditEvent, AuditQuery, Storage};
use pocketbook_server::{Clock, RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running server and an admin's connection to its store.
pub struct Station {
    pub data: tempfile::TempDir,
    /// The admin's view of the store (a second connection, as the admin CLI has).
    pub admin: Arc<dyn Storage>,
    server: Option<RunningServer>,
    addr: SocketAddr,
    /// Seconds the station's clock runs ahead of real time.
    ahead: Arc<AtomicI64>,
    /// The server's certificate, when it serves HTTPS.
    tls: Option<tls::StationTls>,
    /// The pins the server announces in its sync answers.
    next_pins: Vec<String>,
}

/// How a station serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// HTTPS with a certificate made for the station; devices are
    /// enrolled with its pin (the default, as in production).
    Https,
    /// HTTPS, and the server announces the pin of the key it will rotate
    /// to ([`Station::rotate_certificate`]) in every sync answer.
    HttpsAnnouncingNextKey,
    /// Plain HTTP, for a proxy that reads the requests between device and
    /// server ([`proxy`], [`intercept`]) and for the browser test.
    PlainHttp,
}

impl Station {
    /// A station serving HTTPS ([`Serving::Https`]).
    pub async fn start() -> Self {
        Self::start_serving(Serving::Https).await
    }

    pub async fn start_serving(serving: Serving) -> Self {
        pocketbook_core::sync::client::install_crypto_provider();
        let data = tempfile::tempdir().expect("data dir");
        let ahead = Arc::new(AtomicI64::new(0));
        let tls = (serving != Serving::PlainHttp).then(tls::StationTls::make);
        let next_pins = match (&tls, serving) {
            (Some(tls), Serving::HttpsAnnouncingNextKey) => vec![tls.next_pin().to_string()],
            _ => Vec::new(),
        };
        let mut config = Self::config(data.path(), &ahead);
        config.tls = tls.as_ref().map(tls::StationTls::files);
        config.next_pins = next_pins.clone();
        let server = pocketbook_server::start(config)
            .await
            .expect("server starts");
        let addr = server.addr;
        let admin = Arc::new(SqliteStorage::open(data.path()).expect("admin store"));
        Station {
            data,
            admin,
            server: Some(server),
            addr,
            ahead,
            tls,
            next_pins,
        }
    }

    fn config(data: &std::path::Path, ahead: &Arc<AtomicI64>) -> ServerConfig {
        let mut config = ServerConfig::for_tests(data);
        config.clock = Self::clock_of(ahead);
        config
    }

    /// The pin of the key the server serves now (HTTPS stations).
    pub fn pin(&self) -> Option<pocketbook_core::tls_pin::Pin> {
        self.tls.as_ref().map(tls::StationTls::pin)
    }

    /// Moves the server to its next key as an operator would: the new
    /// certificate and key are written over the served files and the
    /// process gets SIGHUP; returns once new handshakes show the new key.
    pub async fn rotate_certificate(&mut self) {
        let tls = self.tls.as_mut().expect("an HTTPS station");
        tls.rotate();
        tls::hang_up();
        tls::wait_until_served(&format!("https://{}", self.addr), tls.pin()).await;
    }

    /// Moves the server to its next key by writing the files and
    /// restarting it: the only way onto a key never announced, which a
    /// SIGHUP refuses (no device would trust it).
    pub async fn restart_on_next_key(&mut self) {
        self.tls.as_mut().expect("an HTTPS station").rotate();
        self.kill().await;
        self.restart().await;
    }

    /// An HTTP client trusting this station's certificate (or plain).
    pub fn http_client(&self) -> reqwest::Client {
        match &self.tls {
            Some(tls) => tls.client(),
            None => reqwest::Client::new(),
        }
    }

    fn clock_of(ahead: &Arc<AtomicI64>) -> Clock {
        let ahead = ahead.clone();
        Clock::new(move || {
            chrono::Utc::now() + chrono::TimeDelta::seconds(ahead.load(Ordering::SeqCst))
        })
    }

    /// Moves the station's clock (server and admin) forward, without sleeping.
    pub fn advance(&self, by: chrono::TimeDelta) {
        self.ahead.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        self.url_at(self.addr)
    }

    /// The URL of this station reached at `addr` (a byte-relaying proxy
    /// in front of it): the same scheme as the station's.
    pub fn url_at(&self, addr: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{addr}")
    }

    /// The server's loopback address, for a proxy in front of it.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills the server as a crash would (in-flight requests dropped).
    pub async fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill().await;
        }
    }

    /// Starts the server again on the same address and data.
    pub async fn restart(&mut self) {
        let mut config = Self::config(self.data.path(), &self.ahead);
        config.listen = self.addr;
        config.tls = self.tls.as_ref().map(tls::StationTls::files);
        config.next_pins = self.next_pins.clone();
        self.server = Some(
            pocketbook_server::start(config)
                .await
                .expect("server restarts"),
        );
    }

    pub fn add_officer(&self, number: &str, station: &str) {
        self.add_officer_as(number, station, Role::Officer);
    }

    pub fn add_officer_as(&self, number: &str, station: &str, role: Role) {
        self.admin_service()
            .add_officer(number, &format!("Officer {number}"), station, role)
            .expect("officer added");
    }

    /// The audit events of one action, oldest first.
    pub fn audit(&self, action: &str) -> Vec<AuditEvent> {
        self.admin
            .audit_events(&AuditQuery {
                action: Some(action.into()),
                limit: 10_000,
                ..AuditQuery::default()
            })
            .expect("audit trail read")
    }

    /// The audited admin operations, as `pocketbook-server admin` runs them.
    pub fn admin_service(&self) -> Admin {
        Admin::new(self.admin.clone(), Self::clock_of(&self.ahead))
    }

    /// A one-time code, as `admin device enrol` prints it.
    pub fn enrolment_code(&self, officer: &str) -> String {
        self.admin_service()
            .issue_enrolment_code(officer, 15)
            .expect("code issued")
            .code
    }

    /// Enrols a new device of `officer` against `server_url` (this station
    /// or a proxy). Over HTTPS the device enrols as an officer's app does,
    /// from the enrolment link the server prints (`admin device enrol`),
    /// which carries the pin of the station's key.
    pub async fn device_via(&self, officer: &str, server_url: &str) -> Device {
        let dir = tempfile::tempdir().expect("device dir");
        let label = format!("e2e {}", uuid::Uuid::new_v4());
        let code = self.enrolment_code(officer);
        let (server_url, code) = match self.pin() {
            Some(pin) => {
                let settings = pocketbook_server::link::LinkSettings {
                    public_url: Some(server_url.to_string()),
                    pin: Some(pin.to_string()),
                    ..Default::default()
                };
                let link = pocketbook_server::link::enrolment_link(&settings, &code, &mut |_| {})
                    .expect("enrolment link")
                    .expect("a public URL gives a link");
                let link = pocketbook_core::sync::client::EnrolmentLink::parse(&link)
                    .expect("the device reads the link");
                (link.server_url, link.code)
            }
            None => (server_url.to_string(), code),
        };
        let notebook = pocketbook_core::api::enrol_device(
            dir.path().display().to_string(),
            server_url,
            code,
            label.clone(),
        )
        .await
        .expect("device enrols");
        let device_id = self
            .admin
            .devices()
            .expect("devices listed")
            .into_iter()
            .find(|d| d.label == label)
            .expect("the enrolled device is listed")
            .id;
        Device {
            dir,
            notebook,
            device_id,
        }
    }

    pub async fn device(&self, officer: &str) -> Device {
        let url = self.url();
        self.device_via(officer, &url).await
    }
}

/// A device core with its own store directory.
pub struct Device {
    /// The device's store directory.
    pub dir: tempfile::TempDir,
    pub notebook: Arc<Notebook>,
    /// The server's id for this device (`admin device list`).
    pub device_id: String,
}

impl std::ops::Deref for Device {
    type Target = Notebook;
    fn deref(&self) -> &Notebook {
        &self.notebook
    }
}

/// A TCP proxy in front of the server. While `cut_after` is non-zero, each
/// response is cut after that many bytes and the connection closed. It
/// relays bytes, so TLS passes through it untouched (reach an HTTPS
/// station through it at [`Station::url_at`]); a cut counts handshake
/// bytes too, so the tests that cut responses use a plain-http station.
pub struct FlakyLink {
    pub addr: SocketAddr,
    cut_after: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyLink {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let cut_after = Arc::new(AtomicUsize::new(0));
        let cut = cut_after.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let limit = cut.load(Ordering::SeqCst);
                tokio::spawn(relay(client, upstream, limit));
            }
        });
        FlakyLink {
            addr,
            cut_after,
            task,
        }
    }

    /// The link's plain-http URL (a station serving HTTPS is reached
    /// through it at [`Station::url_at`] with the link's address).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut every response after `bytes` bytes (0: pass everything).
    pub fn cut_responses_after(&self, bytes: usize) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }
}

impl Drop for FlakyLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, cut_after: usize) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upload = tokio::io::copy(&mut client_read, &mut server_write);
    let download = async {
        let mut sent = 0;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let n = if cut_after > 0 {
                n.min(cut_after - sent)
            } else {
                n
            };
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            sent += n;
            if cut_after > 0 && sent >= cut_after {
                break; // the link drops mid-response
            }
        }
    };
    tokio::select! {
        _ = upload => {},
        () = download => {},
    }
}

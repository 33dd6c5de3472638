//! The edge under hostile clients, on a real server on loopback: slow and
//! idle sockets, trickled and oversized bodies, more requests than turns,
//! floods of throttled attempts, many clients each within its limits, and
//! clients behind a reverse proxy.
//!
//! Loopback has a whole /8, so "different clients" are different source
//! addresses (127.0.0.2, 127.0.0.3, ...). No test asserts a duration: the
//! timeouts are set short through the config, and each test waits with a
//! generous bound for what must happen.

mod budget;
mod load;
mod proxies;
mod sockets;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pocketbook_core::sync::wire::*;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{AuditEvent, AuditQuery, OfficerRow, Storage};
use pocketbook_server::{RunningServer, ServerConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Long enough for anything that should happen "soon" on a loaded machine.
const GENEROUS: Duration = Duration::from_secs(30);

struct Edge {
    _dir: tempfile::TempDir,
    storage: Arc<dyn Storage>,
    server: Option<RunningServer>,
    addr: SocketAddr,
}

impl Edge {
    async fn start(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        pocketbook_core::sync::client::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path()).unwrap());
        let mut config = ServerConfig::for_tests(dir.path());
        configure(&mut config);
        let server = pocketbook_server::start_with(config, storage.clone())
            .await
            .unwrap();
        Edge {
            _dir: dir,
            storage,
            addr: server.addr,
            server: Some(server),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server (which writes the pending rate-limit summaries).
    async fn stop(&mut self) {
        self.server.take().unwrap().shutdown().await.unwrap();
    }

    fn audit(&self, action: &str) -> Vec<AuditEvent> {
        self.storage
            .audit_events(&AuditQuery {
                action: Some(action.into()),
                limit: 100_000,
                ..AuditQuery::default()
            })
            .unwrap()
    }

    fn audit_count(&self) -> usize {
        self.storage
            .audit_events(&AuditQuery {
                limit: 100_000,
                ..AuditQuery::default()
            })
            .unwrap()
            .len()
    }

    async fn health(&self, http: &reqwest::Client) -> u16 {
        http.get(self.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// An HTTP client whose connections come from `ip` (a loopback address).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A raw connection from `ip`.
async fn socket_from(ip: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(ip.parse().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection (EOF or reset), within
/// [`GENEROUS`]; returns what it sent. Panics if it stays open.
async fn until_closed(socket: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(GENEROUS, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&seen).into_owned()
}

/// The value of one metric line (`name{labels}` exactly), 0 if absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn metrics(http: &reqwest::Client, url: String) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// `n` copy attempts with a malformed reference (each counts against the
/// client), `workers` at a time, from `http`; returns the statuses.
async fn copy_attempts(
    http: &reqwest::Client,
    url: &str,
    n: usize,
    workers: usize,
    forwarded_for: impl Fn(usize) -> Option<String>,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for batch in (0..n).collect::<Vec<_>>().chunks(workers) {
        let mut set = tokio::task::JoinSet::new();
        for &i in batch {
            let mut request = http
                .post(url)
                .json(&json!({"reference": "nonsense", "date": "2026-11-28"}));
            if let Some(header) = forwarded_for(i) {
                request = request.header("x-forwarded-for", header);
            }
            set.spawn(async move {
                let answer = request.send().await.unwrap();
                let status = answer.status().as_u16();
                if status == 429 {
                    assert!(answer.headers().contains_key("retry-after"));
                }
                status
            });
        }
        while let Some(status) = set.join_next().await {
            statuses.push(status.unwrap());
        }
    }
    statuses
}

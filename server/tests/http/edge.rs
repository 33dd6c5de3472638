//! The edge under hostile clients, on a real server on loopback: slow and
//! idle sockets, trickled and oversized bodies, more requests than turns,
//! floods of throttled attempts, and clients behind a reverse proxy.
//!
//! Loopback has a whole /8, so "different clients" are different source
//! addresses (127.0.0.2, 127.0.0.3, ...). No test asserts a duration: the
//! timeouts are set short through the config, and each test waits with a
//! generous bound for what must happen.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_slow_and_idle_sockets_are_closed_and_health_still_answers() {
    const SLOW: usize = 300;
    const PER_CLIENT: usize = 20;
    let server = Edge::start(|config| {
        config.limits.header_read = Duration::from_millis(500);
        config.limits.max_connections_per_client = PER_CLIENT;
    })
    .await;
    // Half send part of a request head and stall; half send nothing.
    let mut sockets = Vec::new();
    for i in 0..SLOW {
        let mut socket = socket_from("127.0.0.2", server.addr).await;
        if i % 2 == 0 {
            socket
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: pocketbook\r\nX-Slow: ")
                .await
                .unwrap();
        }
        sockets.push(socket);
    }

    // Another client is served at once, while the slow ones are held.
    let http = reqwest::Client::new();
    assert_eq!(server.health(&http).await, 200);
    let seen = metrics(&http, server.url("/metrics")).await;
    let open = metric(&seen, "pocketbook_http_connections_open");
    assert!(
        (1.0..=(PER_CLIENT + 2) as f64).contains(&open),
        "{open} connections open"
    );

    // Every slow socket is closed by the server: those past the client's
    // share at once (told 503), the rest when their header time is up.
    let mut told_busy = 0;
    for socket in &mut sockets {
        let said = until_closed(socket).await;
        if said.starts_with("HTTP/1.1 503") {
            told_busy += 1;
        }
        assert!(
            said.is_empty() || said.starts_with("HTTP/1.1 503") || said.starts_with("HTTP/1.1 408"),
            "{said}"
        );
    }
    let seen = metrics(&http, server.url("/metrics")).await;
    assert!(
        metric(
            &seen,
            r#"pocketbook_throttled_total{limit="connections-per-client"}"#
        ) >= (SLOW - PER_CLIENT) as f64,
        "{seen}"
    );
    assert!(told_busy > 0);
    assert!(metric(&seen, "pocketbook_http_connections_open") <= 2.0);
    assert_eq!(server.health(&http).await, 200);
}

#[tokio::test]
async fn a_trickled_body_gets_408_and_an_oversized_one_413_while_others_are_served() {
    let server = Edge::start(|config| {
        config.limits.body_read = Duration::from_millis(500);
    })
    .await;
    let http = reqwest::Client::new();

    // Headers promise 200 bytes; 20 arrive, then nothing.
    let mut slow = socket_from("127.0.0.2", server.addr).await;
    slow.write_all(
        format!(
            "POST {ENROL_PATH} HTTP/1.1\r\nHost: pocketbook\r\nContent-Type: application/json\r\n\
             Content-Length: 200\r\n\r\n{{\"protocol\": 1, \"co"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(server.health(&http).await, 200);
    let said = until_closed(&mut slow).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("\"error\":\"request-timeout\""), "{said}");

    // Enrolment takes about 4 KB, whether declared or streamed.
    let big = json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ", "device_label": "x".repeat(5000)});
    let declared = http
        .post(server.url(ENROL_PATH))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    let error: ErrorBody = declared.json().await.unwrap();
    assert_eq!(error.error, "too-large");
    let mut chunked = socket_from("127.0.0.2", server.addr).await;
    let body = big.to_string();
    chunked
        .write_all(
            format!(
                "POST {ENROL_PATH} HTTP/1.1\r\nHost: pocketbook\r\nContent-Type: application/json\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let said = until_closed(&mut chunked).await;
    assert!(said.starts_with("HTTP/1.1 413"), "{said}");

    // A head larger than any honest one: 431, not a 500.
    let huge = http
        .get(server.url("/healthz"))
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 431);
    assert_eq!(server.health(&http).await, 200);
    // None of these reached the enrolment check.
    assert!(server.audit("enrolment-refused").is_empty());
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_wait_briefly_then_get_503() {
    let server = Edge::start(|config| {
        config.limits.max_concurrent_requests = 1;
        config.limits.queue_wait = Duration::from_millis(200);
        config.limits.body_read = GENEROUS;
    })
    .await;
    let http = reqwest::Client::new();
    // One enrolment holds the only turn while its body is still coming.
    let mut holder = socket_from("127.0.0.2", server.addr).await;
    holder
        .write_all(
            format!(
                "POST {ENROL_PATH} HTTP/1.1\r\nHost: pocketbook\r\nContent-Type: application/json\r\n\
                 Content-Length: 60\r\nConnection: close\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Let the server take the holder's request before the next one.
    let mut busy = None;
    for _ in 0..100 {
        let answer = http
            .post(server.url(ENROL_PATH))
            .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
            .send()
            .await
            .unwrap();
        if answer.status() == 503 {
            busy = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = busy.expect("a request beyond the limit is refused");
    assert_eq!(busy.headers()["retry-after"], "1");
    let error: ErrorBody = busy.json().await.unwrap();
    assert_eq!(error.error, "unavailable");
    // Health checks never wait for a turn.
    assert_eq!(server.health(&http).await, 200);

    // When the holder finishes, the next request is served.
    holder
        .write_all(format!("{:<59}", r#""protocol": 1, "code": "ZZZZZ-ZZZZZ"}"#).as_bytes())
        .await
        .unwrap();
    let said = until_closed(&mut holder).await;
    assert!(said.starts_with("HTTP/1.1 400"), "{said}");
    let after = http
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 400);
    let seen = metrics(&http, server.url("/metrics")).await;
    assert!(metric(&seen, r#"pocketbook_throttled_total{limit="busy"}"#) >= 1.0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_floods_are_counted_and_summarised_not_audited_one_by_one() {
    const COPIES: usize = 240;
    const ENROLS: usize = 200;
    let mut server = Edge::start(|_| {}).await;
    let attacker = client_from("127.0.0.2");
    let before = server.audit_count();

    let statuses = copy_attempts(&attacker, &server.url("/v1/copy"), COPIES, 40, |_| None).await;
    let throttled_copies = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(throttled_copies, COPIES - 20, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 400 || s == 429));

    let mut throttled_enrols = 0;
    for _ in 0..ENROLS {
        let answer = attacker
            .post(server.url(ENROL_PATH))
            .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
            .send()
            .await
            .unwrap();
        match answer.status().as_u16() {
            400 => {}
            429 => {
                throttled_enrols += 1;
                assert!(answer.headers().contains_key("retry-after"));
                let error: ErrorBody = answer.json().await.unwrap();
                assert_eq!(error.error, "too-many-attempts");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(throttled_enrols, ENROLS - 10);

    // Someone else is served meanwhile: their enrolment works.
    server
        .storage
        .add_officer(
            &OfficerRow {
                shoulder_number: "PC1".into(),
                name: "Officer PC1".into(),
                station: "Lewisham".into(),
                role: pocketbook_server::scope::Role::Officer,
                active: true,
            },
            "2026-11-28T12:00:00Z",
            &[],
        )
        .unwrap();
    let code = pocketbook_server::auth::new_enrolment_code();
    server
        .storage
        .add_enrolment_code(
            &pocketbook_server::auth::hash(
                &pocketbook_server::auth::normalise_code(&code).unwrap(),
            ),
            "PC1",
            chrono::Utc::now().timestamp() + 600,
            "2026-11-28T12:00:00Z",
            &[],
        )
        .unwrap();
    let honest = client_from("127.0.0.3")
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": 1, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(honest.status(), 200);

    let seen = metrics(&reqwest::Client::new(), server.url("/metrics")).await;
    assert_eq!(
        metric(&seen, r#"pocketbook_throttled_total{limit="copy-client"}"#),
        throttled_copies as f64
    );
    assert_eq!(
        metric(&seen, r#"pocketbook_throttled_total{limit="enrol-client"}"#),
        throttled_enrols as f64
    );

    // Hundreds of refusals added: the attempts within the limits, one
    // enrolment, and one summary per action.
    server.stop().await;
    let added = server.audit_count() - before;
    assert_eq!(added, 20 + 10 + 1 + 2, "audit events added");
    for (action, count) in [
        ("copy-refused", throttled_copies),
        ("enrolment-refused", throttled_enrols),
    ] {
        let summaries: Vec<_> = server
            .audit(action)
            .into_iter()
            .filter(|e| e.detail.get("summary").is_some())
            .collect();
        assert_eq!(summaries.len(), 1, "{action}");
        assert_eq!(summaries[0].detail["count"], count as u64);
        assert_eq!(
            summaries[0].detail["reasons"]["too-many-attempts"],
            count as u64
        );
        assert!(!summaries[0].detail.to_string().contains("127.0.0"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_clients_are_told_apart_and_forged_headers_are_ignored() {
    let server = Edge::start(|config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let url = server.url("/v1/copy");
    // The proxy (127.0.0.1) forwards client A's 21 attempts: the last is throttled...
    let proxy = reqwest::Client::new();
    let a = copy_attempts(&proxy, &url, 21, 21, |_| {
        Some("203.0.113.9, 198.51.100.1".into())
    })
    .await;
    assert_eq!(a.iter().filter(|&&s| s == 429).count(), 1, "{a:?}");
    // ... and client B, behind the same proxy, has a limit of their own.
    let b = copy_attempts(&proxy, &url, 1, 1, |_| Some("198.51.100.2".into())).await;
    assert_eq!(b, vec![400]);

    // A peer that is not a trusted proxy cannot pick its address: a new
    // X-Forwarded-For on every attempt changes nothing.
    let forger = client_from("127.0.0.3");
    let forged = copy_attempts(&forger, &url, 21, 21, |i| {
        Some(format!("198.51.100.{}", 100 + i))
    })
    .await;
    assert_eq!(
        forged.iter().filter(|&&s| s == 429).count(),
        1,
        "{forged:?}"
    );
    // Nor can it take the identity of a proxied client, or of the proxy.
    let spoof = copy_attempts(&forger, &url, 1, 1, |_| Some("198.51.100.2".into())).await;
    assert_eq!(spoof, vec![429]);
    let b_again = copy_attempts(&proxy, &url, 1, 1, |_| Some("198.51.100.2".into())).await;
    assert_eq!(b_again, vec![400]);
    assert_eq!(server.health(&proxy).await, 200);
}

#[tokio::test]
async fn metrics_can_have_their_own_address_and_are_then_not_public() {
    let server = Edge::start(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let http = reqwest::Client::new();
    assert_eq!(server.health(&http).await, 200);
    let public = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);

    let metrics_addr = server.server.as_ref().unwrap().metrics_addr.unwrap();
    assert_ne!(metrics_addr, server.addr);
    let own = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let text = own.text().await.unwrap();
    assert!(
        text.contains(r#"pocketbook_http_requests_total{endpoint="other",status="404"} 1"#),
        "{text}"
    );
    // The metrics address serves nothing else.
    let copy = http
        .post(format!("http://{metrics_addr}/v1/copy"))
        .json(&json!({"reference": "x", "date": "2026-11-28"}))
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_answers_is_cut_off() {
    // More answers than the loopback socket buffers of both ends can hold.
    const PIPELINED: usize = 10_000;
    let server = Edge::start(|config| {
        config.limits.write_stall = Duration::from_millis(500);
        // Idle keep-alive would close the connection too; keep it out of the way.
        config.limits.header_read = GENEROUS * 4;
    })
    .await;
    let http = reqwest::Client::new();
    let socket = socket_from("127.0.0.2", server.addr).await;
    let (mut read, mut write) = socket.into_split();
    let requests = "GET /copy HTTP/1.1\r\nHost: pocketbook\r\n\r\n".repeat(PIPELINED);
    // Written from a task: the server stops reading once its writes stall.
    let writer = tokio::spawn(async move { write.write_all(requests.as_bytes()).await });

    // The server gives the connection up without this side reading a byte.
    let gone = tokio::time::timeout(GENEROUS, async {
        loop {
            let seen = metrics(&http, server.url("/metrics")).await;
            if metric(&seen, "pocketbook_http_connections_open") <= 1.0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the stalled connection is still open");
    let mut answers = Vec::new();
    // What was already in flight can still be read; then the end.
    let ended = tokio::time::timeout(GENEROUS, read.read_to_end(&mut answers)).await;
    assert!(ended.is_ok(), "the connection ends");
    let answered = answers
        .windows(b"HTTP/1.1 200".len())
        .filter(|w| w == b"HTTP/1.1 200")
        .count();
    assert!(answered < PIPELINED, "{answered} answers");
    writer.abort();
    assert_eq!(server.health(&http).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_never_holds_more_connections_than_its_cap() {
    const CAP: usize = 40;
    const SLOW: usize = 160;
    let server = Edge::start(|config| {
        config.limits.header_read = Duration::from_millis(300);
        config.limits.max_connections = CAP;
        config.limits.max_connections_per_client = SLOW;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics_url = format!(
        "http://{}/metrics",
        server.server.as_ref().unwrap().metrics_addr.unwrap()
    );
    // Slow sockets from many addresses, more than the cap.
    let mut sockets = Vec::new();
    for i in 0..SLOW {
        let mut socket = socket_from(&format!("127.0.1.{}", i % 200 + 1), server.addr).await;
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        sockets.push(socket);
    }
    // While they come and go, the public listener holds at most its cap
    // (the metrics address has its own, hence the one extra).
    let http = reqwest::Client::new();
    let mut most = 0.0_f64;
    for _ in 0..20 {
        let seen = metrics(&http, metrics_url.clone()).await;
        most = most.max(metric(&seen, "pocketbook_http_connections_open"));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(most >= 1.0 && most <= (CAP + 1) as f64, "{most} open");
    // Health answers once the header timeout has turned the slots over,
    // and every slow socket is closed by the server.
    let health = tokio::time::timeout(GENEROUS, server.health(&http)).await;
    assert_eq!(health.expect("health answers"), 200);
    for socket in &mut sockets {
        until_closed(socket).await;
    }
}

#[tokio::test]
async fn throttled_refusals_are_summarised_each_window_while_the_server_runs() {
    let server = Edge::start(|config| {
        config.limits.audit_summary_every = Duration::from_millis(200);
    })
    .await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..15 {
        let answer = attacker
            .post(server.url(ENROL_PATH))
            .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
            .send()
            .await
            .unwrap();
        assert!([400, 429].contains(&answer.status().as_u16()));
    }
    // The five throttled attempts are summarised without a stop. On a
    // loaded machine the fifteen requests may span two windows, so the
    // counts are summed rather than expected in one event.
    let counted = |server: &Edge| -> Vec<u64> {
        server
            .audit("enrolment-refused")
            .into_iter()
            .filter_map(|e| e.detail.get("summary").and(e.detail.get("count")).cloned())
            .map(|count| count.as_u64().unwrap())
            .collect()
    };
    tokio::time::timeout(GENEROUS, async {
        while counted(&server).iter().sum::<u64>() < 5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the summaries within a few windows");
    // Windows with nothing refused write nothing.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let counts = counted(&server);
    assert_eq!(counts.iter().sum::<u64>(), 5, "{counts:?}");
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
}

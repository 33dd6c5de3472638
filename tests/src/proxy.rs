//! A fault-injecting HTTP/1.1 proxy on loopback, between devices and the
//! server: it drops, stalls, truncates, duplicates, delays and replays
//! requests and responses, and cuts connections mid-body, each chosen by a
//! seeded random generator.
//!
//! It works at the byte level, so what the device and the server see is
//! what a broken mobile link produces. It reads one whole request from the
//! client (head, then a `Content-Length` body: devices send nothing else),
//! forwards it on a fresh upstream connection with `Connection: close`, so
//! the response is every byte up to the server's close (chunked or not),
//! and then applies the fault. One request per client connection: the
//! forwarded response says `connection: close`, so the client opens a new
//! connection for its next request. It reads and rewrites HTTP, so it sits
//! between device and server on plain http (loopback): a station behind it
//! is started with `Serving::PlainHttp`, or is the server binary without
//! TLS ([`crate::process`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The request never reaches the server; the connection closes.
    DropRequest,
    /// The server handles the request; its response never arrives.
    DropResponse,
    /// Nothing happens until the client gives up (its read timeout).
    StallBeforeServer,
    /// The server handles the request, then nothing until the client gives up.
    StallAfterServer,
    /// The server gets part of the request body, then the connection closes.
    TruncateRequest,
    /// The client gets part of the response head, then the connection closes.
    TruncateResponseHead,
    /// The client gets the head and part of the body, then the connection closes.
    CutResponseBody,
    /// The server gets the request twice; the client the second answer.
    DuplicateRequest,
    /// The request waits, so requests sent after it reach the server first.
    DelayRequest,
    /// The response waits, so answers sent after it reach their client first.
    DelayResponse,
    /// Answered normally; later a stale copy of the request reaches the
    /// server again, after the client's newer requests (its answer is lost).
    ReplayLater,
}

impl Fault {
    /// Every fault, with its weight in the random choice. Stalls cost a
    /// client timeout each, so they are rarer.
    const WEIGHTED: [(Fault, u32); 11] = [
        (Fault::DropRequest, 10),
        (Fault::DropResponse, 14),
        (Fault::StallBeforeServer, 2),
        (Fault::StallAfterServer, 2),
        (Fault::TruncateRequest, 10),
        (Fault::TruncateResponseHead, 8),
        (Fault::CutResponseBody, 14),
        (Fault::DuplicateRequest, 12),
        (Fault::DelayRequest, 8),
        (Fault::DelayResponse, 8),
        (Fault::ReplayLater, 10),
    ];

    fn pick(rng: &mut StdRng) -> Fault {
        let total: u32 = Self::WEIGHTED.iter().map(|(_, w)| w).sum();
        let mut roll = rng.random_range(0..total);
        for (fault, weight) in Self::WEIGHTED {
            if roll < weight {
                return fault;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }
}

struct Shared {
    upstream: SocketAddr,
    rng: Mutex<StdRng>,
    /// Chance of a fault per request, in thousandths.
    rate_per_mille: AtomicU32,
    /// How long a stall lasts: longer than the clients' read timeout.
    stall: Duration,
    requests: AtomicU64,
    faults: Mutex<BTreeMap<Fault, u64>>,
    /// Replays and other work still running after their client was answered.
    in_flight: AtomicU64,
    /// Requests the proxy could not parse (must stay 0).
    unparsed: AtomicU64,
}

/// The proxy: listens on a loopback port, forwards to `upstream`.
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` with no faults yet; `stall` must
    /// outlast the clients' read timeout.
    pub async fn start(upstream: SocketAddr, seed: u64, stall: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            rate_per_mille: AtomicU32::new(0),
            stall,
            requests: AtomicU64::new(0),
            faults: Mutex::new(BTreeMap::new()),
            in_flight: AtomicU64::new(0),
            unparsed: AtomicU64::new(0),
        });
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(handle(client, state.clone()));
            }
        });
        FaultProxy { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The chance of a fault per request, from 0.0 (healthy) to 1.0.
    pub fn set_fault_rate(&self, rate: f64) {
        self.shared
            .rate_per_mille
            .store((rate * 1000.0).round() as u32, Ordering::SeqCst);
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Requests faulted so far, by fault.
    pub fn faults(&self) -> BTreeMap<Fault, u64> {
        self.shared.faults.lock().unwrap().clone()
    }

    /// Requests faulted so far.
    pub fn faulted(&self) -> u64 {
        self.faults().values().sum()
    }

    /// Requests that were not one `Content-Length` HTTP/1.1 request.
    pub fn unparsed(&self) -> u64 {
        self.shared.unparsed.load(Ordering::SeqCst)
    }

    /// Waits until no delayed replay or stall is still running.
    pub async fn settle(&self) {
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts work that outlives its client's answer, for [`FaultProxy::settle`].
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One request as read from the client, its head rewritten for upstream.
pub(crate) struct Request {
    pub(crate) head: Vec<u8>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn bytes(&self) -> Vec<u8> {
        [self.head.as_slice(), self.body.as_slice()].concat()
    }
}

async fn handle(mut client: TcpStream, shared: Arc<Shared>) {
    let _busy = InFlight::new(&shared);
    let request = match read_request(&mut client).await {
        Ok(Some(request)) => request,
        Ok(None) => return, // closed without a request (an idle connection)
        Err(()) => {
            shared.unparsed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let (fault, cut) = {
        let mut rng = shared.rng.lock().unwrap();
        let rate = shared.rate_per_mille.load(Ordering::SeqCst);
        let fault = (rng.random_range(0..1000) < rate).then(|| Fault::pick(&mut rng));
        (fault, rng.random_range(0.0..1.0f64))
    };
    if let Some(fault) = fault {
        *shared.faults.lock().unwrap().entry(fault).or_default() += 1;
    }
    let delay = shared.stall.mul_f64(cut / 2.0);
    match fault {
        None => {
            if let Some(response) = forward(shared.upstream, &request.bytes()).await {
                client.write_all(&response).await.ok();
            }
        }
        Some(Fault::DropRequest) => {}
        Some(Fault::DropResponse) => {
            forward(shared.upstream, &request.bytes()).await;
        }
        Some(Fault::StallBeforeServer) => {
            tokio::time::sleep(shared.stall).await;
        }
        Some(Fault::StallAfterServer) => {
            forward(shared.upstream, &request.bytes()).await;
            tokio::time::sleep(shared.stall).await;
        }
        Some(Fault::TruncateRequest) => {
            let keep = request.head.len() + (request.body.len() as f64 * cut) as usize;
            if let Ok(mut upstream) = TcpStream::connect(shared.upstream).await {
                upstream.write_all(&request.bytes()[..keep]).await.ok();
                // The link drops: the server sees the body end early.
            }
        }
        Some(Fault::TruncateResponseHead) => {
            if let Some(response) = forward(shared.upstream, &request.bytes()).await {
                let head = head_end(&response).unwrap_or(response.len());
                let keep = (head as f64 * cut) as usize;
                client.write_all(&response[..keep]).await.ok();
            }
        }
        Some(Fault::CutResponseBody) => {
            if let Some(response) = forward(shared.upstream, &request.bytes()).await {
                let head = head_end(&response).unwrap_or(response.len());
                let keep = head + ((response.len() - head) as f64 * cut) as usize;
                // At least the head, never the whole response.
                let keep = keep.min(response.len().saturating_sub(1)).max(head);
                client.write_all(&response[..keep]).await.ok();
            }
        }
        Some(Fault::DuplicateRequest) => {
            forward(shared.upstream, &request.bytes()).await;
            if let Some(response) = forward(shared.upstream, &request.bytes()).await {
                client.write_all(&response).await.ok();
            }
        }
        Some(Fault::DelayRequest) => {
            tokio::time::sleep(delay).await;
            if let Some(response) = forward(shared.upstream, &request.bytes()).await {
                client.write_all(&response).await.ok();
            }
        }
        Some(Fault::DelayResponse) => {
            if let Some(response) = forward(shared.upstream, &request.bytes()).await {
                tokio::time::sleep(delay).await;
                client.write_all(&response).await.ok();
            }
        }
        Some(Fault::ReplayLater) => {
            let bytes = request.bytes();
            if let Some(response) = forward(shared.upstream, &bytes).await {
                client.write_all(&response).await.ok();
            }
            let upstream = shared.upstream;
            let stall = shared.stall;
            let replay = InFlight::new(&shared);
            tokio::spawn(async move {
                let _replay = replay;
                tokio::time::sleep(stall.mul_f64(0.1 + cut)).await;
                forward(upstream, &bytes).await;
            });
        }
    }
    client.shutdown().await.ok();
}

/// Where the head ends (after the blank line), if it does.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Reads one request: `Ok(None)` if the client closed before sending any
/// byte, `Err` if it is not a `Content-Length` (or bodiless) HTTP/1.1
/// request. The head is rewritten with `Connection: close`.
pub(crate) async fn read_request(client: &mut TcpStream) -> Result<Option<Request>, ()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > 64 * 1024 {
            return Err(());
        }
        match tokio::time::timeout(Duration::from_secs(30), client.read(&mut chunk)).await {
            Ok(Ok(0)) if buf.is_empty() => return Ok(None),
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => {
                return if buf.is_empty() { Ok(None) } else { Err(()) };
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let text = std::str::from_utf8(&buf[..head]).map_err(|_| ())?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next().ok_or(())?;
    let mut length = 0usize;
    let mut rewritten = format!("{request_line}\r\n");
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(())?;
        let name_lower = name.trim().to_ascii_lowercase();
        match name_lower.as_str() {
            "content-length" => length = value.trim().parse().map_err(|_| ())?,
            "transfer-encoding" => return Err(()),
            "connection" | "keep-alive" => continue,
            _ => {}
        }
        rewritten.push_str(line);
        rewritten.push_str("\r\n");
    }
    rewritten.push_str("connection: close\r\n\r\n");
    let mut body = buf[head..].to_vec();
    while body.len() < length {
        match tokio::time::timeout(Duration::from_secs(30), client.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
            _ => return Err(()),
        }
    }
    if body.len() != length {
        return Err(()); // a second request pipelined behind the first
    }
    Ok(Some(Request {
        head: rewritten.into_bytes(),
        body,
    }))
}

/// Sends a request on a fresh connection and reads the response to the
/// server's close; `None` if the server cannot be reached or takes too long.
pub(crate) async fn forward(upstream: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let exchange = async {
        let mut server = TcpStream::connect(upstream).await.ok()?;
        server.write_all(request).await.ok()?;
        let mut response = Vec::new();
        server.read_to_end(&mut response).await.ok()?;
        Some(response)
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .ok()
        .flatten()
}

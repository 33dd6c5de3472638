//! A loopback HTTP proxy that runs a test's hook when a request for one
//! path arrives, before the server sees it: how a test makes something
//! happen while that request is in flight, deterministically, without
//! sleeping (the retire race in `tests/tests/e2e/retire.rs`).
//!
//! Requests are read and forwarded as the fault proxy does
//! ([`crate::proxy`]): one whole request per client connection, sent on a
//! fresh upstream connection with `Connection: close`. It reads HTTP, so
//! the station behind it serves plain http (`Serving::PlainHttp`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::proxy::{forward, read_request};

/// The hook a test runs while a request waits: ordinary blocking code
/// (a notebook call, say), run on tokio's blocking pool.
pub type Hook = Arc<dyn Fn() + Send + Sync>;

/// The proxy: listens on a loopback port, forwards to `upstream`, and runs
/// the hook before forwarding each request whose path is `path`.
pub struct Interceptor {
    pub addr: SocketAddr,
    fired: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Interceptor {
    pub async fn start(upstream: SocketAddr, path: &'static str, hook: Hook) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("interceptor binds");
        let addr = listener.local_addr().expect("interceptor address");
        let fired = Arc::new(AtomicU64::new(0));
        let count = fired.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(handle(client, upstream, path, hook.clone(), count.clone()));
            }
        });
        Interceptor { addr, fired, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many times the hook ran to its end.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Interceptor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    path: &'static str,
    hook: Hook,
    fired: Arc<AtomicU64>,
) {
    let Ok(Some(request)) = read_request(&mut client).await else {
        return;
    };
    let line = request
        .head
        .split(|b| *b == b'\r')
        .next()
        .unwrap_or_default();
    let target = String::from_utf8_lossy(line);
    if target.split(' ').nth(1) == Some(path) {
        tokio::task::spawn_blocking(move || hook())
            .await
            .expect("the hook runs");
        fired.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(response) = forward(upstream, &request.bytes()).await {
        client.write_all(&response).await.ok();
    }
    client.shutdown().await.ok();
}

//! The connection edge: accepting TCP connections and speaking HTTP/1.1 on
//! them, bounded so that slow, idle or numerous clients cannot hold the
//! server (issue: "no request timeouts or connection limits").
//!
//! - **Header read timeout** ([`Limits::header_read`]): a connection that
//!   does not deliver a request's complete headers in time, including a
//!   kept-alive connection sitting idle, is closed by hyper.
//! - **Header size**: at most [`MAX_HEAD_BYTES`] of request head; larger
//!   gets 431.
//! - **Slow readers** ([`Limits::write_stall`]): a client that stops
//!   reading its answer (so the server's writes cannot proceed) is cut off
//!   once a write has made no progress for that long ([`StallGuard`]).
//! - **Open connections** ([`Limits::max_connections`]): at the cap the
//!   server stops accepting until a connection closes, so it never holds
//!   more descriptors than that; the kernel's listen backlog holds the
//!   rest, and the header timeout keeps slots turning over.
//! - **Per client** ([`Limits::max_connections_per_client`]): one address
//!   (IPv6 by its /64) that already holds its share gets a canned 503 and
//!   is closed at once, so one client cannot fill the server. Trusted
//!   proxies are exempt (they multiplex everyone).
//! - **HTTP/1.1 only.** HTTP/2 belongs to a reverse proxy in front
//!   (README, "Behind a reverse proxy"). TLS is terminated either there
//!   or here ([`crate::tls`]), the handshake bounded by the header read
//!   timeout and run on the connection's own task.
//!
//! Body timeouts, the concurrency limit and body sizes are per request, in
//! [`super`]. The client address a request is attributed to is decided
//! here, once, by [`client_ip`], and put in the request's extensions as
//! [`ClientAddr`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::AppState;
use crate::config::Limits;
use crate::limit::client_network;
use crate::metrics::LimitLabels;

/// Largest request head (request line and headers) read: far above what
/// any honest client sends, far below hyper's default of about 400 KB.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The answer to a connection refused at the door, written without
/// waiting (it fits any socket buffer) just before the socket is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Retry-After: 5\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nConnection: close\r\n\r\n\
too many connections from this address\n";

/// The client a request is attributed to, for rate limits and the audit
/// key: see [`client_ip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client's address: the socket's peer, unless the peer is a trusted
/// proxy, in which case `X-Forwarded-For` is read from the right (the hop
/// the proxy itself added) leftwards, skipping trusted proxies, and the
/// first address that is not a trusted proxy is the client. Anything left
/// of it was written by the client and may be forged. An entry that is not
/// an address stops the walk at the last trusted hop. Without trusted
/// proxies the header is never read.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Connections held per client network, to enforce the per-client cap.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One held connection of a client; gives its place back when dropped.
struct ClientSlot {
    table: Arc<PerClient>,
    network: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, peer: IpAddr, cap: usize) -> Option<ClientSlot> {
        let network = client_network(peer);
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let held = table.entry(network).or_insert(0);
        if *held >= cap {
            return None;
        }
        *held += 1;
        Some(ClientSlot {
            table: self.clone(),
            network,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = table.get_mut(&self.network) {
            *held -= 1;
            if *held == 0 {
                table.remove(&self.network);
            }
        }
    }
}

/// Serves `router` on `listener` within the configured [`Limits`] until
/// `shutdown` completes; then stops accepting, lets requests in flight
/// finish (bounded by the timeouts), and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    tls: Option<Arc<crate::tls::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits: Limits = state.config.limits;
    let trusted: Arc<[IpNet]> = state.config.trusted_proxies.clone().into();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(MAX_HEAD_BYTES);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // taken: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let client_slot = if trusted
            .iter()
            .any(|net| net.contains(&canonical(peer.ip())))
        {
            None
        } else {
            match per_client.take(peer.ip(), limits.max_connections_per_client) {
                Some(slot) => Some(slot),
                None => {
                    refuse(stream);
                    state
                        .metrics
                        .throttled
                        .get_or_create(&LimitLabels {
                            limit: "connections-per-client",
                        })
                        .inc();
                    continue;
                }
            }
        };
        let router = router.clone();
        let trusted = trusted.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let client = client_ip(peer.ip(), request.headers(), &trusted);
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(ClientAddr(client));
            router.clone().oneshot(request)
        });
        let guarded = StallGuard::new(stream, limits.write_stall);
        // The certificate of the moment: a reload changes later handshakes only.
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        let watcher = graceful.watcher();
        let http = http.clone();
        let open = state.metrics.connections_open.clone();
        open.inc();
        tokio::spawn(async move {
            let served = match acceptor {
                None => {
                    let io = TokioIo::new(guarded);
                    watcher.watch(http.serve_connection(io, service)).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read, acceptor.accept(guarded)).await {
                        Ok(Ok(stream)) => {
                            let io = TokioIo::new(stream);
                            watcher.watch(http.serve_connection(io, service)).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = served {
                // Timeouts, resets and malformed heads end here; hyper has
                // already answered what could be answered.
                tracing::debug!(error = %e, "connection ended");
            }
            open.dec();
            drop(client_slot);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection whose writes fail with `TimedOut` once one has been
/// pending (the peer's receive window full: it stopped reading) for the
/// limit. Any progress resets the clock, so a slow but reading client is
/// never cut off.
pub struct StallGuard<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    pub fn new(inner: T, limit: Duration) -> Self {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes `polled` through, starting the stall clock when it is
    /// pending and stopping it on progress.
    fn guard<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if stalled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, polled)
    }
}

/// Tells a refused connection why, without waiting, and closes it.
fn refuse(stream: TcpStream) {
    // Best effort: a full buffer or a gone client changes nothing.
    if let Err(e) = stream.try_write(TOO_MANY_CONNECTIONS) {
        tracing::debug!(error = %e, "refused connection not told");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies_from_the_right() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Not from a proxy: the header is ignored.
        assert_eq!(
            client_ip(ip("192.0.2.1"), &forwarded("198.51.100.7"), &trusted),
            ip("192.0.2.1")
        );
        // From the proxy: the right-most untrusted hop, not the forged left one.
        assert_eq!(
            client_ip(proxy, &forwarded("1.2.3.4, 198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // Chained proxies are skipped.
        assert_eq!(
            client_ip(proxy, &forwarded("198.51.100.7, 10.1.1.1"), &trusted),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last trusted hop; no header: the proxy.
        assert_eq!(
            client_ip(proxy, &forwarded("198.51.100.7, junk"), &trusted),
            proxy
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(
            client_ip(proxy, &forwarded("::ffff:198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(proxy, &forwarded("198.51.100.7"), &[]),
            proxy,
            "no trusted proxies: never read"
        );
    }
}

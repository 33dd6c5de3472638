//! A sync answered with a redirect goes no further: the device never sends
//! its records (nor its token) to the `Location`'s host, keeps its changes,
//! and uploads them once its own server answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pocketbook_core::ApiError;
use pocketbook_tests::{Serving, Station};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use pocketbook_tests::inputs::*;

/// Accepts connections on `listener` until aborted, counting them, and
/// answers each first read with `answer`.
fn answering(
    listener: TcpListener,
    answer: String,
    reached: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            reached.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 65536];
                // The request's first bytes are enough to answer.
                if let Ok(0) | Err(_) = stream.read(&mut buf).await {
                    return;
                }
                stream.write_all(answer.as_bytes()).await.ok();
                stream.shutdown().await.ok();
            });
        }
    })
}

#[tokio::test]
async fn a_sync_answered_with_a_redirect_sends_nothing_elsewhere_and_keeps_the_changes() {
    let mut station = Station::start_serving(Serving::PlainHttp).await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    device.create_stop_account(stop_account()).unwrap();

    // Another host, and the server's address now answering 307 towards it.
    let elsewhere = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let target = format!("http://{}/v1/sync", elsewhere.local_addr().unwrap());
    let reached_elsewhere = Arc::new(AtomicUsize::new(0));
    let _elsewhere = answering(
        elsewhere,
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".into(),
        reached_elsewhere.clone(),
    );
    station.kill().await;
    let front = TcpListener::bind(station.addr()).await.unwrap();
    let reached_front = Arc::new(AtomicUsize::new(0));
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let accept = answering(front, redirect, reached_front.clone());

    let redirected = device.sync(None).await;
    // Its listener closed, so the server can have its address back.
    accept.abort();
    accept.await.ok();
    assert!(
        matches!(&redirected, Err(ApiError::Protocol { detail }) if detail.contains("redirect")),
        "{redirected:?}"
    );
    assert!(
        reached_front.load(Ordering::SeqCst) > 0,
        "the device asked its server"
    );
    assert_eq!(
        reached_elsewhere.load(Ordering::SeqCst),
        0,
        "the device followed the redirect"
    );

    // Its own server back: the change kept is uploaded.
    station.restart().await;
    let synced = device.sync(None).await.unwrap();
    assert_eq!(synced.acknowledged, 1);
    assert_eq!(station.admin.records().unwrap().len(), 1);
}

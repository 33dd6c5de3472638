//! A device never follows an HTTP redirect: the answer to a request is the
//! server's own or an error. A 307 or 308 would send the request's body
//! (the one-time enrolment code, or a sync's record contents) again to
//! wherever the `Location` header says, over plain `http://` to any host,
//! past the pin and the loopback-only rule; and the answer from there would
//! be taken as the server's.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pocketbook_core::ApiError;
use pocketbook_core::api::enrol_device_with_network;
use pocketbook_core::sync::client::NetworkSettings;

/// Reads one request's head and body (by its content length).
fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return bytes;
        }
        bytes.extend_from_slice(&buf[..n]);
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            if bytes.len() >= end + 4 + length {
                return bytes;
            }
        }
    }
}

/// A listener on another loopback host that counts every connection made
/// to it and keeps what it was sent.
fn elsewhere() -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.2:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (reached, received) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let (count, keep) = (reached.clone(), received.clone());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let request = read_request(&mut stream);
            keep.lock().unwrap().extend_from_slice(&request);
            // The device may have gone: a failed write is no failure here.
            stream
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                .ok();
        }
    });
    (format!("http://{address}"), reached, received)
}

/// The device's server on loopback: answers every request with `status`
/// and a `Location` pointing at `target`.
fn redirecting(status: &str, target: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let status = status.to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            read_request(&mut stream);
            let answer = format!(
                "HTTP/1.1 {status}\r\nlocation: {target}/v1/enrol\r\ncontent-length: 0\r\n\r\n"
            );
            stream.write_all(answer.as_bytes()).ok();
        }
    });
    url
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_enrolment_code_goes_nowhere_else() {
    for status in [
        "307 Temporary Redirect",
        "308 Permanent Redirect",
        "302 Found",
    ] {
        let (target, reached, received) = elsewhere();
        let server = redirecting(status, target);
        let dir = tempfile::tempdir().unwrap();
        let result = enrol_device_with_network(
            dir.path().display().to_string(),
            server,
            "ABCDE-FGHJK".into(),
            "test".into(),
            NetworkSettings {
                connect_timeout: Duration::from_secs(5),
                read_timeout: Duration::from_secs(5),
                overall_timeout: Duration::from_secs(10),
            },
        )
        .await;
        let received = String::from_utf8_lossy(&received.lock().unwrap()).into_owned();
        assert_eq!(
            reached.load(Ordering::SeqCst),
            0,
            "{status}: the device followed the redirect and sent {received:?}"
        );
        match result {
            Err(ApiError::Protocol { detail }) => {
                assert!(detail.contains("redirect"), "{status}: {detail}")
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

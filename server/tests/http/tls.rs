//! The server terminating TLS itself: `serve --tls-cert --tls-key` answers
//! over HTTPS, and a SIGHUP swaps the certificate for new handshakes while
//! a connection already open goes on being served; a broken file on reload
//! keeps the certificate in use.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

/// A self-signed certificate for the loopback address: (cert PEM, key PEM, DER).
fn certificate() -> (String, String, CertificateDer<'static>) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (
        made.cert.pem(),
        made.signing_key.serialize_pem(),
        made.cert.der().clone(),
    )
}

/// A TLS connection trusting `roots`, and the certificate it was shown.
async fn connect(
    addr: &str,
    roots: &[CertificateDer<'static>],
) -> (TlsStream<tokio::net::TcpStream>, CertificateDer<'static>) {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let shown = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    (stream, shown)
}

/// One `GET /healthz` on a kept-alive connection; the status code.
async fn health(stream: &mut TlsStream<tokio::net::TcpStream>) -> u16 {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection was closed");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text[9..12].parse().unwrap();
            }
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn https_with_the_certificate_reloaded_on_sighup_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (first_pem, first_key, first) = certificate();
    let (second_pem, second_key, second) = certificate();
    std::fs::write(&cert_path, &first_pem).unwrap();
    std::fs::write(&key_path, &first_key).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&key_path)
        .env_remove("POCKETBOOK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let url = ready.split_whitespace().nth(3).unwrap().to_string();
    let addr = url.strip_prefix("https://").expect(&ready).to_string();
    let roots = [first.clone(), second.clone()];

    let (mut open, shown) = connect(&addr, &roots).await;
    assert_eq!(shown, first);
    assert_eq!(health(&mut open).await, 200);

    // Renewal: new files, then SIGHUP.
    std::fs::write(&cert_path, &second_pem).unwrap();
    std::fs::write(&key_path, &second_key).unwrap();
    let hup = |pid: u32| {
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    hup(child.id());
    let mut renewed = false;
    for _ in 0..100 {
        if connect(&addr, &roots).await.1 == second {
            renewed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(renewed, "new handshakes get the new certificate");
    // The connection opened before the reload is still served.
    assert_eq!(health(&mut open).await, 200);

    // A broken file on reload: refused, the certificate in use stays.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    hup(child.id());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (mut fresh, shown) = connect(&addr, &roots).await;
    assert_eq!(shown, second);
    assert_eq!(health(&mut fresh).await, 200);
    assert!(child.try_wait().unwrap().is_none(), "still serving");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_refuses_a_certificate_without_its_key_or_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, certificate().0).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .env_remove("POCKETBOOK_TLS_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "no key here").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS key"), "{stderr}");
}

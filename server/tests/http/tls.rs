//! HTTPS end to end. The server terminating TLS itself: `serve --tls-cert
//! --tls-key` answers over HTTPS, and a SIGHUP to an announced key swaps the certificate for
//! new handshakes while a connection already open goes on being served; a
//! broken file on reload keeps the certificate in use. A device enrolled
//! with the enrolment link trusts exactly the pinned keys: it syncs over
//! HTTPS, a server showing another key gets no byte of the token, and a
//! configured certificate authority is honoured.

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
        // The rotation as documented: the next key is announced first.
        .arg("--tls-next-pin")
        .arg(Pin::of_certificate(second.as_ref()).unwrap().to_string())
        .env_remove("POCKETBOOK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = crate::tls_dates::served_address(&mut child);
    let roots = [first.clone(), second.clone()];

    let (mut open, shown) = connect(&addr, &roots).await;
    assert_eq!(shown, first);
    assert_eq!(health(&mut open).await, 200);

    // The change of key: new files, then SIGHUP.
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

// --- Devices over HTTPS, pinned at enrolment -------------------------------

use pocketbook_core::Notebook;
use pocketbook_core::api::enrol_with_link;
use pocketbook_core::sync::client::OfflineCause;
use pocketbook_core::sync::client::{
    ClientError, NetworkSettings, SyncClient, TlsTrust, pinned_url,
};
use pocketbook_core::tls_pin::Pin;
use pocketbook_server::link::{LinkSettings, enrolment_link};
use pocketbook_server::{Admin, Clock, Role, ServerConfig};

use crate::support::{request, stop_search};

const KEY: [u8; 32] = [0x42; 32];

/// A server terminating TLS with a fresh certificate; its URL, the cert
/// file and the admin.
async fn https_server(
    dir: &std::path::Path,
) -> (pocketbook_server::RunningServer, std::path::PathBuf, Admin) {
    pocketbook_core::sync::client::install_crypto_provider();
    let (pem, key, _) = certificate();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, pem).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let mut config = ServerConfig::for_tests(&dir.join("data"));
    config.tls = Some(pocketbook_server::tls::TlsFiles {
        cert: cert_path.clone(),
        key: key_path,
    });
    let storage: Arc<dyn pocketbook_server::Storage> =
        Arc::new(pocketbook_server::SqliteStorage::open(&config.data_dir).unwrap());
    let admin = Admin::new(storage.clone(), Clock::system());
    admin
        .add_officer("PC800", "Jo Smith", "Lewisham", Role::Officer)
        .unwrap();
    let server = pocketbook_server::start_with(config, storage)
        .await
        .unwrap();
    (server, cert_path, admin)
}

#[tokio::test]
async fn a_device_enrolled_by_link_syncs_over_https_with_the_pinned_key() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cert, admin) = https_server(dir.path()).await;
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let code = admin.issue_enrolment_code("PC800", 15).unwrap().code;
    let settings = LinkSettings {
        public_url: Some(server.url()),
        pin: None,
        backup_pin: Some(Pin([9; 32]).to_string()),
        tls_cert: Some(cert),
    };
    let link = enrolment_link(&settings, &code, &mut |_| {})
        .unwrap()
        .unwrap();
    let device = dir.path().join("device");
    let nb = enrol_with_link(
        device.display().to_string(),
        KEY.to_vec(),
        link,
        "handheld".into(),
    )
    .await
    .unwrap();
    nb.create_stop_search(stop_search()).unwrap();
    let summary = nb.sync(None).await.unwrap();
    assert_eq!(summary.acknowledged, 1);
    drop(nb);
    // Reopened, it still trusts the pins it enrolled with.
    let nb = Notebook::open_existing_encrypted(device.display().to_string(), KEY.to_vec()).unwrap();
    assert_eq!(nb.sync(None).await.unwrap().pending, 0);
    server.shutdown().await.unwrap();
}

/// A TLS listener with its own certificate that records every byte it
/// decrypts; `None` when the handshake failed.
async fn recording_listener(
    pem: String,
    key: String,
) -> (String, tokio::task::JoinHandle<Option<Vec<u8>>>) {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let chain = vec![CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = tokio_rustls::TlsAcceptor::from(Arc::new(config))
            .accept(tcp)
            .await
            .ok()?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Enough to see a request's head; the client waits for an answer.
        while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        Some(got)
    });
    (url, task)
}

#[tokio::test]
async fn a_server_with_another_key_gets_no_byte_of_the_token() {
    pocketbook_core::sync::client::install_crypto_provider();
    let token = "token-that-must-not-leak-0123456789";
    let network = NetworkSettings {
        overall_timeout: std::time::Duration::from_secs(5),
        ..NetworkSettings::default()
    };
    let (pinned_pem, _, pinned_der) = certificate();
    drop(pinned_pem);
    let pin = Pin::of_certificate(pinned_der.as_ref()).unwrap();
    for (right_key, label) in [(false, "another key"), (true, "the pinned key (control)")] {
        let (pem, key, der) = if right_key {
            // The control: a listener showing a certificate whose key is pinned.
            let made = certificate();
            (made.0, made.1, made.2)
        } else {
            certificate()
        };
        let pins = if right_key {
            vec![Pin::of_certificate(der.as_ref()).unwrap()]
        } else {
            vec![pin]
        };
        let (url, seen) = recording_listener(pem, key).await;
        let client = SyncClient::new(
            &pinned_url(&url, &pins).unwrap(),
            Some(token.into()),
            &network,
        )
        .unwrap();
        let result = client.sync(&request(None, vec![])).await;
        let seen = seen.await.unwrap();
        if right_key {
            let seen = String::from_utf8_lossy(seen.as_deref().unwrap()).to_string();
            assert!(seen.contains(token), "{label}: the token is sent: {seen}");
        } else {
            assert!(
                matches!(
                    result,
                    Err(ClientError::Offline {
                        cause: OfflineCause::Tls,
                        ..
                    })
                ),
                "{label}: {result:?}"
            );
            assert_eq!(
                seen, None,
                "{label}: the handshake failed, nothing was sent"
            );
        }
    }
}

#[tokio::test]
async fn a_configured_certificate_authority_is_trusted_for_its_names_only() {
    pocketbook_core::sync::client::install_crypto_provider();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let network = NetworkSettings::default();
    for (names, trusted) in [
        (vec!["127.0.0.1".to_string()], true),
        (vec!["elsewhere.example".to_string()], false),
    ] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let (url, seen) = recording_listener(cert.pem(), key.serialize_pem()).await;
        let trust = TlsTrust {
            pins: Vec::new(),
            authorities: vec![ca.der().to_vec()],
        };
        let client = SyncClient::with_trust(&url, Some("t".into()), &network, &trust).unwrap();
        // The listener never answers: a trusted handshake ends in a timeout
        // or a closed connection, an untrusted one in a TLS error.
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            client.sync(&request(None, vec![])),
        )
        .await;
        let seen = seen.await.unwrap();
        assert_eq!(seen.is_some(), trusted, "{result:?}");
    }
}

//! A station's HTTPS: a self-signed certificate made with rcgen for the
//! loopback address, written where `serve --tls-cert --tls-key` reads it,
//! the pin devices are enrolled with, and a second key made in advance
//! for a certificate rotation (its pin is what a station announcing the
//! next key sends; [`crate::Station::rotate_certificate`] moves to it).

use std::sync::Arc;
use std::time::Duration;

use pocketbook_core::sync::client::{
    ClientError, NetworkSettings, OfflineCause, SyncClient, TlsTrust,
};
use pocketbook_core::sync::wire::{PROTOCOL_VERSION, SyncRequest};
use pocketbook_core::tls_pin::Pin;
use pocketbook_server::tls::TlsFiles;

/// One certificate and its key, as PEM and as the pin of the key.
struct Made {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
    pin: Pin,
}

fn make() -> Made {
    let key = rcgen::KeyPair::generate().expect("key pair");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate names")
        .self_signed(&key)
        .expect("self-signed certificate");
    Made {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
        pin: Pin::of_certificate(cert.der()).expect("pin of the certificate"),
    }
}

/// The files the server serves, the certificate in them and the next one.
pub(crate) struct StationTls {
    dir: tempfile::TempDir,
    current: Made,
    next: Made,
}

impl StationTls {
    pub(crate) fn make() -> Self {
        let tls = StationTls {
            dir: tempfile::tempdir().expect("certificate dir"),
            current: make(),
            next: make(),
        };
        tls.write();
        tls
    }

    fn write(&self) {
        let files = self.files();
        std::fs::write(&files.key, &self.current.key_pem).expect("key written");
        std::fs::write(&files.cert, &self.current.cert_pem).expect("certificate written");
    }

    pub(crate) fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.dir.path().join("cert.pem"),
            key: self.dir.path().join("key.pem"),
        }
    }

    /// The pin of the key served now.
    pub(crate) fn pin(&self) -> Pin {
        self.current.pin
    }

    /// The pin of the key the next rotation moves to.
    pub(crate) fn next_pin(&self) -> Pin {
        self.next.pin
    }

    /// Writes the next certificate over the served files (and makes the
    /// one after it); the server reads them on SIGHUP.
    pub(crate) fn rotate(&mut self) {
        self.current = std::mem::replace(&mut self.next, make());
        self.write();
    }

    /// An HTTP client trusting exactly the certificate served now.
    pub(crate) fn client(&self) -> reqwest::Client {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.current.cert_der.clone().into())
            .expect("certificate as a root");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build()
            .expect("HTTP client")
    }
}

/// Sends SIGHUP to this process, as `kill -HUP` to the server would: every
/// HTTPS server running in it reads its certificate files again.
pub(crate) fn hang_up() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -HUP failed");
}

/// Waits until a handshake with `url` shows the key of `pin` (the reload
/// is asynchronous): a client trusting only that pin gets through the
/// handshake and is refused for having no token.
pub(crate) async fn wait_until_served(url: &str, pin: Pin) {
    let trust = TlsTrust {
        pins: vec![pin],
        authorities: Vec::new(),
    };
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        push: Vec::new(),
        page_size: None,
    };
    for _ in 0..200 {
        // A fresh client each time: no connection from before the reload.
        let client = SyncClient::with_trust(url, None, &NetworkSettings::default(), &trust)
            .expect("pinned client");
        match client.sync(&request).await {
            Err(ClientError::Offline {
                cause: OfflineCause::Tls,
                ..
            }) => tokio::time::sleep(Duration::from_millis(25)).await,
            _ => return,
        }
    }
    panic!("the server never served the new certificate");
}

//! A certificate outside its dates is refused by the server as devices
//! refuse it: every device checks the validity of the pinned key's
//! certificate (`OfflineCause::CertificateExpired`), so serving an expired
//! one would cut off every handset at once. `serve` will not start with
//! one, and a SIGHUP that finds one (an old file copied back, a deploy
//! hook pointed at the wrong path) keeps the certificate in use, as for a
//! file that does not load.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// A certificate for the loopback address on `key`, valid between the
/// two dates: (cert PEM, DER).
fn certificate_between(
    key: &rcgen::KeyPair,
    from: (i32, u8, u8),
    to: (i32, u8, u8),
) -> (String, CertificateDer<'static>) {
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    let cert = params.self_signed(key).unwrap();
    (cert.pem(), cert.der().clone())
}

/// Accepts any certificate: the test only looks at which one is shown.
#[derive(Debug)]
struct Shown(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Shown {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The certificate a new handshake with `addr` is shown.
pub(crate) async fn shown(addr: &str) -> CertificateDer<'static> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Shown(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

pub(crate) fn serve(
    dir: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .env_remove("POCKETBOOK_CONFIG");
    command
}

/// The address an HTTPS server started with a piped stdout listens on, from
/// the line it writes first (`... listening on https://ADDR ...`).
pub(crate) fn served_address(child: &mut std::process::Child) -> String {
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let url = ready.split_whitespace().nth(3).expect(&ready).to_string();
    url.strip_prefix("https://").expect(&ready).to_string()
}

#[test]
fn serve_refuses_a_certificate_outside_its_dates() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    for (dates, word) in [
        (((2020, 1, 1), (2021, 1, 1)), "expired"),
        (((2090, 1, 1), (2091, 1, 1)), "not valid until"),
    ] {
        std::fs::write(&cert_path, certificate_between(&key, dates.0, dates.1).0).unwrap();
        let mut child = serve(dir.path(), &cert_path, &key_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A server that starts says where it listens on its first line.
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        if !ready.is_empty() {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            ready.is_empty(),
            "started with a certificate {word}: {ready}"
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(word), "{stderr}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_reload_that_finds_an_expired_certificate_keeps_the_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (good_pem, good) = certificate_between(&key, (2020, 1, 1), (2090, 1, 1));
    let (expired_pem, expired) = certificate_between(&key, (2020, 1, 1), (2021, 1, 1));
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::write(&cert_path, &good_pem).unwrap();
    let mut child = serve(dir.path(), &cert_path, &key_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_address(&mut child);
    assert_eq!(shown(&addr).await, good);

    std::fs::write(&cert_path, &expired_pem).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The reload is done once a later one (back to the good file) would
    // be; look a while, as the test of a broken file does.
    let mut shown_expired = false;
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if shown(&addr).await == expired {
            shown_expired = true;
            break;
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "still serving");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !shown_expired,
        "the expired certificate replaced the one in use"
    );
}

//! A certificate reload is held to the keys devices trust. Devices pin
//! the key of their enrolment link and those announced since, so a SIGHUP
//! to any other key would cut off every device (`tls`): the reload is
//! refused, logged with the key's pin, and the certificate in use stays;
//! the backup key (`tls_backup_pin`) is taken. Behind a proxy (`tls_pin`
//! names a key the server does not serve) devices never see the server's
//! own key, and its reloads are not held to the pins.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use pocketbook_core::tls_pin::Pin;
use rustls::pki_types::CertificateDer;

use crate::tls_dates::{serve, shown};

/// A self-signed certificate for the loopback address on a fresh key.
struct Certificate {
    pem: String,
    key: String,
    der: CertificateDer<'static>,
    pin: Pin,
}

fn certificate() -> Certificate {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let der = made.cert.der().clone();
    Certificate {
        pem: made.cert.pem(),
        key: made.signing_key.serialize_pem(),
        pin: Pin::of_certificate(der.as_ref()).unwrap(),
        der,
    }
}

/// `serve` over HTTPS with `first` and the config file `config`: the
/// child, its address, and its log lines as they come.
fn start(
    dir: &std::path::Path,
    first: &Certificate,
    config: &str,
) -> (Child, String, Receiver<String>) {
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &first.pem).unwrap();
    std::fs::write(&key_path, &first.key).unwrap();
    std::fs::write(dir.join("server.toml"), config).unwrap();
    let mut child = serve(dir, &cert_path, &key_path)
        .arg("--config")
        .arg(dir.join("server.toml"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = crate::tls_dates::served_address(&mut child);
    let (lines, logged) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, addr, logged)
}

/// Installs `next` in place of the files and sends SIGHUP; the log line
/// that says how the reload went.
fn reload_to(
    dir: &std::path::Path,
    child: &Child,
    logged: &Receiver<String>,
    next: &Certificate,
) -> String {
    std::fs::write(dir.join("cert.pem"), &next.pem).unwrap();
    std::fs::write(dir.join("key.pem"), &next.key).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    loop {
        let line = logged
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs each reload");
        if line.contains("reloaded") {
            return line;
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_reload_to_a_key_devices_were_not_given_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (in_use, backup, stranger) = (certificate(), certificate(), certificate());
    let config = format!("tls_backup_pin = \"{}\"\n", backup.pin);
    let (mut child, addr, logged) = start(dir.path(), &in_use, &config);
    assert_eq!(shown(&addr).await, in_use.der);

    let line = reload_to(dir.path(), &child, &logged, &stranger);
    assert!(line.contains("not reloaded"), "{line}");
    assert!(line.contains(&stranger.pin.to_string()), "{line}");
    assert!(line.contains("--tls-next-pin"), "{line}");
    assert!(!line.contains("PRIVATE KEY"), "{line}");
    assert_eq!(shown(&addr).await, in_use.der, "the key in use stays");

    // The backup key of the enrolment links is one devices trust.
    let line = reload_to(dir.path(), &child, &logged, &backup);
    assert!(!line.contains("not reloaded"), "{line}");
    assert_eq!(shown(&addr).await, backup.der);
    assert!(child.try_wait().unwrap().is_none(), "still serving");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn behind_a_proxy_the_servers_own_key_is_not_held_to_the_pins() {
    let dir = tempfile::tempdir().unwrap();
    let (own, next_own) = (certificate(), certificate());
    // Devices were given the proxy's key, not the server's.
    let config = format!("tls_pin = \"{}\"\n", Pin([7; 32]));
    let (mut child, addr, logged) = start(dir.path(), &own, &config);
    assert_eq!(shown(&addr).await, own.der);

    let line = reload_to(dir.path(), &child, &logged, &next_own);
    assert!(!line.contains("not reloaded"), "{line}");
    assert_eq!(shown(&addr).await, next_own.der);
    child.kill().unwrap();
    child.wait().unwrap();
}

//! TLS terminated by the server itself (`serve --tls-cert FILE --tls-key
//! FILE`), for a deployment without a reverse proxy in front: rustls with
//! the *ring* provider (the same as the devices'), HTTP/1.1 only.
//!
//! The certificate is read again on SIGHUP (`kill -HUP`, what certbot's
//! deploy hook sends): connections already open keep the session they
//! negotiated, and only new handshakes see the new certificate, so a
//! renewal drops nothing. A file that does not load is refused with the
//! error logged, and the certificate in use stays; so is a certificate
//! outside its dates (devices refuse one, so serving it would cut off every
//! handset), and `serve` will not start with one.
//!
//! Devices trust only the keys pinned at enrolment and those announced
//! since, so a reload is held to them too: the new key must be the one in
//! use, one the server started with, an announced `--tls-next-pin`, or the
//! configured `tls_pin` / `tls_backup_pin`. Any other would cut off every
//! device (`tls`), so it is refused the same way. When `tls_pin` names a
//! key the server does not serve, devices see another key (a proxy's,
//! terminating TLS in front), so the server's own key is not pinned and its
//! reloads are not held to the pins.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use pocketbook_core::tls_pin::Pin;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate chain and private key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The pins devices were given at enrolment for the key they see (config
/// keys `tls_pin` and `tls_backup_pin`, the same `admin device enrol` puts
/// in the link).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicePins {
    /// The key devices see; unset, the one the server serves.
    pub pin: Option<Pin>,
    /// The key kept aside to move to.
    pub backup: Option<Pin>,
}

/// The TLS settings new connections are accepted with; replaced on reload.
#[derive(Debug)]
pub struct Tls {
    files: TlsFiles,
    current: RwLock<Served>,
    /// The keys devices trust, a reload's new key must be among them (or
    /// be the one in use); `None` when devices see another key (a proxy's).
    trusted: Option<Vec<Pin>>,
}

/// A certificate in use and the pin of its key.
#[derive(Debug)]
struct Served {
    config: Arc<rustls::ServerConfig>,
    pin: Pin,
}

impl Tls {
    /// Loads the files, or says what is wrong with them. `given` and
    /// `next` (the announced pins) are the keys devices trust besides the
    /// one loaded now.
    pub fn load(files: TlsFiles, given: &DevicePins, next: &[Pin]) -> Result<Arc<Self>, String> {
        let served = served(&files)?;
        let trusted: Vec<Pin> = [Some(served.pin), given.pin, given.backup]
            .into_iter()
            .flatten()
            .chain(next.iter().copied())
            .collect();
        let proxied = given.pin.is_some_and(|pin| pin != served.pin)
            && given.backup != Some(served.pin)
            && !next.contains(&served.pin);
        if proxied {
            tracing::info!(
                "the TLS key served is not the pinned one (tls_pin): devices see another key, a proxy's, so reloads are not held to the pins"
            );
        }
        Ok(Arc::new(Tls {
            files,
            current: RwLock::new(served),
            trusted: (!proxied).then_some(trusted),
        }))
    }

    /// Reads the files again; on failure, or when devices do not trust
    /// the new key, the certificate in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let served = served(&self.files)?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(trusted) = &self.trusted
            && served.pin != current.pin
            && !trusted.contains(&served.pin)
        {
            return Err(format!(
                "TLS key {}: its pin {} is none devices were given (the key in use, tls_pin, \
                 tls_backup_pin, an announced --tls-next-pin), so every device would refuse it; \
                 the key in use stays, but a restart would load these files: put the old ones \
                 back, announce this pin with --tls-next-pin, let devices sync, then reload",
                self.files.key.display(),
                served.pin
            ));
        }
        *current = served;
        Ok(())
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .config
            .clone();
        tokio_rustls::TlsAcceptor::from(config)
    }
}

/// Reads the first certificate of a PEM chain (the server's own).
pub fn leaf_certificate(path: &Path) -> Result<CertificateDer<'static>, String> {
    read_chain(path)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no certificate in the file", path.display()))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = crate::config::read_settings_file(path, "TLS certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS certificate {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {}: no certificate in the file",
            path.display()
        ));
    }
    Ok(chain)
}

fn served(files: &TlsFiles) -> Result<Served, String> {
    let chain = read_chain(&files.cert)?;
    within_dates(&files.cert, &chain[0], chrono::Utc::now().timestamp())?;
    let pin = Pin::of_certificate(chain[0].as_ref())
        .map_err(|e| format!("TLS certificate {}: {e}", files.cert.display()))?;
    let pem = crate::config::read_settings_file(&files.key, "TLS key")?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("TLS key {}: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "TLS certificate {} and key {}: {e}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Served {
        config: Arc::new(config),
        pin,
    })
}

/// Refuses a certificate outside its dates at `now` (Unix seconds):
/// devices check them for the pinned key too, so serving it would cut off
/// every handset (`OfflineCause::CertificateExpired`).
fn within_dates(path: &Path, leaf: &CertificateDer<'_>, now: i64) -> Result<(), String> {
    let (not_before, not_after) = pocketbook_core::tls_pin::validity(leaf.as_ref())
        .map_err(|e| format!("TLS certificate {}: {e}", path.display()))?;
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0).map_or_else(
            || t.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    if now > not_after {
        return Err(format!(
            "TLS certificate {}: expired at {}; devices refuse it: renew it and load it again",
            path.display(),
            day(not_after)
        ));
    }
    if now < not_before {
        return Err(format!(
            "TLS certificate {}: not valid until {}; devices refuse it until then (or this machine's clock is wrong)",
            path.display(),
            day(not_before)
        ));
    }
    Ok(())
}

/// Starts listening for SIGHUP now (so a signal sent once the server is
/// up is never the default, fatal one) and returns the loop that reloads
/// `tls` on each, for as long as the server runs.
#[cfg(unix)]
pub fn reload_on_hangup(tls: Arc<Tls>) -> impl std::future::Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    let hangups = signal(SignalKind::hangup());
    async move {
        let mut hangups = match hangups {
            Ok(hangups) => hangups,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: the certificate will not be reloaded");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate not reloaded; the current one stays")
                }
            }
        }
    }
}

#[cfg(not(unix))]
pub fn reload_on_hangup(_tls: Arc<Tls>) -> impl std::future::Future<Output = ()> + Send {
    std::future::ready(())
}

//! What the device's sync client trusts for `https://`: the server keys
//! pinned at enrolment (carried in the stored server URL's fragment and
//! the enrolment link) and the pins the server announced since, plus a
//! certificate authority only when one is configured; and the rustls
//! verifier that checks them during the handshake, before a byte of the
//! request is sent.

use super::ClientError;
use crate::tls_pin::Pin;

/// What the client trusts for `https://`: the pinned keys (the server's
/// and a backup, from the enrolment link) and, for a force with its own
/// PKI, a certificate authority. A server URL carries its pins in its
/// fragment (`https://host/#pin=sha256/...&pin=sha256/...`), which never
/// leaves the device, so the stored server address is also its trust.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsTrust {
    pub pins: Vec<Pin>,
    /// DER certificates of an authority whose certificates are also accepted.
    pub authorities: Vec<Vec<u8>>,
}

impl TlsTrust {
    /// What a device with these credentials trusts: the pins in its server
    /// URL's fragment (from the enrolment link) and the pins the server
    /// announced since ([`crate::sync::wire::SyncResponse::next_pins`]).
    pub fn of_credentials(credentials: &crate::store::Credentials) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(&credentials.server_url).map_err(|e| {
            ClientError::Settings(format!("server URL {:?}: {e}", credentials.server_url))
        })?;
        let mut trust = Self::of_url(&url)?;
        for text in &credentials.announced_pins {
            let pin = Pin::parse(text).map_err(ClientError::Settings)?;
            if !trust.pins.contains(&pin) {
                trust.pins.push(pin);
            }
        }
        Ok(trust)
    }

    /// The pins in a URL's fragment (`pin=...`, repeated).
    pub fn of_url(url: &reqwest::Url) -> Result<Self, ClientError> {
        let mut trust = TlsTrust::default();
        let Some(fragment) = url.fragment() else {
            return Ok(trust);
        };
        for (key, value) in url::form_urlencoded::parse(fragment.as_bytes()) {
            if key == "pin" {
                trust
                    .pins
                    .push(Pin::parse(&value).map_err(ClientError::Settings)?);
            }
        }
        Ok(trust)
    }
}

/// The URL a device stores and syncs with: `server` with `pins` in its
/// fragment.
pub fn pinned_url(server: &str, pins: &[Pin]) -> Result<String, ClientError> {
    let mut url = reqwest::Url::parse(server)
        .map_err(|e| ClientError::Settings(format!("server URL {server:?}: {e}")))?;
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pins.iter().map(|pin| ("pin", pin.to_string())))
        .finish();
    url.set_fragment((!pins.is_empty()).then_some(fragment.as_str()));
    Ok(url.to_string())
}

/// An enrolment link, read: where the server is (with its pins in the
/// URL's fragment, as the device stores it) and the one-time code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentLink {
    pub server_url: String,
    pub code: String,
}

/// Longest enrolment link read: a server URL, a code and a few pins fit
/// in a fraction of it (a QR code holds at most about 4 KB).
const MAX_LINK_LEN: usize = 2048;

impl EnrolmentLink {
    /// Reads `pocketbook://enrol?server=...&code=...&pin=...` (any order).
    pub fn parse(link: &str) -> Result<Self, ClientError> {
        let bad = |what: &str| ClientError::Settings(format!("not an enrolment link: {what}"));
        let query = link
            .trim()
            .strip_prefix(crate::tls_pin::ENROLMENT_LINK_PREFIX)
            .ok_or_else(|| bad("it must start with pocketbook://enrol?"))?;
        if link.len() > MAX_LINK_LEN {
            return Err(bad(&format!("longer than {MAX_LINK_LEN} bytes")));
        }
        let (mut server, mut code, mut pins) = (None, None, Vec::new());
        // A server or code given twice is refused, not resolved: a link
        // with a second `server=` appended would otherwise send the
        // officer's code (and then their token) wherever its last one said.
        let once = |slot: &mut Option<String>, key: &str, value: String| match slot {
            Some(_) => Err(bad(&format!("{key} given twice"))),
            None => {
                *slot = Some(value);
                Ok(())
            }
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "server" => once(&mut server, "server", value.into_owned())?,
                "code" => once(&mut code, "code", value.into_owned())?,
                "pin" => pins.push(Pin::parse(&value).map_err(ClientError::Settings)?),
                _ => {}
            }
        }
        let server = server.ok_or_else(|| bad("no server"))?;
        Ok(EnrolmentLink {
            server_url: pinned_url(&server, &pins)?,
            code: code.ok_or_else(|| bad("no code"))?,
        })
    }
}

/// Whether `http://` may be used to reach `url`'s host: this device only.
pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Accepts a server certificate whose key is pinned, or one a configured
/// authority issued for the server's name; refuses everything else during
/// the handshake.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<Pin>,
    authority: Option<std::sync::Arc<rustls::client::WebPkiServerVerifier>>,
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if Pin::of_certificate(end_entity).is_ok_and(|pin| self.pins.contains(&pin)) {
            // A pinned key, but only within its certificate's dates: an
            // expired certificate is a server nobody keeps, told apart
            // from a key this device does not trust.
            let (not_before, not_after) = crate::tls_pin::validity(end_entity).map_err(|_| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
            })?;
            let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            if now > not_after {
                return Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Expired,
                ));
            }
            if now < not_before {
                return Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidYet,
                ));
            }
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        match &self.authority {
            Some(authority) => authority.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS settings of a client that trusts `trust` and nothing else.
pub(super) fn tls_config(trust: &TlsTrust) -> Result<rustls::ClientConfig, ClientError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let authority = if trust.authorities.is_empty() {
        None
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for der in &trust.authorities {
            roots
                .add(rustls::pki_types::CertificateDer::from(der.clone()))
                .map_err(|e| ClientError::Settings(format!("certificate authority: {e}")))?;
        }
        Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                std::sync::Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| ClientError::Settings(format!("certificate authority: {e}")))?,
        )
    };
    let verifier = PinnedVerifier {
        pins: trust.pins.clone(),
        authority,
        provider: provider.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Protocol(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

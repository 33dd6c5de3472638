//! The device's HTTP client for the sync server: one POST per round trip,
//! gzip-compressed JSON both ways, bounded responses and bounded waits
//! ([`NetworkSettings`]), and errors an app can act on (offline with its
//! cause, unauthorised, update required, refused, wipe).
//!
//! TLS trusts exactly the server keys pinned at enrolment ([`TlsTrust`]),
//! plus a certificate authority only when one is configured: never the
//! platform's verifier or store, so a certificate some public authority
//! issued to an attacker is refused, and the pin is checked during the
//! handshake, before a byte of the request (and its token) is sent.
//! Plain `http://` is refused except to this device itself (loopback),
//! which tests and the device CLI's local use need.

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::lifecycle::WipeReason;
use super::wire::{
    ENROL_PATH, EnrolRequest, EnrolResponse, ErrorBody, PROTOCOL_VERSION, RETIRE_PATH,
    RetireRequest, SYNC_PATH, SyncRequest, SyncResponse,
};
mod trust;
pub use trust::{EnrolmentLink, TlsTrust, pinned_url};
use trust::{is_loopback, tls_config};

/// Largest response body the client reads.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// How long a request may wait, set by the app (`Notebook::set_network_settings`,
/// `enrol_device_with_network`). The defaults suit a handheld at a scene:
///
/// - `connect_timeout` **5 s**: a TCP (and TLS) connection that takes longer
///   is a dead or unreachable network; the officer should hear so at once.
/// - `read_timeout` **15 s**: the longest silence between two reads, so a
///   server that accepts and never answers (or a link that stalls mid-page)
///   is given up after 15 s, while a slow page that keeps arriving is not cut.
/// - `overall_timeout` **60 s**: the most one request may take end to end,
///   sending included. A sync is many requests; a full page (at most 500
///   feed entries) fits well within a minute on a poor mobile link.
///
/// Each must be between 1 ms and 10 minutes (otherwise `ApiError::Invalid`
/// naming the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct NetworkSettings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub overall_timeout: Duration,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(15),
            overall_timeout: Duration::from_secs(60),
        }
    }
}

/// Longest timeout an app may set: anything longer is a mistake.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

impl NetworkSettings {
    /// Every out-of-range timeout, named as a field.
    pub fn violations(&self) -> Vec<crate::model::FieldViolation> {
        [
            ("network.connect_timeout", self.connect_timeout),
            ("network.read_timeout", self.read_timeout),
            ("network.overall_timeout", self.overall_timeout),
        ]
        .into_iter()
        .filter(|(_, d)| d.is_zero() || *d > MAX_TIMEOUT)
        .map(|(field, _)| crate::model::FieldViolation {
            field: field.into(),
            problem: "must be more than 0 and at most 10 minutes".into(),
        })
        .collect()
    }
}

/// Why the server could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum OfflineCause {
    /// Nothing listens at the address (connection refused or reset).
    Refused,
    /// The server's name could not be resolved (no network, or a wrong address).
    Dns,
    /// The TLS handshake failed (a key this device does not trust, a
    /// protocol error): not a signal problem.
    Tls,
    /// The server showed a trusted key in a certificate outside its dates
    /// (expired, or not valid yet): its operator must renew it, or this
    /// device's clock is far off.
    CertificateExpired,
    /// A connect, read or overall timeout ran out ([`NetworkSettings`]).
    Timeout,
    /// Anything else: the network went away, the server answered 5xx.
    Other,
}

impl OfflineCause {
    /// Stable lower-case code, for logs and the CLI.
    pub fn code(self) -> &'static str {
        match self {
            OfflineCause::Refused => "refused",
            OfflineCause::Dns => "dns",
            OfflineCause::Tls => "tls",
            OfflineCause::CertificateExpired => "certificate-expired",
            OfflineCause::Timeout => "timeout",
            OfflineCause::Other => "other",
        }
    }
}

/// Why a round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the server could not be reached ({}): {detail}", .cause.code())]
    Offline { cause: OfflineCause, detail: String },
    #[error("the server refused this device: {0}")]
    Unauthorised(String),
    /// 401 with `wipe: true`: the device's credential was closed for good
    /// (revoked, or retired after handing back) and it must erase its store.
    /// A plain 401 (an unknown token) is [`ClientError::Unauthorised`] and
    /// never wipes anything.
    #[error("the server closed this device's credential and ordered it erased ({})", .0.code())]
    Wipe(WipeReason),
    #[error("the server speaks a newer protocol: {0}")]
    UpdateRequired(String),
    #[error("the server refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The device's own sync settings are unusable (a server URL, an
    /// enrolment link, a pin or a certificate authority it was given): a
    /// mistake on this side, found before anything is sent.
    #[error("{0}")]
    Settings(String),
}

/// An HTTP client bound to one server and (after enrolment) one device token.
pub struct SyncClient {
    http: reqwest::Client,
    base: reqwest::Url,
    token: Option<String>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Installs the ring crypto provider for rustls once per process (any
/// reqwest client in the process needs one).
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // ring builds for every Android and iOS target without extra tools.
        // An app that installed a provider of its own keeps it.
        if rustls::crypto::ring::default_provider()
            .install_default()
            .is_err()
        {
            tracing::debug!("a rustls crypto provider was already installed");
        }
    });
}

impl SyncClient {
    /// A client for `server_url`, trusting the pins in its fragment.
    pub fn new(
        server_url: &str,
        token: Option<String>,
        network: &NetworkSettings,
    ) -> Result<Self, ClientError> {
        let base = reqwest::Url::parse(server_url)
            .map_err(|e| ClientError::Settings(format!("server URL {server_url:?}: {e}")))?;
        let trust = TlsTrust::of_url(&base)?;
        Self::with_trust(server_url, token, network, &trust)
    }

    /// A client for `server_url` trusting exactly `trust` over HTTPS.
    /// `http://` is refused except to loopback; `https://` with nothing to
    /// trust is refused too (enrol with the enrolment link, which carries
    /// the server's pins).
    pub fn with_trust(
        server_url: &str,
        token: Option<String>,
        network: &NetworkSettings,
        trust: &TlsTrust,
    ) -> Result<Self, ClientError> {
        let mut base = reqwest::Url::parse(server_url)
            .map_err(|e| ClientError::Settings(format!("server URL {server_url:?}: {e}")))?;
        base.set_fragment(None);
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(ClientError::Settings(format!(
                "server URL {base} must be http:// or https:// with a host"
            )));
        }
        if base.scheme() == "http" && !is_loopback(&base) {
            return Err(ClientError::Settings(format!(
                "server URL {base}: plain http:// is refused except to this device (loopback); use https:// and the enrolment link"
            )));
        }
        if base.scheme() == "https" && trust.pins.is_empty() && trust.authorities.is_empty() {
            return Err(ClientError::Settings(format!(
                "server URL {base}: no pinned key or certificate authority to trust; enrol with the enrolment link"
            )));
        }
        install_crypto_provider();
        const IDLE_CONNECTION: Duration = Duration::from_secs(5);
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(trust)?)
            .connect_timeout(network.connect_timeout)
            .read_timeout(network.read_timeout)
            .timeout(network.overall_timeout)
            // Let an idle connection go well before the server closes it
            // (the server's default idle limit is 10 s): a request sent on
            // a connection the server is closing at that instant would fail.
            .pool_idle_timeout(IDLE_CONNECTION)
            // Never follow a redirect: a 307 or 308 would send the body
            // (the enrolment code, a sync's records) again to wherever the
            // server's `Location` says, plain http:// to any host included,
            // past the loopback rule above, and take that host's answer as
            // the server's. A 3xx is an answer like any other ([`error_of`]).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pocketbook-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(format!("HTTP client: {e}")))?;
        Ok(SyncClient { http, base, token })
    }

    /// Redeems a one-time enrolment code.
    pub async fn enrol(&self, request: &EnrolRequest) -> Result<EnrolResponse, ClientError> {
        let response: EnrolResponse = self.post(ENROL_PATH, request).await?;
        check_protocol(response.protocol)?;
        Ok(response)
    }

    /// One sync round trip.
    pub async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, ClientError> {
        let response: SyncResponse = self.post(SYNC_PATH, request).await?;
        check_protocol(response.protocol)?;
        super::wire::check_answer(&response).map_err(ClientError::Protocol)?;
        Ok(response)
    }

    /// `POST /v1/retire`: confirms that a device being handed back has
    /// nothing left to upload. Success (204) means the server closed the
    /// credential; the caller must then erase the store.
    pub async fn retire(&self) -> Result<(), ClientError> {
        let request = RetireRequest {
            protocol: PROTOCOL_VERSION,
        };
        self.send(RETIRE_PATH, &request).await.map(|_| ())
    }

    async fn post<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<R, ClientError> {
        let bytes = self.send(path, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("unreadable answer: {e}")))
    }

    /// Sends one gzip JSON request; the body of a 2xx answer, or the error
    /// the answer stands for.
    async fn send<T: Serialize>(&self, path: &str, body: &T) -> Result<Vec<u8>, ClientError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let json = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut gzip = GzEncoder::new(Vec::new(), Compression::fast());
        gzip.write_all(&json)
            .and_then(|()| gzip.flush())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let compressed = gzip
            .finish()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(compressed);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let mut response = request.send().await.map_err(offline)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(offline)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ClientError::Protocol("response larger than allowed".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(bytes);
        }
        Err(error_of(status, &bytes))
    }
}

impl super::engine::Transport for SyncClient {
    async fn send(
        &self,
        request: super::engine::Request,
    ) -> Result<super::engine::Answer, ClientError> {
        use super::engine::{Answer, Request};
        match request {
            Request::Sync(request) => self
                .sync(&request)
                .await
                .map(|a| Answer::Synced(Box::new(a))),
            Request::Retire => self.retire().await.map(|()| Answer::Retired),
        }
    }
}

/// What a non-2xx answer means for the device. Only a 401 whose body says
/// `wipe: true` orders an erasure; every other refusal leaves the store be.
fn error_of(status: reqwest::StatusCode, bytes: &[u8]) -> ClientError {
    let (code, message, wipe) = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => (body.error, shown(&body.message), body.wipe),
        Err(_) => (
            String::new(),
            status.canonical_reason().unwrap_or("error").to_string(),
            false,
        ),
    };
    match status.as_u16() {
        401 if wipe => ClientError::Wipe(WipeReason::from_code(&code)),
        401 | 403 => ClientError::Unauthorised(message),
        400 if code == "enrolment-code-refused" => ClientError::Unauthorised(message),
        426 => ClientError::UpdateRequired(message),
        300..=399 => ClientError::Protocol(format!(
            "the server answered with a redirect ({}), which devices do not follow: \
             check the server URL (enrol again with the enrolment link)",
            status.as_u16()
        )),
        code @ 400..=499 => ClientError::Refused {
            status: code,
            message,
        },
        _ => ClientError::Offline {
            cause: OfflineCause::Other,
            detail: format!("server error {status}: {message}"),
        },
    }
}

/// Longest server message a device passes on, in characters.
const MAX_SERVER_MESSAGE_CHARS: usize = 500;

/// A server's message as the device passes it on to an app, a log or a
/// terminal: at most [`MAX_SERVER_MESSAGE_CHARS`] characters, with every
/// character a terminal acts on ([`crate::text::acts_on_terminal`]: control
/// characters, C1 included, and the bidi and zero-width format characters)
/// shown as U+FFFD. A server's messages name fields,
/// never content; a broken or hostile server's could be anything.
fn shown(message: &str) -> String {
    let mut shown: String = message
        .chars()
        .take(MAX_SERVER_MESSAGE_CHARS)
        .map(|c| {
            if crate::text::acts_on_terminal(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    if message.chars().nth(MAX_SERVER_MESSAGE_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

fn check_protocol(protocol: u32) -> Result<(), ClientError> {
    if protocol == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(ClientError::UpdateRequired(format!(
            "the server answered with protocol {protocol}; this app speaks {PROTOCOL_VERSION}"
        )))
    }
}

/// A failed request as an offline error with its cause. The detail is
/// reqwest's message and its sources: the URL and the network's reason,
/// never a token or record content.
fn offline(e: reqwest::Error) -> ClientError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        detail.push_str(": ");
        detail.push_str(&inner.to_string());
        source = inner.source();
    }
    ClientError::Offline {
        cause: cause_of(&e),
        detail,
    }
}

/// Reads the cause out of reqwest's error and its chain of sources.
fn cause_of(e: &reqwest::Error) -> OfflineCause {
    if e.is_timeout() {
        return OfflineCause::Timeout;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(inner) = next {
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Expired
                    | rustls::CertificateError::ExpiredContext { .. }
                    | rustls::CertificateError::NotValidYet
                    | rustls::CertificateError::NotValidYetContext { .. },
                ) => OfflineCause::CertificateExpired,
                _ => OfflineCause::Tls,
            };
        }
        // hyper-util names a failed lookup "dns error" and keeps the
        // resolver's error (an io::Error of no telling kind) as its source.
        if inner.to_string().starts_with("dns error") {
            return OfflineCause::Dns;
        }
        next = match inner.downcast_ref::<std::io::Error>() {
            Some(io) => {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset => {
                        return OfflineCause::Refused;
                    }
                    std::io::ErrorKind::TimedOut => return OfflineCause::Timeout,
                    _ => {}
                }
                // An io::Error's source() skips the error it wraps (where
                // tokio-rustls keeps the TLS error): step into it instead.
                match io.get_ref() {
                    Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
                    None => inner.source(),
                }
            }
            None => inner.source(),
        };
    }
    OfflineCause::Other
}

#[cfg(test)]
mod tests;

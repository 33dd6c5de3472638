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
//!
//! By topic: the client and its calls (here), how long a request may wait
//! (`network`), what a failure or a refusal means for the device
//! (`errors`), and what it trusts over HTTPS (`trust`).

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::wire::{
    ENROL_PATH, EnrolRequest, EnrolResponse, PROTOCOL_VERSION, RETIRE_PATH, RetireRequest,
    SYNC_PATH, SyncRequest, SyncResponse,
};
mod errors;
mod network;
mod trust;
pub use errors::{ClientError, OfflineCause};
use errors::{error_of, offline};
pub use network::NetworkSettings;
pub use trust::{EnrolmentLink, TlsTrust, pinned_url};
use trust::{is_loopback, tls_config};

/// Largest response body the client reads.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

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

fn check_protocol(protocol: u32) -> Result<(), ClientError> {
    if protocol == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(ClientError::UpdateRequired(format!(
            "the server answered with protocol {protocol}; this app speaks {PROTOCOL_VERSION}"
        )))
    }
}

#[cfg(test)]
mod tests;

//! The device's HTTP client for the sync server: one POST per round trip,
//! gzip-compressed JSON both ways, bounded responses, and errors an app can
//! act on (offline, unauthorised, update required, refused).

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::wire::{
    ENROL_PATH, EnrolRequest, EnrolResponse, ErrorBody, PROTOCOL_VERSION, SYNC_PATH, SyncRequest,
    SyncResponse,
};

/// Largest response body the client reads.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Why a round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the server could not be reached: {0}")]
    Offline(String),
    #[error("the server refused this device: {0}")]
    Unauthorised(String),
    #[error("the server speaks a newer protocol: {0}")]
    UpdateRequired(String),
    #[error("the server refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
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
    pub fn new(server_url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let base = reqwest::Url::parse(server_url)
            .map_err(|e| ClientError::Protocol(format!("server URL {server_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(ClientError::Protocol(format!(
                "server URL {server_url:?} must be http:// or https:// with a host"
            )));
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
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
        Ok(response)
    }

    async fn post<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<R, ClientError> {
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
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(format!("unreadable answer: {e}")));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.error, body.message),
            Err(_) => (
                String::new(),
                status.canonical_reason().unwrap_or("error").to_string(),
            ),
        };
        Err(match status.as_u16() {
            401 | 403 => ClientError::Unauthorised(message),
            400 if code == "enrolment-code-refused" => ClientError::Unauthorised(message),
            426 => ClientError::UpdateRequired(message),
            code @ 400..=499 => ClientError::Refused {
                status: code,
                message,
            },
            _ => ClientError::Offline(format!("server error {status}: {message}")),
        })
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

fn offline(e: reqwest::Error) -> ClientError {
    // reqwest's messages carry the URL but no token or record content.
    ClientError::Offline(e.to_string())
}

//! What a failed round trip means for the device: offline with its cause
//! (read out of the network's error), unauthorised, a wipe ordered, an
//! update required, refused, or a broken answer; and a server's message
//! made safe to pass on.

use crate::sync::lifecycle::WipeReason;
use crate::sync::wire::ErrorBody;

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

/// What a non-2xx answer means for the device. Only a 401 whose body says
/// `wipe: true` orders an erasure; every other refusal leaves the store be.
pub(super) fn error_of(status: reqwest::StatusCode, bytes: &[u8]) -> ClientError {
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

/// A failed request as an offline error with its cause. The detail is
/// reqwest's message and its sources: the URL and the network's reason,
/// never a token or record content.
pub(super) fn offline(e: reqwest::Error) -> ClientError {
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

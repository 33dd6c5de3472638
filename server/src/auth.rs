//! Enrolment codes and device tokens.
//!
//! A code is short enough to read off an admin's screen (10 Crockford base32
//! characters, 50 random bits) and lives minutes, once. A device token is
//! 256 random bits. The server stores only SHA-256 hashes of both, so a copy
//! of the database does not let anyone sync as a device.
//!
//! [`authenticate`] is the rule for a token at the sync door: the active
//! device behind it, or, for a closed one, the audited order to wipe
//! (audited once an hour per device, [`WipesTold`]).

use std::collections::HashSet;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use pocketbook_core::sync::lifecycle::WipeReason;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Action, actor};
use crate::identity::{Principal, RevokeReason};
use crate::limit::Throttled;
use crate::storage::{Storage, StorageError};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new one-time enrolment code, formatted `XXXXX-XXXXX`.
pub fn new_enrolment_code() -> String {
    let mut rng = rand::rng();
    let mut out = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            out.push('-');
        }
        out.push(CROCKFORD[(rng.next_u32() % 32) as usize] as char);
    }
    out
}

/// Canonical form of a typed code (case, separators, look-alike letters),
/// or `None` if it cannot be one.
pub fn normalise_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(10);
    for c in typed.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) || out.len() >= 10 {
            return None;
        }
        out.push(c);
    }
    (out.len() == 10).then_some(out)
}

/// Longest device label kept, in characters (longer ones are cut).
pub const MAX_LABEL_CHARS: usize = 80;

/// The label a device gave itself at enrolment, for `admin device list`:
/// cut to [`MAX_LABEL_CHARS`]; refused (before the code is looked at) when
/// it holds a control character: a NUL, which PostgreSQL cannot store, or
/// a terminal escape or line break, which the listing would print to the
/// admin's terminal as it is. An app sends its handset's model name.
pub fn device_label(typed: &str) -> Result<String, &'static str> {
    if typed.chars().any(char::is_control) {
        return Err(
            "device_label: control characters are not accepted; send the handset's name as plain text",
        );
    }
    Ok(typed.chars().take(MAX_LABEL_CHARS).collect())
}

/// A new device token (sent to the device once).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the server stores for a code or token.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The token of an `Authorization: Bearer` header, if well formed.
pub fn bearer(header: Option<&axum::http::HeaderValue>) -> Option<&str> {
    let value = header?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty() && token.len() <= 128).then_some(token)
}

/// Why a bearer token does not let a device sync.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No device holds this token: refused, nothing more said or written.
    #[error("unknown device token")]
    Unknown,
    /// The device was revoked, retired or its officer deactivated: it must
    /// erase itself.
    #[error("the device is closed and must wipe")]
    Wipe(WipeReason),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The closed devices already told to wipe in the current hour: each is
/// audited once an hour, and its further contacts are counted into the
/// window's summary ([`Throttled`]), so a stolen device hammering the
/// server with its revoked token cannot grow the permanent trail without
/// bound (it is told to wipe every time). Holds only devices that were
/// closed by an admin and made contact this hour.
#[derive(Debug, Default)]
pub struct WipesTold(Mutex<(i64, HashSet<String>)>);

/// The summary reason of a closed device's repeated contacts.
pub const WIPE_REPEATED: &str = "wipe-repeated";

impl WipesTold {
    /// Whether `device` is told for the first time in `now`'s hour (and
    /// notes that it has been).
    fn first_this_hour(&self, device: &str, now: DateTime<Utc>) -> bool {
        let hour = now.timestamp().div_euclid(crate::limit::WINDOW_SECS);
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if told.0 != hour {
            *told = (hour, HashSet::new());
        }
        told.1.insert(device.to_string())
    }
}

/// The active device holding `token`, with its officer. A revoked or
/// retired device (or one whose officer was deactivated) is told to wipe,
/// and that is audited at `now`, once an hour per device ([`WipesTold`]);
/// an unknown token is only refused.
pub fn authenticate(
    storage: &dyn Storage,
    token: &str,
    now: DateTime<Utc>,
    told: &WipesTold,
    throttled: &Throttled,
) -> Result<Principal, AuthError> {
    let Some(principal) = storage.principal(&hash(token))? else {
        return Err(AuthError::Unknown);
    };
    if principal.device.revoked_at.is_none() && principal.officer.active {
        return Ok(principal);
    }
    let reason = principal.device.revoke_reason;
    if told.first_this_hour(&principal.device.id, now) {
        storage.append_audit(
            &crate::clock::stamp(now),
            &[audit::event(
                actor::device(&principal.device.id),
                Action::WipeInstructed,
                None,
                json!({"officer": principal.officer.shoulder_number, "reason": reason}),
            )],
        )?;
    } else {
        throttled.refused(
            WIPE_REPEATED,
            Action::WipeInstructed,
            WIPE_REPEATED,
            Some(&principal.device.id),
            now,
        );
    }
    tracing::info!(device = %principal.device.id, "closed device made contact: told to wipe");
    // A retired device that calls again, or any other closed one.
    Err(AuthError::Wipe(if reason == Some(RevokeReason::Retired) {
        WipeReason::Retired
    } else {
        WipeReason::Revoked
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_as_typed() {
        let code = new_enrolment_code();
        assert_eq!(code.len(), 11);
        let canonical = normalise_code(&code).unwrap();
        assert_eq!(normalise_code(&code.to_lowercase()).unwrap(), canonical);
        assert_eq!(
            normalise_code("0ILO0-11111").unwrap(),
            "01100".to_string() + "11111"
        );
        assert!(normalise_code("short").is_none());
        assert!(normalise_code("UUUUU-UUUUU").is_none());
        assert!(normalise_code(&"1".repeat(1000)).is_none());
        // A character outside ASCII is none of the alphabet, even where its
        // low byte is ('Ł' is U+0141, 'A' is 0x41).
        assert!(normalise_code("ŁŁŁŁŁ").is_none());
        assert!(normalise_code("AAAAA-AAAAŁ").is_none());
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&new_token()));
    }
}

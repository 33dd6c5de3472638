//! The device's credential for its server (with the pins the server
//! announced), the officer's access as the server last told it, and the
//! feed cursor: the sync state kept in the store's meta table.

use super::{ACCESS_META, CREDENTIALS_META, CURSOR_META};
use crate::document::DocumentError;
use crate::store::{Store, StoreError};
use crate::sync::wire::Access;

/// The device's credential for one server.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    pub server_url: String,
    pub device_id: String,
    pub token: String,
    /// Pins the server announced in its sync answers (`sha256/...`), the
    /// keys it will move to: trusted beside the pins in `server_url`'s
    /// fragment, so the device follows a certificate rotation. Absent from
    /// stores written before pin rotation (read as none). At most
    /// [`MAX_ANNOUNCED_PINS`], the latest announced last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announced_pins: Vec<String>,
}

/// How many announced pins a device keeps: the oldest go first. Several
/// announcements' worth, so a key announced, then moved to, stays trusted
/// while the server announces the one after it.
pub const MAX_ANNOUNCED_PINS: usize = 8;

impl Credentials {
    /// Adds pins the server announced (already checked as pins), keeping
    /// the latest [`MAX_ANNOUNCED_PINS`]; whether anything changed.
    pub fn remember_pins(&mut self, announced: &[String]) -> bool {
        let before = self.announced_pins.clone();
        for pin in announced {
            self.announced_pins.retain(|known| known != pin);
            self.announced_pins.push(pin.clone());
        }
        let excess = self.announced_pins.len().saturating_sub(MAX_ANNOUNCED_PINS);
        self.announced_pins.drain(..excess);
        self.announced_pins != before
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server_url", &self.server_url)
            .field("device_id", &self.device_id)
            .field("token", &"<redacted>")
            .field("announced_pins", &self.announced_pins)
            .finish()
    }
}

impl Store {
    pub fn credentials(&self) -> Result<Option<Credentials>, StoreError> {
        match self.meta(CREDENTIALS_META)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| DocumentError::Shape(format!("unreadable credentials: {e}")).into()),
        }
    }

    pub fn set_credentials(&self, credentials: &Credentials) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(credentials)
            .map_err(|e| DocumentError::Shape(format!("credentials: {e}")))?;
        self.set_meta(CREDENTIALS_META, &bytes)
    }

    /// The officer's role and station as the server last told them, if
    /// it did (servers of protocol 1 do not).
    pub fn access(&self) -> Result<Option<Access>, StoreError> {
        match self.meta(ACCESS_META)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| DocumentError::Shape(format!("unreadable access: {e}")).into()),
        }
    }

    pub fn set_access(&self, access: &Access) -> Result<(), StoreError> {
        self.set_meta(ACCESS_META, &access_bytes(access)?)
    }

    /// The feed position of the last page durably applied.
    pub fn cursor(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.meta(CURSOR_META)?.and_then(|b| {
            <[u8; 8]>::try_from(b.as_slice())
                .ok()
                .map(u64::from_be_bytes)
        }))
    }
}

pub(super) fn access_bytes(access: &Access) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(access).map_err(|e| DocumentError::Shape(format!("access: {e}")).into())
}

//! Opening a notebook: with the app's 256-bit key (what Kotlin and Swift
//! see as `Notebook.open`, `Notebook.openExisting` and
//! `enrolEncryptedDevice`), or, for the Rust tests and the device CLI's
//! local use only, without one. Also the key change (`rekey`).
//!
//! The keyed constructors are the exported ones, so an app cannot open a
//! plaintext notebook; the plain ones stay Rust-only under their old names
//! (`Notebook::open`, `Notebook::open_existing`), so Rust callers did not
//! change.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::records::invalid;
use super::sync::{blocking, off_thread};
use super::{ApiError, DeviceClock, Notebook, OFFICER_META, Shared, Slot, check_network, lock};
use crate::model::{Officer, Violations};
use crate::store::{Credentials, KeyProblem, Store, StoreError, StoreKey};
use crate::sync::client::{ClientError, EnrolmentLink, NetworkSettings, SyncClient};
use crate::sync::wire::{EnrolRequest, PROTOCOL_VERSION};

#[uniffi::export]
impl Notebook {
    /// Opens the notebook stored in `directory` for `officer`, encrypted
    /// with `key` (32 bytes the app keeps in the Android Keystore or the
    /// iOS Keychain), creating it on first use. A notebook stored without
    /// encryption is encrypted now, every record kept. A notebook belongs
    /// to one officer: opening it with another shoulder number is refused.
    /// A wrong key is refused with `ApiError::Key` and changes nothing.
    #[uniffi::constructor(name = "open")]
    pub fn open_encrypted(
        directory: String,
        officer: Officer,
        key: Vec<u8>,
    ) -> Result<Arc<Self>, ApiError> {
        check_officer(&officer)?;
        let key = StoreKey::from_bytes(&key)?;
        let store = Store::open_encrypted(Path::new(&directory), &key)?;
        Self::with_store(store, officer, DeviceClock::system())
    }

    /// Reopens an encrypted notebook already set up in `directory` (by
    /// `open` or by enrolment), for the officer it belongs to.
    #[uniffi::constructor(name = "open_existing")]
    pub fn open_existing_encrypted(directory: String, key: Vec<u8>) -> Result<Arc<Self>, ApiError> {
        Self::open_existing_with_clock(directory, Some(key), DeviceClock::system())
    }

    /// Changes the notebook's key, atomically: if the app dies during the
    /// change, the notebook opens with exactly one of the two keys (the
    /// other is refused as `Key` with problem `RekeyInterrupted`). Keep the
    /// old key until this returns, and the new one from before it is called.
    /// Two key changes at once (two handles, two processes) run one after
    /// the other: the second is refused as `Key` with problem `Wrong` (the
    /// key it holds is no longer the notebook's), nothing changed, and its
    /// handle is closed (later calls fail with `Closed`): open the notebook
    /// again with the key the first change set.
    pub fn rekey(&self, new_key: Vec<u8>) -> Result<(), ApiError> {
        let key = StoreKey::from_bytes(&new_key)?;
        let mut store = self.store()?;
        let result = store.rekey(&key);
        drop(store);
        if let Err(StoreError::Key(KeyProblem::Wrong)) = result {
            // Another handle changed the key: this one's connection reads
            // the file that change replaced, so it is closed, not used.
            self.close();
        }
        Ok(result?)
    }
}

impl Notebook {
    /// Opens (or creates) an *unencrypted* notebook in `directory` for
    /// `officer`: for Rust tests and the device CLI without a key. Apps
    /// always pass a key ([`Notebook::open_encrypted`], exported as `open`).
    /// An encrypted notebook is refused with `ApiError::Key` (`Missing`).
    pub fn open(directory: String, officer: Officer) -> Result<Arc<Self>, ApiError> {
        Self::open_with_clock(directory, officer, DeviceClock::system())
    }

    /// Reopens an unencrypted notebook already set up in `directory`.
    pub fn open_existing(directory: String) -> Result<Arc<Self>, ApiError> {
        Self::open_existing_with_clock(directory, None, DeviceClock::system())
    }

    /// The notebook over an open store, which must be `officer`'s (or no
    /// one's yet: it becomes theirs), reading time from `clock`; the
    /// retention check runs before it is handed out (`api/retention.rs`).
    pub(super) fn with_store(
        store: Store,
        officer: Officer,
        clock: DeviceClock,
    ) -> Result<Arc<Self>, ApiError> {
        if let Some(bytes) = store.meta(OFFICER_META)? {
            let owner: Officer = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::storage(format!("unreadable notebook owner: {e}")))?;
            if owner.shoulder_number != officer.shoulder_number {
                return Err(another_officer());
            }
        }
        let json = serde_json::to_vec(&officer).map_err(|e| ApiError::storage(e.to_string()))?;
        store.set_meta(OFFICER_META, &json)?;
        let notebook = Arc::new(Notebook {
            shared: Arc::new(Shared {
                store: std::sync::Mutex::new(Slot::Open(Box::new(store))),
                listeners: Arc::default(),
                next_listener: AtomicU64::new(0),
                client: std::sync::Mutex::default(),
                network: std::sync::Mutex::default(),
                clock,
                retention_checked: std::sync::Mutex::default(),
                server_time_seen: std::sync::Mutex::default(),
            }),
            officer,
        });
        if let Err(e) = notebook.shared.expire_now() {
            // The store opened: a failed check is tried again on the next call.
            tracing::warn!(error = %e, "the device's retention check failed on opening");
        }
        Ok(notebook)
    }

    /// Whether this notebook's store is encrypted.
    pub fn is_encrypted(&self) -> Result<bool, ApiError> {
        Ok(self.store()?.is_encrypted())
    }
}

/// The refusal of a notebook to another officer than its own: on opening,
/// and on enrolling with a code issued for someone else (the server
/// answers 409 to that before it spends the code).
fn another_officer() -> ApiError {
    ApiError::conflict("this notebook belongs to another officer")
}

pub(super) fn check_officer(officer: &Officer) -> Result<(), ApiError> {
    let mut v = Violations::new();
    officer.validate(&mut v, "officer.");
    v.finish().map_err(invalid)
}

/// The officer a set-up notebook belongs to.
pub(super) fn owner(store: &Store) -> Result<Officer, ApiError> {
    let Some(bytes) = store.meta(OFFICER_META)? else {
        return Err(ApiError::not_enrolled(
            "no notebook in this directory yet: open it for an officer or enrol the device",
        ));
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::storage(format!("unreadable notebook owner: {e}")))
}

/// Enrols this device with a one-time code from the server's admin, and
/// opens the officer's notebook encrypted with `key` (see
/// [`Notebook::open_encrypted`]). Requests wait as long as
/// [`NetworkSettings::default`] allows.
#[uniffi::export(async_runtime = "tokio")]
pub async fn enrol_encrypted_device(
    directory: String,
    key: Vec<u8>,
    server_url: String,
    code: String,
    device_label: String,
) -> Result<Arc<Notebook>, ApiError> {
    enrol_encrypted_device_with_network(
        directory,
        key,
        server_url,
        code,
        device_label,
        NetworkSettings::default(),
    )
    .await
}

/// [`enrol_encrypted_device`] with the request timeouts the app chose; the
/// notebook keeps them for its syncs. The key is checked against the
/// directory's notebook before the code is spent.
#[uniffi::export(async_runtime = "tokio")]
pub async fn enrol_encrypted_device_with_network(
    directory: String,
    key: Vec<u8>,
    server_url: String,
    code: String,
    device_label: String,
    network: NetworkSettings,
) -> Result<Arc<Notebook>, ApiError> {
    let key = StoreKey::from_bytes(&key)?;
    enrol_into(
        move || Ok(Store::open_encrypted(Path::new(&directory), &key)?),
        server_url,
        code,
        device_label,
        network,
    )
    .await
}

/// Enrols this device with a one-time code from the server's admin, and
/// opens the officer's notebook *unencrypted*: for Rust tests and the
/// device CLI without a key. Apps enrol with a key
/// ([`enrol_encrypted_device`](enrol_encrypted_device) or
/// [`enrol_with_link`](enrol_with_link)), the only
/// enrolment Kotlin and Swift see. Requests wait as long as
/// [`NetworkSettings::default`] allows.
pub async fn enrol_device(
    directory: String,
    server_url: String,
    code: String,
    device_label: String,
) -> Result<Arc<Notebook>, ApiError> {
    enrol_device_with_network(
        directory,
        server_url,
        code,
        device_label,
        NetworkSettings::default(),
    )
    .await
}

/// [`enrol_device`] with the request timeouts the caller chose; the
/// notebook it returns keeps them for its syncs. A server that accepts and
/// never answers fails the enrolment with `Offline` (cause `Timeout`) once
/// the read or overall timeout runs out.
pub async fn enrol_device_with_network(
    directory: String,
    server_url: String,
    code: String,
    device_label: String,
    network: NetworkSettings,
) -> Result<Arc<Notebook>, ApiError> {
    enrol_into(
        move || Ok(crate::store::Store::open(std::path::Path::new(&directory))?),
        server_url,
        code,
        device_label,
        network,
    )
    .await
}

/// The one enrolment flow, plain or encrypted: the server's address and
/// trust checked, then the store opened (a wrong key or an unusable
/// directory must not spend the one-time code), then the code, then the
/// credentials and the access the server granted, in the notebook of the
/// officer the code was issued for. A notebook that already belongs to an
/// officer sends their shoulder number with the code, and a code issued
/// for anyone else is refused (`Conflict`) unspent. Runs as a task of the
/// ambient runtime, so a cancelled caller aborts it.
pub(super) async fn enrol_into(
    open: impl FnOnce() -> Result<Store, ApiError> + Send + 'static,
    server_url: String,
    code: String,
    device_label: String,
    network: NetworkSettings,
) -> Result<Arc<Notebook>, ApiError> {
    check_network(&network)?;
    off_thread(async move {
        // The settings, then the store: neither spends the code, and
        // unusable settings leave the directory untouched.
        let client = SyncClient::new(&server_url, None, &network)?;
        let (store, notebook_officer) = blocking(move || {
            let store = open()?;
            let owner = match store.meta(OFFICER_META)? {
                Some(_) => Some(owner(&store)?.shoulder_number),
                None => None,
            };
            Ok((store, owner))
        })
        .await?;
        // A notebook that already belongs to an officer names them, so the
        // server refuses a code for anyone else before spending it.
        let request = EnrolRequest {
            protocol: PROTOCOL_VERSION,
            code: code.trim().to_string(),
            device_label,
            notebook_officer,
        };
        let response = client.enrol(&request).await.map_err(|e| match e {
            ClientError::Refused { status: 409, .. } => another_officer(),
            other => other.into(),
        })?;
        blocking(move || {
            let notebook =
                Notebook::with_store(store, response.officer.clone(), DeviceClock::system())?;
            let store = notebook.store()?;
            store.set_credentials(&Credentials {
                server_url,
                device_id: response.device_id,
                token: response.token,
                announced_pins: Vec::new(),
            })?;
            if let Some(access) = &response.access {
                store.set_access(access)?;
            }
            drop(store);
            *lock(&notebook.shared.network) = network;
            Ok(notebook)
        })
        .await
    })
    .await
}

/// Enrols this device from an enrolment link (scanned from the QR code
/// `admin device enrol --qr` prints, or opened as `pocketbook://enrol?...`):
/// the server's URL, the code, and the pins of the keys to trust, which the
/// notebook keeps for every later sync. Otherwise as
/// [`enrol_encrypted_device`].
#[uniffi::export(async_runtime = "tokio")]
pub async fn enrol_with_link(
    directory: String,
    key: Vec<u8>,
    link: String,
    device_label: String,
) -> Result<Arc<Notebook>, ApiError> {
    let link = EnrolmentLink::parse(&link)?;
    enrol_encrypted_device(directory, key, link.server_url, link.code, device_label).await
}

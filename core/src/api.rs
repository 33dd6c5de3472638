//! The facade the Android and iOS apps (and the `pocketbook-device` CLI)
//! call. It only maps values and errors: rules live in `model`, document
//! edits in `document`, durability in `store`.
//!
//! Two promises are kept here because only the facade can keep them:
//! an app's callback (a [`ChangeListener`], a [`SyncProgress`]) that fails
//! never breaks the call that fired it, and the async calls do their
//! SQLite and Automerge work off the caller's thread (a tokio task, with
//! the store work on tokio's blocking pool), so an app's main thread stays
//! free while a sync runs.

mod events;
mod opening;
pub mod promises;
mod records;
mod retention;
mod sync;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::{Officer, RecordHeader};
use crate::store::{Credentials, HeldRecord, SetAside, Store};
use crate::sync::client::{NetworkSettings, SyncClient};
use crate::sync::wire::Access;

pub use crate::error::ApiError;

pub(crate) const OFFICER_META: &str = "officer";

use events::Listeners;
pub use events::{CallbackError, ChangeEvent, ChangeListener, ChangeOrigin, Subscription};
pub use opening::{
    enrol_device, enrol_device_with_network, enrol_encrypted_device,
    enrol_encrypted_device_with_network, enrol_with_link,
};
pub use records::{parse_reference, validate_record};
pub use retention::{DeviceClock, RETENTION_CHECK_EVERY, RetentionCheck};
use sync::check_network;
pub use sync::{RecordRejection, SyncProgress, SyncSummary, default_network_settings};

/// An officer's notebook on one device: the entry point of the API.
#[derive(uniffi::Object)]
pub struct Notebook {
    /// What a sync running on the core's threads shares with the caller.
    shared: Arc<Shared>,
    officer: Officer,
}

/// The notebook's state, shared with the tasks of its async calls.
struct Shared {
    store: Mutex<Slot>,
    listeners: Arc<Listeners>,
    next_listener: AtomicU64,
    client: Mutex<Option<(Credentials, NetworkSettings, Arc<SyncClient>)>>,
    network: Mutex<NetworkSettings>,
    /// The device's clock, for retention.
    clock: DeviceClock,
    /// When (by `clock`) the last retention check ran.
    retention_checked: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// The last server time heard, and the monotonic time when this
    /// notebook first saw it (retention's "now", `api/retention.rs`).
    server_time_seen: Mutex<Option<(chrono::DateTime<chrono::Utc>, chrono::TimeDelta)>>,
}

/// The store, unless the notebook was wiped or closed. Changed only under
/// the lock, so a call sees one state from start to end.
enum Slot {
    Open(Box<Store>),
    /// Erased on the server's order: calls fail with `NotEnrolled`.
    Wiped,
    /// Closed by the app: calls fail with `Closed`.
    Closed,
}

/// The locked store of an open notebook.
struct StoreGuard<'a>(MutexGuard<'a, Slot>);

impl Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        match &*self.0 {
            Slot::Open(store) => store,
            // A guard is only made for an open slot, and the slot cannot
            // change while the guard holds the lock.
            Slot::Wiped | Slot::Closed => unreachable!("a StoreGuard of a notebook not open"),
        }
    }
}

impl DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        match &mut *self.0 {
            Slot::Open(store) => store,
            Slot::Wiped | Slot::Closed => unreachable!("a StoreGuard of a notebook not open"),
        }
    }
}

impl std::fmt::Debug for Notebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notebook").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the store half-written
    // (SQLite transactions roll back), so the data is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[uniffi::export]
impl Notebook {
    /// The officer this notebook belongs to; `NotEnrolled` once the
    /// notebook was wiped (it belongs to no one then), `Closed` once closed.
    pub fn officer(&self) -> Result<Officer, ApiError> {
        self.store()?;
        Ok(self.officer.clone())
    }

    /// The officer's role and station as the server last said (at
    /// enrolment, and in every sync answer since, so a promotion or a move
    /// arrives with the next sync); `None` for a notebook never enrolled,
    /// or enrolled with a server of protocol 1. Edits are checked against
    /// it before they are stored.
    pub fn access(&self) -> Result<Option<Access>, ApiError> {
        Ok(self.store()?.access()?)
    }

    /// Closes the notebook now: the store's file is released, and every
    /// later call on this object fails with `ApiError::Closed` (a sync in
    /// flight stops at its next step, its applied pages kept). Listeners
    /// stay registered but hear nothing more. Open the directory again to
    /// go on. Kotlin's `close()`/`use {}` (which frees the object itself)
    /// remains the way to let the object go.
    #[uniffi::method(name = "close_notebook")]
    pub fn close(&self) {
        let mut slot = lock(&self.shared.store);
        if matches!(*slot, Slot::Open(_)) {
            *slot = Slot::Closed;
        }
        drop(slot);
        *lock(&self.shared.client) = None;
    }

    /// Sets how long requests of this notebook may wait (the next sync
    /// uses them); see [`NetworkSettings`] for the defaults. Out-of-range
    /// values are refused with `Invalid`, naming each.
    pub fn set_network_settings(&self, settings: NetworkSettings) -> Result<(), ApiError> {
        check_network(&settings)?;
        *lock(&self.shared.network) = settings;
        Ok(())
    }

    /// The request timeouts this notebook uses.
    pub fn network_settings(&self) -> NetworkSettings {
        *lock(&self.shared.network)
    }

    /// Records whose feed entries this app could not apply (a newer app
    /// wrote them, or they could not be read), oldest first. They stay held
    /// on the device, and each sync tries them again, so an updated app
    /// applies them without any action.
    pub fn held_records(&self) -> Result<Vec<HeldRecord>, ApiError> {
        Ok(self.store()?.held()?)
    }

    /// Changes the server refused for good and this device set aside when
    /// it rolled their records back, oldest first: which record, why, how
    /// many edits. They are never merged or pushed again.
    pub fn set_aside(&self) -> Result<Vec<SetAside>, ApiError> {
        Ok(self.store()?.set_aside()?)
    }

    /// The record as this device had it before a rollback, refused changes
    /// included: an Automerge document (as `export` gives) to read them.
    /// `NotFound` for an id [`Notebook::set_aside`] does not list.
    pub fn set_aside_version(&self, id: i64) -> Result<Vec<u8>, ApiError> {
        Ok(self.store()?.set_aside_version(id)?)
    }

    /// Where an unreadable store file was moved when the notebook opened,
    /// so the app can tell the officer and support can recover it.
    pub fn store_moved_aside(&self) -> Option<String> {
        self.store()
            .ok()?
            .moved_aside()
            .map(|p| p.display().to_string())
    }

    /// Data minimisation: synced records last changed more than `days` ago
    /// leave this device after each sync (they stay on the server). `None`
    /// keeps everything. Records not yet synced never leave this way.
    pub fn set_keep_synced_days(&self, days: Option<i32>) -> Result<(), ApiError> {
        let days = match days.map(u32::try_from) {
            None => None,
            Some(Ok(days)) => Some(days),
            Some(Err(_)) => {
                return Err(ApiError::invalid_field(
                    "days",
                    "a number of days, 0 or more (None keeps everything)",
                ));
            }
        };
        Ok(self.store()?.set_keep_synced_days(days)?)
    }

    /// Applies the data-minimisation setting now; returns how many records left.
    pub fn prune_synced_records(&self) -> Result<i32, ApiError> {
        Ok(sync::count(self.store()?.prune_by_setting()?))
    }
}

impl Notebook {
    /// The store, unless the notebook was wiped (`NotEnrolled`) or closed
    /// (`Closed`).
    fn store(&self) -> Result<StoreGuard<'_>, ApiError> {
        self.shared.store()
    }

    pub(crate) fn notify(&self, header: &RecordHeader, origin: ChangeOrigin) {
        self.shared.notify_id(&header.id, header.kind, origin)
    }
}

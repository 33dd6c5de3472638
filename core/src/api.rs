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

use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::document::DocumentError;
use crate::model::{
    ActionDetail, ChecklistItem, FieldViolation, Officer, Receipt, ReceiptMedium, Record,
    RecordBody, RecordHeader, RecordKind, RecordSummary, SceneAttendance, SceneInput, StopAccount,
    StopSearch, Tick, TickOutcome, UpdateAgreement, Violations, normalise_registration,
};
use crate::reference::Reference;
use crate::store::{Credentials, HeldRecord, ListFilter, Store, now};
use crate::sync::client::{ClientError, NetworkSettings, SyncClient};
use crate::sync::lifecycle::{WipeReason, ready_to_retire};
use crate::sync::wire::{
    EnrolRequest, MAX_PAGE_ENTRIES, MAX_PUSH_BYTES, MAX_PUSH_RECORDS, PROTOCOL_VERSION,
    PushedRecord, SyncRequest,
};

pub use crate::error::ApiError;

const OFFICER_META: &str = "officer";
const KEEP_SYNCED_META: &str = "keep_synced_days";

/// Where a change to a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// An edit made through this notebook.
    Local,
    /// Automerge bytes imported through [`Notebook::import`].
    Import,
    /// Changes received from the sync server.
    Sync,
    /// The record left this device: the server erased it (its retention
    /// ran out), or the whole notebook was wiped (`ApiError::Wiped`). Drop
    /// it from any list; reading it now fails.
    Erased,
}

/// Sent to listeners after a change is durable.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChangeEvent {
    pub record_id: String,
    pub kind: RecordKind,
    pub origin: ChangeOrigin,
}

/// What an app's callback reports when it fails. The core never needs the
/// reason: whatever a [`ChangeListener`] or [`SyncProgress`] throws (in
/// Kotlin or Swift, any exception) arrives as `Failed`, is logged without
/// its message (it could hold personal data), and changes nothing else:
/// the call that fired the callback keeps its result, and every other
/// listener still hears the event.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    #[error("an app callback failed")]
    Failed,
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        // The reason is the foreign stack trace and message: dropped here.
        CallbackError::Failed
    }
}

/// Implemented by the app to hear about changes (e.g. to refresh a list).
/// Called after the change is durable and the store lock released: on the
/// thread that made the change for local edits, on one of the core's
/// threads during a sync. Throwing is harmless (see [`CallbackError`]).
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError>;
}

type Listeners = Mutex<Vec<(u64, Arc<dyn ChangeListener>)>>;

/// Calls an app callback so that nothing it does reaches the caller: a
/// returned error and a panic (a Rust callback's, or the bindings' for a
/// foreign failure they could not map) are both logged, without content.
fn guarded(what: &'static str, call: impl FnOnce() -> Result<(), CallbackError>) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(Ok(())) => {}
        Ok(Err(CallbackError::Failed)) => {
            tracing::warn!(callback = what, "an app callback failed; carrying on");
        }
        Err(_) => tracing::warn!(callback = what, "an app callback panicked; carrying on"),
    }
}

/// Keeps a listener registered; cancelling or dropping it unregisters.
#[derive(uniffi::Object)]
pub struct Subscription {
    id: u64,
    listeners: Weak<Listeners>,
}

#[uniffi::export]
impl Subscription {
    /// Stops the listener from being called again.
    pub fn cancel(&self) {
        if let Some(listeners) = self.listeners.upgrade() {
            lock(&listeners).retain(|(id, _)| *id != self.id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

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
    /// Opens the notebook stored in `directory` for `officer`, creating it
    /// on first use. A notebook belongs to one officer: opening it with
    /// another shoulder number is refused.
    #[uniffi::constructor]
    pub fn open(directory: String, officer: Officer) -> Result<Arc<Self>, ApiError> {
        let mut v = Violations::new();
        officer.validate(&mut v, "officer.");
        v.finish().map_err(invalid)?;
        let store = Store::open(std::path::Path::new(&directory))?;
        if let Some(bytes) = store.meta(OFFICER_META)? {
            let owner: Officer = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::storage(format!("unreadable notebook owner: {e}")))?;
            if owner.shoulder_number != officer.shoulder_number {
                return Err(ApiError::conflict(
                    "this notebook belongs to another officer",
                ));
            }
        }
        let json = serde_json::to_vec(&officer).map_err(|e| ApiError::storage(e.to_string()))?;
        store.set_meta(OFFICER_META, &json)?;
        Ok(Arc::new(Notebook {
            shared: Arc::new(Shared {
                store: Mutex::new(Slot::Open(Box::new(store))),
                listeners: Arc::default(),
                next_listener: AtomicU64::new(0),
                client: Mutex::default(),
                network: Mutex::default(),
            }),
            officer,
        }))
    }

    /// Reopens a notebook already set up in `directory` (by `open` or by
    /// enrolment), for the officer it belongs to.
    #[uniffi::constructor]
    pub fn open_existing(directory: String) -> Result<Arc<Self>, ApiError> {
        let owner = {
            let store = Store::open(std::path::Path::new(&directory))?;
            store.meta(OFFICER_META)?
        };
        let Some(bytes) = owner else {
            return Err(ApiError::not_enrolled(
                "no notebook in this directory yet: open it for an officer or enrol the device",
            ));
        };
        let officer: Officer = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::storage(format!("unreadable notebook owner: {e}")))?;
        Self::open(directory, officer)
    }

    /// The officer this notebook belongs to; `NotEnrolled` once the
    /// notebook was wiped (it belongs to no one then), `Closed` once closed.
    pub fn officer(&self) -> Result<Officer, ApiError> {
        self.store()?;
        Ok(self.officer.clone())
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

    /// Where an unreadable store file was moved when the notebook opened,
    /// so the app can tell the officer and support can recover it.
    pub fn store_moved_aside(&self) -> Option<String> {
        self.store()
            .ok()?
            .moved_aside()
            .map(|p| p.display().to_string())
    }

    /// Opens a scene-attendance record.
    pub fn create_scene(&self, input: SceneInput) -> Result<Record, ApiError> {
        let scene = SceneAttendance::from_input(input);
        self.create(RecordBody::SceneAttendance { scene })
    }

    /// Opens a home-burglary record (a scene attendance with the burglary checklist).
    pub fn create_burglary(&self, input: SceneInput) -> Result<Record, ApiError> {
        let scene = SceneAttendance::from_input(input);
        self.create(RecordBody::HomeBurglary { scene })
    }

    /// Records a stop and search. The receipt is issued separately with
    /// [`Notebook::issue_receipt`] or [`Notebook::receipt_not_given`].
    pub fn create_stop_search(&self, mut search: StopSearch) -> Result<Record, ApiError> {
        search.vehicle_registration = search
            .vehicle_registration
            .as_deref()
            .map(normalise_registration)
            .filter(|r| !r.is_empty());
        if search.receipt.is_some() {
            return Err(ApiError::invalid_field(
                "receipt",
                "issue it with issue_receipt once the record is made",
            ));
        }
        self.create(RecordBody::StopSearch { search })
    }

    /// Records a stop and account.
    pub fn create_stop_account(&self, account: StopAccount) -> Result<Record, ApiError> {
        if account.receipt.is_some() {
            return Err(ApiError::invalid_field(
                "receipt",
                "issue it with issue_receipt once the record is made",
            ));
        }
        self.create(RecordBody::StopAccount { account })
    }

    /// Appends a scene action by this officer; returns the action's id.
    pub fn add_scene_action(
        &self,
        record_id: String,
        detail: ActionDetail,
    ) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| doc.add_action(detail, &by, &now()))
    }

    /// Ticks a checklist item. "Not done" needs the reason. Every tick is a
    /// new entry of the item's history (ticking an item again, or a
    /// colleague's later tick, never rewrites an earlier one); the record
    /// shows the latest per item in `derived.latest_ticks`. Returns the
    /// tick entry's id.
    pub fn tick(
        &self,
        record_id: String,
        item: ChecklistItem,
        outcome: TickOutcome,
        reason: Option<String>,
    ) -> Result<String, ApiError> {
        let tick = Tick {
            id: String::new(),
            item,
            outcome,
            reason: reason.filter(|r| !r.trim().is_empty()),
            ticked_by: self.officer.shoulder_number.clone(),
            ticked_at: now(),
        };
        self.edit(&record_id, |doc| doc.tick(&tick))
    }

    /// Names another officer who attended the scene (scene-attendance and
    /// home-burglary records): the server then lets them see and add to the
    /// record. The shoulder number is checked as an officer's own is.
    /// Naming the record's author, or an officer already named, succeeds
    /// and changes nothing. Stop-search and stop-account records are never
    /// shared this way (`Conflict`).
    pub fn add_attending_officer(
        &self,
        record_id: String,
        shoulder_number: String,
    ) -> Result<(), ApiError> {
        let (changed, header) =
            self.edit_quietly(&record_id, |doc| doc.add_attending(&shoulder_number))?;
        if let (true, Some(header)) = (changed, header) {
            self.notify(&header, ChangeOrigin::Local);
        }
        Ok(())
    }

    /// Records when officers arrived at the scene.
    pub fn record_arrival(&self, record_id: String, at: String) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.set_times(Some(&at), None))
    }

    /// Records when officers left the scene.
    pub fn record_departure(&self, record_id: String, at: String) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.set_times(None, Some(&at)))
    }

    /// Records how and how often the victim wants updates (at least every 4 weeks).
    pub fn agree_updates(
        &self,
        record_id: String,
        updates: UpdateAgreement,
    ) -> Result<(), ApiError> {
        self.edit(&record_id, |doc| doc.agree_updates(&updates))
    }

    /// Writes a new entry in the record's notebook (any record kind), in
    /// this officer's name; returns the entry's id. Entries are never
    /// edited or removed: a mistake is put right with [`Notebook::correct_note`].
    pub fn add_note(&self, record_id: String, text: String) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| doc.add_note(&text, &by, &now()))
    }

    /// Writes a new entry that corrects the entry `entry_id`: the corrected
    /// entry stays readable as written and lists this one in its
    /// `corrected_by`. Returns the new entry's id.
    pub fn correct_note(
        &self,
        record_id: String,
        entry_id: String,
        text: String,
    ) -> Result<String, ApiError> {
        let by = self.officer.shoulder_number.clone();
        self.edit(&record_id, |doc| {
            doc.correct_note(&entry_id, &text, &by, &now())
        })
    }

    /// Issues the receipt of a stop and search (or the record of a stop and
    /// account); returns the reference printed on it.
    pub fn issue_receipt(
        &self,
        record_id: String,
        medium: ReceiptMedium,
    ) -> Result<String, ApiError> {
        let receipt = Receipt::Given {
            medium,
            given_at: now(),
        };
        self.edit(&record_id, |doc| {
            doc.set_receipt(&receipt)?;
            Ok(doc.header().reference.clone())
        })
    }

    /// Records why no receipt could be given (exceptional circumstances).
    pub fn receipt_not_given(&self, record_id: String, reason: String) -> Result<(), ApiError> {
        let receipt = Receipt::NotGiven {
            reason,
            recorded_at: now(),
        };
        self.edit(&record_id, |doc| doc.set_receipt(&receipt))
    }

    /// Reads a whole typed record.
    pub fn get(&self, record_id: String) -> Result<Record, ApiError> {
        Ok(self.store()?.get(&record_id)?)
    }

    /// Lists records, newest first, from the index alone.
    pub fn list(&self, filter: ListFilter) -> Result<Vec<RecordSummary>, ApiError> {
        if let Some(reference) = &filter.reference {
            Reference::parse(reference).map_err(|e| ApiError::bad_input(e.to_string()))?;
        }
        Ok(self.store()?.list(&filter)?)
    }

    /// The record's Automerge document, for repair and interop.
    pub fn export(&self, record_id: String) -> Result<Vec<u8>, ApiError> {
        Ok(self.store()?.export(&record_id)?)
    }

    /// Imports a record's Automerge document, merging it with the stored copy.
    pub fn import(&self, bytes: Vec<u8>) -> Result<Record, ApiError> {
        let record = self.store()?.import(&bytes)?;
        self.notify(&record.header, ChangeOrigin::Import);
        Ok(record)
    }

    /// Data minimisation: synced records last changed more than `days` ago
    /// leave this device after each sync (they stay on the server). `None`
    /// keeps everything. Records not yet synced never leave this way.
    pub fn set_keep_synced_days(&self, days: Option<u32>) -> Result<(), ApiError> {
        let store = self.store()?;
        match days {
            Some(days) => store.set_meta(KEEP_SYNCED_META, &days.to_be_bytes())?,
            None => store.delete_meta(KEEP_SYNCED_META)?,
        }
        Ok(())
    }

    /// Applies the data-minimisation setting now; returns how many records left.
    pub fn prune_synced_records(&self) -> Result<u32, ApiError> {
        self.shared.prune()
    }

    /// Registers a listener for changes; keep the subscription to keep listening.
    pub fn subscribe(&self, listener: Arc<dyn ChangeListener>) -> Arc<Subscription> {
        let id = self
            .shared
            .next_listener
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.shared.listeners).push((id, listener));
        Arc::new(Subscription {
            id,
            listeners: Arc::downgrade(&self.shared.listeners),
        })
    }
}

/// Hears how a sync is going (records sent and received so far), on one of
/// the core's threads: after every round trip, and while a page is being
/// applied at least every 50 records or 250 ms. Throwing is harmless (see
/// [`CallbackError`]).
#[uniffi::export(with_foreign)]
pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, sent: u32, received: u32) -> Result<(), CallbackError>;
}

/// A record the server refused, with its reason (no record content).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordRejection {
    pub record_id: String,
    /// Stable code: invalid, corrupt, forbidden, erased, wrong-kind, missing-dependencies.
    pub code: String,
    pub message: String,
}

/// What one `sync()` did.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SyncSummary {
    /// HTTP round trips made.
    pub requests: u32,
    /// Records whose changes were sent.
    pub sent: u32,
    /// Records the server acknowledged.
    pub acknowledged: u32,
    /// Records changed here by what the server sent.
    pub received: u32,
    pub rejected: Vec<RecordRejection>,
    /// Records still waiting for the server afterwards (refused ones excluded).
    pub pending: u64,
    /// Synced records removed from this device by data minimisation.
    pub pruned: u32,
    /// Feed entries held on this device because this app cannot apply
    /// them (`Notebook::held_records` lists their records).
    pub held: u32,
}

/// Enrols this device with a one-time code from the server's admin, and
/// opens the notebook of the officer the code was issued for. Requests
/// wait as long as [`NetworkSettings::default`] allows; see
/// [`enrol_device_with_network`] to choose.
#[uniffi::export(async_runtime = "tokio")]
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

/// [`enrol_device`] with the request timeouts the app chose; the notebook
/// it returns keeps them for its syncs. A server that accepts and never
/// answers fails the enrolment with `Offline` (cause `Timeout`) once the
/// read or overall timeout runs out.
#[uniffi::export(async_runtime = "tokio")]
pub async fn enrol_device_with_network(
    directory: String,
    server_url: String,
    code: String,
    device_label: String,
    network: NetworkSettings,
) -> Result<Arc<Notebook>, ApiError> {
    check_network(&network)?;
    off_thread(async move {
        let client = SyncClient::new(&server_url, None, &network)?;
        let request = EnrolRequest {
            protocol: PROTOCOL_VERSION,
            code: code.trim().to_string(),
            device_label,
        };
        let response = client.enrol(&request).await?;
        blocking(move || {
            let notebook = Notebook::open(directory, response.officer.clone())?;
            notebook.store()?.set_credentials(&Credentials {
                server_url,
                device_id: response.device_id,
                token: response.token,
            })?;
            *lock(&notebook.shared.network) = network;
            Ok(notebook)
        })
        .await
    })
    .await
}

#[uniffi::export(async_runtime = "tokio")]
impl Notebook {
    /// Sends every change the server has not acknowledged and applies every
    /// change the server has for this officer, page by page, until both
    /// sides are level. Safe to cancel (cancel the coroutine or Task) or to
    /// lose the network at any point: a page is applied with its cursor in
    /// one transaction, and an interrupted sync simply resumes.
    ///
    /// Runs on the core's threads: the caller's thread only waits, so a
    /// sync started from an app's main thread never holds it. Feed entries
    /// this app cannot apply are held, never allowed to stop the sync
    /// (`SyncSummary::held`, `held_records`); held entries are tried again
    /// first.
    ///
    /// Ends a device's life when the server says so: if the device was
    /// revoked (or, retired, it calls again) the server answers 401 with
    /// `wipe`, and the whole notebook is erased; if it is being handed back
    /// (`retire` in the answer) and nothing on it is unacknowledged, it
    /// confirms on `/v1/retire` and is erased. Either way the result is
    /// `ApiError::Wiped` (with the number of unsynced edits lost),
    /// listeners hear one `Erased` event per record, and this notebook
    /// answers `NotEnrolled` from then on. A plain 401 (a token the server
    /// does not know) erases nothing: `Unauthorised`.
    pub async fn sync(
        &self,
        progress: Option<Arc<dyn SyncProgress>>,
    ) -> Result<SyncSummary, ApiError> {
        let shared = Arc::clone(&self.shared);
        off_thread(shared.sync(progress)).await
    }
}

/// Upper bound on round trips in one `sync()`, so a misbehaving server
/// cannot keep a device busy forever; the next sync resumes.
const MAX_SYNC_ROUNDS: usize = 10_000;

/// Records pushed per request, and feed entries asked for per page: below
/// the protocol's maxima (`MAX_PUSH_RECORDS`, `MAX_PAGE_ENTRIES`), so the
/// server's work for one request stays well inside the read timeout
/// ([`NetworkSettings`]) even on a slow or busy server, and a dropped
/// connection loses little work.
const PUSH_BATCH_RECORDS: usize = 100;
const PAGE_SIZE: u32 = 200;
const _: () = assert!(PUSH_BATCH_RECORDS <= MAX_PUSH_RECORDS && PAGE_SIZE <= MAX_PAGE_ENTRIES);

/// Checks a record body without storing it, so a form can mark every
/// offending field before the officer submits.
#[uniffi::export]
pub fn validate_record(body: RecordBody) -> Vec<FieldViolation> {
    body.validate().err().unwrap_or_default()
}

/// Checks a reference as typed; returns it in canonical form.
#[uniffi::export]
pub fn parse_reference(text: String) -> Result<String, ApiError> {
    Reference::parse(&text)
        .map(|r| r.to_string())
        .map_err(|e| ApiError::bad_input(e.to_string()))
}

/// The request timeouts a notebook uses unless the app sets others.
#[uniffi::export]
pub fn default_network_settings() -> NetworkSettings {
    NetworkSettings::default()
}

fn check_network(settings: &NetworkSettings) -> Result<(), ApiError> {
    let violations = settings.violations();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid { violations })
    }
}

/// Runs `future` as a task of the ambient tokio runtime (uniffi's, for the
/// apps), so the caller's thread only waits for it. Dropping the returned
/// future (a cancelled coroutine or Task) aborts the task at its next
/// await; work already on the blocking pool finishes its transaction.
async fn off_thread<T: Send + 'static>(
    future: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(future));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) => Err(join_failure(e)),
    }
}

/// Runs store work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(join_failure(e)),
    }
}

/// A task that did not finish: a panic is passed on as it was (as if the
/// work had run on the caller's thread); an aborted task was cancelled.
fn join_failure(e: tokio::task::JoinError) -> ApiError {
    match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(_) => ApiError::cancelled(),
    }
}

/// Reports sync progress to the app's callback, if any.
#[derive(Clone)]
struct Reporter(Option<Arc<dyn SyncProgress>>);

impl Reporter {
    fn report(&self, sent: u32, received: u32) {
        if let Some(progress) = &self.0 {
            guarded("sync progress", || progress.on_progress(sent, received));
        }
    }
}

impl Shared {
    /// The store, unless the notebook was wiped or closed.
    fn store(&self) -> Result<StoreGuard<'_>, ApiError> {
        let slot = lock(&self.store);
        match &*slot {
            Slot::Open(_) => Ok(StoreGuard(slot)),
            Slot::Wiped => Err(ApiError::not_enrolled(
                "this notebook was erased (the device was revoked or handed back): enrol the device again",
            )),
            Slot::Closed => Err(ApiError::closed()),
        }
    }

    /// The sync loop; see [`Notebook::sync`]. Every store step runs on the
    /// blocking pool, the requests on the runtime.
    async fn sync(
        self: Arc<Self>,
        progress: Option<Arc<dyn SyncProgress>>,
    ) -> Result<SyncSummary, ApiError> {
        let reporter = Reporter(progress);
        let shared = Arc::clone(&self);
        let (credentials, retried) = blocking(move || {
            let (credentials, retried) = {
                let mut store = shared.store()?;
                (store.credentials()?, store.retry_held()?)
            };
            for (record_id, kind) in &retried {
                shared.notify_id(record_id, *kind, ChangeOrigin::Sync);
            }
            Ok((credentials, retried.len() as u32))
        })
        .await?;
        let credentials = credentials
            .ok_or_else(|| ApiError::not_enrolled("this device is not enrolled with a server"))?;
        let client = self.client(credentials)?;
        let mut summary = SyncSummary {
            received: retried,
            ..SyncSummary::default()
        };
        // What the last answer said: asked to retire, more pages waiting.
        let (mut retire, mut more) = (false, true);
        for _ in 0..MAX_SYNC_ROUNDS {
            let shared = Arc::clone(&self);
            let (pushes, cursor) = blocking(move || {
                let mut store = shared.store()?;
                Ok((
                    store.pending_pushes(PUSH_BATCH_RECORDS, MAX_PUSH_BYTES)?,
                    store.cursor()?,
                ))
            })
            .await?;
            let request = SyncRequest {
                protocol: PROTOCOL_VERSION,
                cursor,
                push: pushes
                    .iter()
                    .map(|p| PushedRecord {
                        record_id: p.record_id.clone(),
                        kind: p.kind,
                        changes: p.changes.clone(),
                    })
                    .collect(),
                page_size: Some(PAGE_SIZE),
            };
            let response = match client.sync(&request).await {
                Ok(response) => response,
                Err(e) => return Err(self.client_failure(e).await),
            };
            summary.requests += 1;
            summary.sent += pushes.len() as u32;
            let shared = Arc::clone(&self);
            let during = reporter.clone();
            let (sent, received) = (summary.sent, summary.received);
            let (page, response, pending) = blocking(move || {
                let page = shared
                    .store()?
                    .apply_sync(&pushes, &response, &mut |merged| {
                        during.report(sent, received + merged)
                    })?;
                // Listeners run with the store lock released.
                for (record_id, kind) in &page.received {
                    shared.notify_id(record_id, *kind, ChangeOrigin::Sync);
                }
                for (record_id, kind) in &page.erased {
                    shared.notify_id(record_id, *kind, ChangeOrigin::Erased);
                }
                let pending = shared.store()?.unsynced_count()?;
                Ok((page, response, pending))
            })
            .await?;
            (retire, more) = (response.retire, response.more);
            summary.acknowledged += page.acknowledged;
            summary.received += page.received.len() as u32;
            summary.held += page.held;
            summary.rejected.extend(response.rejected.iter().map(|r| {
                RecordRejection {
                    record_id: r.record_id.clone(),
                    code: serde_json::to_value(r.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    message: r.message.clone(),
                }
            }));
            reporter.report(summary.sent, summary.received);
            let progressed = page.acknowledged > 0 || !page.received.is_empty();
            if !response.more && (pending == 0 || !progressed) {
                break;
            }
        }
        let shared = Arc::clone(&self);
        let (pending, unacknowledged) = blocking(move || {
            let store = shared.store()?;
            Ok((store.unsynced_count()?, store.unacknowledged_count()?))
        })
        .await?;
        summary.pending = pending;
        if ready_to_retire(retire, more, unacknowledged) {
            // An edit made while this request is in flight would be erased
            // with the rest (and counted as lost); the window is one round
            // trip, on a device its officer is handing back.
            match client.retire().await {
                Ok(()) => return Err(self.erase_off_thread(WipeReason::Retired).await),
                // `not-retiring`: the retirement was withdrawn meanwhile.
                Err(ClientError::Refused { status: 409, .. }) => {}
                Err(e) => return Err(self.client_failure(e).await),
            }
        }
        let shared = Arc::clone(&self);
        summary.pruned = blocking(move || shared.prune()).await?;
        Ok(summary)
    }

    /// The HTTP client for these credentials and settings, made once and
    /// reused so connections and TLS sessions survive from one sync to the
    /// next.
    fn client(&self, credentials: Credentials) -> Result<Arc<SyncClient>, ApiError> {
        let network = *lock(&self.network);
        let mut cached = lock(&self.client);
        if let Some((known, settings, client)) = cached.as_ref()
            && *known == credentials
            && *settings == network
        {
            return Ok(client.clone());
        }
        let client = Arc::new(SyncClient::new(
            &credentials.server_url,
            Some(credentials.token.clone()),
            &network,
        )?);
        *cached = Some((credentials, network, client.clone()));
        Ok(client)
    }

    /// Acts on a failed round trip: a wipe order erases the store.
    async fn client_failure(self: &Arc<Self>, e: ClientError) -> ApiError {
        match e {
            ClientError::Wipe(reason) => self.erase_off_thread(reason).await,
            other => other.into(),
        }
    }

    async fn erase_off_thread(self: &Arc<Self>, reason: WipeReason) -> ApiError {
        let shared = Arc::clone(self);
        match blocking(move || Ok(shared.erase(reason))).await {
            Ok(e) | Err(e) => e,
        }
    }

    /// Erases the whole notebook as the server ordered, tells listeners that
    /// every record left (one `Erased` event each), and returns the
    /// `Wiped` error to report, with the edits lost. If the erasure itself
    /// fails the storage error is returned instead: the order comes again
    /// at the next sync.
    fn erase(&self, reason: WipeReason) -> ApiError {
        let (erased, lost_edits) = {
            let mut slot = lock(&self.store);
            let store = match &mut *slot {
                Slot::Open(store) => store,
                Slot::Wiped => {
                    return ApiError::Wiped {
                        reason,
                        lost_edits: 0,
                    };
                }
                Slot::Closed => return ApiError::closed(),
            };
            let records = store.list(&ListFilter::default()).unwrap_or_else(|e| {
                tracing::warn!("listing records before a wipe failed: {e}");
                Vec::new()
            });
            let lost_edits = store.unacknowledged_edits().unwrap_or_else(|e| {
                tracing::warn!("counting unsynced edits before a wipe failed: {e}");
                0
            });
            if let Err(e) = store.wipe() {
                tracing::error!("wipe ordered by the server failed: {e}");
                return e.into();
            }
            *slot = Slot::Wiped;
            (records, lost_edits)
        };
        *lock(&self.client) = None;
        tracing::warn!(reason = reason.code(), lost_edits, "device notebook erased");
        for record in &erased {
            self.notify_id(&record.id, record.kind, ChangeOrigin::Erased);
        }
        ApiError::Wiped { reason, lost_edits }
    }

    /// Applies the data-minimisation setting; how many records left.
    fn prune(&self) -> Result<u32, ApiError> {
        let mut store = self.store()?;
        let Some(days) = store
            .meta(KEEP_SYNCED_META)?
            .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
            .map(u32::from_be_bytes)
        else {
            return Ok(0);
        };
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Ok(store.prune_synced(&cutoff)?.len() as u32)
    }

    /// Tells every listener, each guarded: one that fails is logged and
    /// the others still hear the event.
    fn notify_id(&self, record_id: &str, kind: RecordKind, origin: ChangeOrigin) {
        let listeners: Vec<_> = lock(&self.listeners)
            .iter()
            .map(|(_, l)| Arc::clone(l))
            .collect();
        let event = ChangeEvent {
            record_id: record_id.to_string(),
            kind,
            origin,
        };
        for listener in listeners {
            guarded("change listener", || listener.on_change(event.clone()));
        }
    }
}

impl Notebook {
    fn create(&self, body: RecordBody) -> Result<Record, ApiError> {
        body.validate().map_err(invalid)?;
        let header = RecordHeader {
            id: uuid::Uuid::now_v7().to_string(),
            kind: body.kind(),
            reference: Reference::generate().to_string(),
            created_at: now(),
            author: self.officer.clone(),
        };
        let record = self.store()?.create(header, &body)?;
        self.notify(&record.header, ChangeOrigin::Local);
        Ok(record)
    }

    fn edit<T>(
        &self,
        record_id: &str,
        edit: impl FnOnce(&mut crate::document::RecordDoc) -> Result<T, DocumentError>,
    ) -> Result<T, ApiError> {
        let (value, header) = self.edit_quietly(record_id, edit)?;
        if let Some(header) = header {
            self.notify(&header, ChangeOrigin::Local);
        }
        Ok(value)
    }

    /// An edit whose caller decides whether listeners hear of it; returns
    /// the record's header with the edit's value.
    fn edit_quietly<T>(
        &self,
        record_id: &str,
        edit: impl FnOnce(&mut crate::document::RecordDoc) -> Result<T, DocumentError>,
    ) -> Result<(T, Option<RecordHeader>), ApiError> {
        let mut header = None;
        let value = self.store()?.edit(record_id, |doc| {
            header = Some(doc.header().clone());
            edit(doc)
        })?;
        Ok((value, header))
    }

    /// The store, unless the notebook was wiped (`NotEnrolled`) or closed
    /// (`Closed`).
    fn store(&self) -> Result<StoreGuard<'_>, ApiError> {
        self.shared.store()
    }

    pub(crate) fn notify(&self, header: &RecordHeader, origin: ChangeOrigin) {
        self.shared.notify_id(&header.id, header.kind, origin)
    }
}

fn invalid(violations: Vec<FieldViolation>) -> ApiError {
    DocumentError::Invalid(violations).into()
}

//! The facade the Android and iOS apps (and the `pocketbook-device` CLI)
//! call. It only maps values and errors: rules live in `model`, document
//! edits in `document`, durability in `store`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::document::DocumentError;
use crate::model::{
    ActionDetail, ChecklistItem, FieldViolation, Officer, Receipt, ReceiptMedium, Record,
    RecordBody, RecordHeader, RecordKind, RecordSummary, SceneAttendance, SceneInput, StopAccount,
    StopSearch, Tick, TickOutcome, UpdateAgreement, Violations, normalise_registration,
};
use crate::reference::Reference;
use crate::store::{Credentials, ListFilter, Store, now};
use crate::sync::client::{ClientError, SyncClient};
use crate::sync::lifecycle::{WipeReason, ready_to_retire};
use crate::sync::wire::{
    EnrolRequest, MAX_PUSH_BYTES, MAX_PUSH_RECORDS, PROTOCOL_VERSION, PushedRecord, SyncRequest,
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

/// Implemented by the app to hear about changes (e.g. to refresh a list).
/// Called on the thread that made the change, after the store lock is released.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    fn on_change(&self, event: ChangeEvent);
}

type Listeners = Mutex<Vec<(u64, Arc<dyn ChangeListener>)>>;

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
    store: Mutex<Store>,
    officer: Officer,
    listeners: Arc<Listeners>,
    next_listener: std::sync::atomic::AtomicU64,
    client: Mutex<Option<(Credentials, Arc<SyncClient>)>>,
    /// Set (under the store lock) once the store was wiped: every later
    /// call that needs data fails with `NotEnrolled`.
    wiped: AtomicBool,
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
                .map_err(|e| ApiError::Storage(format!("unreadable notebook owner: {e}")))?;
            if owner.shoulder_number != officer.shoulder_number {
                return Err(ApiError::Conflict(
                    "this notebook belongs to another officer".into(),
                ));
            }
        }
        let json = serde_json::to_vec(&officer).map_err(|e| ApiError::Storage(e.to_string()))?;
        store.set_meta(OFFICER_META, &json)?;
        Ok(Arc::new(Notebook {
            store: Mutex::new(store),
            officer,
            listeners: Arc::default(),
            next_listener: Default::default(),
            client: Mutex::default(),
            wiped: AtomicBool::new(false),
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
            return Err(ApiError::NotEnrolled(
                "no notebook in this directory yet: open it for an officer or enrol the device"
                    .into(),
            ));
        };
        let officer: Officer = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Storage(format!("unreadable notebook owner: {e}")))?;
        Self::open(directory, officer)
    }

    /// The officer this notebook belongs to.
    pub fn officer(&self) -> Officer {
        self.officer.clone()
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
            return Err(ApiError::Invalid(
                "receipt: issue it with issue_receipt once the record is made".into(),
            ));
        }
        self.create(RecordBody::StopSearch { search })
    }

    /// Records a stop and account.
    pub fn create_stop_account(&self, account: StopAccount) -> Result<Record, ApiError> {
        if account.receipt.is_some() {
            return Err(ApiError::Invalid(
                "receipt: issue it with issue_receipt once the record is made".into(),
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
            Reference::parse(reference).map_err(|e| ApiError::BadInput(e.to_string()))?;
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

    /// Registers a listener for changes; keep the subscription to keep listening.
    pub fn subscribe(&self, listener: Arc<dyn ChangeListener>) -> Arc<Subscription> {
        let id = self
            .next_listener
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.listeners).push((id, listener));
        Arc::new(Subscription {
            id,
            listeners: Arc::downgrade(&self.listeners),
        })
    }
}

/// Hears how a sync is going (records sent and received so far).
#[uniffi::export(with_foreign)]
pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, sent: u32, received: u32);
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
}

/// Enrols this device with a one-time code from the server's admin, and
/// opens the notebook of the officer the code was issued for.
#[uniffi::export(async_runtime = "tokio")]
pub async fn enrol_device(
    directory: String,
    server_url: String,
    code: String,
    device_label: String,
) -> Result<Arc<Notebook>, ApiError> {
    let client = SyncClient::new(&server_url, None)?;
    let response = client
        .enrol(&EnrolRequest {
            protocol: PROTOCOL_VERSION,
            code: code.trim().to_string(),
            device_label,
        })
        .await?;
    let notebook = Notebook::open(directory, response.officer.clone())?;
    notebook.store()?.set_credentials(&Credentials {
        server_url,
        device_id: response.device_id,
        token: response.token,
    })?;
    Ok(notebook)
}

#[uniffi::export(async_runtime = "tokio")]
impl Notebook {
    /// Sends every change the server has not acknowledged and applies every
    /// change the server has for this officer, page by page, until both
    /// sides are level. Safe to cancel (cancel the coroutine or Task) or to
    /// lose the network at any point: a page is applied with its cursor in
    /// one transaction, and an interrupted sync simply resumes.
    ///
    /// Ends a device's life when the server says so: if the device was
    /// revoked (or, retired, it calls again) the server answers 401 with
    /// `wipe`, and the whole notebook is erased; if it is being handed back
    /// (`retire` in the answer) and nothing on it is unacknowledged, it
    /// confirms on `/v1/retire` and is erased. Either way the result is
    /// `ApiError::Wiped`, listeners hear one `Erased` event per record,
    /// and this notebook answers `NotEnrolled` from then on. A plain 401
    /// (a token the server does not know) erases nothing: `Unauthorised`.
    pub async fn sync(
        &self,
        progress: Option<Arc<dyn SyncProgress>>,
    ) -> Result<SyncSummary, ApiError> {
        let credentials = self.store()?.credentials()?.ok_or_else(|| {
            ApiError::NotEnrolled("this device is not enrolled with a server".into())
        })?;
        let client = self.client(credentials)?;
        let mut summary = SyncSummary::default();
        // What the last answer said: asked to retire, more pages waiting.
        let (mut retire, mut more) = (false, true);
        for _ in 0..MAX_SYNC_ROUNDS {
            let (pushes, cursor) = {
                let mut store = self.store()?;
                (
                    store.pending_pushes(MAX_PUSH_RECORDS, MAX_PUSH_BYTES)?,
                    store.cursor()?,
                )
            };
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
                page_size: None,
            };
            let response = client
                .sync(&request)
                .await
                .map_err(|e| self.client_failure(e))?;
            let page = self.store()?.apply_sync(&pushes, &response)?;
            (retire, more) = (response.retire, response.more);
            summary.requests += 1;
            summary.sent += pushes.len() as u32;
            summary.acknowledged += page.acknowledged;
            summary.received += page.received.len() as u32;
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
            for (record_id, kind) in &page.received {
                self.notify_id(record_id, *kind, ChangeOrigin::Sync);
            }
            for (record_id, kind) in &page.erased {
                self.notify_id(record_id, *kind, ChangeOrigin::Erased);
            }
            if let Some(progress) = &progress {
                progress.on_progress(summary.sent, summary.received);
            }
            let progressed = page.acknowledged > 0 || !page.received.is_empty();
            let pending = self.store()?.unsynced_count()?;
            if !response.more && (pending == 0 || !progressed) {
                break;
            }
        }
        summary.pending = self.store()?.unsynced_count()?;
        let unacknowledged = self.store()?.unacknowledged_count()?;
        if ready_to_retire(retire, more, unacknowledged) {
            // An edit made while this request is in flight would be erased
            // with the rest; the window is one round trip, on a device its
            // officer is handing back.
            match client.retire().await {
                Ok(()) => return Err(self.erase(WipeReason::Retired)),
                // `not-retiring`: the retirement was withdrawn meanwhile.
                Err(ClientError::Refused { status: 409, .. }) => {}
                Err(e) => return Err(self.client_failure(e)),
            }
        }
        summary.pruned = self.prune_synced_records()?;
        Ok(summary)
    }
}

/// Upper bound on round trips in one `sync()`, so a misbehaving server
/// cannot keep a device busy forever; the next sync resumes.
const MAX_SYNC_ROUNDS: usize = 10_000;

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
        .map_err(|e| ApiError::BadInput(e.to_string()))
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

    /// The HTTP client for these credentials, made once and reused so
    /// connections and TLS sessions survive from one sync to the next.
    fn client(&self, credentials: Credentials) -> Result<Arc<SyncClient>, ApiError> {
        let mut cached = lock(&self.client);
        if let Some((known, client)) = cached.as_ref()
            && *known == credentials
        {
            return Ok(client.clone());
        }
        let client = Arc::new(SyncClient::new(
            &credentials.server_url,
            Some(credentials.token.clone()),
        )?);
        *cached = Some((credentials, client.clone()));
        Ok(client)
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

    /// The store, unless it was wiped.
    fn store(&self) -> Result<MutexGuard<'_, Store>, ApiError> {
        let store = lock(&self.store);
        // Checked under the lock, which the wipe holds while it sets the flag.
        if self.wiped.load(Ordering::SeqCst) {
            return Err(ApiError::NotEnrolled(
                "this notebook was erased (the device was revoked or handed back): enrol the device again"
                    .into(),
            ));
        }
        Ok(store)
    }

    /// Acts on a failed round trip: a wipe order erases the store.
    fn client_failure(&self, e: ClientError) -> ApiError {
        match e {
            ClientError::Wipe(reason) => self.erase(reason),
            other => other.into(),
        }
    }

    /// Erases the whole notebook as the server ordered, tells listeners that
    /// every record left (one `Erased` event each), and returns the
    /// `Wiped` error to report. If the erasure itself fails the storage
    /// error is returned instead: the order comes again at the next sync.
    fn erase(&self, reason: WipeReason) -> ApiError {
        let erased = {
            let mut store = lock(&self.store);
            if self.wiped.load(Ordering::SeqCst) {
                return ApiError::Wiped(reason.message().into());
            }
            let records = store.list(&ListFilter::default()).unwrap_or_else(|e| {
                tracing::warn!("listing records before a wipe failed: {e}");
                Vec::new()
            });
            if let Err(e) = store.wipe() {
                tracing::error!("wipe ordered by the server failed: {e}");
                return e.into();
            }
            self.wiped.store(true, Ordering::SeqCst);
            records
        };
        *lock(&self.client) = None;
        tracing::warn!(reason = reason.code(), "device notebook erased");
        for record in &erased {
            self.notify_id(&record.id, record.kind, ChangeOrigin::Erased);
        }
        ApiError::Wiped(reason.message().into())
    }

    pub(crate) fn notify(&self, header: &RecordHeader, origin: ChangeOrigin) {
        self.notify_id(&header.id, header.kind, origin)
    }

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
            listener.on_change(event.clone());
        }
    }
}

fn invalid(violations: Vec<FieldViolation>) -> ApiError {
    DocumentError::Invalid(violations).into()
}

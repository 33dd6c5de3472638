//! The network calls of the facade: enrolment, the sync loop and the
//! server's orders that end a device's life (wipe, retire), each run off
//! the caller's thread.

use super::events::guarded;
use super::*;

use std::sync::Arc;

use crate::store::{Credentials, ListFilter};
use crate::sync::client::{ClientError, NetworkSettings, SyncClient};
use crate::sync::lifecycle::{WipeReason, ready_to_retire};
use crate::sync::wire::{
    EnrolRequest, MAX_PAGE_ENTRIES, MAX_PUSH_BYTES, MAX_PUSH_RECORDS, PROTOCOL_VERSION,
    PushedRecord, SyncRequest,
};

use crate::error::ApiError;

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

/// The request timeouts a notebook uses unless the app sets others.
#[uniffi::export]
pub fn default_network_settings() -> NetworkSettings {
    NetworkSettings::default()
}

pub(super) fn check_network(settings: &NetworkSettings) -> Result<(), ApiError> {
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
    pub(super) fn store(&self) -> Result<StoreGuard<'_>, ApiError> {
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
    pub(super) fn prune(&self) -> Result<u32, ApiError> {
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
}

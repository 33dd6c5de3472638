//! The network calls of the facade: enrolment, the sync loop and the
//! server's orders that end a device's life (wipe, retire), each run off
//! the caller's thread.

use super::events::guarded;
use super::*;

use std::sync::Arc;

use crate::model::RecordKind;
use crate::store::{Credentials, ListFilter, RolledBack};
use crate::sync::client::{NetworkSettings, SyncClient};
use crate::sync::engine::{
    self, BoxFuture, StoreAccess, StoreWork, SyncEnd, SyncObserver, SyncOutcome,
};
use crate::sync::lifecycle::{WipeReason, may_erase_for_retirement};
use crate::sync::wire::RejectionCode;

use crate::error::ApiError;

/// Hears how a sync is going (records sent and received so far), on one of
/// the core's threads: after every round trip, and while a page is being
/// applied at least every 50 records or 250 ms. Throwing is harmless (see
/// [`CallbackError`]).
#[uniffi::export(with_foreign)]
pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, sent: i32, received: i32) -> Result<(), CallbackError>;
}

/// A record the server refused, with its reason (no record content).
/// Refused as `Forbidden` or `Invalid`, the record was rolled back to what
/// the server acknowledged (see [`SyncSummary::rolled_back`]); a record new
/// on this device stays, marked `refused` in the list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordRejection {
    pub record_id: String,
    pub code: RejectionCode,
    pub message: String,
}

/// What one `sync()` did. Every count is a number of records.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SyncSummary {
    /// HTTP round trips made.
    pub requests: i32,
    /// Records whose changes were sent.
    pub sent: i32,
    /// Records the server acknowledged.
    pub acknowledged: i32,
    /// Records changed here by what the server sent.
    pub received: i32,
    pub rejected: Vec<RecordRejection>,
    /// Records rolled back to the state the server acknowledged because it
    /// refused their changes for good; the changes went aside
    /// (`Notebook::set_aside`), and listeners heard `RolledBack`.
    pub rolled_back: Vec<String>,
    /// Records still waiting for the server afterwards (refused ones excluded).
    pub pending: i32,
    /// Synced records removed from this device by data minimisation.
    pub pruned: i32,
    /// Feed entries held on this device because this app cannot apply
    /// them (`Notebook::held_records` lists their records).
    pub held: i32,
    /// Records erased here after the sync because their retention period
    /// has passed and the server holds them (listeners heard `Erased`).
    pub expired: i32,
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
    /// (`retire` in the answer) and nothing on it is unacknowledged, it is
    /// erased and then confirms on `/v1/retire`. The proof that nothing is
    /// unacknowledged and the erasure hold the store together, so an edit
    /// made meanwhile either comes first (the device is kept, and the next
    /// sync uploads it) or fails with `NotEnrolled`. Either way the result is
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
pub(super) async fn off_thread<T: Send + 'static>(
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
pub(super) async fn blocking<T: Send + 'static>(
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
struct Reporter(Option<Arc<dyn SyncProgress>>);

impl Reporter {
    fn report(&self, sent: u32, received: u32) {
        if let Some(progress) = &self.0 {
            let (sent, received) = (count(sent), count(received));
            guarded("sync progress", || progress.on_progress(sent, received));
        }
    }
}

/// The engine's way to the store: each step on the blocking pool, under
/// the store lock, failing once the notebook is wiped or closed.
struct Access(Arc<Shared>);

impl StoreAccess for Access {
    fn run<R: Send + 'static>(&self, work: StoreWork<R>) -> BoxFuture<'_, Result<R, ApiError>> {
        let shared = Arc::clone(&self.0);
        Box::pin(blocking(move || work(&mut *shared.store()?)))
    }
}

/// What the app hears while the engine runs: listeners, and the progress
/// callback.
struct Observer {
    shared: Arc<Shared>,
    reporter: Reporter,
}

impl SyncObserver for Observer {
    fn received(&self, records: &[(String, RecordKind)]) {
        for (record_id, kind) in records {
            self.shared.notify_id(record_id, *kind, ChangeOrigin::Sync);
        }
    }

    fn erased(&self, records: &[(String, RecordKind)]) {
        for (record_id, kind) in records {
            self.shared
                .notify_id(record_id, *kind, ChangeOrigin::Erased);
        }
    }

    fn rolled_back(&self, records: &[RolledBack]) {
        for record in records {
            (self.shared).notify_id(&record.record_id, record.kind, ChangeOrigin::RolledBack);
        }
    }

    fn progress(&self, sent: u32, received: u32) {
        self.reporter.report(sent, received);
    }
}

/// The app's summary of what the engine did.
fn summary(outcome: SyncOutcome) -> SyncSummary {
    SyncSummary {
        requests: count(outcome.requests),
        sent: count(outcome.sent),
        acknowledged: count(outcome.acknowledged),
        received: count(outcome.received),
        rejected: outcome
            .rejected
            .into_iter()
            .map(|r| RecordRejection {
                record_id: r.record_id,
                code: r.code,
                message: r.message,
            })
            .collect(),
        rolled_back: outcome.rolled_back,
        pending: count(outcome.pending),
        pruned: count(outcome.pruned),
        held: count(outcome.held),
        expired: 0,
    }
}

/// A count as the apps take it: Kotlin's `Int`, Swift's `Int32` (a
/// notebook never holds two billion records; a larger count would read as
/// the largest).
pub(super) fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Shared {
    /// The store, unless the notebook was wiped or closed; first the
    /// retention check, if a day has passed since the last
    /// (`api/retention.rs`).
    pub(super) fn store(&self) -> Result<StoreGuard<'_>, ApiError> {
        self.expire_if_due();
        self.open_store()
    }

    /// The store, unless the notebook was wiped or closed.
    pub(super) fn open_store(&self) -> Result<StoreGuard<'_>, ApiError> {
        let slot = lock(&self.store);
        match &*slot {
            Slot::Open(_) => Ok(StoreGuard(slot)),
            Slot::Wiped => Err(ApiError::not_enrolled(
                "this notebook was erased (the device was revoked or handed back): enrol the device again",
            )),
            Slot::Closed => Err(ApiError::closed()),
        }
    }

    /// One sync; see [`Notebook::sync`]. The rounds are the engine's
    /// ([`crate::sync::engine`]); here its outcome becomes the summary,
    /// listeners and the progress callback hear what it did, and a wipe
    /// order erases the notebook.
    async fn sync(
        self: Arc<Self>,
        progress: Option<Arc<dyn SyncProgress>>,
    ) -> Result<SyncSummary, ApiError> {
        let shared = Arc::clone(&self);
        let credentials = blocking(move || Ok(shared.store()?.credentials()?))
            .await?
            .ok_or_else(|| ApiError::not_enrolled("this device is not enrolled with a server"))?;
        let client = self.client(credentials)?;
        let observer = Arc::new(Observer {
            shared: Arc::clone(&self),
            reporter: Reporter(progress),
        });
        let access = Access(Arc::clone(&self));
        match engine::run(client.as_ref(), &access, observer).await {
            Ok(SyncEnd::Done(outcome)) => {
                let mut summary = summary(outcome);
                // What the answers said about retention applies at once.
                let shared = Arc::clone(&self);
                let expiry = blocking(move || shared.expire_now()).await?;
                summary.expired = count(u32::try_from(expiry.erased.len()).unwrap_or(u32::MAX));
                Ok(summary)
            }
            Ok(SyncEnd::Wipe(reason)) => Err(self.erase_off_thread(reason).await),
            Ok(SyncEnd::Retire(outcome)) => self.retire(&client, outcome).await,
            Err(e) => Err(e),
        }
    }

    /// Retires a device being handed back: erases the notebook if it is
    /// still level with the server (one critical section, see
    /// [`SyncEnd::Retire`]), then confirms on `/v1/retire`. A change the
    /// server has not acknowledged (an edit made since the last answer, or
    /// a record it refused) keeps the notebook: the summary counts what
    /// waits, and a later sync uploads it. A confirmation that
    /// fails leaves the server's credential open and marked retiring (its
    /// token is gone with the notebook): logged, and still `Wiped`, since
    /// everything was acknowledged.
    async fn retire(
        self: &Arc<Self>,
        client: &SyncClient,
        mut outcome: SyncOutcome,
    ) -> Result<SyncSummary, ApiError> {
        let shared = Arc::clone(self);
        match blocking(move || Ok(shared.erase(WipeReason::Retired, true))).await? {
            Erasure::Kept { pending } => {
                outcome.pending = pending;
                let shared = Arc::clone(self);
                outcome.pruned = blocking(move || Ok(shared.store()?.prune_by_setting()?)).await?;
                Ok(summary(outcome))
            }
            Erasure::Done(e) => {
                if matches!(e, ApiError::Wiped { .. })
                    && let Err(failure) = engine::confirm_retire(client).await
                {
                    tracing::warn!(
                        error = %failure,
                        "device erased for handing back; the server was not told (its credential stays open until revoked)"
                    );
                }
                Err(e)
            }
        }
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
        let trust = crate::sync::client::TlsTrust::of_credentials(&credentials)?;
        let client = Arc::new(SyncClient::with_trust(
            &credentials.server_url,
            Some(credentials.token.clone()),
            &network,
            &trust,
        )?);
        *cached = Some((credentials, network, client.clone()));
        Ok(client)
    }

    async fn erase_off_thread(self: &Arc<Self>, reason: WipeReason) -> ApiError {
        let shared = Arc::clone(self);
        match blocking(move || Ok(shared.erase(reason, false))).await {
            Ok(Erasure::Done(e)) | Err(e) => e,
            // Only a retirement keeps the notebook.
            Ok(Erasure::Kept { .. }) => unreachable!("a wipe order keeps nothing"),
        }
    }

    /// Erases the whole notebook as the server ordered, tells listeners that
    /// every record left (one `Erased` event each), and returns the
    /// `Wiped` error to report, with the edits lost. If the erasure itself
    /// fails the storage error is returned instead: the order comes again
    /// at the next sync. `retiring`: erase only if no record holds a change
    /// the server has not acknowledged, proved under the same lock as the
    /// erasure, so no edit can come between; otherwise keep everything.
    fn erase(&self, reason: WipeReason, retiring: bool) -> Erasure {
        let (erased, lost_edits) = {
            let mut slot = lock(&self.store);
            let store = match &mut *slot {
                Slot::Open(store) => store,
                Slot::Wiped => {
                    return Erasure::Done(ApiError::Wiped {
                        reason,
                        lost_edits: 0,
                    });
                }
                Slot::Closed => return Erasure::Done(ApiError::closed()),
            };
            if retiring {
                let level = store.unacknowledged_count().map(may_erase_for_retirement);
                match level {
                    Ok(true) => {}
                    Ok(false) => {
                        let pending = store
                            .unsynced_count()
                            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
                        return Erasure::Kept { pending };
                    }
                    Err(e) => return Erasure::Done(e.into()),
                }
            }
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
                return Erasure::Done(e.into());
            }
            *slot = Slot::Wiped;
            (records, lost_edits)
        };
        *lock(&self.client) = None;
        tracing::warn!(reason = reason.code(), lost_edits, "device notebook erased");
        for record in &erased {
            self.notify_id(&record.id, record.kind, ChangeOrigin::Erased);
        }
        Erasure::Done(ApiError::Wiped { reason, lost_edits })
    }
}

/// What [`Shared::erase`] did.
enum Erasure {
    /// The notebook is erased (or already was): `Wiped` to report, or the
    /// error that stopped the erasure.
    Done(ApiError),
    /// Retiring, but a change came in that the server has not
    /// acknowledged: nothing erased; this many records wait to be sent.
    Kept { pending: u32 },
}

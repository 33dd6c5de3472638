//! The device's sync engine, free of HTTP: the rounds of one sync (push
//! what the server lacks, apply a page of the feed with its cursor, erase
//! what the server erased), when to stop, whether a device being handed
//! back is ready to retire (the facade erases it and then confirms, see
//! [`SyncEnd::Retire`]), and rolls back a record the server refused for good. It talks to the server through a [`Transport`] (the HTTP
//! [`SyncClient`](super::client::SyncClient) in the app, an in-memory server
//! in the tests) and to the device store through a [`StoreAccess`] (the
//! facade runs each step on tokio's blocking pool under its store lock), and
//! returns a [`SyncEnd`]: what the sync did, or the wipe the server ordered.
//! The facade (`api::sync`) maps that to the app's summary and errors.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use super::client::ClientError;
use super::lifecycle::{WipeReason, asked_to_retire};
use super::wire::{
    MAX_PAGE_ENTRIES, MAX_PUSH_BYTES, MAX_PUSH_RECORDS, PROTOCOL_VERSION, PushedRecord, Rejection,
    SyncRequest, SyncResponse,
};
use crate::error::ApiError;
use crate::model::RecordKind;
use crate::store::{RolledBack, Store};

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

/// Upper bound on round trips in one sync, so a misbehaving server cannot
/// keep a device busy forever; the next sync resumes.
pub const MAX_SYNC_ROUNDS: usize = 10_000;

/// Records pushed per request, and feed entries asked for per page: below
/// the protocol's maxima (`MAX_PUSH_RECORDS`, `MAX_PAGE_ENTRIES`), so the
/// server's work for one request stays well inside the read timeout
/// (`NetworkSettings`) even on a slow or busy server, and a dropped
/// connection loses little work.
pub const PUSH_BATCH_RECORDS: usize = 100;
pub const PAGE_SIZE: u32 = 200;
const _: () = assert!(PUSH_BATCH_RECORDS <= MAX_PUSH_RECORDS && PAGE_SIZE <= MAX_PAGE_ENTRIES);

/// What the engine asks of the server.
#[derive(Debug, Clone)]
pub enum Request {
    /// One round trip: pushes, cursor, page size.
    Sync(SyncRequest),
    /// A device being handed back confirms it uploaded everything.
    Retire,
}

/// The server's answer to a [`Request`].
#[derive(Debug, Clone)]
pub enum Answer {
    Synced(Box<SyncResponse>),
    /// The retirement was accepted: the device must erase itself.
    Retired,
}

/// Carries one request to the server and brings its answer back. A
/// transport failure after the server acted (a cut connection) is an
/// error like any other: the engine's steps are safe to repeat.
pub trait Transport: Send + Sync {
    fn send(&self, request: Request) -> impl Future<Output = Result<Answer, ClientError>> + Send;
}

/// Runs one step of store work and hands back its result: the facade
/// takes its store lock on tokio's blocking pool; a test runs it inline.
pub trait StoreAccess: Send + Sync {
    fn run<R: Send + 'static>(&self, work: StoreWork<R>) -> BoxFuture<'_, Result<R, ApiError>>;
}

/// One step of store work, as [`StoreAccess::run`] takes it.
pub type StoreWork<R> = Box<dyn FnOnce(&mut Store) -> Result<R, ApiError> + Send>;
/// A boxed future (named types keep the engine's future provably `Send`).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Hears what a sync does while it runs, after each step is durable and
/// with the store released (progress while a page merges excepted: it is
/// called from inside the step).
pub trait SyncObserver: Send + Sync {
    /// Records changed here by the server (a page, or held entries now applied).
    fn received(&self, records: &[(String, RecordKind)]);
    /// Records the server erased, removed from this device.
    fn erased(&self, records: &[(String, RecordKind)]);
    /// Records rolled back to what the server acknowledged, their refused
    /// changes set aside.
    fn rolled_back(&self, records: &[RolledBack]);
    /// Records sent and received so far.
    fn progress(&self, sent: u32, received: u32);
}

/// What a sync that ran to its end did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Round trips made.
    pub requests: u32,
    /// Records whose changes were sent.
    pub sent: u32,
    /// Records the server acknowledged.
    pub acknowledged: u32,
    /// Records changed here by what the server sent (held entries applied included).
    pub received: u32,
    /// Per-record refusals, in the order they came.
    pub rejected: Vec<Rejection>,
    /// Records rolled back, their refused changes set aside.
    pub rolled_back: Vec<String>,
    /// Records still waiting for the server afterwards (refused ones excluded).
    pub pending: u32,
    /// Synced records removed by data minimisation.
    pub pruned: u32,
    /// Feed entries held because this app cannot apply them.
    pub held: u32,
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEnd {
    /// Level with the server (or out of rounds): what was done.
    Done(SyncOutcome),
    /// The server closed this device's credential (revoked, or retired
    /// after handing back): the caller erases the whole notebook.
    Wipe(WipeReason),
    /// The device is being handed back and the feed is level. The caller
    /// erases the notebook only if no record holds an unacknowledged
    /// change, proved in the same critical section as the erasure
    /// ([`may_erase_for_retirement`](super::lifecycle::may_erase_for_retirement)),
    /// so no edit can come between; it tells the server with
    /// [`confirm_retire`] only afterwards. Otherwise it keeps the notebook
    /// and this outcome, and a later sync uploads what waits. Confirming
    /// first and erasing on the answer would erase an edit made while the
    /// confirmation was in flight.
    Retire(SyncOutcome),
}

/// Runs one sync to its end. A transport failure ends the sync with the
/// error (a wipe order ends it with [`SyncEnd::Wipe`]); every page applied
/// before stays applied with its cursor, so the next sync resumes.
pub async fn run(
    transport: &impl Transport,
    store: &impl StoreAccess,
    observer: Arc<dyn SyncObserver>,
) -> Result<SyncEnd, ApiError> {
    let retried = store
        .run(Box::new(|store: &mut Store| Ok(store.retry_held()?)))
        .await?;
    observer.received(&retried);
    // Records, not feed entries: a record with entries on two pages (or
    // held and then applied) counts once.
    let mut received_ids: HashSet<String> = retried.iter().map(|(id, _)| id.clone()).collect();
    let mut outcome = SyncOutcome {
        received: count(received_ids.len()),
        ..SyncOutcome::default()
    };
    // What the last answer said: asked to retire, more pages waiting.
    let (mut retire, mut more) = (false, true);
    for _ in 0..MAX_SYNC_ROUNDS {
        let (pushes, cursor) = store
            .run(Box::new(|store: &mut Store| {
                Ok((
                    store.pending_pushes(PUSH_BATCH_RECORDS, MAX_PUSH_BYTES)?,
                    store.cursor()?,
                ))
            }))
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
        let response = match transport.send(Request::Sync(request)).await {
            Ok(Answer::Synced(response)) => *response,
            Ok(Answer::Retired) => {
                return Err(ClientError::Protocol("a sync answered as a retirement".into()).into());
            }
            Err(e) => return failure(e),
        };
        outcome.requests += 1;
        outcome.sent += pushes.len() as u32;
        let during = Arc::clone(&observer);
        let (sent, received) = (outcome.sent, outcome.received);
        let (page, rolled_back, response, pending) = store
            .run(Box::new(move |store: &mut Store| {
                let page = store.apply_sync(&pushes, &response, &mut |merged| {
                    during.progress(sent, received + merged)
                })?;
                let rolled_back = store.roll_back_refused()?;
                let pending = store.unsynced_count()?;
                Ok((page, rolled_back, response, pending))
            }))
            .await?;
        observer.received(&page.received);
        observer.erased(&page.erased);
        observer.rolled_back(&rolled_back);
        outcome
            .rolled_back
            .extend(rolled_back.into_iter().map(|r| r.record_id));
        (retire, more) = (response.retire, response.more);
        outcome.acknowledged += page.acknowledged;
        received_ids.extend(page.received.iter().map(|(id, _)| id.clone()));
        outcome.received = count(received_ids.len());
        outcome.held += page.held;
        outcome.rejected.extend(response.rejected);
        observer.progress(outcome.sent, outcome.received);
        let progressed = page.acknowledged > 0 || !page.received.is_empty();
        // An honest server's `more` always moves the cursor past what it
        // read; one that says more and moves nothing would be asked again
        // and again (every pending record pushed each time) to no end.
        if response.more && response.cursor == cursor.unwrap_or(0) && !progressed && page.held == 0
        {
            return Err(ClientError::Protocol(
                "the server said more was waiting but sent nothing and moved no cursor".into(),
            )
            .into());
        }
        if !response.more && (pending == 0 || !progressed) {
            break;
        }
    }
    let pending = store
        .run(Box::new(|store: &mut Store| Ok(store.unsynced_count()?)))
        .await?;
    outcome.pending = u32::try_from(pending).unwrap_or(u32::MAX);
    if asked_to_retire(retire, more) {
        return Ok(SyncEnd::Retire(outcome));
    }
    outcome.pruned = store
        .run(Box::new(|store: &mut Store| Ok(store.prune_by_setting()?)))
        .await?;
    Ok(SyncEnd::Done(outcome))
}

/// Tells the server that a device being handed back has erased itself
/// with everything acknowledged (`POST /v1/retire`), so it closes the
/// credential. A wipe answer (`device-retired`: an earlier confirmation
/// whose answer was lost) means the same. Any other failure leaves the
/// credential open on the server, marked retiring, with its token erased
/// from the device; `admin device revoke` closes it.
pub async fn confirm_retire(transport: &impl Transport) -> Result<(), ClientError> {
    match transport.send(Request::Retire).await {
        Ok(Answer::Retired) | Err(ClientError::Wipe(_)) => Ok(()),
        Ok(Answer::Synced(_)) => Err(ClientError::Protocol(
            "a retirement answered as a sync".into(),
        )),
        Err(e) => Err(e),
    }
}

/// A failed round trip: a wipe order ends the sync, anything else fails it.
fn failure(e: ClientError) -> Result<SyncEnd, ApiError> {
    match e {
        ClientError::Wipe(reason) => Ok(SyncEnd::Wipe(reason)),
        other => Err(other.into()),
    }
}

/// A number of records as the outcome counts them.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

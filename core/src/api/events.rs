//! What the app hears: change events, its listeners and their
//! subscriptions, and the guard that keeps an app callback's failure from
//! reaching the call that fired it.

use super::*;

use std::sync::{Arc, Mutex, Weak};

use crate::model::RecordKind;

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
    /// The server refused this device's changes to the record for good
    /// (forbidden or invalid): the record was rolled back to what the
    /// server acknowledged, and the refused changes set aside
    /// (`Notebook::set_aside`). Read it again.
    RolledBack,
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

pub(super) type Listeners = Mutex<Vec<(u64, Arc<dyn ChangeListener>)>>;

/// Calls an app callback so that nothing it does reaches the caller: a
/// returned error and a panic (a Rust callback's, or the bindings' for a
/// foreign failure they could not map) are both logged, without content.
pub(super) fn guarded(what: &'static str, call: impl FnOnce() -> Result<(), CallbackError>) {
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

impl Shared {
    /// Tells every listener, each guarded: one that fails is logged and
    /// the others still hear the event.
    pub(super) fn notify_id(&self, record_id: &str, kind: RecordKind, origin: ChangeOrigin) {
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

#[uniffi::export]
impl Notebook {
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

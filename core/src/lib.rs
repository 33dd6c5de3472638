//! Pocketbook's shared core: the record kinds of the Policing Pledge as
//! Automerge documents, the durable on-device store, the sync client, and
//! the API the Android and iOS apps call through uniffi.
//!
//! The map, top to bottom (dependencies point down; `ARCHITECTURE.md`
//! draws it and lists the known exceptions):
//!
//! | layer | modules | what | end |
//! |---|---|---|---|
//! | facade | `api`, `error` | the one API the apps and the device CLI call; the errors they see | device |
//! | durability | `store` | documents durable in SQLite, checked edits, sync state, rollback | device |
//! | sync | `sync` | the wire format and the end of a device's life (shared); the sans-I/O engine and the HTTP client (device) | both |
//! | rules | [`rules`], [`pledge`] | which edits of a record are allowed, and who may see and change it; the Pledge's promises and their clocks | both |
//! | documents | [`document`], [`chunks`] | typed record <-> Automerge document, typed edits, the schema check; the bounded pre-parse of Automerge bytes | both |
//! | bottom | [`model`], [`reference`](mod@reference), [`tls_pin`], [`text`] | record kinds, vocabularies, validation, times; short references; public-key pins; text made inert for a terminal | both |
//!
//! The device end (`api`, `error`, `store`, the engine and the client) is
//! the default `device` feature; the server builds the core without it
//! (ARCHITECTURE.md, "Two ends, one core"). The names an app's developer
//! and a test reach for first are re-exported here; the modules stay
//! public for the rest.

#[cfg(feature = "device")]
pub mod api;
pub mod chunks;
pub mod document;
#[cfg(feature = "device")]
pub mod error;
#[macro_use]
pub mod model;
pub mod pledge;
pub mod reference;
pub mod rules;
#[cfg(feature = "device")]
pub mod store;
pub mod sync;
pub mod text;
pub mod tls_pin;

// The facade: a notebook, enrolment, sync, listeners (device end).
#[cfg(feature = "device")]
pub use api::{
    ApiError, ChangeEvent, ChangeListener, ChangeOrigin, Notebook, SyncProgress, SyncSummary,
    enrol_device, enrol_device_with_network,
};

// Records and their rules (both ends).
pub use document::{DocumentError, RecordDoc};
pub use model::{Record, RecordBody, RecordHeader, RecordKind, Timestamp};
pub use reference::Reference;
pub use rules::{EditRefusal, Role, check_edit};
pub use sync::wire::{PROTOCOL_VERSION, RejectionCode};

#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!();

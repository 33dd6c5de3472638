//! Pocketbook's shared core: the record kinds of the Policing Pledge as
//! Automerge documents, the durable on-device store, the sync client, and
//! the API the Android and iOS apps call through uniffi.
//!
//! The map: [`model`] is pure data and rules; [`reference`] makes the short
//! references read aloud; [`document`] turns a record into an Automerge
//! document and applies each typed edit; [`store`] keeps documents durable in
//! SQLite; [`rules`] says which edits of a record are allowed (both ends run
//! it); [`api`] is the one facade the apps and the device CLI call.

#[cfg(feature = "device")]
pub mod api;
pub mod chunks;
pub mod document;
#[cfg(feature = "device")]
pub mod error;
pub mod model;
pub mod reference;
pub mod rules;
#[cfg(feature = "device")]
pub mod store;
pub mod sync;

#[cfg(feature = "device")]
pub use api::{ApiError, Notebook};

#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!();

//! Sync between a device and the server: the wire format both sides share,
//! the device's HTTP client, and the loop that pushes what the server lacks
//! and applies what the device lacks, page by page.

#[cfg(feature = "device")]
pub mod client;
#[cfg(feature = "device")]
pub mod engine;
pub mod lifecycle;
pub mod wire;

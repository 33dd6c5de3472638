//! Sync between a device and the server: the wire format both sides share,
//! and the device's HTTP client.

pub mod wire;

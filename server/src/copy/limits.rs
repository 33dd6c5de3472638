//! The public copy door's rate limits: how many attempts a client may
//! make, how many failed lookups lock a reference, and the hashed key a
//! reference is counted under (the limiter itself is [`crate::limit`]).

use sha2::{Digest, Sha256};

use crate::limit::Limit;

/// Attempts one client may make in [`crate::limit::WINDOW_SECS`].
pub const CLIENT_LIMIT: u32 = 20;
/// Failed lookups of one reference in [`crate::limit::WINDOW_SECS`] before it is locked.
pub const REFERENCE_FAILURES: u32 = 5;

/// Attempts per client (every attempt counts).
pub(super) const CLIENT: Limit = Limit {
    name: "copy-client",
    max: CLIENT_LIMIT,
    failed_only: false,
};
/// Failed lookups per reference.
pub(super) const REFERENCE: Limit = Limit {
    name: "copy-reference",
    max: REFERENCE_FAILURES,
    failed_only: true,
};

/// The rate-limit and audit key of a (canonical) reference: a hash, so the
/// attempts table and the trail hold no usable reference.
pub(super) fn reference_key(reference: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"pocketbook copy reference\0");
    h.update(reference.as_bytes());
    format!("ref:{}", &hex::encode(h.finalize())[..24])
}

//! The audit trail's hash chain, as every backend writes it: an event's
//! hash covers the previous event's hash and every field of its own,
//! length-prefixed. It lives beside the rows it hashes so a backend needs
//! nothing above `storage`; [`crate::audit`] verifies with the same rule.

use sha2::{Digest, Sha256};

use super::AuditEvent;

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical text of an event's detail, as stored and hashed.
pub fn detail_text(detail: &serde_json::Value) -> String {
    // serde_json writes a `Value` deterministically, and reading the text
    // back gives a `Value` that writes the same text, so the hash can be
    // recomputed from what is stored.
    detail.to_string()
}

/// The hash of an event chained after `prev_hash` (both hex).
pub fn chain_hash(
    prev_hash: &str,
    seq: u64,
    at: &str,
    actor: &str,
    action: &str,
    record_id: Option<&str>,
    detail_text: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(seq.to_be_bytes());
    // Length-prefixed fields: no two different events hash the same bytes.
    for field in [
        Some(at),
        Some(actor),
        Some(action),
        record_id,
        Some(detail_text),
    ] {
        match field {
            Some(text) => {
                h.update([1u8]);
                h.update((text.len() as u64).to_be_bytes());
                h.update(text.as_bytes());
            }
            None => h.update([0u8]),
        }
    }
    hex::encode(h.finalize())
}

/// The hash an event should have, from its own fields.
pub fn expected_hash(event: &AuditEvent) -> String {
    chain_hash(
        &event.prev_hash,
        event.seq,
        &event.at,
        &event.actor,
        &event.action,
        event.record_id.as_deref(),
        &detail_text(&event.detail),
    )
}

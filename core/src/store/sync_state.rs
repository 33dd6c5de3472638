//! What the sync client keeps in the device store: the device credential,
//! the feed cursor, and per record the heads the server has acknowledged.
//!
//! A page from the server is applied in one transaction together with the
//! new cursor, so a request cut at any point and retried neither loses nor
//! duplicates a change: either the page and its cursor are durable, or
//! neither is and the same page comes again. A feed entry this app cannot
//! apply is held aside with a reason (`held_entries`), so it never blocks
//! the page it came in.
//!
//! By topic: the credential, the officer's access and the cursor
//! (`credentials`); the changes queued for the server (`queue`); applying
//! a response (`apply`).

use automerge::ChangeHash;

mod apply;
mod credentials;
mod queue;

pub use apply::{AppliedPage, PROGRESS_EVERY, PROGRESS_EVERY_RECORDS};
pub use credentials::Credentials;
#[cfg(test)]
use credentials::MAX_ANNOUNCED_PINS;
pub use queue::PendingPush;

const CREDENTIALS_META: &str = "credentials";
const ACCESS_META: &str = "access";
const CURSOR_META: &str = "cursor";

pub(super) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub(super) fn decode_heads(bytes: Option<&[u8]>) -> Vec<ChangeHash> {
    bytes
        .unwrap_or_default()
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

#[cfg(test)]
mod tests;

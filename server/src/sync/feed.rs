//! The feed as one device may see it: a bounded page after its cursor,
//! skipping what it caused and what is out of its scope, with a
//! `record-read` audit event for every record of another officer's.

use pocketbook_core::sync::wire::{FeedEntry, MAX_PAGE_ENTRIES};
use serde_json::json;

use crate::audit::{self, Action, actor};
use crate::scope;
use crate::storage::{NewAuditEvent, Principal, Storage, StorageError};

/// Feed entries read per request at most, whatever the device may see,
/// so one request's cost stays bounded.
const MAX_EXAMINED: u32 = 4 * MAX_PAGE_ENTRIES;
/// Change bytes per page, roughly.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A page of the feed for one device.
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
    pub cursor: u64,
    pub more: bool,
    /// A `record-read` event for each entry of a record the device's
    /// officer did not author: appended before the page is sent.
    pub reads: Vec<NewAuditEvent>,
    /// Rows the read touched (audience index and feed entries): bounded by
    /// what the device may see, not by what others wrote.
    pub examined: u64,
}

/// The feed after `cursor` that this device may see, skipping what it caused.
///
/// The read goes through the feed's audience index
/// ([`crate::storage::Storage::feed_for`]) under the device's officer's
/// audiences ([`scope::audience`]), so it touches only entries the device
/// may see, and the scope rule is still asked of each. One request reads at
/// most [`MAX_EXAMINED`] entries and about [`PAGE_BYTES`] of changes;
/// `cursor` moves past every entry read (sent or skipped), and to the
/// feed's head when nothing more is there for the device, so an idle device
/// reads nothing twice; `more` says the device should ask again at once.
pub fn feed_page(
    storage: &dyn Storage,
    principal: &Principal,
    cursor: u64,
    page_size: Option<u32>,
) -> Result<FeedPage, StorageError> {
    let limit = page_size
        .unwrap_or(MAX_PAGE_ENTRIES)
        .clamp(1, MAX_PAGE_ENTRIES) as usize;
    let slice = storage.feed_for(
        &scope::audience(principal),
        cursor,
        MAX_EXAMINED,
        PAGE_BYTES,
    )?;
    let mut page = FeedPage {
        entries: Vec::new(),
        cursor,
        more: false,
        reads: Vec::new(),
        examined: slice.examined,
    };
    for row in slice.rows {
        if page.entries.len() >= limit {
            page.more = true;
            return Ok(page);
        }
        page.cursor = row.seq;
        if row.origin_device == principal.device.id
            || !scope::may_see(principal, scope::of_row(&row))
        {
            continue;
        }
        if row.author != principal.officer.shoulder_number && !row.erased {
            page.reads.push(audit::event(
                actor::officer(&principal.officer.shoulder_number),
                Action::RecordRead,
                Some(&row.record_id),
                json!({"device": principal.device.id, "seq": row.seq}),
            ));
        }
        page.entries.push(FeedEntry {
            seq: row.seq,
            record_id: row.record_id,
            kind: row.kind,
            changes: row.changes,
            erased: row.erased,
        });
    }
    // Unless a bound cut the slice, its end is the head, which is also
    // where a cursor beyond it (a restored store) is brought back to.
    page.cursor = if slice.more {
        page.cursor.max(slice.end)
    } else {
        slice.end
    };
    page.more = slice.more;
    Ok(page)
}

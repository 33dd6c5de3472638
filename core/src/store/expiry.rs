//! Retention on the device itself, so a handheld that never syncs again
//! still lets go of records past their period.
//!
//! The server tells the device its retention periods and the legal holds
//! its officer may see in sync answers ([`SyncResponse::retention`],
//! [`SyncResponse::legal_holds`]); the device keeps them here, in the same
//! transaction as the page that brought them, and applies them by its own
//! clock ([`Store::expire`], which the facade runs when a notebook opens,
//! after each sync and at least daily while it is in use).
//!
//! - A record is due once its period has passed since its encounter (stop
//!   and search, stop and account: `datetime`) or call (scene, burglary:
//!   `call_received`), the time indexed as `occurred_at`. That time is the
//!   one the server accepted (`server/src/sync/times.rs`) and it is frozen:
//!   no edit changes it, and a receipt freezes the encounter
//!   (`core/src/rules.rs`), so a record's due date never moves.
//! - Only a record the server holds in full is erased here (no change the
//!   server has not acknowledged, `unsynced = 0`). One with changes it
//!   lacks, or that it refused, is kept and reported as overdue
//!   ([`OverdueRecord`]), so it goes to the server first; once acknowledged
//!   it is erased by the next check.
//! - A record on legal hold is kept, whatever its age; when the server's
//!   list no longer names it, the next check erases it if it is due.
//! - "Now" is at least the later of the device's clock and the last time a
//!   server answered (`server_time`), so a handset whose clock was set
//!   back still erases what was due when it last synced (the facade adds
//!   the monotonic time passed since, `api/retention.rs`). A clock set
//!   forward erases early only copies the server already holds.
//!
//! What this means for a clock set back before the first sync, a record
//! the server refused, and a legal hold set while the handset is offline:
//! `docs/device-retention.md`.
//!
//! A check reads only the records past their period: per kind, the rows
//! before its cutoff from the index by kind and encounter time (schema 6,
//! `records_by_occurred`), not every record row.
//!
//! Erasure is one transaction per check (the record's row, its changes,
//! its held feed entries and set-aside changes, as an erasure the server
//! orders), with `secure_delete` on and the write-ahead log truncated
//! afterwards; a crash before the commit leaves every record as it was.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::document::DocumentError;
use crate::model::{RecordKind, Timestamp};
use crate::sync::wire::{RetentionTerms, SyncResponse};

/// Where the retention terms the server last sent are kept (JSON).
const RETENTION_META: &str = "retention";
/// The latest `server_time` heard (RFC 3339).
const SERVER_TIME_META: &str = "server_time";

/// A record past its retention period that this device keeps because the
/// server does not hold all of it yet (changes it has not acknowledged, or
/// refused): it is sent at the next sync, then erased here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, uniffi::Record)]
pub struct OverdueRecord {
    pub record_id: String,
    pub kind: RecordKind,
    pub reference: String,
    /// The encounter or call the period counts from.
    pub occurred_at: Timestamp,
    /// The server refused its changes (see `SyncSummary::rejected`): it
    /// will not be acknowledged as it stands. The officer amends it (any
    /// edit clears the refusal and sends it again); the device never
    /// erases it while it is refused (`docs/device-retention.md`).
    pub refused: bool,
    /// The server's reason for the refusal, as it gave it (names fields,
    /// never their content); `None` unless `refused`.
    #[uniffi(default = None)]
    pub refusal: Option<String>,
}

/// What one retention check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Records erased from this device, with their kinds.
    pub erased: Vec<(String, RecordKind)>,
    /// Records past their period kept until the server has them.
    pub overdue: Vec<OverdueRecord>,
}

/// Keeps what a sync answer says about retention, inside the transaction
/// that applies the answer: the terms, the whole list of legal holds (when
/// the answer has one), and the server's clock if it is the latest heard.
pub(super) fn remember(tx: &Connection, response: &SyncResponse) -> Result<(), StoreError> {
    let put = |key: &str, value: &[u8]| -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    };
    if let Some(terms) = &response.retention {
        let json = serde_json::to_vec(terms)
            .map_err(|e| DocumentError::Shape(format!("retention terms: {e}")))?;
        put(RETENTION_META, &json)?;
    }
    if let Some(holds) = &response.legal_holds {
        tx.execute("DELETE FROM legal_holds", [])?;
        let mut insert =
            tx.prepare_cached("INSERT OR IGNORE INTO legal_holds (record_id) VALUES (?1)")?;
        for id in holds {
            insert.execute([id])?;
        }
    }
    if let Some(at) = response.server_time.as_deref().and_then(instant) {
        let known = tx
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [SERVER_TIME_META],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| instant(&t));
        if known.is_none_or(|known| at > known) {
            put(SERVER_TIME_META, at.to_rfc3339().as_bytes())?;
        }
    }
    Ok(())
}

/// The server time an answer carries, if it reads as one.
pub(super) fn answer_time(response: &SyncResponse) -> Option<DateTime<Utc>> {
    response.server_time.as_deref().and_then(instant)
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A record as the check sees it.
struct Candidate {
    id: String,
    kind: RecordKind,
    reference: String,
    occurred_at: Timestamp,
    /// Every change is on the server.
    acknowledged: bool,
    refusal: Option<String>,
}

impl Store {
    /// The retention terms the server last sent; `None` if no server has
    /// (never synced, or a server that predates them): nothing is erased
    /// by the device's own retention then.
    pub fn retention_terms(&self) -> Result<Option<RetentionTerms>, StoreError> {
        match self.meta(RETENTION_META)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                DocumentError::Shape(format!("unreadable retention terms: {e}")).into()
            }),
        }
    }

    /// The records on legal hold, as the server last listed them.
    pub fn legal_holds(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record_id FROM legal_holds ORDER BY record_id")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// The latest time a server answered with (`server_time`), if any.
    pub fn server_time_heard(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .meta(SERVER_TIME_META)?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| instant(&t)))
    }

    /// The time retention is counted at: the later of `device_now` and
    /// the last time a server answered.
    pub fn retention_now(&self, device_now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let heard = self.server_time_heard()?;
        Ok(heard.map_or(device_now, |heard| heard.max(device_now)))
    }

    /// Records past their period at `device_now` (see [`Store::retention_now`])
    /// and not on legal hold.
    fn due(&self, device_now: DateTime<Utc>) -> Result<Vec<Candidate>, StoreError> {
        let Some(terms) = self.retention_terms()? else {
            return Ok(Vec::new());
        };
        let now = self.retention_now(device_now)?;
        // Per kind, the rows before its cutoff from the index by kind and
        // encounter time (schema 6): the stored times are all in the one
        // UTC form of whole seconds, whose text order is time order, so a
        // time before the cutoff is one whose text is before the cutoff's
        // rounded up to the second. Each is checked again below as it was.
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, reference, occurred_at, unsynced = 0, rejection
             FROM records INDEXED BY records_by_occurred
             WHERE kind = ?1 AND occurred_at < ?2
               AND id NOT IN (SELECT record_id FROM legal_holds)",
        )?;
        let mut rows = Vec::new();
        for kind in RecordKind::ALL {
            let Some(cutoff) = terms.due_before(*kind, now) else {
                continue;
            };
            let up = cutoff.timestamp() + i64::from(cutoff.timestamp_subsec_nanos() > 0);
            let bound = DateTime::from_timestamp(up, 0)
                .unwrap_or(cutoff)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            let found = stmt.query_map(params![kind.as_str(), bound], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?;
            for row in found {
                rows.push(row?);
            }
        }
        // Oldest first, as the whole table was read before.
        rows.sort_by(|a, b| (&a.3, &a.0).cmp(&(&b.3, &b.0)));
        let mut due = Vec::new();
        for (id, kind, reference, occurred_at, acknowledged, refusal) in rows {
            let kind = RecordKind::parse(&kind)
                .ok_or_else(|| DocumentError::Shape(format!("unknown kind for {id}")))?;
            let occurred_at = Timestamp::from_stored(&occurred_at)
                .map_err(|_| DocumentError::Shape(format!("unreadable index time for {id}")))?;
            let Some(cutoff) = terms.due_before(kind, now) else {
                continue;
            };
            if occurred_at.instant() < cutoff {
                due.push(Candidate {
                    id,
                    kind,
                    reference,
                    occurred_at,
                    acknowledged,
                    refusal,
                });
            }
        }
        Ok(due)
    }

    /// Records past their period that wait for the server before this
    /// device erases them (see [`OverdueRecord`]), oldest first.
    pub fn overdue(&self, device_now: DateTime<Utc>) -> Result<Vec<OverdueRecord>, StoreError> {
        Ok(self
            .due(device_now)?
            .into_iter()
            .filter(|c| !c.acknowledged)
            .map(overdue)
            .collect())
    }

    /// The device's own retention check at `device_now`: erases every
    /// record past its period that the server holds in full and that is
    /// not on legal hold, in one transaction, and reports those it keeps
    /// because the server does not have them yet.
    pub fn expire(&mut self, device_now: DateTime<Utc>) -> Result<Expiry, StoreError> {
        let (erasable, kept): (Vec<Candidate>, Vec<Candidate>) = self
            .due(device_now)?
            .into_iter()
            .partition(|c| c.acknowledged);
        let mut expiry = Expiry {
            erased: Vec::new(),
            overdue: kept.into_iter().map(overdue).collect(),
        };
        if erasable.is_empty() {
            return Ok(expiry);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for c in &erasable {
            // Checked again inside the transaction: an edit or a hold that
            // came in since the list was read keeps the record.
            let still_due: bool = tx.query_row(
                "SELECT count(*) FROM records WHERE id = ?1 AND unsynced = 0
                   AND id NOT IN (SELECT record_id FROM legal_holds)",
                [&c.id],
                |r| r.get(0),
            )?;
            if still_due && super::retention::delete_record(&tx, &c.id)? {
                expiry.erased.push((c.id.clone(), c.kind));
            }
        }
        super::crash_seam("expire-before-commit");
        tx.commit()?;
        for (id, _) in &expiry.erased {
            self.cache.take(id);
        }
        self.checkpoint()?;
        if !expiry.erased.is_empty() {
            tracing::info!(
                records = expiry.erased.len(),
                "records past their retention period erased on the device"
            );
        }
        Ok(expiry)
    }
}

/// Schema version 6: every stored encounter time in the one UTC form
/// (`model::normalise_stored_time`), so the index by it is in time order.
/// A time already in it (every one this build writes) is left alone.
pub(super) fn normalise_occurred(tx: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT id, occurred_at FROM records")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, stored) in rows {
        if let Ok(utc) = crate::model::normalise_stored_time(&stored)
            && utc != stored
        {
            tx.execute(
                "UPDATE records SET occurred_at = ?2 WHERE id = ?1",
                params![id, utc],
            )?;
        }
    }
    Ok(())
}

fn overdue(c: Candidate) -> OverdueRecord {
    OverdueRecord {
        record_id: c.id,
        kind: c.kind,
        reference: c.reference,
        occurred_at: c.occurred_at,
        refused: c.refusal.is_some(),
        refusal: c.refusal,
    }
}

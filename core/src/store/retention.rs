//! Records leaving the handheld: erasure the server ordered (a record's
//! retention ran out), data minimisation (synced records older than the
//! device needs), and the wipe of a revoked or retired device.
//!
//! Nothing here ever removes a change the server has not acknowledged,
//! except a wipe, which the server orders only for a lost or stolen device
//! or after a retired one has uploaded everything.

use rusqlite::{TransactionBehavior, params};

use super::{STORE_FILE, Store, StoreError};

/// Deletes one record whole (its changes, its row, any feed entries held
/// for it) inside the caller's transaction; whether it was there.
pub(super) fn delete_record(tx: &rusqlite::Connection, id: &str) -> Result<bool, StoreError> {
    super::writes::delete_log(tx, id)?;
    tx.execute("DELETE FROM held_entries WHERE record_id = ?1", [id])?;
    tx.execute("DELETE FROM set_aside WHERE record_id = ?1", [id])?;
    tx.execute("DELETE FROM promise_terms WHERE record_id = ?1", [id])?;
    Ok(tx.execute("DELETE FROM records WHERE id = ?1", [id])? > 0)
}

/// Where the data-minimisation setting is kept (days, big-endian u32).
const KEEP_SYNCED_META: &str = "keep_synced_days";

impl Store {
    /// Data minimisation: synced records last changed more than `days`
    /// ago leave this device after each sync; `None` keeps everything.
    pub fn set_keep_synced_days(&self, days: Option<u32>) -> Result<(), StoreError> {
        match days {
            Some(days) => self.set_meta(KEEP_SYNCED_META, &days.to_be_bytes()),
            None => self.delete_meta(KEEP_SYNCED_META),
        }
    }

    /// The data-minimisation setting, if any.
    pub fn keep_synced_days(&self) -> Result<Option<u32>, StoreError> {
        Ok(self
            .meta(KEEP_SYNCED_META)?
            .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
            .map(u32::from_be_bytes))
    }

    /// Applies the data-minimisation setting now; how many records left.
    pub fn prune_by_setting(&mut self) -> Result<u32, StoreError> {
        let Some(days) = self.keep_synced_days()? else {
            return Ok(0);
        };
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Ok(self.prune_synced(&cutoff)?.len() as u32)
    }

    /// Removes records (document, changes and index row) in one
    /// transaction, whatever their sync state: the server erased them.
    pub fn erase(&mut self, ids: &[String]) -> Result<u32, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut erased = 0;
        for id in ids {
            erased += u32::from(delete_record(&tx, id)?);
        }
        tx.commit()?;
        for id in ids {
            self.cache.take(id);
        }
        self.checkpoint()?;
        Ok(erased)
    }

    /// Removes records the server holds in full and that were last changed
    /// before `cutoff` (RFC 3339). Unsynced records never leave this way.
    pub fn prune_synced(&mut self, cutoff: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT id FROM records
                 WHERE unsynced = 0 AND synced_heads IS NOT NULL AND updated_at < ?1",
            )?;
            stmt.query_map(params![cutoff], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.erase(&ids)?;
        Ok(ids)
    }

    /// Erases the whole notebook: every record and change, and all the
    /// store's metadata (the credential, the feed cursor, the owner, the
    /// settings), plus any unreadable store moved aside earlier. What a
    /// revoked or retired device must do: afterwards the directory holds no
    /// notebook (`Notebook::open_existing` reports it not set up) and the
    /// device must be enrolled again. The store gets a fresh Automerge
    /// actor, so a later enrolment writes as a new device.
    pub fn wipe(&mut self) -> Result<(), StoreError> {
        let actor = automerge::ActorId::random();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM changes", [])?;
        tx.execute("DELETE FROM records", [])?;
        tx.execute("DELETE FROM promise_terms", [])?;
        tx.execute("DELETE FROM held_entries", [])?;
        tx.execute("DELETE FROM set_aside", [])?;
        tx.execute("DELETE FROM legal_holds", [])?;
        tx.execute("DELETE FROM meta", [])?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('actor', ?1)",
            [actor.to_bytes()],
        )?;
        tx.commit()?;
        self.actor = actor;
        self.cache = Default::default();
        self.checkpoint()?;
        self.remove_moved_aside()
    }

    /// Deletes unreadable stores moved aside in this directory: they may
    /// hold records, and a wiped device keeps none.
    fn remove_moved_aside(&mut self) -> Result<(), StoreError> {
        self.moved_aside = None;
        let Some(dir) = self
            .conn
            .path()
            .and_then(|p| std::path::Path::new(p).parent().map(|d| d.to_path_buf()))
        else {
            return Ok(());
        };
        let prefix = format!("{STORE_FILE}.corrupt-");
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// With `secure_delete` on, deleted rows are zeroed in the pages written
    /// to the WAL; checkpointing moves those pages into the database file
    /// and truncates the WAL, so erased bytes do not linger in either.
    pub(super) fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

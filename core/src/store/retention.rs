//! Records leaving the handheld: erasure the server ordered (a record's
//! retention ran out), data minimisation (synced records older than the
//! device needs), and the wipe of a revoked or retired device.
//!
//! Nothing here ever removes a change the server has not acknowledged,
//! except a wipe, which the server orders only for a lost or stolen device
//! or after a retired one has uploaded everything.

use rusqlite::{TransactionBehavior, params};

use super::{Store, StoreError};

impl Store {
    /// Removes records (document, changes and index row) in one
    /// transaction, whatever their sync state: the server erased them.
    pub fn erase(&mut self, ids: &[String]) -> Result<u32, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut erased = 0;
        for id in ids {
            tx.execute("DELETE FROM changes WHERE record_id = ?1", [id])?;
            erased += tx.execute("DELETE FROM records WHERE id = ?1", [id])? as u32;
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

    /// Erases every record, the credentials and the feed cursor: what a
    /// revoked device must do. The officer and the device's actor id stay,
    /// so the notebook can be enrolled again.
    pub fn wipe(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM changes", [])?;
        tx.execute("DELETE FROM records", [])?;
        tx.execute(
            "DELETE FROM meta WHERE key IN ('credentials', 'cursor')",
            [],
        )?;
        tx.commit()?;
        self.cache = Default::default();
        self.checkpoint()
    }

    /// With `secure_delete` on, deleted rows are zeroed in the pages written
    /// to the WAL; checkpointing moves those pages into the database file
    /// and truncates the WAL, so erased bytes do not linger in either.
    fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

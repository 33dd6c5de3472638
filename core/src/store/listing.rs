//! Listing records from the index columns alone (no document is read),
//! with the filters an app offers.

use super::writes::updated_at;
use super::{ListFilter, Store, StoreError};
use crate::document::DocumentError;
use crate::model::{RecordKind, RecordStatus, RecordSummary, Timestamp};

impl Store {
    /// Lists records from the index columns alone, newest first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<RecordSummary>, StoreError> {
        // The time of an edit appended alone is in its change row
        // (schema 7): one seek per record listed.
        let mut sql = String::from(concat!(
            "SELECT id, kind, reference, status, created_at, ",
            updated_at!(),
            ", occurred_at, rejection IS NOT NULL
             FROM records WHERE 1 = 1",
        ));
        let mut args: Vec<String> = Vec::new();
        if let Some(kind) = filter.kind {
            args.push(kind.as_str().into());
            sql.push_str(&format!(" AND kind = ?{}", args.len()));
        }
        if let Some(status) = filter.status {
            args.push(status.as_str().into());
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        if let Some(reference) = &filter.reference {
            let canonical = crate::reference::Reference::parse(reference)
                .map(|r| r.to_string())
                .unwrap_or_default();
            args.push(canonical);
            sql.push_str(&format!(" AND reference = ?{}", args.len()));
        }
        if let Some(since) = &filter.created_since {
            args.push(since.as_str().to_string());
            sql.push_str(&format!(" AND created_at >= ?{}", args.len()));
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC");
        if let Some(limit) = filter.limit {
            // Negative limits are refused by the facade; here they would
            // read as no limit, as SQLite reads them.
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, bool>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, reference, status, created_at, updated_at, occurred_at, refused) = row?;
            let (Some(kind), Some(status)) =
                (RecordKind::parse(&kind), RecordStatus::parse(&status))
            else {
                return Err(DocumentError::Shape(format!("unknown index values for {id}")).into());
            };
            let time = |text: &str| {
                Timestamp::from_stored(text)
                    .map_err(|_| DocumentError::Shape(format!("unreadable index time for {id}")))
            };
            out.push(RecordSummary {
                created_at: time(&created_at)?,
                updated_at: time(&updated_at)?,
                occurred_at: time(&occurred_at)?,
                id,
                kind,
                reference,
                status,
                refused,
            });
        }
        Ok(out)
    }

    /// Number of records in the store.
    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))?
            as u64)
    }
}

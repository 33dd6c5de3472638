//! Moving a station from SQLite to PostgreSQL (`admin migrate --to
//! postgres://...`): every table of the SQLite store copied as it is, in
//! one PostgreSQL transaction, into an empty database.
//!
//! Nothing is re-derived: feed positions keep their numbers (so every
//! device's cursor stays valid and no device downloads again), audit rows
//! keep their exact text and hashes (so the chain still verifies), tokens
//! and code hashes keep their bytes (so enrolled devices and unused codes
//! still work). The feed counter continues after the highest position the
//! SQLite store ever gave. The only new value is each record's typed
//! encounter time, read from the text beside it.

use std::path::Path;

use postgres::Transaction;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::{PostgresStorage, backend, instant};
use crate::storage::StorageError;
use crate::storage::sqlite::{STORE_FILE, SqliteStorage};

/// What was copied: rows per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub tables: Vec<(String, u64)>,
    /// The highest feed position (devices' cursors stay valid up to it).
    pub feed_head: u64,
    /// The audit trail's head sequence number.
    pub audit_head: u64,
}

/// The tables copied, in an order that satisfies the foreign keys, with
/// their columns (the same names in both schemas; SQLite's integers become
/// booleans where PostgreSQL's column is one).
const TABLES: &[(&str, &[&str])] = &[
    (
        "officers",
        &["shoulder_number", "name", "station", "role", "active"],
    ),
    (
        "devices",
        &[
            "id",
            "officer",
            "token_hash",
            "label",
            "enrolled_at",
            "revoked_at",
            "last_seen",
            "revoke_reason",
            "retire_requested_at",
        ],
    ),
    (
        "enrolment_codes",
        &["code_hash", "officer", "expires_at", "used_at"],
    ),
    (
        "records",
        &[
            "id",
            "kind",
            "reference",
            "author",
            "station",
            "occurred_at",
            "status",
            "created_at",
            "updated_at",
            "snapshot",
            "version",
            "duplicate_reference",
        ],
    ),
    (
        "feed",
        &[
            "seq",
            "record_id",
            "kind",
            "author",
            "station",
            "origin_device",
            "changes",
            "erased",
            "received_at",
        ],
    ),
    ("record_access", &["record_id", "officer", "granted_at"]),
    ("feed_audience", &["audience", "seq"]),
    (
        "audit",
        &[
            "seq",
            "at",
            "actor",
            "action",
            "record_id",
            "detail",
            "prev_hash",
            "hash",
        ],
    ),
    (
        "tombstones",
        &[
            "record_id",
            "kind",
            "erased_at",
            "reason",
            "author",
            "station",
        ],
    ),
    ("legal_holds", &["record_id", "reason", "set_at"]),
    ("copy_attempts", &["key", "at", "failed"]),
    ("job_runs", &["job", "period", "claimed_at"]),
    ("limit_salts", &["period", "salt"]),
    ("published_figures", &["month", "computed_at", "body"]),
    ("retention_clock", &["id", "trusted", "held"]),
];

/// One SQLite value as a PostgreSQL parameter of type `to` (a NULL is
/// typed too).
fn param(value: Value, to: &Type) -> Box<dyn ToSql + Sync> {
    let boolean = *to == Type::BOOL;
    match value {
        Value::Null if *to == Type::INT8 => Box::new(Option::<i64>::None),
        Value::Null if *to == Type::BYTEA => Box::new(Option::<Vec<u8>>::None),
        Value::Null if boolean => Box::new(Option::<bool>::None),
        Value::Null => Box::new(Option::<String>::None),
        Value::Integer(i) if boolean => Box::new(i != 0),
        Value::Integer(i) => Box::new(i),
        Value::Real(f) => Box::new(f),
        Value::Text(t) => Box::new(t),
        Value::Blob(b) => Box::new(b),
    }
}

fn sqlite_err(e: rusqlite::Error) -> StorageError {
    StorageError::backend_from(Some("reading the SQLite store"), e)
}

/// Copies the SQLite store in `data_dir` (migrated to the current schema
/// first) into `target`, which must be empty, in one transaction.
pub fn import_sqlite(
    data_dir: &Path,
    target: &PostgresStorage,
) -> Result<ImportReport, StorageError> {
    drop(SqliteStorage::open(data_dir)?);
    let source = rusqlite::Connection::open_with_flags(
        data_dir.join(STORE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(sqlite_err)?;
    // One read transaction: a consistent snapshot even if a server writes.
    source.execute_batch("BEGIN").map_err(sqlite_err)?;
    target.write(|tx| copy_all(&source, tx))
}

fn copy_all(
    source: &rusqlite::Connection,
    tx: &mut Transaction<'_>,
) -> Result<ImportReport, StorageError> {
    for table in ["officers", "records", "feed", "audit"] {
        let rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .map_err(backend)?
            .get(0);
        if rows > 0 {
            return Err(StorageError::backend(format!(
                "the PostgreSQL database is not empty ({table} has rows): migrate into a new database"
            )));
        }
    }
    let mut tables = Vec::new();
    for (table, columns) in TABLES {
        let list = columns.join(", ");
        let mut insert_columns = list.clone();
        let mut placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
        let occurred = columns.iter().position(|c| *c == "occurred_at");
        if occurred.is_some() {
            insert_columns.push_str(", occurred_at_ts");
            placeholders.push(format!("${}", columns.len() + 1));
        }
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} ({insert_columns}) VALUES ({})",
                placeholders.join(", ")
            ))
            .map_err(backend)?;
        let mut select = source
            .prepare(&format!("SELECT {list} FROM {table}"))
            .map_err(sqlite_err)?;
        let mut rows = select.query([]).map_err(sqlite_err)?;
        let mut copied = 0u64;
        while let Some(row) = rows.next().map_err(sqlite_err)? {
            let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len() + 1);
            for (i, to) in insert.params().iter().take(columns.len()).enumerate() {
                let value: Value = row.get(i).map_err(sqlite_err)?;
                params.push(param(value, to));
            }
            if let Some(at) = occurred {
                let text: String = row.get(at).map_err(sqlite_err)?;
                params.push(Box::new(instant(&text)?));
            }
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            tx.execute(&insert, &refs).map_err(backend)?;
            copied += 1;
        }
        tables.push((table.to_string(), copied));
    }
    // The counter continues after the highest position ever given
    // (AUTOINCREMENT remembers it even when those entries were erased).
    let feed_head: i64 = source
        .query_row(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'feed'), 0),
                        coalesce((SELECT max(seq) FROM feed), 0))",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err)?;
    tx.execute("UPDATE feed_head SET seq = $1 WHERE id = 1", &[&feed_head])
        .map_err(backend)?;
    let head: Option<(i64, Vec<u8>)> = source
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sqlite_err)?;
    let audit_head = match head {
        Some((seq, hash)) => {
            tx.execute(
                "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                &[&seq, &hash],
            )
            .map_err(backend)?;
            seq as u64
        }
        None => 0,
    };
    Ok(ImportReport {
        tables,
        feed_head: feed_head as u64,
        audit_head,
    })
}

#[cfg(test)]
mod tests;

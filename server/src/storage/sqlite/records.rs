//! Records and the change feed in SQLite: snapshots with their index
//! columns and readers, the compare-and-swap commit, and the feed window,
//! for [`SqliteStorage`]. The column lists and row readers here are shared
//! with the copy and retention queries.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use pocketbook_core::model::{RecordKind, RecordStatus};
use rusqlite::{ErrorCode, OptionalExtension, params};

use super::{SqliteStorage, all_rows, audit, backend, vocabulary};
use crate::storage::{
    Audience, FeedRow, FeedSlice, Held, RecordCommit, RecordIndex, RecordNow, RecordVersion,
    StorageError, StoredRecord, Tombstone, check_batch,
};

pub(super) fn kind_of(text: String) -> rusqlite::Result<RecordKind> {
    vocabulary(0, "record kind", text, RecordKind::parse)
}

pub(super) fn index_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordIndex> {
    Ok(RecordIndex {
        id: r.get(0)?,
        kind: kind_of(r.get(1)?)?,
        reference: r.get(2)?,
        author: r.get(3)?,
        station: r.get(4)?,
        occurred_at: r.get(5)?,
        status: vocabulary(6, "record status", r.get(6)?, RecordStatus::parse)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

/// The officers other than the author who may see the record whose id is
/// in `id_column`, as a JSON array (any shoulder number survives the trip).
pub(super) fn readers_of(id_column: &str) -> String {
    format!(
        "(SELECT json_group_array(officer) FROM record_access a WHERE a.record_id = {id_column})"
    )
}

/// A caller's time bound (any RFC 3339 spelling) in the stored form, so it
/// compares with stored times as text.
pub(super) fn bound(time: &str) -> Result<String, StorageError> {
    crate::clock::lenient_time(time)
        .ok_or_else(|| StorageError::backend("a time bound is not an RFC 3339 time"))
}

/// Record kinds as a JSON array, for `kind IN (SELECT value FROM json_each(?))`.
pub(super) fn kinds_json(kinds: &[RecordKind]) -> Result<String, StorageError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    serde_json::to_string(&kinds).map_err(|e| StorageError::backend_from(None, e))
}

/// The columns [`stored_row`] reads, from `records`.
pub(super) fn stored_columns() -> String {
    format!(
        "{INDEX_COLUMNS}, snapshot, version, {}",
        readers_of("records.id")
    )
}

pub(super) fn stored_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRecord> {
    Ok(StoredRecord {
        index: index_row(r)?,
        snapshot: r.get(9)?,
        version: r.get(10)?,
        readers: readers(r.get(11)?)?,
    })
}

pub(super) fn readers(json: String) -> rusqlite::Result<Vec<String>> {
    let mut readers: Vec<String> = serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })?;
    readers.sort();
    Ok(readers)
}
pub(super) const INDEX_COLUMNS: &str =
    "id, kind, reference, author, station, occurred_at, status, created_at, updated_at";

pub(super) fn record(
    store: &SqliteStorage,
    id: &str,
) -> Result<Option<StoredRecord>, StorageError> {
    // Asked before every merge: compiled once per connection, not per call.
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {} FROM records WHERE id = ?1", stored_columns()));
    let conn = store.conn();
    let mut statement = conn.prepare_cached(&SQL).map_err(backend)?;
    statement
        .query_row([id], stored_row)
        .optional()
        .map_err(backend)
}

/// The record, else its tombstone, in one statement: the record's row as
/// [`stored_row`] reads it, and the tombstone's fields in the same columns
/// where they fit (id, kind, author, station, readers) and two more
/// (`erased_at`, `reason`); the last column says which table it is. Ids
/// are unique in each table; were both to hold one, the record wins, as
/// [`record`] asked first.
pub(super) fn record_or_tombstone(
    store: &SqliteStorage,
    id: &str,
) -> Result<Option<Held>, StorageError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, NULL, NULL, 0 AS held FROM records WHERE id = ?1
             UNION ALL
             SELECT record_id, kind, NULL, author, station, NULL, NULL, NULL, NULL, NULL, NULL,
                    {}, erased_at, reason, 1
             FROM tombstones WHERE record_id = ?1
             ORDER BY held LIMIT 1",
            stored_columns(),
            readers_of("tombstones.record_id")
        )
    });
    let conn = store.conn();
    let mut statement = conn.prepare_cached(&SQL).map_err(backend)?;
    statement
        .query_row([id], |r| {
            Ok(if r.get::<_, i64>(14)? == 0 {
                Held::Record(stored_row(r)?)
            } else {
                Held::Tombstone(Tombstone {
                    record_id: r.get(0)?,
                    kind: kind_of(r.get(1)?)?,
                    erased_at: r.get(12)?,
                    reason: r.get(13)?,
                    author: r.get(3)?,
                    station: r.get(4)?,
                    readers: readers(r.get(11)?)?,
                })
            })
        })
        .optional()
        .map_err(backend)
}

pub(super) fn commit_record(
    store: &SqliteStorage,
    commit: &RecordCommit,
) -> Result<u64, StorageError> {
    store.write(|tx| commit_in(tx, commit))
}

/// The records of one push in one transaction, each inside its own
/// savepoint: a record refused on its own (`Conflict`, `Duplicate`) is
/// rolled back to its savepoint and the others go on; any other failure
/// (a full store, say) rolls the whole transaction back.
pub(super) fn commit_records(
    store: &SqliteStorage,
    commits: &[RecordCommit],
) -> Result<Vec<Result<u64, StorageError>>, StorageError> {
    store.write(|tx| {
        let mut results = Vec::with_capacity(commits.len());
        for commit in commits {
            tx.execute_batch("SAVEPOINT record").map_err(backend)?;
            match commit_in(tx, commit) {
                Ok(seq) => {
                    tx.execute_batch("RELEASE record").map_err(backend)?;
                    results.push(Ok(seq));
                }
                Err(e @ (StorageError::Conflict | StorageError::Duplicate(_))) => {
                    tx.execute_batch("ROLLBACK TO record; RELEASE record")
                        .map_err(backend)?;
                    results.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(results)
    })
}

/// One record's commit inside the caller's transaction.
fn commit_in(tx: &rusqlite::Transaction<'_>, commit: &RecordCommit) -> Result<u64, StorageError> {
    let i = &commit.index;
    let written = match commit.expected_version {
        None => tx.execute(
            "INSERT INTO records (id, kind, reference, author, station, occurred_at, status,
                                  created_at, updated_at, snapshot, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)
             ON CONFLICT (id) DO NOTHING",
            params![
                i.id,
                i.kind.as_str(),
                i.reference,
                i.author,
                i.station,
                i.occurred_at,
                i.status.as_str(),
                i.created_at,
                i.updated_at,
                commit.snapshot
            ],
        ),
        Some(version) => tx.execute(
            "UPDATE records SET occurred_at = ?2, status = ?3, updated_at = ?4,
                    snapshot = ?5, version = version + 1
             WHERE id = ?1 AND version = ?6",
            params![
                i.id,
                i.occurred_at,
                i.status.as_str(),
                i.updated_at,
                commit.snapshot,
                version
            ],
        ),
    }
    .map_err(|e| {
        // The only other unique key of a record is its reference.
        if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
            StorageError::Duplicate("a record with this reference")
        } else {
            backend(e)
        }
    })?;
    if written == 0 {
        return Err(StorageError::Conflict);
    }
    audit::append_in(tx, &i.updated_at, &commit.audit)?;
    for officer in &commit.grant {
        tx.execute(
            "INSERT INTO record_access (record_id, officer, granted_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![i.id, officer, i.updated_at],
        )
        .map_err(backend)?;
        // The record's earlier entries are the new reader's too, as the
        // scope rule reads a record's readers now.
        tx.prepare_cached(
            "INSERT OR IGNORE INTO feed_audience (audience, seq)
             SELECT 'o:' || ?2, seq FROM feed WHERE record_id = ?1",
        )
        .and_then(|mut s| s.execute(params![i.id, officer]))
        .map_err(backend)?;
    }
    let seq: i64 = tx
        .query_row(
            "INSERT INTO feed (record_id, kind, author, station, origin_device, changes,
                                   received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING seq",
            params![
                i.id,
                i.kind.as_str(),
                i.author,
                i.station,
                commit.origin_device,
                commit.new_changes,
                i.updated_at
            ],
            |r| r.get(0),
        )
        .map_err(backend)?;
    index_entry(tx, seq, &i.id, &i.author, &i.station)?;
    Ok(seq as u64)
}

/// Indexes the feed entry at `seq` of `record_id` under its audience
/// (`crate::storage::Audience`): its author, its station and the record's
/// readers, inside the transaction that writes the entry.
pub(super) fn index_entry(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    record_id: &str,
    author: &str,
    station: &str,
) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO feed_audience (audience, seq)
         SELECT 'o:' || ?2, ?1 UNION SELECT 's:' || ?3, ?1
         UNION SELECT 'o:' || officer, ?1 FROM record_access WHERE record_id = ?4",
    )
    .and_then(|mut s| s.execute(params![seq, author, station, record_id]))
    .map_err(backend)?;
    Ok(())
}

/// Removes a record's feed entries from the audience index, before the
/// entries themselves go (erasure): looked up by the keys they were
/// indexed under, so the index's primary key serves the delete.
pub(super) fn unindex_record(
    tx: &rusqlite::Transaction<'_>,
    record_id: &str,
) -> Result<(), StorageError> {
    tx.execute(
        "DELETE FROM feed_audience
         WHERE seq IN (SELECT seq FROM feed WHERE record_id = ?1)
           AND audience IN (SELECT 'o:' || author FROM feed WHERE record_id = ?1
                            UNION SELECT 's:' || station FROM feed WHERE record_id = ?1
                            UNION SELECT 'o:' || officer FROM record_access
                                  WHERE record_id = ?1)",
        [record_id],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn records(store: &SqliteStorage) -> Result<Vec<RecordIndex>, StorageError> {
    all_rows(
        &store.conn(),
        &format!("SELECT {INDEX_COLUMNS} FROM records ORDER BY created_at, id"),
        [],
        index_row,
    )
}

/// The stations holding a record of one of `?1` (a JSON array of kinds),
/// in order: a loose scan of `records_by_station_kind`, one seek to the
/// next station and one to find one of the kinds there.
pub(super) const STATIONS_HOLDING: &str = "
    WITH RECURSIVE s(station) AS (
        SELECT min(station) FROM records
        UNION ALL
        SELECT (SELECT min(station) FROM records WHERE station > s.station)
        FROM s WHERE s.station IS NOT NULL
    )
    SELECT station FROM s
    WHERE station IS NOT NULL
      AND EXISTS (SELECT 1 FROM records r
                  WHERE r.station = s.station
                    AND r.kind IN (SELECT value FROM json_each(?1)))";

/// `?1` a station, `?2` a JSON array of kinds: ids and versions from
/// `records_by_station_kind` alone.
pub(super) const VERSIONS_AT_STATION: &str = "
    SELECT id, version FROM records
    WHERE station = ?1 AND kind IN (SELECT value FROM json_each(?2))";

pub(super) fn stations_holding(
    store: &SqliteStorage,
    kinds: &[RecordKind],
) -> Result<Vec<String>, StorageError> {
    all_rows(&store.conn(), STATIONS_HOLDING, [kinds_json(kinds)?], |r| {
        r.get(0)
    })
}

pub(super) fn record_versions(
    store: &SqliteStorage,
    station: &str,
    kinds: &[RecordKind],
) -> Result<Vec<RecordVersion>, StorageError> {
    all_rows(
        &store.conn(),
        VERSIONS_AT_STATION,
        params![station, kinds_json(kinds)?],
        |r| {
            Ok(RecordVersion {
                id: r.get(0)?,
                version: r.get(1)?,
            })
        },
    )
}

pub(super) fn records_by_id(
    store: &SqliteStorage,
    ids: &[String],
) -> Result<Vec<StoredRecord>, StorageError> {
    check_batch(ids)?;
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM records WHERE id IN (SELECT value FROM json_each(?1))",
            stored_columns()
        )
    });
    let ids = serde_json::to_string(ids).map_err(|e| StorageError::backend_from(None, e))?;
    all_rows(&store.conn(), &SQL, [ids], stored_row)
}

/// The columns [`feed_row`] reads, from `feed`.
fn feed_columns() -> String {
    format!(
        "seq, record_id, kind, author, station, origin_device, changes, {}, erased, received_at",
        readers_of("feed.record_id")
    )
}

fn feed_row(r: &rusqlite::Row<'_>) -> Result<FeedRow, StorageError> {
    Ok(FeedRow {
        seq: r.get::<_, i64>(0).map_err(backend)? as u64,
        record_id: r.get(1).map_err(backend)?,
        kind: kind_of(r.get(2).map_err(backend)?).map_err(backend)?,
        author: r.get(3).map_err(backend)?,
        station: r.get(4).map_err(backend)?,
        origin_device: r.get(5).map_err(backend)?,
        changes: r.get(6).map_err(backend)?,
        readers: readers(r.get(7).map_err(backend)?).map_err(backend)?,
        erased: r.get(8).map_err(backend)?,
        received_at: r.get(9).map_err(backend)?,
    })
}

pub(super) fn feed_window(
    store: &SqliteStorage,
    cursor: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<Vec<FeedRow>, StorageError> {
    let conn = store.conn();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {} FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            feed_columns()
        ))
        .map_err(backend)?;
    let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![cursor, limit]).map_err(backend)?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    // Rows stream from SQLite; stop reading once the byte budget is spent.
    while bytes < max_bytes {
        let Some(r) = rows.next().map_err(backend)? else {
            break;
        };
        let row = feed_row(r)?;
        bytes = bytes.saturating_add(row.changes.len());
        out.push(row);
    }
    Ok(out)
}

/// The query [`feed_for`] reads the feed per audience with, for `keys`
/// audience keys (`?1`..`?n`; then the cursor, the head and the limit):
/// each audience's positions after the cursor up to the head, one range of
/// the audience index's primary key each, merged in position order and
/// cut at the limit (a compound `SELECT` whose arms are each already in
/// order: SQLite merges them, so no arm is read past the limit), and each
/// position's entry by the feed's rowid, with its record as it is now
/// (`FeedSlice::records`) and the position. Rows come in position order
/// without a sort, so they stream and the byte budget stops the reading
/// (its plan is checked in `storage/sqlite/tests.rs`).
pub(super) fn feed_for_sql(keys: usize) -> String {
    let (cursor, head, limit) = (keys + 1, keys + 2, keys + 3);
    let ranges: Vec<String> = (1..=keys.max(1))
        .map(|k| {
            format!(
                "SELECT seq FROM feed_audience
                 WHERE audience = ?{k} AND seq > ?{cursor} AND seq <= ?{head}"
            )
        })
        .collect();
    format!(
        "SELECT {}, (SELECT occurred_at FROM records WHERE id = feed.record_id),
                EXISTS (SELECT 1 FROM legal_holds WHERE record_id = feed.record_id),
                p.position
         FROM (SELECT seq AS position FROM ({} ORDER BY seq LIMIT ?{limit})) p
         LEFT JOIN feed ON feed.seq = p.position
         ORDER BY p.position",
        feed_columns(),
        ranges.join(" UNION ")
    )
}

/// The feed after `cursor` under `audience`, through the audience index:
/// the head first, then, in one query ([`feed_for_sql`]), the first
/// `limit` positions of the audiences after the cursor up to the head and
/// their entries, read until the byte budget is spent. All under the one
/// connection, and only up to the head read first, so an entry committed
/// meanwhile is left for the next read, never passed.
pub(super) fn feed_for(
    store: &SqliteStorage,
    audience: &[Audience],
    cursor: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<FeedSlice, StorageError> {
    let conn = store.conn();
    let head: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM feed")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(backend)?;
    let from = i64::try_from(cursor).unwrap_or(i64::MAX);
    let (mut rows, mut records) = (Vec::new(), BTreeMap::new());
    let (mut found, mut bytes, mut cut, mut last) = (0u64, 0usize, false, None);
    if !audience.is_empty() && limit > 0 {
        let mut stmt = conn
            .prepare_cached(&feed_for_sql(audience.len()))
            .map_err(backend)?;
        let keys: Vec<String> = audience.iter().map(Audience::key).collect();
        let mut params: Vec<&dyn rusqlite::ToSql> =
            keys.iter().map(|k| k as &dyn rusqlite::ToSql).collect();
        params.extend([&from as &dyn rusqlite::ToSql, &head, &limit]);
        let mut entries = stmt.query(params.as_slice()).map_err(backend)?;
        // Rows stream from SQLite; stop reading once the byte budget is
        // spent.
        while let Some(r) = entries.next().map_err(backend)? {
            if bytes >= max_bytes {
                cut = true;
                break;
            }
            found += 1;
            last = Some(r.get::<_, i64>(12).map_err(backend)? as u64);
            // A position without its entry (none: an erasure removes
            // both in one transaction) is passed, not returned.
            if r.get_ref(0).map_err(backend)? == rusqlite::types::ValueRef::Null {
                continue;
            }
            let row = feed_row(r)?;
            if let Some(occurred_at) = r.get::<_, Option<String>>(10).map_err(backend)? {
                let held = r.get(11).map_err(backend)?;
                records.insert(row.record_id.clone(), RecordNow { occurred_at, held });
            }
            bytes = bytes.saturating_add(row.changes.len());
            rows.push(row);
        }
    }
    // The limit cut the positions, or the budget the entries: there may
    // be more after the last one read.
    let more = cut || found >= u64::from(limit);
    // Each position found is an index entry read; each entry, a feed row.
    let examined = found + rows.len() as u64;
    Ok(FeedSlice::ending(
        rows,
        records,
        more,
        examined,
        cursor,
        last,
        head as u64,
    ))
}

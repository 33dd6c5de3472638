//! Record reads in PostgreSQL: one record (or its tombstone), every
//! record's index, and the feed read by window and by audience. The
//! writes, and the column lists and row readers shared with them, are in
//! `records.rs`.

use std::collections::BTreeMap;

use super::*;

pub(in crate::storage::postgres) fn record(
    store: &PostgresStorage,
    id: &str,
) -> Result<Option<StoredRecord>, StorageError> {
    store
        .query_prepared(
            &format!("SELECT {} FROM records WHERE id = $1", stored_columns()),
            &[&id],
        )?
        .first()
        .map(stored_row)
        .transpose()
}

/// The record, else its tombstone, in one query (one round trip): the
/// record's row as [`stored_row`] reads it, and the tombstone's fields in
/// the same columns where they fit (id, kind, author, station, readers)
/// and two more (`erased_at`, `reason`); the last column says which table
/// it is. Were both to hold the id, the record wins, as [`record`] asked
/// first.
pub(in crate::storage::postgres) fn record_or_tombstone(
    store: &PostgresStorage,
    id: &str,
) -> Result<Option<Held>, StorageError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {}, NULL::text, NULL::text, 0 AS held FROM records WHERE id = $1
             UNION ALL
             SELECT record_id, kind, NULL, author, station, NULL, NULL, NULL, NULL,
                    NULL::bytea, NULL::bigint, {}, erased_at, reason, 1
             FROM tombstones WHERE record_id = $1
             ORDER BY held LIMIT 1",
            stored_columns(),
            readers_of("tombstones.record_id")
        )
    });
    let rows = store.query_prepared(&SQL, &[&id])?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(if col::<i32>(r, 14)? == 0 {
        Held::Record(stored_row(r)?)
    } else {
        Held::Tombstone(Tombstone {
            record_id: col(r, 0)?,
            kind: kind_of(col(r, 1)?)?,
            erased_at: col(r, 12)?,
            reason: col(r, 13)?,
            author: col(r, 3)?,
            station: col(r, 4)?,
            readers: col(r, 11)?,
        })
    }))
}

pub(in crate::storage::postgres) fn records(
    store: &PostgresStorage,
) -> Result<Vec<RecordIndex>, StorageError> {
    store.read(|c| {
        c.query(
            &format!("SELECT {INDEX_COLUMNS} FROM records ORDER BY created_at, id"),
            &[],
        )
        .map_err(backend)?
        .iter()
        .map(index_row)
        .collect()
    })
}

/// The stations holding a record of one of `$1` (kind names), in order: a
/// loose scan of `records_by_station_kind`, one seek to the next station
/// and one to find one of the kinds there.
pub(in crate::storage::postgres) const STATIONS_HOLDING: &str = "
    WITH RECURSIVE s(station) AS (
        SELECT min(station) FROM records
        UNION ALL
        SELECT (SELECT min(station) FROM records WHERE station > s.station)
        FROM s WHERE s.station IS NOT NULL
    )
    SELECT station FROM s
    WHERE station IS NOT NULL
      AND EXISTS (SELECT 1 FROM records r
                  WHERE r.station = s.station AND r.kind = ANY($1))";

/// `$1` a station, `$2` kind names: ids and versions, an index-only scan of
/// `records_by_station_kind`.
pub(in crate::storage::postgres) const VERSIONS_AT_STATION: &str =
    "SELECT id, version FROM records WHERE station = $1 AND kind = ANY($2)";

pub(in crate::storage::postgres) fn stations_holding(
    store: &PostgresStorage,
    kinds: &[RecordKind],
) -> Result<Vec<String>, StorageError> {
    store
        .query_prepared(STATIONS_HOLDING, &[&kind_names(kinds)])?
        .iter()
        .map(|r| col(r, 0))
        .collect()
}

pub(in crate::storage::postgres) fn record_versions(
    store: &PostgresStorage,
    station: &str,
    kinds: &[RecordKind],
) -> Result<Vec<crate::storage::RecordVersion>, StorageError> {
    store
        .query_prepared(VERSIONS_AT_STATION, &[&station, &kind_names(kinds)])?
        .iter()
        .map(|r| {
            Ok(crate::storage::RecordVersion {
                id: col(r, 0)?,
                version: col(r, 1)?,
            })
        })
        .collect()
}

pub(in crate::storage::postgres) fn records_by_id(
    store: &PostgresStorage,
    ids: &[String],
) -> Result<Vec<StoredRecord>, StorageError> {
    crate::storage::check_batch(ids)?;
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {} FROM records WHERE id = ANY($1)",
            stored_columns()
        )
    });
    store
        .query_prepared(&SQL, &[&ids])?
        .iter()
        .map(stored_row)
        .collect()
}

/// The feed entries `entries` (a query of `feed` rows), oldest first,
/// until the change bytes before one reach the parameter `budget` (the
/// first always comes). The budget is applied in the database, by a
/// running sum over the sizes (read without loading the bytes), so only
/// the rows that go out are sent.
fn byte_bounded_feed_sql(entries: &str, budget: &str) -> String {
    byte_bounded_feed_sql_with(entries, budget, "")
}

/// [`byte_bounded_feed_sql`], with `extra` columns (each after a comma)
/// of the entry `w` after the row's own.
fn byte_bounded_feed_sql_with(entries: &str, budget: &str, extra: &str) -> String {
    format!(
        "SELECT seq, record_id, kind, author, station, origin_device, changes, {}, erased,
                received_at{extra}
         FROM (SELECT f.*, coalesce(sum(octet_length(f.changes)) OVER (
                        ORDER BY f.seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                      ), 0) AS bytes_before
               FROM ({entries}) f) w
         WHERE bytes_before < {budget}
         ORDER BY seq",
        readers_of("w.record_id")
    )
}

/// The feed window's query: `$1` cursor, `$2` limit, `$3` byte budget.
pub(in crate::storage::postgres) fn feed_window_sql() -> String {
    byte_bounded_feed_sql(
        "SELECT * FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2",
        "$3",
    )
}

fn feed_row(r: &Row) -> Result<FeedRow, StorageError> {
    Ok(FeedRow {
        seq: col::<i64>(r, 0)? as u64,
        record_id: col(r, 1)?,
        kind: kind_of(col(r, 2)?)?,
        author: col(r, 3)?,
        station: col(r, 4)?,
        origin_device: col(r, 5)?,
        changes: col(r, 6)?,
        readers: col(r, 7)?,
        erased: col(r, 8)?,
        received_at: col(r, 9)?,
    })
}

pub(in crate::storage::postgres) fn feed_window(
    store: &PostgresStorage,
    cursor: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<Vec<FeedRow>, StorageError> {
    let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
    let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    store
        .query_prepared(
            &feed_window_sql(),
            &[&cursor, &i64::from(limit), &max_bytes],
        )?
        .iter()
        .map(feed_row)
        .collect()
}

/// The positions a feed read per audience may return, with the head, in
/// one statement and so one snapshot: `$1` the audience keys, `$2` the
/// cursor, `$3` the limit. One row per position found (each audience's
/// first `$3` after the cursor, up to the head: one index range each),
/// or one row with a null position when there is none.
pub(in crate::storage::postgres) fn audience_positions_sql() -> &'static str {
    "SELECT h.seq, p.seq
     FROM feed_head h
     LEFT JOIN LATERAL (
         SELECT x.seq FROM unnest($1::text[]) AS k(audience)
         CROSS JOIN LATERAL (
             SELECT fa.seq FROM feed_audience fa
             WHERE fa.audience = k.audience AND fa.seq > $2 AND fa.seq <= h.seq
             ORDER BY fa.seq LIMIT $3) x
     ) p ON TRUE
     WHERE h.id = 1"
}

/// The entries at positions `$1`, oldest first, until the change bytes
/// before one reach `$2` (the first always comes), each with its record as
/// it is now (`FeedSlice::records`): its encounter time (null once
/// erased) and its hold, each by its primary key.
pub(in crate::storage::postgres) fn entries_at_sql() -> String {
    byte_bounded_feed_sql_with(
        "SELECT * FROM feed WHERE seq = ANY($1)",
        "$2",
        ", (SELECT r.occurred_at FROM records r WHERE r.id = w.record_id),
           EXISTS (SELECT 1 FROM legal_holds h WHERE h.record_id = w.record_id)",
    )
}

/// The feed after `cursor` under `audience`, through the audience index:
/// the head and the positions in one snapshot (so a position is returned
/// only if every earlier one has committed, see [`next_seq`]), then the
/// entries at them, byte-bounded in the database.
pub(in crate::storage::postgres) fn feed_for(
    store: &PostgresStorage,
    audience: &[Audience],
    cursor: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<FeedSlice, StorageError> {
    let keys: Vec<String> = audience.iter().map(Audience::key).collect();
    let from = i64::try_from(cursor).unwrap_or(i64::MAX);
    let found =
        store.query_prepared(audience_positions_sql(), &[&keys, &from, &i64::from(limit)])?;
    let mut head = 0i64;
    let mut seqs: Vec<i64> = Vec::with_capacity(found.len());
    for r in &found {
        head = col(r, 0)?;
        if let Some(seq) = col::<Option<i64>>(r, 1)? {
            seqs.push(seq);
        }
    }
    let mut examined = seqs.len() as u64;
    seqs.sort_unstable();
    seqs.dedup();
    seqs.truncate(limit as usize);
    let mut more = seqs.len() >= limit as usize;
    let (mut rows, mut records) = (Vec::new(), BTreeMap::new());
    if !seqs.is_empty() {
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        for r in store.query_prepared(&entries_at_sql(), &[&seqs, &max_bytes])? {
            let row = feed_row(&r)?;
            if let Some(occurred_at) = col::<Option<String>>(&r, 10)? {
                let held = col(&r, 11)?;
                records.insert(row.record_id.clone(), RecordNow { occurred_at, held });
            }
            rows.push(row);
        }
        examined += rows.len() as u64;
        // The byte budget cut the list: the reader stops at the last entry
        // returned. (An entry erased since its position was read is simply
        // gone, and does not cut it.)
        if let Some(last) = rows.last()
            && seqs.iter().any(|s| *s as u64 > last.seq)
            && rows.iter().map(|r| r.changes.len()).sum::<usize>() as i64 >= max_bytes
        {
            more = true;
        }
    }
    let last_read = rows.last().map(|r| r.seq);
    Ok(FeedSlice::ending(
        rows,
        records,
        more,
        examined,
        cursor,
        last_read,
        head as u64,
    ))
}

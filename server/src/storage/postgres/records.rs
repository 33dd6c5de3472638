//! Records and the change feed in PostgreSQL: snapshots with their index
//! columns and readers, the compare-and-swap commit with its feed entry
//! staged for the sequencing run (`sequencer.rs`) that gives it its
//! position; the reads (one record, the byte-bounded feed window, the feed
//! per audience) are in `records/reads.rs`. The column lists and row
//! readers here are shared with the reads, the copy and retention queries.

use chrono::{DateTime, Utc};
use pocketbook_core::model::{RecordKind, RecordStatus};
use postgres::error::SqlState;
use postgres::{Row, Transaction};

use super::pool::Statements;
use super::sequencer::{self, Staged};
use super::{PostgresStorage, audit, backend, col, instant, vocabulary};

use crate::storage::{
    Audience, FeedRow, FeedSlice, Held, RecordCommit, RecordIndex, RecordNow, StorageError,
    StoredRecord, Tombstone,
};

mod reads;
pub(super) use reads::{
    feed_for, feed_window, record, record_or_tombstone, record_versions, records, records_by_id,
    stations_holding,
};
// The plans of these queries are checked in the PostgreSQL tests.
#[cfg(test)]
pub(super) use reads::{
    STATIONS_HOLDING, VERSIONS_AT_STATION, audience_positions_sql, entries_at_sql, feed_window_sql,
};

pub(super) const INDEX_COLUMNS: &str =
    "id, kind, reference, author, station, occurred_at, status, created_at, updated_at";

/// The officers other than the author who may see the record whose id is
/// in `id_column`, as a text array in one order.
pub(super) fn readers_of(id_column: &str) -> String {
    format!(
        "coalesce((SELECT array_agg(a.officer ORDER BY a.officer) FROM record_access a
                   WHERE a.record_id = {id_column}), '{{}}')"
    )
}

pub(super) fn kind_of(text: &str) -> Result<RecordKind, StorageError> {
    vocabulary("record kind", text, RecordKind::parse)
}

/// Record kinds as a text array, for `kind = ANY($n)`.
pub(super) fn kind_names(kinds: &[RecordKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.as_str()).collect()
}

pub(super) fn index_row(r: &Row) -> Result<RecordIndex, StorageError> {
    Ok(RecordIndex {
        id: col(r, 0)?,
        kind: kind_of(col(r, 1)?)?,
        reference: col(r, 2)?,
        author: col(r, 3)?,
        station: col(r, 4)?,
        occurred_at: col(r, 5)?,
        status: vocabulary("record status", col(r, 6)?, RecordStatus::parse)?,
        created_at: col(r, 7)?,
        updated_at: col(r, 8)?,
    })
}

/// The columns [`stored_row`] reads, from `records`.
pub(super) fn stored_columns() -> String {
    format!(
        "{INDEX_COLUMNS}, snapshot, version, {}",
        readers_of("records.id")
    )
}

pub(super) fn stored_row(r: &Row) -> Result<StoredRecord, StorageError> {
    Ok(StoredRecord {
        index: index_row(r)?,
        snapshot: col(r, 9)?,
        version: col(r, 10)?,
        readers: col(r, 11)?,
    })
}

/// The next feed position, taken from the one counter row inside the
/// caller's transaction, which holds the heads already (an erasure, after
/// its sequencing run: `retention.rs`): the row stays locked until it
/// commits, so positions become visible strictly in order across every
/// instance.
pub(super) fn next_seq(tx: &mut Transaction<'_>) -> Result<i64, StorageError> {
    Ok(tx
        .query_one(
            "UPDATE feed_head SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            &[],
        )
        .map_err(backend)?
        .get(0))
}

/// One record: its row, its feed entry and its audit events staged, in
/// one transaction that waits for no head; numbered in that transaction
/// when no sequencing run holds the head ([`sequencer::run_if_free`]),
/// else by a run after it commits ([`sequencer::settle`]).
pub(super) fn commit_record(
    store: &PostgresStorage,
    commit: &RecordCommit,
) -> Result<u64, StorageError> {
    let occurred = instant(&commit.index.occurred_at)?;
    let (staged, numbered) = store.write_prepared(|tx, prepared| {
        let staged = stage_in(tx, prepared, commit, &occurred)?;
        let numbered = sequencer::run_if_free(tx, prepared, &staged)?;
        Ok((staged, numbered))
    })?;
    Ok(match numbered {
        Some(seqs) => seqs,
        None => sequencer::settle(store, &staged)?,
    }[0])
}

/// The record's row, its earlier entries indexed under new readers, its
/// events and feed entry staged, inside the caller's transaction.
fn stage_in(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
    commit: &RecordCommit,
    occurred: &DateTime<Utc>,
) -> Result<Staged, StorageError> {
    write_record(tx, prepared, commit, occurred)?;
    if !commit.grant.is_empty() {
        index_earlier_entries(tx, prepared, &[commit])?;
    }
    audit::stage_in(tx, prepared, &commit.index.updated_at, &commit.audit)?;
    Ok(Staged {
        feed: vec![stage_feed(tx, prepared, commit)?],
        records: vec![commit.index.id.clone()],
    })
}

/// A writer that stops after its commit, before any sequencing (as a
/// crashed one would): the record durable, its entry and events staged,
/// not numbered. The feed-gap stress test's stopping writers.
#[cfg(test)]
pub(super) fn stage_record(
    store: &PostgresStorage,
    commit: &RecordCommit,
) -> Result<Staged, StorageError> {
    let occurred = instant(&commit.index.occurred_at)?;
    store.write_prepared(|tx, prepared| stage_in(tx, prepared, commit, &occurred))
}

/// The records of one push in one transaction, each written inside its
/// own savepoint: a record refused on its own (`Conflict`, `Duplicate`)
/// is rolled back to its savepoint and the others go on; any other
/// failure rolls the whole transaction back (the outer `Err`).
///
/// Every record row is written first, then the accepted ones' new readers
/// indexed, their audit events and feed entries staged, in push order;
/// the transaction waits for no head (unless a record gains a reader),
/// and the entries are numbered in it if the head is free, else by one
/// sequencing run after it commits. Round trips:
/// a savepoint is released and the next one taken in one (`RELEASE
/// record; SAVEPOINT record`).
pub(super) fn commit_records(
    store: &PostgresStorage,
    commits: &[RecordCommit],
) -> Result<Vec<Result<u64, StorageError>>, StorageError> {
    let occurred: Vec<_> = commits
        .iter()
        .map(|c| instant(&c.index.occurred_at))
        .collect::<Result<_, _>>()?;
    if commits.is_empty() {
        return Ok(Vec::new());
    }
    let (refused, staged, numbered) = store.write_prepared(|tx, prepared| {
        let mut refused: Vec<Option<StorageError>> = Vec::with_capacity(commits.len());
        tx.batch_execute("SAVEPOINT record").map_err(backend)?;
        for (commit, occurred) in commits.iter().zip(&occurred) {
            match write_record(tx, prepared, commit, occurred) {
                Ok(()) => {
                    tx.batch_execute("RELEASE record; SAVEPOINT record")
                        .map_err(backend)?;
                    refused.push(None);
                }
                Err(e @ (StorageError::Conflict | StorageError::Duplicate(_))) => {
                    // The savepoint stays, for the next record.
                    tx.batch_execute("ROLLBACK TO record").map_err(backend)?;
                    refused.push(Some(e));
                }
                Err(e) => return Err(e),
            }
        }
        tx.batch_execute("RELEASE record").map_err(backend)?;
        let accepted: Vec<&RecordCommit> = commits
            .iter()
            .zip(&refused)
            .filter(|(_, r)| r.is_none())
            .map(|(c, _)| c)
            .collect();
        index_earlier_entries(tx, prepared, &accepted)?;
        let mut staged = Staged::default();
        for commit in &accepted {
            audit::stage_in(tx, prepared, &commit.index.updated_at, &commit.audit)?;
            staged.feed.push(stage_feed(tx, prepared, commit)?);
            staged.records.push(commit.index.id.clone());
        }
        // Nothing accepted: nothing staged, nothing to number.
        let numbered = if staged.feed.is_empty() {
            Some(Vec::new())
        } else {
            sequencer::run_if_free(tx, prepared, &staged)?
        };
        Ok((refused, staged, numbered))
    })?;
    let seqs = match numbered {
        Some(seqs) => seqs,
        None => sequencer::settle(store, &staged)?,
    };
    let mut seqs = seqs.into_iter();
    Ok(refused
        .into_iter()
        .map(|refusal| match refusal {
            Some(e) => Err(e),
            None => Ok(seqs.next().unwrap_or(0)),
        })
        .collect())
}

/// A record's row (inserted, or updated if its version is still the one
/// expected) and its new readers, inside the caller's transaction:
/// `Conflict` when the version moved or the record exists, `Duplicate`
/// when another record has its reference. A refused record leaves the
/// transaction aborted: the caller rolls back (to its savepoint).
fn write_record(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
    commit: &RecordCommit,
    occurred: &DateTime<Utc>,
) -> Result<(), StorageError> {
    let i = &commit.index;
    let written = match commit.expected_version {
        None => {
            let insert = prepared
                .get(
                    tx,
                    "INSERT INTO records (id, kind, reference, author, station, occurred_at,
                                          occurred_at_ts, status, created_at, updated_at,
                                          snapshot, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)
                     ON CONFLICT (id) DO NOTHING",
                )
                .map_err(backend)?;
            tx.execute(
                &insert,
                &[
                    &i.id,
                    &i.kind.as_str(),
                    &i.reference,
                    &i.author,
                    &i.station,
                    &i.occurred_at,
                    occurred,
                    &i.status.as_str(),
                    &i.created_at,
                    &i.updated_at,
                    &commit.snapshot,
                ],
            )
        }
        Some(version) => {
            let update = prepared
                .get(
                    tx,
                    "UPDATE records SET occurred_at = $2, occurred_at_ts = $3, status = $4,
                            updated_at = $5, snapshot = $6, version = version + 1
                     WHERE id = $1 AND version = $7",
                )
                .map_err(backend)?;
            tx.execute(
                &update,
                &[
                    &i.id,
                    &i.occurred_at,
                    occurred,
                    &i.status.as_str(),
                    &i.updated_at,
                    &commit.snapshot,
                    &version,
                ],
            )
        }
    }
    .map_err(|e| {
        // The only other unique key of a record is its reference.
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StorageError::Duplicate("a record with this reference")
        } else {
            backend(e)
        }
    })?;
    if written == 0 {
        return Err(StorageError::Conflict);
    }
    if !commit.grant.is_empty() {
        let grant = prepared
            .get(
                tx,
                "INSERT INTO record_access (record_id, officer, granted_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(backend)?;
        for officer in &commit.grant {
            tx.execute(&grant, &[&i.id, officer, &i.updated_at])
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// The earlier feed entries of the records in `commits` that gain readers
/// indexed under those readers too, as the scope rule reads a record's
/// readers now; after every record row is written (locks in their one
/// order). Takes `feed_head` first, until commit: a sequencing run either
/// committed before (its entries are read here) or starts after this
/// commit (and indexes its entries under the new reader itself). Nothing
/// is locked when no record gains a reader.
fn index_earlier_entries(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
    commits: &[&RecordCommit],
) -> Result<(), StorageError> {
    if commits.iter().all(|c| c.grant.is_empty()) {
        return Ok(());
    }
    tx.execute("SELECT seq FROM feed_head WHERE id = 1 FOR UPDATE", &[])
        .map_err(backend)?;
    let earlier = prepared
        .get(
            tx,
            "INSERT INTO feed_audience (audience, seq)
             SELECT 'o:' || $2::text, seq FROM feed WHERE record_id = $1
             ON CONFLICT DO NOTHING",
        )
        .map_err(backend)?;
    for commit in commits {
        for officer in &commit.grant {
            tx.execute(&earlier, &[&commit.index.id, officer])
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// Indexes the entry the statement before it inserted into `feed` (as
/// the CTE `f`, returning `seq`, `record_id`, `author`, `station`) under
/// its audience (`crate::storage::Audience`): its author, its station and
/// the record's readers, in the same statement.
pub(super) const INDEX_ENTRY: &str = "
INSERT INTO feed_audience (audience, seq)
SELECT 'o:' || f.author, f.seq FROM f
UNION SELECT 's:' || f.station, f.seq FROM f
UNION SELECT 'o:' || a.officer, f.seq FROM f JOIN record_access a ON a.record_id = f.record_id
ON CONFLICT DO NOTHING";

/// Removes a record's feed entries from the audience index, before the
/// entries themselves go (erasure): looked up by the keys they were
/// indexed under, so the index's primary key serves the delete.
pub(super) fn unindex_record(
    tx: &mut Transaction<'_>,
    record_id: &str,
) -> Result<(), StorageError> {
    tx.execute(
        "DELETE FROM feed_audience
         WHERE seq = ANY(ARRAY(SELECT seq FROM feed WHERE record_id = $1))
           AND audience = ANY(ARRAY(
               SELECT 'o:' || author FROM feed WHERE record_id = $1
               UNION SELECT 's:' || station FROM feed WHERE record_id = $1
               UNION SELECT 'o:' || officer FROM record_access WHERE record_id = $1))",
        &[&record_id],
    )
    .map_err(backend)?;
    Ok(())
}

/// Stages the feed entry of a committed record, unnumbered: its staged
/// id. A sequencing run gives it its position and indexes it under its
/// audience ([`sequencer`]).
fn stage_feed(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
    commit: &RecordCommit,
) -> Result<i64, StorageError> {
    let i = &commit.index;
    let insert = prepared
        .get(
            tx,
            "INSERT INTO feed_pending (record_id, kind, author, station, origin_device,
                                       changes, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id",
        )
        .map_err(backend)?;
    col(
        &tx.query_one(
            &insert,
            &[
                &i.id,
                &i.kind.as_str(),
                &i.author,
                &i.station,
                &commit.origin_device,
                &commit.new_changes,
                &i.updated_at,
            ],
        )
        .map_err(backend)?,
        0,
    )
}

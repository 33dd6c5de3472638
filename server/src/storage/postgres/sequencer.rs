//! Sequencing: the one serial step of every write, kept off the queue of
//! writes' flushes (issue 15, the force-scale write tail).
//!
//! A write stages its feed entries and audit events, unnumbered
//! (`feed_pending`, `audit_pending`), in its own transaction. A
//! **sequencing run** takes the heads (`feed_head`, then `audit_head`),
//! numbers every staged entry it can see into `feed` (one statement:
//! positions `head + 1 ...` in arrival order, the audience index, the new
//! head) and chains every staged event into `audit`. Readers read only
//! `feed` up to `feed_head`, as before, so what they see is what it was:
//! positions handed out under one lock, visible only once every earlier
//! one is, none skipped or repeated.
//!
//! **Where the run happens** ([`run_if_free`], [`settle`]). A write that
//! finds the head free (`SKIP LOCKED`: it never waits there) runs inside
//! its own transaction, numbering its own entries with whatever else is
//! staged and committed: alone, a write costs one commit, as before. A
//! write that finds it held (a run is flushing) commits staged without
//! waiting, then takes the head, waiting; if a run that committed
//! meanwhile numbered its entries it reads their positions and rolls back
//! (no flush), else it runs, for itself and everyone staged. So writes
//! that meet a slow flush are numbered by the next run together (group
//! commit of the serial step) instead of queueing behind one flush each.
//!
//! **A crash between a staged commit and its run** leaves committed,
//! staged rows (the write is durable, and was acknowledged only if its
//! run finished).
//! The next run numbers them: any writer's, the sweep when a store opens,
//! or the store's sweeper thread ([`Sweeper`]), which runs when staged rows
//! have waited a whole period.
//!
//! **Who else takes the heads**: a write that shares a record with a new
//! reader takes `feed_head` before indexing the record's earlier entries
//! under that reader (`records::write_record`), so a run can neither miss
//! the new reader (it started after the grant committed) nor be missed by
//! it (it committed before the grant read the feed); an erasure runs the
//! sequencing inside its own transaction first (`retention.rs`), so none of
//! the record's staged entries is numbered after it. Lock order: record
//! rows, then `feed_head`, then `audit_head`; a write only ever tries the
//! head without waiting, or takes it after its record rows.
//!
//! Only row locks, data-modifying CTEs and `unnest`: SQL that CockroachDB
//! and YugabyteDB also run (see `storage/postgres.rs`).

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use postgres::Transaction;

use super::audit::{self, Chained};
use super::pool::Statements;
use super::{PostgresStorage, backend, col};
use crate::storage::StorageError;

/// What one write staged, to wait for: its feed entries' staged ids (in
/// the order their positions are wanted), their records, and whether it
/// staged anything else (audit events).
#[derive(Debug, Default)]
pub(super) struct Staged {
    pub(super) feed: Vec<i64>,
    pub(super) records: Vec<String>,
}

/// Locks the heads for the rest of the transaction: the row of
/// `feed_head`. `audit_head` is locked only by a transaction that holds
/// `feed_head` already ([`audit::chain_in`], under a run), so nobody waits
/// for it while holding something a holder of `feed_head` wants.
fn lock_heads(tx: &mut Transaction<'_>, prepared: &mut Statements) -> Result<(), StorageError> {
    let lock = prepared
        .get(tx, "SELECT seq FROM feed_head WHERE id = 1 FOR UPDATE")
        .map_err(backend)?;
    tx.query_one(&lock, &[]).map_err(backend)?;
    Ok(())
}

/// Inside a write's own transaction, after it staged `staged`: when no
/// run holds the heads, takes them (`SKIP LOCKED`: never waits) and runs
/// here, numbering everything committed staged and this write's own
/// entries: their positions. When a run holds them, `None`: the write
/// commits unnumbered and waits for a run ([`settle`]). So a write alone
/// costs one commit, as before, and writes that meet a run (or each
/// other) are numbered together by the next run instead of queueing
/// behind each other's flushes.
pub(super) fn run_if_free(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
    staged: &Staged,
) -> Result<Option<Vec<u64>>, StorageError> {
    let try_lock = prepared
        .get(
            tx,
            "SELECT seq FROM feed_head WHERE id = 1 FOR UPDATE SKIP LOCKED",
        )
        .map_err(backend)?;
    if tx.query(&try_lock, &[]).map_err(backend)?.is_empty() {
        return Ok(None);
    }
    let (numbered, _) = run_locked(tx, prepared)?;
    Ok(Some(
        staged
            .feed
            .iter()
            .map(|id| numbered.get(id).map_or(0, |s| *s as u64))
            .collect(),
    ))
}

/// Numbers every committed staged feed entry and chains every committed
/// staged audit event, inside the caller's transaction, which holds the
/// heads ([`lock_heads`]). Returns the staged id and position of each
/// entry numbered, and how many events it chained.
fn run_locked(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
) -> Result<(HashMap<i64, i64>, usize), StorageError> {
    let take_events = prepared
        .get(
            tx,
            "DELETE FROM audit_pending RETURNING id, at, actor, action, record_id, detail",
        )
        .map_err(backend)?;
    let mut events: Vec<(i64, Chained)> = tx
        .query(&take_events, &[])
        .map_err(backend)?
        .iter()
        .map(|r| {
            Ok((
                col(r, 0)?,
                Chained {
                    at: col(r, 1)?,
                    actor: col(r, 2)?,
                    action: col(r, 3)?,
                    record_id: col(r, 4)?,
                    detail: col(r, 5)?,
                },
            ))
        })
        .collect::<Result<_, StorageError>>()?;
    events.sort_unstable_by_key(|(id, _)| *id);
    let events: Vec<Chained> = events.into_iter().map(|(_, e)| e).collect();
    audit::chain_in(tx, &events)?;
    // One statement: take the staged entries, number them after the head
    // in arrival order, write them and their audience index, move the
    // head. The bytes never leave the database.
    let number = prepared
        .get(
            tx,
            &format!(
                "WITH d AS (DELETE FROM feed_pending RETURNING *),
                 n AS (SELECT d.*, (SELECT seq FROM feed_head WHERE id = 1)
                                   + row_number() OVER (ORDER BY d.id) AS seq
                       FROM d),
                 f AS (INSERT INTO feed (seq, record_id, kind, author, station, origin_device,
                                         changes, received_at, pending_id)
                       SELECT seq, record_id, kind, author, station, origin_device, changes,
                              received_at, id FROM n
                       RETURNING seq, record_id, author, station),
                 i AS ({}),
                 h AS (UPDATE feed_head SET seq = seq + (SELECT count(*) FROM d) WHERE id = 1)
                 SELECT id, seq FROM n",
                super::records::INDEX_ENTRY
            ),
        )
        .map_err(backend)?;
    let numbered = tx
        .query(&number, &[])
        .map_err(backend)?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<Result<HashMap<i64, i64>, StorageError>>()?;
    Ok((numbered, events.len()))
}

/// Numbers and chains everything staged, inside a transaction that holds
/// (or may take) record rows: an erasure, before it deletes a record's
/// entries. Takes the heads for the rest of the transaction.
pub(super) fn run_in(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
) -> Result<(), StorageError> {
    lock_heads(tx, prepared)?;
    run_locked(tx, prepared).map(|_| ())
}

/// After the transaction that staged `staged` has committed: returns once
/// its entries are numbered (and its events chained), running the
/// sequencing itself unless a run that committed meanwhile did; the
/// positions of `staged.feed`, in order. An entry numbered and then erased
/// before its writer read it back (an erasure of the record in between)
/// reads as position 0.
///
/// With `staged.feed` empty this waits for any staged audit event, the
/// writer's among them (a run after the writer's commit sees them all).
pub(super) fn settle(store: &PostgresStorage, staged: &Staged) -> Result<Vec<u64>, StorageError> {
    store.transact(|tx, prepared| {
        lock_heads(tx, prepared)?;
        // Anything of ours still staged? Asked after the lock, so a run
        // that committed while we waited is seen. Our feed entries and
        // events were staged by one commit: all of them are numbered, or
        // none. Without feed entries, any staged event may be ours.
        let waiting = prepared
            .get(
                tx,
                "SELECT CASE WHEN cardinality($1::bigint[]) > 0
                             THEN EXISTS (SELECT 1 FROM feed_pending WHERE id = ANY($1))
                             ELSE EXISTS (SELECT 1 FROM audit_pending) END",
            )
            .map_err(backend)?;
        let waiting: bool = col(
            &tx.query_one(&waiting, &[&staged.feed]).map_err(backend)?,
            0,
        )?;
        if waiting {
            let (numbered, _) = run_locked(tx, prepared)?;
            let seqs = staged
                .feed
                .iter()
                .map(|id| numbered.get(id).map_or(0, |s| *s as u64))
                .collect();
            return Ok((seqs, true));
        }
        // Numbered by another writer's run: read the positions, commit
        // nothing (no flush).
        let mut seqs = vec![0; staged.feed.len()];
        if !staged.feed.is_empty() {
            let positions = prepared
                .get(
                    tx,
                    "SELECT pending_id, seq FROM feed
                     WHERE record_id = ANY($1) AND pending_id = ANY($2)",
                )
                .map_err(backend)?;
            for r in tx
                .query(&positions, &[&staged.records, &staged.feed])
                .map_err(backend)?
            {
                let id: i64 = col(&r, 0)?;
                if let Some(at) = staged.feed.iter().position(|s| *s == id) {
                    seqs[at] = col::<i64>(&r, 1)? as u64;
                }
            }
        }
        Ok((seqs, false))
    })
}

/// Numbers and chains whatever is staged, if anything: at start-up and
/// from the [`Sweeper`] (rows a crashed writer left).
pub(super) fn sweep(store: &PostgresStorage) -> Result<(), StorageError> {
    store.transact(|tx, prepared| {
        lock_heads(tx, prepared)?;
        let (numbered, chained) = run_locked(tx, prepared)?;
        Ok(((), !numbered.is_empty() || chained > 0))
    })
}

/// How long staged rows may wait before the sweeper numbers them: a
/// writer's own run numbers them within a flush or two, so rows that wait
/// a whole period were left by a writer that stopped (crashed) between
/// its commit and its run.
pub(crate) const SWEEP_PERIOD: Duration = Duration::from_secs(5);

/// A thread per store that numbers staged rows left waiting: every
/// [`SWEEP_PERIOD`] it reads the oldest staged ids, and runs a sweep when
/// they are the ones it saw the period before. Stopped (and joined) when
/// the store is dropped.
pub(super) struct Sweeper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sweeper {
    pub(super) fn start(store: PostgresStorage, period: Duration) -> Result<Self, StorageError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pg-sweeper".into())
            .spawn(move || {
                let mut last: Option<(Option<i64>, Option<i64>)> = None;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    let oldest = store.read(|c| {
                        let r = c
                            .query_one(
                                "SELECT (SELECT min(id) FROM feed_pending),
                                        (SELECT min(id) FROM audit_pending)",
                                &[],
                            )
                            .map_err(backend)?;
                        Ok((col(&r, 0)?, col(&r, 1)?))
                    });
                    match oldest {
                        Ok((None, None)) => last = None,
                        Ok(oldest) if last == Some(oldest) => {
                            if let Err(e) = sweep(&store) {
                                tracing::warn!(error = %e, "numbering staged feed entries failed");
                            }
                            last = None;
                        }
                        Ok(oldest) => last = Some(oldest),
                        Err(e) => tracing::warn!(error = %e, "reading staged feed entries failed"),
                    }
                }
            })
            .map_err(|e| StorageError::backend_from(Some("starting the sweeper"), e))?;
        Ok(Sweeper {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the sweeper thread panicked");
        }
    }
}

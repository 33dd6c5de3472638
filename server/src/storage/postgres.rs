//! The PostgreSQL backend: one database shared by several server instances
//! (and the admin command line), for a force that outgrows one host.
//!
//! **Driver: the synchronous `postgres` client with an `r2d2` pool.** The
//! storage traits are synchronous and every caller already runs them on a
//! blocking thread (`spawn_blocking`), so a blocking client fits them as
//! they are; an async driver (`tokio-postgres`, `sqlx`) would mean making
//! every trait method async, or `block_on` inside blocking threads, for no
//! gain at the pool sizes a server uses. Neither crate links SQLite.
//!
//! **SQL that a distributed PostgreSQL-compatible database can also run**
//! (CockroachDB, YugabyteDB; only PostgreSQL is tested, see README): no
//! advisory locks, no `LISTEN/NOTIFY`, no sequence relied on for order.
//! Everything that must be serialised takes a row lock inside the
//! transaction that needs it:
//!
//! - **Feed positions** come from one counter row, `feed_head`, moved by a
//!   sequencing run that holds its row lock until it commits
//!   ([`sequencer`]): a write commits its entry staged, unnumbered, and a
//!   short run then numbers every committed staged entry at once, so the
//!   next run numbers only after this one committed: entries become
//!   visible strictly in order, and a reader never passes a position a
//!   slower transaction would fill later (the gap a `SEQUENCE` leaves when
//!   101 commits before 100). No write holds the lock through its own
//!   commit's flush; one run's flush serves every write staged before it.
//! - **The audit chain** is chained by the same run, under the row lock
//!   of `audit_head`, from events the writes staged.
//! - **Schema migrations** run in one transaction holding the row lock of
//!   `schema_version` (PostgreSQL's DDL is transactional), so instances
//!   starting at once migrate once ([`schema`]).
//! - Locks are always taken in one order (record rows, then the two heads
//!   together), and a transaction that still fails to serialise
//!   (deadlock, or a distributed database's restart error `40001`) is run
//!   again whole, a few times ([`PostgresStorage::write`]).
//!
//! Times that are queried (the encounter time of retention and the desk's
//! lookup) are `timestamptz` beside the exact text the rows carry; the
//! audit trail keeps the exact text it hashed (`at`, `detail`), never a
//! re-rendered `timestamptz` or `jsonb`, so a chain copied here still
//! verifies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::error::SqlState;
use postgres::{NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;

use super::{
    Audience, AuditOf, DeviceRow, FeedRow, FeedSlice, Held, NewAuditEvent, OfficerRow, Principal,
    RecordCommit, RecordIndex, RecordVersion, RevokeReason, Storage, StorageError, StoredRecord,
};

mod audit;
pub(crate) mod copy;
mod figures;
mod identity;
mod import;
#[cfg(test)]
mod instances;
mod pool;
pub(crate) mod records;
pub(crate) mod retention;
pub(crate) mod schema;
mod sequencer;
pub mod testdb;
pub(crate) mod wait;

pub use import::{ImportReport, import_sqlite};
#[cfg(test)]
mod tests;

/// The environment variable (and `--database-url` flag) naming the
/// database: `postgres://user:password@host:port/database`.
pub const DATABASE_URL_ENV: &str = "POCKETBOOK_DATABASE_URL";

/// Connections each instance keeps at most. A request holds one for one
/// storage call; the HTTP layer's own bound on concurrent requests (64 by
/// default) queues the rest, and a PostgreSQL server allows 100
/// connections by default, so a few instances fit.
pub const POOL_SIZE: u32 = 16;

/// How many times a transaction that failed to serialise is run again.
const RETRIES: usize = 8;

type Pool = r2d2::Pool<pool::Manager>;
type Conn = r2d2::PooledConnection<pool::Manager>;

/// The PostgreSQL backend.
///
/// Its methods block, like every storage call: call them off the async
/// runtime (`spawn_blocking`). Dropping it is safe anywhere (see `Drop`).
pub struct PostgresStorage {
    /// `None` only while it is being dropped.
    pool: Option<Pool>,
    /// Numbers staged rows a crashed writer left (`None` in the sweeper's
    /// own handle on the pool).
    sweeper: Option<sequencer::Sweeper>,
}

impl Drop for PostgresStorage {
    /// The synchronous client closes a connection by blocking on a runtime
    /// of its own, which panics on a thread that drives an async runtime
    /// (a server dropping its state at shutdown): the pool is dropped on a
    /// thread of its own.
    fn drop(&mut self) {
        // The sweeper first: it holds a handle on the pool.
        drop(self.sweeper.take());
        if let Some(pool) = self.pool.take() {
            let closing = std::thread::spawn(move || drop(pool));
            if closing.join().is_err() {
                tracing::warn!("closing the PostgreSQL connections failed");
            }
        }
    }
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").finish_non_exhaustive()
    }
}

/// A driver error as a storage error: no room left (`53100 disk_full`) is
/// [`StorageError::Full`], everything else a backend failure.
fn backend(e: postgres::Error) -> StorageError {
    if e.code() == Some(&SqlState::DISK_FULL) {
        return StorageError::Full;
    }
    // The SQLSTATE and the object it names, never the message, which may
    // quote a value.
    let context = e.as_db_error().map(|db| {
        let object = db.constraint().or(db.table()).unwrap_or("-");
        format!("PostgreSQL error {} ({object})", db.code().code())
    });
    StorageError::backend_from(context.as_deref(), e)
}

/// Whether a failed transaction may succeed when run again: a
/// serialisation failure or a deadlock, never a refused value.
fn retryable(e: &StorageError) -> bool {
    use std::error::Error;
    let StorageError::Backend(inner) = e else {
        return false;
    };
    inner
        .source()
        .and_then(|s| s.downcast_ref::<postgres::Error>())
        .and_then(|p| p.code())
        .is_some_and(|c| {
            c == &SqlState::T_R_SERIALIZATION_FAILURE || c == &SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// A column of a row, or a backend error naming the column (never its value).
fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    index: usize,
) -> Result<T, StorageError> {
    row.try_get(index)
        .map_err(|e| StorageError::backend_from(Some(&format!("column {index}")), e))
}

/// A text column read back into one of the server's vocabularies; a
/// spelling this server does not know is a failure, not a guess.
fn vocabulary<T>(
    what: &str,
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StorageError> {
    parse(text)
        .ok_or_else(|| StorageError::backend(format!("unknown {what} {text:?} in the store")))
}

/// An instant the server wrote (RFC 3339) as a `timestamptz` value.
fn instant(text: &str) -> Result<DateTime<Utc>, StorageError> {
    crate::clock::lenient_time(text)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| StorageError::backend("a time is not an RFC 3339 time"))
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://...`) and creates or
    /// migrates its schema; safe when several instances start at once. A
    /// database that does not answer yet is waited for, up to
    /// [`wait::CONNECT_WAIT`].
    pub fn open(url: &str) -> Result<Self, StorageError> {
        Self::open_waiting(url, wait::CONNECT_WAIT)
    }

    /// [`Self::open`], waiting up to `wait` for the database to answer.
    pub fn open_waiting(url: &str, wait: Duration) -> Result<Self, StorageError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|_| StorageError::backend("the database URL is not a postgres:// URL"))?;
        wait::until_reachable(&config, wait)?;
        Self::open_config(config, POOL_SIZE)
    }

    /// Connects with a parsed configuration and at most `pool_size`
    /// connections, then creates or migrates the schema.
    pub fn open_config(config: postgres::Config, pool_size: u32) -> Result<Self, StorageError> {
        let manager = pool::Manager(PostgresConnectionManager::new(config, NoTls));
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            // A broken connection fails one call and is dropped
            // (`has_broken`); a check on every checkout would cost a round
            // trip per storage call.
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| StorageError::backend_from(Some("connecting to PostgreSQL"), e))?;
        let mut store = PostgresStorage {
            pool: Some(pool.clone()),
            sweeper: None,
        };
        schema::migrate(&mut store.conn()?.client)?;
        // What a writer that stopped between its commit and its sequencing
        // run left staged is numbered now, and later by the sweeper.
        sequencer::sweep(&store)?;
        let handle = PostgresStorage {
            pool: Some(pool),
            sweeper: None,
        };
        store.sweeper = Some(sequencer::Sweeper::start(handle, sequencer::SWEEP_PERIOD)?);
        Ok(store)
    }

    fn conn(&self) -> Result<Conn, StorageError> {
        self.pool
            .as_ref()
            .ok_or_else(|| StorageError::backend("the store is closed"))?
            .get()
            .map_err(|e| StorageError::backend_from(Some("no PostgreSQL connection"), e))
    }

    /// Runs `work` in one transaction and commits it; an error rolls
    /// everything back. A transaction that failed to serialise (deadlock,
    /// a distributed database's restart) is run again whole.
    fn write<T>(
        &self,
        mut work: impl FnMut(&mut Transaction<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.write_prepared(|tx, _| work(tx))
    }

    /// [`Self::write`], with the connection's prepared statements at hand
    /// (for the hot paths: [`pool`]).
    fn write_prepared<T>(
        &self,
        mut work: impl FnMut(&mut Transaction<'_>, &mut pool::Statements) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.transact(|tx, prepared| Ok((work(tx, prepared)?, true)))
    }

    /// [`Self::write_prepared`] for a write that stages audit events
    /// ([`audit::stage_in`]): returns once they are chained
    /// ([`sequencer::settle`]).
    fn write_audited<T>(
        &self,
        work: impl FnMut(&mut Transaction<'_>, &mut pool::Statements) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let value = self.write_prepared(work)?;
        sequencer::settle(self, &sequencer::Staged::default())?;
        Ok(value)
    }

    /// Runs `work` in one transaction, which it ends: committed when it
    /// answers `true` beside its value, rolled back (no flush) when
    /// `false` or on an error. A transaction that failed to serialise is
    /// run again whole, up to [`RETRIES`] times.
    fn transact<T>(
        &self,
        mut work: impl FnMut(
            &mut Transaction<'_>,
            &mut pool::Statements,
        ) -> Result<(T, bool), StorageError>,
    ) -> Result<T, StorageError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.conn()?;
            let pool::Connection { client, statements } = &mut *conn;
            let result = (|| {
                let mut tx = client.transaction().map_err(backend)?;
                let (value, commit) = work(&mut tx, statements)?;
                if commit {
                    tx.commit().map_err(backend)?;
                } else {
                    tx.rollback().map_err(backend)?;
                }
                Ok(value)
            })();
            match result {
                Err(e) if attempt < RETRIES && retryable(&e) => continue,
                other => return other,
            }
        }
    }

    /// Runs one read (or one single-statement write) on a pooled connection.
    fn read<T>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        work(&mut self.conn()?.client)
    }

    /// Runs one hot-path query through the connection's prepared
    /// statement for `sql` ([`pool`]): its rows.
    fn query_prepared(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StorageError> {
        self.conn()?.query(sql, params).map_err(backend)
    }
}

impl Storage for PostgresStorage {
    fn ping(&self) -> Result<(), StorageError> {
        self.read(|c| c.simple_query("SELECT 1").map(|_| ()).map_err(backend))
    }

    fn add_officer(
        &self,
        officer: &OfficerRow,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::add_officer(self, officer, at, events)
    }

    fn officer(&self, shoulder_number: &str) -> Result<Option<OfficerRow>, StorageError> {
        identity::officer(self, shoulder_number)
    }

    fn officers(&self) -> Result<Vec<OfficerRow>, StorageError> {
        identity::officers(self)
    }

    fn deactivate_officer(
        &self,
        shoulder_number: &str,
        at: &str,
        events: AuditOf<'_, [String]>,
    ) -> Result<Vec<String>, StorageError> {
        identity::deactivate_officer(self, shoulder_number, at, events)
    }

    fn add_enrolment_code(
        &self,
        code_hash: &[u8],
        officer: &str,
        expires_at: i64,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::add_enrolment_code(self, code_hash, officer, expires_at, at, events)
    }

    fn redeem_enrolment_code(
        &self,
        code_hash: &[u8],
        now: i64,
        device: &DeviceRow,
        token_hash: &[u8],
        at: &str,
        events: AuditOf<'_, OfficerRow>,
    ) -> Result<OfficerRow, StorageError> {
        identity::redeem_enrolment_code(self, code_hash, now, device, token_hash, at, events)
    }

    fn principal(&self, token_hash: &[u8]) -> Result<Option<Principal>, StorageError> {
        identity::principal(self, token_hash)
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError> {
        identity::device(self, id)
    }

    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError> {
        identity::devices(self)
    }

    fn revoke_device(
        &self,
        id: &str,
        reason: RevokeReason,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::revoke_device(self, id, reason, at, events)
    }

    fn request_retire(
        &self,
        id: &str,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::request_retire(self, id, at, events)
    }

    fn touch_device(&self, device_id: &str, at: &str) -> Result<(), StorageError> {
        identity::touch_device(self, device_id, at)
    }

    fn record(&self, id: &str) -> Result<Option<StoredRecord>, StorageError> {
        records::record(self, id)
    }

    fn record_or_tombstone(&self, id: &str) -> Result<Option<Held>, StorageError> {
        records::record_or_tombstone(self, id)
    }

    fn commit_record(&self, commit: &RecordCommit) -> Result<u64, StorageError> {
        records::commit_record(self, commit)
    }

    fn commit_records(
        &self,
        commits: &[RecordCommit],
    ) -> Result<Vec<Result<u64, StorageError>>, StorageError> {
        records::commit_records(self, commits)
    }

    fn records(&self) -> Result<Vec<RecordIndex>, StorageError> {
        records::records(self)
    }

    fn stations_holding(
        &self,
        kinds: &[pocketbook_core::model::RecordKind],
    ) -> Result<Vec<String>, StorageError> {
        records::stations_holding(self, kinds)
    }

    fn record_versions(
        &self,
        station: &str,
        kinds: &[pocketbook_core::model::RecordKind],
    ) -> Result<Vec<RecordVersion>, StorageError> {
        records::record_versions(self, station, kinds)
    }

    fn records_by_id(&self, ids: &[String]) -> Result<Vec<StoredRecord>, StorageError> {
        records::records_by_id(self, ids)
    }

    fn feed_window(
        &self,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<FeedRow>, StorageError> {
        records::feed_window(self, cursor, limit, max_bytes)
    }

    fn feed_for(
        &self,
        audience: &[Audience],
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FeedSlice, StorageError> {
        records::feed_for(self, audience, cursor, limit, max_bytes)
    }
}

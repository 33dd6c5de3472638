//! The Pledge's promises on the server: computed from the synced records
//! with the core's one evaluation (`pocketbook_core::pledge::evaluate`,
//! the same the handsets run), so the station's overdue list and a
//! handset never disagree about a promise.
//!
//! - [`overdue`]: a station's overdue promises, for supervisors (`admin
//!   promises overdue --station S`): record ids, references and shoulder
//!   numbers, no record content; audited (`promises-listed`, ids only).
//! - [`overdue_counts`] and [`gauge_schedule`]: the number of overdue
//!   promises per station and promise, refreshed every
//!   [`GAUGES_EVERY`] into the Prometheus gauge
//!   `pocketbook_promises_overdue{station, promise}` (no person, record or
//!   officer in any label). A count decodes only the records that changed
//!   since the last one ([`GaugeMemo`]): a record's promises and due times
//!   depend on the record alone, overdue on the time alone. It reads only
//!   ids and versions from storage, station by station, and fetches the
//!   snapshots of the records that changed, in bounded batches.
//!
//! Only scene attendance and home burglary records hold promises; every
//! one of a station's is counted, since a promise (a victim's next update)
//! can stay open for as long as the record is kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::{Record, RecordKind};
use pocketbook_core::pledge::{PromiseId, PromiseStatus, evaluate, open_status};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::json;

use crate::audit::{self, Action};
use crate::clock::{Clock, stamp};
use crate::metrics::PromiseLabels;
use crate::storage::{RECORDS_PER_READ, Storage, StorageError, StoredRecord};

/// The kinds that hold promises.
const PROMISE_KINDS: [RecordKind; 2] = [RecordKind::SceneAttendance, RecordKind::HomeBurglary];
/// Every record time lies in between.
const EARLIEST: &str = "1970-01-01T00:00:00Z";
const LATEST: &str = "9999-12-31T23:59:59Z";

/// How often the overdue gauges are counted again.
pub const GAUGES_EVERY: Duration = Duration::from_secs(60);

/// One overdue promise: which record, whose, and since when (no content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverduePromise {
    pub record_id: String,
    pub reference: String,
    pub kind: RecordKind,
    /// The officer who recorded it (shoulder number).
    pub officer: String,
    /// e.g. `domestic violence contact`.
    pub promise: String,
    /// The clause of `docs/domain/promises.md`, e.g. `P6`.
    pub clause: String,
    /// For victim updates, which interval (0 for the first).
    pub occurrence: u32,
    pub started_at: String,
    pub due_at: String,
}

/// A stored record's body, or `None` (logged by id) when it does not decode.
fn decoded(stored: &StoredRecord) -> Option<Record> {
    match RecordDoc::load(&stored.snapshot, automerge::ActorId::random())
        .and_then(|doc| doc.record_in_one_walk())
    {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::warn!(record = %stored.index.id, error = %e, "promises not read");
            None
        }
    }
}

/// A station's promise-holding records, decoded (one that does not decode
/// is left out, and logged by id).
fn records_of(
    storage: &dyn Storage,
    station: &str,
) -> Result<Vec<(StoredRecord, Record)>, StorageError> {
    Ok(storage
        .records_at_station(station, &PROMISE_KINDS, EARLIEST, LATEST)?
        .into_iter()
        .filter_map(|stored| decoded(&stored).map(|record| (stored, record)))
        .collect())
}

/// A station's promises overdue at `now`, soonest due first, without
/// auditing (the gauges count them).
pub fn overdue_at(
    storage: &dyn Storage,
    station: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OverduePromise>, StorageError> {
    let mut out = Vec::new();
    for (stored, record) in records_of(storage, station)? {
        for state in evaluate(&record.body, now) {
            if state.status != PromiseStatus::Overdue {
                continue;
            }
            let Some(due) = state.due_at else { continue };
            out.push(OverduePromise {
                record_id: stored.index.id.clone(),
                reference: stored.index.reference.clone(),
                kind: stored.index.kind,
                officer: stored.index.author.clone(),
                promise: state.promise.as_str().to_string(),
                clause: state.clause.to_string(),
                occurrence: state.occurrence,
                started_at: stamp(state.started_at),
                due_at: stamp(due),
            });
        }
    }
    out.sort_by(|a, b| (&a.due_at, &a.record_id).cmp(&(&b.due_at, &b.record_id)));
    Ok(out)
}

/// A station's overdue promises for a supervisor, audited as
/// `promises-listed` by `actor` (the station, the count and the record ids).
pub fn overdue(
    storage: &dyn Storage,
    station: &str,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Vec<OverduePromise>, StorageError> {
    let listed = overdue_at(storage, station, now)?;
    let records: BTreeSet<&str> = listed.iter().map(|p| p.record_id.as_str()).collect();
    storage.append_audit(
        &stamp(now),
        &[audit::event(
            actor,
            Action::PromisesListed,
            None,
            json!({
                "station": station,
                "overdue": listed.len(),
                "records": records,
            }),
        )],
    )?;
    Ok(listed)
}

/// A record's open promises that have a due time, as read at one version
/// of the record: (promise, started at, due at).
///
/// Which promises a record holds, when each started and when it falls due
/// depend only on the record ([`evaluate`]); whether an open one is
/// overdue depends only on the time ([`open_status`]). So the terms read
/// at a version stay true until the record changes, and a count reads
/// again only the records that changed since the last one.
struct OpenTerms {
    version: i64,
    terms: Vec<(PromiseId, DateTime<Utc>, DateTime<Utc>)>,
}

impl OpenTerms {
    /// The terms of `stored` (none when it does not decode: it is logged
    /// once per version, not at every count).
    fn read(stored: &StoredRecord, now: DateTime<Utc>) -> OpenTerms {
        let terms = decoded(stored).map_or_else(Vec::new, |record| {
            evaluate(&record.body, now)
                .into_iter()
                .filter(|state| state.status.is_open())
                .filter_map(|state| Some((state.promise, state.started_at, state.due_at?)))
                .collect()
        });
        OpenTerms {
            version: stored.version,
            terms,
        }
    }
}

/// What [`overdue_counts`] keeps between counts: the open terms of every
/// promise-holding record, by id, with the version they were read at. No
/// record content: promise names and times only.
#[derive(Default)]
pub struct GaugeMemo {
    records: HashMap<String, OpenTerms>,
    /// How many records the last count decoded.
    decoded: usize,
    /// How many snapshots the last count fetched from storage.
    fetched: usize,
}

impl GaugeMemo {
    /// How many records the last count decoded (the others were kept).
    pub fn decoded_last_count(&self) -> usize {
        self.decoded
    }

    /// How many record snapshots the last count fetched from storage (the
    /// records [`Storage::records_by_id`] returned): only those of records
    /// new or changed since the count before.
    pub fn fetched_last_count(&self) -> usize {
        self.fetched
    }

    /// How many records the memo holds terms for.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Overdue promises at `now` per station and promise, every promise of
/// every station with records listed (zeros included). Records whose
/// version is the one in `memo` are not read again: each station's
/// records are listed by id and version only
/// ([`Storage::record_versions`]), and only the snapshots of those that
/// changed are fetched, [`RECORDS_PER_READ`] at a time
/// ([`Storage::records_by_id`]).
pub fn overdue_counts(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    memo: &mut GaugeMemo,
) -> Result<BTreeMap<(String, &'static str), u64>, StorageError> {
    let mut counts = BTreeMap::new();
    let mut read = HashMap::new();
    memo.decoded = 0;
    memo.fetched = 0;
    for station in storage.stations_holding(&PROMISE_KINDS)? {
        for id in PromiseId::ALL {
            counts.insert((station.clone(), id.as_str()), 0);
        }
        let mut tally = |terms: &OpenTerms| {
            for (promise, started_at, due_at) in &terms.terms {
                if open_status(*started_at, *due_at, now) == PromiseStatus::Overdue {
                    *counts
                        .entry((station.clone(), promise.as_str()))
                        .or_insert(0) += 1;
                }
            }
        };
        let mut changed = Vec::new();
        for listed in storage.record_versions(&station, &PROMISE_KINDS)? {
            match memo.records.remove(&listed.id) {
                Some(kept) if kept.version == listed.version => {
                    tally(&kept);
                    read.insert(listed.id, kept);
                }
                _ => changed.push(listed.id),
            }
        }
        // A record changed or erased between the listing and this read is
        // counted as read here (or not at all), as the next count would.
        for ids in changed.chunks(RECORDS_PER_READ) {
            for stored in storage.records_by_id(ids)? {
                memo.fetched += 1;
                memo.decoded += 1;
                let terms = OpenTerms::read(&stored, now);
                tally(&terms);
                read.insert(stored.index.id, terms);
            }
        }
    }
    // Records erased since the last count leave the memo.
    memo.records = read;
    Ok(counts)
}

/// Sets the gauges to `counts`: a station no longer counted drops out.
pub fn set_gauges(
    gauges: &Family<PromiseLabels, Gauge>,
    counts: &BTreeMap<(String, &'static str), u64>,
) {
    gauges.clear();
    for ((station, promise), n) in counts {
        gauges
            .get_or_create(&PromiseLabels {
                station: station.clone(),
                promise,
            })
            .set(i64::try_from(*n).unwrap_or(i64::MAX));
    }
}

/// Counts the overdue promises now and then every [`GAUGES_EVERY`], into
/// the gauges, off the async runtime; a failed count keeps the last one.
pub async fn gauge_schedule(
    storage: Arc<dyn Storage>,
    gauges: Family<PromiseLabels, Gauge>,
    clock: Clock,
) {
    let mut ticks = tokio::time::interval(GAUGES_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut memo = GaugeMemo::default();
    loop {
        ticks.tick().await;
        let storage = storage.clone();
        let now = clock.now();
        let counted = tokio::task::spawn_blocking(move || {
            let counts = overdue_counts(storage.as_ref(), now, &mut memo);
            (memo, counts)
        })
        .await;
        match counted {
            Ok((kept, counts)) => {
                memo = kept;
                match counts {
                    Ok(counts) => set_gauges(&gauges, &counts),
                    Err(e) => tracing::warn!(error = %e, "overdue promises not counted"),
                }
            }
            Err(e) => {
                memo = GaugeMemo::default();
                tracing::warn!(error = %e, "overdue promise count stopped");
            }
        }
    }
}

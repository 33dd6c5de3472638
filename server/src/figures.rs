//! Published figures: the Pledge's promise to *publish performance
//! figures*, per station and month (`docs/domain/published-figures.md`).
//!
//! It exists because the records hold the facts the public is promised
//! figures about (attendance targets, stop and search), and those records
//! are erased after their retention period: a month's figures must be
//! counted once, from the records as they were, and kept. So a month is
//! **frozen**: counted when it is first published (the first request after
//! [`Month::published_from`]) or, whichever comes first, just before
//! retention erases a record it counts ([`freeze_before_erasure`]). The
//! frozen month (exact counts and the anonymised search rows) is stored
//! through [`FiguresStore`]; published numbers are always read from it, so
//! they never change afterwards, and a record synced after its month was
//! frozen is not counted (the page says when the month was counted).
//!
//! The parts, top to bottom:
//! - [`Month`] (`figures/month.rs`): the London month, parsed and bounded;
//! - [`tally`]: the exact counts of one station's month, from decoded
//!   records (pure; never shown as they are);
//! - [`police_uk`]: the month's searches as anonymised rows in police.uk's
//!   stop-and-search format, and their CSV and JSON;
//! - [`publish`]: small-count suppression, shares, and the published
//!   figures of a station as JSON and CSV;
//! - [`page`]: the printable HTML page with its SVG charts and tables;
//! - [`view`]: the one way figures leave the server, in each format (the
//!   HTTP endpoints and `admin figures` both call it).
//!
//! Reading the records to freeze a month is the only read of records here,
//! always aggregate, and audited (`figures-frozen`, counts only).

pub mod page;
pub mod police_uk;
pub mod publish;
pub mod tally;
pub mod view;

mod month;
use month::london_midnight;
pub use month::{FIRST_MONTH, Month};

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::{Record, RecordBody, RecordKind};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action};
use crate::clock::{index_time, stamp};
pub use crate::storage::FiguresStore;
use crate::storage::{Storage, StorageError};
pub use police_uk::SearchRow;
pub use publish::StationFigures;
pub use tally::StationTally;

/// Days after a month ends before its figures are published (and frozen):
/// devices that were offline at the end of the month sync in that time.
pub const PUBLISH_AFTER_DAYS: i64 = 7;

/// The record kinds the figures count.
pub const COUNTED_KINDS: [RecordKind; 3] = [
    RecordKind::SceneAttendance,
    RecordKind::HomeBurglary,
    RecordKind::StopSearch,
];

/// Why figures could not be given. Every message is safe to show anyone.
#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    #[error("{0}")]
    BadMonth(String),
    #[error("{0}")]
    BadStation(String),
    #[error("{0}")]
    BadFormat(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("the figures for {month} are published on {from} (London), after the month has ended")]
    NotPublished { month: Month, from: String },
    #[error("no station {0:?} has officers or figures")]
    UnknownStation(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl FiguresError {
    /// The stable code (JSON `error`).
    pub fn code(&self) -> &'static str {
        match self {
            FiguresError::BadMonth(_) => "bad-month",
            FiguresError::BadStation(_) => "bad-station",
            FiguresError::BadFormat(_) => "bad-format",
            FiguresError::BadQuery(_) => "bad-query",
            FiguresError::NotPublished { .. } => "not-published",
            FiguresError::UnknownStation(_) => "unknown-station",
            FiguresError::Storage(_) => "unavailable",
        }
    }
}

/// Checks a station name as typed in a query or on the command line: 1 to
/// 120 printable characters.
pub fn check_station(text: &str) -> Result<String, FiguresError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 120 || trimmed.chars().any(char::is_control)
    {
        return Err(FiguresError::BadStation(
            "the station must be 1 to 120 printable characters".into(),
        ));
    }
    Ok(trimmed.to_string())
}

/// One month's figures as frozen: the exact counts of every station with a
/// counted record, and the anonymised search rows. Stored whole, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// When it was counted (RFC 3339 UTC).
    pub computed_at: String,
    /// Sorted by station.
    pub stations: Vec<StationTally>,
    /// The month's searches, anonymised ([`police_uk`]), in a fixed order.
    pub searches: Vec<SearchRow>,
}

impl FrozenMonth {
    pub fn station(&self, station: &str) -> Option<&StationTally> {
        self.stations.iter().find(|s| s.station == station)
    }

    pub fn station_names(&self) -> Vec<String> {
        self.stations.iter().map(|s| s.station.clone()).collect()
    }
}

/// A station's counted records of the month, decoded a London day at a
/// time (so no more than a day's documents are held at once), without
/// their notebooks and scene actions, which no figure reads.
fn station_records(
    storage: &dyn Storage,
    station: &str,
    month: Month,
) -> Result<Vec<Record>, StorageError> {
    let mut records = Vec::new();
    let mut day = month.first_day();
    while Month::of_date(day) == month {
        let next = day.succ_opt().unwrap_or(day);
        let (from, to) = (
            index_time(london_midnight(day)),
            index_time(london_midnight(next)),
        );
        for stored in storage.records_at_station(station, &COUNTED_KINDS, &from, &to)? {
            // A record the server accepted always decodes; one that does not
            // is left out rather than stopping the month.
            match RecordDoc::load(&stored.snapshot, automerge::ActorId::random())
                .and_then(|doc| doc.record())
            {
                Ok(mut record) => {
                    slim(&mut record);
                    records.push(record);
                }
                Err(e) => {
                    tracing::warn!(record = %stored.index.id, error = %e, "record not counted")
                }
            }
        }
        if next == day {
            break;
        }
        day = next;
    }
    Ok(records)
}

/// Drops what no figure reads: the notebook and the scene actions.
fn slim(record: &mut Record) {
    match &mut record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
            scene.notes.clear();
            scene.actions.clear();
        }
        RecordBody::StopSearch { search } => search.notes.clear(),
        RecordBody::StopAccount { account } => account.notes.clear(),
    }
}

/// Counts a month from the stored records, now (nothing is stored).
pub fn count_month(
    storage: &dyn Storage,
    month: Month,
    now: DateTime<Utc>,
) -> Result<FrozenMonth, StorageError> {
    let (from, to) = month.bounds();
    let stations: BTreeSet<String> = storage
        .records()?
        .into_iter()
        .filter(|r| COUNTED_KINDS.contains(&r.kind) && r.occurred_at >= from && r.occurred_at < to)
        .map(|r| r.station)
        .collect();
    let mut tallies = Vec::new();
    let mut searches = Vec::new();
    for station in stations {
        let records = station_records(storage, &station, month)?;
        searches.extend(police_uk::rows(&station, &records));
        tallies.push(tally::count(&station, &records, now));
    }
    police_uk::sort(&mut searches);
    Ok(FrozenMonth {
        month: month.to_string(),
        computed_at: stamp(now),
        stations: tallies,
        searches,
    })
}

fn freeze(
    storage: &dyn Storage,
    kept: &dyn FiguresStore,
    month: Month,
    now: DateTime<Utc>,
    actor: &str,
    why: &str,
) -> Result<FrozenMonth, StorageError> {
    let counted = count_month(storage, month, now)?;
    let body = serde_json::to_string(&counted)
        .map_err(|e| StorageError::backend_from(Some("figures"), e))?;
    let event = audit::event(
        actor,
        Action::FiguresFrozen,
        None,
        serde_json::json!({
            "month": counted.month,
            "why": why,
            "stations": counted.stations.len(),
            "records": counted.stations.iter().map(StationTally::records).sum::<u64>(),
        }),
    );
    let stored = kept.freeze_figures(&counted.month, &stamp(now), &body, &[event])?;
    decode(&stored)
}

fn decode(body: &str) -> Result<FrozenMonth, StorageError> {
    serde_json::from_str(body).map_err(|e| StorageError::backend_from(Some("frozen figures"), e))
}

/// The published figures of `month` at `now`: the frozen month, frozen now
/// (by `actor`) if this is its first publication. Refused before the
/// month is published.
pub fn published(
    storage: &dyn Storage,
    kept: &dyn FiguresStore,
    month: Month,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<FrozenMonth, FiguresError> {
    if let Some(body) = kept.frozen_figures(&month.to_string())? {
        return Ok(decode(&body)?);
    }
    if now < month.published_from() {
        return Err(FiguresError::NotPublished {
            month,
            from: month
                .published_from()
                .with_timezone(&London)
                .format("%-d %B %Y")
                .to_string(),
        });
    }
    Ok(freeze(storage, kept, month, now, actor, "published")?)
}

/// Before retention erases records: freezes every month in which one of
/// `due` (their indexed times) occurred and which is not frozen yet,
/// published or not, so no published number can change by the erasure.
/// Returns the months frozen now.
pub fn freeze_before_erasure(
    storage: &dyn Storage,
    kept: &dyn FiguresStore,
    due: &[String],
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Vec<Month>, StorageError> {
    let months: BTreeSet<Month> = due.iter().filter_map(|t| Month::of_index_time(t)).collect();
    let mut frozen = Vec::new();
    for month in months {
        if kept.frozen_figures(&month.to_string())?.is_none() {
            freeze(storage, kept, month, now, actor, "retention")?;
            frozen.push(month);
        }
    }
    Ok(frozen)
}

/// The newest published month, frozen now (by `actor`) if it is not yet:
/// the scheduled retention run calls this, so the first visitor after a
/// month's publication is not the one who waits for it to be counted.
/// Returns the month if it was frozen now.
pub fn freeze_latest(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Option<Month>, StorageError> {
    let month = Month::latest_published(now);
    if storage.frozen_figures(&month.to_string())?.is_some() {
        return Ok(None);
    }
    freeze(storage, storage, month, now, actor, "published")?;
    Ok(Some(month))
}

/// The stations a figure may be asked for: every officer's station and
/// every station with figures that month. `Err(UnknownStation)` otherwise,
/// so a typo is told apart from a station with nothing counted.
pub fn known_station(
    storage: &dyn Storage,
    frozen: &FrozenMonth,
    station: &str,
) -> Result<(), FiguresError> {
    if frozen.station(station).is_some() || storage.officers()?.iter().any(|o| o.station == station)
    {
        return Ok(());
    }
    Err(FiguresError::UnknownStation(station.to_string()))
}

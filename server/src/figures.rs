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

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::London;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::RecordKind;
use serde::{Deserialize, Serialize};

use crate::clock::{index_time, stamp};
pub use crate::storage::FiguresStore;
use crate::storage::{NewAuditEvent, Storage, StorageError};
pub use police_uk::SearchRow;
pub use publish::StationFigures;
pub use tally::StationTally;

/// Days after a month ends before its figures are published (and frozen):
/// devices that were offline at the end of the month sync in that time.
pub const PUBLISH_AFTER_DAYS: i64 = 7;

/// The earliest month figures are asked for (a bound on the input, well
/// before any record this server can hold).
pub const FIRST_MONTH: Month = Month {
    year: 2000,
    month: 1,
};

/// The audit action of a month's freezing.
pub const FROZEN_ACTION: &str = "figures-frozen";

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

/// A calendar month in London, the unit figures are published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Parses exactly `YYYY-MM` (month 01 to 12, from [`FIRST_MONTH`] to
    /// 9999-12).
    pub fn parse(text: &str) -> Result<Month, FiguresError> {
        let bad = || {
            FiguresError::BadMonth(format!(
                "the month must be written YYYY-MM, for example 2026-11 (got {:?})",
                text.chars().take(20).collect::<String>()
            ))
        };
        let bytes = text.as_bytes();
        if bytes.len() != 7
            || bytes[4] != b'-'
            || !bytes[..4].iter().chain(&bytes[5..]).all(u8::is_ascii_digit)
        {
            return Err(bad());
        }
        let year: i32 = text[..4].parse().map_err(|_| bad())?;
        let month: u32 = text[5..].parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(FiguresError::BadMonth(format!(
                "there is no month {month:02}: the month must be 01 to 12"
            )));
        }
        let parsed = Month { year, month };
        if parsed < FIRST_MONTH {
            return Err(FiguresError::BadMonth(format!(
                "there are no figures before {FIRST_MONTH}"
            )));
        }
        Ok(parsed)
    }

    /// The London month an instant falls in.
    pub fn of(at: DateTime<Utc>) -> Month {
        let local = at.with_timezone(&London);
        Month {
            year: local.year(),
            month: local.month(),
        }
    }

    /// The London month of an indexed time (`None` if it is not one).
    pub fn of_index_time(text: &str) -> Option<Month> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Month::of(t.with_timezone(&Utc)))
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The instant the month starts in London (midnight exists on every
    /// London day: the clocks change at 1 am and 2 am).
    pub fn start(self) -> DateTime<Utc> {
        let midnight = self.first_day().and_time(chrono::NaiveTime::MIN);
        London
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// `[start, end)` in the store's indexed time form.
    pub fn bounds(self) -> (String, String) {
        (index_time(self.start()), index_time(self.next().start()))
    }

    /// When the month's figures are published: [`PUBLISH_AFTER_DAYS`]
    /// after it ends.
    pub fn published_from(self) -> DateTime<Utc> {
        self.next().start() + TimeDelta::days(PUBLISH_AFTER_DAYS)
    }

    /// The newest month published at `now`.
    pub fn latest_published(now: DateTime<Utc>) -> Month {
        let mut month = Month::of(now).previous();
        if now < month.published_from() {
            month = month.previous();
        }
        month
    }

    /// "November 2026".
    pub fn title(self) -> String {
        self.first_day().format("%B %Y").to_string()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
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
        let mut records = Vec::new();
        for stored in storage.records_at_station(&station, &COUNTED_KINDS, &from, &to)? {
            // A record the server accepted always decodes; one that does not
            // is left out rather than stopping the month.
            match RecordDoc::load(&stored.snapshot, automerge::ActorId::random())
                .and_then(|doc| doc.record())
            {
                Ok(record) => records.push(record),
                Err(e) => {
                    tracing::warn!(record = %stored.index.id, error = %e, "record not counted")
                }
            }
        }
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
    let event = NewAuditEvent {
        actor: actor.to_string(),
        action: FROZEN_ACTION.to_string(),
        record_id: None,
        detail: serde_json::json!({
            "month": counted.month,
            "why": why,
            "stations": counted.stations.len(),
            "records": counted.stations.iter().map(StationTally::records).sum::<u64>(),
        }),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_exactly_and_follow_london_time() {
        assert_eq!(Month::parse("2027-03").unwrap().to_string(), "2027-03");
        for bad in [
            "2027-3",
            "2027-13",
            "2027-00",
            "27-03",
            "2027/03",
            "2027-03 ",
            "",
            "１２３４-01",
            "1999-12",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad:?}");
        }
        // 00:30 on 1 April 2027 in BST is 23:30 UTC on 31 March: April.
        let m = Month::of("2027-03-31T23:30:00Z".parse().unwrap());
        assert_eq!(m.to_string(), "2027-04");
        // In winter London is UTC.
        let m = Month::of("2027-02-28T23:30:00Z".parse().unwrap());
        assert_eq!(m.to_string(), "2027-02");
        let (from, to) = Month::parse("2027-03").unwrap().bounds();
        assert_eq!(from, "2027-03-01T00:00:00Z");
        assert_eq!(to, "2027-03-31T23:00:00Z");
        let (from, to) = Month::parse("2027-10").unwrap().bounds();
        assert_eq!(from, "2027-09-30T23:00:00Z");
        assert_eq!(to, "2027-11-01T00:00:00Z");
        let now: DateTime<Utc> = "2027-04-07T23:00:00Z".parse().unwrap();
        assert_eq!(Month::latest_published(now).to_string(), "2027-03");
        let now: DateTime<Utc> = "2027-04-07T22:59:59Z".parse().unwrap();
        assert_eq!(Month::latest_published(now).to_string(), "2027-02");
    }
}

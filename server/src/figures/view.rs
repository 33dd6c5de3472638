//! The one way figures leave the server, in each format, for `GET
//! /figures`, `GET /figures/searches` and `admin figures`: the published
//! month (frozen on first publication), one station's figures or every
//! station's, as HTML, CSV or JSON, and the month's searches in police.uk's
//! format.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::page::{self, PageRequest};
use super::publish::{self, StationFigures};
use super::{FiguresError, FrozenMonth, Month, police_uk, published, tally};
use crate::storage::Storage;

/// How figures are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Csv,
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format, FiguresError> {
        match text {
            "html" => Ok(Format::Html),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(FiguresError::BadFormat(
                "the format must be html, csv or json".into(),
            )),
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// Figures written in one format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub format: Format,
    /// A download's file name (CSV and JSON).
    pub filename: Option<String>,
    pub body: String,
}

/// A name safe in a file name: letters, digits and `-`, the rest `_`.
fn file_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn filename(stem: &str, month: Month, station: Option<&str>, format: Format) -> Option<String> {
    (format != Format::Html).then(|| match station {
        Some(s) => format!("{stem}-{month}-{}.{}", file_part(s), format.extension()),
        None => format!("{stem}-{month}.{}", format.extension()),
    })
}

/// The stations to choose from: those with figures that month and every
/// officer's station.
pub fn stations(storage: &dyn Storage, frozen: &FrozenMonth) -> Result<Vec<String>, FiguresError> {
    let mut all: BTreeSet<String> = frozen.station_names().into_iter().collect();
    all.extend(storage.officers()?.into_iter().map(|o| o.station));
    Ok(all.into_iter().collect())
}

/// One station's published figures (zeros for a known station with nothing counted).
pub fn station_figures(
    storage: &dyn Storage,
    frozen: &FrozenMonth,
    station: &str,
) -> Result<StationFigures, FiguresError> {
    super::known_station(storage, frozen, station)?;
    let empty;
    let tally = match frozen.station(station) {
        Some(t) => t,
        None => {
            empty = tally::StationTally::empty(station);
            &empty
        }
    };
    Ok(publish::station_figures(
        &frozen.month,
        &frozen.computed_at,
        tally,
    ))
}

/// The figures of `month` for `station` (or every station), published at
/// `now` (frozen now by `actor` on first publication).
pub fn figures(
    storage: &dyn Storage,
    month: Month,
    station: Option<&str>,
    format: Format,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Rendered, FiguresError> {
    let frozen = published(storage, storage, month, now, actor)?;
    let title = month.title();
    let choices = stations(storage, &frozen)?;
    let one = station
        .map(|s| station_figures(storage, &frozen, s))
        .transpose()?;
    let all = match &one {
        Some(f) => vec![f.clone()],
        None => frozen
            .stations
            .iter()
            .map(|t| publish::station_figures(&frozen.month, &frozen.computed_at, t))
            .collect(),
    };
    let body = match format {
        Format::Html => {
            let request = PageRequest {
                month: &frozen.month,
                month_title: &title,
                station,
                stations: &choices,
            };
            match &one {
                Some(f) => page::figures_page(&request, f),
                None => page::choose_page(&request),
            }
        }
        Format::Csv => publish::csv(&all),
        Format::Json => match &one {
            Some(f) => to_json(f),
            None => to_json(&all),
        },
    };
    Ok(Rendered {
        format,
        filename: filename("figures", month, station, format),
        body,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
}

/// The month's searches (of `station`, or all) in police.uk's CSV or JSON.
pub fn searches(
    storage: &dyn Storage,
    month: Month,
    station: Option<&str>,
    format: Format,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Rendered, FiguresError> {
    if format == Format::Html {
        return Err(FiguresError::BadFormat(
            "the searches are downloaded as csv or json".into(),
        ));
    }
    let frozen = published(storage, storage, month, now, actor)?;
    if let Some(s) = station {
        super::known_station(storage, &frozen, s)?;
    }
    let rows: Vec<&police_uk::PoliceUkSearch> = frozen
        .searches
        .iter()
        .filter(|r| station.is_none_or(|s| r.station == s))
        .map(|r| &r.search)
        .collect();
    let body = match format {
        Format::Csv => police_uk::csv(&rows),
        _ => police_uk::json(&rows),
    };
    Ok(Rendered {
        format,
        filename: filename("stop-and-search", month, station, format),
        body,
    })
}

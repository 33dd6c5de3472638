//! The month's searches in police.uk's stop-and-search format and
//! vocabulary, column for column (`docs/domain/vocabularies.md`): a row per
//! search, protected by anonymisation rather than suppression, as police.uk's own
//! data is (`docs/domain/published-figures.md`):
//!
//! - the place is the centre of a [`GRID`]-degree grid square holding the
//!   recorded position, named "On or near" it, never the recorded
//!   coordinates or the street the officer typed; no position, no location;
//! - the time is the start of its hour (UTC);
//! - no name, shoulder number, reference, grounds, registration or note.
//!
//! The rows are made once, when a month is frozen, and kept with it.

use pocketbook_core::model::{Record, RecordBody, StopSearch};
use serde::{Deserialize, Serialize};

/// The grid square's side, in degrees of latitude and longitude (about
/// 1.1 km by 0.7 km in London).
pub const GRID: f64 = 0.01;

/// The police.uk bulk CSV header, in its order.
pub const CSV_HEADER: [&str; 15] = [
    "Type",
    "Date",
    "Part of a policing operation",
    "Policing operation",
    "Latitude",
    "Longitude",
    "Gender",
    "Age range",
    "Self-defined ethnicity",
    "Officer-defined ethnicity",
    "Legislation",
    "Object of search",
    "Outcome",
    "Outcome linked to object of search",
    "Removal of more than just outer clothing",
];

/// police.uk's `location.street`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Street {
    pub id: u64,
    pub name: String,
}

/// police.uk's `location`: an anonymised point (strings, as police.uk writes them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GridPoint {
    pub latitude: String,
    pub longitude: String,
    pub street: Street,
}

/// police.uk's `outcome_object`; `id` is null where police.uk's is not known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutcomeObject {
    pub id: Option<String>,
    pub name: String,
}

/// One search as police.uk publishes it (its JSON field names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PoliceUkSearch {
    /// Rounded to the start of the hour, `YYYY-MM-DDTHH:00:00+00:00`.
    pub datetime: String,
    #[serde(rename = "type")]
    pub search_type: String,
    pub involved_person: bool,
    pub operation: bool,
    pub operation_name: Option<String>,
    pub location: Option<GridPoint>,
    pub gender: Option<String>,
    pub age_range: Option<String>,
    pub self_defined_ethnicity: Option<String>,
    pub officer_defined_ethnicity: Option<String>,
    pub legislation: String,
    pub object_of_search: String,
    pub outcome: String,
    pub outcome_object: OutcomeObject,
    pub outcome_linked_to_object_of_search: Option<bool>,
    pub removal_of_more_than_outer_clothing: bool,
}

/// A published search with the station it belongs to (the station is not
/// a police.uk column; it selects a station's rows).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SearchRow {
    pub station: String,
    pub search: PoliceUkSearch,
}

/// The grid square of a position: its centre, written with three
/// decimals, and an id. Integer cells, so a position on a line between
/// squares always falls the same way.
pub fn snap(latitude: f64, longitude: f64) -> GridPoint {
    let cell = |degrees: f64| (degrees / GRID).floor() as i64;
    let (lat, lon) = (cell(latitude), cell(longitude));
    // The centre of cell n is (2n + 1) / 200 degrees.
    let centre = |n: i64| {
        let halves = 2 * n + 1; // in units of 0.005 degrees
        let sign = if halves < 0 { "-" } else { "" };
        let thousandths = halves.unsigned_abs() * 5;
        format!("{sign}{}.{:03}", thousandths / 1000, thousandths % 1000)
    };
    let (latitude, longitude) = (centre(lat), centre(lon));
    let id = (lat + 9_000) as u64 * 36_001 + (lon + 18_000) as u64;
    GridPoint {
        street: Street {
            id,
            name: format!("On or near {latitude}, {longitude}"),
        },
        latitude,
        longitude,
    }
}

/// The start of the hour of a record time, in UTC, as police.uk writes it.
pub fn round_time(text: &str) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(
        at.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:00:00+00:00")
            .to_string(),
    )
}

fn published(search: &StopSearch) -> Option<PoliceUkSearch> {
    let location = match (search.location.latitude, search.location.longitude) {
        (Some(lat), Some(lon)) => Some(snap(lat, lon)),
        _ => None,
    };
    Some(PoliceUkSearch {
        datetime: round_time(&search.datetime)?,
        search_type: search.search_type.as_str().into(),
        involved_person: !matches!(
            search.search_type,
            pocketbook_core::model::SearchType::Vehicle
        ),
        operation: search.operation(),
        operation_name: search.operation_name.clone(),
        location,
        gender: search.gender.map(|v| v.as_str().into()),
        age_range: search.age_range.map(|v| v.as_str().into()),
        self_defined_ethnicity: search.self_defined_ethnicity.map(|v| v.as_str().into()),
        officer_defined_ethnicity: search.officer_defined_ethnicity.map(|v| v.as_str().into()),
        legislation: search.legislation.as_str().into(),
        object_of_search: search.object_of_search.as_str().into(),
        outcome: search.outcome.as_str().into(),
        outcome_object: OutcomeObject {
            id: search.outcome.police_uk_id().map(str::to_string),
            name: search.outcome.as_str().into(),
        },
        outcome_linked_to_object_of_search: search.outcome_linked_to_object_of_search,
        removal_of_more_than_outer_clothing: search.removal_of_more_than_outer_clothing,
    })
}

/// The published rows of one station's searches.
pub fn rows(station: &str, records: &[Record]) -> Vec<SearchRow> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::StopSearch { search } => published(search),
            _ => None,
        })
        .map(|search| SearchRow {
            station: station.to_string(),
            search,
        })
        .collect()
}

/// The one order of published rows: by time, then by every other column,
/// so the order says nothing about which record came first.
pub fn sort(rows: &mut [SearchRow]) {
    rows.sort_by(|a, b| {
        (&a.search.datetime, &a.station, &a.search).cmp(&(
            &b.search.datetime,
            &b.station,
            &b.search,
        ))
    });
}

/// One CSV field (RFC 4180 quoting). Free text that a spreadsheet would
/// run as a formula gets a leading `'`.
fn field(out: &mut String, value: &str, free_text: bool) {
    out.push_str(&cell(value, free_text));
}

/// A CSV cell (RFC 4180 quoting), the one rule of both CSVs of the
/// figures (this one and `publish::csv`): free text that a spreadsheet
/// would run as a formula (a leading `=`, `+`, `-`, `@`, tab or carriage
/// return) gets a leading `'`.
pub(super) fn cell(value: &str, free_text: bool) -> String {
    let value = if free_text && value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn flag(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// The rows as police.uk's bulk CSV (header first, CRLF line ends).
pub fn csv(rows: &[&PoliceUkSearch]) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push_str("\r\n");
    for s in rows {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let values: [(String, bool); 15] = [
            (s.search_type.clone(), false),
            (s.datetime.clone(), false),
            (flag(s.operation).into(), false),
            (opt(&s.operation_name), true),
            (
                s.location
                    .as_ref()
                    .map(|l| l.latitude.clone())
                    .unwrap_or_default(),
                false,
            ),
            (
                s.location
                    .as_ref()
                    .map(|l| l.longitude.clone())
                    .unwrap_or_default(),
                false,
            ),
            (opt(&s.gender), false),
            (opt(&s.age_range), false),
            (opt(&s.self_defined_ethnicity), false),
            (opt(&s.officer_defined_ethnicity), false),
            (s.legislation.clone(), false),
            (s.object_of_search.clone(), false),
            (s.outcome.clone(), false),
            (
                s.outcome_linked_to_object_of_search
                    .map(flag)
                    .unwrap_or_default()
                    .into(),
                false,
            ),
            (flag(s.removal_of_more_than_outer_clothing).into(), false),
        ];
        for (i, (value, free_text)) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, value, *free_text);
        }
        out.push_str("\r\n");
    }
    out
}

/// The rows as police.uk's JSON: an array of search objects.
pub fn json(rows: &[&PoliceUkSearch]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_snap_to_the_centre_of_their_grid_square() {
        let p = snap(51.461_234, -0.010_987);
        assert_eq!(
            (p.latitude.as_str(), p.longitude.as_str()),
            ("51.465", "-0.015")
        );
        assert_eq!(p.street.name, "On or near 51.465, -0.015");
        // Every point of a square gives the same square.
        assert_eq!(snap(51.460_001, -0.019_999), p);
        assert_ne!(snap(51.470_001, -0.010_987).street.id, p.street.id);
        assert_eq!(snap(0.0, 0.0).latitude, "0.005");
        assert_eq!(snap(-0.001, -0.001).longitude, "-0.005");
    }

    #[test]
    fn times_are_rounded_down_to_the_hour_in_utc() {
        assert_eq!(
            round_time("2027-03-28T01:59:59+01:00").as_deref(),
            Some("2027-03-28T00:00:00+00:00")
        );
        assert_eq!(round_time("not a time"), None);
    }

    #[test]
    fn free_text_is_quoted_and_never_a_formula() {
        let mut out = String::new();
        field(&mut out, "=HYPERLINK(\"x\")", true);
        assert_eq!(out, "\"'=HYPERLINK(\"\"x\"\")\"");
        let mut out = String::new();
        field(&mut out, "Op Bluebell, phase 2", true);
        assert_eq!(out, "\"Op Bluebell, phase 2\"");
        // A tab or carriage return first is a formula to some spreadsheets
        // too; the station names of the published CSV go through the same
        // cell (`publish::csv`).
        assert_eq!(cell("\t=1+1", true), "'\t=1+1");
        assert_eq!(cell("\r=1+1", true), "\"'\r=1+1\"");
        assert_eq!(cell("-", false), "-");
    }
}

//! The month's searches in police.uk's format: the CSV read back with a
//! parser written here, its header against police.uk's column list, every
//! value against the vocabularies, every row against the anonymised rows
//! the test expects; the JSON's fields against police.uk's, row for row
//! with the CSV; nothing identifying in either.

use std::collections::BTreeSet;

use chrono::{DateTime, Timelike, Utc};
use pocketbook_core::model::*;
use reqwest::StatusCode;
use serde_json::Value;

use super::seed::{self, Seeded};
use super::{Desk, MARCH_PUBLISHED};

/// police.uk's bulk CSV header (`docs/domain/vocabularies.md`).
const POLICE_UK_COLUMNS: [&str; 15] = [
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

/// police.uk's JSON fields of a search.
const POLICE_UK_FIELDS: [&str; 16] = [
    "type",
    "involved_person",
    "datetime",
    "operation",
    "operation_name",
    "location",
    "gender",
    "age_range",
    "self_defined_ethnicity",
    "officer_defined_ethnicity",
    "legislation",
    "object_of_search",
    "outcome",
    "outcome_object",
    "outcome_linked_to_object_of_search",
    "removal_of_more_than_outer_clothing",
];

/// RFC 4180: quoted fields, doubled quotes, CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "the CSV ends with a line end"
    );
    rows
}

fn flag(value: bool) -> String {
    if value { "True" } else { "False" }.to_string()
}

/// The grid square's centre, computed here: 0.01-degree squares.
fn centre(degrees: f64) -> String {
    let cell = (degrees * 100.0).floor();
    format!("{:.3}", cell / 100.0 + 0.005)
}

/// The CSV row the test expects for a search.
fn expected_row(s: &StopSearch) -> Vec<String> {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(&s.datetime).unwrap().into();
    let hour = at.with_minute(0).unwrap().with_second(0).unwrap();
    let opt = |v: Option<&'static str>| v.unwrap_or_default().to_string();
    vec![
        s.search_type.as_str().into(),
        hour.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        flag(s.operation_name.is_some()),
        s.operation_name.clone().unwrap_or_default(),
        s.location.latitude.map(centre).unwrap_or_default(),
        s.location.longitude.map(centre).unwrap_or_default(),
        opt(s.gender.map(Gender::as_str)),
        opt(s.age_range.map(AgeRange::as_str)),
        opt(s.self_defined_ethnicity.map(SelfDefinedEthnicity::as_str)),
        opt(s
            .officer_defined_ethnicity
            .map(OfficerDefinedEthnicity::as_str)),
        s.legislation.as_str().into(),
        s.object_of_search.as_str().into(),
        s.outcome.as_str().into(),
        s.outcome_linked_to_object_of_search
            .map(flag)
            .unwrap_or_default(),
        flag(s.removal_of_more_than_outer_clothing),
    ]
}

fn in_vocabulary(row: &[String]) {
    let known =
        |ok: bool, column: usize| assert!(ok, "{}: {:?}", POLICE_UK_COLUMNS[column], row[column]);
    let empty_or = |column: usize, ok: fn(&str) -> bool| {
        known(row[column].is_empty() || ok(&row[column]), column)
    };
    known(SearchType::parse(&row[0]).is_some(), 0);
    known(row[1].len() == 25 && row[1].ends_with(":00:00+00:00"), 1);
    known(["True", "False"].contains(&row[2].as_str()), 2);
    for column in [4, 5] {
        empty_or(column, |v| v.parse::<f64>().is_ok() && v.ends_with('5'));
    }
    empty_or(6, |v| Gender::parse(v).is_some());
    empty_or(7, |v| AgeRange::parse(v).is_some());
    empty_or(8, |v| SelfDefinedEthnicity::parse(v).is_some());
    empty_or(9, |v| OfficerDefinedEthnicity::parse(v).is_some());
    known(Legislation::parse(&row[10]).is_some(), 10);
    known(ObjectOfSearch::parse(&row[11]).is_some(), 11);
    known(Outcome::parse(&row[12]).is_some(), 12);
    empty_or(13, |v| v == "True" || v == "False");
    known(["True", "False"].contains(&row[14].as_str()), 14);
}

#[tokio::test]
async fn the_searches_round_trip_in_police_uk_columns_and_vocabularies() {
    let desk = Desk::start().await;
    let seeded = seed::seed(&desk).await;
    desk.set(MARCH_PUBLISHED);

    let response = desk
        .server
        .http
        .get(
            desk.server
                .url("/figures/searches?month=2027-03&station=Lewisham&format=csv"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        "attachment; filename=\"stop-and-search-2027-03-Lewisham.csv\""
    );
    let csv = response.text().await.unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], POLICE_UK_COLUMNS);
    let rows = &rows[1..];
    assert_eq!(rows.len() as u64, seed::LEWISHAM_MARCH_SEARCHES);
    for row in rows {
        in_vocabulary(row);
    }
    let mut want: Vec<Vec<String>> = seeded
        .iter()
        .filter_map(|s| match s {
            Seeded::Search { station, search }
                if station == "Lewisham"
                    && pocketbook_server::figures::Month::of(
                        DateTime::parse_from_rfc3339(&search.datetime)
                            .unwrap()
                            .into(),
                    )
                    .to_string()
                        == "2027-03" =>
            {
                Some(expected_row(search))
            }
            _ => None,
        })
        .collect();
    let mut got = rows.to_vec();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // Sorted by time: the order says nothing about which record came first.
    let dates: Vec<&String> = rows.iter().map(|r| &r[1]).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    // Nothing that identifies anyone: no typed place, grounds,
    // registration, officer or exact position.
    for secret in [
        "Secret Road",
        "Grounds of search",
        "AB12",
        "PC1",
        "51.4613",
        "51.462",
    ] {
        assert!(!csv.contains(secret), "{secret} is in the CSV");
    }

    // The JSON: police.uk's fields, row for row the CSV's values.
    let json: Value = desk
        .json("/figures/searches?month=2027-03&station=Lewisham&format=json")
        .await;
    let objects = json.as_array().unwrap();
    assert_eq!(objects.len(), rows.len());
    let fields: BTreeSet<&str> = POLICE_UK_FIELDS.into_iter().collect();
    for (object, row) in objects.iter().zip(rows) {
        let keys: BTreeSet<&str> = object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, fields);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let boolean = |v: &Value| v.as_bool().map(flag).unwrap_or_default();
        assert_eq!(text(&object["type"]), row[0]);
        assert_eq!(text(&object["datetime"]), row[1]);
        assert_eq!(boolean(&object["operation"]), row[2]);
        assert_eq!(text(&object["operation_name"]), row[3]);
        assert_eq!(text(&object["location"]["latitude"]), row[4]);
        assert_eq!(text(&object["location"]["longitude"]), row[5]);
        if !row[4].is_empty() {
            let street = &object["location"]["street"];
            assert!(street["id"].is_u64());
            assert_eq!(street["name"], format!("On or near {}, {}", row[4], row[5]));
        }
        assert_eq!(text(&object["gender"]), row[6]);
        assert_eq!(text(&object["age_range"]), row[7]);
        assert_eq!(text(&object["self_defined_ethnicity"]), row[8]);
        assert_eq!(text(&object["officer_defined_ethnicity"]), row[9]);
        assert_eq!(text(&object["legislation"]), row[10]);
        assert_eq!(text(&object["object_of_search"]), row[11]);
        assert_eq!(text(&object["outcome"]), row[12]);
        let outcome = Outcome::parse(&row[12]).unwrap();
        assert_eq!(object["outcome_object"]["name"], row[12]);
        assert_eq!(
            object["outcome_object"]["id"].as_str(),
            outcome.police_uk_id()
        );
        assert_eq!(
            boolean(&object["outcome_linked_to_object_of_search"]),
            row[13]
        );
        assert_eq!(
            boolean(&object["removal_of_more_than_outer_clothing"]),
            row[14]
        );
        let vehicle_only = row[0] == "Vehicle search";
        assert_eq!(object["involved_person"], !vehicle_only);
    }

    // Every station's searches together: Lewisham's and Catford's.
    let all = desk.get("/figures/searches?month=2027-03").await.2;
    assert_eq!(parse_csv(&all).len() - 1, rows.len() + 3);
}

//! Published figures over HTTP: a month seeded through the real sync API
//! by device cores, every figure computed again here, independently, and
//! compared with `GET /figures`; the searches' CSV and JSON checked
//! against police.uk's columns and vocabularies; months frozen before
//! retention erases their records; and every bad input refused precisely.
//!
//! The server's clock is injected (moved by hand, never read from the
//! wall): the seeded month is March 2027, across the change to British
//! Summer Time (01:00 UTC on 28 March).

mod cost;
mod expected;
mod police_uk;
mod refusals;
mod seed;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use pocketbook_server::Clock;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

/// The station's clock at the start: after March, before its publication.
const START: &str = "2027-04-02T12:00:00Z";
/// When March 2027 is published: 7 days after midnight of 1 April (BST).
const MARCH_PUBLISHED: &str = "2027-04-07T23:00:00Z";

/// A server whose clock reads [`START`] moved by the test.
pub struct Desk {
    pub server: TestServer,
    ahead: Arc<AtomicI64>,
}

impl Desk {
    pub async fn start() -> Self {
        let ahead = Arc::new(AtomicI64::new(0));
        let clock_ahead = ahead.clone();
        let server = TestServer::start_with_clock(Clock::new(move || {
            START.parse::<DateTime<Utc>>().unwrap()
                + TimeDelta::seconds(clock_ahead.load(Ordering::SeqCst))
        }))
        .await;
        Desk { server, ahead }
    }

    pub fn set(&self, at: &str) {
        let at: DateTime<Utc> = at.parse().unwrap();
        let start: DateTime<Utc> = START.parse().unwrap();
        self.ahead
            .store((at - start).num_seconds(), Ordering::SeqCst);
    }

    pub async fn get(&self, path_and_query: &str) -> (StatusCode, String, String) {
        let response = self
            .server
            .http
            .get(self.server.url(path_and_query))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, response.text().await.unwrap())
    }

    pub async fn json(&self, path_and_query: &str) -> Value {
        let (status, content_type, body) = self.get(path_and_query).await;
        assert_eq!(status, StatusCode::OK, "{path_and_query}: {body}");
        assert_eq!(content_type, "application/json");
        serde_json::from_str(&body).unwrap()
    }
}

#[tokio::test]
async fn every_figure_of_a_seeded_month_is_what_the_test_computes() {
    let desk = Desk::start().await;
    let seeded = seed::seed(&desk).await;

    // Before publication: refused, with the date.
    desk.set("2027-04-07T22:59:59Z");
    let (status, _, body) = desk.get("/figures?month=2027-03&format=json").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body.contains("not-published") && body.contains("8 April 2027"),
        "{body}"
    );

    desk.set(MARCH_PUBLISHED);
    for station in ["Lewisham", "Catford", "Brockley"] {
        let got = desk
            .json(&format!(
                "/figures?month=2027-03&station={station}&format=json"
            ))
            .await;
        let want = expected::station(&seeded, "2027-03", station, MARCH_PUBLISHED);
        expected::compare(&got, &want, station);
    }
    // A few figures by hand, so the two computations cannot share a mistake.
    let lewisham = desk
        .json("/figures?month=2027-03&station=Lewisham&format=json")
        .await;
    let emergency = &lewisham["attendance"][0];
    assert_eq!(emergency["grade"], "emergency");
    assert_eq!(emergency["within_target"]["count"], 8);
    assert_eq!(emergency["attended"]["count"], 10);
    assert_eq!(emergency["share_percent"], 80.0);
    let priority = &lewisham["attendance"][1];
    assert_eq!(priority["attended"]["suppressed"], true);
    assert_eq!(priority["share_percent"], Value::Null);
    assert_eq!(lewisham["searches"]["count"], seed::LEWISHAM_MARCH_SEARCHES);
    let contacts = &lewisham["promises"][2];
    assert_eq!(contacts["promise"], "domestic violence contact");
    assert_eq!(contacts["settled"]["count"], 5);
    assert_eq!(contacts["share_percent"], 60.0);
    let catford = desk
        .json("/figures?month=2027-03&station=Catford&format=json")
        .await;
    assert_eq!(catford["searches"]["suppressed"], true);
    let brockley = desk
        .json("/figures?month=2027-03&station=Brockley&format=json")
        .await;
    assert_eq!(brockley["searches"]["count"], 0);

    // The month was frozen once, by its first publication, audited with counts only.
    // (The server's own retention run at start froze February, published
    // then; March was not yet.)
    let frozen: Vec<_> = desk
        .server
        .audit("figures-frozen")
        .into_iter()
        .filter(|e| e.detail["month"] == "2027-03")
        .collect();
    assert_eq!(frozen.len(), 1);
    assert_eq!(frozen[0].actor, "public");
    assert_eq!(frozen[0].detail["month"], "2027-03");
    assert_eq!(frozen[0].detail["why"], "published");

    // `admin figures` gives the very same figures.
    let admin = desk
        .server
        .admin()
        .figures(
            "2027-03",
            Some("Lewisham"),
            pocketbook_server::figures::view::Format::Json,
        )
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&admin.body).unwrap(),
        lewisham
    );

    // The page: charts and tables, no script.
    let (status, content_type, page) = desk.get("/figures?month=2027-03&station=Lewisham").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(!page.contains("<script"));
    assert_eq!(page.matches("<svg").count(), 7, "one chart per table");
    assert_eq!(page.matches("<table").count(), 7);
    assert!(page.contains("fewer than 5"));
}

#[tokio::test]
async fn a_frozen_month_never_changes_and_retention_freezes_first() {
    let desk = Desk::start().await;
    let seeded = seed::seed(&desk).await;
    desk.set(MARCH_PUBLISHED);
    let before = desk
        .json("/figures?month=2027-03&station=Lewisham&format=json")
        .await;
    let searches_before = desk
        .get("/figures/searches?month=2027-03&format=csv")
        .await
        .2;

    // A search of March synced after publication is not counted.
    seed::late_search(&desk, "2027-03-15T10:00:00Z").await;
    let after = desk
        .json("/figures?month=2027-03&station=Lewisham&format=json")
        .await;
    assert_eq!(before, after);

    // A year on, retention erases March's and April's searches. April was
    // never asked for: retention freezes it before erasing. The clock
    // moved a year at once: the admin confirms it is right.
    desk.set("2028-04-10T12:00:00Z");
    let report = desk
        .server
        .admin()
        .run_retention_confirmed(&Default::default(), false)
        .unwrap();
    assert!(report.records.len() > seed::LEWISHAM_MARCH_SEARCHES as usize);
    let frozen = desk.server.audit("figures-frozen");
    let months: Vec<&str> = frozen
        .iter()
        .map(|e| e.detail["month"].as_str().unwrap())
        .collect();
    assert!(
        months.contains(&"2027-02") && months.contains(&"2027-04"),
        "{months:?}"
    );
    let why = |month: &str| {
        frozen
            .iter()
            .find(|e| e.detail["month"] == month)
            .map(|e| e.detail["why"].as_str().unwrap().to_string())
    };
    assert_eq!(why("2027-04").as_deref(), Some("retention"));
    // The run also counted the month published last, which nobody had asked for.
    assert_eq!(why("2028-03").as_deref(), Some("published"));

    let after_erasure = desk
        .json("/figures?month=2027-03&station=Lewisham&format=json")
        .await;
    assert_eq!(before, after_erasure);
    let searches_after = desk
        .get("/figures/searches?month=2027-03&format=csv")
        .await
        .2;
    assert_eq!(searches_before, searches_after);
    // April's two searches (the last hour of 31 March, UTC) are still
    // counted, though their records are gone.
    let april = desk
        .json("/figures/searches?month=2027-04&format=json")
        .await;
    assert_eq!(april.as_array().unwrap().len(), 2);
    let want = expected::station(&seeded, "2027-04", "Lewisham", "2028-04-10T12:00:00Z");
    let got = desk
        .json("/figures?month=2027-04&station=Lewisham&format=json")
        .await;
    expected::compare(&got, &want, "Lewisham in April");
    // February was published, and frozen by the server's first scheduled
    // run, before its one search was synced: that late search is not counted.
    let february = desk
        .json("/figures/searches?month=2027-02&format=json")
        .await;
    assert_eq!(february, serde_json::json!([]));
}

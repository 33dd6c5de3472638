//! Bad input to the figures: each gets its own precise 4xx (a page with
//! the message for HTML, the JSON error otherwise); a month with no data
//! and a station with none are answered, with zeros.

use reqwest::StatusCode;
use serde_json::Value;

use super::Desk;

async fn refused(desk: &Desk, query: &str, status: StatusCode, code: &str) {
    let (got, content_type, body) = desk.get(query).await;
    assert_eq!(got, status, "{query}: {body}");
    if content_type.starts_with("text/html") {
        assert!(body.contains("role=\"alert\""), "{query}: {body}");
    } else {
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"], code, "{query}: {body}");
    }
}

#[tokio::test]
async fn bad_months_stations_and_formats_are_refused_precisely() {
    let desk = Desk::start().await;
    desk.server.add_officer("PC1", "Lewisham");
    desk.set("2027-04-10T12:00:00Z");
    let bad = StatusCode::BAD_REQUEST;
    for month in [
        "2027-13",
        "2027-00",
        "2027-3",
        "27-03",
        "abcd-ef",
        "1999-12",
        "2027-03-01",
        "%FF",
    ] {
        refused(
            &desk,
            &format!("/figures?format=json&month={month}"),
            bad,
            "bad-month",
        )
        .await;
    }
    // The page answers with the form and the message.
    refused(&desk, "/figures?month=2027-13", bad, "bad-month").await;
    let long = "x".repeat(121);
    refused(
        &desk,
        &format!("/figures?format=json&month=2027-03&station={long}"),
        bad,
        "bad-station",
    )
    .await;
    refused(
        &desk,
        "/figures?format=json&month=2027-03&station=Lew%01isham",
        bad,
        "bad-station",
    )
    .await;
    refused(&desk, "/figures?format=xml", bad, "bad-format").await;
    refused(&desk, "/figures?format=json&colour=red", bad, "bad-query").await;
    refused(
        &desk,
        "/figures?format=json&month=2027-03&month=2027-02",
        bad,
        "bad-query",
    )
    .await;
    refused(
        &desk,
        "/figures/searches?month=2027-03&format=html",
        bad,
        "bad-format",
    )
    .await;
    let huge = format!(
        "/figures?format=json&month=2027-03&station={}",
        "a".repeat(600)
    );
    refused(&desk, &huge, bad, "bad-query").await;

    let missing = StatusCode::NOT_FOUND;
    refused(
        &desk,
        "/figures?format=json&month=2027-03&station=Nowhere",
        missing,
        "unknown-station",
    )
    .await;
    refused(
        &desk,
        "/figures/searches?format=json&month=2027-03&station=Nowhere",
        missing,
        "unknown-station",
    )
    .await;
    refused(
        &desk,
        "/figures?format=json&month=2027-04",
        missing,
        "not-published",
    )
    .await;
    refused(
        &desk,
        "/figures?format=json&month=2030-01",
        missing,
        "not-published",
    )
    .await;
    refused(&desk, "/figures?month=2030-01", missing, "not-published").await;

    // A month with no data at a station with officers: zeros, shares not shown.
    let empty = desk
        .json("/figures?format=json&month=2027-01&station=Lewisham")
        .await;
    assert_eq!(empty["searches"]["count"], 0);
    assert_eq!(empty["attendance"][0]["share_percent"], Value::Null);
    assert!(
        empty["breakdowns"][0]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["count"] == 0)
    );
    let (status, _, csv) = desk.get("/figures/searches?month=2027-01&format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 1, "the header only");
    assert_eq!(
        desk.json("/figures/searches?month=2027-01&format=json")
            .await,
        serde_json::json!([])
    );
    // No month: the latest published (March, on 10 April); no station: the chooser.
    let (status, _, page) = desk.get("/figures").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("March 2027") && page.contains("<option value=\"Lewisham\">"),
        "{page}"
    );
    // Every station's figures as one JSON list: none had records.
    assert_eq!(
        desk.json("/figures?format=json&month=2027-01").await,
        serde_json::json!([])
    );
    // Nothing here ever answers with a server error.
    let metrics = desk.get("/metrics").await.2;
    assert!(!metrics.contains("endpoint=\"figures\",status=\"500\""));
}

/// A script that asks for JSON or CSV gets its refusal as JSON, whatever
/// was wrong and wherever in the query it put `format`; a browser's
/// page request gets the page.
#[tokio::test]
async fn a_refusal_comes_in_the_format_asked_for_wherever_format_is_in_the_query() {
    let desk = Desk::start().await;
    desk.set("2027-04-10T12:00:00Z");
    for (query, code) in [
        ("/figures?month=2027-13&format=json", "bad-month"),
        ("/figures?format=json&month=2027-13", "bad-month"),
        ("/figures?station=Lew%01isham&format=csv", "bad-station"),
        ("/figures?colour=red&format=json", "bad-query"),
        ("/figures/searches?month=abcd-ef&format=json", "bad-month"),
        ("/figures/searches?month=abcd-ef", "bad-month"),
    ] {
        let (status, content_type, body) = desk.get(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(content_type, "application/json", "{query}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"], code, "{query}: {body}");
    }
    let (status, content_type, body) = desk.get("/figures?month=2027-13").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("role=\"alert\""));
}

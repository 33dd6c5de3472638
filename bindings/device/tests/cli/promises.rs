//! `pocketbook-device promises`, run as support staff would: the list of a
//! device's promises with due times, judged at a time given on the command
//! line (never the wall clock), the calls that keep promises, and precise
//! errors for bad input.

use std::path::Path;

use pocketbook_fixtures::{at_text, day_time};
use serde_json::{Value, json};

use super::{device, init, ok};

/// [`super::failure`], also for clap's own errors (exit 2), which are text.
fn failure(store: &Path, args: &[&str], exit: i32) -> Value {
    let out = device(store, args);
    assert_eq!(out.status.code(), Some(exit), "{args:?}: {out:?}");
    let text = String::from_utf8_lossy(&out.stderr);
    // clap's own errors (exit 2) are text; the core's are one JSON object.
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| json!({ "clap": text }))
}

fn summary(list: &Value) -> Vec<(String, String, Value)> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            (
                p["promise"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
                p["due_at"].clone(),
            )
        })
        .collect()
}

#[test]
fn promises_are_listed_with_due_times_and_kept_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC600");
    let input = dir.path().join("scene.json");
    std::fs::write(
        &input,
        json!({
            "reasons": ["crime in progress"],
            "grade": "emergency",
            "call_received": at_text(10, 0),
            "location": {"street": "12 Acacia Avenue"}
        })
        .to_string(),
    )
    .unwrap();
    let record = ok(&store, &["new", "scene", "--json", input.to_str().unwrap()]);
    let id = record["header"]["id"].as_str().unwrap().to_string();

    let listed = ok(&store, &["promises", "--now", &at_text(10, 10)]);
    assert_eq!(
        summary(&listed),
        [(
            "emergency attendance".into(),
            "due soon".into(),
            json!(at_text(10, 12))
        )]
    );
    assert_eq!(listed[0]["record_id"], json!(id));
    assert_eq!(listed[0]["clause"], json!("P1"));

    let updated = ok(&store, &["promises", "offence", &id, "domestic violence"]);
    assert_eq!(
        updated["body"]["scene"]["offence"],
        json!("domestic violence")
    );
    let entry = ok(
        &store,
        &[
            "promises",
            "entry",
            &id,
            "contact made",
            "--at",
            &at_text(12, 0),
        ],
    );
    assert!(entry["entry_id"].is_string());

    let next_day = day_time(1, 11, 0, 0);
    let listed = ok(&store, &["promises", "--now", next_day.as_str()]);
    assert_eq!(
        summary(&listed),
        [
            (
                "emergency attendance".into(),
                "overdue".into(),
                json!(at_text(10, 12))
            ),
            (
                "domestic violence contact".into(),
                "kept".into(),
                json!(day_time(1, 10, 0, 0).as_str())
            ),
        ]
    );
    let overdue = ok(
        &store,
        &[
            "promises",
            "--now",
            next_day.as_str(),
            "--status",
            "overdue",
        ],
    );
    assert_eq!(summary(&overdue).len(), 1);

    // Withdrawn (recorded on the wrong record): the contact is overdue.
    ok(
        &store,
        &[
            "promises",
            "correct",
            &id,
            entry["entry_id"].as_str().unwrap(),
            "--at",
            &at_text(12, 5),
            "--withdraw",
        ],
    );
    let listed = ok(&store, &["promises", "--now", next_day.as_str()]);
    assert_eq!(
        summary(&listed)
            .iter()
            .filter(|(_, status, _)| status == "overdue")
            .count(),
        2
    );
}

#[test]
fn bad_input_gets_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC601");
    let clap = failure(&store, &["promises", "--status", "sideways"], 2);
    assert!(clap["clap"].as_str().unwrap().contains("\"due soon\""));
    let clap = failure(&store, &["promises", "offence", "some-id", "arson"], 2);
    assert!(
        clap["clap"]
            .as_str()
            .unwrap()
            .contains("\"serious assault\"")
    );
    let time = failure(&store, &["promises", "--now", "yesterday"], 2);
    assert_eq!(time["error"], json!("bad-input"));
    let missing = failure(&store, &["promises", "--record", "no-such-record"], 1);
    assert_eq!(missing["error"], json!("not-found"));
    assert!(
        !missing["message"]
            .as_str()
            .unwrap()
            .contains("no-such-record"),
        "errors name no content: {missing}"
    );
    assert_eq!(ok(&store, &["promises"]), json!([]));
}

//! The public copy of a stop and search over HTTP: found as JSON and as a
//! page, the one uniform answer for everything not found, the checks
//! before any lookup, bounded bodies, rate limits, the audit trail, and
//! the station staff's lookups.
//!
//! The server's clock is injected (a fixed day, moved forward by hand), so
//! no test depends on today's date and none sleeps out a window.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use pocketbook_core::Notebook;
use pocketbook_core::model::*;
use pocketbook_core::sync::wire::*;
use pocketbook_server::Clock;
use pocketbook_server::copy::staff::{self, StaffError};
use pocketbook_server::scope::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// The day the station's clock starts on; the searches were the day before.
const TODAY: &str = "2026-11-29T12:00:00Z";
const SEARCH_DAY: &str = "2026-11-28";

/// A server whose clock reads [`TODAY`] plus what the test moved it by.
struct Desk {
    server: TestServer,
    ahead: Arc<AtomicI64>,
}

impl Desk {
    async fn start() -> Self {
        let ahead = Arc::new(AtomicI64::new(0));
        let clock_ahead = ahead.clone();
        let server = TestServer::start_with_clock(Clock::new(move || {
            TODAY.parse::<DateTime<Utc>>().unwrap()
                + TimeDelta::seconds(clock_ahead.load(Ordering::SeqCst))
        }))
        .await;
        Desk { server, ahead }
    }

    fn now(&self) -> DateTime<Utc> {
        self.server.clock.now()
    }

    fn advance(&self, by: TimeDelta) {
        self.ahead.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    /// Stops the server, which writes the pending rate-limit summaries.
    async fn stop(&mut self) {
        self.server.server.take().unwrap().shutdown().await.unwrap();
    }

    fn add(&self, number: &str, station: &str, role: Role) {
        self.server.add_officer_as(number, station, role);
    }

    /// Enrols a device of an officer (by the station's clock) and returns its token.
    async fn token(&self, number: &str) -> String {
        self.server
            .enrol(number, "Lewisham", Role::Officer)
            .await
            .token
    }

    /// PC1 records a search (with the device's exact position), issues the
    /// receipt and syncs. Returns (record id, reference).
    async fn search(&self, nb: &Notebook, token: &str) -> (String, String) {
        // On this desk's own fixed day, not the fixtures' (relative) one:
        // the copy is looked up by date, against a clock fixed at TODAY.
        let mut search = stop_search();
        search.datetime = pocketbook_fixtures::time(&format!("{SEARCH_DAY}T14:05:00Z"));
        search.location = Location {
            latitude: Some(51.461_234),
            longitude: Some(-0.010_987),
            street: "High Street, outside the library".into(),
        };
        search.self_defined_ethnicity = Some(SelfDefinedEthnicity::B1);
        search.gender = Some(Gender::Male);
        search.age_range = Some(AgeRange::From18To24);
        let id = nb.create_stop_search(search).unwrap().header.id;
        let reference = nb
            .issue_receipt(id.clone(), ReceiptMedium::Printed)
            .unwrap();
        let push = PushedRecord {
            record_id: id.clone(),
            kind: RecordKind::StopSearch,
            changes: changes_of(nb, &id),
        };
        let answer = self.server.sync(token, &request(None, vec![push])).await;
        assert!(answer.rejected.is_empty(), "{:?}", answer.rejected);
        (id, reference)
    }

    async fn post(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Answer {
        let response = self
            .server
            .http
            .post(self.server.url(path))
            .header("content-type", content_type)
            .body(body.into())
            .send()
            .await
            .unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn json(&self, reference: &str, date: &str) -> Answer {
        self.post(
            "/v1/copy",
            "application/json",
            json!({"reference": reference, "date": date}).to_string(),
        )
        .await
    }

    async fn form(&self, reference: &str, date: &str) -> Answer {
        self.post(
            "/copy",
            "application/x-www-form-urlencoded",
            format!("reference={}&date={date}", reference.replace(' ', "+")),
        )
        .await
    }

    /// Every copy event must be free of the address and of record content.
    fn assert_clean_audit(&self) {
        for action in ["copy-issued", "copy-refused", "staff-lookup"] {
            for event in self.server.audit(action) {
                let text = serde_json::to_string(&event).unwrap();
                for personal in ["127.0.0.1", "High Street", "Officer PC1", "51.46"] {
                    assert!(!text.contains(personal), "{personal} in {text}");
                }
                // What the public typed is not kept (staff's own search date is).
                if action != "staff-lookup" {
                    assert!(!text.contains(SEARCH_DAY), "{text}");
                }
            }
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn assert_hardened(&self) {
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        let csp = self.header("content-security-policy");
        assert!(
            csp.starts_with("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
            "{csp}"
        );
    }
}

/// A well-formed reference no record has.
fn unknown_reference() -> String {
    pocketbook_core::reference::Reference::generate().to_string()
}

/// The reference with one character changed, so its check fails.
fn mistyped(reference: &str) -> String {
    let mut chars: Vec<char> = reference.chars().collect();
    chars[1] = if chars[1] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn a_copy_is_found_by_reference_and_date_as_json_and_as_a_page() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (id, reference) = desk.search(&nb, &token).await;

    // As typed from a receipt: lower case, spaces instead of hyphens.
    let typed = reference.to_lowercase().replace('-', " ");
    let answer = desk.json(&typed, SEARCH_DAY).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.assert_hardened();
    let copy = answer.json();
    assert_eq!(copy["reference"], reference.as_str());
    assert_eq!(copy["kind"], "stop-search");
    assert_eq!(copy["datetime"], "2026-11-28T14:05:00Z");
    assert_eq!(copy["local_time"], "Saturday 28 November 2026 at 14:05");
    assert_eq!(copy["place"], "High Street, outside the library");
    assert_eq!(
        copy["officer"],
        json!({"shoulder_number": "PC1", "station": "Lewisham"})
    );
    let search = &copy["search"];
    assert_eq!(search["type"], "Person search");
    assert_eq!(
        search["legislation"],
        "Misuse of Drugs Act 1971 (section 23)"
    );
    assert_eq!(search["grounds"], "Seen passing packages");
    assert_eq!(search["object_of_search"], "Controlled drugs");
    assert_eq!(search["outcome"], "Arrest");
    assert_eq!(search["outcome_linked_to_object_of_search"], true);
    assert_eq!(search["removal_of_more_than_outer_clothing"], false);
    assert_eq!(
        search["self_defined_ethnicity"],
        "Black/African/Caribbean/Black British - Caribbean"
    );
    assert_eq!(search["gender"], "Male");
    assert_eq!(search["age_range"], "18-24");
    assert_eq!(copy["receipt"]["status"], "given");
    assert_eq!(copy["receipt"]["medium"], "printed");
    let complain = copy["how_to_complain"].to_string();
    assert!(complain.contains("0208 785 8666") && complain.contains("complaints@met.police.uk"));
    // No exact position, no officer's name.
    assert!(!answer.body.contains("51.46") && !answer.body.contains("-0.01"));
    assert!(!answer.body.contains("latitude") && !answer.body.contains("Officer PC1"));

    let page = desk.form(&reference, SEARCH_DAY).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_hardened();
    assert!(page.header("content-type").starts_with("text/html"));
    for shown in [
        reference.as_str(),
        "Saturday 28 November 2026 at 14:05",
        "High Street, outside the library",
        "PC1",
        "Lewisham",
        "Misuse of Drugs Act 1971 (section 23)",
        "Seen passing packages",
        "Controlled drugs",
        "Arrest",
        "Black/African/Caribbean/Black British - Caribbean",
        "Given at the time (printed)",
        "Professional Standards team on 0208 785 8666",
        "Independent Police Complaints Commission",
        "@media print",
    ] {
        assert!(page.body.contains(shown), "{shown} missing from the page");
    }
    assert!(!page.body.contains("51.46") && !page.body.contains("Officer PC1"));
    assert!(!page.body.contains("<script"));

    let issued = desk.server.audit("copy-issued");
    assert_eq!(issued.len(), 2);
    for event in &issued {
        assert_eq!(event.actor, "public");
        assert_eq!(event.record_id.as_deref(), Some(id.as_str()));
        assert!(
            event.detail["client"]
                .as_str()
                .unwrap()
                .starts_with("client:")
        );
    }
    assert_eq!(issued[0].detail["via"], "api");
    assert_eq!(issued[1].detail["via"], "web");
    desk.assert_clean_audit();
}

#[tokio::test]
async fn the_form_is_a_plain_accessible_page() {
    let desk = Desk::start().await;
    let response = desk
        .server
        .http
        .get(desk.server.url("/copy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    };
    answer.assert_hardened();
    let page = &answer.body;
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("name=\"viewport\" content=\"width=device-width, initial-scale=1\""));
    assert!(page.contains("<label for=\"reference\">") && page.contains("id=\"reference\""));
    assert!(page.contains("<label for=\"date\">") && page.contains("id=\"date\""));
    assert!(page.contains("<form method=\"post\" action=\"/copy\">"));
    assert!(!page.contains("<script"));
}

#[tokio::test]
async fn wrong_reference_wrong_date_erased_and_never_existed_get_one_answer() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (_, kept) = desk.search(&nb, &token).await;
    let (erased_id, erased) = desk.search(&nb, &token).await;
    desk.server
        .storage
        .erase_record(&erased_id, "2026-11-29T11:00:00.000Z", "retention", &[])
        .unwrap();
    // A scene record's reference is not one a copy can be had of either.
    let scene = nb
        .create_scene(SceneInput {
            call_received: pocketbook_fixtures::time(&format!("{SEARCH_DAY}T10:00:00Z")),
            ..scene()
        })
        .unwrap();
    let push = PushedRecord {
        record_id: scene.header.id.clone(),
        kind: RecordKind::SceneAttendance,
        changes: changes_of(&nb, &scene.header.id),
    };
    desk.server.sync(&token, &request(None, vec![push])).await;

    let cases = [
        (unknown_reference(), SEARCH_DAY),              // never existed
        (kept.clone(), "2026-11-27"),                   // right reference, wrong date
        (erased.clone(), SEARCH_DAY),                   // erased
        (scene.header.reference.clone(), "2026-11-28"), // another kind
    ];
    let mut json_answers = Vec::new();
    let mut page_answers = Vec::new();
    for (reference, date) in &cases {
        json_answers.push(desk.json(reference, date).await);
        page_answers.push(desk.form(reference, date).await);
    }
    let first = &json_answers[0];
    assert_eq!(first.status, 404);
    assert_eq!(first.json()["error"], "not-found");
    assert!(
        first.json()["message"]
            .as_str()
            .unwrap()
            .contains("We could not find a record")
    );
    for answer in &json_answers {
        assert_eq!((answer.status, &answer.body), (first.status, &first.body));
        answer.assert_hardened();
    }
    let first = &page_answers[0];
    assert_eq!(first.status, 404);
    assert!(
        first
            .body
            .contains("We could not find a record with that reference and date")
    );
    for answer in &page_answers {
        assert_eq!((answer.status, &answer.body), (first.status, &first.body));
    }

    // The right pair still works, and every attempt was audited.
    assert_eq!(desk.json(&kept, SEARCH_DAY).await.status, 200);
    let refused = desk.server.audit("copy-refused");
    assert_eq!(refused.len(), 8);
    assert!(
        refused
            .iter()
            .all(|e| e.detail["reason"] == "not-found" && e.record_id.is_none())
    );
    assert_eq!(desk.server.audit("copy-issued").len(), 1);
    desk.assert_clean_audit();
}

#[tokio::test]
async fn mistyped_references_and_bad_dates_are_refused_before_any_lookup() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (_, reference) = desk.search(&nb, &token).await;

    let answer = desk.json(&mistyped(&reference), SEARCH_DAY).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "bad-reference");
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("check the reference on your receipt")
    );
    let page = desk.form("not a reference", SEARCH_DAY).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("check the reference on your receipt"));
    // The form comes back with what was typed, escaped.
    assert!(page.body.contains("value=\"not a reference\""));
    let hostile = desk.form("\"><script>x</script>", SEARCH_DAY).await;
    assert_eq!(hostile.status, 400);
    assert!(!hostile.body.contains("<script>x"));

    for (date, says) in [
        ("2026-11-30", "in the future"),
        ("2025-11-01", "kept for 12 months"),
        ("28/11/2026", "year-month-day"),
        ("2026-02-30", "year-month-day"),
    ] {
        let answer = desk.json(&reference, date).await;
        assert_eq!(answer.status, 400, "{date}");
        assert_eq!(answer.json()["error"], "bad-date");
        assert!(
            answer.json()["message"].as_str().unwrap().contains(says),
            "{date}: {}",
            answer.body
        );
    }

    // Refused before the lookup: audited with a reason, no reference, no record.
    let refused = desk.server.audit("copy-refused");
    assert_eq!(refused.len(), 7);
    for event in &refused {
        assert!(["bad-reference", "bad-date"].contains(&event.detail["reason"].as_str().unwrap()));
        assert!(event.detail.get("reference_key").is_none());
        assert!(event.record_id.is_none());
    }
    assert!(desk.server.audit("copy-issued").is_empty());
    // None of them counted against the reference: five wrong dates would
    // have locked it.
    assert_eq!(desk.json(&reference, SEARCH_DAY).await.status, 200);
    desk.assert_clean_audit();
}

#[tokio::test]
async fn oversized_unknown_and_non_form_bodies_are_refused() {
    let desk = Desk::start().await;
    let form = "application/x-www-form-urlencoded";

    let big = format!("reference={}&date=2026-11-28", "A".repeat(3000));
    let answer = desk.post("/copy", form, big.clone()).await;
    assert_eq!(answer.status, 413);
    answer.assert_hardened();
    assert!(answer.body.contains("<form"));
    assert_eq!(
        desk.post("/v1/copy", "application/json", big).await.status,
        413
    );

    let answer = desk.post("/copy", "application/json", "{}").await;
    assert_eq!(answer.status, 415);
    assert!(answer.body.contains("application/x-www-form-urlencoded"));
    assert_eq!(
        desk.post("/copy", "multipart/form-data; boundary=x", "")
            .await
            .status,
        415
    );
    let answer = desk.post("/v1/copy", "text/plain", "{}").await;
    assert_eq!(answer.status, 415);
    assert_eq!(answer.json()["error"], "unsupported-media-type");

    for (body, says) in [
        ("reference=AB&date=2026-11-28&name=Jo", "should not have"),
        ("reference=AB&reference=CD&date=2026-11-28", "twice"),
        (
            &*format!("reference={}&date=2026-11-28", "A".repeat(100)),
            "too long",
        ),
        ("reference=%C3&date=2026-11-28", "could not be read"),
        ("reference=&date=2026-11-28", "Enter the reference"),
    ] {
        let answer = desk.post("/copy", form, body.to_string()).await;
        assert_eq!(answer.status, 400, "{body}");
        assert!(answer.body.contains(says), "{body}: {}", answer.body);
        assert!(
            answer.body.contains("<label for=\"reference\">"),
            "the form is shown again"
        );
    }
    for body in [
        r#"{"reference":"AB","date":"2026-11-28","name":"Jo"}"#,
        r#"{"reference":"AB"}"#,
        "not json",
    ] {
        let answer = desk.post("/v1/copy", "application/json", body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.json()["error"], "malformed");
    }
    // Nothing here reached the lookup.
    assert!(desk.server.audit("copy-refused").is_empty());
}

#[tokio::test]
async fn a_client_is_throttled_after_twenty_attempts_for_an_hour() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (_, reference) = desk.search(&nb, &token).await;

    // Twenty attempts at once, all counted (malformed ones too).
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (http, url) = (desk.server.http.clone(), desk.server.url("/v1/copy"));
        let reference = if i % 2 == 0 {
            unknown_reference()
        } else {
            "nonsense".into()
        };
        attempts.spawn(async move {
            http.post(url)
                .json(&json!({"reference": reference, "date": SEARCH_DAY}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = attempts.join_next().await {
        assert_ne!(status.unwrap(), 429);
    }

    // The 21st is refused, even with the right reference and date.
    let answer = desk.json(&reference, SEARCH_DAY).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["error"], "too-many-attempts");
    let retry: u64 = answer.header("retry-after").parse().unwrap();
    assert!((1..=3601).contains(&retry), "{retry}");
    let page = desk.form(&reference, SEARCH_DAY).await;
    assert_eq!(page.status, 429);
    assert!(page.headers.contains_key("retry-after"));
    assert!(page.body.contains("too many attempts"));

    desk.advance(TimeDelta::seconds(3601));
    assert_eq!(desk.json(&reference, SEARCH_DAY).await.status, 200);
    // The two throttled attempts are not audited one by one: they are in
    // the summary the server writes (here, when it stops).
    let mut desk = desk;
    desk.stop().await;
    let refused = desk.server.audit("copy-refused");
    assert!(
        !refused
            .iter()
            .any(|e| e.detail["reason"] == "too-many-attempts")
    );
    let summary = refused
        .iter()
        .find(|e| e.detail.get("summary").is_some())
        .expect("a summary of the throttled attempts");
    assert_eq!(summary.detail["reasons"]["too-many-attempts"], 2);
    desk.assert_clean_audit();
}

#[tokio::test]
async fn a_reference_locks_after_five_failures_even_for_the_right_date() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (_, reference) = desk.search(&nb, &token).await;
    let (_, other) = desk.search(&nb, &token).await;

    for day in 20..25 {
        let answer = desk.json(&reference, &format!("2026-11-{day}")).await;
        assert_eq!(answer.status, 404);
    }
    let answer = desk.json(&reference, SEARCH_DAY).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["error"], "reference-locked");
    let retry: u64 = answer.header("retry-after").parse().unwrap();
    assert!((1..=3601).contains(&retry), "{retry}");
    // Written differently, it is the same reference.
    assert_eq!(
        desk.form(&reference.to_lowercase(), SEARCH_DAY)
            .await
            .status,
        429
    );
    // Another reference from the same client is not locked.
    assert_eq!(desk.json(&other, SEARCH_DAY).await.status, 200);

    desk.advance(TimeDelta::minutes(30));
    assert_eq!(desk.json(&reference, SEARCH_DAY).await.status, 429);
    desk.advance(TimeDelta::minutes(31));
    assert_eq!(desk.json(&reference, SEARCH_DAY).await.status, 200);

    // The three refusals by the lock are summarised, with the hashed
    // reference, so attempts on one reference stand out without holding it.
    let mut desk = desk;
    desk.stop().await;
    let refused = desk.server.audit("copy-refused");
    assert!(
        !refused
            .iter()
            .any(|e| e.detail["reason"] == "reference-locked")
    );
    let summary = refused
        .iter()
        .find(|e| e.detail.get("summary").is_some())
        .expect("a summary of the locked attempts");
    assert_eq!(summary.detail["reasons"]["reference-locked"], 3);
    let keys = summary.detail["keys"].as_object().unwrap();
    assert_eq!(keys.len(), 1);
    let (key, count) = keys.iter().next().unwrap();
    assert!(key.starts_with("ref:") && !key.contains(&reference));
    assert_eq!(count, 3);
    desk.assert_clean_audit();
}

#[tokio::test]
async fn station_staff_find_and_issue_copies_and_others_are_refused() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (id, reference) = desk.search(&nb, &token).await;
    desk.add("ST1", "Lewisham", Role::Staff);
    desk.add("PS9", "Brixton", Role::Supervisor);
    desk.add("PC2", "Lewisham", Role::Officer);
    desk.add("ST2", "Lewisham", Role::Staff);
    desk.server
        .storage
        .deactivate_officer("ST2", "2026-11-29T10:00:00Z", &|_| Vec::new())
        .unwrap();
    let storage = desk.server.storage.as_ref();
    let now = desk.now();
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();

    let found =
        staff::find_for_person(storage, now, "ST1", day, Some("high street"), Some("PC1")).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].record_id.as_str(), found[0].reference.as_str()),
        (id.as_str(), reference.as_str())
    );
    assert!(
        staff::find_for_person(storage, now, "ST1", day, Some("Acacia"), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        staff::find_for_person(storage, now, "ST1", day.pred_opt().unwrap(), None, None)
            .unwrap()
            .is_empty()
    );
    let copy = staff::issue_copy(storage, now, "ST1", &id).unwrap();
    assert_eq!(copy.reference, reference);
    assert_eq!(copy.officer.shoulder_number, "PC1");

    // A supervisor of another station sees nothing of Lewisham's.
    assert!(
        staff::find_for_person(storage, now, "PS9", day, None, None)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        staff::issue_copy(storage, now, "PS9", &id),
        Err(StaffError::NotFound(_))
    ));
    for who in ["PC2", "ST2", "NOBODY"] {
        assert!(matches!(
            staff::find_for_person(storage, now, who, day, None, None),
            Err(StaffError::NotAllowed(m)) if m.contains("station staff")
        ));
        assert!(matches!(
            staff::issue_copy(storage, now, who, &id),
            Err(StaffError::NotAllowed(_))
        ));
    }

    let lookups = desk.server.audit("staff-lookup");
    assert_eq!(lookups.len(), 4);
    assert_eq!(lookups[0].actor, "officer:ST1");
    assert_eq!(lookups[0].detail["results"], 1);
    let issued = desk.server.audit("copy-issued");
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor, "officer:ST1");
    assert_eq!(issued[0].record_id.as_deref(), Some(id.as_str()));
    desk.assert_clean_audit();
}

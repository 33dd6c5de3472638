//! The public copy of a stop and search over HTTP: found as JSON and as a
//! page, the one uniform answer for everything not found, the checks
//! before any lookup, bounded bodies, rate limits, the audit trail, and
//! the station staff's lookups.
//!
//! The server's clock is injected (a fixed day, moved forward by hand), so
//! no test depends on today's date and none sleeps out a window.

mod due;
mod hostile_text;
mod limits;
mod lookup;
mod refusals;
mod station_staff;

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
        self.search_with(nb, token, |_| {}).await
    }

    /// [`Desk::search`] with the search changed by `edit` first.
    async fn search_with(
        &self,
        nb: &Notebook,
        token: &str,
        edit: impl FnOnce(&mut StopSearch),
    ) -> (String, String) {
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
        edit(&mut search);
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

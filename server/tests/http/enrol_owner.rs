//! The notebook's officer sent with an enrolment code: a code issued for
//! someone else is refused (409) before it is spent, so no device is
//! registered and the code still works; the matching officer, or no
//! officer at all (a new notebook, an older device), enrols as before.
//! Each test runs on SQLite and, when a test database is configured
//! (`POCKETBOOK_TEST_DATABASE_URL`), on PostgreSQL.

use pocketbook_core::sync::wire::*;
use serde_json::{Value, json};

use crate::support::*;

async fn enrol(server: &TestServer, body: Value) -> reqwest::Response {
    server
        .http
        .post(server.url(ENROL_PATH))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The servers a test runs on: SQLite, and PostgreSQL when there is one.
async fn servers() -> Vec<TestServer> {
    let mut servers = vec![TestServer::start().await];
    servers.extend(TestServer::start_on_postgres().await);
    servers
}

fn body(code: &str, notebook_officer: Option<&str>) -> Value {
    let mut body = json!({"protocol": PROTOCOL_VERSION, "code": code, "device_label": "phone"});
    if let Some(number) = notebook_officer {
        body["notebook_officer"] = json!(number);
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_for_another_officer_than_the_notebooks_is_refused_unspent() {
    for server in servers().await {
        server.add_officer("PC1", "Lewisham");
        server.add_officer("PC2", "Lewisham");
        let code = server.code("PC1", 600);

        let refused = enrol(&server, body(&code, Some("PC2"))).await;
        assert_eq!(refused.status(), 409);
        let error: ErrorBody = refused.json().await.unwrap();
        assert_eq!(error.error, "notebook-of-another-officer");
        assert!(!error.message.contains("PC1") && !error.message.contains("PC2"));
        assert!(off_runtime(|| server.storage.devices().unwrap()).is_empty());
        let audited = server.audit("enrolment-refused");
        assert_eq!(audited.len(), 1);

        // Unspent: the right notebook enrols with it, once.
        let enrolled = enrol(&server, body(&code, Some("PC1"))).await;
        assert_eq!(enrolled.status(), 200);
        let answer: EnrolResponse = enrolled.json().await.unwrap();
        assert_eq!(answer.officer.shoulder_number, "PC1");
        let devices = off_runtime(|| server.storage.devices().unwrap());
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].officer, "PC1");
        let again = enrol(&server, body(&code, Some("PC1"))).await;
        assert_eq!(again.status(), 400);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_notebooks_officer_a_code_enrols_as_before() {
    for server in servers().await {
        server.add_officer("PC1", "Lewisham");
        let code = server.code("PC1", 600);
        let response = enrol(&server, body(&code, None)).await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_officer_that_is_no_shoulder_number_is_malformed_and_spends_nothing() {
    for server in servers().await {
        server.add_officer("PC1", "Lewisham");
        let code = server.code("PC1", 600);
        let long = "P".repeat(pocketbook_core::model::MAX_SHORT_LEN + 1);
        for number in ["", "  ", "PC\u{1b}[2J1", long.as_str()] {
            let response = enrol(&server, body(&code, Some(number))).await;
            assert_eq!(response.status(), 400, "{number:?}");
            let error: ErrorBody = response.json().await.unwrap();
            assert_eq!(error.error, "malformed", "{number:?}");
        }
        let wrong_type = enrol(
            &server,
            json!({"protocol": PROTOCOL_VERSION, "code": code, "notebook_officer": 7}),
        )
        .await;
        assert_eq!(wrong_type.status(), 400);
        assert!(off_runtime(|| server.storage.devices().unwrap()).is_empty());
        assert_eq!(enrol(&server, body(&code, Some("PC1"))).await.status(), 200);
    }
}

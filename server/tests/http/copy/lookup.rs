//! Finding a copy: as JSON and as a plain page, and the one answer for
//! everything not found.

use super::*;

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
    // The reference unlocks the copy: it is on the page, not in its
    // title, which a browser keeps in its history (and tab lists) after
    // the page itself, never cached, is gone.
    let title = &page.body[page.body.find("<title>").unwrap()..page.body.find("</title>").unwrap()];
    assert!(title.contains("Your record"), "{title}");
    assert!(!title.contains(&reference), "{title}");

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

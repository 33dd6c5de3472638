//! Refused before any lookup: mistyped references, bad dates, oversized,
//! unknown and non-form bodies.

use super::*;

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

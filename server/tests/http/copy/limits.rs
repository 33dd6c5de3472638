//! Rate limits: a client is throttled for an hour after twenty attempts,
//! a reference locks after five failures.

use super::*;

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

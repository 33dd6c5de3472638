//! Load: more requests than turns get 503 after a short wait, and floods
//! of throttled attempts are counted and summarised, not audited one by one.

use super::*;

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_wait_briefly_then_get_503() {
    let server = Edge::start(|config| {
        config.limits.max_concurrent_requests = 1;
        config.limits.queue_wait = Duration::from_millis(200);
        config.limits.body_read = GENEROUS;
    })
    .await;
    let http = reqwest::Client::new();
    // One enrolment holds the only turn while its body is still coming.
    let mut holder = socket_from("127.0.0.2", server.addr).await;
    holder
        .write_all(
            format!(
                "POST {ENROL_PATH} HTTP/1.1\r\nHost: pocketbook\r\nContent-Type: application/json\r\n\
                 Content-Length: 60\r\nConnection: close\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Let the server take the holder's request before the next one.
    let mut busy = None;
    for _ in 0..100 {
        let answer = http
            .post(server.url(ENROL_PATH))
            .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
            .send()
            .await
            .unwrap();
        if answer.status() == 503 {
            busy = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = busy.expect("a request beyond the limit is refused");
    assert_eq!(busy.headers()["retry-after"], "1");
    let error: ErrorBody = busy.json().await.unwrap();
    assert_eq!(error.error, "unavailable");
    // Health checks never wait for a turn.
    assert_eq!(server.health(&http).await, 200);

    // When the holder finishes, the next request is served.
    holder
        .write_all(format!("{:<59}", r#""protocol": 1, "code": "ZZZZZ-ZZZZZ"}"#).as_bytes())
        .await
        .unwrap();
    let said = until_closed(&mut holder).await;
    assert!(said.starts_with("HTTP/1.1 400"), "{said}");
    let after = http
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 400);
    let seen = metrics(&http, server.url("/metrics")).await;
    assert!(metric(&seen, r#"pocketbook_throttled_total{limit="busy"}"#) >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_floods_are_counted_and_summarised_not_audited_one_by_one() {
    const COPIES: usize = 240;
    const ENROLS: usize = 200;
    let mut server = Edge::start(|_| {}).await;
    let attacker = client_from("127.0.0.2");
    let before = server.audit_count();

    let statuses = copy_attempts(&attacker, &server.url("/v1/copy"), COPIES, 40, |_| None).await;
    let throttled_copies = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(throttled_copies, COPIES - 20, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 400 || s == 429));

    let mut throttled_enrols = 0;
    for _ in 0..ENROLS {
        let answer = attacker
            .post(server.url(ENROL_PATH))
            .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
            .send()
            .await
            .unwrap();
        match answer.status().as_u16() {
            400 => {}
            429 => {
                throttled_enrols += 1;
                assert!(answer.headers().contains_key("retry-after"));
                let error: ErrorBody = answer.json().await.unwrap();
                assert_eq!(error.error, "too-many-attempts");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(throttled_enrols, ENROLS - 10);

    // Someone else is served meanwhile: their enrolment works.
    server
        .storage
        .add_officer(
            &OfficerRow {
                shoulder_number: "PC1".into(),
                name: "Officer PC1".into(),
                station: "Lewisham".into(),
                role: pocketbook_server::scope::Role::Officer,
                active: true,
            },
            "2026-11-28T12:00:00Z",
            &[],
        )
        .unwrap();
    let code = pocketbook_server::auth::new_enrolment_code();
    server
        .storage
        .add_enrolment_code(
            &pocketbook_server::auth::hash(
                &pocketbook_server::auth::normalise_code(&code).unwrap(),
            ),
            "PC1",
            chrono::Utc::now().timestamp() + 600,
            "2026-11-28T12:00:00Z",
            &[],
        )
        .unwrap();
    let honest = client_from("127.0.0.3")
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": 1, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(honest.status(), 200);

    let seen = metrics(&reqwest::Client::new(), server.url("/metrics")).await;
    assert_eq!(
        metric(&seen, r#"pocketbook_throttled_total{limit="copy-client"}"#),
        throttled_copies as f64
    );
    assert_eq!(
        metric(&seen, r#"pocketbook_throttled_total{limit="enrol-client"}"#),
        throttled_enrols as f64
    );

    // Hundreds of refusals added: the attempts within the limits, one
    // enrolment, and one summary per action.
    server.stop().await;
    let added = server.audit_count() - before;
    assert_eq!(added, 20 + 10 + 1 + 2, "audit events added");
    for (action, count) in [
        ("copy-refused", throttled_copies),
        ("enrolment-refused", throttled_enrols),
    ] {
        let summaries: Vec<_> = server
            .audit(action)
            .into_iter()
            .filter(|e| e.detail.get("summary").is_some())
            .collect();
        assert_eq!(summaries.len(), 1, "{action}");
        assert_eq!(summaries[0].detail["count"], count as u64);
        assert_eq!(
            summaries[0].detail["reasons"]["too-many-attempts"],
            count as u64
        );
        assert!(!summaries[0].detail.to_string().contains("127.0.0"));
    }
}

#[tokio::test]
async fn throttled_refusals_are_summarised_each_window_while_the_server_runs() {
    let server = Edge::start(|config| {
        config.limits.audit_summary_every = Duration::from_millis(200);
    })
    .await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..15 {
        let answer = attacker
            .post(server.url(ENROL_PATH))
            .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ"}))
            .send()
            .await
            .unwrap();
        assert!([400, 429].contains(&answer.status().as_u16()));
    }
    // The five throttled attempts are summarised without a stop. On a
    // loaded machine the fifteen requests may span two windows, so the
    // counts are summed rather than expected in one event.
    let counted = |server: &Edge| -> Vec<u64> {
        server
            .audit("enrolment-refused")
            .into_iter()
            .filter_map(|e| e.detail.get("summary").and(e.detail.get("count")).cloned())
            .map(|count| count.as_u64().unwrap())
            .collect()
    };
    tokio::time::timeout(GENEROUS, async {
        while counted(&server).iter().sum::<u64>() < 5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the summaries within a few windows");
    // Windows with nothing refused write nothing.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let counts = counted(&server);
    assert_eq!(counts.iter().sum::<u64>(), 5, "{counts:?}");
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
}

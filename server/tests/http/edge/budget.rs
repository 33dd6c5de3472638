//! Many clients, each within its limits: the per-client limits bound what
//! one address may try, not how many addresses try (an IPv6 /48 holds
//! 65,536 /64 clients). Refused attempts at the public doors past the
//! hour's budget of single audit events are still answered as usual and
//! still counted against their client, but reach the audit trail as one
//! summary per window, so the public cannot grow the permanent trail
//! without bound. A copy given is always its own event.

use super::*;

const BUDGET: u32 = 5;

/// The copy door as `n` clients behind a trusted proxy, one attempt each.
async fn from_many_clients(server: &Edge, path: &str, n: usize, body: serde_json::Value) {
    let proxy = reqwest::Client::new();
    for i in 0..n {
        let answer = proxy
            .post(server.url(path))
            .header("x-forwarded-for", format!("2001:db8:0:{i:x}::1"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            400,
            "attempt {i}: each client is within its limit"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_past_the_hours_budget_are_summarised_not_audited_one_by_one() {
    let mut server = Edge::start(|config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        config.limits.audited_refusals_per_hour = BUDGET;
    })
    .await;
    from_many_clients(
        &server,
        "/v1/copy",
        30,
        json!({"reference": "nonsense", "date": "2026-11-28"}),
    )
    .await;
    from_many_clients(
        &server,
        ENROL_PATH,
        10,
        json!({"protocol": 2, "code": "ZZZZZ-ZZZZZ"}),
    )
    .await;
    let seen = metrics(&reqwest::Client::new(), server.url("/metrics")).await;
    assert_eq!(
        metric(&seen, r#"pocketbook_throttled_total{limit="audit-budget"}"#),
        (30 + 10 - BUDGET) as f64
    );

    server.stop().await;
    let events: Vec<_> = ["copy-refused", "enrolment-refused"]
        .into_iter()
        .flat_map(|action| server.audit(action))
        .collect();
    let (summaries, single): (Vec<_>, Vec<_>) = events
        .iter()
        .partition(|e| e.detail.get("summary").is_some());
    assert_eq!(single.len(), BUDGET as usize, "{single:?}");
    assert_eq!(summaries.len(), 2, "one summary per action: {summaries:?}");
    let summarised: u64 = summaries
        .iter()
        .map(|e| e.detail["count"].as_u64().unwrap())
        .sum();
    assert_eq!(summarised, u64::from(30 + 10 - BUDGET));
    assert!(!format!("{events:?}").contains("2001:db8"));
}

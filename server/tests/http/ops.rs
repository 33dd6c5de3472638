//! Liveness, readiness and metrics, with no personal data in the metrics.

use crate::support::*;

#[tokio::test]
async fn health_readiness_and_metrics_without_personal_data() {
    let server = TestServer::start().await;
    let token = server.device("PC4321", "Lewisham").await;
    let (_dir, nb) = notebook("PC4321");
    let push = new_search(&nb);
    server
        .sync(&token, &request(None, vec![push.clone()]))
        .await;
    let bad = server.post_raw(Some(&token), b"{".to_vec()).await;
    assert_eq!(bad.status(), 400);

    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"pocketbook_http_requests_total{endpoint="sync",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"pocketbook_http_requests_total{endpoint="sync",status="400"} 1"#));
    assert!(metrics.contains("pocketbook_sync_records_pushed_total 1"));
    assert!(metrics.contains(r#"pocketbook_sync_requests_total{outcome="ok"} 1"#));
    assert!(metrics.contains(r#"pocketbook_sync_requests_total{outcome="malformed"} 1"#));
    assert!(metrics.contains(r#"pocketbook_http_response_bytes_total{endpoint="sync"}"#));
    assert!(metrics.contains("pocketbook_http_request_duration_seconds"));
    for secret in ["PC4321", "Officer", &push.record_id, &token, "Lewisham"] {
        assert!(!metrics.contains(secret), "{secret} leaked into metrics");
    }
    let missing = server.http.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

//! Addresses: clients behind a trusted proxy are told apart, forged
//! headers are ignored, and metrics can live on an address of their own.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_clients_are_told_apart_and_forged_headers_are_ignored() {
    let server = Edge::start(|config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let url = server.url("/v1/copy");
    // The proxy (127.0.0.1) forwards client A's 21 attempts: the last is throttled...
    let proxy = reqwest::Client::new();
    let a = copy_attempts(&proxy, &url, 21, 21, |_| {
        Some("203.0.113.9, 198.51.100.1".into())
    })
    .await;
    assert_eq!(a.iter().filter(|&&s| s == 429).count(), 1, "{a:?}");
    // ... and client B, behind the same proxy, has a limit of their own.
    let b = copy_attempts(&proxy, &url, 1, 1, |_| Some("198.51.100.2".into())).await;
    assert_eq!(b, vec![400]);

    // A peer that is not a trusted proxy cannot pick its address: a new
    // X-Forwarded-For on every attempt changes nothing.
    let forger = client_from("127.0.0.3");
    let forged = copy_attempts(&forger, &url, 21, 21, |i| {
        Some(format!("198.51.100.{}", 100 + i))
    })
    .await;
    assert_eq!(
        forged.iter().filter(|&&s| s == 429).count(),
        1,
        "{forged:?}"
    );
    // Nor can it take the identity of a proxied client, or of the proxy.
    let spoof = copy_attempts(&forger, &url, 1, 1, |_| Some("198.51.100.2".into())).await;
    assert_eq!(spoof, vec![429]);
    let b_again = copy_attempts(&proxy, &url, 1, 1, |_| Some("198.51.100.2".into())).await;
    assert_eq!(b_again, vec![400]);
    assert_eq!(server.health(&proxy).await, 200);
}

#[tokio::test]
async fn metrics_can_have_their_own_address_and_are_then_not_public() {
    let server = Edge::start(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let http = reqwest::Client::new();
    assert_eq!(server.health(&http).await, 200);
    let public = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);

    let metrics_addr = server.server.as_ref().unwrap().metrics_addr.unwrap();
    assert_ne!(metrics_addr, server.addr);
    let own = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let text = own.text().await.unwrap();
    assert!(
        text.contains(r#"pocketbook_http_requests_total{endpoint="other",status="404"} 1"#),
        "{text}"
    );
    // The metrics address serves nothing else.
    let copy = http
        .post(format!("http://{metrics_addr}/v1/copy"))
        .json(&json!({"reference": "x", "date": "2026-11-28"}))
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 404);
}

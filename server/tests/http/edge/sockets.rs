//! Sockets: slow, idle and trickling clients, clients that stop reading,
//! oversized bodies and heads, and the connection cap.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_slow_and_idle_sockets_are_closed_and_health_still_answers() {
    const SLOW: usize = 300;
    const PER_CLIENT: usize = 20;
    let server = Edge::start(|config| {
        config.limits.header_read = Duration::from_millis(500);
        config.limits.max_connections_per_client = PER_CLIENT;
    })
    .await;
    // Half send part of a request head and stall; half send nothing.
    let mut sockets = Vec::new();
    for i in 0..SLOW {
        let mut socket = socket_from("127.0.0.2", server.addr).await;
        if i % 2 == 0 {
            socket
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: pocketbook\r\nX-Slow: ")
                .await
                .unwrap();
        }
        sockets.push(socket);
    }

    // Another client is served at once, while the slow ones are held.
    let http = reqwest::Client::new();
    assert_eq!(server.health(&http).await, 200);
    let seen = metrics(&http, server.url("/metrics")).await;
    let open = metric(&seen, "pocketbook_http_connections_open");
    assert!(
        (1.0..=(PER_CLIENT + 2) as f64).contains(&open),
        "{open} connections open"
    );

    // Every slow socket is closed by the server: those past the client's
    // share at once (told 503), the rest when their header time is up.
    let mut told_busy = 0;
    for socket in &mut sockets {
        let said = until_closed(socket).await;
        if said.starts_with("HTTP/1.1 503") {
            told_busy += 1;
        }
        assert!(
            said.is_empty() || said.starts_with("HTTP/1.1 503") || said.starts_with("HTTP/1.1 408"),
            "{said}"
        );
    }
    let seen = metrics(&http, server.url("/metrics")).await;
    assert!(
        metric(
            &seen,
            r#"pocketbook_throttled_total{limit="connections-per-client"}"#
        ) >= (SLOW - PER_CLIENT) as f64,
        "{seen}"
    );
    assert!(told_busy > 0);
    assert!(metric(&seen, "pocketbook_http_connections_open") <= 2.0);
    assert_eq!(server.health(&http).await, 200);
}

#[tokio::test]
async fn a_trickled_body_gets_408_and_an_oversized_one_413_while_others_are_served() {
    let server = Edge::start(|config| {
        config.limits.body_read = Duration::from_millis(500);
    })
    .await;
    let http = reqwest::Client::new();

    // Headers promise 200 bytes; 20 arrive, then nothing.
    let mut slow = socket_from("127.0.0.2", server.addr).await;
    slow.write_all(
        format!(
            "POST {ENROL_PATH} HTTP/1.1\r\nHost: pocketbook\r\nContent-Type: application/json\r\n\
             Content-Length: 200\r\n\r\n{{\"protocol\": 1, \"co"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(server.health(&http).await, 200);
    let said = until_closed(&mut slow).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("\"error\":\"request-timeout\""), "{said}");

    // Enrolment takes about 4 KB, whether declared or streamed.
    let big = json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ", "device_label": "x".repeat(5000)});
    let declared = http
        .post(server.url(ENROL_PATH))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    let error: ErrorBody = declared.json().await.unwrap();
    assert_eq!(error.error, "too-large");
    let mut chunked = socket_from("127.0.0.2", server.addr).await;
    let body = big.to_string();
    chunked
        .write_all(
            format!(
                "POST {ENROL_PATH} HTTP/1.1\r\nHost: pocketbook\r\nContent-Type: application/json\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let said = until_closed(&mut chunked).await;
    assert!(said.starts_with("HTTP/1.1 413"), "{said}");

    // A head larger than any honest one: 431, not a 500.
    let huge = http
        .get(server.url("/healthz"))
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 431);
    assert_eq!(server.health(&http).await, 200);
    // None of these reached the enrolment check.
    assert!(server.audit("enrolment-refused").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_answers_is_cut_off() {
    // More answers than the loopback socket buffers of both ends can hold.
    const PIPELINED: usize = 10_000;
    let server = Edge::start(|config| {
        config.limits.write_stall = Duration::from_millis(500);
        // Idle keep-alive would close the connection too; keep it out of the way.
        config.limits.header_read = GENEROUS * 4;
    })
    .await;
    let http = reqwest::Client::new();
    let socket = socket_from("127.0.0.2", server.addr).await;
    let (mut read, mut write) = socket.into_split();
    let requests = "GET /copy HTTP/1.1\r\nHost: pocketbook\r\n\r\n".repeat(PIPELINED);
    // Written from a task: the server stops reading once its writes stall.
    let writer = tokio::spawn(async move { write.write_all(requests.as_bytes()).await });

    // The server gives the connection up without this side reading a byte.
    let gone = tokio::time::timeout(GENEROUS, async {
        loop {
            let seen = metrics(&http, server.url("/metrics")).await;
            if metric(&seen, "pocketbook_http_connections_open") <= 1.0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the stalled connection is still open");
    let mut answers = Vec::new();
    // What was already in flight can still be read; then the end.
    let ended = tokio::time::timeout(GENEROUS, read.read_to_end(&mut answers)).await;
    assert!(ended.is_ok(), "the connection ends");
    let answered = answers
        .windows(b"HTTP/1.1 200".len())
        .filter(|w| w == b"HTTP/1.1 200")
        .count();
    assert!(answered < PIPELINED, "{answered} answers");
    writer.abort();
    assert_eq!(server.health(&http).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_never_holds_more_connections_than_its_cap() {
    const CAP: usize = 40;
    const SLOW: usize = 160;
    let server = Edge::start(|config| {
        config.limits.header_read = Duration::from_millis(300);
        config.limits.max_connections = CAP;
        config.limits.max_connections_per_client = SLOW;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics_url = format!(
        "http://{}/metrics",
        server.server.as_ref().unwrap().metrics_addr.unwrap()
    );
    // Slow sockets from many addresses, more than the cap.
    let mut sockets = Vec::new();
    for i in 0..SLOW {
        let mut socket = socket_from(&format!("127.0.1.{}", i % 200 + 1), server.addr).await;
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        sockets.push(socket);
    }
    // While they come and go, the public listener holds at most its cap
    // (the metrics address has its own, hence the one extra).
    let http = reqwest::Client::new();
    let mut most = 0.0_f64;
    for _ in 0..20 {
        let seen = metrics(&http, metrics_url.clone()).await;
        most = most.max(metric(&seen, "pocketbook_http_connections_open"));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(most >= 1.0 && most <= (CAP + 1) as f64, "{most} open");
    // Health answers once the header timeout has turned the slots over,
    // and every slow socket is closed by the server.
    let health = tokio::time::timeout(GENEROUS, server.health(&http)).await;
    assert_eq!(health.expect("health answers"), 200);
    for socket in &mut sockets {
        until_closed(socket).await;
    }
}

//! The server as operators run it: the binary with no flags, its ready
//! line, JSON logs without personal data, graceful shutdown that finishes
//! in-flight syncs, and gzip both ways.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use pocketbook_core::sync::wire::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

fn admin(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .current_dir(dir)
        .arg("admin")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_with_defaults_logs_json_and_stops_on_sigterm() {
    pocketbook_core::sync::client::install_crypto_provider();
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .arg("serve")
        .current_dir(cwd.path())
        // Not a flag: only the port differs from the defaults, so tests never collide.
        .env("POCKETBOOK_LISTEN", "127.0.0.1:0")
        .env("POCKETBOOK_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env_remove("POCKETBOOK_DATA_DIR")
        .env_remove("POCKETBOOK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    assert!(
        ready.starts_with("pocketbook-server listening on http://127.0.0.1:"),
        "{ready}"
    );
    let url = ready.split_whitespace().nth(3).unwrap().to_string();
    assert!(cwd.path().join("pocketbook-data/server.db").exists());

    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The admin commands work on the default data directory while the server runs.
    admin(
        cwd.path(),
        &[
            "officer",
            "add",
            "--shoulder-number",
            "PC8642",
            "--name",
            "Robin Banks",
            "--station",
            "Lewisham",
        ],
    );
    let code = admin(cwd.path(), &["device", "enrol", "--officer", "PC8642"]);
    let enrolled: serde_json::Value = http
        .post(format!("{url}{ENROL_PATH}"))
        .json(&serde_json::json!({"protocol": 1, "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = enrolled["token"].as_str().unwrap().to_string();
    let (_dir, nb) = notebook_of(serde_json::from_value(enrolled["officer"].clone()).unwrap());
    let push = new_search(&nb);
    let response = sync_with(
        http.clone(),
        format!("{url}{SYNC_PATH}"),
        token.clone(),
        request(None, vec![push.clone()]),
    )
    .await;
    assert_eq!(response.acknowledged.len(), 1);
    let listing = admin(cwd.path(), &["records", "list"]);
    assert!(listing.contains(&push.record_id), "{listing}");
    assert!(listing.contains("PC8642"));

    let logs = stop_and_read_logs(&mut child);
    assert!(logs.contains("device enrolled"), "{logs}");
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
    for secret in ["PC8642", "Robin", "Banks", &code, &token, &push.record_id] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[tokio::test]
async fn shutdown_finishes_a_sync_already_in_flight() {
    let mut server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let body = serde_json::to_vec(&request(None, vec![new_search(&nb)])).unwrap();
    let addr = server.server.as_ref().unwrap().addr;
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {SYNC_PATH} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let half = body.len() / 2;
    socket.write_all(&body[..half]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let shutdown = tokio::spawn(server.server.take().unwrap().shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!shutdown.is_finished(), "shutdown waits for the request");
    socket.write_all(&body[half..]).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"acknowledged\":[{"), "{answer}");
    shutdown.await.unwrap().unwrap();
    assert_eq!(server.storage.records().unwrap().len(), 1);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn gzip_requests_are_read_and_answers_are_gzipped_when_accepted() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let push = new_search(&nb);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&serde_json::to_vec(&request(None, vec![push.clone()])).unwrap())
        .unwrap();
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .post(server.url(SYNC_PATH))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut json)
        .unwrap();
    let answer: SyncResponse = serde_json::from_slice(&json).unwrap();
    assert_eq!(answer.acknowledged[0].record_id, push.record_id);

    let unknown = raw
        .post(server.url(SYNC_PATH))
        .bearer_auth(&token)
        .header("content-encoding", "br")
        .body(b"{}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 415);
}

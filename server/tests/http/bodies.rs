//! Device bodies no other test sends: content encodings stacked or spelt
//! otherwise (415, never inflated twice), bytes after the gzip stream (a
//! second member that would inflate past the limit, or garbage: 400, not
//! silently ignored), and a protocol that is no whole number (400, not a
//! 426 naming a protocol nobody sent). Each is refused before anything is
//! merged, and the device is served normally afterwards.

use std::io::Write;

use pocketbook_core::sync::wire::*;

use crate::support::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post(
    server: &TestServer,
    token: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, ErrorBody) {
    let mut request = server
        .http
        .post(server.url(SYNC_PATH))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn stacked_encodings_trailing_bytes_and_odd_protocols_are_refused_precisely() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let push = serde_json::to_vec(&request(None, vec![new_search(&nb)])).unwrap();

    for encoding in ["gzip, gzip", "x-gzip", "deflate", "br", "gzip;q=1"] {
        let (status, error) = post(&server, &token, Some(encoding), gzip(&gzip(&push))).await;
        assert_eq!(status, 415, "{encoding}");
        assert_eq!(error.error, "unsupported-encoding");
    }

    // One gzip stream, then more: a second member that would inflate past
    // the limit, or bytes that are no gzip at all.
    let bomb = gzip(&vec![b' '; MAX_REQUEST_BYTES + 1024]);
    for tail in [bomb, b"trailing garbage".to_vec()] {
        let body = [gzip(&push), tail].concat();
        let (status, error) = post(&server, &token, Some("gzip"), body).await;
        assert_eq!(status, 400, "{error:?}");
        assert_eq!(error.error, "malformed");
        assert!(
            error.message.contains("after the gzip stream"),
            "{}",
            error.message
        );
    }

    for protocol in ["-1", "2.0", "1e3", "4294967298"] {
        let body = format!(r#"{{"protocol": {protocol}}}"#).into_bytes();
        let (status, error) = post(&server, &token, None, body).await;
        assert_eq!(status, 400, "{protocol}: {error:?}");
        assert_eq!(error.error, "malformed");
        assert!(error.message.contains("whole number"), "{}", error.message);
    }
    // A whole number the server does not speak is still 426.
    let (status, error) = post(&server, &token, None, br#"{"protocol": 99}"#.to_vec()).await;
    assert_eq!(
        (status, error.error.as_str()),
        (426, "unsupported-protocol")
    );
    assert!(error.message.contains("protocol 99"), "{}", error.message);

    assert!(server.storage.records().unwrap().is_empty());
    let answer = server.sync(&token, &request(None, vec![])).await;
    assert!(answer.rejected.is_empty());
}

/// Content-coding names are case-insensitive (RFC 9110, section 8.4.1):
/// `GZIP` and `Gzip` are gzip, `IDENTITY` is none, and every bound holds
/// for them as for `gzip`: a bomb is 413 as it inflates, bytes after the
/// stream are 400.
#[tokio::test]
async fn content_codings_are_named_in_any_case_and_keep_every_bound() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");

    for (encoding, gzipped) in [("GZIP", true), ("Gzip", true), ("IDENTITY", false)] {
        let push = serde_json::to_vec(&request(None, vec![new_search(&nb)])).unwrap();
        let body = if gzipped { gzip(&push) } else { push };
        let response = server
            .http
            .post(server.url(SYNC_PATH))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{encoding}");
        let answer: SyncResponse = response.json().await.unwrap();
        assert_eq!(answer.acknowledged.len(), 1, "{encoding}: {answer:?}");
    }

    let bomb = gzip(&vec![b' '; MAX_REQUEST_BYTES + 1024]);
    let (status, error) = post(&server, &token, Some("GZIP"), bomb).await;
    assert_eq!((status, error.error.as_str()), (413, "too-large"));
    let push = serde_json::to_vec(&request(None, vec![new_search(&nb)])).unwrap();
    let body = [gzip(&push), b"trailing garbage".to_vec()].concat();
    let (status, error) = post(&server, &token, Some("Gzip"), body).await;
    assert_eq!(
        (status, error.error.as_str()),
        (400, "malformed"),
        "{error:?}"
    );
    assert_eq!(server.storage.records().unwrap().len(), 3);
}

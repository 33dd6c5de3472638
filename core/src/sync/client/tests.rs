use crate::sync::lifecycle::WipeReason;
use crate::tls_pin::Pin;
use reqwest::StatusCode;

use super::*;

#[test]
fn plain_http_only_to_loopback_and_https_only_with_something_to_trust() {
    let n = NetworkSettings::default();
    for url in [
        "http://127.0.0.1:8650",
        "http://localhost:8650",
        "http://[::1]:8650",
    ] {
        assert!(SyncClient::new(url, None, &n).is_ok(), "{url}");
    }
    for url in ["http://192.0.2.10:8650", "http://pocketbook.example.org"] {
        let err = SyncClient::new(url, None, &n).unwrap_err();
        assert!(matches!(err, ClientError::Settings(_)), "{url}: {err:?}");
        assert!(err.to_string().contains("loopback"), "{url}: {err}");
    }
    let err = SyncClient::new("https://pocketbook.example.org", None, &n).unwrap_err();
    assert!(err.to_string().contains("enrolment link"), "{err}");
    let pinned = pinned_url("https://pocketbook.example.org", &[Pin([3; 32])]).unwrap();
    assert!(SyncClient::new(&pinned, None, &n).is_ok());
    let bad = "https://pocketbook.example.org/#pin=sha256/nope";
    assert!(SyncClient::new(bad, None, &n).is_err());
}

#[test]
fn an_enrolment_link_gives_the_pinned_server_and_the_code() {
    let (a, b) = (Pin([1; 32]), Pin([2; 32]));
    let server = "https://pocketbook.example.org";
    let link = format!(
        "pocketbook://enrol?server={}&code=7KD3Q-9QW2H&pin={}&pin={}",
        "https%3A%2F%2Fpocketbook.example.org",
        url::form_urlencoded::byte_serialize(a.to_string().as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(b.to_string().as_bytes()).collect::<String>(),
    );
    let parsed = EnrolmentLink::parse(&link).unwrap();
    assert_eq!(parsed.code, "7KD3Q-9QW2H");
    assert_eq!(parsed.server_url, pinned_url(server, &[a, b]).unwrap());
    let trust = TlsTrust::of_url(&reqwest::Url::parse(&parsed.server_url).unwrap()).unwrap();
    assert_eq!(trust.pins, [a, b]);
    assert!(EnrolmentLink::parse("https://pocketbook.example.org").is_err());
    assert!(EnrolmentLink::parse("pocketbook://enrol?code=X").is_err());
    // A second server or code appended to a good link is refused, not
    // taken: the code (and then the token) would go where it said.
    let refused = |link: &str| match EnrolmentLink::parse(link) {
        Err(ClientError::Settings(message)) => message,
        other => panic!("{other:?}"),
    };
    let twice = format!("{link}&server=https%3A%2F%2Fattacker.example");
    assert_eq!(refused(&twice), "not an enrolment link: server given twice");
    assert_eq!(
        refused(&format!("{link}&code=AAAAA-AAAAA")),
        "not an enrolment link: code given twice"
    );
    let long = format!("{link}&x={}", "a".repeat(2048));
    assert!(refused(&long).contains("longer than 2048 bytes"));
}

fn answer(status: u16, body: serde_json::Value) -> ClientError {
    error_of(
        StatusCode::from_u16(status).unwrap(),
        body.to_string().as_bytes(),
    )
}

#[test]
fn a_closed_credential_with_wipe_orders_an_erasure() {
    let revoked = answer(
        401,
        serde_json::json!({"error": "device-revoked", "message": "m", "wipe": true}),
    );
    assert!(
        matches!(revoked, ClientError::Wipe(WipeReason::Revoked)),
        "{revoked:?}"
    );
    let retired = answer(
        401,
        serde_json::json!({"error": "device-retired", "message": "m", "wipe": true}),
    );
    assert!(
        matches!(retired, ClientError::Wipe(WipeReason::Retired)),
        "{retired:?}"
    );
}

#[test]
fn an_unknown_token_never_wipes() {
    for body in [
        serde_json::json!({"error": "unauthorised", "message": "unknown token"}),
        serde_json::json!({"error": "unauthorised", "message": "m", "wipe": false}),
        serde_json::json!({"error": "device-revoked", "message": "m"}),
        serde_json::json!("not an error body"),
    ] {
        let e = answer(401, body.clone());
        assert!(matches!(e, ClientError::Unauthorised(_)), "{body}: {e:?}");
    }
    // Only a 401 wipes: the flag on any other status is ignored.
    for status in [403, 409, 500] {
        let e = answer(
            status,
            serde_json::json!({"error": "device-revoked", "message": "m", "wipe": true}),
        );
        assert!(!matches!(e, ClientError::Wipe(_)), "{status}: {e:?}");
    }
}

/// A server's message reaches an app, a log or a terminal bounded and
/// inert, however long and whatever it holds.
#[test]
fn a_servers_message_is_cut_short_and_its_control_characters_made_inert() {
    let hostile = format!("bad\u{1b}[2J\u{9b}31m\u{202e}{}", "x".repeat(5_000_000));
    let ClientError::Refused { message, .. } = answer(
        400,
        serde_json::json!({"error": "bad-request", "message": hostile}),
    ) else {
        panic!("a 400 is a refusal");
    };
    assert!(message.chars().count() <= 501, "{}", message.len());
    assert!(
        message.starts_with("bad\u{FFFD}[2J\u{FFFD}31m\u{FFFD}x"),
        "{message:.40}"
    );
    assert!(message.ends_with('…'));
    assert!(!message.chars().any(char::is_control));
}

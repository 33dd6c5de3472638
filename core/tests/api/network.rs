//! Requests wait no longer than the app allows ([`NetworkSettings`]), and
//! a failure to reach the server says why (`ApiError::Offline { cause }`),
//! against real sockets on the loopback interface.

use std::net::TcpListener;
use std::time::Duration;

use pocketbook_core::ApiError;
use pocketbook_core::api::{default_network_settings, enrol_device_with_network};
use pocketbook_core::sync::client::{NetworkSettings, OfflineCause};

/// Short enough for a test, long enough for a loopback connect.
fn impatient() -> NetworkSettings {
    NetworkSettings {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_millis(300),
        overall_timeout: Duration::from_secs(2),
    }
}

async fn enrol(url: String, network: NetworkSettings) -> Result<(), ApiError> {
    let dir = tempfile::tempdir().unwrap();
    enrol_device_with_network(
        dir.path().display().to_string(),
        url,
        "ABCDE-FGHJK".into(),
        "test".into(),
        network,
    )
    .await
    .map(drop)
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_times_out() {
    // Accepts connections and keeps them open without reading or writing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let result = enrol(url, impatient()).await;
    assert!(
        matches!(
            result,
            Err(ApiError::Offline {
                reason: OfflineCause::Timeout,
                ..
            })
        ),
        "{result:?}"
    );
    drop(holder);
}

/// `server` with a pin in its fragment, as an enrolment link gives it.
fn pinned(server: &str) -> String {
    let pin = pocketbook_core::tls_pin::Pin([7; 32]);
    pocketbook_core::sync::client::pinned_url(server, &[pin]).unwrap()
}

#[tokio::test]
async fn nothing_listening_is_refused_and_a_bad_name_is_dns() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = enrol(format!("http://127.0.0.1:{port}"), impatient()).await;
    assert!(
        matches!(
            refused,
            Err(ApiError::Offline {
                reason: OfflineCause::Refused,
                ..
            })
        ),
        "{refused:?}"
    );
    // `.invalid` never resolves (RFC 6761). Plain http:// goes to loopback
    // only, so the name is tried over https, with a pin to trust.
    let unknown = enrol(pinned("https://pocketbook.invalid"), impatient()).await;
    assert!(
        matches!(
            unknown,
            Err(ApiError::Offline {
                reason: OfflineCause::Dns,
                ..
            })
        ),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_is_a_tls_failure() {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = pinned(&format!("https://{}", listener.local_addr().unwrap()));
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    let result = enrol(url, impatient()).await;
    assert!(
        matches!(
            result,
            Err(ApiError::Offline {
                reason: OfflineCause::Tls,
                ..
            })
        ),
        "{result:?}"
    );
}

/// Serves one TLS handshake with a certificate for `key` valid from
/// `not_before` to `not_after` (made with rcgen, as `tests/src/tls.rs`
/// does), then answers 400; returns the URL pinned to the key.
fn tls_server(key: &rcgen::KeyPair, not_before: i32, not_after: i32) -> String {
    use std::io::{Read, Write};
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(not_before, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after, 1, 1);
    let cert = params.self_signed(key).unwrap();
    let pin = pocketbook_core::tls_pin::Pin::of_certificate(cert.der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut tcp) = stream else { return };
            let mut conn =
                rustls::ServerConnection::new(std::sync::Arc::new(config.clone())).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut request = [0u8; 4096];
            if tls.read(&mut request).is_ok() {
                // The client may have gone: nothing to do about it here.
                drop(tls.write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                ));
            }
        }
    });
    // As the device stores it: the pin form-encoded in the fragment (a
    // base64 `+` written raw would read back as a space).
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("pin", &pin.to_string())
        .finish();
    format!("{url}/#{fragment}")
}

#[tokio::test]
async fn an_expired_certificate_with_the_pinned_key_is_its_own_error() {
    let key = rcgen::KeyPair::generate().unwrap();
    let expired = enrol(tls_server(&key, 2020, 2021), impatient()).await;
    assert!(
        matches!(
            expired,
            Err(ApiError::Offline {
                reason: OfflineCause::CertificateExpired,
                ..
            })
        ),
        "{expired:?}"
    );
    let early = enrol(tls_server(&key, 2090, 2091), impatient()).await;
    assert!(
        matches!(
            early,
            Err(ApiError::Offline {
                reason: OfflineCause::CertificateExpired,
                ..
            })
        ),
        "{early:?}"
    );
    // The control: the same key in a certificate within its dates passes
    // the handshake (the server then refuses the request itself).
    let current = enrol(tls_server(&key, 2020, 2090), impatient()).await;
    assert!(
        !matches!(current, Err(ApiError::Offline { .. })),
        "{current:?}"
    );
}

#[tokio::test]
async fn timeouts_out_of_range_are_refused_naming_each() {
    let mut network = default_network_settings();
    network.read_timeout = Duration::ZERO;
    network.overall_timeout = Duration::from_secs(3600);
    let result = enrol("http://127.0.0.1:9".into(), network).await;
    let Err(ApiError::Invalid { violations }) = result else {
        panic!("expected Invalid, got {result:?}");
    };
    let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["network.read_timeout", "network.overall_timeout"]);
}

#[test]
fn a_notebook_keeps_the_settings_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let nb = crate::support::notebook(&dir, "PC501");
    assert_eq!(nb.network_settings(), default_network_settings());
    assert_eq!(
        default_network_settings(),
        NetworkSettings {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(15),
            overall_timeout: Duration::from_secs(60),
        }
    );
    nb.set_network_settings(impatient()).unwrap();
    assert_eq!(nb.network_settings(), impatient());
    let mut zero = impatient();
    zero.connect_timeout = Duration::ZERO;
    assert!(matches!(
        nb.set_network_settings(zero),
        Err(ApiError::Invalid { .. })
    ));
    assert_eq!(
        nb.network_settings(),
        impatient(),
        "a refused setting changes nothing"
    );
}

#[tokio::test]
async fn unusable_sync_settings_are_bad_input_found_before_anything_is_sent() {
    // Each is a mistake on the device's side, not an answer from a server:
    // plain http:// off this machine, https:// with nothing to trust, a
    // malformed pin, and an enrolment link that is not one.
    for url in [
        "http://192.0.2.10:8650".to_string(),
        "https://pocketbook.example.org".to_string(),
        "https://pocketbook.example.org/#pin=sha256/nope".to_string(),
        "ftp://pocketbook.example.org".to_string(),
    ] {
        let result = enrol(url.clone(), impatient()).await;
        assert!(
            matches!(&result, Err(ApiError::BadInput { detail }) if !detail.contains("answer from the server")),
            "{url}: {result:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let result = pocketbook_core::api::enrol_with_link(
        dir.path().display().to_string(),
        vec![7; 32],
        "pocketbook://enrol?server=https%3A%2F%2Fpocketbook.example.org&code=ABCDE-FGHJK&pin=sha256%2Fshort"
            .into(),
        "test".into(),
    )
    .await;
    assert!(
        matches!(&result, Err(ApiError::BadInput { .. })),
        "{result:?}"
    );
}

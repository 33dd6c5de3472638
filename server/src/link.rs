//! The enrolment link `admin device enrol` prints beside the code: the
//! server's public URL, the one-time code and the SHA-256 pins of the keys
//! devices must see (the server's and a backup), so the officer's app
//! learns whom to trust from the same scan that enrols it. The pins are
//! configured, or derived from the certificate the server itself serves:
//! behind a proxy the key devices see is the proxy's, so `--tls-pin` names
//! it explicitly.

use std::path::PathBuf;

use pocketbook_core::tls_pin::{ENROLMENT_LINK_PREFIX as LINK_PREFIX, Pin};

/// Where devices reach the server and which keys they may trust.
#[derive(Debug, Clone, Default)]
pub struct LinkSettings {
    /// The URL devices use, e.g. `https://pocketbook.example.org`.
    pub public_url: Option<String>,
    /// The pin of the key devices see; else derived from `tls_cert`.
    pub pin: Option<String>,
    /// A second pin, for the key the server will move to: a device offline
    /// during a certificate change can still connect.
    pub backup_pin: Option<String>,
    /// The certificate the server itself serves (`serve --tls-cert`).
    pub tls_cert: Option<PathBuf>,
}

/// The link for `code`, or `None` when no public URL is configured.
/// Warnings (no backup pin) go to `warn`.
pub fn enrolment_link(
    settings: &LinkSettings,
    code: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<Option<String>, String> {
    let Some(public_url) = &settings.public_url else {
        return Ok(None);
    };
    check_public_url(public_url)?;
    let mut pins = Vec::new();
    match (&settings.pin, &settings.tls_cert) {
        (Some(pin), _) => pins.push(Pin::parse(pin).map_err(|e| format!("--tls-pin: {e}"))?),
        (None, Some(cert)) => {
            let der = crate::tls::leaf_certificate(cert)?;
            pins.push(Pin::of_certificate(der.as_ref())?);
        }
        (None, None) if public_url.starts_with("https://") => {
            return Err(
                "an https:// public URL needs the pin of the key devices will see: \
                 --tls-pin sha256/... (behind a proxy: the proxy's key) or --tls-cert FILE"
                    .into(),
            );
        }
        (None, None) => {}
    }
    match &settings.backup_pin {
        Some(pin) => pins.push(Pin::parse(pin).map_err(|e| format!("--tls-backup-pin: {e}"))?),
        None if !pins.is_empty() => warn(
            "no backup pin (--tls-backup-pin): a device that is offline while the server's key changes will have to enrol again",
        ),
        None => {}
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("server", public_url);
    query.append_pair("code", code);
    for pin in &pins {
        query.append_pair("pin", &pin.to_string());
    }
    Ok(Some(format!("{LINK_PREFIX}{}", query.finish())))
}

/// A public URL a device will use: `https://` with a host, or `http://`
/// to this machine's loopback (devices refuse plain HTTP elsewhere: the
/// same rule as the device's client), with no user or password (the link
/// is shown as a QR code and printed), no query and no fragment (a device
/// joins its paths to the URL and reads pins from a fragment). The URL is
/// not repeated in the refusal: a careless one may carry a password.
fn check_public_url(text: &str) -> Result<(), String> {
    const EXAMPLE: &str = "e.g. https://pocketbook.example.org";
    let url =
        url::Url::parse(text).map_err(|_| format!("--public-url is not a URL ({EXAMPLE})"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let problem = match url.scheme() {
        _ if url.host_str().is_none_or(str::is_empty) => Some("has no host"),
        "https" => None,
        "http" if loopback => None,
        "http" => Some("is http:// to another machine, which devices refuse: use https://"),
        _ => Some("must be https://"),
    }
    .or_else(|| {
        (!url.username().is_empty() || url.password().is_some())
            .then_some("must not carry a user or password: the link is shown and printed")
    })
    .or_else(|| {
        (url.query().is_some() || url.fragment().is_some())
            .then_some("must not have a query or fragment")
    });
    match problem {
        Some(problem) => Err(format!("--public-url {problem} ({EXAMPLE})")),
        None => Ok(()),
    }
}

/// `text` as a QR code drawn with Unicode half blocks, for a terminal.
pub fn qr(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| format!("QR code: {e}"))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_carries_url_code_and_both_pins() {
        let pin = Pin([1; 32]).to_string();
        let backup = Pin([2; 32]).to_string();
        let settings = LinkSettings {
            public_url: Some("https://pocketbook.example.org".into()),
            pin: Some(pin.clone()),
            backup_pin: Some(backup.clone()),
            tls_cert: None,
        };
        let link = enrolment_link(&settings, "7KD3Q-9QW2H", &mut |_| {})
            .unwrap()
            .unwrap();
        let query = link.strip_prefix(LINK_PREFIX).unwrap();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("server".into(), "https://pocketbook.example.org".into()),
                ("code".into(), "7KD3Q-9QW2H".into()),
                ("pin".into(), pin),
                ("pin".into(), backup),
            ]
        );
        assert!(qr(&link).unwrap().lines().count() > 10);
    }

    #[test]
    fn a_public_url_no_device_would_use_is_refused_without_echoing_it() {
        let pin = Some(Pin([1; 32]).to_string());
        let link = |url: &str| {
            let settings = LinkSettings {
                public_url: Some(url.into()),
                pin: pin.clone(),
                ..LinkSettings::default()
            };
            enrolment_link(&settings, "C", &mut |_| {})
        };
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "pocketbook.example.org",
            "http://pocketbook.example.org",
            "http://127.0.0.1.nip.io:8650",
            "https://admin:hunter2@pocketbook.example.org",
            "https://pocketbook.example.org/?code=X",
            "https://pocketbook.example.org/#pin",
            "https://",
        ] {
            let err = link(bad).unwrap_err();
            assert!(err.starts_with("--public-url"), "{bad}: {err}");
            assert!(!err.contains("hunter2") && !err.contains("nip.io"), "{err}");
        }
        for good in [
            "https://pocketbook.example.org",
            "https://pocketbook.example.org:8443/station/",
            "http://127.0.0.1:8650",
            "http://localhost:8650",
            "http://[::1]:8650",
        ] {
            assert!(link(good).unwrap().is_some(), "{good}");
        }
    }

    #[test]
    fn https_without_a_pin_is_refused_and_no_backup_is_a_warning() {
        let mut settings = LinkSettings {
            public_url: Some("https://pocketbook.example.org".into()),
            ..LinkSettings::default()
        };
        let err = enrolment_link(&settings, "C", &mut |_| {}).unwrap_err();
        assert!(err.contains("--tls-pin"), "{err}");
        settings.pin = Some(Pin([1; 32]).to_string());
        let mut warned = Vec::new();
        enrolment_link(&settings, "C", &mut |w| warned.push(w.to_string())).unwrap();
        assert_eq!(warned.len(), 1);
        settings.pin = Some("sha256/short".into());
        assert!(enrolment_link(&settings, "C", &mut |_| {}).is_err());
        settings.public_url = None;
        assert_eq!(enrolment_link(&settings, "C", &mut |_| {}), Ok(None));
    }
}

//! Public-key pins, shared by both ends: the server prints the pin of its
//! certificate's key in the enrolment link, the device trusts exactly the
//! pinned keys. A pin is the SHA-256 of the certificate's DER
//! SubjectPublicKeyInfo, written `sha256/<base64>` (the form HPKP and most
//! pinning tools use), so it survives a certificate renewed on the same
//! key and names a key, never a certificate authority.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// How an enrolment link starts: `pocketbook://enrol?server=URL&code=CODE&pin=PIN&pin=BACKUP`
/// (the server's `admin device enrol` writes it, the app reads it).
pub const ENROLMENT_LINK_PREFIX: &str = "pocketbook://enrol?";

/// The prefix of a pin's text.
pub const PIN_PREFIX: &str = "sha256/";

/// A SHA-256 SPKI pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    /// The pin of a DER certificate's public key.
    pub fn of_certificate(der: &[u8]) -> Result<Pin, String> {
        let spki = subject_public_key_info(der)?;
        Ok(Pin(Sha256::digest(spki).into()))
    }

    /// Reads `sha256/<base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<Pin, String> {
        let bad = || format!("{text:?} is not a pin (sha256/ and 44 base64 characters)");
        let encoded = text.trim().strip_prefix(PIN_PREFIX).ok_or_else(bad)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| bad())?;
        Ok(Pin(bytes.try_into().map_err(|_| bad())?))
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PIN_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }
}

/// One DER element read off the front of some bytes.
struct Element<'a> {
    tag: u8,
    /// Tag, length and content.
    whole: &'a [u8],
    content: &'a [u8],
    /// The bytes after it.
    rest: &'a [u8],
}

fn element(bytes: &[u8]) -> Result<Element<'_>, String> {
    let short = || "certificate: truncated DER".to_string();
    let (&tag, rest) = bytes.split_first().ok_or_else(short)?;
    let (&first, rest) = rest.split_first().ok_or_else(short)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err("certificate: bad DER length".into());
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(short());
    }
    let header = bytes.len() - rest.len();
    Ok(Element {
        tag,
        whole: &bytes[..header + len],
        content: &rest[..len],
        rest: &rest[len..],
    })
}

const SEQUENCE: u8 = 0x30;

/// The fields of an X.509 certificate's `TBSCertificate` after its
/// version (RFC 5280, 4.1): serialNumber first.
fn tbs_fields(der: &[u8]) -> Result<&[u8], String> {
    let certificate = element(der)?;
    let tbs = element(certificate.content)?;
    if certificate.tag != SEQUENCE || tbs.tag != SEQUENCE {
        return Err("not an X.509 certificate".into());
    }
    let first = element(tbs.content)?;
    // [0] version, when present.
    Ok(if first.tag == 0xa0 {
        first.rest
    } else {
        tbs.content
    })
}

/// When a certificate is valid, as Unix seconds: `notBefore` and
/// `notAfter` of its validity (RFC 5280, 4.1.2.5). The device checks them
/// for a pinned key too: a pin names a key, but an expired certificate
/// means the server is not being kept (or this device's clock is wrong).
pub fn validity(der: &[u8]) -> Result<(i64, i64), String> {
    let mut rest = tbs_fields(der)?;
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = element(rest)?.rest;
    }
    let validity = element(rest)?;
    if validity.tag != SEQUENCE {
        return Err("certificate: no validity".into());
    }
    let not_before = element(validity.content)?;
    let not_after = element(not_before.rest)?;
    Ok((time_of(&not_before)?, time_of(&not_after)?))
}

/// A DER `UTCTime` (`YYMMDDHHMMSSZ`, years 1950-2049) or
/// `GeneralizedTime` (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn time_of(time: &Element<'_>) -> Result<i64, String> {
    let bad = || "certificate: unreadable validity time".to_string();
    // ASCII first: the bytes come from the network, and slicing a string
    // that merely decodes as UTF-8 could cut a character in two.
    if !time.content.is_ascii() {
        return Err(bad());
    }
    let text = std::str::from_utf8(time.content).map_err(|_| bad())?;
    let full = match (time.tag, text.len()) {
        (0x17, 13) => {
            let yy: u32 = text[..2].parse().map_err(|_| bad())?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        (0x18, 15) => text.to_string(),
        _ => return Err(bad()),
    };
    chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%SZ")
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| bad())
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate (RFC 5280, 4.1).
fn subject_public_key_info(der: &[u8]) -> Result<&[u8], String> {
    let mut rest = tbs_fields(der)?;
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        rest = element(rest)?.rest;
    }
    let spki = element(rest)?;
    if spki.tag != SEQUENCE {
        return Err("certificate: no subject public key".into());
    }
    Ok(spki.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_of_a_certificate_is_the_hash_of_its_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        use rcgen::PublicKeyData as _;
        let expected = Pin(Sha256::digest(key.subject_public_key_info()).into());
        assert_eq!(Pin::of_certificate(cert.der()), Ok(expected));
        // The same key in a renewed certificate keeps its pin.
        let renewed = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert_eq!(Pin::of_certificate(renewed.der()), Ok(expected));
        assert_ne!(cert.der(), renewed.der());
    }

    #[test]
    fn a_validity_time_that_is_not_ascii_is_refused_not_a_panic() {
        // 13 bytes, as a UTCTime must be, starting with a 3-byte character.
        let content = "\u{20ac}010100000Z".as_bytes();
        assert_eq!(content.len(), 13);
        for tag in [0x17, 0x18] {
            let time = Element {
                tag,
                whole: content,
                content,
                rest: &[],
            };
            assert!(time_of(&time).is_err());
        }
    }

    #[test]
    fn a_certificates_validity_is_read_in_both_time_forms() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 2);
        params.not_after = rcgen::date_time_ymd(2051, 3, 4);
        let cert = params.self_signed(&key).unwrap();
        let day = |y, m, d| {
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp()
        };
        // 2020 is a UTCTime, 2051 a GeneralizedTime.
        assert_eq!(validity(cert.der()), Ok((day(2020, 1, 2), day(2051, 3, 4))));
        assert!(validity(b"\x30\x03\x02\x01").is_err());
    }

    #[test]
    fn a_pin_reads_back_and_refuses_other_text() {
        let pin = Pin([7; 32]);
        assert_eq!(Pin::parse(&pin.to_string()), Ok(pin));
        assert!(pin.to_string().starts_with("sha256/"));
        assert!(Pin::parse("sha256/AAAA").is_err());
        assert!(Pin::parse("md5/AAAA").is_err());
        assert!(Pin::of_certificate(b"\x30\x03\x02\x01").is_err());
        assert!(Pin::of_certificate(b"").is_err());
    }
}

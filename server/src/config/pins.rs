//! The TLS settings of the config: the certificate files, the pins
//! announced before a key change, and the pins devices were given at
//! enrolment, each checked to be a pin as it is read so a typing slip
//! stops the start and not a later reload.

use std::path::PathBuf;

use pocketbook_core::tls_pin::Pin;

use crate::tls::TlsFiles;

/// The pins to announce, each written exactly as a pin (`sha256/` and the
/// base64 of 32 bytes), at most
/// [`pocketbook_core::sync::wire::MAX_NEXT_PINS`]: what devices accept.
pub fn next_pins(pins: Vec<String>) -> Result<Vec<String>, String> {
    let pins: Vec<String> = pins.iter().map(|p| p.trim().to_string()).collect();
    pocketbook_core::sync::wire::check_next_pins(&pins)
        .map_err(|e| format!("--tls-next-pin / tls_next_pins: {e}"))?;
    Ok(pins)
}

/// The TLS files: both or neither.
pub fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<TlsFiles>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (None, None) => Ok(None),
        _ => Err("TLS needs both a certificate and its key (--tls-cert and --tls-key)".into()),
    }
}

/// One pin of the config (`key` names it in the refusal), when set.
pub fn pin(text: Option<&str>, key: &str) -> Result<Option<Pin>, String> {
    text.map(|text| Pin::parse(text).map_err(|e| format!("{key}: {e}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve;

    #[test]
    fn next_pins_come_from_the_file_and_must_be_pins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        let pin = pocketbook_core::tls_pin::Pin([9; 32]).to_string();
        std::fs::write(&path, format!("tls_next_pins = [\"{pin}\"]\n")).unwrap();
        assert_eq!(resolve(None, None, Some(&path)).unwrap().next_pins.len(), 1);
        std::fs::write(&path, "tls_next_pins = [\"sha256/short\"]\n").unwrap();
        let err = resolve(None, None, Some(&path)).unwrap_err();
        assert!(err.contains("tls_next_pins"), "{err}");
        assert!(next_pins(vec![pin; 5]).unwrap_err().contains("at most 4"));
    }

    #[test]
    fn the_pins_devices_were_given_come_from_the_file_and_must_be_pins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        let (pin, backup) = (Pin([7; 32]), Pin([9; 32]));
        std::fs::write(
            &path,
            format!("tls_pin = \"{pin}\"\ntls_backup_pin = \"{backup}\"\n"),
        )
        .unwrap();
        let given = resolve(None, None, Some(&path)).unwrap().device_pins;
        assert_eq!((given.pin, given.backup), (Some(pin), Some(backup)));
        std::fs::write(&path, "tls_backup_pin = \"sha256/short\"\n").unwrap();
        let err = resolve(None, None, Some(&path)).unwrap_err();
        assert!(err.contains("tls_backup_pin"), "{err}");
    }
}

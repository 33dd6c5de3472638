//! Where the device CLI finds the notebook's key: a file named by
//! `--key-file` / `POCKETBOOK_KEY_FILE`, or `POCKETBOOK_KEY` itself. Never
//! the key on the command line, where `ps` and shell history would show
//! it. Without either the notebook is stored unencrypted (local testing
//! only), and the CLI says so on stderr every time. A key file other
//! accounts can read is used, and named on stderr every time too
//! ([`exposure`]).

use std::path::Path;

use crate::{Failure, input_error, read_bounded};

/// Environment variable holding the key itself: 64 hex digits.
pub(crate) const KEY_ENV: &str = "POCKETBOOK_KEY";

/// The key, when one is given; a file wins over `POCKETBOOK_KEY`. A
/// warning about the file goes to `warnings`.
pub(crate) fn find(
    file: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<Option<Vec<u8>>, Failure> {
    if let Some(file) = file {
        return read(file, warnings).map(Some);
    }
    match std::env::var(KEY_ENV) {
        Ok(text) => parse(text.as_bytes()).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(input_error(format!("{KEY_ENV} must be 64 hex digits")))
        }
    }
}

/// The key in `file`, read no further than a key file can be (64 hex
/// digits and some white space), so a wrong path costs nothing. A file
/// other accounts can read adds a warning to `warnings` ([`exposure`]).
pub(crate) fn read(file: &Path, warnings: &mut Vec<String>) -> Result<Vec<u8>, Failure> {
    let key = parse(&read_bounded(file, MAX_KEY_FILE_BYTES)?)?;
    warnings.extend(exposure(file));
    Ok(key)
}

/// A warning when `file` can be read or written by accounts other than
/// its owner (any group or other bit of its mode: wider than 0600).
///
/// Warned, not refused, as the CLI does for a notebook without a key: the
/// key is the only way into the officer's notebook, and a file copied from
/// a card or share without Unix modes (which shows as 0777) must still open
/// it; what the CLI owes is to say, every time, that the key is exposed and
/// how to close it. Standard input (`-`) has no mode to judge.
#[cfg(unix)]
fn exposure(file: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    if file.as_os_str() == "-" {
        return None;
    }
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the key file {} can be read by other accounts (mode {mode:04o}): \
             anyone who can read it can open this notebook; make it the owner's \
             only (chmod 600)",
            file.display()
        )
    })
}

#[cfg(not(unix))]
fn exposure(_file: &Path) -> Option<String> {
    None
}

/// Longest key file read: 64 hex digits with generous white space.
const MAX_KEY_FILE_BYTES: usize = 4096;

/// A key file holds 64 hex digits (surrounding white space ignored) or the
/// 32 raw bytes.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    if bytes.len() == 32 {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).unwrap_or("").trim();
    let bad = || input_error("a key is 64 hex digits (or a file of 32 raw bytes)".into());
    if text.len() != 64 || !text.is_ascii() {
        return Err(bad());
    }
    (0..32)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad()))
        .collect()
}

/// Told on stderr whenever the notebook is opened without a key.
pub(crate) const PLAIN_WARNING: &str = "no key given (--key-file, POCKETBOOK_KEY_FILE or POCKETBOOK_KEY): \
     this notebook is stored unencrypted, for local testing only";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_64_hex_digits_or_32_bytes() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
        let key = parse(hex.as_bytes()).ok().unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!((key[1], key[31]), (0x11, 0xff));
        assert_eq!(parse(&[7; 32]).ok().unwrap(), vec![7; 32]);
        assert!(parse(b"0011").is_err());
        assert!(parse(&hex.replace('0', "g").into_bytes()).is_err());
    }
}

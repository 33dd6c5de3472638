//! The encrypted store: the app's 256-bit key, the key check kept beside
//! the store file, and the two file swaps that change how the file is
//! encrypted (a plaintext store encrypted on its first open with a key, and
//! a key change), each crash-safe.
//!
//! Why a key check: SQLCipher answers a wrong key exactly as it answers a
//! damaged file ("file is not a database"), and a damaged file is moved
//! aside. A wrong key must never cost the officer their notebook, so
//! `pocketbook.key-check` holds a salted SHA-256 of the key the store was
//! written with; a key that does not match it is refused before the store
//! is touched, and only a file that fails to open with the *right* key is
//! treated as damaged. The check reveals nothing usable: the key is 256
//! random bits, so its hash cannot be searched.
//!
//! The swaps write the new file beside the store, make it durable, and
//! rename it into place; `recover` (run before every open) finishes or
//! undoes a swap a crash interrupted, so every crash point leaves the old
//! store or the new one, never neither.
//!
//! One key change at a time: a key change holds an OS lock on
//! `pocketbook.rekey-lock` (created by the first key change; the lock is
//! released when its process ends, so a crash leaves none stale), and so
//! does `recover` while it clears a swap's leftovers. Two handles or two processes changing the key at once run
//! one after the other; the second finds the key it holds is no longer the
//! notebook's and is refused as [`KeyProblem::Wrong`], nothing changed,
//! rather than exporting from a file the first change replaced, and an
//! open never deletes the copy a running key change is writing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::{STORE_FILE, StoreError, crash_seam};

/// File beside the store holding its key check.
pub const KEY_CHECK_FILE: &str = "pocketbook.key-check";
/// A plaintext store being encrypted, before it replaces the store.
const ENCRYPTING: &str = "pocketbook.db.encrypting";
/// The plaintext store after it was replaced, until it is overwritten.
const PLAINTEXT_OLD: &str = "pocketbook.db.plaintext";
/// The store under its new key, before it replaces the store.
const REKEYING: &str = "pocketbook.db.rekeying";
/// The empty file a key change (and `recover`) holds locked.
const REKEY_LOCK: &str = "pocketbook.rekey-lock";
/// The first 16 bytes of every unencrypted SQLite file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
const CHECK_MAGIC: &str = "pocketbook-key-check 1";
const CHECK_DOMAIN: &[u8] = b"pocketbook store key check v1";

/// Why a key was refused. Apps see it as `ApiError::Key { problem }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum KeyProblem {
    /// The key is not the one this store was encrypted with. Nothing was
    /// changed: open it again with the right key.
    Wrong,
    /// The store is encrypted and was opened without a key.
    Missing,
    /// A key must be exactly 32 bytes (256 bits).
    Malformed,
    /// A key change (`rekey`) was interrupted, and the store is under the
    /// other of the two keys: open it with that one.
    RekeyInterrupted,
    /// The store is encrypted, its key check is missing and this key does
    /// not open it: a wrong key cannot be told from a damaged file, so
    /// nothing was changed.
    Unverifiable,
}

impl KeyProblem {
    /// A stable code for scripts (the device CLI prints it).
    pub fn code(self) -> &'static str {
        match self {
            KeyProblem::Wrong => "wrong",
            KeyProblem::Missing => "missing",
            KeyProblem::Malformed => "malformed",
            KeyProblem::RekeyInterrupted => "rekey-interrupted",
            KeyProblem::Unverifiable => "unverifiable",
        }
    }

    /// The readable message of the refusal.
    pub fn message(self) -> &'static str {
        match self {
            KeyProblem::Wrong => {
                "this key does not open this notebook; nothing was changed (use the key it was created with)"
            }
            KeyProblem::Missing => "this notebook is encrypted: open it with its key",
            KeyProblem::Malformed => "a notebook key must be exactly 32 bytes (256 bits)",
            KeyProblem::RekeyInterrupted => {
                "a key change was interrupted and the notebook is under the other key; open it with that key"
            }
            KeyProblem::Unverifiable => {
                "this key does not open this notebook and its key check is missing; nothing was changed"
            }
        }
    }
}

/// A store key: 256 bits the app keeps in the Android Keystore or the iOS
/// Keychain. Never printed; overwritten when dropped.
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// The key from its 32 bytes; any other length is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Key(KeyProblem::Malformed))?;
        Ok(StoreKey(key))
    }

    /// SQLCipher's raw-key form (`x'<64 hex digits>'`): the key is used as
    /// it is, without a password derivation, so opening stays fast.
    fn sql_literal(&self) -> String {
        let mut out = String::with_capacity(67);
        out.push_str("x'");
        for b in self.0 {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('\'');
        out
    }

    fn check_value(&self, salt: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(CHECK_DOMAIN);
        hash.update(salt);
        hash.update(self.0);
        hash.finalize().into()
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        // Best effort: the compiler may keep other copies.
        self.0 = [0; 32];
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// Keys the key check accepts: one, or two while a key change runs.
#[derive(Debug)]
pub(super) struct KeyCheck {
    entries: Vec<([u8; 16], [u8; 32])>,
}

impl KeyCheck {
    pub(super) fn accepts(&self, key: &StoreKey) -> bool {
        self.entries
            .iter()
            .any(|(salt, value)| key.check_value(salt) == *value)
    }

    /// Two keys: a key change was under way.
    pub(super) fn rekey_pending(&self) -> bool {
        self.entries.len() > 1
    }
}

/// Reads the key check beside the store; `None` when there is none.
pub(super) fn read_key_check(dir: &Path) -> Result<Option<KeyCheck>, StoreError> {
    use base64::Engine as _;
    let text = match std::fs::read_to_string(dir.join(KEY_CHECK_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let unreadable = || StoreError::Io(std::io::Error::other("the key check file is unreadable"));
    let mut lines = text.lines();
    if lines.next() != Some(CHECK_MAGIC) {
        return Err(unreadable());
    }
    let mut entries = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (salt, value) = line.split_once(' ').ok_or_else(unreadable)?;
        let engine = base64::engine::general_purpose::STANDARD;
        let salt = engine.decode(salt).map_err(|_| unreadable())?;
        let value = engine.decode(value).map_err(|_| unreadable())?;
        entries.push((
            salt.try_into().map_err(|_| unreadable())?,
            value.try_into().map_err(|_| unreadable())?,
        ));
    }
    if entries.is_empty() {
        return Err(unreadable());
    }
    Ok(Some(KeyCheck { entries }))
}

/// Writes the key check for `keys`, atomically (a temporary file renamed
/// into place, both made durable).
pub(super) fn write_key_check(dir: &Path, keys: &[&StoreKey]) -> Result<(), StoreError> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut text = format!("{CHECK_MAGIC}\n");
    for key in keys {
        let salt: [u8; 16] = rand::random();
        text.push_str(&format!(
            "{} {}\n",
            engine.encode(salt),
            engine.encode(key.check_value(&salt))
        ));
    }
    let tmp = dir.join(format!("{KEY_CHECK_FILE}.tmp"));
    {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(KEY_CHECK_FILE))?;
    sync_dir(dir)
}

/// What the store file holds, by its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FileState {
    /// No file, or an empty one: a new store.
    Absent,
    /// An unencrypted SQLite file.
    Plaintext,
    /// Anything else: an encrypted store, or a damaged or foreign file.
    Opaque,
}

pub(super) fn file_state(path: &Path) -> Result<FileState, StoreError> {
    use std::io::Read;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Absent),
        Err(e) => return Err(e.into()),
    };
    let mut head = Vec::with_capacity(16);
    Read::by_ref(&mut file).take(16).read_to_end(&mut head)?;
    Ok(if head.is_empty() {
        FileState::Absent
    } else if head == SQLITE_HEADER {
        FileState::Plaintext
    } else {
        FileState::Opaque
    })
}

/// Keys a connection just opened, before its first read.
pub(super) fn apply_key(conn: &Connection, key: &StoreKey) -> Result<(), StoreError> {
    // SQLCipher logs a wrong key to stderr (logcat) as an error; the store
    // reports it as a typed refusal instead.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.execute_batch(&format!("PRAGMA key = \"{}\";", key.sql_literal()))?;
    Ok(())
}

/// Finishes or undoes a file swap a crash interrupted, and removes the
/// half-written files a crash left. Run before the store is opened.
pub(super) fn recover(dir: &Path) -> Result<(), StoreError> {
    // A key change running in another handle or process is not a crash:
    // wait for it rather than delete the copy it is writing. (No lock
    // file: no key change ever ran here.)
    let _held = match OpenOptions::new().write(true).open(dir.join(REKEY_LOCK)) {
        Ok(file) => {
            file.lock()?;
            Some(file)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let store = dir.join(STORE_FILE);
    let old = dir.join(PLAINTEXT_OLD);
    if old.exists() {
        if store.exists() {
            // The encrypted store is in place (it was durable before the
            // renames): the plaintext copy only has to go.
            shred(&old)?;
        } else {
            // Between the two renames: the plaintext store goes back, and
            // the encryption runs again.
            std::fs::rename(&old, &store)?;
            sync_dir(dir)?;
        }
    }
    for name in [ENCRYPTING, REKEYING] {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let path = dir.join(format!("{name}{suffix}"));
            if path.exists() {
                std::fs::remove_file(path)?;
            }
        }
    }
    Ok(())
}

/// Copies the open store `conn` into a new file at `dir/name` encrypted
/// with `key`, keeping its schema version and application id, and makes
/// it durable.
fn export(
    conn: &Connection,
    dir: &Path,
    name: &str,
    key: &StoreKey,
) -> Result<PathBuf, StoreError> {
    let target = dir.join(name);
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let target_text = target
        .to_str()
        .ok_or_else(|| StoreError::Io(std::io::Error::other("store path is not UTF-8")))?;
    conn.execute(
        "ATTACH DATABASE ?1 AS exported KEY ?2",
        [target_text, &key.sql_literal()],
    )?;
    let copied = (|| -> Result<(), StoreError> {
        conn.query_row("SELECT sqlcipher_export('exported')", [], |_| Ok(()))?;
        conn.execute_batch(&format!(
            "PRAGMA exported.user_version = {version}; PRAGMA exported.application_id = {app_id};"
        ))?;
        Ok(())
    })();
    conn.execute_batch("DETACH DATABASE exported")?;
    copied?;
    File::open(&target)?.sync_all()?;
    Ok(target)
}

/// Encrypts the plaintext store of `dir` with `key`: the encrypted copy is
/// written and made durable, the plaintext store is renamed aside, the copy
/// renamed into place, and the plaintext file overwritten and removed.
/// `conn` is the open plaintext store; it is closed here.
pub(super) fn encrypt_plaintext(
    conn: Connection,
    dir: &Path,
    key: &StoreKey,
) -> Result<(), StoreError> {
    let store = dir.join(STORE_FILE);
    let encrypted = export(&conn, dir, ENCRYPTING, key)?;
    close(conn)?;
    crash_seam("encrypt-exported");
    let old = dir.join(PLAINTEXT_OLD);
    std::fs::rename(&store, &old)?;
    sync_dir(dir)?;
    crash_seam("encrypt-moved-aside");
    std::fs::rename(&encrypted, &store)?;
    sync_dir(dir)?;
    crash_seam("encrypt-renamed");
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", store.display()));
        if side.exists() {
            shred(&side)?;
        }
    }
    shred(&old)
}

/// Re-encrypts the store of `dir` under `new`: the copy is written and
/// made durable, the key check names both keys, the copy replaces the
/// store in one rename, and the key check then names the new key only.
/// `conn` is the open store; it is closed here.
pub(super) fn rekey(
    conn: Connection,
    dir: &Path,
    old: &StoreKey,
    new: &StoreKey,
) -> Result<(), StoreError> {
    let _held = rekey_lock(dir)?;
    // Another handle changed the key while this one waited or before: the
    // key held here is no longer the notebook's, and `conn` reads the file
    // that change replaced. Exporting it would undo that change.
    if read_key_check(dir)?.is_some_and(|check| !check.accepts(old)) {
        return Err(StoreError::Key(KeyProblem::Wrong));
    }
    let rekeyed = export(&conn, dir, REKEYING, new)?;
    close(conn)?;
    crash_seam("rekey-exported");
    write_key_check(dir, &[old, new])?;
    crash_seam("rekey-both-keys");
    std::fs::rename(&rekeyed, dir.join(STORE_FILE))?;
    sync_dir(dir)?;
    crash_seam("rekey-renamed");
    write_key_check(dir, &[new])
}

/// Waits for, then holds, the lock of key changes in `dir` until the file
/// returned is dropped.
fn rekey_lock(dir: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(REKEY_LOCK))?;
    file.lock()?;
    Ok(file)
}

fn close(conn: Connection) -> Result<(), StoreError> {
    conn.close().map_err(|(_, e)| StoreError::Sqlite(e))
}

/// Overwrites a file with zeros, makes that durable, and removes it: a
/// plaintext copy must not stay readable in the file system's free blocks
/// (best effort: flash storage may keep older copies of a block).
fn shred(path: &Path) -> Result<(), StoreError> {
    let len = std::fs::metadata(path)?.len();
    {
        let mut file = OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()?;
    }
    std::fs::remove_file(path)?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    // A directory's entry changes (renames) are durable once it is synced.
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_check_accepts_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = StoreKey::from_bytes(&[7; 32]).unwrap();
        let b = StoreKey::from_bytes(&[8; 32]).unwrap();
        assert!(read_key_check(dir.path()).unwrap().is_none());
        write_key_check(dir.path(), &[&a]).unwrap();
        let check = read_key_check(dir.path()).unwrap().unwrap();
        assert!(check.accepts(&a) && !check.accepts(&b) && !check.rekey_pending());
        write_key_check(dir.path(), &[&a, &b]).unwrap();
        let check = read_key_check(dir.path()).unwrap().unwrap();
        assert!(check.accepts(&a) && check.accepts(&b) && check.rekey_pending());
    }

    #[test]
    fn a_key_is_32_bytes_and_never_printed() {
        assert!(matches!(
            StoreKey::from_bytes(&[1; 31]),
            Err(StoreError::Key(KeyProblem::Malformed))
        ));
        let key = StoreKey::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
        assert_eq!(key.sql_literal().len(), 67);
    }
}

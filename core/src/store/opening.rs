//! Opening the store file: our SQLite settings and schema, and what to do
//! with a file that is not a Pocketbook store (move it aside, never delete
//! it), plus the device's Automerge actor kept in the store.

use std::path::{Path, PathBuf};

use automerge::ActorId;
use rusqlite::{Connection, ErrorCode, OptionalExtension};

use super::{APPLICATION_ID, StoreError, StoreKey, encryption, schema};

/// Opens the store file, encrypted with `key` when there is one, and
/// brings its schema up to date.
pub(super) fn open_checked(path: &Path, key: Option<&StoreKey>) -> Result<Connection, OpenFailure> {
    let mut conn = Connection::open(path)?;
    if let Some(key) = key {
        encryption::apply_key(&conn, key).map_err(OpenFailure::Store)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID && (app_id != 0 || objects != 0) {
        return Err(OpenFailure::Unreadable);
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", 2)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Erased records are overwritten, not just unlinked.
    conn.pragma_update(None, "secure_delete", true)?;
    schema::migrate(&mut conn).map_err(OpenFailure::Store)?;
    Ok(conn)
}

/// Why a file could not be opened as a store.
pub(super) enum OpenFailure {
    /// Not a Pocketbook store: move it aside.
    Unreadable,
    Store(StoreError),
}

impl OpenFailure {
    pub(super) fn into_error(self) -> StoreError {
        match self {
            OpenFailure::Unreadable => {
                StoreError::Io(std::io::Error::other("a fresh store could not be created"))
            }
            OpenFailure::Store(e) => e,
        }
    }
}

impl From<rusqlite::Error> for OpenFailure {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => OpenFailure::Unreadable,
            _ => OpenFailure::Store(e.into()),
        }
    }
}

/// Renames an unreadable store (and its WAL files) out of the way.
pub(super) fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let aside = path.with_extension(format!("db.corrupt-{stamp}"));
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            std::fs::rename(&side, format!("{}{suffix}", aside.display()))?;
        }
    }
    Ok(aside)
}

pub(super) fn load_or_create_actor(conn: &Connection) -> Result<ActorId, StoreError> {
    let existing: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'actor'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(bytes) = existing {
        return Ok(ActorId::from(bytes));
    }
    let actor = ActorId::random();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('actor', ?1)",
        [actor.to_bytes()],
    )?;
    Ok(actor)
}

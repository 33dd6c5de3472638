//! Officers, devices, enrolment codes and the principal behind a token, in
//! SQLite: the identity half of [`crate::storage::Storage`] for
//! [`SqliteStorage`].

use rusqlite::{ErrorCode, OptionalExtension, params};

use super::{SqliteStorage, all_rows, audit, backend, vocabulary};
use crate::identity::Role;
use crate::storage::{
    AuditOf, DeviceRow, NewAuditEvent, OfficerRow, Principal, RevokeReason, StorageError,
};

pub(super) fn role_of(text: String) -> rusqlite::Result<Role> {
    vocabulary(3, "role", text, Role::parse)
}

pub(super) fn officer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OfficerRow> {
    Ok(OfficerRow {
        shoulder_number: r.get(0)?,
        name: r.get(1)?,
        station: r.get(2)?,
        role: role_of(r.get(3)?)?,
        active: r.get(4)?,
    })
}

pub(super) fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        officer: r.get(1)?,
        label: r.get(2)?,
        enrolled_at: r.get(3)?,
        revoked_at: r.get(4)?,
        last_seen: r.get(5)?,
        revoke_reason: r
            .get::<_, Option<String>>(6)?
            .map(|text| vocabulary(6, "revoke reason", text, RevokeReason::parse))
            .transpose()?,
        retire_requested_at: r.get(7)?,
    })
}

pub(super) const OFFICER_COLUMNS: &str = "shoulder_number, name, station, role, active";
pub(super) const DEVICE_COLUMNS: &str =
    "id, officer, label, enrolled_at, revoked_at, last_seen, revoke_reason, retire_requested_at";

pub(super) fn add_officer(
    store: &SqliteStorage,
    officer: &OfficerRow,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write(|tx| {
        let result = tx.execute(
            "INSERT INTO officers (shoulder_number, name, station, role, active)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                officer.shoulder_number,
                officer.name,
                officer.station,
                officer.role.as_str(),
                officer.active
            ],
        );
        match result {
            Ok(_) => audit::append_in(tx, at, events),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => Err(
                StorageError::Duplicate("an officer with this shoulder number"),
            ),
            Err(e) => Err(backend(e)),
        }
    })
}

pub(super) fn officer(
    store: &SqliteStorage,
    shoulder_number: &str,
) -> Result<Option<OfficerRow>, StorageError> {
    store
        .conn()
        .query_row(
            &format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE shoulder_number = ?1"),
            [shoulder_number],
            officer_row,
        )
        .optional()
        .map_err(backend)
}

pub(super) fn deactivate_officer(
    store: &SqliteStorage,
    shoulder_number: &str,
    at: &str,
    events: AuditOf<'_, [String]>,
) -> Result<Vec<String>, StorageError> {
    store.write(|tx| {
        let changed = tx
            .execute(
                "UPDATE officers SET active = 0 WHERE shoulder_number = ?1",
                [shoulder_number],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::NotFound("officer with this shoulder number"));
        }
        let revoked = {
            let mut stmt = tx
                .prepare(
                    "UPDATE devices SET revoked_at = ?2, revoke_reason = ?3
                 WHERE officer = ?1 AND revoked_at IS NULL RETURNING id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![
                        shoulder_number,
                        at,
                        RevokeReason::OfficerDeactivated.as_str()
                    ],
                    |r| r.get::<_, String>(0),
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
        };
        audit::append_in(tx, at, &events(&revoked))?;
        Ok(revoked)
    })
}

pub(super) fn officers(store: &SqliteStorage) -> Result<Vec<OfficerRow>, StorageError> {
    all_rows(
        &store.conn(),
        &format!("SELECT {OFFICER_COLUMNS} FROM officers ORDER BY shoulder_number"),
        [],
        officer_row,
    )
}

pub(super) fn add_enrolment_code(
    store: &SqliteStorage,
    code_hash: &[u8],
    officer: &str,
    expires_at: i64,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write(|tx| {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM officers WHERE shoulder_number = ?1 AND active = 1",
                [officer],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StorageError::NotFound(
                "active officer with this shoulder number",
            ));
        }
        tx.execute(
            "INSERT INTO enrolment_codes (code_hash, officer, expires_at) VALUES (?1, ?2, ?3)",
            params![code_hash, officer, expires_at],
        )
        .map_err(backend)?;
        audit::append_in(tx, at, events)
    })
}

/// `device.officer` is empty to register the device for whoever the code
/// was issued for, or the officer the enrolling notebook already belongs
/// to: a code issued for anyone else is refused
/// ([`StorageError::CodeForAnotherOfficer`]) and stays unspent.
pub(super) fn redeem_enrolment_code(
    store: &SqliteStorage,
    code_hash: &[u8],
    now: i64,
    device: &DeviceRow,
    token_hash: &[u8],
    at: &str,
    events: AuditOf<'_, OfficerRow>,
) -> Result<OfficerRow, StorageError> {
    store.write(|tx| {
        let officer: Option<String> = tx
            .query_row(
                "UPDATE enrolment_codes SET used_at = ?2
                 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                 RETURNING officer",
                params![code_hash, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        let Some(officer) = officer else {
            return Err(StorageError::CodeRefused);
        };
        // The device's notebook belongs to someone else: the error rolls
        // the transaction back, so the code stays unspent.
        if !device.officer.is_empty() && device.officer != officer {
            return Err(StorageError::CodeForAnotherOfficer);
        }
        let row = tx
            .query_row(
                &format!(
                    "SELECT {OFFICER_COLUMNS} FROM officers
                     WHERE shoulder_number = ?1 AND active = 1"
                ),
                [&officer],
                officer_row,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StorageError::CodeRefused)?;
        tx.execute(
            "INSERT INTO devices (id, officer, token_hash, label, enrolled_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device.id,
                officer,
                token_hash,
                device.label,
                device.enrolled_at
            ],
        )
        .map_err(backend)?;
        audit::append_in(tx, at, &events(&row))?;
        Ok(row)
    })
}

pub(super) fn principal(
    store: &SqliteStorage,
    token_hash: &[u8],
) -> Result<Option<Principal>, StorageError> {
    let conn = store.conn();
    let device = conn
        .query_row(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"),
            [token_hash],
            device_row,
        )
        .optional()
        .map_err(backend)?;
    let Some(device) = device else {
        return Ok(None);
    };
    let officer = conn
        .query_row(
            &format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE shoulder_number = ?1"),
            [&device.officer],
            officer_row,
        )
        .optional()
        .map_err(backend)?;
    Ok(officer.map(|officer| Principal { device, officer }))
}

pub(super) fn device(store: &SqliteStorage, id: &str) -> Result<Option<DeviceRow>, StorageError> {
    store
        .conn()
        .query_row(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
            [id],
            device_row,
        )
        .optional()
        .map_err(backend)
}

pub(super) fn revoke_device(
    store: &SqliteStorage,
    id: &str,
    reason: RevokeReason,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write(|tx| {
        let changed = tx
            .execute(
                "UPDATE devices SET revoked_at = ?2, revoke_reason = ?3
                 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at, reason.as_str()],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::NotFound("active device with this id"));
        }
        audit::append_in(tx, at, events)
    })
}

pub(super) fn request_retire(
    store: &SqliteStorage,
    id: &str,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write(|tx| {
        let changed = tx
            .execute(
                "UPDATE devices SET retire_requested_at = coalesce(retire_requested_at, ?2)
                 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::NotFound("active device with this id"));
        }
        audit::append_in(tx, at, events)
    })
}

pub(super) fn devices(store: &SqliteStorage) -> Result<Vec<DeviceRow>, StorageError> {
    all_rows(
        &store.conn(),
        &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY enrolled_at"),
        [],
        device_row,
    )
}

pub(super) fn touch_device(
    store: &SqliteStorage,
    device_id: &str,
    at: &str,
) -> Result<(), StorageError> {
    store
        .conn()
        .execute(
            "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
            params![device_id, at],
        )
        .map_err(backend)?;
    Ok(())
}

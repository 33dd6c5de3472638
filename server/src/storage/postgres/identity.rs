//! Officers, devices, enrolment codes and the principal behind a token, in
//! PostgreSQL: the identity half of [`crate::storage::Storage`] for
//! [`PostgresStorage`]. A code is used once across every instance: the
//! redeeming `UPDATE ... WHERE used_at IS NULL` locks its row, so a second
//! redeemer waits and then finds it used.

use postgres::Row;
use postgres::error::SqlState;

use super::{PostgresStorage, audit, backend, col, vocabulary};
use crate::identity::Role;
use crate::storage::{
    AuditOf, DeviceRow, NewAuditEvent, OfficerRow, Principal, RevokeReason, StorageError,
};

const OFFICER_COLUMNS: &str = "shoulder_number, name, station, role, active";
const DEVICE_COLUMNS: &str =
    "id, officer, label, enrolled_at, revoked_at, last_seen, revoke_reason, retire_requested_at";

fn officer_row(r: &Row) -> Result<OfficerRow, StorageError> {
    Ok(OfficerRow {
        shoulder_number: col(r, 0)?,
        name: col(r, 1)?,
        station: col(r, 2)?,
        role: vocabulary("role", col(r, 3)?, Role::parse)?,
        active: col(r, 4)?,
    })
}

fn device_row(r: &Row) -> Result<DeviceRow, StorageError> {
    Ok(DeviceRow {
        id: col(r, 0)?,
        officer: col(r, 1)?,
        label: col(r, 2)?,
        enrolled_at: col(r, 3)?,
        revoked_at: col(r, 4)?,
        last_seen: col(r, 5)?,
        revoke_reason: col::<Option<&str>>(r, 6)?
            .map(|text| vocabulary("revoke reason", text, RevokeReason::parse))
            .transpose()?,
        retire_requested_at: col(r, 7)?,
    })
}

pub(super) fn add_officer(
    store: &PostgresStorage,
    officer: &OfficerRow,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write_audited(|tx, prepared| {
        let result = tx.execute(
            "INSERT INTO officers (shoulder_number, name, station, role, active)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &officer.shoulder_number,
                &officer.name,
                &officer.station,
                &officer.role.as_str(),
                &officer.active,
            ],
        );
        match result {
            Ok(_) => audit::stage_in(tx, prepared, at, events),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(
                StorageError::Duplicate("an officer with this shoulder number"),
            ),
            Err(e) => Err(backend(e)),
        }
    })
}

pub(super) fn officer(
    store: &PostgresStorage,
    shoulder_number: &str,
) -> Result<Option<OfficerRow>, StorageError> {
    store.read(|c| {
        c.query_opt(
            &format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE shoulder_number = $1"),
            &[&shoulder_number],
        )
        .map_err(backend)?
        .as_ref()
        .map(officer_row)
        .transpose()
    })
}

pub(super) fn officers(store: &PostgresStorage) -> Result<Vec<OfficerRow>, StorageError> {
    store.read(|c| {
        c.query(
            &format!("SELECT {OFFICER_COLUMNS} FROM officers ORDER BY shoulder_number"),
            &[],
        )
        .map_err(backend)?
        .iter()
        .map(officer_row)
        .collect()
    })
}

pub(super) fn deactivate_officer(
    store: &PostgresStorage,
    shoulder_number: &str,
    at: &str,
    events: AuditOf<'_, [String]>,
) -> Result<Vec<String>, StorageError> {
    store.write_audited(|tx, prepared| {
        let changed = tx
            .execute(
                "UPDATE officers SET active = FALSE WHERE shoulder_number = $1",
                &[&shoulder_number],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::NotFound("officer with this shoulder number"));
        }
        let mut revoked: Vec<String> = tx
            .query(
                "UPDATE devices SET revoked_at = $2, revoke_reason = $3
                 WHERE officer = $1 AND revoked_at IS NULL RETURNING id",
                &[
                    &shoulder_number,
                    &at,
                    &RevokeReason::OfficerDeactivated.as_str(),
                ],
            )
            .map_err(backend)?
            .iter()
            .map(|r| col(r, 0))
            .collect::<Result<_, _>>()?;
        revoked.sort();
        audit::stage_in(tx, prepared, at, &events(&revoked))?;
        Ok(revoked)
    })
}

/// Locks the officer's row against a concurrent deactivation until the
/// transaction ends; `true` if the officer exists and is active.
fn active_officer_locked(
    tx: &mut postgres::Transaction<'_>,
    officer: &str,
) -> Result<Option<OfficerRow>, StorageError> {
    tx.query_opt(
        &format!(
            "SELECT {OFFICER_COLUMNS} FROM officers
             WHERE shoulder_number = $1 AND active FOR SHARE"
        ),
        &[&officer],
    )
    .map_err(backend)?
    .as_ref()
    .map(officer_row)
    .transpose()
}

pub(super) fn add_enrolment_code(
    store: &PostgresStorage,
    code_hash: &[u8],
    officer: &str,
    expires_at: i64,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write_audited(|tx, prepared| {
        if active_officer_locked(tx, officer)?.is_none() {
            return Err(StorageError::NotFound(
                "active officer with this shoulder number",
            ));
        }
        tx.execute(
            "INSERT INTO enrolment_codes (code_hash, officer, expires_at) VALUES ($1, $2, $3)",
            &[&code_hash, &officer, &expires_at],
        )
        .map_err(backend)?;
        audit::stage_in(tx, prepared, at, events)
    })
}

/// `device.officer` is empty to register the device for whoever the code
/// was issued for, or the officer the enrolling notebook already belongs
/// to: a code issued for anyone else is refused
/// ([`StorageError::CodeForAnotherOfficer`]) and stays unspent.
pub(super) fn redeem_enrolment_code(
    store: &PostgresStorage,
    code_hash: &[u8],
    now: i64,
    device: &DeviceRow,
    token_hash: &[u8],
    at: &str,
    events: AuditOf<'_, OfficerRow>,
) -> Result<OfficerRow, StorageError> {
    store.write_audited(|tx, prepared| {
        let officer: Option<String> = tx
            .query_opt(
                "UPDATE enrolment_codes SET used_at = $2
                 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING officer",
                &[&code_hash, &now],
            )
            .map_err(backend)?
            .map(|r| col(&r, 0))
            .transpose()?;
        let Some(officer) = officer else {
            return Err(StorageError::CodeRefused);
        };
        // The device's notebook belongs to someone else: the error rolls
        // the transaction back, so the code stays unspent.
        if !device.officer.is_empty() && device.officer != officer {
            return Err(StorageError::CodeForAnotherOfficer);
        }
        let row = active_officer_locked(tx, &officer)?.ok_or(StorageError::CodeRefused)?;
        tx.execute(
            "INSERT INTO devices (id, officer, token_hash, label, enrolled_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &device.id,
                &officer,
                &token_hash,
                &device.label,
                &device.enrolled_at,
            ],
        )
        .map_err(backend)?;
        audit::stage_in(tx, prepared, at, &events(&row))?;
        Ok(row)
    })
}

pub(super) fn principal(
    store: &PostgresStorage,
    token_hash: &[u8],
) -> Result<Option<Principal>, StorageError> {
    // One round trip: the device and its officer joined.
    let columns = format!(
        "{}, {}",
        DEVICE_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        OFFICER_COLUMNS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // A prepared statement: every request of every device asks this.
    let rows = store.query_prepared(
        &format!(
            "SELECT {columns} FROM devices d
             JOIN officers o ON o.shoulder_number = d.officer
             WHERE d.token_hash = $1"
        ),
        &[&token_hash],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let device = device_row(r)?;
    let officer = OfficerRow {
        shoulder_number: col(r, 8)?,
        name: col(r, 9)?,
        station: col(r, 10)?,
        role: vocabulary("role", col(r, 11)?, Role::parse)?,
        active: col(r, 12)?,
    };
    Ok(Some(Principal { device, officer }))
}

pub(super) fn device(store: &PostgresStorage, id: &str) -> Result<Option<DeviceRow>, StorageError> {
    store.read(|c| {
        c.query_opt(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1"),
            &[&id],
        )
        .map_err(backend)?
        .as_ref()
        .map(device_row)
        .transpose()
    })
}

pub(super) fn devices(store: &PostgresStorage) -> Result<Vec<DeviceRow>, StorageError> {
    store.read(|c| {
        c.query(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY enrolled_at, id"),
            &[],
        )
        .map_err(backend)?
        .iter()
        .map(device_row)
        .collect()
    })
}

pub(super) fn revoke_device(
    store: &PostgresStorage,
    id: &str,
    reason: RevokeReason,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write_audited(|tx, prepared| {
        let changed = tx
            .execute(
                "UPDATE devices SET revoked_at = $2, revoke_reason = $3
                 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at, &reason.as_str()],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::NotFound("active device with this id"));
        }
        audit::stage_in(tx, prepared, at, events)
    })
}

pub(super) fn request_retire(
    store: &PostgresStorage,
    id: &str,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    store.write_audited(|tx, prepared| {
        let changed = tx
            .execute(
                "UPDATE devices SET retire_requested_at = coalesce(retire_requested_at, $2)
                 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::NotFound("active device with this id"));
        }
        audit::stage_in(tx, prepared, at, events)
    })
}

pub(super) fn touch_device(
    store: &PostgresStorage,
    device_id: &str,
    at: &str,
) -> Result<(), StorageError> {
    // A prepared statement: every sync of every device does this.
    store
        .query_prepared(
            "UPDATE devices SET last_seen = $2 WHERE id = $1",
            &[&device_id, &at],
        )
        .map(|_| ())
}

//! Who is who: the identity types every other server module speaks in
//! (an officer and their [`Role`], an enrolled device, the [`Principal`]
//! a request acts as, and why a device was closed). They sit at the
//! bottom: they depend on nothing else in the server, so `scope`,
//! `storage`, `auth` and the command line all point down at them.

use std::fmt;
use std::str::FromStr;

/// An officer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Officer,
    Supervisor,
    Staff,
    Admin,
}

impl Role {
    pub const ALL: &[Role] = &[Role::Officer, Role::Supervisor, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == text)
    }

    /// Whether the role writes records in the field.
    pub fn records_in_the_field(self) -> bool {
        matches!(self, Role::Officer | Role::Supervisor)
    }
}

/// A role name that is none of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected officer, supervisor, staff or admin)")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::parse(text).ok_or(UnknownRole)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An officer as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfficerRow {
    pub shoulder_number: String,
    pub name: String,
    pub station: String,
    pub role: Role,
    pub active: bool,
}

/// An enrolled device (never its token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub officer: String,
    pub label: String,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
    pub last_seen: Option<String>,
    /// Why the device stopped (`None` while it is active, and for devices
    /// closed before the reason was kept).
    pub revoke_reason: Option<RevokeReason>,
    /// When an admin asked for the device to be handed back.
    pub retire_requested_at: Option<String>,
}

/// Why a device's credential was closed. Each one tells the device to wipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevokeReason {
    /// Lost or stolen: cut off at once.
    Revoked,
    /// Handed back after uploading everything.
    Retired,
    /// Its officer was deactivated.
    OfficerDeactivated,
}

impl RevokeReason {
    pub const ALL: &[RevokeReason] = &[
        RevokeReason::Revoked,
        RevokeReason::Retired,
        RevokeReason::OfficerDeactivated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Revoked => "revoked",
            RevokeReason::Retired => "retired",
            RevokeReason::OfficerDeactivated => "officer-deactivated",
        }
    }

    pub fn parse(text: &str) -> Option<RevokeReason> {
        RevokeReason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == text)
    }
}

/// A device together with its officer, as a sync request sees it. The
/// device may be revoked: authentication decides what that means.
#[derive(Debug, Clone)]
pub struct Principal {
    pub device: DeviceRow,
    pub officer: OfficerRow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_their_json() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        for reason in RevokeReason::ALL {
            assert_eq!(RevokeReason::parse(reason.as_str()), Some(*reason));
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
        assert_eq!("chief".parse::<Role>(), Err(UnknownRole));
        assert_eq!(RevokeReason::parse("lost"), None);
    }
}

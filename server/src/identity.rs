//! Who is who: the identity types every other server module speaks in
//! (an officer and their [`Role`], an enrolled device, the [`Principal`]
//! a request acts as, and why a device was closed). They sit at the
//! bottom: they depend on nothing else in the server, so `scope`,
//! `storage`, `auth` and the command line all point down at them.

/// An officer's role, and the error of a role name that is none: the
/// core's, since both ends decide scope by the one rule
/// (`pocketbook_core::rules::scope`).
pub use pocketbook_core::rules::{Role, UnknownRole};

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

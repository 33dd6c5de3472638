//! The end of a device's life with a server: the remote wipe of a revoked
//! device and the retirement of one handed back (docs/sync-protocol.md,
//! "Revocation, retirement and wipe").
//!
//! The decisions are pure functions here, so they are tested without a
//! server; `api::Notebook::sync` acts on them.

/// Why the server ordered this device erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum WipeReason {
    /// Cut off by an admin (lost or stolen, or the officer left): code
    /// `device-revoked`. Unsynced changes on the device are lost.
    Revoked,
    /// Handed back: the device confirmed everything was uploaded (`POST
    /// /v1/retire`), or called again after retiring (code `device-retired`).
    Retired,
}

impl WipeReason {
    /// The reason named by a 401 `wipe` answer's error code. Any code other
    /// than `device-retired` is read as a revocation: the device cannot know
    /// its changes were uploaded, so it must not claim they were.
    pub fn from_code(code: &str) -> Self {
        match code {
            "device-retired" => WipeReason::Retired,
            _ => WipeReason::Revoked,
        }
    }

    /// The wire code of this reason.
    pub fn code(self) -> &'static str {
        match self {
            WipeReason::Revoked => "device-revoked",
            WipeReason::Retired => "device-retired",
        }
    }

    /// What the app shows after the erasure: what happened and what to do,
    /// with no personal data.
    pub fn message(self) -> &'static str {
        match self {
            WipeReason::Revoked => {
                "an administrator revoked this device: its notebook has been erased; enrol again to continue"
            }
            WipeReason::Retired => {
                "this device was handed back: everything was uploaded and its notebook erased"
            }
        }
    }
}

/// Whether a sync that ended goes on to retire the device: the last
/// answer carried `retire` and no page is waiting (`more` false). Whether
/// it then erases itself is [`may_erase_for_retirement`], decided with the
/// store held.
pub fn asked_to_retire(retire: bool, more: bool) -> bool {
    retire && !more
}

/// Whether a device asked to retire may erase itself: no record holds a
/// change the server has not acknowledged, including records the server
/// refused (their changes would be lost). Proved under the same store lock
/// as the erasure, so no edit can come between the proof and the erasure;
/// the device tells the server (`POST /v1/retire`) only afterwards.
pub fn may_erase_for_retirement(unacknowledged: u64) -> bool {
    unacknowledged == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retires_only_when_asked_and_level_with_the_server() {
        assert!(asked_to_retire(true, false));
        // Not asked: never.
        assert!(!asked_to_retire(false, false));
        // More of the feed waits: finish syncing first.
        assert!(!asked_to_retire(true, true));
        assert!(may_erase_for_retirement(0));
        // Something is still unacknowledged (pending, or refused): keep it.
        assert!(!may_erase_for_retirement(1));
        assert!(!may_erase_for_retirement(42));
    }

    #[test]
    fn wipe_codes_and_messages() {
        assert_eq!(WipeReason::from_code("device-revoked"), WipeReason::Revoked);
        assert_eq!(WipeReason::from_code("device-retired"), WipeReason::Retired);
        assert_eq!(WipeReason::from_code("something-new"), WipeReason::Revoked);
        for reason in [WipeReason::Revoked, WipeReason::Retired] {
            assert_eq!(WipeReason::from_code(reason.code()), reason);
            assert!(reason.message().contains("erased"));
        }
        assert!(WipeReason::Revoked.message().contains("enrol again"));
        assert!(WipeReason::Retired.message().contains("uploaded"));
    }
}

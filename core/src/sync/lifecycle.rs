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

/// Whether a device marked for retirement confirms it now: the last answer
/// of the sync carried `retire`, no page is waiting (`more` false), and no
/// record on the device holds a change the server has not acknowledged,
/// including records the server refused (their changes would be lost).
pub fn ready_to_retire(retire: bool, more: bool, unacknowledged: u64) -> bool {
    retire && !more && unacknowledged == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retires_only_when_asked_and_level_with_the_server() {
        assert!(ready_to_retire(true, false, 0));
        // Not asked: never.
        assert!(!ready_to_retire(false, false, 0));
        // More of the feed waits: finish syncing first.
        assert!(!ready_to_retire(true, true, 0));
        // Something is still unacknowledged (pending, or refused): keep it.
        assert!(!ready_to_retire(true, false, 1));
        assert!(!ready_to_retire(true, false, 42));
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

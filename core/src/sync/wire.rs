//! The sync wire format, shared by the device client and the server so the
//! two cannot disagree. JSON bodies (gzip-compressed on the wire), with
//! Automerge change bytes in base64. See `docs/sync-protocol.md`.
//!
//! Versioning: every body carries `protocol`. A server answers a request of
//! a protocol it does not speak with `426 Upgrade Required` and an
//! [`ErrorBody`] listing what it supports; fields added later are optional,
//! so an older peer ignores them. A server answers in the protocol of the
//! request, so a device of the previous version keeps syncing while the
//! force's handsets are updated.
//!
//! Version 2 adds [`Access`] (the officer's role and station) to the
//! enrolment answer and to every sync answer, so the device checks an edit
//! by the same scope rule as the server and hears of a promotion or a move.

use serde::{Deserialize, Serialize};

use crate::model::RecordKind;

/// The protocol version this code speaks.
pub const PROTOCOL_VERSION: u32 = 2;
/// Every version a server of this code answers (the previous one included).
pub const SUPPORTED_PROTOCOLS: &[u32] = &[1, 2];
/// Largest request body a server accepts, compressed or not (bytes).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// Largest total of change bytes in one request: a device stops adding
/// records once the total reaches it, so the records before the last one
/// stay under it; a server refuses (413) a push where they do not.
pub const MAX_PUSH_BYTES: usize = 2 * 1024 * 1024;
/// Most records a device pushes in one request.
pub const MAX_PUSH_RECORDS: usize = 500;
/// Most feed entries a server returns in one page.
pub const MAX_PAGE_ENTRIES: u32 = 500;

/// Path of the sync endpoint.
pub const SYNC_PATH: &str = "/v1/sync";
/// Where a retiring device confirms it has uploaded everything.
pub const RETIRE_PATH: &str = "/v1/retire";
/// Path of the enrolment endpoint.
pub const ENROL_PATH: &str = "/v1/enrol";

/// Base64 (standard alphabet, padded) for byte fields.
pub mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// `POST /v1/enrol`: a device redeems a one-time enrolment code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub protocol: u32,
    pub code: String,
    /// A label for the admin listing, e.g. the handset model.
    #[serde(default)]
    pub device_label: String,
    /// The shoulder number of the officer the device's notebook already
    /// belongs to (absent for a new notebook, and from older devices). A
    /// code issued for another officer is refused with `409
    /// notebook-of-another-officer` before it is spent, so it still works
    /// for the right notebook. Sent only when present, so a new notebook
    /// enrols with a server that predates the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_officer: Option<String>,
}

/// The answer to a redeemed code: the device's long-lived credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub protocol: u32,
    pub device_id: String,
    /// Sent once; the server keeps only its hash.
    pub token: String,
    pub officer: crate::model::Officer,
    /// The officer's role and station (protocol 2; absent before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
}

/// What the server lets the device's officer do: their role and the
/// station whose records a supervisor oversees. The device keeps the
/// latest one it heard and checks every edit against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Access {
    pub role: crate::rules::Role,
    pub station: String,
}

impl std::fmt::Debug for EnrolResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolResponse")
            .field("device_id", &self.device_id)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// `POST /v1/sync` body: what the device has not had acknowledged, and where
/// it is in the server's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    /// Feed position of the last page the device durably applied; `None` on first sync.
    #[serde(default)]
    pub cursor: Option<u64>,
    /// Records with changes the server has not acknowledged.
    #[serde(default)]
    pub push: Vec<PushedRecord>,
    /// Most feed entries the device wants in this answer (server caps it).
    #[serde(default)]
    pub page_size: Option<u32>,
}

/// Changes to one record, exactly those after the heads the server acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRecord {
    pub record_id: String,
    pub kind: RecordKind,
    /// Concatenated Automerge change chunks.
    #[serde(with = "b64")]
    pub changes: Vec<u8>,
}

/// The answer: acknowledgements, per-record refusals, and a page of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    /// Records whose pushed changes are now durable on the server, with the
    /// server's heads after merging (hex change hashes).
    pub acknowledged: Vec<Ack>,
    /// Records refused, each with its own reason; the rest of the batch stands.
    pub rejected: Vec<Rejection>,
    /// Feed entries after the request's cursor, in feed order.
    pub changes: Vec<FeedEntry>,
    /// Position to send next time, once these entries are durably applied.
    pub cursor: u64,
    /// More entries wait after this page: sync again at once.
    pub more: bool,
    /// The device is being handed back (retired by an admin): once nothing
    /// is pending it confirms with `POST /v1/retire` and erases its store.
    /// Absent (false) in answers of servers that predate it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retire: bool,
    /// The server's clock when it answered (RFC 3339, UTC), so the app can
    /// warn an officer whose handset clock is far off: the server refuses
    /// encounter times more than a few hours after its own. Absent from
    /// servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<String>,
    /// The officer's role and station as the server knows them now
    /// (protocol 2; absent before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Pin rotation: the SHA-256 pins (`sha256/...`) of the keys the server
    /// will move to, announced before its certificate changes, so a device
    /// adds them to the keys it trusts ([`check_next_pins`]: at most
    /// [`MAX_NEXT_PINS`], each exactly a pin). Absent from servers that
    /// announce nothing or predate it; devices that predate it ignore it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_pins: Vec<String>,
    /// The server's retention periods, which the device keeps and applies
    /// on its own, offline too (`core/src/store/expiry.rs`). Absent from
    /// servers that predate it: the device keeps what it last heard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionTerms>,
    /// Every record on legal hold that this device's officer may see, the
    /// whole list (an empty list: none), so a released hold is simply
    /// absent. Sent on the last page of a sync; absent on the others and
    /// from servers that predate it, when the device keeps what it last
    /// heard. A held record is never erased by the device's own retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_holds: Option<Vec<String>>,
}

/// How long records are kept, as a server tells its devices: the same
/// periods as its own erasure job (`[retention]` in its configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RetentionTerms {
    /// Stop and search, stop and account: calendar months after the
    /// encounter (`datetime`). At least 1.
    pub encounter_months: u32,
    /// Scene attendance and home burglary: days after the call
    /// (`call_received`); `None` keeps them.
    pub attendance_days: Option<u32>,
}

impl RetentionTerms {
    /// The instant before which a record of `kind` that occurred then is
    /// due for erasure at `now`; `None` if the kind is kept.
    pub fn due_before(
        &self,
        kind: RecordKind,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        if kind.is_encounter() {
            now.checked_sub_months(chrono::Months::new(self.encounter_months))
        } else {
            let days = chrono::TimeDelta::try_days(i64::from(self.attendance_days?))?;
            now.checked_sub_signed(days)
        }
    }
}

/// Most legal holds one sync answer may list: more is a protocol error.
pub const MAX_LEGAL_HOLDS: usize = 100_000;
/// Longest record id a legal hold may name (ids are UUIDs, 36 characters).
pub const MAX_RECORD_ID_LEN: usize = 64;

/// Why a sync answer cannot be used as it stands: announced pins
/// ([`check_next_pins`]), retention terms below a month for encounters or
/// a day for scenes and burglaries (a device would erase them as soon as
/// the server had them), or a list of legal holds too long or naming
/// something that is no record id.
pub fn check_answer(response: &SyncResponse) -> Result<(), String> {
    check_next_pins(&response.next_pins).map_err(|e| format!("the server announced {e}"))?;
    if let Some(terms) = &response.retention
        && terms.encounter_months == 0
    {
        return Err("retention terms keeping encounters less than a month".into());
    }
    if let Some(terms) = &response.retention
        && terms.attendance_days == Some(0)
    {
        return Err("retention terms keeping scenes and burglaries less than a day".into());
    }
    if let Some(holds) = &response.legal_holds {
        if holds.len() > MAX_LEGAL_HOLDS {
            return Err(format!(
                "{} legal holds (at most {MAX_LEGAL_HOLDS})",
                holds.len()
            ));
        }
        if holds
            .iter()
            .any(|id| id.is_empty() || id.len() > MAX_RECORD_ID_LEN)
        {
            return Err("a legal hold that names no record id".into());
        }
    }
    Ok(())
}

/// Most pins a sync answer may announce: more is a protocol error.
pub const MAX_NEXT_PINS: usize = 4;

/// The announced pins read, or why the answer is refused (too many, or one
/// that is not exactly `sha256/` and the base64 of 32 bytes).
pub fn check_next_pins(pins: &[String]) -> Result<Vec<crate::tls_pin::Pin>, String> {
    if pins.len() > MAX_NEXT_PINS {
        return Err(format!(
            "{} next pins (at most {MAX_NEXT_PINS})",
            pins.len()
        ));
    }
    pins.iter()
        .map(|text| {
            let pin = crate::tls_pin::Pin::parse(text)
                .map_err(|_| "a next pin that is not a SHA-256 pin")?;
            // Exactly the pin's own spelling: no spaces, no other padding.
            if pin.to_string() != *text {
                return Err("a next pin that is not a SHA-256 pin".into());
            }
            Ok(pin)
        })
        .collect()
}

/// `POST /v1/retire`: a retiring device confirms that everything it held
/// is uploaded; the server then closes its credential for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireRequest {
    pub protocol: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub record_id: String,
    pub heads: Vec<String>,
}

/// Why the server refused a pushed record. [`RejectionCode::as_str`] is
/// the one spelling (the wire's, the metrics', the device's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "kebab-case")]
pub enum RejectionCode {
    /// The merged record breaks a rule of its kind.
    Invalid,
    /// The bytes are not Automerge changes of a Pocketbook record.
    Corrupt,
    /// The changes depend on changes the server has never seen: resend all.
    MissingDependencies,
    /// The device may not change this record (or the author is forged).
    Forbidden,
    /// The record was erased and may not be recreated.
    Erased,
    /// The kind named does not match the record, or is unknown.
    WrongKind,
}

impl RejectionCode {
    pub const ALL: &[RejectionCode] = &[
        RejectionCode::Invalid,
        RejectionCode::Corrupt,
        RejectionCode::MissingDependencies,
        RejectionCode::Forbidden,
        RejectionCode::Erased,
        RejectionCode::WrongKind,
    ];

    /// The stable code, as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::Invalid => "invalid",
            RejectionCode::Corrupt => "corrupt",
            RejectionCode::MissingDependencies => "missing-dependencies",
            RejectionCode::Forbidden => "forbidden",
            RejectionCode::Erased => "erased",
            RejectionCode::WrongKind => "wrong-kind",
        }
    }

    /// The code spelled `text`, if any.
    pub fn parse(text: &str) -> Option<RejectionCode> {
        RejectionCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == text)
    }

    /// Whether the device rolls the record back to what the server
    /// acknowledged: the server refuses it as it stands (a rule, or the
    /// officer's access), so pushing it again would never succeed.
    pub fn rolls_back(self) -> bool {
        matches!(self, RejectionCode::Forbidden | RejectionCode::Invalid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub record_id: String,
    pub code: RejectionCode,
    /// Says what is wrong; names fields, never their content.
    pub message: String,
}

/// One step of the server's change feed: new changes to one record, or
/// its erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub seq: u64,
    pub record_id: String,
    pub kind: RecordKind,
    /// Empty when `erased`.
    #[serde(with = "b64")]
    pub changes: Vec<u8>,
    /// The record was erased on the server (retention): the device erases
    /// its copy. Absent (false) from servers that predate it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

/// Body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `unauthorised`, `too-large`, `unsupported-protocol`.
    pub error: String,
    /// Readable explanation; never contains record content.
    pub message: String,
    /// Protocol versions the server speaks (on `unsupported-protocol`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_protocols: Vec<u32>,
    /// On `device-revoked` / `device-retired` (401): the device must erase
    /// its store now. Never set for an unknown token, so a server restored
    /// from an old backup cannot wipe devices it merely forgot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wipe: bool,
}

#[cfg(test)]
mod tests;

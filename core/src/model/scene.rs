//! Scene attendance and its extension, the home-burglary checklist.
//!
//! A burglary record is a scene attendance whose checklist also carries the
//! burglary items, so both kinds share one document shape and one set of
//! operations. Scene actions, checklist ticks and note entries are
//! append-only lists: concurrent appends from several officers all survive
//! and every replica orders them the same way ("Record fields" in
//! `ARCHITECTURE.md`).

use autosurgeon::{Hydrate, Reconcile};
use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::common::{Location, Tick, validate_shoulder_number};
use super::notes::{NoteEntry, validate_notes};
use super::promise_entries::{OffenceCategory, PromiseEntry, validate_promise_entries};
use super::time::Timestamp;
use super::validate::Violations;
use super::vocab::{
    AttendanceReason, RecordKind, ResponseGrade, TargetStatus, TickOutcome, UpdateMethod,
};

vocabulary! {
    /// Every promise an officer ticks: the quality-of-service and victim-care
    /// promises of any attendance, and the home-burglary checklist.
    ChecklistItem {
        IntroducedThemselves => "introduced themselves",
        NeedsAskedAndMet => "needs asked and met",
        ToldWhatHappensNext => "told what happens next",
        GivenReferenceAndContact => "given reference and contact number",
        UpdatesAgreed => "updates agreed",
        VictimsOfCrimeLeaflet => "victims of crime leaflet given",
        VictimSupportReferral => "details passed to victim support",
        RepeatPreventionAdvice => "advice on preventing a repeat given",
        CallerToldToProtectEvidence => "caller told how to protect evidence",
        CrimeDetailsRecorded => "crime details recorded",
        InitialInvestigationDone => "initial investigation done",
        WitnessesSought => "witnesses sought",
        ForensicExaminationArranged => "forensic examination arranged",
        ReferenceNumberGiven => "reference number given",
        InvestigationPhoneGiven => "investigation phone number given",
        CrimePreventionAdviceGiven => "crime prevention advice given",
    }
}

vocabulary! {
    /// When in a home-burglary attendance an item is due.
    ChecklistPhase {
        AnyAttendance => "any attendance",
        BeforeArrival => "before arrival",
        OnArrival => "on arrival",
        Forensic => "forensic examination",
        BeforeLeaving => "before leaving",
    }
}

impl ChecklistItem {
    pub fn phase(self) -> ChecklistPhase {
        use ChecklistItem::*;
        match self {
            CallerToldToProtectEvidence => ChecklistPhase::BeforeArrival,
            CrimeDetailsRecorded | InitialInvestigationDone | WitnessesSought => {
                ChecklistPhase::OnArrival
            }
            ForensicExaminationArranged => ChecklistPhase::Forensic,
            ReferenceNumberGiven | InvestigationPhoneGiven | CrimePreventionAdviceGiven => {
                ChecklistPhase::BeforeLeaving
            }
            _ => ChecklistPhase::AnyAttendance,
        }
    }

    /// Whether this item belongs on a record of the given kind.
    pub fn applies_to(self, kind: RecordKind) -> bool {
        match kind {
            RecordKind::HomeBurglary => true,
            RecordKind::SceneAttendance => self.phase() == ChecklistPhase::AnyAttendance,
            _ => false,
        }
    }
}

/// How the victim wants to hear about progress; the Pledge says at least every 4 weeks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct UpdateAgreement {
    /// How the victim wants to hear.
    pub method: UpdateMethod,
    /// At most [`MAX_UPDATE_INTERVAL_DAYS`] days apart.
    pub every_days: i32,
}

/// Most scene actions one record may hold (the server refuses more).
pub const MAX_ACTIONS: usize = 10_000;
/// Most checklist ticks (the whole history) one record may hold.
pub const MAX_TICKS: usize = 2_000;
/// Most co-attending officers one record may name.
pub const MAX_ATTENDING: usize = 100;

/// Longest interval between updates the Pledge allows.
pub const MAX_UPDATE_INTERVAL_DAYS: i32 = 28;

/// What an officer did at the scene. New kinds of action are new variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionDetail {
    /// Evidence collected and protected.
    EvidenceCollected {
        what: String,
        where_found: String,
        exhibit_number: String,
    },
    /// Suspect description recorded, and whether it was circulated to other units.
    SuspectDescription {
        description: String,
        circulated: bool,
    },
    /// Search for suspect and evidence.
    Search {
        area: String,
        victim_pointed_out_suspect: bool,
    },
    /// A witness sought; contact details when found.
    Witness {
        found: bool,
        #[serde(default)]
        contact_details: String,
    },
    /// Free notes.
    Note { text: String },
}

impl ActionDetail {
    pub fn validate(&self, v: &mut Violations) {
        match self {
            ActionDetail::EvidenceCollected {
                what,
                where_found,
                exhibit_number,
            } => {
                v.required_text("action.what", what);
                v.required_text("action.where_found", where_found);
                v.required_short("action.exhibit_number", exhibit_number);
            }
            ActionDetail::SuspectDescription { description, .. } => {
                v.required_text("action.description", description)
            }
            ActionDetail::Search { area, .. } => v.required_text("action.area", area),
            ActionDetail::Witness {
                found,
                contact_details,
            } => {
                if *found {
                    v.required_text("action.contact_details", contact_details)
                } else {
                    v.optional_text("action.contact_details", contact_details)
                }
            }
            ActionDetail::Note { text } => v.required_text("action.text", text),
        }
    }
}

/// One scene action as appended by one officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SceneAction {
    #[key]
    pub id: String,
    /// Shoulder number of the officer who recorded it (from their notebook).
    pub recorded_by: String,
    pub recorded_at: Timestamp,
    pub detail: ActionDetail,
}

/// What an officer enters to open a scene-attendance or burglary record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SceneInput {
    pub reasons: Vec<AttendanceReason>,
    pub grade: ResponseGrade,
    /// When the call was received: the target clock starts here.
    pub call_received: Timestamp,
    /// Appointment agreed with the caller (scheduled grade only).
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub appointment: Option<Timestamp>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub arrived: Option<Timestamp>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub left: Option<Timestamp>,
    pub location: Location,
    /// An optional first note, written as the notebook's first entry.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub notes: String,
}

/// A scene attendance (or home burglary) as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SceneAttendance {
    pub reasons: Vec<AttendanceReason>,
    pub grade: ResponseGrade,
    pub call_received: Timestamp,
    pub appointment: Option<Timestamp>,
    pub arrived: Option<Timestamp>,
    pub left: Option<Timestamp>,
    pub location: Location,
    pub actions: Vec<SceneAction>,
    /// Every tick ever made, in notebook order (an append-only history);
    /// `Derived.latest_ticks` shows the one that counts per item.
    #[serde(default)]
    #[autosurgeon(
        rename = "tick_entries",
        reconcile = "super::entry_lists::reconcile_ticks",
        hydrate = "super::entry_lists::read_by_document"
    )]
    pub checklist: Vec<Tick>,
    pub updates: Option<UpdateAgreement>,
    /// The notebook: append-only entries, corrections included.
    #[serde(default)]
    #[autosurgeon(
        rename = "note_entries",
        reconcile = "super::entry_lists::reconcile_notes",
        hydrate = "super::entry_lists::read_by_document"
    )]
    pub notes: Vec<NoteEntry>,
    /// Shoulder numbers of the other officers at the scene, sorted: the
    /// server lets each of them see and add to the record. A set in the
    /// document (see `attending_set`), so concurrent additions all survive.
    #[serde(default)]
    #[autosurgeon(
        reconcile = "super::entry_lists::reconcile_attending",
        hydrate = "super::entry_lists::read_by_document"
    )]
    pub attending: Vec<String>,
    /// The offence category (a register: the last value written wins, a
    /// concurrent conflict is named in `Derived.conflicts`). `None` in
    /// records made before it existed, and until someone records it.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub offence: Option<OffenceCategory>,
    /// "Victim updated", "review done" and "contact made" entries: an
    /// append-only history, corrections included (`promise_entries`).
    #[serde(default)]
    #[autosurgeon(
        reconcile = "super::entry_lists::reconcile_promise_entries",
        hydrate = "super::entry_lists::read_by_document"
    )]
    pub promise_entries: Vec<PromiseEntry>,
    /// When the update agreement in `updates` was made: the victim-update
    /// clock starts here (P4 of `docs/domain/promises.md`). Stored inside
    /// the agreement's own map (`updates.agreed_at`, the device time when
    /// it was recorded), so a concurrent conflict keeps the time of the
    /// agreement that won; `None` for an agreement recorded before it
    /// existed (the clock then starts at the call). Read by `document`.
    #[serde(default)]
    #[autosurgeon(
        reconcile = "super::entry_lists::reconcile_nothing",
        hydrate = "super::entry_lists::read_by_document"
    )]
    pub updates_agreed_at: Option<Timestamp>,
}

impl SceneAttendance {
    pub fn from_input(input: SceneInput) -> Self {
        SceneAttendance {
            reasons: input.reasons,
            grade: input.grade,
            call_received: input.call_received,
            appointment: input.appointment,
            arrived: input.arrived,
            left: input.left,
            location: input.location,
            actions: Vec::new(),
            checklist: Vec::new(),
            updates: None,
            notes: if input.notes.trim().is_empty() {
                Vec::new()
            } else {
                vec![NoteEntry::initial(input.notes)]
            },
            attending: Vec::new(),
            offence: None,
            promise_entries: Vec::new(),
            updates_agreed_at: None,
        }
    }

    /// Checks every rule of an attendance of `kind`.
    pub fn validate(&self, kind: RecordKind, v: &mut Violations) {
        if self.reasons.is_empty() {
            v.push("reasons", "at least one reason for attending is required");
        }
        let call = v.timestamp("call_received", &self.call_received);
        let arrived = self
            .arrived
            .as_deref()
            .and_then(|t| v.timestamp("arrived", t));
        let left = self.left.as_deref().and_then(|t| v.timestamp("left", t));
        match (&self.grade, &self.appointment) {
            (ResponseGrade::Scheduled, None) => {
                v.push("appointment", "required for a scheduled attendance")
            }
            (ResponseGrade::Scheduled, Some(at)) => {
                if let (Some(at), Some(call)) = (v.timestamp("appointment", at), call)
                    && (at < call || at - call > Duration::hours(48))
                {
                    v.push("appointment", "must be within 48 hours after the call");
                }
            }
            (_, Some(_)) => v.push("appointment", "only a scheduled attendance has one"),
            (_, None) => {}
        }
        if self.grade == ResponseGrade::NotAttended
            && (self.arrived.is_some() || self.left.is_some())
        {
            v.push(
                "arrived",
                "a not-attended report has no arrival or departure",
            );
        }
        if let (Some(call), Some(arrived)) = (call, arrived)
            && arrived < call
        {
            v.push("arrived", "earlier than the call was received");
        }
        if let Some(left) = left {
            match arrived {
                None => v.push("left", "cannot leave before arriving"),
                Some(arrived) if left < arrived => v.push("left", "earlier than arrival"),
                _ => {}
            }
        }
        self.location.validate(v, "location");
        if self.checklist.len() > MAX_TICKS {
            v.push("checklist", format!("more than {MAX_TICKS} ticks"));
        }
        if self.actions.len() > MAX_ACTIONS {
            v.push("actions", format!("more than {MAX_ACTIONS} actions"));
        }
        if self.attending.len() > MAX_ATTENDING {
            v.push("attending", format!("more than {MAX_ATTENDING} officers"));
        }
        for tick in &self.checklist {
            if !tick.item.applies_to(kind) {
                v.push(
                    format!("checklist.{}", tick.item.as_str()),
                    format!("not an item of a {} record", kind.as_str()),
                );
            }
            tick.validate(v);
        }
        for action in &self.actions {
            action.detail.validate(v);
        }
        if let Some(updates) = &self.updates
            && !(1..=MAX_UPDATE_INTERVAL_DAYS).contains(&updates.every_days)
        {
            v.push(
                "updates.every_days",
                format!("must be 1 to {MAX_UPDATE_INTERVAL_DAYS} (at least every 4 weeks)"),
            );
        }
        validate_promise_entries(v, &self.promise_entries, &self.call_received);
        validate_notes(v, &self.notes);
        for officer in &self.attending {
            validate_shoulder_number(v, "attending", officer);
        }
    }

    /// Whether the Pledge's attendance target was met, from the grade and the times.
    pub fn target_status(&self) -> TargetStatus {
        let call = self.call_received.instant();
        let arrived = self.arrived.as_ref().map(Timestamp::instant);
        let deadline = match self.grade {
            ResponseGrade::NotAttended => return TargetStatus::NotApplicable,
            ResponseGrade::Emergency => Some(call + Duration::minutes(12)),
            ResponseGrade::Priority => Some(call + Duration::minutes(60)),
            ResponseGrade::Scheduled => self.appointment.as_ref().map(Timestamp::instant),
        };
        match (arrived, deadline) {
            (None, _) => TargetStatus::Pending,
            (Some(arrived), Some(deadline)) if arrived <= deadline => TargetStatus::Met,
            (Some(_), Some(_)) => TargetStatus::Missed,
            (Some(_), None) => TargetStatus::NotApplicable,
        }
    }

    /// Before-leaving items still open after the officers left: allowed, but flagged.
    pub fn open_on_leaving(&self, kind: RecordKind) -> Vec<ChecklistItem> {
        if kind != RecordKind::HomeBurglary || self.left.is_none() {
            return Vec::new();
        }
        let latest = self.latest_ticks();
        ChecklistItem::ALL
            .iter()
            .copied()
            .filter(|item| item.phase() == ChecklistPhase::BeforeLeaving)
            .filter(|item| {
                !latest
                    .iter()
                    .any(|t| t.item == *item && t.outcome != TickOutcome::NotDone)
            })
            .collect()
    }

    /// The tick that counts for each item ticked: the last one in notebook
    /// order. A tick made after another was seen always follows it in the
    /// list (Automerge's list order keeps causal order), so a correction
    /// supersedes what it corrects whatever the two handsets' clocks say;
    /// ticks made offline at once are ordered the same on every replica.
    /// `ticked_at` is a device time and never decides (docs/clocks.md).
    /// In checklist order.
    pub fn latest_ticks(&self) -> Vec<Tick> {
        let mut latest: Vec<&Tick> = Vec::new();
        for tick in &self.checklist {
            match latest.iter_mut().find(|t| t.item == tick.item) {
                Some(slot) => *slot = tick,
                None => latest.push(tick),
            }
        }
        let mut ticks: Vec<Tick> = latest.into_iter().cloned().collect();
        ticks.sort_by_key(|t| ChecklistItem::ALL.iter().position(|i| *i == t.item));
        ticks
    }
}

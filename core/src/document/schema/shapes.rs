//! The schema as data: the shape of every key of a record document of
//! each kind ("Record fields" in `ARCHITECTURE.md`): which keys a map may
//! hold, each value's type, every string's and list's bound, and the keys
//! only schema-v1 documents may carry. Kept apart from the walk that holds
//! a document against them (`schema.rs`), so a field added to the model is
//! one line here, read beside its neighbours.

use crate::document::entries::{
    ATTENDING, LEGACY_CHECKLIST, LEGACY_NOTES, NOTE_ENTRIES, PROMISE_ENTRIES, TICK_ENTRIES,
};
use crate::model::{
    MAX_ACTIONS, MAX_ATTENDING, MAX_NOTE_ENTRIES, MAX_PROMISE_ENTRIES, MAX_SHORT_LEN, MAX_TEXT_LEN,
    MAX_TICKS,
};

/// Longest time string (RFC 3339 with a nine-digit fraction and an offset is 35).
const TIME: Shape = Shape::Str(64);
const SHORT: Shape = Shape::Str(MAX_SHORT_LEN);
const TEXT: Shape = Shape::Str(MAX_TEXT_LEN);
/// Reasons for attending: one per vocabulary entry at most, with room.
const MAX_REASONS: usize = 32;

/// What one value of the tree may be.
#[derive(Clone, Copy)]
pub(super) enum Shape {
    /// A scalar string of at most this many bytes.
    Str(usize),
    Bool,
    /// A non-negative integer.
    Uint,
    /// A number (a coordinate).
    Num,
    /// Null or the shape.
    Opt(&'static Shape),
    /// A map with these keys only (each optional).
    Map(&'static [Field]),
    /// An enum value with fields: a map keyed by variant name.
    Variants(&'static [Field]),
    /// A list of at most this many values of the shape.
    List(usize, &'static Shape),
    /// A map with at most this many short keys, values of the shape.
    Dict(usize, &'static Shape),
    /// Automerge text of at most this many bytes (schema-v1 notes only).
    Text(usize),
}

/// One key of a map; `legacy` keys are accepted in schema-v1 documents only.
#[derive(Clone, Copy)]
pub(super) struct Field {
    pub(super) key: &'static str,
    pub(super) shape: Shape,
    pub(super) legacy: bool,
}

const fn f(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        legacy: false,
    }
}

const fn legacy(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        legacy: true,
    }
}

const OFFICER: Shape = Shape::Map(&[
    f("shoulder_number", SHORT),
    f("name", SHORT),
    f("station", SHORT),
]);

const HEADER: Shape = Shape::Map(&[
    f("id", SHORT),
    f("kind", SHORT),
    f("reference", SHORT),
    f("created_at", TIME),
    f("author", OFFICER),
]);

const LOCATION: Shape = Shape::Map(&[
    f("latitude", Shape::Opt(&Shape::Num)),
    f("longitude", Shape::Opt(&Shape::Num)),
    f("street", TEXT),
]);

const ACTION_DETAIL: Shape = Shape::Variants(&[
    f(
        "EvidenceCollected",
        Shape::Map(&[
            f("what", TEXT),
            f("where_found", TEXT),
            f("exhibit_number", SHORT),
        ]),
    ),
    f(
        "SuspectDescription",
        Shape::Map(&[f("description", TEXT), f("circulated", Shape::Bool)]),
    ),
    f(
        "Search",
        Shape::Map(&[
            f("area", TEXT),
            f("victim_pointed_out_suspect", Shape::Bool),
        ]),
    ),
    f(
        "Witness",
        Shape::Map(&[f("found", Shape::Bool), f("contact_details", TEXT)]),
    ),
    f("Note", Shape::Map(&[f("text", TEXT)])),
]);

const ACTION: Shape = Shape::Map(&[
    f("id", SHORT),
    f("recorded_by", SHORT),
    f("recorded_at", TIME),
    f("detail", ACTION_DETAIL),
]);

const TICK: Shape = Shape::Map(&[
    f("id", SHORT),
    f("item", SHORT),
    f("outcome", SHORT),
    f("reason", Shape::Opt(&TEXT)),
    f("ticked_by", SHORT),
    f("ticked_at", TIME),
]);

const NOTE: Shape = Shape::Map(&[
    f("id", SHORT),
    f("written_by", SHORT),
    f("written_at", TIME),
    f("text", TEXT),
    f("corrects", Shape::Opt(&SHORT)),
]);

const UPDATES: Shape = Shape::Map(&[
    f("method", SHORT),
    f("every_days", Shape::Uint),
    f("agreed_at", Shape::Opt(&TIME)),
]);

const PROMISE_ENTRY: Shape = Shape::Map(&[
    f("id", SHORT),
    f("kind", SHORT),
    f("made_by", SHORT),
    f("made_at", TIME),
    f("corrects", Shape::Opt(&SHORT)),
    f("withdrawn", Shape::Bool),
]);

const RECEIPT: Shape = Shape::Variants(&[
    f(
        "Given",
        Shape::Map(&[f("medium", SHORT), f("given_at", TIME)]),
    ),
    f(
        "NotGiven",
        Shape::Map(&[f("reason", TEXT), f("recorded_at", TIME)]),
    ),
]);

const NOTES: Field = f(NOTE_ENTRIES, Shape::List(MAX_NOTE_ENTRIES, &NOTE));
const LEGACY_NOTES_TEXT: Field = legacy(LEGACY_NOTES, Shape::Text(MAX_TEXT_LEN));

const SCENE: Shape = Shape::Map(&[
    f("reasons", Shape::List(MAX_REASONS, &SHORT)),
    f("grade", SHORT),
    f("call_received", TIME),
    f("appointment", Shape::Opt(&TIME)),
    f("arrived", Shape::Opt(&TIME)),
    f("left", Shape::Opt(&TIME)),
    f("location", LOCATION),
    f("actions", Shape::List(MAX_ACTIONS, &ACTION)),
    f(TICK_ENTRIES, Shape::List(MAX_TICKS, &TICK)),
    f("updates", Shape::Opt(&UPDATES)),
    NOTES,
    f(ATTENDING, Shape::Dict(MAX_ATTENDING, &Shape::Bool)),
    f("offence", Shape::Opt(&SHORT)),
    f(
        PROMISE_ENTRIES,
        Shape::List(MAX_PROMISE_ENTRIES, &PROMISE_ENTRY),
    ),
    LEGACY_NOTES_TEXT,
    legacy(LEGACY_CHECKLIST, Shape::Dict(MAX_TICKS, &TICK)),
]);

const CONDUCT: Shape = Shape::Map(&[
    f("grounds_explained", Shape::Bool),
    f("object_told", Shape::Bool),
    f("warrant_card_shown", Shape::Opt(&Shape::Bool)),
    f("identity_given", Shape::Bool),
    f("station_given", Shape::Bool),
    f("entitlement_to_copy_told", Shape::Bool),
    f("legal_power_explained", Shape::Bool),
    f("told_detained_for_search", Shape::Bool),
    f("treated_with_respect", Shape::Bool),
]);

const SEARCH: Shape = Shape::Map(&[
    f("search_type", SHORT),
    f("vehicle_registration", Shape::Opt(&SHORT)),
    f("datetime", TIME),
    f("location", LOCATION),
    f("gender", Shape::Opt(&SHORT)),
    f("age_range", Shape::Opt(&SHORT)),
    f("self_defined_ethnicity", Shape::Opt(&SHORT)),
    f("officer_defined_ethnicity", Shape::Opt(&SHORT)),
    f("grounds", TEXT),
    f("object_of_search", SHORT),
    f("legislation", SHORT),
    f("operation_name", Shape::Opt(&SHORT)),
    f("outcome", SHORT),
    f(
        "outcome_linked_to_object_of_search",
        Shape::Opt(&Shape::Bool),
    ),
    f("removal_of_more_than_outer_clothing", Shape::Bool),
    f("conduct", CONDUCT),
    f("receipt", Shape::Opt(&RECEIPT)),
    NOTES,
    LEGACY_NOTES_TEXT,
]);

const ACCOUNT: Shape = Shape::Map(&[
    f("datetime", TIME),
    f("location", LOCATION),
    f("self_defined_ethnicity", Shape::Opt(&SHORT)),
    f("asked_about", TEXT),
    f("receipt", Shape::Opt(&RECEIPT)),
    NOTES,
    LEGACY_NOTES_TEXT,
]);

const SCENE_FIELD: Field = f("scene", SCENE);
const SEARCH_FIELD: Field = f("search", SEARCH);
const ACCOUNT_FIELD: Field = f("account", ACCOUNT);

/// The root of a record of each kind: the body holds that kind only.
macro_rules! root {
    ($variant:literal, $inner:expr) => {
        &[
            f("schema", SHORT),
            f("schema_version", Shape::Uint),
            f("header", HEADER),
            f("body", Shape::Map(&[f($variant, Shape::Map(&[$inner]))])),
        ]
    };
}

pub(super) const SCENE_ROOT: &[Field] = root!("SceneAttendance", SCENE_FIELD);
pub(super) const BURGLARY_ROOT: &[Field] = root!("HomeBurglary", SCENE_FIELD);
pub(super) const SEARCH_ROOT: &[Field] = root!("StopSearch", SEARCH_FIELD);
pub(super) const ACCOUNT_ROOT: &[Field] = root!("StopAccount", ACCOUNT_FIELD);

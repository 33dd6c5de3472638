//! Valid records to build scenarios from, shared by the end-to-end and
//! browser suites: thin names over `pocketbook-fixtures` (the one copy of
//! the record inputs), kept so the suites read as before.

use pocketbook_core::model::*;
pub use pocketbook_fixtures::{as_change_chunks, at, day_time, officer, stop_account};

/// An emergency scene attendance for a call on the fixture day.
pub fn scene() -> SceneInput {
    pocketbook_fixtures::emergency_scene()
}

/// A free-text scene action.
pub fn note(text: String) -> ActionDetail {
    pocketbook_fixtures::note(&text)
}

/// A stop and search at `datetime` (RFC 3339).
pub fn stop_search(datetime: &str) -> StopSearch {
    pocketbook_fixtures::stop_search_at(pocketbook_fixtures::time(datetime))
}

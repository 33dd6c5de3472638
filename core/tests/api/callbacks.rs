//! An app's callback that fails never breaks the call that fired it: the
//! edit stands, the call succeeds, and every other listener still hears
//! the event. (The Kotlin suite throws from real Kotlin callbacks.)

use std::sync::Arc;

use pocketbook_core::api::{CallbackError, ChangeEvent, ChangeListener, ChangeOrigin};
use pocketbook_core::model::*;
use pocketbook_core::store::ListFilter;

use crate::support::*;

/// Fails every call, as a Kotlin listener that throws does.
struct Failing;

impl ChangeListener for Failing {
    fn on_change(&self, _: ChangeEvent) -> Result<(), CallbackError> {
        Err(CallbackError::Failed)
    }
}

/// Panics on every call (a Rust app's bug).
struct Panicking;

impl ChangeListener for Panicking {
    fn on_change(&self, _: ChangeEvent) -> Result<(), CallbackError> {
        panic!("listener bug");
    }
}

#[test]
fn a_failing_listener_leaves_the_edit_and_the_other_listeners_be() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC401");
    let before = Arc::new(Recorder::default());
    let after = Arc::new(Recorder::default());
    let _first = nb.subscribe(before.clone());
    let _failing = nb.subscribe(Arc::new(Failing));
    let _panicking = nb.subscribe(Arc::new(Panicking));
    let _last = nb.subscribe(after.clone());

    let id = nb
        .create_scene(scene(ResponseGrade::Priority))
        .expect("the create succeeds whatever a listener does")
        .header
        .id;
    nb.add_scene_action(id.clone(), note("Door forced"))
        .expect("so does an edit");

    assert_eq!(
        nb.list(ListFilter::default()).unwrap().len(),
        1,
        "stored once"
    );
    assert_eq!(scene_of(&nb.get(id.clone()).unwrap()).actions.len(), 1);
    for recorder in [&before, &after] {
        let events = recorder.events();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            events
                .iter()
                .all(|e| e.record_id == id && e.origin == ChangeOrigin::Local)
        );
    }
}

//! Builders for valid inputs, so each test changes only what it is about.

use pocketbook_core::Notebook;
use pocketbook_core::model::*;

pub use pocketbook_fixtures::{
    as_change_chunks, at, day_time, note, notebook, officer, record_ids, scene, sorted,
    stop_account, stop_search,
};

/// A change listener that keeps every event it hears.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<pocketbook_core::api::ChangeEvent>>);

impl pocketbook_core::api::ChangeListener for Recorder {
    fn on_change(
        &self,
        event: pocketbook_core::api::ChangeEvent,
    ) -> Result<(), pocketbook_core::api::CallbackError> {
        self.0.lock().unwrap().push(event);
        Ok(())
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<pocketbook_core::api::ChangeEvent> {
        self.0.lock().unwrap().clone()
    }
}

/// The scene (or burglary) part of a record.
pub fn scene_of(record: &Record) -> &SceneAttendance {
    match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => scene,
        other => panic!("not a scene: {other:?}"),
    }
}

/// Fails unless the stored document of `id` passes the whole-tree schema
/// check the server runs on every push.
pub fn assert_schema_true(nb: &Notebook, id: &str) {
    let bytes = nb.export(id.into()).expect("export");
    let doc = pocketbook_core::document::RecordDoc::load(&bytes, automerge::ActorId::random())
        .expect("load");
    if let Err(e) = doc.check_schema() {
        panic!("record {id} is not schema-true: {e}");
    }
}

/// The child process was ended by a crash seam (`std::process::abort`,
/// SIGABRT), not by a failure of its own before it got there.
pub fn assert_aborted(output: &std::process::Output, at: &str) {
    use std::os::unix::process::ExitStatusExt;
    const SIGABRT: i32 = 6;
    assert_eq!(
        output.status.signal(),
        Some(SIGABRT),
        "the child must abort at {at}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

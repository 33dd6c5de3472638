//! One notebook used from many threads at once, as an app's UI, sync
//! worker and background jobs use it: edits of one record from several
//! threads all land, each heard once; listeners that call back into the
//! notebook (read, edit, subscribe, cancel their own subscription) from
//! inside the callback neither deadlock nor lose an event; and closing
//! the notebook while others edit ends their calls with `Closed`, never a
//! panic or a half-written record.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use pocketbook_core::api::{
    CallbackError, ChangeEvent, ChangeListener, ChangeOrigin, Subscription,
};
use pocketbook_core::model::*;
use pocketbook_core::{ApiError, Notebook};

use crate::support::*;

const THREADS: usize = 6;
const EDITS: usize = 15;

/// Reads the record back on every event, from inside the callback.
struct Reader {
    notebook: Mutex<Weak<Notebook>>,
    reads: AtomicUsize,
}

impl ChangeListener for Reader {
    fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError> {
        if let Some(nb) = self.notebook.lock().unwrap().upgrade() {
            nb.get(event.record_id).map_err(|_| CallbackError::Failed)?;
            nb.list(Default::default())
                .map_err(|_| CallbackError::Failed)?;
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// On the first event: cancels its own subscription, subscribes another
/// listener, and makes an edit of its own (heard by the others).
struct Restless {
    notebook: Weak<Notebook>,
    own: Mutex<Option<Arc<Subscription>>>,
    replacement: Mutex<Option<Arc<Subscription>>>,
    heard: Arc<Recorder>,
    done: AtomicBool,
}

impl ChangeListener for Restless {
    fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let nb = self.notebook.upgrade().ok_or(CallbackError::Failed)?;
        if let Some(own) = self.own.lock().unwrap().take() {
            own.cancel();
        }
        *self.replacement.lock().unwrap() = Some(nb.subscribe(self.heard.clone()));
        nb.add_scene_action(event.record_id, note("Added by the listener"))
            .map_err(|_| CallbackError::Failed)?;
        Ok(())
    }
}

fn actions(nb: &Notebook, id: &str) -> BTreeSet<String> {
    scene_of(&nb.get(id.into()).unwrap())
        .actions
        .iter()
        .map(|a| match &a.detail {
            ActionDetail::Note { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn many_threads_editing_one_record_all_land_and_listeners_may_call_back() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC410");
    let id = nb
        .create_scene(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;

    let all = Arc::new(Recorder::default());
    let _all = nb.subscribe(all.clone());
    let reader = Arc::new(Reader {
        notebook: Mutex::new(Arc::downgrade(&nb)),
        reads: AtomicUsize::new(0),
    });
    let _reader = nb.subscribe(reader.clone());
    let later = Arc::new(Recorder::default());
    let restless = Arc::new(Restless {
        notebook: Arc::downgrade(&nb),
        own: Mutex::new(None),
        replacement: Mutex::new(None),
        heard: later.clone(),
        done: AtomicBool::new(false),
    });
    *restless.own.lock().unwrap() = Some(nb.subscribe(restless.clone()));

    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (nb, id) = (&nb, &id);
            scope.spawn(move || {
                for edit in 0..EDITS {
                    nb.add_scene_action(id.clone(), note(&format!("thread {thread} edit {edit}")))
                        .unwrap();
                }
            });
        }
    });

    let expected: BTreeSet<String> = (0..THREADS)
        .flat_map(|t| (0..EDITS).map(move |e| format!("thread {t} edit {e}")))
        .chain(["Added by the listener".to_string()])
        .collect();
    assert_eq!(actions(&nb, &id), expected, "every edit landed, once");
    let events = all.events();
    assert_eq!(events.len(), THREADS * EDITS + 1, "each edit heard once");
    assert!(
        events
            .iter()
            .all(|e| e.record_id == id && e.origin == ChangeOrigin::Local)
    );
    assert_eq!(reader.reads.load(Ordering::SeqCst), THREADS * EDITS + 1);
    // The listener that cancelled itself heard one event, and the one it
    // subscribed heard at least the edit it made.
    assert!(restless.done.load(Ordering::SeqCst));
    assert!(!later.events().is_empty());
    assert_schema_true(&nb, &id);
}

#[test]
fn closing_while_others_edit_ends_their_calls_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC411");
    let id = nb
        .create_scene(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;
    let landed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (nb, id, landed) = (&nb, &id, &landed);
            scope.spawn(move || {
                for edit in 0.. {
                    match nb.add_scene_action(id.clone(), note(&format!("{thread}/{edit}"))) {
                        Ok(_) => landed.fetch_add(1, Ordering::SeqCst),
                        Err(ApiError::Closed { .. }) => return,
                        Err(e) => panic!("{e:?}"),
                    };
                }
            });
        }
        // Close once some edits are in.
        while landed.load(Ordering::SeqCst) < THREADS * 3 {
            std::thread::yield_now();
        }
        nb.close();
    });
    assert!(matches!(nb.get(id.clone()), Err(ApiError::Closed { .. })));
    drop(nb);
    // Every edit that returned Ok is in the store, and nothing else.
    let reopened = Notebook::open_existing(dir.path().display().to_string()).unwrap();
    assert_eq!(
        actions(&reopened, &id).len(),
        landed.load(Ordering::SeqCst),
        "exactly the edits that succeeded"
    );
    assert_schema_true(&reopened, &id);
}

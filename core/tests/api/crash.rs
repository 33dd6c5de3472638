//! A handheld can die at any instant. A child process appends scene actions
//! and reports each call that returned; it is killed with SIGKILL mid-stream,
//! past compactions (the store compacts often in these tests), and the store
//! must then open with every reported edit in it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use pocketbook_core::model::*;

use crate::store::TEST_COMPACT_AFTER;
use crate::support::*;

const CHILD_ENV: &str = "POCKETBOOK_CRASH_CHILD_DIR";

/// The child side: runs only when the parent test re-executes this binary.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let nb = pocketbook_core::Notebook::open(dir, officer("PC300")).unwrap();
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    println!("record {id}");
    for n in 0.. {
        nb.add_scene_action(id.clone(), note(&format!("action {n}")))
            .unwrap();
        println!("done {n}");
    }
}

#[test]
fn sigkill_mid_stream_loses_no_returned_edit() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    crate::store::compact_often(dir.path());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut id = None;
    let mut last_done = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest prints its own "test ... " prefix on the first line.
        if let Some((_, rest)) = line.split_once("record ") {
            id = Some(rest.trim().to_string());
        } else if let Some(n) = line.strip_prefix("done ") {
            let n: usize = n.parse().unwrap();
            last_done = Some(n);
            // Past two compactions and into the third run of changes, so
            // the kill can land in any kind of write.
            if n >= 2 * TEST_COMPACT_AFTER as usize + TEST_COMPACT_AFTER as usize / 2 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Lines the child printed before dying also count: their calls had returned.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("done ") {
            last_done = n.parse().ok().or(last_done);
        }
    }
    let id = id.expect("child created a record");
    let last_done = last_done.expect("child reported edits");
    let nb = notebook(&dir, "PC300");
    assert!(nb.store_moved_aside().is_none());
    let RecordBody::SceneAttendance { scene } = nb.get(id).unwrap().body else {
        panic!()
    };
    assert!(
        scene.actions.len() > last_done,
        "{} actions stored, but call {last_done} had returned",
        scene.actions.len()
    );
    for (n, action) in scene.actions.iter().enumerate() {
        assert_eq!(action.detail, note(&format!("action {n}")));
    }
}

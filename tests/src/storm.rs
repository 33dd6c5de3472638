//! A sync storm and its bookkeeping, shared by the fault suites: a fleet of
//! enrolled device cores making random edits (new records, note entries,
//! scene actions, each with a unique text), a ledger of which edits a
//! device has had acknowledged, and the checks that must hold after any
//! fault: every acknowledged edit is on the server, every device ends
//! identical to the others and to the server (records, heads, typed
//! records), and every edit is there exactly once (nothing lost, nothing
//! applied twice, also in the server's feed).
//!
//! Topology: two supervisors of one station, two devices each. A
//! supervisor's devices receive every record of the station, so all four
//! devices end with the same records; the two devices of one officer both
//! write to that officer's scene and records, so the same document is
//! edited concurrently. Nothing is shared with co-attending officers, so a
//! feed entry carries only changes the server did not have before (a
//! sharing entry would legitimately repeat the whole history).

mod checks;

pub use checks::{assert_feed_holds_each_change_once, count_edit, counts, heads, typed};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pocketbook_core::sync::client::NetworkSettings;
use pocketbook_core::{ApiError, Notebook};
use rand::Rng;
use rand::rngs::StdRng;

use crate::inputs::{note, scene, stop_account};
use crate::process;

/// The officers of the storm, both supervisors of one station.
pub const OFFICERS: [&str; 2] = ["PS101", "PS202"];
const STATION: &str = "Lewisham";

/// The seed of a randomised test: `POCKETBOOK_FAULTS_SEED` to replay one,
/// else from the clock. Printed either way, so a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("POCKETBOOK_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: seed {seed} (replay with POCKETBOOK_FAULTS_SEED={seed})");
    seed
}

/// The longer variants run when `POCKETBOOK_FAULTS_LONG=1`.
pub fn long() -> bool {
    std::env::var("POCKETBOOK_FAULTS_LONG").is_ok_and(|v| v == "1")
}

/// What an edit added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// A new record (a stop and account).
    Created,
    /// A note entry with this text.
    Note(String),
    /// A scene action (a note action) with this text.
    Action(String),
}

/// One edit made on a device.
#[derive(Debug, Clone)]
pub struct Made {
    pub record: String,
    pub edit: Edit,
    pub acknowledged: bool,
    /// Found on the server after it was acknowledged.
    pub verified: bool,
}

/// A device of the fleet: an enrolled core and the edits it made.
pub struct FleetDevice {
    pub dir: tempfile::TempDir,
    pub notebook: Arc<Notebook>,
    pub officer: &'static str,
    /// Records this device created (it adds notes to them).
    pub own: Vec<String>,
    pub made: Vec<Made>,
    counter: u64,
    index: usize,
    /// This device's current scene and the actions it has had.
    scene: Option<String>,
    scene_actions: usize,
}

/// Actions a device adds to one of its own scenes before starting another.
pub const ACTIONS_PER_SCENE: usize = 25;

impl FleetDevice {
    /// One random edit: a new record (a stop and account, or a scene of its
    /// own), a note entry on a record this device created, a scene action
    /// on its own current scene, or a note or action on its officer's
    /// shared scene (`shared_scene`, written by both of the officer's
    /// devices). A device's own scenes are replaced after
    /// [`ACTIONS_PER_SCENE`] actions, so documents stay small and the
    /// storm's cost per round does not grow.
    pub fn random_edit(&mut self, shared_scene: &str, rng: &mut StdRng) {
        self.counter += 1;
        let text = format!("device {} edit {}", self.index, self.counter);
        let roll = rng.random_range(0..100);
        let made = if roll < 12 {
            let id = self
                .notebook
                .create_stop_account(stop_account())
                .expect("record created")
                .header
                .id;
            self.own.push(id.clone());
            Made {
                record: id,
                edit: Edit::Created,
                acknowledged: false,
                verified: false,
            }
        } else if roll < 15
            || ((60..95).contains(&roll)
                && (self.scene.is_none() || self.scene_actions >= ACTIONS_PER_SCENE))
        {
            let id = self
                .notebook
                .create_scene(scene())
                .expect("scene created")
                .header
                .id;
            self.own.push(id.clone());
            self.scene = Some(id.clone());
            self.scene_actions = 0;
            Made {
                record: id,
                edit: Edit::Created,
                acknowledged: false,
                verified: false,
            }
        } else if roll < 60 && !self.own.is_empty() {
            let record = self.own[rng.random_range(0..self.own.len())].clone();
            self.notebook
                .add_note(record.clone(), text.clone())
                .expect("note written");
            Made {
                record,
                edit: Edit::Note(text),
                acknowledged: false,
                verified: false,
            }
        } else if (60..95).contains(&roll) {
            let record = self.scene.clone().expect("a current scene");
            self.notebook
                .add_scene_action(record.clone(), note(text.clone()))
                .expect("action added");
            self.scene_actions += 1;
            Made {
                record,
                edit: Edit::Action(text),
                acknowledged: false,
                verified: false,
            }
        } else if rng.random_bool(0.5) {
            self.notebook
                .add_scene_action(shared_scene.to_string(), note(text.clone()))
                .expect("action added");
            Made {
                record: shared_scene.to_string(),
                edit: Edit::Action(text),
                acknowledged: false,
                verified: false,
            }
        } else {
            self.notebook
                .add_note(shared_scene.to_string(), text.clone())
                .expect("note written");
            Made {
                record: shared_scene.to_string(),
                edit: Edit::Note(text),
                acknowledged: false,
                verified: false,
            }
        };
        self.made.push(made);
    }

    /// One sync; on success with nothing pending, every edit made before it
    /// started is acknowledged. Returns the outcome.
    pub async fn sync(&mut self) -> Result<pocketbook_core::api::SyncSummary, ApiError> {
        let before = self.made.len();
        let outcome = self.notebook.sync(None).await;
        if let Ok(summary) = &outcome {
            self.acknowledge(before, summary);
        }
        outcome
    }

    /// A sync that started after the first `before` edits succeeded with
    /// nothing pending and nothing refused: those edits are acknowledged.
    fn acknowledge(&mut self, before: usize, summary: &pocketbook_core::api::SyncSummary) {
        if summary.pending == 0 && summary.rejected.is_empty() {
            for made in &mut self.made[..before] {
                made.acknowledged = true;
            }
        }
    }
}

/// The fleet: four enrolled devices and the scene of each officer.
pub struct Fleet {
    pub devices: Vec<FleetDevice>,
    /// Officer -> the id of their scene.
    pub scenes: BTreeMap<&'static str, String>,
}

impl Fleet {
    /// Adds the officers with the admin CLI of the server on `data`, enrols
    /// two devices each at `url` with `network`, and creates and syncs each
    /// officer's scene.
    pub async fn enrol(data: &Path, url: &str, network: NetworkSettings) -> Self {
        pocketbook_core::sync::client::install_crypto_provider();
        let mut devices = Vec::new();
        for officer in OFFICERS {
            process::add_officer(data, officer, STATION, "supervisor");
            for _ in 0..2 {
                let dir = tempfile::tempdir().expect("device dir");
                let notebook = pocketbook_core::api::enrol_device_with_network(
                    dir.path().display().to_string(),
                    url.to_string(),
                    process::enrolment_code(data, officer),
                    format!("faults {}", devices.len()),
                    network,
                )
                .await
                .expect("device enrols");
                devices.push(FleetDevice {
                    dir,
                    notebook,
                    officer,
                    own: Vec::new(),
                    made: Vec::new(),
                    counter: 0,
                    index: devices.len(),
                    scene: None,
                    scene_actions: 0,
                });
            }
        }
        let mut scenes = BTreeMap::new();
        for officer in OFFICERS {
            let first = devices.iter_mut().find(|d| d.officer == officer).unwrap();
            let id = first
                .notebook
                .create_scene(scene())
                .expect("scene created")
                .header
                .id;
            first.made.push(Made {
                record: id.clone(),
                edit: Edit::Created,
                acknowledged: false,
                verified: false,
            });
            scenes.insert(officer, id);
        }
        let mut fleet = Fleet { devices, scenes };
        fleet.converge("the setup").await;
        fleet
    }

    /// The scene of a device's officer.
    pub fn scene_of(&self, device: usize) -> String {
        self.scenes[self.devices[device].officer].clone()
    }

    /// Every device makes `0..=max` random edits.
    pub fn random_edits(&mut self, max: usize, rng: &mut StdRng) {
        for d in 0..self.devices.len() {
            let scene = self.scene_of(d);
            for _ in 0..rng.random_range(0..=max) {
                self.devices[d].random_edit(&scene, rng);
            }
        }
    }

    /// Every device syncs at once (each on its own task); returns how
    /// many syncs succeeded.
    pub async fn sync_all(&mut self) -> usize {
        let tasks: Vec<_> = self
            .devices
            .iter()
            .map(|d| {
                let notebook = d.notebook.clone();
                let before = d.made.len();
                (
                    before,
                    tokio::spawn(async move { notebook.sync(None).await }),
                )
            })
            .collect();
        let mut succeeded = 0;
        for (device, (before, task)) in self.devices.iter_mut().zip(tasks) {
            let outcome = task.await.expect("sync task");
            if let Ok(summary) = &outcome {
                succeeded += 1;
                device.acknowledge(before, summary);
            }
        }
        succeeded
    }

    /// Syncs every device until each has nothing pending and a whole pass
    /// brings nobody anything new: no device may stay stuck.
    pub async fn converge(&mut self, after: &str) {
        for pass in 0..12 {
            let mut quiet = true;
            for (i, device) in self.devices.iter_mut().enumerate() {
                match device.sync().await {
                    Ok(summary) => {
                        assert!(
                            summary.rejected.is_empty(),
                            "device {i} refused after {after}: {:?}",
                            summary.rejected
                        );
                        quiet &= summary.pending == 0 && summary.received == 0;
                    }
                    Err(e) => {
                        quiet = false;
                        eprintln!("{after}: device {i} sync pass {pass} failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            if quiet {
                return;
            }
        }
        panic!("the devices did not converge after {after}: a device is stuck");
    }

    /// Edits made so far, and how many of them were acknowledged.
    pub fn edit_counts(&self) -> (usize, usize) {
        let made = self.devices.iter().map(|d| d.made.len()).sum();
        let acked = self
            .devices
            .iter()
            .flat_map(|d| &d.made)
            .filter(|m| m.acknowledged)
            .count();
        (made, acked)
    }
}

//! The soak's devices: real device cores enrolled with a real server,
//! grouped into officers (two handsets each) and stations (one supervisor
//! each, whose handsets receive the whole station), making random edits
//! with unique texts and keeping a ledger of them, and the final check that
//! every device and the server agree and that every edit is there once.
//!
//! The per-record bookkeeping (`Edit`, `count_edit`, `counts`, `heads`,
//! `typed`, the feed check) is the fault suite's, from `pocketbook-tests`'
//! `storm` module; the storm's own fleet is fixed at four devices of two
//! supervisors, so the soak builds its larger topology here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pocketbook_core::Notebook;
use pocketbook_core::model::Record;
use pocketbook_core::store::ListFilter;
use pocketbook_core::sync::client::NetworkSettings;
use pocketbook_server::storage::Storage;
use pocketbook_tests::inputs::{note, scene, stop_account};
use pocketbook_tests::process;
use pocketbook_tests::storm::{self, Edit};
use rand::Rng;
use rand::rngs::StdRng;

/// Officers per station; the first of each station is its supervisor.
const OFFICERS_PER_STATION: usize = 5;
/// Actions a device adds to its own scene before it starts another, so
/// documents stay small and the cost of a round does not grow.
const ACTIONS_PER_SCENE: usize = 25;

/// An officer of the soak.
#[derive(Debug, Clone)]
pub struct Officer {
    pub number: String,
    pub station: String,
    pub supervisor: bool,
    /// The scene both of the officer's handsets write to.
    pub shared_scene: String,
}

/// One edit made on a device.
#[derive(Debug, Clone)]
pub struct Made {
    pub record: String,
    pub edit: Edit,
}

/// A handset: an enrolled core, its officer and the edits it made.
pub struct SoakDevice {
    pub index: usize,
    /// The store directory, removed when the handset is dropped.
    _dir: tempfile::TempDir,
    pub notebook: Arc<Notebook>,
    pub officer: usize,
    pub made: Vec<Made>,
    own: Vec<String>,
    scene: Option<(String, usize)>,
    counter: u64,
}

impl SoakDevice {
    /// One random edit: a new stop and account (10%) or scene (5%), a note
    /// on a record this device created, a scene action on its own scene,
    /// or a note or action on the officer's shared scene (which the
    /// officer's other handset edits concurrently). Blocking: an edit is
    /// durable (an fsync) when it returns.
    pub fn random_edit(&mut self, shared_scene: &str, rng: &mut StdRng) -> Result<(), String> {
        self.counter += 1;
        let text = format!("device {} edit {}", self.index, self.counter);
        let roll = rng.random_range(0..100);
        let index = self.index;
        let failed =
            move |what: &str, e: pocketbook_core::ApiError| format!("device {index}: {what}: {e}");
        let made = if roll < 10 || (roll < 40 && self.own.is_empty()) {
            let id = self
                .notebook
                .create_stop_account(stop_account())
                .map_err(|e| failed("create a stop and account", e))?
                .header
                .id;
            self.own.push(id.clone());
            Made {
                record: id,
                edit: Edit::Created,
            }
        } else if roll < 15
            || ((40..70).contains(&roll)
                && self
                    .scene
                    .as_ref()
                    .is_none_or(|(_, n)| *n >= ACTIONS_PER_SCENE))
        {
            let id = self
                .notebook
                .create_scene(scene())
                .map_err(|e| failed("create a scene", e))?
                .header
                .id;
            self.own.push(id.clone());
            self.scene = Some((id.clone(), 0));
            Made {
                record: id,
                edit: Edit::Created,
            }
        } else if roll < 40 {
            let record = self.own[rng.random_range(0..self.own.len())].clone();
            self.notebook
                .add_note(record.clone(), text.clone())
                .map_err(|e| failed("add a note", e))?;
            Made {
                record,
                edit: Edit::Note(text),
            }
        } else if roll < 70 {
            let (record, actions) = self.scene.as_mut().expect("a current scene");
            self.notebook
                .add_scene_action(record.clone(), note(text.clone()))
                .map_err(|e| failed("add a scene action", e))?;
            *actions += 1;
            Made {
                record: record.clone(),
                edit: Edit::Action(text),
            }
        } else if roll < 85 {
            self.notebook
                .add_scene_action(shared_scene.to_string(), note(text.clone()))
                .map_err(|e| failed("add an action to the shared scene", e))?;
            Made {
                record: shared_scene.to_string(),
                edit: Edit::Action(text),
            }
        } else {
            self.notebook
                .add_note(shared_scene.to_string(), text.clone())
                .map_err(|e| failed("add a note to the shared scene", e))?;
            Made {
                record: shared_scene.to_string(),
                edit: Edit::Note(text),
            }
        };
        self.made.push(made);
        Ok(())
    }
}

/// The soak's officers and handsets.
pub struct Fleet {
    pub officers: Vec<Officer>,
    pub devices: Vec<SoakDevice>,
}

impl Fleet {
    /// Adds `devices.div_ceil(2)` officers with the admin CLI of the server
    /// on `data`, enrols the handsets at `url` with `network`, creates each
    /// officer's shared scene on their first handset, and syncs everyone
    /// until each handset holds what it should.
    pub async fn enrol(
        data: &Path,
        url: &str,
        devices: usize,
        network: NetworkSettings,
    ) -> Result<Self, String> {
        pocketbook_core::sync::client::install_crypto_provider();
        let mut officers = Vec::new();
        for o in 0..devices.div_ceil(2) {
            let number = format!("PC{}", 1000 + o);
            let station = format!("Station {}", o / OFFICERS_PER_STATION + 1);
            let supervisor = o % OFFICERS_PER_STATION == 0;
            let role = if supervisor { "supervisor" } else { "officer" };
            process::add_officer(data, &number, &station, role);
            officers.push(Officer {
                number,
                station,
                supervisor,
                shared_scene: String::new(),
            });
        }
        let mut handsets = Vec::new();
        for index in 0..devices {
            let officer = index / 2;
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let notebook = pocketbook_core::api::enrol_device_with_network(
                dir.path().display().to_string(),
                url.to_string(),
                process::enrolment_code(data, &officers[officer].number),
                format!("soak {index}"),
                network,
            )
            .await
            .map_err(|e| format!("device {index} enrols: {e}"))?;
            handsets.push(SoakDevice {
                index,
                _dir: dir,
                notebook,
                officer,
                made: Vec::new(),
                own: Vec::new(),
                scene: None,
                counter: 0,
            });
        }
        for (o, officer) in officers.iter_mut().enumerate() {
            let first = handsets
                .iter_mut()
                .find(|d| d.officer == o)
                .expect("every officer has a handset");
            let id = first
                .notebook
                .create_scene(scene())
                .map_err(|e| format!("shared scene: {e}"))?
                .header
                .id;
            first.made.push(Made {
                record: id.clone(),
                edit: Edit::Created,
            });
            officer.shared_scene = id;
        }
        let mut fleet = Fleet {
            officers,
            devices: handsets,
        };
        fleet.converge("the setup").await?;
        Ok(fleet)
    }

    /// Syncs every handset in turn until a whole pass leaves nothing
    /// pending and brings nobody anything new; returns the passes taken.
    /// A handset that stays stuck is an error.
    pub async fn converge(&mut self, after: &str) -> Result<usize, String> {
        for pass in 1..=20 {
            let mut quiet = true;
            for device in &self.devices {
                match device.notebook.sync(None).await {
                    Ok(summary) => {
                        if !summary.rejected.is_empty() || !summary.rolled_back.is_empty() {
                            return Err(format!(
                                "after {after}: device {} was refused: {:?}",
                                device.index, summary.rejected
                            ));
                        }
                        quiet &= summary.pending == 0 && summary.received == 0;
                    }
                    Err(e) => {
                        quiet = false;
                        eprintln!(
                            "after {after}: device {} sync pass {pass} failed: {e}",
                            device.index
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            if quiet {
                return Ok(pass);
            }
        }
        Err(format!("the handsets did not converge after {after}"))
    }

    /// The records each handset should hold: its officer's, and for a
    /// supervisor every record created by an officer of the station.
    fn expected_records(&self) -> Vec<BTreeSet<String>> {
        let mut by_officer: Vec<BTreeSet<String>> = vec![BTreeSet::new(); self.officers.len()];
        for device in &self.devices {
            for made in device.made.iter().filter(|m| m.edit == Edit::Created) {
                by_officer[device.officer].insert(made.record.clone());
            }
        }
        self.devices
            .iter()
            .map(|device| {
                let me = &self.officers[device.officer];
                if !me.supervisor {
                    return by_officer[device.officer].clone();
                }
                self.officers
                    .iter()
                    .zip(&by_officer)
                    .filter(|(o, _)| o.station == me.station)
                    .flat_map(|(_, ids)| ids.iter().cloned())
                    .collect()
            })
            .collect()
    }

    /// The final check, after a clean convergence: the server holds
    /// exactly the records created; each handset holds exactly the records
    /// its scope gives it, each with the server's heads; every edit is on
    /// the server exactly once, nothing else is, and the server's feed
    /// carries each change once. Returns the number of records compared
    /// on handsets.
    pub fn check(&self, server: &dyn Storage) -> Result<usize, String> {
        let created: BTreeSet<String> = self
            .devices
            .iter()
            .flat_map(|d| &d.made)
            .filter(|m| m.edit == Edit::Created)
            .map(|m| m.record.clone())
            .collect();
        let on_server: BTreeSet<String> = server
            .records()
            .map_err(|e| format!("server records: {e}"))?
            .into_iter()
            .map(|r| r.id)
            .collect();
        if on_server != created {
            return Err(format!(
                "the server holds {} records, {} were created ({} missing, {} unexpected)",
                on_server.len(),
                created.len(),
                created.difference(&on_server).count(),
                on_server.difference(&created).count()
            ));
        }
        let mut heads: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut records: BTreeMap<String, Record> = BTreeMap::new();
        for id in &on_server {
            let snapshot = server
                .record(id)
                .map_err(|e| format!("server record: {e}"))?
                .ok_or_else(|| format!("record {id} vanished from the server"))?
                .snapshot;
            heads.insert(id.clone(), storm::heads(&snapshot));
            records.insert(id.clone(), storm::typed(&snapshot));
        }
        let mut compared = 0;
        for (device, expected) in self.devices.iter().zip(self.expected_records()) {
            let held: BTreeSet<String> = device
                .notebook
                .list(ListFilter::default())
                .map_err(|e| format!("device {} list: {e}", device.index))?
                .into_iter()
                .map(|s| s.id)
                .collect();
            if held != expected {
                return Err(format!(
                    "device {} holds {} records, its scope gives {}",
                    device.index,
                    held.len(),
                    expected.len()
                ));
            }
            for id in &held {
                let exported = device
                    .notebook
                    .export(id.clone())
                    .map_err(|e| format!("device {} export: {e}", device.index))?;
                if storm::heads(&exported) != heads[id] {
                    return Err(format!(
                        "device {}, record {id}: heads differ from the server's",
                        device.index
                    ));
                }
                compared += 1;
            }
        }
        let mut made_per_record: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for made in self.devices.iter().flat_map(|d| &d.made) {
            let count = made_per_record.entry(&made.record).or_default();
            match &made.edit {
                Edit::Created => {}
                Edit::Note(_) => count.0 += 1,
                Edit::Action(_) => count.1 += 1,
            }
            let found = storm::count_edit(&records[&made.record], &made.edit);
            if found != 1 {
                return Err(format!(
                    "record {}: an edit is on the server {found} times",
                    made.record
                ));
            }
        }
        for (id, record) in &records {
            let made = made_per_record
                .get(id.as_str())
                .copied()
                .unwrap_or_default();
            if storm::counts(record) != made {
                return Err(format!(
                    "record {id}: (notes, actions) {:?} on the server, {made:?} made",
                    storm::counts(record)
                ));
            }
        }
        storm::assert_feed_holds_each_change_once(server);
        Ok(compared)
    }
}

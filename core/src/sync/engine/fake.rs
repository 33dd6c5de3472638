//! A small in-memory sync server for the engine's tests: real Automerge
//! documents per record, a feed with the device each entry came from, and
//! faults a test arranges (an answer cut after the server committed, an
//! answer delivered again, a wipe order, a record refused). It applies no
//! scope or edit rules of its own: the real server's are tested with it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use automerge::ActorId;

use super::super::client::{ClientError, OfflineCause};
use super::super::lifecycle::WipeReason;
use super::super::wire::{
    Ack, FeedEntry, PROTOCOL_VERSION, Rejection, RejectionCode, SyncRequest, SyncResponse,
};
use super::{Answer, Request, Transport};
use crate::document::{DocumentError, RecordDoc};

/// What the next request of a device meets.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The server does the work and commits, then the connection drops.
    CutAfterCommit,
    /// The device gets the answer it got last time again, and the server
    /// does nothing with the request.
    RepeatLastAnswer,
    /// The server answers 401 with `wipe`.
    Wipe(WipeReason),
}

#[derive(Default)]
struct State {
    records: HashMap<String, RecordDoc>,
    /// Feed entries with the device that caused each.
    feed: Vec<(FeedEntry, String)>,
    faults: HashMap<String, VecDeque<Fault>>,
    last_answer: HashMap<String, SyncResponse>,
    refuse: HashMap<String, RejectionCode>,
    retire: Vec<String>,
    requests: usize,
}

/// The server; [`FakeServer::link`] gives each device its transport.
#[derive(Default, Clone)]
pub struct FakeServer(Arc<Mutex<State>>);

/// One device's connection to the fake server.
pub struct Link {
    server: FakeServer,
    device: String,
}

impl FakeServer {
    pub fn link(&self, device: &str) -> Link {
        Link {
            server: self.clone(),
            device: device.to_string(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    pub fn fault(&self, device: &str, fault: Fault) {
        self.state()
            .faults
            .entry(device.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Refuses every later push of this record with `code`.
    pub fn refuse(&self, record_id: &str, code: RejectionCode) {
        self.state().refuse.insert(record_id.to_string(), code);
    }

    /// Accepts pushes of this record again.
    pub fn accept(&self, record_id: &str) {
        self.state().refuse.remove(record_id);
    }

    /// Marks a device for handing back.
    pub fn retire(&self, device: &str) {
        self.state().retire.push(device.to_string());
    }

    /// Feed entries of a record (its history on the server).
    pub fn entries_of(&self, record_id: &str) -> usize {
        self.state()
            .feed
            .iter()
            .filter(|(e, _)| e.record_id == record_id)
            .count()
    }

    /// The server's heads of a record.
    pub fn heads(&self, record_id: &str) -> Vec<String> {
        let mut state = self.state();
        let mut heads = state
            .records
            .get_mut(record_id)
            .map(|d| d.heads_hex())
            .unwrap_or_default();
        heads.sort();
        heads
    }

    /// Requests the server did the work of (faults that skip it excluded).
    pub fn requests(&self) -> usize {
        self.state().requests
    }

    fn answer(&self, device: &str, request: &SyncRequest) -> SyncResponse {
        let mut state = self.state();
        state.requests += 1;
        let mut acknowledged = Vec::new();
        let mut rejected = Vec::new();
        for push in &request.push {
            if let Some(code) = state.refuse.get(&push.record_id) {
                rejected.push(Rejection {
                    record_id: push.record_id.clone(),
                    code: *code,
                    message: "refused by the test".into(),
                });
                continue;
            }
            let merged = match state.records.get_mut(&push.record_id) {
                Some(doc) => {
                    let before = doc.heads();
                    doc.apply_changes(&push.changes)
                        .map(|()| (doc.changes_since(&before), doc.heads_hex()))
                }
                None => RecordDoc::from_changes(&push.changes, ActorId::random()).map(|mut doc| {
                    let out = (doc.changes_since(&[]), doc.heads_hex());
                    state.records.insert(push.record_id.clone(), doc);
                    out
                }),
            };
            match merged {
                Ok((changes, heads)) => {
                    if !changes.is_empty() {
                        let seq = state.feed.len() as u64 + 1;
                        let entry = FeedEntry {
                            seq,
                            record_id: push.record_id.clone(),
                            kind: push.kind,
                            changes,
                            erased: false,
                        };
                        state.feed.push((entry, device.to_string()));
                    }
                    acknowledged.push(Ack {
                        record_id: push.record_id.clone(),
                        heads,
                    });
                }
                Err(e) => rejected.push(Rejection {
                    record_id: push.record_id.clone(),
                    code: match e {
                        DocumentError::MissingDependencies => RejectionCode::MissingDependencies,
                        _ => RejectionCode::Corrupt,
                    },
                    message: "could not merge".into(),
                }),
            }
        }
        let after = request.cursor.unwrap_or(0);
        let limit = request.page_size.unwrap_or(500) as usize;
        let later: Vec<&(FeedEntry, String)> =
            state.feed.iter().filter(|(e, _)| e.seq > after).collect();
        let mut changes = Vec::new();
        let mut cursor = after;
        let mut examined = 0;
        for (entry, origin) in &later {
            if changes.len() >= limit {
                break;
            }
            examined += 1;
            cursor = entry.seq;
            if *origin != device {
                changes.push(entry.clone());
            }
        }
        SyncResponse {
            protocol: PROTOCOL_VERSION,
            acknowledged,
            rejected,
            changes,
            cursor,
            more: examined < later.len(),
            retire: state.retire.iter().any(|d| d == device),
            server_time: None,
            access: None,
            next_pins: vec![],
            retention: None,
            legal_holds: None,
        }
    }
}

impl Transport for Link {
    async fn send(&self, request: Request) -> Result<Answer, ClientError> {
        let fault = self
            .server
            .state()
            .faults
            .get_mut(&self.device)
            .and_then(VecDeque::pop_front);
        let request = match (request, fault) {
            (_, Some(Fault::Wipe(reason))) => return Err(ClientError::Wipe(reason)),
            (Request::Retire, _) => return Ok(Answer::Retired),
            (Request::Sync(_), Some(Fault::RepeatLastAnswer)) => {
                let last = self.server.state().last_answer.get(&self.device).cloned();
                return last
                    .map(|a| Answer::Synced(Box::new(a)))
                    .ok_or_else(|| ClientError::Protocol("no earlier answer".into()));
            }
            (Request::Sync(request), fault) => (request, fault),
        };
        let (request, fault) = request;
        let answer = self.server.answer(&self.device, &request);
        self.server
            .state()
            .last_answer
            .insert(self.device.clone(), answer.clone());
        match fault {
            Some(Fault::CutAfterCommit) => Err(ClientError::Offline {
                cause: OfflineCause::Other,
                detail: "connection reset after the server committed".into(),
            }),
            _ => Ok(Answer::Synced(Box::new(answer))),
        }
    }
}

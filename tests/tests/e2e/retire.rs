//! The retire round trip cannot lose an edit: a device being handed back
//! proves nothing is unacknowledged and erases itself in one critical
//! section, so an edit made while its confirmation is in flight is refused
//! (the notebook is gone), never stored and then silently erased; an edit
//! made after the last answer but before that section keeps the device and
//! is uploaded by the next sync. The race is made deterministic by a proxy
//! that runs the edit while `/v1/retire` waits ([`Interceptor`]).

use std::sync::{Arc, Mutex};

use pocketbook_core::api::{CallbackError, SyncProgress};
use pocketbook_core::sync::lifecycle::WipeReason;
use pocketbook_core::sync::wire::RETIRE_PATH;
use pocketbook_core::{ApiError, Notebook};
use pocketbook_tests::inputs::*;
use pocketbook_tests::intercept::Interceptor;
use pocketbook_tests::{Serving, Station};

fn on_server(station: &Station, id: &str) -> bool {
    station.admin.records().unwrap().iter().any(|r| r.id == id)
}

#[tokio::test]
async fn an_edit_racing_the_retire_confirmation_is_never_silently_erased() {
    // Plain http: the interceptor reads each request's path.
    let station = Station::start_serving(Serving::PlainHttp).await;
    station.add_officer("PC1", "Lewisham");
    // The notebook is known only once enrolled (through the proxy).
    let notebook: Arc<Mutex<Option<Arc<Notebook>>>> = Arc::default();
    let edits: Arc<Mutex<Vec<Result<String, ApiError>>>> = Arc::default();
    let hook = {
        let (notebook, edits) = (notebook.clone(), edits.clone());
        Arc::new(move || {
            let notebook = notebook.lock().unwrap().clone().expect("enrolled");
            let edit = notebook
                .create_stop_account(stop_account())
                .map(|r| r.header.id);
            edits.lock().unwrap().push(edit);
        })
    };
    let link = Interceptor::start(station.addr(), RETIRE_PATH, hook).await;
    let device = station.device_via("PC1", &link.url()).await;
    *notebook.lock().unwrap() = Some(device.notebook.clone());
    let uploaded = device
        .create_stop_account(stop_account())
        .unwrap()
        .header
        .id;
    station
        .admin_service()
        .retire_device(&device.device_id)
        .unwrap();

    let retired = device.sync(None).await;
    assert_eq!(link.fired(), 1, "the confirmation went out once");
    assert!(
        matches!(
            retired,
            Err(ApiError::Wiped {
                reason: WipeReason::Retired,
                lost_edits: 0
            })
        ),
        "retired with nothing lost: {retired:?}"
    );
    assert!(on_server(&station, &uploaded));
    let edits = edits.lock().unwrap();
    assert_eq!(edits.len(), 1);
    match &edits[0] {
        // Stored: then it must have reached the server, not gone with the wipe.
        Ok(id) => assert!(
            on_server(&station, id),
            "an edit stored during the retire round trip was erased without being uploaded"
        ),
        // Refused: the caller was told, and nothing was stored.
        Err(e) => assert!(matches!(e, ApiError::NotEnrolled { .. }), "{e:?}"),
    }
    let device_row = station.admin.device(&device.device_id).unwrap().unwrap();
    assert_eq!(
        device_row.revoke_reason,
        Some(pocketbook_server::identity::RevokeReason::Retired),
        "the server closed the credential"
    );
}

/// Makes one edit from the first progress report: after the server's
/// answer, before the device decides whether to retire.
struct EditOnce {
    notebook: Arc<Notebook>,
    made: Mutex<Option<String>>,
}

impl SyncProgress for EditOnce {
    fn on_progress(&self, _sent: i32, _received: i32) -> Result<(), CallbackError> {
        let mut made = self.made.lock().unwrap();
        if made.is_none() {
            let id = self
                .notebook
                .create_stop_account(stop_account())
                .expect("the notebook is still open")
                .header
                .id;
            *made = Some(id);
        }
        Ok(())
    }
}

#[tokio::test]
async fn an_edit_after_the_last_answer_keeps_the_device_until_it_is_uploaded() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    device.create_stop_account(stop_account()).unwrap();
    station
        .admin_service()
        .retire_device(&device.device_id)
        .unwrap();
    let late = Arc::new(EditOnce {
        notebook: device.notebook.clone(),
        made: Mutex::new(None),
    });
    let progress: Arc<dyn SyncProgress> = late.clone();
    let summary = device.sync(Some(progress)).await.expect("not retired yet");
    let id = late
        .made
        .lock()
        .unwrap()
        .clone()
        .expect("the edit was made");
    assert_eq!(summary.pending, 1, "{summary:?}");
    assert!(device.get(id.clone()).is_ok(), "kept on the device");
    assert!(!on_server(&station, &id));
    let device_row = station.admin.device(&device.device_id).unwrap().unwrap();
    assert!(device_row.revoked_at.is_none(), "not retired yet");

    let retired = device.sync(None).await;
    assert!(
        matches!(
            retired,
            Err(ApiError::Wiped {
                reason: WipeReason::Retired,
                lost_edits: 0
            })
        ),
        "{retired:?}"
    );
    assert!(on_server(&station, &id), "uploaded before the wipe");
}

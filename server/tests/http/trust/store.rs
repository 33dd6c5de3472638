//! The store files: an erased record leaves nothing readable, and the
//! files are private to the server.

use super::*;

#[tokio::test]
async fn an_erased_record_leaves_nothing_readable_in_the_store_files() {
    let (server, ahead) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    // A short street is stored as it is (long columns are compressed).
    let street = "Qz7 Residue Lane";
    let mut search = stop_search();
    search.location.street = street.into();
    let id = nb.create_stop_search(search).unwrap().header.id;
    let reference = nb.get(id.clone()).unwrap().header.reference;
    let pushed = server
        .sync(
            &token,
            &request(
                None,
                vec![push(
                    &id,
                    RecordKind::StopSearch,
                    nb.export(id.clone()).unwrap(),
                )],
            ),
        )
        .await;
    assert_eq!(pushed.acknowledged.len(), 1);
    let files = |dir: &std::path::Path| -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["server.db", "server.db-wal"] {
            bytes.extend(std::fs::read(dir.join(name)).unwrap_or_default());
        }
        bytes
    };
    let holds = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    // Positive control: before the erasure both are there, as stored.
    let before = files(server.dir.path());
    assert!(holds(&before, street), "the street is stored literally");
    assert!(holds(&before, &reference));

    // A year at once: the admin confirms the clock (the retention clock guard).
    ahead.store(TimeDelta::days(367).num_seconds(), Ordering::SeqCst);
    let report = server
        .admin()
        .run_retention_confirmed(&RetentionPolicy::default(), false)
        .unwrap();
    assert_eq!(report.records.len(), 1);
    let after = files(server.dir.path());
    assert!(
        !holds(&after, street),
        "the erased street is still in the files"
    );
    assert!(!holds(&after, &reference));
    still_serving(&server, &other).await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_is_private_to_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("pocketbook-data");
    let storage = pocketbook_server::storage::sqlite::SqliteStorage::open(&data).unwrap();
    // A write creates the write-ahead log and its shared memory.
    use pocketbook_server::storage::{AuditLog, Storage};
    storage.ping().unwrap();
    storage
        .append_audit(
            &from_today(0),
            &[pocketbook_server::audit::event(
                "admin",
                pocketbook_server::audit::Action::OfficerAdded,
                None,
                serde_json::json!({}),
            )],
        )
        .unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for name in ["server.db", "server.db-wal", "server.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}

//! The reads the promise gauges make every minute (`crate::pledge`): the
//! stations holding records of some kinds, a station's records by id and
//! version only, and a bounded batch of records fetched by id.

use pocketbook_core::model::RecordKind;

use super::retention::record_at;
use super::*;

/// `stations_holding` lists each station with a record of the kinds once,
/// and no other; `record_versions` lists a station's records of the kinds
/// with the version each is at now (an update moves it, an erasure drops
/// it); `records_by_id` returns the records that exist among the ids, at
/// the version listed, and refuses more than [`RECORDS_PER_READ`] ids.
pub(crate) fn gauge_reads(store: &dyn Storage) {
    let scene = RecordKind::SceneAttendance;
    let burglary = RecordKind::HomeBurglary;
    let stop = RecordKind::StopSearch;
    let kinds = [scene, burglary];
    assert!(store.stations_holding(&kinds).unwrap().is_empty());
    for (id, kind, station) in [
        ("s1", scene, "Lewisham"),
        ("b1", burglary, "Lewisham"),
        ("s2", scene, "Brixton"),
        ("x1", stop, "Catford"),
        ("x2", stop, "Lewisham"),
        ("s3", scene, "Deptford"),
        ("x3", stop, "Deptford"),
    ] {
        let mut c = record_at(id, kind, "2026-11-28T10:00:00Z");
        c.index.station = station.into();
        store.commit_record(&c).unwrap();
    }
    let mut stations = store.stations_holding(&kinds).unwrap();
    stations.sort();
    assert_eq!(stations, ["Brixton", "Deptford", "Lewisham"]);
    assert_eq!(store.stations_holding(&[stop]).unwrap().len(), 3);
    assert_eq!(store.stations_holding(&[burglary]).unwrap(), ["Lewisham"]);

    let versions = |station: &str| {
        let mut listed = store.record_versions(station, &kinds).unwrap();
        listed.sort();
        listed
            .into_iter()
            .map(|v| (v.id, v.version))
            .collect::<Vec<_>>()
    };
    let lewisham = versions("Lewisham");
    assert_eq!(
        lewisham
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["b1", "s1"]
    );
    assert!(versions("Catford").is_empty());
    assert!(versions("Nowhere").is_empty());

    // An update moves the version listed; the fetch reads it at that one.
    let s1 = store.record("s1").unwrap().unwrap();
    let mut update = record_at("s1", scene, "2026-11-28T10:00:00Z");
    update.index.station = "Lewisham".into();
    update.snapshot = b"s1, changed".to_vec();
    update.expected_version = Some(s1.version);
    store.commit_record(&update).unwrap();
    let after = versions("Lewisham");
    assert_eq!(after[0], lewisham[0]);
    assert_ne!(after[1].1, lewisham[1].1);

    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut fetched = store
        .records_by_id(&ids(&["s1", "b1", "x1", "unknown"]))
        .unwrap();
    fetched.sort_by(|a, b| a.index.id.cmp(&b.index.id));
    let got: Vec<_> = fetched
        .iter()
        .map(|r| (r.index.id.as_str(), r.snapshot.as_slice(), r.version))
        .collect();
    assert_eq!(
        got,
        [
            ("b1", b"b1".as_slice(), after[0].1),
            ("s1", b"s1, changed".as_slice(), after[1].1),
            (
                "x1",
                b"x1".as_slice(),
                store.record("x1").unwrap().unwrap().version
            ),
        ]
    );
    assert_eq!(fetched[0].index, store.record("b1").unwrap().unwrap().index);
    assert!(store.records_by_id(&[]).unwrap().is_empty());
    // Bounded: the most ids at once, and not one more.
    let many: Vec<String> = (0..RECORDS_PER_READ).map(|n| format!("r{n}")).collect();
    assert!(store.records_by_id(&many).unwrap().is_empty());
    let too_many: Vec<String> = (0..=RECORDS_PER_READ).map(|n| format!("r{n}")).collect();
    assert!(matches!(
        store.records_by_id(&too_many),
        Err(StorageError::Backend(_))
    ));

    // Erased: gone from all three.
    store
        .erase_record("s2", "2026-12-01T00:00:00Z", "retention", &[])
        .unwrap();
    assert!(versions("Brixton").is_empty());
    assert!(
        !store
            .stations_holding(&kinds)
            .unwrap()
            .contains(&"Brixton".to_string())
    );
    assert!(store.records_by_id(&ids(&["s2"])).unwrap().is_empty());
}

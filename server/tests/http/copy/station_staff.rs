//! Station staff find and issue copies of their station's records;
//! everyone else is refused.

use super::*;

#[tokio::test]
async fn station_staff_find_and_issue_copies_and_others_are_refused() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (id, reference) = desk.search(&nb, &token).await;
    desk.add("ST1", "Lewisham", Role::Staff);
    desk.add("PS9", "Brixton", Role::Supervisor);
    desk.add("PC2", "Lewisham", Role::Officer);
    desk.add("ST2", "Lewisham", Role::Staff);
    desk.server
        .storage
        .deactivate_officer("ST2", "2026-11-29T10:00:00Z", &|_| Vec::new())
        .unwrap();
    let storage = desk.server.storage.as_ref();
    let now = desk.now();
    let policy = Some(&pocketbook_server::retention::RetentionPolicy::default());
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();

    let found = staff::find_for_person(
        storage,
        policy,
        now,
        "ST1",
        day,
        Some("high street"),
        Some("PC1"),
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].record_id.as_str(), found[0].reference.as_str()),
        (id.as_str(), reference.as_str())
    );
    assert!(
        staff::find_for_person(storage, policy, now, "ST1", day, Some("Acacia"), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        staff::find_for_person(
            storage,
            policy,
            now,
            "ST1",
            day.pred_opt().unwrap(),
            None,
            None
        )
        .unwrap()
        .is_empty()
    );
    let copy = staff::issue_copy(storage, policy, now, "ST1", &id).unwrap();
    assert_eq!(copy.reference, reference);
    assert_eq!(copy.officer.shoulder_number, "PC1");

    // A supervisor of another station sees nothing of Lewisham's.
    assert!(
        staff::find_for_person(storage, policy, now, "PS9", day, None, None)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        staff::issue_copy(storage, policy, now, "PS9", &id),
        Err(StaffError::NotFound(_))
    ));
    for who in ["PC2", "ST2", "NOBODY"] {
        assert!(matches!(
            staff::find_for_person(storage, policy, now, who, day, None, None),
            Err(StaffError::NotAllowed(m)) if m.contains("station staff")
        ));
        assert!(matches!(
            staff::issue_copy(storage, policy, now, who, &id),
            Err(StaffError::NotAllowed(_))
        ));
    }

    let lookups = desk.server.audit("staff-lookup");
    assert_eq!(lookups.len(), 4);
    assert_eq!(lookups[0].actor, "officer:ST1");
    assert_eq!(lookups[0].detail["results"], 1);
    let issued = desk.server.audit("copy-issued");
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor, "officer:ST1");
    assert_eq!(issued[0].record_id.as_deref(), Some(id.as_str()));
    desk.assert_clean_audit();
}

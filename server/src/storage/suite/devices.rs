//! Officers, enrolment codes and devices: added, refused twice, revoked,
//! retired, each with its audit events in the same transaction.

use super::*;

/// Revocation, retirement and deactivation close credentials for good; each
/// state change writes its audit events with it, and a refused change
/// writes none.
pub(super) fn devices_close(store: &dyn Storage) {
    let added = |n: &[String]| vec![admin_event(Action::DeviceEnrolled, &n.join(","))];
    store
        .add_officer(
            &officer("PC5", "Lewisham"),
            T,
            &[admin_event(Action::OfficerAdded, "PC5")],
        )
        .unwrap();
    assert!(matches!(
        store.add_officer(
            &officer("PC5", "Lewisham"),
            T,
            &[admin_event(Action::OfficerAdded, "PC5")]
        ),
        Err(StorageError::Duplicate(_))
    ));
    assert_eq!(events_of(store, "officer-added"), 1);
    for (n, id) in ["d5", "d6", "d7"].iter().enumerate() {
        let code = format!("code-5{n}");
        store
            .add_enrolment_code(
                code.as_bytes(),
                "PC5",
                100,
                T,
                &[admin_event(Action::EnrolmentCodeIssued, "PC5")],
            )
            .unwrap();
        store
            .redeem_enrolment_code(
                code.as_bytes(),
                50,
                &device(id),
                format!("tok-5{n}").as_bytes(),
                T,
                &|o: &OfficerRow| added(std::slice::from_ref(&o.shoulder_number)),
            )
            .unwrap();
        // Used: refused, and nothing audited.
        assert!(matches!(
            store.redeem_enrolment_code(
                code.as_bytes(),
                50,
                &device("d-again"),
                b"tok-again",
                T,
                &|o: &OfficerRow| added(std::slice::from_ref(&o.shoulder_number)),
            ),
            Err(StorageError::CodeRefused)
        ));
    }
    assert!(matches!(
        store.add_enrolment_code(
            b"code-59",
            "PC404",
            100,
            T,
            &[admin_event(Action::EnrolmentCodeIssued, "PC404")]
        ),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "enrolment-code-issued"), 3);
    let enrolled = store
        .audit_events(&AuditQuery {
            action: Some("device-enrolled".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(enrolled.len(), 3);
    assert_eq!(enrolled[0].detail, serde_json::json!({"subject": "PC5"}));

    let revoked_event = [admin_event(Action::DeviceRevoked, "d5")];
    store
        .revoke_device("d5", RevokeReason::Revoked, "t1", &revoked_event)
        .unwrap();
    assert!(matches!(
        store.revoke_device("d5", RevokeReason::Revoked, "t2", &revoked_event),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "device-revoked"), 1);
    let d5 = store.principal(b"tok-50").unwrap().unwrap().device;
    assert_eq!(d5.revoked_at.as_deref(), Some("t1"));
    assert_eq!(d5.revoke_reason, Some(RevokeReason::Revoked));

    let retire_event = [admin_event(Action::DeviceRetireRequested, "d6")];
    store.request_retire("d6", "t3", &retire_event).unwrap();
    store.request_retire("d6", "t4", &retire_event).unwrap();
    assert_eq!(
        store
            .device("d6")
            .unwrap()
            .unwrap()
            .retire_requested_at
            .as_deref(),
        Some("t3")
    );
    assert!(matches!(
        store.request_retire("d5", "t4", &retire_event),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "device-retire-requested"), 2);

    // A code issued before the officer is deactivated is of no use after.
    store
        .add_enrolment_code(b"code-58", "PC5", 100, T, &[])
        .unwrap();
    let deactivated =
        |devices: &[String]| vec![admin_event(Action::OfficerDeactivated, &devices.join(","))];
    let revoked = store.deactivate_officer("PC5", "t5", &deactivated).unwrap();
    assert_eq!(revoked.len(), 2, "d6 and d7, not the already revoked d5");
    assert!(!store.officer("PC5").unwrap().unwrap().active);
    assert_eq!(
        store.device("d7").unwrap().unwrap().revoke_reason,
        Some(RevokeReason::OfficerDeactivated)
    );
    assert!(matches!(
        store.redeem_enrolment_code(
            b"code-58",
            50,
            &device("d8"),
            b"tok-58",
            T,
            &|o: &OfficerRow| { added(std::slice::from_ref(&o.shoulder_number)) }
        ),
        Err(StorageError::CodeRefused)
    ));
    assert!(store.device("d8").unwrap().is_none());
    assert!(store.principal(b"tok-58").unwrap().is_none());
    assert!(matches!(
        store.add_enrolment_code(b"code-59", "PC5", 100, T, &[]),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(events_of(store, "device-enrolled"), 3);
    assert!(matches!(
        store.deactivate_officer("PC404", "t5", &deactivated),
        Err(StorageError::NotFound(_))
    ));
    let events = store
        .audit_events(&AuditQuery {
            action: Some("officer-deactivated".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail, serde_json::json!({"subject": "d6,d7"}));
}

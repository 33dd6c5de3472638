//! The wire format's own checks: rejection codes spelt once, announced
//! pins, retention terms and holds, and a previous protocol's answer.

use super::*;

#[test]
fn rejection_codes_are_spelled_once() {
    for code in RejectionCode::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::json!(code.as_str())
        );
        assert_eq!(RejectionCode::parse(code.as_str()), Some(*code));
    }
}

#[test]
fn announced_pins_are_bounded_and_exactly_pins() {
    let pin = |n: u8| crate::tls_pin::Pin([n; 32]).to_string();
    let four: Vec<String> = (1..=4).map(pin).collect();
    assert_eq!(check_next_pins(&four).unwrap().len(), 4);
    assert_eq!(check_next_pins(&[]), Ok(vec![]));
    let five: Vec<String> = (1..=5).map(pin).collect();
    assert!(check_next_pins(&five).unwrap_err().contains("at most 4"));
    for bad in [
        format!(" {}", pin(1)),
        pin(1).replace("sha256/", "sha1/"),
        "sha256/AAAA".to_string(),
        String::new(),
    ] {
        assert!(
            check_next_pins(std::slice::from_ref(&bad)).is_err(),
            "{bad:?}"
        );
    }
    // An answer without the field (older servers) reads as none.
    let old = serde_json::json!({
        "protocol": 2, "acknowledged": [], "rejected": [], "changes": [],
        "cursor": 0, "more": false
    });
    let answer: SyncResponse = serde_json::from_value(old).unwrap();
    assert!(answer.next_pins.is_empty());
}

#[test]
fn retention_terms_and_holds_are_checked_and_counted_as_the_server_counts() {
    let now: chrono::DateTime<chrono::Utc> = "2027-11-29T12:00:00Z".parse().unwrap();
    let terms = RetentionTerms {
        encounter_months: 12,
        attendance_days: None,
    };
    assert_eq!(
        terms.due_before(RecordKind::StopSearch, now),
        Some("2026-11-29T12:00:00Z".parse().unwrap())
    );
    assert_eq!(terms.due_before(RecordKind::SceneAttendance, now), None);
    let scenes = RetentionTerms {
        attendance_days: Some(30),
        ..terms
    };
    assert_eq!(
        scenes.due_before(RecordKind::HomeBurglary, now),
        Some("2027-10-30T12:00:00Z".parse().unwrap())
    );

    let mut answer: SyncResponse = serde_json::from_value(serde_json::json!({
        "protocol": 2, "acknowledged": [], "rejected": [], "changes": [],
        "cursor": 0, "more": false
    }))
    .unwrap();
    assert_eq!((answer.retention, answer.legal_holds.clone()), (None, None));
    assert_eq!(check_answer(&answer), Ok(()));
    answer.retention = Some(RetentionTerms {
        encounter_months: 0,
        attendance_days: None,
    });
    assert!(
        check_answer(&answer)
            .unwrap_err()
            .contains("less than a month")
    );
    answer.retention = Some(RetentionTerms {
        encounter_months: 12,
        attendance_days: Some(0),
    });
    assert!(
        check_answer(&answer)
            .unwrap_err()
            .contains("less than a day")
    );
    answer.retention = Some(terms);
    answer.legal_holds = Some(vec![String::new()]);
    assert!(check_answer(&answer).unwrap_err().contains("no record id"));
    answer.legal_holds = Some(vec!["x".repeat(MAX_RECORD_ID_LEN + 1)]);
    assert!(check_answer(&answer).is_err());
    answer.legal_holds = Some(vec!["r".into(); MAX_LEGAL_HOLDS + 1]);
    assert!(check_answer(&answer).unwrap_err().contains("legal holds"));
    answer.legal_holds = Some(vec!["0192b1f4-0000-7000-8000-000000000001".into()]);
    assert_eq!(check_answer(&answer), Ok(()));
}

#[test]
fn a_previous_protocol_answer_reads_without_access() {
    let old = serde_json::json!({
        "protocol": 1, "acknowledged": [], "rejected": [], "changes": [],
        "cursor": 0, "more": false
    });
    let answer: SyncResponse = serde_json::from_value(old).unwrap();
    assert_eq!(answer.access, None);
    assert!(SUPPORTED_PROTOCOLS.contains(&1) && SUPPORTED_PROTOCOLS.contains(&PROTOCOL_VERSION));
}

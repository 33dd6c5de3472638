//! What every record kind shares through the public API: operations
//! refused on the wrong kind, the list and its filters, references,
//! vocabulary strings and their labels, change listeners, the notebook's
//! one officer, and free text. Each kind's own rules are in `encounters`
//! (stop and search, stop and account) and `scenes` (scene attendance,
//! home burglary).

use pocketbook_core::ApiError;
use pocketbook_core::model::*;
use pocketbook_core::store::ListFilter;

use crate::support::*;

pub(crate) fn invalid_message(result: Result<impl std::fmt::Debug, ApiError>) -> String {
    match result {
        Err(e @ ApiError::Invalid { .. }) => e.to_string(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn operations_refuse_the_wrong_kind() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC106");
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    assert!(matches!(
        nb.add_scene_action(search, note("x")),
        Err(ApiError::Conflict { detail: m }) if m.contains("stop-search")
    ));
    let scene_id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    assert!(matches!(
        nb.issue_receipt(scene_id, ReceiptMedium::Printed),
        Err(ApiError::Conflict { .. })
    ));
    assert!(matches!(
        nb.get("no-such-id".into()),
        Err(ApiError::NotFound { .. })
    ));
}

#[test]
fn list_filters_by_kind_status_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC107");
    let search = nb.create_stop_search(stop_search()).unwrap();
    nb.create_stop_account(stop_account()).unwrap();
    nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    assert_eq!(nb.list(ListFilter::default()).unwrap().len(), 3);
    let searches = nb
        .list(ListFilter {
            kind: Some(RecordKind::StopSearch),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].id, search.header.id);
    assert_eq!(searches[0].occurred_at, at(14, 5));
    let typed = search.header.reference.to_lowercase().replace('-', " ");
    let by_ref = nb
        .list(ListFilter {
            reference: Some(typed),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_ref.len(), 1);
    assert!(matches!(
        nb.list(ListFilter {
            reference: Some("NOT-A-REF".into()),
            ..Default::default()
        }),
        Err(ApiError::BadInput { .. })
    ));
    nb.issue_receipt(search.header.id, ReceiptMedium::Printed)
        .unwrap();
    let open = nb
        .list(ListFilter {
            status: Some(RecordStatus::Open),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(open.len(), 2);
}

#[test]
fn references_are_unique_and_check_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC108");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let reference = nb
            .create_stop_account(stop_account())
            .unwrap()
            .header
            .reference;
        assert_eq!(
            pocketbook_core::api::parse_reference(reference.to_lowercase()).unwrap(),
            reference
        );
        assert!(seen.insert(reference));
    }
    assert!(pocketbook_core::api::parse_reference("0000-0000-0000-01".into()).is_err());
}

#[test]
fn vocabulary_strings_are_exact_and_unknown_ones_are_refused() {
    let search: Result<StopSearch, _> = serde_json::from_value(serde_json::json!({
        "type": "Person search", "datetime": at(14, 5),
        "location": {"street": "High St"}, "grounds": "g",
        "object_of_search": "Drugs", "legislation": "Misuse of Drugs Act 1971 (section 23)",
        "outcome": "Arrest"
    }));
    let message = search.unwrap_err().to_string();
    assert!(
        message.contains("unknown ObjectOfSearch \"Drugs\""),
        "{message}"
    );
    assert!(message.contains("\"Controlled drugs\""), "{message}");
    assert_eq!(SelfDefinedEthnicity::ALL.len(), 19);
    assert_eq!(Legislation::ALL.len(), 15);
    assert_eq!(ObjectOfSearch::ALL.len(), 13);
    assert_eq!(Outcome::Arrest.police_uk_id(), Some("bu-arrest"));
    assert_eq!(SelfDefinedEthnicity::NotStated.code(), "NS");
}

#[test]
fn listeners_hear_durable_changes_until_cancelled() {
    use pocketbook_core::api::{CallbackError, ChangeEvent, ChangeListener, ChangeOrigin};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<ChangeEvent>>);
    impl ChangeListener for Recorder {
        fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError> {
            self.0.lock().unwrap().push(event);
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC109");
    let recorder = Arc::new(Recorder::default());
    let subscription = nb.subscribe(recorder.clone());
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    nb.add_scene_action(id.clone(), note("first")).unwrap();
    assert!(nb.add_scene_action(id.clone(), note("")).is_err());
    subscription.cancel();
    nb.add_scene_action(id.clone(), note("unheard")).unwrap();
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "create and one action: {events:?}");
    assert!(events.iter().all(|e| e.record_id == id
        && e.origin == ChangeOrigin::Local
        && e.kind == RecordKind::SceneAttendance));
}

#[test]
fn a_notebook_belongs_to_one_officer() {
    let dir = tempfile::tempdir().unwrap();
    drop(notebook(&dir, "PC110"));
    let other = pocketbook_core::Notebook::open(dir.path().display().to_string(), officer("PC999"));
    assert!(matches!(other, Err(ApiError::Conflict { .. })));
    let mut nameless = officer("PC110");
    nameless.name = String::new();
    let refused = pocketbook_core::Notebook::open(dir.path().display().to_string(), nameless);
    assert!(
        matches!(refused, Err(ref e @ ApiError::Invalid { .. }) if e.to_string().contains("officer.name"))
    );
}

#[test]
fn every_vocabulary_value_has_a_label_for_people() {
    assert_eq!(
        self_defined_ethnicity_label(SelfDefinedEthnicity::W1),
        "White - English/Welsh/Scottish/Northern Irish/British"
    );
    assert_eq!(self_defined_ethnicity_code(SelfDefinedEthnicity::W1), "W1");
    assert_eq!(age_range_label(AgeRange::From18To24), "18-24");
    assert_eq!(age_range_label(AgeRange::Under10), "Under 10");
    assert_eq!(record_kind_label(RecordKind::StopSearch), "Stop and search");
    assert_eq!(
        update_method_label(UpdateMethod::TextMessage),
        "Text message"
    );
    assert_eq!(
        response_grade_label(ResponseGrade::NotAttended),
        "Not attended"
    );
    for item in ChecklistItem::ALL {
        assert!(!checklist_item_label(*item).is_empty());
    }
}

#[test]
fn a_negative_list_limit_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    nb.create_stop_account(stop_account()).unwrap();
    let refused = nb.list(ListFilter {
        limit: Some(-1),
        ..ListFilter::default()
    });
    assert!(invalid_message(refused).contains("limit"));
    let one = nb.list(ListFilter {
        limit: Some(1),
        ..ListFilter::default()
    });
    assert_eq!(one.unwrap().len(), 1);
}

/// No keyboard types a control character, and a terminal's escape
/// sequences are made of them: free text holding one is refused (both
/// ends run this rule), naming the field; line breaks and tabs are text.
#[test]
fn free_text_with_a_control_character_is_refused_and_line_breaks_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    for hostile in ["\u{1b}[2J", "a bell \u{7}", "C1 \u{9b}31m", "nul \u{0}"] {
        let mut search = stop_search();
        search.grounds = format!("Seen passing a package {hostile}");
        let message = invalid_message(nb.create_stop_search(search));
        assert!(
            message.contains("grounds: holds a control character"),
            "{message}"
        );
    }
    let mut search = stop_search();
    search.grounds = "Seen passing a package.\r\nSmelt of cannabis.\tAdmitted it.".into();
    let record = nb.create_stop_search(search).unwrap();
    let message =
        invalid_message(nb.add_note(record.header.id.clone(), "note \u{1b}]0;x\u{7}".into()));
    assert!(message.contains("holds a control character"), "{message}");
}

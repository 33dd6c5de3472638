//! Published figures: a month is frozen once, whichever handle (instance)
//! freezes first, with its audit event only when it was stored; a frozen
//! month survives a restart.

use std::path::Path;

use super::*;

fn frozen_event(month: &str) -> NewAuditEvent {
    NewAuditEvent {
        actor: "public".into(),
        action: "figures-frozen".into(),
        record_id: None,
        detail: serde_json::json!({ "month": month }),
    }
}

pub(crate) fn frozen_once(make: impl Fn(&Path) -> Box<dyn Storage>) {
    const FREEZERS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let handles = [make(dir.path()), make(dir.path())];
    assert_eq!(handles[0].frozen_figures("2027-03").unwrap(), None);
    let bodies: Vec<String> = std::thread::scope(|threads| {
        let freezers: Vec<_> = (0..FREEZERS)
            .map(|f| {
                let store = handles[f % 2].as_ref();
                threads.spawn(move || {
                    store
                        .freeze_figures(
                            "2027-03",
                            T,
                            &format!("{{\"freezer\":{f}}}"),
                            &[frozen_event("2027-03")],
                        )
                        .unwrap()
                })
            })
            .collect();
        freezers.into_iter().map(|f| f.join().unwrap()).collect()
    });
    // Every freezer was answered with the one body stored.
    let stored = handles[1].frozen_figures("2027-03").unwrap().unwrap();
    assert!(bodies.iter().all(|b| *b == stored), "{bodies:?}");
    let audited = handles[0]
        .audit_events(&AuditQuery {
            action: Some("figures-frozen".into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        audited.len(),
        1,
        "audited once, with the freeze that stored"
    );
    // Another month is its own row.
    assert_eq!(
        handles[1].freeze_figures("2027-04", T, "{}", &[]).unwrap(),
        "{}"
    );
    drop(handles);
    let reopened = make(dir.path());
    assert_eq!(reopened.frozen_figures("2027-03").unwrap(), Some(stored));
    assert_eq!(
        reopened.frozen_figures("2027-04").unwrap().as_deref(),
        Some("{}")
    );
}

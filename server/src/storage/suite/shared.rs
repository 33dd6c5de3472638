//! One store, several handles: what a server writes survives its restart,
//! and two handles open on one store at once (two server instances, or a
//! server and the admin command) see each other's writes, with codes used
//! once and holds, rate limits and the feed order kept across them.

use std::path::Path;

use super::*;

fn hold(id: &str) -> LegalHold {
    LegalHold {
        record_id: id.into(),
        reason: "complaint".into(),
        set_at: T.into(),
    }
}

/// Everything a server wrote is there after it stops and opens again.
pub(crate) fn reopened(make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let (feed, head) = {
        let store = make(dir.path());
        store
            .add_officer(
                &officer("PC1", "Lewisham"),
                T,
                &[admin_event(Action::OfficerAdded, "PC1")],
            )
            .unwrap();
        store
            .add_enrolment_code(b"code-a", "PC1", 100, T, &[])
            .unwrap();
        store
            .add_enrolment_code(b"code-b", "PC1", 100, T, &[])
            .unwrap();
        store
            .redeem_enrolment_code(b"code-a", 50, &device("d1"), b"tok-1", T, &|_| Vec::new())
            .unwrap();
        store.commit_record(&commit("r1", None, b"one")).unwrap();
        store.commit_record(&commit("r2", None, b"two")).unwrap();
        store.set_legal_hold(&hold("r1"), &[]).unwrap();
        store.erase_record("r2", T, "retention", &[]).unwrap();
        store.add_attempt("client", 10, true).unwrap();
        (
            store.feed_after(0, 100).unwrap(),
            store.audit_head().unwrap(),
        )
    };

    let store = make(dir.path());
    assert!(store.officer("PC1").unwrap().is_some());
    assert_eq!(store.principal(b"tok-1").unwrap().unwrap().device.id, "d1");
    // A used code stays used; an unused one still works, once.
    assert!(matches!(
        store.redeem_enrolment_code(b"code-a", 50, &device("d2"), b"tok-2", T, &|_| Vec::new()),
        Err(StorageError::CodeRefused)
    ));
    store
        .redeem_enrolment_code(b"code-b", 50, &device("d3"), b"tok-3", T, &|_| Vec::new())
        .unwrap();
    assert_eq!(store.record("r1").unwrap().unwrap().snapshot, b"one");
    assert_eq!(store.legal_holds().unwrap(), vec![hold("r1")]);
    assert!(store.tombstone("r2").unwrap().is_some());
    assert_eq!(store.feed_after(0, 100).unwrap(), feed);
    assert_eq!(store.attempts_since("client", 0).unwrap(), (1, 1));
    assert_eq!(store.audit_head().unwrap(), head);
    // The feed carries on after the entries it had, never reusing a number.
    let next = store.commit_record(&commit("r3", None, b"three")).unwrap();
    assert!(feed.iter().all(|f| f.seq < next));
    assert!(crate::audit::verify(store.as_ref()).unwrap().intact());
}

/// Two handles on one store at once see each other's writes: a code is used
/// once whichever handle redeems it, a hold set on one stops an erasure on
/// the other, attempts add up, and feed numbers keep rising.
pub(crate) fn two_handles(make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let a = make(dir.path());
    let b = make(dir.path());
    a.add_officer(&officer("PC1", "Lewisham"), T, &[]).unwrap();
    assert!(b.officer("PC1").unwrap().is_some());
    a.add_enrolment_code(b"code", "PC1", 100, T, &[]).unwrap();
    b.redeem_enrolment_code(b"code", 50, &device("d1"), b"tok-1", T, &|_| Vec::new())
        .unwrap();
    assert!(matches!(
        a.redeem_enrolment_code(b"code", 50, &device("d2"), b"tok-2", T, &|_| Vec::new()),
        Err(StorageError::CodeRefused)
    ));
    assert!(a.principal(b"tok-1").unwrap().is_some());

    let first = a.commit_record(&commit("r1", None, b"one")).unwrap();
    let version = b.record("r1").unwrap().unwrap().version;
    let second = b
        .commit_record(&commit("r1", Some(version), b"two"))
        .unwrap();
    // A's copy of the version is stale now.
    assert!(matches!(
        a.commit_record(&commit("r1", Some(version), b"stale")),
        Err(StorageError::Conflict)
    ));
    let third = a.commit_record(&commit("r2", None, b"three")).unwrap();
    assert!(first < second && second < third);
    assert_eq!(a.feed_after(0, 10).unwrap(), b.feed_after(0, 10).unwrap());

    b.set_legal_hold(&hold("r1"), &[]).unwrap();
    assert!(matches!(
        a.erase_record("r1", T, "retention", &[]),
        Err(StorageError::Conflict)
    ));
    a.release_legal_hold("r1", T, &[]).unwrap();
    assert!(b.legal_holds().unwrap().is_empty());

    a.add_attempt("client", 10, true).unwrap();
    b.add_attempts_audited(
        &[("client", false)],
        20,
        T,
        &[admin_event(Action::CopyIssued, "c")],
    )
    .unwrap();
    assert_eq!(a.attempts_since("client", 0).unwrap(), (2, 1));
    assert_eq!(
        b.nth_newest_attempt("client", 0, 2, false).unwrap(),
        Some(10)
    );

    // Audit events appended through both handles form one chain.
    a.append_audit(T, &[admin_event(Action::StaffLookup, "a")])
        .unwrap();
    b.append_audit(T, &[admin_event(Action::StaffLookup, "b")])
        .unwrap();
    assert_eq!(a.audit_head().unwrap(), b.audit_head().unwrap());
    assert!(crate::audit::verify(b.as_ref()).unwrap().intact());
}

/// Writers racing through two handles: each enrolment code is used by
/// exactly one of them, no attempt is lost, and every commit gets its own
/// feed entry, in order, seen alike through both handles.
pub(crate) fn racing_handles(make: impl Fn(&Path) -> Box<dyn Storage>) {
    const CODES: usize = 4;
    const WRITERS: usize = 4;
    const EACH: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let handles = [make(dir.path()), make(dir.path())];
    handles[0]
        .add_officer(&officer("PC1", "Lewisham"), T, &[])
        .unwrap();
    for code in 0..CODES {
        handles[0]
            .add_enrolment_code(format!("code-{code}").as_bytes(), "PC1", 100, T, &[])
            .unwrap();
    }
    let before = handles[0].audit_head().unwrap();
    assert_eq!(before, None);
    let won: usize = std::thread::scope(|threads| {
        let racers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = handles[w % 2].as_ref();
                threads.spawn(move || {
                    let mut won = 0;
                    for code in 0..CODES {
                        let id = format!("d{w}-{code}");
                        match store.redeem_enrolment_code(
                            format!("code-{code}").as_bytes(),
                            50,
                            &device(&id),
                            id.as_bytes(),
                            T,
                            &|_| vec![admin_event(Action::DeviceEnrolled, "PC1")],
                        ) {
                            Ok(_) => won += 1,
                            Err(StorageError::CodeRefused) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    for n in 0..EACH {
                        store.add_attempt("client", n as i64, n % 2 == 0).unwrap();
                        store
                            .commit_record(&commit(&format!("r{w}-{n}"), None, b"x"))
                            .unwrap();
                    }
                    won
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).sum()
    });
    assert_eq!(won, CODES, "each code enrols exactly one device");
    assert_eq!(handles[1].devices().unwrap().len(), CODES);
    assert_eq!(events_of(handles[1].as_ref(), "device-enrolled"), CODES);
    let per_writer = (EACH as u32, EACH.div_ceil(2) as u32);
    assert_eq!(
        handles[1].attempts_since("client", 0).unwrap(),
        (per_writer.0 * WRITERS as u32, per_writer.1 * WRITERS as u32)
    );
    let feed = handles[0].feed_after(0, 1000).unwrap();
    assert_eq!(feed.len(), WRITERS * EACH);
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(handles[1].feed_after(0, 1000).unwrap(), feed);
    assert!(crate::audit::verify(handles[1].as_ref()).unwrap().intact());
}

/// Scheduled jobs claimed through two handles at once: each period of a
/// job is won by exactly one claimant (retention runs once per period
/// whichever instances run it); the rate limits' salt of a day is one for
/// both handles, and a past day's salt is forgotten.
pub(crate) fn runs_and_salts(make: impl Fn(&Path) -> Box<dyn Storage>) {
    const CLAIMANTS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let handles = [make(dir.path()), make(dir.path())];
    for period in [7, 8] {
        let won: usize = std::thread::scope(|threads| {
            let claimants: Vec<_> = (0..CLAIMANTS)
                .map(|c| {
                    let store = handles[c % 2].as_ref();
                    threads.spawn(move || store.claim_run("retention", period, T).unwrap())
                })
                .collect();
            claimants
                .into_iter()
                .map(|c| c.join().unwrap())
                .filter(|won| *won)
                .count()
        });
        assert_eq!(won, 1, "period {period} claimed once");
    }
    assert!(handles[1].claim_run("another-job", 7, T).unwrap());
    assert!(!handles[0].claim_run("another-job", 7, T).unwrap());

    let day = handles[0].limit_salt(100, &[1; 32]).unwrap();
    assert_eq!(day, vec![1; 32]);
    assert_eq!(handles[1].limit_salt(100, &[2; 32]).unwrap(), day);
    assert_eq!(handles[1].limit_salt(101, &[3; 32]).unwrap(), vec![3; 32]);
    assert_eq!(handles[0].limit_salt(101, &[4; 32]).unwrap(), vec![3; 32]);
    // Day 100's salt went when day 101's was made: asked again, it is new.
    assert_eq!(handles[0].limit_salt(100, &[5; 32]).unwrap(), vec![5; 32]);
}

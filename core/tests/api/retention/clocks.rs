//! A handset whose clock is wrong: retention counts from the last server
//! time heard and the time passed since, so a record goes late, never early.

use super::*;

/// A notebook on a handset whose clock reads two years behind, with one
/// search made on it; nothing is erased yet (no terms, no server time
/// heard). Returns the clock and the search's id.
fn a_search_on_a_clock_two_years_behind(dir: &Path) -> (DeviceClock, String) {
    let behind = DeviceClock::system();
    behind.advance(TimeDelta::days(-730));
    let nb = Notebook::open_with_clock(dir.display().to_string(), officer("PC1"), behind.clone())
        .unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    assert_eq!(nb.check_retention().unwrap().erased, 0);
    (behind, search)
}

#[test]
fn a_clock_set_back_before_the_first_sync_erases_on_time_while_open_never_early() {
    let dir = tempfile::tempdir().unwrap();
    // A handset whose clock reads two years behind from the start: no
    // server time heard, no terms, nothing erased.
    let (behind, search) = a_search_on_a_clock_two_years_behind(dir.path());

    // The first sync brings the terms and the server's (true) time: "now"
    // for retention is never before it, so the record, made yesterday by
    // the true clock, is not due: never early.
    let mut first = answer(vec![]);
    first.server_time = Some(chrono::Utc::now().to_rfc3339());
    sync_with(dir.path(), first);
    let nb = open(dir.path(), &behind);
    assert_eq!(record_ids(&nb), vec![search.clone()], "never early");
    // Setting the clock forward by a month is not time passing.
    behind.advance(TimeDelta::days(30));
    assert_eq!(nb.check_retention().unwrap().erased, 0);

    // A year and a week pass with the app running, offline: the handset's
    // clock still reads behind (by 11 months), but the time passed since
    // the server's time was heard counts, and the record goes on time.
    behind.pass(A_YEAR_AND_A_WEEK);
    assert!(behind.now() < chrono::Utc::now() - TimeDelta::days(300));
    assert!(
        record_ids(&nb).is_empty(),
        "erased on time by the first call"
    );
}

#[test]
fn a_clock_behind_after_a_restart_erases_late_never_early() {
    let dir = tempfile::tempdir().unwrap();
    let (behind, search) = a_search_on_a_clock_two_years_behind(dir.path());
    let mut first = answer(vec![]);
    first.server_time = Some(chrono::Utc::now().to_rfc3339());
    sync_with(dir.path(), first);

    // A year passes while the app is not running (the monotonic clock does
    // not outlive its process): on the next opening the handset's clock is
    // still behind the last server time heard, which is all it can trust,
    // so the record is kept: late, never early ...
    behind.pass(A_YEAR_AND_A_WEEK);
    let restarted = DeviceClock::system();
    restarted.advance(behind.now() - chrono::Utc::now());
    let nb = open(dir.path(), &restarted);
    assert_eq!(record_ids(&nb), vec![search.clone()]);
    assert_eq!(nb.check_retention().unwrap().erased, 0);
    drop(nb);
    // ... until a server time is heard again: then it goes at once.
    let mut later = answer(vec![]);
    later.server_time = Some((chrono::Utc::now() + A_YEAR_AND_A_WEEK).to_rfc3339());
    sync_with(dir.path(), later);
    let nb = open(dir.path(), &restarted);
    assert!(record_ids(&nb).is_empty());
}

// --- A process that dies inside the erasure ---------------------------------

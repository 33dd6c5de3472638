//! Twelve months after the stop the copy is gone, to the second, whether
//! or not the hourly retention job has erased the record yet: between the
//! moment a search falls due and the job's next run, the public copy
//! answers with the one uniform "not found", as for an erased record, and
//! station staff neither find it nor issue its copy.

use super::*;

#[tokio::test]
async fn a_copy_is_not_given_once_the_record_is_due_even_before_the_job_erases_it() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let (id, reference) = desk.search(&nb, &token).await;
    let due = "2027-11-28T14:05:00Z".parse::<DateTime<Utc>>().unwrap();
    desk.add("ST1", "Lewisham", Role::Staff);
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let admin = desk.server.admin();

    // One second before it falls due: given.
    desk.advance(due - desk.now() - TimeDelta::seconds(1));
    let answer = desk.json(&reference, SEARCH_DAY).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(admin.find_copies("ST1", day, None, None).unwrap().len(), 1);

    // Due, not yet erased (no retention run): the uniform answer, as JSON
    // and as the page, with the same body as for a reference never issued.
    desk.advance(TimeDelta::seconds(2));
    assert!(desk.server.storage.record(&id).unwrap().is_some());
    let answer = desk.json(&reference, SEARCH_DAY).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    let never = desk.json(&unknown_reference(), SEARCH_DAY).await;
    assert_eq!(answer.body, never.body);
    let page = desk.form(&reference, SEARCH_DAY).await;
    assert_eq!(page.status, 404);
    assert_eq!(
        page.body,
        desk.form(&unknown_reference(), SEARCH_DAY).await.body
    );
    assert!(
        admin
            .find_copies("ST1", day, None, None)
            .unwrap()
            .is_empty()
    );
    assert!(admin.issue_copy("ST1", &id).is_err());
    assert_eq!(desk.server.audit("copy-issued").len(), 1);
}

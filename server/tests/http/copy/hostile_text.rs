//! What an officer typed, shown on a person's copy page: markup and
//! script are text. Control characters (an escape sequence, a bell, a C1
//! control), which HTML forbids and which would reach the terminal of
//! anyone who reads the saved page there, are refused in free text on both
//! ends (`hostile::a_control_character_in_free_text_is_refused`); the page
//! shows any in a record stored before that rule as U+FFFD.

use super::*;

#[tokio::test]
async fn markup_and_control_characters_an_officer_typed_are_inert_on_the_copy_page() {
    let desk = Desk::start().await;
    let token = desk.token("PC1").await;
    let (_nb_dir, nb) = notebook("PC1");
    let grounds =
        "</dd><script>document.title='x'</script><img src=x onerror=alert(1)>\nseen running";
    let (_id, reference) = desk
        .search_with(&nb, &token, |search| {
            search.grounds = grounds.into();
            search.location.street = "<b>High Street</b>".into();
        })
        .await;

    let page = desk.form(&reference, SEARCH_DAY).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_hardened();
    assert!(!page.body.contains("<script") && !page.body.contains("<img"));
    assert!(
        page.body
            .contains("&lt;script&gt;document.title=&#39;x&#39;&lt;/script&gt;")
    );
    for c in page.body.chars() {
        assert!(
            matches!(c, '\n' | '\r' | '\t') || !c.is_control(),
            "control character {c:?} on the page"
        );
    }
    assert!(page.body.contains("&lt;b&gt;High Street&lt;/b&gt;"));

    // The JSON copy carries the text as it was stored, for a program.
    let copy = desk.json(&reference, SEARCH_DAY).await.json();
    assert_eq!(copy["search"]["grounds"], grounds);
}

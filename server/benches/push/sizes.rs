//! The stored snapshot's size, deflated against as the server stores it
//! (uncompressed), printed once before the benchmarks: sizes, not times,
//! so a reader of the timings sees what each record costs on disk. The
//! notes are of varied words ([`note_text`]), so they deflate as real
//! notes do.

use automerge::ActorId;
use pocketbook_core::document::RecordDoc;

/// A note of about 100 characters, words drawn from an officer's usual
/// vocabulary by a fixed pseudo-random sequence: text that deflates about
/// as real notes do, not one sentence repeated (which deflates far better).
fn note_text(seed: &mut u64) -> String {
    const WORDS: &[&str] = &[
        "spoke",
        "to",
        "the",
        "neighbour",
        "at",
        "number",
        "who",
        "saw",
        "two",
        "males",
        "leave",
        "by",
        "back",
        "gate",
        "about",
        "rear",
        "window",
        "forced",
        "victim",
        "says",
        "nothing",
        "taken",
        "from",
        "kitchen",
        "car",
        "parked",
        "outside",
        "blue",
        "van",
        "witness",
        "will",
        "call",
        "station",
        "tomorrow",
        "morning",
        "CCTV",
        "requested",
        "shop",
        "opposite",
        "door",
        "frame",
        "damaged",
        "footprint",
        "in",
        "garden",
        "bag",
        "recovered",
        "scene",
        "photographed",
        "advised",
        "on",
        "crime",
        "prevention",
        "locks",
        "a",
        "and",
        "was",
        "of",
        "with",
        "after",
        "left",
        "home",
        "returned",
        "found",
    ];
    let mut text = String::new();
    while text.len() < 100 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[(*seed >> 33) as usize % WORDS.len()]);
    }
    text.push('.');
    text
}

/// The stored snapshot's size, deflated (`save`) against as the server
/// stores it (`save_uncompressed`), for each record kind as created and
/// after 10 and 50 notes of a typical length (about 100 characters, of
/// varied words: [`note_text`]), in
/// bytes. Sizes, not times: printed once, before the benchmarks.
pub(crate) fn snapshot_sizes() {
    let (_dir, nb) = pocketbook_fixtures::notebook_of(pocketbook_fixtures::officer("PC2"));
    let created = [
        (
            "scene attendance",
            nb.create_scene(pocketbook_fixtures::emergency_scene())
                .unwrap(),
        ),
        (
            "home burglary",
            nb.create_burglary(pocketbook_fixtures::emergency_scene())
                .unwrap(),
        ),
        (
            "stop and search",
            nb.create_stop_search(pocketbook_fixtures::stop_search())
                .unwrap(),
        ),
        (
            "stop and account",
            nb.create_stop_account(pocketbook_fixtures::stop_account())
                .unwrap(),
        ),
    ];
    eprintln!(
        "snapshot sizes (bytes): kind | notes | deflated (save) | uncompressed (stored) | ratio"
    );
    for (name, record) in created {
        let id = record.header.id;
        let mut notes = 0;
        let mut seed = 7u64;
        for target in [0, 10, 50] {
            while notes < target {
                nb.add_note(id.clone(), note_text(&mut seed)).unwrap();
                notes += 1;
            }
            let mut doc =
                RecordDoc::load(&nb.export(id.clone()).unwrap(), ActorId::random()).unwrap();
            let (deflated, plain) = (doc.save().len(), doc.save_uncompressed().len());
            eprintln!(
                "snapshot sizes: {name} | {notes} | {deflated} | {plain} | {:.2}",
                plain as f64 / deflated as f64
            );
        }
    }
}

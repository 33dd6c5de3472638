//! cargo-fuzz entry for `pocketbook_fuzz::import` (the body is shared with the
//! stable harness).
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: pocketbook_fuzz::panics_caught_by_the_code_are_not_crashes(),
    |data: &[u8]| pocketbook_fuzz::import(data)
);

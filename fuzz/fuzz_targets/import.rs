//! cargo-fuzz entry for `pocketbook_fuzz::import` (the body is shared with the
//! stable harness).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketbook_fuzz::import(data));

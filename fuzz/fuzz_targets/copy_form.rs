//! cargo-fuzz entry for `pocketbook_fuzz::copy_form` (the body is shared with the
//! stable harness).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pocketbook_fuzz::copy_form(data));

//! @mention and #topic scanning, and rendering posts with them linked.
//! The checks live in `test_support::fuzz_checks`, shared with the test that
//! replays the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| test_support::fuzz_checks::scan(data));

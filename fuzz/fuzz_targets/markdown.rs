//! Markdown to safe HTML (plain and with settings), and the HTML safety checker on raw input.
//! The checks live in `test_support::fuzz_checks`, shared with the test that
//! replays the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| test_support::fuzz_checks::markdown(data));

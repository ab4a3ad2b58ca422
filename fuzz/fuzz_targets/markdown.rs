//! Markdown to safe HTML (plain and with settings), and the HTML safety checker on raw input.
//! The checks live in `domain::fuzz_checks`, shared with the test that
//! replays the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domain::fuzz_checks::markdown(data));

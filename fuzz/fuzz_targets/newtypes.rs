//! Every validated newtype's and enum's parser, slugs, topics and reactions.
//! The checks live in `test_support::fuzz_checks`, shared with the test that
//! replays the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| test_support::fuzz_checks::newtypes(data));

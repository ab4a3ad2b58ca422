//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through
//! the same checks the fuzz targets run, so every input a fuzzing run
//! found interesting keeps being tested without a fuzzer.

use std::fs;
use std::panic;
use std::path::PathBuf;

use test_support::fuzz_checks::TARGETS;

#[test]
fn fuzz_corpora_replay() {
    // The runner's CARGO_MANIFEST_DIR first: a build reused from a checkout
    // elsewhere (a shared target directory) carries that checkout's path.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir.join("../../fuzz/corpus");
    let mut failures = Vec::new();
    for (target, check) in TARGETS {
        let dir = root.join(target);
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        assert!(
            entries.len() >= 10,
            "{}: only {} inputs; the corpus is missing",
            dir.display(),
            entries.len()
        );
        for path in entries {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if panic::catch_unwind(|| check(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "these corpus inputs fail their fuzz target's check (replay one with \
         `cargo fuzz run <target> <file>` in fuzz/):\n{}",
        failures.join("\n")
    );
}

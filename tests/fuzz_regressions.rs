//! Replays the fuzzers' saved inputs on stable Rust, through the very checks
//! the fuzz targets run (`test_support::fuzz`, test-support/src/fuzz/):
//!
//! - `tests/fuzz_regressions/decode_broker/*`, `decode_plain/*`: raw bytes
//!   for the event and configuration decoders (crashes found, minimized
//!   corpus entries);
//! - `tests/fuzz_regressions/options/*`: raw bytes for `parse_options`;
//! - `tests/fuzz_regressions/engine_ops/*.json`: scenarios (an engine setup
//!   and its operations), as `engine_ops_to_json` prints a fuzz input.
//!
//! `scripts/fuzz.sh` runs the fuzzers; a new crash is added here by copying
//! its artifact (for engine_ops: its JSON form) into the directory.

use std::path::{Path, PathBuf};

use test_support::fuzz::{checks, engine_ops};
use zeek_mgmt_agent::wire::Encoding;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

/// Runs `check` on every input, naming the one that fails.
fn replay(target: &str, check: impl Fn(&Path) + std::panic::RefUnwindSafe) {
    let mut failed = Vec::new();
    for path in inputs(target) {
        if std::panic::catch_unwind(|| check(&path)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn decode_broker_inputs() {
    replay("decode_broker", |p| {
        checks::check_decode(&bytes(p), Encoding::Broker)
    });
}

#[test]
fn decode_plain_inputs() {
    replay("decode_plain", |p| {
        checks::check_decode(&bytes(p), Encoding::Plain)
    });
}

#[test]
fn decode_inputs_in_the_other_encoding() {
    // Each decode input also through the other target's encoder.
    replay("decode_broker", |p| {
        checks::check_decode(&bytes(p), Encoding::Plain)
    });
    replay("decode_plain", |p| {
        checks::check_decode(&bytes(p), Encoding::Broker)
    });
}

#[test]
fn options_inputs() {
    replay("options", |p| checks::check_options(&bytes(p)));
}

#[test]
fn engine_ops_scenarios() {
    replay("engine_ops", |p| {
        let text = String::from_utf8(bytes(p)).expect("a JSON scenario");
        let scenario = engine_ops::Scenario::from_json(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // The JSON form is faithful (what is replayed is what was saved).
        assert_eq!(
            engine_ops::Scenario::from_json(&scenario.to_json()).as_ref(),
            Ok(&scenario)
        );
        // As a fuzz seed it is long enough for libfuzzer-sys to try it (a
        // setup takes 16 bytes).
        assert!(scenario.to_fuzz_input().len() >= 16);
        engine_ops::run(&scenario);
    });
}

#[test]
fn json_depth_counts_nesting_outside_strings() {
    assert_eq!(checks::json_depth(r#"{"a": [1, {"b": "[[[{"}]}"#), 3);
    assert_eq!(checks::json_depth(r#""\"[""#), 0);
    assert_eq!(checks::json_depth("[]"), 1);
}

//! A sequence of operations (requests, Supervisor answers and reports,
//! node hellos, time steps) against the engine, with its invariants checked
//! after every step (see test-support/src/fuzz/engine_ops/).
//!
//! Environment (scripts/fuzz.sh sets the first two):
//! - `ZMA_FUZZ_SEEDS_FROM=<dir>` and `ZMA_FUZZ_SEEDS_TO=<dir>`: at start,
//!   each JSON scenario of the first directory (tests/fuzz_regressions/
//!   engine_ops) is written as a raw input into the second (the corpus);
//! - `ZMA_FUZZ_JSON=1`: each input is first printed as the JSON scenario
//!   tests/fuzz_regressions.rs replays, e.g. for a crash:
//!
//! ```sh
//! ZMA_FUZZ_JSON=1 cargo +nightly fuzz run -O -a -s none engine_ops \
//!     fuzz/artifacts/engine_ops/crash-... 2>/dev/null | sed -n '/^{$/,/^}$/p'
//! ```
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use test_support::fuzz::engine_ops::{run, Scenario};

fn print_json() -> bool {
    static PRINT: OnceLock<bool> = OnceLock::new();
    *PRINT.get_or_init(|| std::env::var_os("ZMA_FUZZ_JSON").is_some_and(|v| v == "1"))
}

/// Saved scenarios as seeds; each must parse back to itself.
fn write_seeds() {
    let (Some(from), Some(to)) = (
        std::env::var_os("ZMA_FUZZ_SEEDS_FROM"),
        std::env::var_os("ZMA_FUZZ_SEEDS_TO"),
    ) else {
        return;
    };
    let entries = std::fs::read_dir(&from).expect("ZMA_FUZZ_SEEDS_FROM");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a scenario");
        let scenario =
            Scenario::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bytes = scenario.to_fuzz_input();
        let back = Scenario::arbitrary_take_rest(Unstructured::new(&bytes));
        assert_eq!(
            back.as_ref().ok(),
            Some(&scenario),
            "{}: the raw input does not parse back (Scenario::to_fuzz_input is out of step with the derive)",
            path.display()
        );
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        std::fs::write(Path::new(&to).join(format!("seed-{stem}")), bytes).expect("a seed");
    }
}

fuzz_target!(init: write_seeds(), |scenario: Scenario| {
    if print_json() {
        print!("{}", scenario.to_json());
    }
    run(&scenario);
});

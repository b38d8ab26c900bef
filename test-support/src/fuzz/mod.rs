//! Shared code of the fuzz targets (fuzz/fuzz_targets). The main crate's
//! stable regression test (tests/fuzz_regressions.rs) replays saved inputs
//! through the same checks.

pub mod checks;
pub mod engine_ops;

//! Shared code of the fuzz targets. Both modules are also compiled into the
//! main crate's stable regression test (`tests/fuzz_regressions.rs`), which
//! replays saved inputs through the same checks.

pub mod checks;
pub mod engine_ops;

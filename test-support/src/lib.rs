//! The harnesses of zeek-mgmt-agent's tests, fuzz targets and soak, in one
//! crate (never published): a dev-dependency of the main crate and a
//! dependency of the fuzz crate (fuzz/). They use only the agent's public
//! API, so they need none of its internals.
//!
//! - [`clock`]: the virtual-clock driver ([`clock::drive`]: to the next
//!   wakeup, again, until idle) the harness and the fuzz simulator use;
//! - [`harness`]: the virtual-clock harness of the behaviour tests
//!   (tests/deploy.rs, requests.rs, process_reports.rs,
//!   hello_encoding_time.rs);
//! - [`stress`]: the load the stress test (tests/stress.rs) and the soak
//!   (src/bin/soak.rs, `cargo run --release -p zeek-mgmt-agent-test-support
//!   --bin soak -- --minutes N`) drive through the C ABI;
//! - [`fuzz`]: the checks and the engine-operations model the fuzz targets
//!   run, and tests/fuzz_regressions.rs replays on stable Rust.

pub mod clock;
pub mod fuzz;
pub mod harness;
pub mod stress;

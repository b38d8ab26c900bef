//! The `engine_ops` fuzz target's model: a scenario is an engine setup and
//! a list of operations (controller requests, Supervisor answers and
//! reports, node hellos and dispatch answers, peerings, time steps), run
//! against an `Engine` through its public API only, with invariants
//! checked after every step.
//!
//! Shared with the stable regression test: `tests/fuzz_regressions.rs`
//! replays scenarios saved as JSON
//! ([`Scenario::to_json`] / [`Scenario::from_json`]; the fuzz crate's
//! `engine_ops_to_json` binary turns a raw fuzz input into that form).
//! `Arbitrary` is derived only with this crate's `arbitrary` feature (the
//! fuzz crate turns it on), so the test builds on stable without the crate.
//!
//! One job per file:
//!
//! - `model.rs`: the scenario (setup, operations, their value tables) and
//!   the configurations it deploys;
//! - `simulator.rs`: runs the operations against the engine, playing the
//!   controller, the nodes and the clock;
//! - `supervisor.rs`: the simulated Supervisor (commands, status, answers,
//!   its own reports);
//! - `invariants.rs`: the checks of every output, of the state after
//!   every step, and of the end (every request answered once);
//! - `input.rs`, `json.rs`: a scenario as raw fuzz input and as JSON.

mod input;
mod invariants;
mod json;
mod model;
mod simulator;
mod supervisor;

pub use model::*;
pub use simulator::run;

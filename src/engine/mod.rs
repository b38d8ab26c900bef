//! The agent engine: a sans-I/O state machine carrying out every agent
//! event with Zeek's semantics (see `docs/behaviour.md`).
//!
//! The caller feeds [`Input`]s with the current [`Time`] to
//! [`Engine::handle`] and carries out the returned [`Output`]s in order;
//! it asks [`Engine::poll_timeout`] when the next deadline is and calls
//! [`Engine::handle_timeout`] then. The engine reads no clock, spawns no
//! thread, touches no file.

mod adopt;
mod agent;
mod commands;
mod config;
mod deploy;
mod dispatch;
mod hello;
mod nodes;
mod output;
mod requests;
mod restart;
mod snapshot;
mod status;
mod timers;
mod validate;

pub use agent::{AgentError, Engine, Input, Refusal, RefusalKind, NODE_TOPIC};
pub use config::{AgentConfig, EncodingChoice, SupervisorKind};
pub use deploy::{node_directory, MANAGEMENT_NODE_ENV};
pub use hello::API_VERSION;
pub use nodes::SUPERVISOR_API_TOPIC;
pub use output::{Channel, LogLevel, LogRecord, Outbound, Output};
pub use snapshot::{AgentState, NodeSnapshot, RequestSnapshot};
// Time is part of the model (the process supervisor keeps time as well);
// `engine::Time` stays its name in the engine's API.
pub use crate::model::Time;
pub use validate::{
    unsafe_name_reason, validate_configuration, MANAGEMENT_NODE_SCRIPT, MAX_NODE_NAME_BYTES,
};

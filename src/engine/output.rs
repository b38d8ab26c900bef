//! What the engine asks its caller to do.

use crate::supervisor::SupervisorCommand;
use crate::wire::{encode, Dialect, Encoding, Event};

/// Which host callback an outbound event belongs to (`docs/c-api.md`, "Callbacks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `*_response` events for the controller.
    Response,
    /// `notify_*` events for the controller.
    Notification,
    /// Everything else: node dispatches on `zeek/management/node`,
    /// SupervisorControl requests on `zeek/supervisor`.
    Publish,
}

/// An event to send, with everything needed to encode it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outbound {
    pub channel: Channel,
    pub topic: String,
    pub event: Event,
    /// The encoding chosen for it (the request's, under `"auto"`).
    pub encoding: Encoding,
    /// The agent's dialect, which fixes record layouts.
    pub dialect: Dialect,
}

impl Outbound {
    /// The event as JSON text in its encoding and dialect.
    pub fn to_json(&self) -> String {
        encode(&self.event, &self.topic, self.encoding, self.dialect)
    }
}

/// Severity of a log record; the numbers are the Management framework's
/// log levels, also passed to the C log callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
}

impl LogLevel {
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        }
    }
}

/// A line for the host's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
}

/// One thing for the caller to do, in the order the engine produced them.
// Most outputs are events; boxing them would add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send an event.
    Event(Outbound),
    /// Carry out a command with the built-in process supervisor (the engine
    /// emits these only with `SupervisorKind::Process`).
    Supervisor(SupervisorCommand),
    /// Host-delegated supervisor: create this node directory (`mkdir -p`)
    /// before forwarding the `create_request` that follows, as Zeek's agent
    /// does; a failure is worth a warning, not more.
    EnsureDirectory { node: String, path: String },
    /// Write a log line.
    Log(LogRecord),
    /// The engine counts this node ready because it checked in: its hello
    /// (`notify_node_hello`) made it RUNNING. The built-in process
    /// supervisor takes it as the node's readiness, so that a later death is
    /// a crash, not a failure to start (its start-failure count resets).
    /// Emitted only with `SupervisorKind::Process`, exactly when a hello
    /// moves a node to RUNNING; never for readiness the process supervisor
    /// reported itself (`Report::NodeReady`), which it already knows.
    NodeReady { node: String },
}

impl Output {
    /// The outbound event, if this output is one.
    pub fn as_event(&self) -> Option<&Outbound> {
        match self {
            Output::Event(out) => Some(out),
            _ => None,
        }
    }
}

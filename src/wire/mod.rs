//! The wire: JSON in, typed [`Event`]s; typed events out, JSON.
//!
//! Two encodings (see `docs/protocol.md`):
//! - **Broker JSON**, Zeek's WebSocket wire format, byte-compatible with what
//!   zeek-client writes (`json.dumps(sort_keys=True)`): every value tagged
//!   with its `@data-type`, records as positional vectors.
//! - **plain JSON**, Zeek's `to_json`/`from_json` conventions: records as
//!   objects, absent optionals left out.
//!
//! Decoding is lenient across dialects (every layout of every record is
//! accepted); encoding follows one [`Dialect`].

mod configuration;
mod decode;
mod encode;
mod event;
pub(crate) mod json;
mod read;
mod records;
mod write;

use std::fmt;

pub use crate::text::escape_for_message;
pub use configuration::{decode_configuration, encode_configuration};
pub use decode::{decode, Inbound};
pub use encode::encode;
pub use event::{AgentHello, Event, EventName, EventRole};

/// The shape of Zeek's agent API the agent speaks (see `docs/protocol.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// The agent API of May 2022 (API version 1), the project's seed.
    #[default]
    Seed,
    /// Zeek 5.0 – 6.x (`docs/protocol.md`, "Dialects"). Its Supervisor records are Zeek
    /// 5.0's; Zeek 5.1 – 6.0 Supervisors had other `NodeConfig` layouts,
    /// which are read but not written.
    Zeek5,
    /// Zeek 6.1 – 6.2.
    Zeek6,
    /// Zeek 7.0 and later.
    Zeek7,
}

impl Dialect {
    pub const ALL: [Dialect; 4] = [
        Dialect::Seed,
        Dialect::Zeek5,
        Dialect::Zeek6,
        Dialect::Zeek7,
    ];

    /// The option value naming this dialect (`"seed"`, `"zeek7"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Seed => "seed",
            Dialect::Zeek5 => "zeek5",
            Dialect::Zeek6 => "zeek6",
            Dialect::Zeek7 => "zeek7",
        }
    }

    pub fn parse(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Zeek 7 added `metrics_port` to Node, NodeStatus and ClusterEndpoint.
    pub(crate) fn has_metrics_port(self) -> bool {
        self == Dialect::Zeek7
    }

    /// Zeek 6.1 split the Supervisor's scripts and added `pcap_file`.
    pub(crate) fn has_new_node_config(self) -> bool {
        matches!(self, Dialect::Zeek6 | Dialect::Zeek7)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A JSON encoding of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// Broker's WebSocket JSON (data-message envelope, typed values).
    #[default]
    Broker,
    /// `{"event": ..., "args": {...}}` with `to_json` values.
    Plain,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Broker => "broker",
            Encoding::Plain => "plain",
        }
    }
}

/// The encoding of one JSON text being read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Broker,
    Plain,
}

impl From<Encoding> for Format {
    fn from(e: Encoding) -> Format {
        match e {
            Encoding::Broker => Format::Broker,
            Encoding::Plain => Format::Plain,
        }
    }
}

/// Input limits checked before any parsing work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted event, in bytes.
    pub max_event_bytes: usize,
    /// Deepest accepted nesting of JSON arrays and objects.
    pub max_json_depth: usize,
}

impl Default for Limits {
    /// 64 MiB and 64 levels, as `docs/protocol.md` ("Limits and refusals") says.
    fn default() -> Limits {
        Limits {
            max_event_bytes: 64 * 1024 * 1024,
            max_json_depth: 64,
        }
    }
}

/// What kind of input problem an [`InputError`] is; each maps to one C
/// status code (`ZMA_ERR_LIMIT`, `_UTF8`, `_JSON`, `_EVENT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputErrorKind {
    /// Over `max_event_bytes` or `max_json_depth`.
    Limit,
    /// Not UTF-8.
    Utf8,
    /// Not JSON (or JSON with duplicate keys).
    Json,
    /// JSON, but not a valid event.
    Event,
}

/// Why an inbound text was refused. Nothing was changed or emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub kind: InputErrorKind,
    /// A message naming what was wrong and where, e.g. `deploy_request:
    /// argument 'config': nodes[3].p: port 70000 out of range`.
    pub message: String,
}

impl InputError {
    pub(crate) fn new(kind: InputErrorKind, message: impl Into<String>) -> InputError {
        InputError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

//! # zeek-mgmt-agent
//!
//! The agent of Zeek's cluster management framework as an embeddable
//! library. A host (a Zeek plugin, a Python program, a Go service, any Rust
//! program) hands it the controller's request events as JSON and gets back
//! the responses, notifications and the commands that start, stop and
//! restart the Zeek cluster nodes of its instance.
//!
//! The crate is layered so that each layer has one job. Imports only go
//! downward: a module uses modules of its own layer or of lower ones, never
//! a higher one. Lowest first (a `,` joins the modules of one layer;
//! `tests/layering.rs` reads this line and checks every `crate::` path of
//! `src/` against it):
//!
//! `text`, `sys` < `model` < `wire` < `supervisor` < `engine` < `options` < `process` < `runtime` < `ffi`
//!
//! - [`text`]: escaping strings for JSON and for messages. `sys`
//!   (crate-private): the operating system's plumbing, epoll, eventfd,
//!   pidfds, process groups.
//! - [`model`]: every record and enum of the protocol (`Management::Node`,
//!   `Supervisor::NodeConfig`, ...) as Rust types, and [`Time`].
//! - [`wire`]: JSON in and out, in Broker's WebSocket encoding (byte for
//!   byte what zeek-client writes) or in plain `to_json` form, for the
//!   four dialects `seed`, `zeek5`, `zeek6` and `zeek7`.
//! - [`supervisor`]: the commands the engine gives a Supervisor and the
//!   reports it takes back, plus their `SupervisorControl` event form.
//! - [`engine`]: the agent itself, a deterministic state machine. It reads
//!   no clock, starts no process and spawns no thread: inputs and the
//!   current time go in, [`Output`]s come out.
//! - [`options`]: the agent options of `zma_agent_new`, parsed from JSON.
//! - `process` (crate-private): the built-in process supervisor, the
//!   engine's supervisor commands carried out with real node processes.
//! - [`runtime`]: the engine behind a lock, a clock (threaded or polled),
//!   the process supervisor, delivery to the host's callbacks.
//! - [`ffi`]: the C ABI over the runtime.
//!
//! ## Driving the engine
//!
//! Give it events with the current time, carry out what it returns in
//! order, and wake it at [`Engine::poll_timeout`]:
//!
//! ```
//! use zeek_mgmt_agent::{AgentConfig, Engine, Limits, Output, Time};
//!
//! let mut agent = Engine::new(AgentConfig::new("instance-1"));
//! let request = br#"{"event": "agent_welcome_request", "args": {"reqid": "r1"}}"#;
//! let outputs = agent.handle_json(Time::from_millis(0), request, &Limits::default())?;
//!
//! for output in &outputs {
//!     if let Output::Event(event) = output {
//!         // Plain JSON in, plain JSON out ("auto" encoding).
//!         assert_eq!(event.topic, "zeek/management/agent/instance-1");
//!         assert_eq!(
//!             event.to_json(),
//!             r#"{"event":"Management::Agent::API::agent_welcome_response","args":{"reqid":"r1","result":{"reqid":"r1","instance":"instance-1","success":true,"error":""}}}"#
//!         );
//!     }
//! }
//! assert_eq!(agent.poll_timeout(), None); // nothing in flight
//! # Ok::<(), zeek_mgmt_agent::engine::AgentError>(())
//! ```
//!
//! ## Running the nodes: supervisor commands and reports
//!
//! With the built-in process supervisor ([`SupervisorKind::Process`], the
//! default) the engine emits [`Output::Supervisor`] commands; the host
//! carries them out and feeds [`supervisor::Report`]s back. Requests time
//! out on the engine's clock, exact to the millisecond:
//!
//! ```
//! use zeek_mgmt_agent::supervisor::Command;
//! use zeek_mgmt_agent::wire::{Dialect, Event};
//! use zeek_mgmt_agent::{AgentConfig, Engine, Limits, Output, Time};
//!
//! let mut config = AgentConfig::new("instance-1");
//! config.dialect = Dialect::Zeek7;
//! let mut agent = Engine::new(config);
//!
//! let get_nodes = br#"{"event": "get_nodes_request", "args": {"reqid": "g1"}}"#;
//! let outputs = agent.handle_json(Time::from_millis(100), get_nodes, &Limits::default())?;
//! let status = outputs.iter().find_map(|o| match o {
//!     Output::Supervisor(c) if matches!(c.command, Command::Status { .. }) => Some(c.id),
//!     _ => None,
//! });
//! assert!(status.is_some());
//! assert_eq!(agent.poll_timeout(), Some(Time::from_millis(5100)));
//!
//! // The Supervisor never answers: at the deadline the request is answered
//! // with a failure, once.
//! let outputs = agent.handle_timeout(Time::from_millis(5100));
//! let answer = outputs.iter().find_map(Output::as_event).expect("a response");
//! match &answer.event {
//!     Event::GetNodesResponse { result, .. } => {
//!         assert_eq!(result.error.as_deref(), Some("request timed out"))
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), zeek_mgmt_agent::engine::AgentError>(())
//! ```
//!
//! With a host-delegated Zeek Supervisor ([`SupervisorKind::Host`]) the
//! engine publishes `SupervisorControl` request events on `zeek/supervisor`
//! instead and takes the `*_response` events back through
//! [`Engine::handle_json`]; the host only moves events.
//!
//! The C ABI, the process supervisor and the language bindings build on
//! this API; the design documents of the project describe all of them.

// `unsafe` lives only at the FFI edge, in the OS plumbing (sys) and in
// process spawning (process), each block with a SAFETY comment.
#![deny(unsafe_code)]

pub mod engine;
pub mod ffi;
pub mod model;
pub mod options;
pub(crate) mod process;
pub mod runtime;
pub mod supervisor;
mod sys;
pub mod text;
pub mod wire;

pub use engine::{AgentConfig, AgentError, Engine, Input, Output, SupervisorKind, Time};
pub use wire::{Dialect, Encoding, Event, Limits};

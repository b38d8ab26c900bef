//! The engine's settings: the subset of the agent options (`docs/options.md`) that
//! shape its behaviour. Reading the environment and parsing the options JSON
//! is the shells' job; this is plain data with Zeek's defaults.

use std::net::{IpAddr, Ipv4Addr};

use crate::wire::{Dialect, Encoding};

/// Which encoding outbound events use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    Broker,
    Plain,
    /// Answers use their request's encoding; everything else the encoding
    /// of the last inbound event, Broker before any arrived.
    #[default]
    Auto,
}

impl EncodingChoice {
    pub fn fixed(self) -> Option<Encoding> {
        match self {
            EncodingChoice::Broker => Some(Encoding::Broker),
            EncodingChoice::Plain => Some(Encoding::Plain),
            EncodingChoice::Auto => None,
        }
    }
}

/// Who carries out supervisor commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupervisorKind {
    /// The built-in process supervisor: the engine emits
    /// [`crate::engine::Output::Supervisor`] and takes
    /// [`crate::supervisor::Report`]s. It is always reachable.
    Process,
    /// A Zeek Supervisor reached through SupervisorControl events. It counts
    /// as reachable once a `Broker::peer_added` names this address and port.
    Host { address: String, port: u16 },
}

/// Engine settings. Build with [`AgentConfig::new`] and adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// This agent's instance name.
    pub name: String,
    pub dialect: Dialect,
    pub encoding: EncodingChoice,
    /// The agent's topic is `<topic_prefix>/<name>`.
    pub topic_prefix: String,
    /// Per-request timeout; a request times out when now >= deadline.
    pub request_timeout_ms: u64,
    pub listen_address: IpAddr,
    pub listen_port: u16,
    /// `0.0.0.0` means the controller connects to the agent.
    pub controller_address: IpAddr,
    pub controller_port: u16,
    /// Node directories are `<state_dir>/nodes/<node>`.
    pub state_dir: String,
    pub supervisor: SupervisorKind,
    /// The `id` in the Zeek >= 5.0 hello.
    pub broker_id: String,
    /// Prefix of the ids the agent makes up (supervisor requests, node
    /// dispatches). The shells put a random nonce in it so that ids of two
    /// agent lifetimes never collide.
    pub id_prefix: String,
    /// How long a deploy waits for the Supervisor to answer its status
    /// request or a destroy before it goes on without the answer. Generous:
    /// Zeek's Supervisor stops nodes one after another, up to ~26 s each.
    pub supervisor_timeout_ms: u64,
    /// Staged start: how long a start stage (loggers, manager, proxies) may
    /// keep the next one waiting for its nodes to become ready.
    pub stage_wait_ms: u64,
    /// The pid of the process the agent runs in. When set, with the process
    /// supervisor get_nodes lists the agent itself with it, as a Zeek
    /// Supervisor lists Zeek's agent among its nodes (the process
    /// supervisor does not run the agent). The runtime sets it for the
    /// option `list_self`; `None` (the default) lists cluster nodes only.
    pub host_pid: Option<i64>,
}

impl AgentConfig {
    /// Zeek's defaults for an agent called `name`.
    pub fn new(name: impl Into<String>) -> AgentConfig {
        AgentConfig {
            name: name.into(),
            dialect: Dialect::Seed,
            encoding: EncodingChoice::Auto,
            topic_prefix: "zeek/management/agent".to_owned(),
            request_timeout_ms: 5000,
            listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen_port: 2151,
            controller_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            controller_port: 2150,
            state_dir: "./zeek-agent-state".to_owned(),
            supervisor: SupervisorKind::Process,
            broker_id: "zeek-mgmt-agent".to_owned(),
            id_prefix: "zma-".to_owned(),
            supervisor_timeout_ms: 60_000,
            stage_wait_ms: 500,
            host_pid: None,
        }
    }

    /// The topic this agent talks to its controller on.
    pub fn agent_topic(&self) -> String {
        format!("{}/{}", self.topic_prefix, self.name)
    }

    /// True when the agent connects to the controller (the controller
    /// address is not `0.0.0.0`).
    pub fn connects_to_controller(&self) -> bool {
        !self.controller_address.is_unspecified()
    }
}

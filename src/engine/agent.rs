//! The engine: one agent's whole logic as a deterministic state machine.
//!
//! Inputs go in with the current time; outputs come back as a vector, in
//! the order they must be carried out. Nothing here reads a clock, touches
//! a file or starts a process.

use std::collections::HashMap;
use std::fmt;

use super::commands::Commands;
use super::config::{AgentConfig, SupervisorKind};
use super::deploy::DeployOp;
use super::nodes::{NodeTable, Readiness};
use super::output::{Channel, LogLevel, LogRecord, Outbound, Output};
use super::requests::{RequestKind, Requests};
use super::timers::{Timer, Timers};
use crate::model::{Configuration, NodeOutputs, ResultRecord, Time};
use crate::supervisor::{host, Report};
use crate::wire::{
    decode, Encoding, Event, EventName, EventRole, Inbound, InputError, InputErrorKind, Limits,
};

/// The topic of the agent's traffic with its cluster nodes.
pub const NODE_TOPIC: &str = "zeek/management/node";

/// An input to the engine.
// Inputs are built once and moved straight into `handle`; boxing the event
// would cost an allocation per event on the hot path for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// An event from the controller, a node, the Supervisor or the transport.
    Event(Inbound),
    /// A report from the process supervisor.
    Report(Report),
}

/// Why the engine refused an input. Nothing changed and nothing was emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not allowed now: a request with this id is already in flight
    /// (`ZMA_ERR_STATE`).
    DuplicateRequest,
    /// A valid event the agent does not take, such as its own responses or
    /// Supervisor traffic when it runs its own process supervisor
    /// (`ZMA_ERR_EVENT`).
    NotForAgent,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// Anything [`Engine::handle_json`] can refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentError {
    Input(InputError),
    Refused(Refusal),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Input(e) => e.fmt(f),
            AgentError::Refused(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for AgentError {}

/// The agent's logic. See the crate documentation for the calling pattern.
pub struct Engine {
    pub(crate) cfg: AgentConfig,
    pub(crate) topic: String,
    pub(crate) now: Time,
    /// The adopted configuration; `None` before the first one and after
    /// standby.
    pub(crate) config: Option<Configuration>,
    /// Counts the changes of `config` (see [`Engine::configuration`]).
    pub(crate) config_generation: u64,
    pub(crate) nodes: NodeTable,
    /// The latest known output of each managed node.
    pub(crate) outputs: HashMap<String, NodeOutputs>,
    pub(crate) requests: Requests,
    pub(crate) deploy: Option<DeployOp>,
    pub(crate) commands: Commands,
    /// Node dispatch fan-out id -> controller request id.
    pub(crate) dispatches: HashMap<String, String>,
    pub(crate) timers: Timers,
    /// Whether the Supervisor is reachable (always, for the process one).
    pub(crate) supervisor_up: bool,
    pub(crate) last_encoding: Encoding,
    next_id: u64,
    out: Vec<Output>,
}

impl Engine {
    pub fn new(cfg: AgentConfig) -> Engine {
        let supervisor_up = cfg.supervisor == SupervisorKind::Process;
        Engine {
            topic: cfg.agent_topic(),
            cfg,
            now: Time::ZERO,
            config: None,
            config_generation: 0,
            nodes: NodeTable::default(),
            outputs: HashMap::new(),
            requests: Requests::new(),
            deploy: None,
            commands: Commands::default(),
            dispatches: HashMap::new(),
            timers: Timers::default(),
            supervisor_up,
            last_encoding: Encoding::Broker,
            next_id: 1,
            out: Vec::new(),
        }
    }

    /// The engine's settings.
    pub fn config(&self) -> &AgentConfig {
        &self.cfg
    }

    /// The latest time the engine was given.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Takes one input at time `now`.
    ///
    /// Timers due at `now` fire first, so a deadline is exact however the
    /// caller interleaves inputs and [`Engine::handle_timeout`]. Time never
    /// goes backwards: an earlier `now` counts as the latest one seen.
    pub fn handle(&mut self, now: Time, input: Input) -> Result<Vec<Output>, Refusal> {
        let now = now.max(self.now);
        if let Input::Event(inbound) = &input {
            self.check_acceptable(&inbound.event, now)?;
        }
        self.advance(now);
        match input {
            Input::Event(inbound) => {
                self.last_encoding = inbound.encoding;
                self.on_event(inbound.event, inbound.encoding);
            }
            Input::Report(report) => self.on_report(report),
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// Decodes and takes one JSON event (either encoding) at `now`.
    pub fn handle_json(
        &mut self,
        now: Time,
        json: &[u8],
        limits: &Limits,
    ) -> Result<Vec<Output>, AgentError> {
        let inbound = decode(json, limits).map_err(AgentError::Input)?;
        self.handle(now, Input::Event(inbound))
            .map_err(AgentError::Refused)
    }

    /// Takes a process supervisor report at `now`.
    pub fn handle_report(&mut self, now: Time, report: Report) -> Vec<Output> {
        // Reports are never refused.
        self.handle(now, Input::Report(report)).unwrap_or_default()
    }

    /// The next deadline, if any: call [`Engine::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.next()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) -> Vec<Output> {
        let now = now.max(self.now);
        self.advance(now);
        std::mem::take(&mut self.out)
    }

    fn advance(&mut self, now: Time) {
        while let Some(timer) = self.timers.pop_due(now) {
            // Handlers run at the timer's own deadline semantics: `now` is
            // at or past it.
            self.now = now;
            match timer {
                Timer::Request(reqid) => self.on_request_timeout(&reqid),
                Timer::Stage { op } => self.on_stage_timeout(op),
                Timer::Command(id) => self.on_command_timeout(id),
            }
        }
        self.now = now;
    }

    /// Refusals, decided before anything changes: by the event's role
    /// (an exhaustive classification of the catalogue), then, for a
    /// controller request, by its id.
    fn check_acceptable(&self, event: &Event, now: Time) -> Result<(), Refusal> {
        let name = event.name();
        match name.role() {
            EventRole::ControllerRequest => {}
            EventRole::NodeReport | EventRole::Transport => return Ok(()),
            EventRole::SupervisorResponse | EventRole::SupervisorNotice => {
                if self.cfg.supervisor == SupervisorKind::Process {
                    return Err(Refusal {
                        kind: RefusalKind::NotForAgent,
                        message: format!(
                            "{} is Supervisor traffic, but this agent runs its own process supervisor",
                            name.display()
                        ),
                    });
                }
                return Ok(());
            }
            EventRole::AgentResponse
            | EventRole::AgentNotification
            | EventRole::NodeRequest
            | EventRole::SupervisorRequest => {
                return Err(Refusal {
                    kind: RefusalKind::NotForAgent,
                    message: format!("{} is not an event the agent receives", name.display()),
                })
            }
        }
        // A welcome is answered at once and never held: its id cannot
        // clash with a request in flight.
        if name == EventName::AgentWelcomeRequest {
            return Ok(());
        }
        match event.reqid() {
            Some(reqid) if self.request_in_flight(reqid, now) => Err(Refusal {
                kind: RefusalKind::DuplicateRequest,
                message: format!(
                    "{}: request id '{}' is already in flight",
                    name.display(),
                    crate::wire::escape_for_message(reqid)
                ),
            }),
            _ => Ok(()),
        }
    }

    fn on_event(&mut self, event: Event, encoding: Encoding) {
        self.log(LogLevel::Info, format!("rx {}", summary(&event)));
        match event {
            Event::SetConfigurationRequest { reqid, config } => {
                self.on_deploy_request(reqid, config, None, encoding)
            }
            Event::DeployRequest {
                reqid,
                config,
                force,
            } => self.on_deploy_request(reqid, config, Some(force), encoding),
            Event::GetNodesRequest { reqid } => self.on_get_nodes_request(reqid, encoding),
            Event::NodeDispatchRequest {
                reqid,
                action,
                nodes,
            } => self.on_dispatch_request(reqid, action, nodes, encoding),
            Event::AgentWelcomeRequest { reqid } => {
                let result = ResultRecord::success(&reqid, &self.cfg.name);
                self.answer(encoding, Event::AgentWelcomeResponse { reqid, result });
            }
            Event::AgentStandbyRequest { reqid } => self.on_standby_request(reqid, encoding),
            Event::RestartRequest { reqid, nodes } => {
                self.on_restart_request(reqid, nodes, encoding)
            }
            Event::NodeApiDispatchResponse { reqid, result } => {
                self.on_node_dispatch_response(&reqid, result)
            }
            Event::NotifyNodeHello { node } => self.on_node_ready(&node, Readiness::Hello),
            Event::PeerAdded { endpoint, .. } => self.on_peer_added(&endpoint),
            Event::PeerLost { endpoint, .. } => self.on_peer_lost(&endpoint),
            supervisor @ (Event::SupervisorCreateResponse { .. }
            | Event::SupervisorStatusResponse { .. }
            | Event::SupervisorDestroyResponse { .. }
            | Event::SupervisorRestartResponse { .. }
            | Event::NotifyNodeExit { .. }) => {
                match host::report_from_event(&self.cfg.id_prefix, &supervisor) {
                    Some(report) => self.on_report(report),
                    None => self.log(
                        LogLevel::Debug,
                        format!(
                            "{} is not for this agent (unknown request id), ignored",
                            supervisor.name().display()
                        ),
                    ),
                }
            }
            // What the agent only sends: refused by `check_acceptable`.
            outbound @ (Event::SetConfigurationResponse { .. }
            | Event::DeployResponse { .. }
            | Event::GetNodesResponse { .. }
            | Event::NodeDispatchResponse { .. }
            | Event::AgentWelcomeResponse { .. }
            | Event::AgentStandbyResponse { .. }
            | Event::RestartResponse { .. }
            | Event::NotifyAgentHello(_)
            | Event::NotifyChange { .. }
            | Event::NotifyError { .. }
            | Event::NotifyLog { .. }
            | Event::NodeApiDispatchRequest { .. }
            | Event::SupervisorCreateRequest { .. }
            | Event::SupervisorStatusRequest { .. }
            | Event::SupervisorDestroyRequest { .. }
            | Event::SupervisorRestartRequest { .. }) => {
                debug_assert!(!outbound.role().is_inbound());
                self.log(
                    LogLevel::Debug,
                    format!(
                        "{} is not an event the agent receives, ignored",
                        outbound.name().display()
                    ),
                );
            }
        }
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::Created { id, error } => self.on_created(id, error),
            Report::Destroyed { id, ok } => self.on_destroyed(id, ok),
            Report::Restarted { id, ok } => self.on_restarted(id, ok),
            Report::Status { id, status } => self.on_status(id, status),
            Report::NodeOutput { node, outputs } => self.on_node_output(&node, outputs),
            Report::NodeSpawned { node, pid } => self.on_node_spawned(&node, pid),
            Report::NodeReady { node } => self.on_node_ready(&node, Readiness::Report),
            Report::NodeCrashed {
                node,
                reason,
                outputs,
            } => self.on_node_crashed(&node, &reason, outputs),
            Report::NodeFailed {
                node,
                reason,
                outputs,
            } => self.on_node_failed(&node, &reason, outputs),
        }
    }

    fn on_request_timeout(&mut self, reqid: &str) {
        let Some(kind) = self.requests.get(reqid).map(|r| r.kind.name()) else {
            return;
        };
        self.log(
            LogLevel::Info,
            format!("request {reqid} ({kind}) timed out"),
        );
        match self.requests.get(reqid).map(|r| &r.kind) {
            Some(RequestKind::SetConfiguration | RequestKind::Deploy | RequestKind::Standby) => {
                self.on_deploy_timeout(reqid)
            }
            Some(RequestKind::GetNodes(_)) => self.on_get_nodes_timeout(reqid),
            Some(RequestKind::Dispatch(_)) => self.on_dispatch_timeout(reqid),
            Some(RequestKind::Restart(_)) => self.on_restart_timeout(reqid),
            None => {}
        }
    }

    // ---- ids and commands ---------------------------------------------------

    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A fresh request id for traffic the agent starts (node dispatches).
    pub(crate) fn fresh_request_id(&mut self) -> String {
        let id = self.next_id();
        format!("{}{id}", self.cfg.id_prefix)
    }

    pub(crate) fn push_output(&mut self, output: Output) {
        self.out.push(output);
    }

    pub(crate) fn ensure_directory(&mut self, node: &str, path: String) {
        self.out.push(Output::EnsureDirectory {
            node: node.to_owned(),
            path,
        });
    }

    // ---- outputs ------------------------------------------------------------

    fn encoding_for(&self, request_encoding: Encoding) -> Encoding {
        self.cfg.encoding.fixed().unwrap_or(request_encoding)
    }

    fn unsolicited_encoding(&self) -> Encoding {
        self.cfg.encoding.fixed().unwrap_or(self.last_encoding)
    }

    fn emit(&mut self, channel: Channel, topic: String, event: Event, encoding: Encoding) {
        self.out.push(Output::Event(Outbound {
            channel,
            topic,
            event,
            encoding,
            dialect: self.cfg.dialect,
        }));
    }

    /// Sends a response to the controller in the request's encoding.
    pub(crate) fn answer(&mut self, request_encoding: Encoding, event: Event) {
        self.log(LogLevel::Info, format!("tx {}", summary(&event)));
        let encoding = self.encoding_for(request_encoding);
        let topic = self.topic.clone();
        self.emit(Channel::Response, topic, event, encoding);
    }

    /// Sends a `notify_*` event to the controller.
    pub(crate) fn notify(&mut self, event: Event) {
        let encoding = self.unsolicited_encoding();
        let topic = self.topic.clone();
        self.emit(Channel::Notification, topic, event, encoding);
    }

    pub(crate) fn notify_error(&mut self, msg: String, node: &str) {
        self.log(LogLevel::Error, msg.clone());
        let instance = self.cfg.name.clone();
        self.notify(Event::NotifyError {
            instance,
            msg,
            node: node.to_owned(),
        });
    }

    pub(crate) fn notify_log(&mut self, msg: String, node: &str) {
        self.log(LogLevel::Info, msg.clone());
        let instance = self.cfg.name.clone();
        self.notify(Event::NotifyLog {
            instance,
            msg,
            node: node.to_owned(),
        });
    }

    /// Publishes an event to nodes or to the Supervisor.
    pub(crate) fn publish(&mut self, topic: &str, event: Event) {
        self.log(LogLevel::Info, format!("tx {}", summary(&event)));
        let encoding = self.unsolicited_encoding();
        self.emit(Channel::Publish, topic.to_owned(), event, encoding);
    }

    pub(crate) fn log(&mut self, level: LogLevel, message: String) {
        self.out.push(Output::Log(LogRecord { level, message }));
    }
}

/// `name reqid` (or `name node`) for log lines, as Zeek's agent logs them.
fn summary(event: &Event) -> String {
    let name = event.name().full();
    let detail = match event {
        Event::NotifyNodeHello { node } | Event::NotifyNodeExit { node, .. } => Some(node.as_str()),
        Event::PeerAdded { endpoint, .. } | Event::PeerLost { endpoint, .. } => {
            Some(endpoint.id.as_str())
        }
        other => other.reqid(),
    };
    match detail {
        Some(detail) => format!("{name} {}", crate::wire::escape_for_message(detail)),
        None => name.to_owned(),
    }
}

impl From<InputError> for AgentError {
    fn from(e: InputError) -> AgentError {
        AgentError::Input(e)
    }
}

impl AgentError {
    /// The input error kind, or `None` for a refusal.
    pub fn input_kind(&self) -> Option<InputErrorKind> {
        match self {
            AgentError::Input(e) => Some(e.kind),
            AgentError::Refused(_) => None,
        }
    }
}

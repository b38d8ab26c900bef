//! The simulator: runs a scenario's operations against an [`Engine`] and
//! plays everything around it (the controller's requests, nodes saying
//! hello and answering dispatches, peerings, the clock; the Supervisor is
//! in supervisor.rs).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use zeek_mgmt_agent::engine::{
    AgentConfig, AgentError, EncodingChoice, Engine, RefusalKind, SupervisorKind, Time,
};
use zeek_mgmt_agent::model::{EndpointInfo, ResultData, ResultRecord, State, SupervisorNodeStatus};
use zeek_mgmt_agent::supervisor::{Command, CommandId, Report};
use zeek_mgmt_agent::wire::{encode, Dialect, Encoding, Event, EventName, EventRole, Limits};

use crate::clock::World;

use super::model::*;

pub(super) fn reqid_of(n: u8) -> String {
    // A small pool, so ids repeat while in flight and after.
    format!("r{}", n % 8)
}

pub(super) fn relaxed() -> Limits {
    Limits {
        max_event_bytes: usize::MAX,
        max_json_depth: 1024,
    }
}

/// The request's kind in the state JSON, for requests the engine tracks.
pub(super) fn state_kind(request: EventName) -> Option<&'static str> {
    match request {
        EventName::SetConfigurationRequest => Some("set_configuration"),
        EventName::DeployRequest => Some("deploy"),
        EventName::GetNodesRequest => Some("get_nodes"),
        EventName::NodeDispatchRequest => Some("node_dispatch"),
        EventName::AgentStandbyRequest => Some("agent_standby"),
        EventName::RestartRequest => Some("restart"),
        _ => None,
    }
}

/// A request accepted and not answered yet.
#[derive(Clone, Debug)]
pub(super) struct Open {
    pub(super) reqid: String,
    pub(super) request: EventName,
    pub(super) encoding: Encoding,
    /// When it times out: `request_timeout_ms` after it was sent.
    pub(super) deadline: Time,
}

pub(super) struct Runner {
    pub(super) engine: Engine,
    pub(super) now: Time,
    pub(super) request_timeout_ms: u64,
    pub(super) host: bool,
    pub(super) dialect: Dialect,
    pub(super) outbound: OutChoice,
    pub(super) inbound: InChoice,
    pub(super) sends: usize,
    /// Commands sent and not answered (nor dropped).
    pub(super) queue: Vec<(CommandId, Command)>,
    /// Commands answered (or dropped), for stale answers.
    pub(super) answered: Vec<(CommandId, Command)>,
    pub(super) seen_commands: HashSet<u64>,
    /// The simulated Supervisor's processes.
    pub(super) procs: BTreeMap<String, SupervisorNodeStatus>,
    pub(super) next_pid: i64,
    /// Node dispatch fan-outs: (child reqid, nodes asked).
    pub(super) fanouts: Vec<(String, Vec<String>)>,
    pub(super) open: Vec<Open>,
    pub(super) step: usize,
    /// Node name -> the create command of its current process (its
    /// incarnation).
    pub(super) incarnation: BTreeMap<String, u64>,
    /// Create command -> its node.
    pub(super) creating: BTreeMap<u64, String>,
    /// Restart command -> the node and the incarnation it restarts.
    pub(super) restarting: BTreeMap<u64, (String, Option<u64>)>,
    /// The RUNNING, CRASHED and FAILED states this step may legitimately
    /// give a node: what the step reports about its current process, or a
    /// failed restart of that process putting it back as it was.
    pub(super) may: BTreeSet<(String, State)>,
    /// This step's `Output::NodeReady`s, and the nodes it made RUNNING.
    pub(super) step_ready: Vec<String>,
    pub(super) step_running: Vec<String>,
}

/// Whether to print each step (`ZMA_FUZZ_TRACE=1`), for debugging a
/// failing scenario.
pub(super) fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ZMA_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

/// The fuzz simulator as the clock driver sees it (its final drain): a
/// wakeup fires the due timers and checks every invariant of a step.
impl World for Runner {
    fn next_wakeup(&self) -> Option<Time> {
        self.engine.poll_timeout()
    }

    fn fire(&mut self, at: Time) {
        self.now = self.now.max(at);
        let outputs = self.engine.handle_timeout(self.now);
        self.absorb(outputs);
        self.check(true);
    }
}

/// Runs a scenario, panicking at the first broken invariant.
pub fn run(scenario: &Scenario) {
    let mut runner = Runner::new(&scenario.setup);
    runner.check(false);
    for (step, op) in scenario.ops.iter().take(MAX_OPS).enumerate() {
        runner.step = step;
        if tracing() {
            eprintln!("-- step {step} at {}: {op:?}", runner.now);
        }
        let fired = runner.apply(op);
        runner.check(fired);
        if tracing() {
            eprintln!("   state: {}", runner.engine.state().to_json());
        }
    }
    runner.drain();
}

impl Runner {
    pub(super) fn new(setup: &Setup) -> Runner {
        let dialect = match setup.dialect {
            DialectChoice::Seed => Dialect::Seed,
            DialectChoice::Zeek5 => Dialect::Zeek5,
            DialectChoice::Zeek6 => Dialect::Zeek6,
            DialectChoice::Zeek7 => Dialect::Zeek7,
        };
        let mut cfg = AgentConfig::new(AGENT);
        cfg.dialect = dialect;
        cfg.encoding = match setup.outbound {
            OutChoice::Auto => EncodingChoice::Auto,
            OutChoice::Broker => EncodingChoice::Broker,
            OutChoice::Plain => EncodingChoice::Plain,
        };
        cfg.state_dir = "/var/lib/zeek-agent".into();
        cfg.broker_id = "agent-broker-id".into();
        cfg.id_prefix = ID_PREFIX.into();
        cfg.request_timeout_ms = pick(&REQUEST_TIMEOUTS, setup.request_timeout);
        cfg.stage_wait_ms = pick(&STAGE_WAITS, setup.stage_wait);
        cfg.supervisor_timeout_ms = pick(&SUPERVISOR_TIMEOUTS, setup.supervisor_timeout);
        if setup.host_supervisor {
            cfg.supervisor = SupervisorKind::Host {
                address: SUPERVISOR_ADDR.into(),
                port: SUPERVISOR_PORT,
            };
        }
        Runner {
            request_timeout_ms: cfg.request_timeout_ms,
            engine: Engine::new(cfg),
            now: Time::ZERO,
            host: setup.host_supervisor,
            dialect,
            outbound: setup.outbound,
            inbound: setup.inbound,
            sends: 0,
            queue: Vec::new(),
            answered: Vec::new(),
            seen_commands: HashSet::new(),
            procs: BTreeMap::new(),
            next_pid: 100,
            fanouts: Vec::new(),
            open: Vec::new(),
            step: 0,
            incarnation: BTreeMap::new(),
            restarting: BTreeMap::new(),
            creating: BTreeMap::new(),
            may: BTreeSet::new(),
            step_ready: Vec::new(),
            step_running: Vec::new(),
        }
    }

    pub(super) fn fail(&self, what: &str) -> ! {
        panic!(
            "step {}: {what}\nstate: {}\nopen: {:?}",
            self.step,
            self.engine.state().to_json(),
            self.open
        )
    }

    pub(super) fn input_encoding(&mut self) -> Encoding {
        self.sends += 1;
        match self.inbound {
            InChoice::Broker => Encoding::Broker,
            InChoice::Plain => Encoding::Plain,
            InChoice::Alternate if self.sends % 2 == 0 => Encoding::Plain,
            InChoice::Alternate => Encoding::Broker,
        }
    }

    /// Applies one operation; returns whether it ended with every due timer
    /// fired.
    pub(super) fn apply(&mut self, op: &Op) -> bool {
        self.may.clear();
        self.step_ready.clear();
        self.step_running.clear();
        let fired = self.apply_op(op);
        // The process supervisor hears of exactly the nodes a hello made
        // RUNNING (readiness it reported itself it knows already).
        let expected = match op {
            Op::Hello { .. } if !self.host => self.step_running.clone(),
            _ => Vec::new(),
        };
        if self.step_ready != expected {
            self.fail(&format!(
                "NodeReady for {:?}, but {:?} became RUNNING by hello",
                self.step_ready, expected
            ));
        }
        fired
    }

    pub(super) fn apply_op(&mut self, op: &Op) -> bool {
        match op {
            Op::Deploy {
                reqid,
                config,
                force,
                set_configuration,
            } => {
                let config = build_config(config);
                let reqid = reqid_of(*reqid);
                let event = if *set_configuration {
                    Event::SetConfigurationRequest { reqid, config }
                } else {
                    Event::DeployRequest {
                        reqid,
                        config,
                        force: *force,
                    }
                };
                self.request(event);
            }
            Op::GetNodes { reqid } => self.request(Event::GetNodesRequest {
                reqid: reqid_of(*reqid),
            }),
            Op::Dispatch { reqid, nodes } => self.request(Event::NodeDispatchRequest {
                reqid: reqid_of(*reqid),
                action: vec!["get_id_value".into(), "Cluster::node".into()],
                nodes: nodes
                    .iter()
                    .take(4)
                    .map(|n| node_name(*n).to_owned())
                    .collect(),
            }),
            Op::Restart { reqid, nodes } => self.request(Event::RestartRequest {
                reqid: reqid_of(*reqid),
                nodes: nodes
                    .iter()
                    .take(4)
                    .map(|n| node_name(*n).to_owned())
                    .collect(),
            }),
            Op::Welcome { reqid } => self.request(Event::AgentWelcomeRequest {
                reqid: reqid_of(*reqid),
            }),
            Op::Standby { reqid } => self.request(Event::AgentStandbyRequest {
                reqid: reqid_of(*reqid),
            }),
            Op::Answer { which, outcome } => {
                if !self.queue.is_empty() {
                    let index = usize::from(*which) % self.queue.len();
                    let (id, command) = self.queue.remove(index);
                    let report = self.supervise(id, &command, *outcome);
                    self.allow(&report);
                    self.answered.push((id, command));
                    self.deliver(report);
                }
            }
            Op::Drop { which } => {
                if !self.queue.is_empty() {
                    let index = usize::from(*which) % self.queue.len();
                    let dropped = self.queue.remove(index);
                    self.answered.push(dropped);
                }
            }
            Op::StaleAnswer {
                which,
                kind,
                outcome,
            } => {
                let id = if self.answered.is_empty() || *which == u8::MAX {
                    CommandId(1_000_000)
                } else {
                    self.answered[usize::from(*which) % self.answered.len()].0
                };
                let ok = *outcome == Outcome::Ok;
                let report = match kind {
                    AnswerKind::Created => Report::Created {
                        id,
                        error: (!ok).then(|| "stale failure".to_owned()),
                    },
                    AnswerKind::Destroyed => Report::Destroyed { id, ok },
                    AnswerKind::Restarted => Report::Restarted { id, ok },
                    AnswerKind::Status => Report::Status {
                        id,
                        status: self.status(!ok),
                    },
                };
                self.allow(&report);
                self.deliver(report);
            }
            Op::Hello { node } => {
                self.may
                    .insert((node_name(*node).to_owned(), State::Running));
                self.send_ok(
                    Event::NotifyNodeHello {
                        node: node_name(*node).to_owned(),
                    },
                    NODE_TOPIC,
                )
            }
            Op::Report { node, kind } => {
                let name = node_name(*node).to_owned();
                match kind {
                    ReportKind::Ready => self.may.insert((name, State::Running)),
                    ReportKind::Crashed => self.may.insert((name, State::Crashed)),
                    ReportKind::Failed => self.may.insert((name, State::Failed)),
                    _ => false,
                };
                self.report(node_name(*node), *kind)
            }
            Op::DispatchAnswer {
                which,
                node,
                success,
            } => {
                if !self.fanouts.is_empty() {
                    let (child, nodes) =
                        self.fanouts[usize::from(*which) % self.fanouts.len()].clone();
                    let index = usize::from(*node);
                    let responder = nodes
                        .get(index % (nodes.len() + 1))
                        .cloned()
                        .unwrap_or_else(|| "not-asked".to_owned());
                    let mut result = ResultRecord::success(&child, AGENT).for_node(&responder);
                    result.instance = None;
                    result.success = *success;
                    if *success {
                        result.data =
                            Some(ResultData::String(format!("{{\"name\":\"{responder}\"}}")));
                    } else {
                        result.error = Some("no such identifier".into());
                    }
                    self.send_ok(
                        Event::NodeApiDispatchResponse {
                            reqid: child,
                            result,
                        },
                        NODE_TOPIC,
                    );
                }
            }
            Op::Peer { supervisor, lost } => {
                let endpoint = if *supervisor {
                    EndpointInfo::at("supervisor-id", SUPERVISOR_ADDR, SUPERVISOR_PORT)
                } else {
                    EndpointInfo::at("controller-id", "10.1.1.1", 2150)
                };
                let msg = "handshake successful".to_owned();
                let event = if *lost {
                    Event::PeerLost { endpoint, msg }
                } else {
                    Event::PeerAdded { endpoint, msg }
                };
                self.send_ok(event, "zeek/management/agent/instance-1");
            }
            Op::Advance { ms, fire } => {
                self.now = self.now.plus_millis(u64::from(*ms));
                if *fire {
                    let outputs = self.engine.handle_timeout(self.now);
                    self.absorb(outputs);
                }
                return *fire;
            }
            Op::FireDue => {
                if let Some(at) = self.engine.poll_timeout() {
                    self.now = self.now.max(at);
                }
                let outputs = self.engine.handle_timeout(self.now);
                self.absorb(outputs);
                return true;
            }
            Op::Foreign { kind } => self.foreign(*kind),
        }
        false
    }

    /// Whether the agent refuses an event of this role as not for it: what
    /// it only sends, and Supervisor traffic when it runs its own process
    /// supervisor.
    pub(super) fn not_for_agent(&self, role: EventRole) -> bool {
        match role {
            EventRole::ControllerRequest | EventRole::NodeReport | EventRole::Transport => false,
            EventRole::SupervisorResponse | EventRole::SupervisorNotice => !self.host,
            EventRole::AgentResponse
            | EventRole::AgentNotification
            | EventRole::NodeRequest
            | EventRole::SupervisorRequest => true,
        }
    }

    pub(super) fn foreign(&mut self, kind: u8) {
        let (event, topic) = match kind % 4 {
            // The agent's own response: never taken.
            0 => (
                Event::GetNodesResponse {
                    reqid: "r1".into(),
                    result: ResultRecord::success("r1", AGENT),
                },
                "zeek/management/agent/instance-1",
            ),
            // Another agent's Supervisor traffic (refused in process mode).
            1 => (
                Event::SupervisorDestroyResponse {
                    reqid: "other-agent-1".into(),
                    result: true,
                },
                "zeek/supervisor",
            ),
            // An answer to a dispatch nobody sent: taken, ignored.
            2 => (
                Event::NodeApiDispatchResponse {
                    reqid: "unknown-dispatch".into(),
                    result: ResultRecord::success("unknown-dispatch", AGENT).for_node("manager"),
                },
                NODE_TOPIC,
            ),
            // A node's own fan-out seen by the agent: not for it.
            _ => (
                Event::NodeApiDispatchRequest {
                    reqid: "x".into(),
                    action: vec!["get_id_value".into()],
                    nodes: BTreeSet::new(),
                },
                NODE_TOPIC,
            ),
        };
        let refused = self.not_for_agent(event.role());
        match self.send(event, topic) {
            Ok(()) if refused => self.fail("an event not for the agent was taken"),
            Err(RefusalKind::NotForAgent) if refused => {}
            Err(kind) if !refused => self.fail(&format!("event refused: {kind:?}")),
            _ => {}
        }
    }

    /// Sends an event the agent must take.
    pub(super) fn send_ok(&mut self, event: Event, topic: &str) {
        if let Err(kind) = self.send(event.clone(), topic) {
            self.fail(&format!("{} refused: {kind:?}", event.name().full()));
        }
    }

    /// Sends a controller request, tracking its answer.
    pub(super) fn request(&mut self, event: Event) {
        let name = event.name();
        let reqid = event.reqid().expect("a request").to_owned();
        let before = self.engine.state();
        // In flight: the engine knows it and its deadline has not passed.
        let in_flight = state_kind(name).is_some()
            && before
                .pending_requests
                .iter()
                .any(|r| r.id == reqid && r.deadline_ms > self.now.as_millis());
        let encoding = self.peek_encoding();
        self.open.push(Open {
            reqid: reqid.clone(),
            request: name,
            encoding,
            deadline: self.now.plus_millis(self.request_timeout_ms),
        });
        match self.send(event, "zeek/management/agent/instance-1") {
            Ok(()) if in_flight => self.fail(&format!(
                "{} with reqid {reqid} in flight was taken",
                name.full()
            )),
            Ok(()) => {}
            Err(RefusalKind::DuplicateRequest) if in_flight => {
                // Refused: this one gets no answer (the one in flight does).
                let last = self
                    .open
                    .iter()
                    .rposition(|o| o.reqid == reqid && o.request == name);
                match last {
                    Some(i) if i + 1 == self.open.len() => {
                        self.open.pop();
                    }
                    _ => self.fail("a refused request was answered"),
                }
            }
            Err(kind) => self.fail(&format!("{} refused: {kind:?}", name.full())),
        }
    }

    pub(super) fn peek_encoding(&self) -> Encoding {
        match self.inbound {
            InChoice::Broker => Encoding::Broker,
            InChoice::Plain => Encoding::Plain,
            InChoice::Alternate if (self.sends + 1) % 2 == 0 => Encoding::Plain,
            InChoice::Alternate => Encoding::Broker,
        }
    }

    /// Sends one event as JSON; a refusal must change nothing.
    pub(super) fn send(&mut self, event: Event, topic: &str) -> Result<(), RefusalKind> {
        let encoding = self.input_encoding();
        let json = encode(&event, topic, encoding, self.dialect);
        let before = self.engine.state();
        let poll_before = self.engine.poll_timeout();
        match self
            .engine
            .handle_json(self.now, json.as_bytes(), &Limits::default())
        {
            Ok(outputs) => {
                self.absorb(outputs);
                Ok(())
            }
            Err(AgentError::Refused(refusal)) => {
                assert!(!refusal.message.is_empty(), "refusal without a message");
                if self.engine.state() != before || self.engine.poll_timeout() != poll_before {
                    self.fail(&format!("a refused event changed the state: {refusal}"));
                }
                Err(refusal.kind)
            }
            Err(AgentError::Input(e)) => self.fail(&format!(
                "the agent's own encoding was refused: {e}\n{json}"
            )),
        }
    }

    /// What a Supervisor answer may do to a node: a failed create makes
    /// the node it created FAILED, a failed restart puts its node back in
    /// the state it had; both only if the node is still that process.
    pub(super) fn allow(&mut self, report: &Report) {
        match report {
            Report::Created { id, error: Some(_) } => {
                if let Some(node) = self.creating.get(&id.0) {
                    if self.incarnation.get(node) == Some(&id.0) {
                        self.may.insert((node.clone(), State::Failed));
                    }
                }
            }
            Report::Restarted { id, ok: false } => {
                if let Some((node, of)) = self.restarting.get(&id.0) {
                    if *of == self.incarnation.get(node).copied() {
                        for state in [State::Running, State::Crashed, State::Failed] {
                            self.may.insert((node.clone(), state));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn command(&mut self, id: CommandId, command: Command) {
        if !self.seen_commands.insert(id.0) {
            self.fail(&format!("command id {} used twice", id.0));
        }
        match &command {
            Command::Create(config) => {
                self.incarnation.insert(config.name.clone(), id.0);
                self.creating.insert(id.0, config.name.clone());
            }
            Command::Restart { node } => {
                let of = self.incarnation.get(node).copied();
                self.restarting.insert(id.0, (node.clone(), of));
            }
            _ => {}
        }
        self.queue.push((id, command));
    }
}

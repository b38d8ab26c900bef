//! The `engine_ops` fuzz target's model: a scenario is an engine setup and
//! a list of operations (controller requests, Supervisor answers and
//! reports, node hellos and dispatch answers, peerings, time steps), run
//! against an [`Engine`] through its public API only, with invariants
//! checked after every step.
//!
//! Shared with the stable regression test: `tests/fuzz_regressions.rs`
//! replays scenarios saved as JSON
//! ([`Scenario::to_json`] / [`Scenario::from_json`]; the fuzz crate's
//! `engine_ops_to_json` binary turns a raw fuzz input into that form).
//! `Arbitrary` is derived only with this crate's `arbitrary` feature (the
//! fuzz crate turns it on), so the test builds on stable without the crate.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{json, Value as J};
use zeek_mgmt_agent::engine::{
    AgentConfig, AgentError, Channel, EncodingChoice, Engine, Output, RefusalKind, SupervisorKind,
    Time,
};
use zeek_mgmt_agent::model::{
    ClusterRole, Configuration, EndpointInfo, Instance, Node, NodeConfig, NodeOutputs, Port,
    ResultData, ResultRecord, State, SupervisorNodeStatus, SupervisorStatus, ZeekEnum,
};
use zeek_mgmt_agent::supervisor::{host, Command, CommandId, Report};
use zeek_mgmt_agent::wire::{
    decode, encode, Dialect, Encoding, Event, EventName, EventRole, Limits,
};

pub const AGENT: &str = "instance-1";
const OTHER_INSTANCE: &str = "instance-2";
const ID_PREFIX: &str = "zma-fuzz-";
const SUPERVISOR_ADDR: &str = "127.0.0.1";
const SUPERVISOR_PORT: u16 = 9999;
const NODE_TOPIC: &str = "zeek/management/node";

/// At most this many operations and nodes per configuration are used, so
/// one run stays fast.
pub const MAX_OPS: usize = 96;
pub const MAX_NODES: usize = 6;

/// Node names a configuration draws from: valid ones, one that clashes
/// with an instance name and one that is not a safe node name.
pub const NODE_NAMES: [&str; 8] = [
    "manager",
    "logger-01",
    "proxy-01",
    "worker-01",
    "worker-02",
    "worker-03",
    OTHER_INSTANCE,
    "bad name",
];
/// Node ports: none, three free ones, the agent's listen port, and 0 (none).
const PORTS: [Option<u16>; 6] = [
    None,
    Some(5000),
    Some(5001),
    Some(5002),
    Some(2151),
    Some(0),
];
const REQUEST_TIMEOUTS: [u64; 5] = [5000, 1, 40, 300, 2000];
const STAGE_WAITS: [u64; 4] = [500, 0, 1, 50];
const SUPERVISOR_TIMEOUTS: [u64; 4] = [60_000, 1, 100, 3000];

macro_rules! choice_enum {
    ($(#[$meta:meta])* $ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $ty {
            $($variant),+
        }

        impl $ty {
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(name: &str) -> Result<$ty, String> {
                match name {
                    $($name => Ok($ty::$variant),)+
                    other => Err(format!("{}: unknown value '{other}'", stringify!($ty))),
                }
            }
        }
    };
}

choice_enum!(
    /// The agent's dialect.
    DialectChoice { Seed => "seed", Zeek5 => "zeek5", Zeek6 => "zeek6", Zeek7 => "zeek7" }
);
choice_enum!(
    /// The encoding option of the agent (outbound events).
    OutChoice { Auto => "auto", Broker => "broker", Plain => "plain" }
);
choice_enum!(
    /// The encoding of inbound events.
    InChoice { Broker => "broker", Plain => "plain", Alternate => "alternate" }
);
choice_enum!(
    /// A node's cluster role (`none` is refused by validation).
    RoleChoice { None => "none", Logger => "logger", Manager => "manager", Proxy => "proxy", Worker => "worker" }
);
choice_enum!(
    /// How a Supervisor answers a command: as asked, or failing (a status
    /// "failure" lists a stray node besides the simulated process table).
    Outcome { Ok => "ok", Fail => "fail" }
);
choice_enum!(
    /// What the process supervisor reports on its own (host mode: the
    /// Supervisor shim's `notify_node_exit` for crashed, failed and output).
    ReportKind { Spawned => "spawned", Ready => "ready", Crashed => "crashed", Failed => "failed", Output => "output" }
);
choice_enum!(
    /// Answer kinds for stale or mismatched Supervisor answers.
    AnswerKind { Created => "created", Destroyed => "destroyed", Restarted => "restarted", Status => "status" }
);

/// How the engine is set up.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// A host-delegated Zeek Supervisor (SupervisorControl events) instead
    /// of the built-in process supervisor.
    pub host_supervisor: bool,
    pub dialect: DialectChoice,
    pub outbound: OutChoice,
    pub inbound: InChoice,
    /// Index into the request timeouts (5000, 1, 40, 300, 2000 ms).
    pub request_timeout: u8,
    /// Index into the stage waits (500, 0, 1, 50 ms).
    pub stage_wait: u8,
    /// Index into the Supervisor timeouts (60000, 1, 100, 3000 ms).
    pub supervisor_timeout: u8,
}

/// One node of a generated configuration.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Index into [`NODE_NAMES`].
    pub name: u8,
    pub role: RoleChoice,
    /// 0, 1: this instance; 2: the other declared instance; 3: undeclared.
    pub instance: u8,
    /// Index into the ports (none, 5000, 5001, 5002, 2151, 0).
    pub port: u8,
    pub metrics_port: bool,
    /// 0: no scripts; 1: `site/local`; 2: `-e` (refused); 3: an empty list.
    pub scripts: u8,
}

/// A generated `Management::Configuration`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigSpec {
    /// The id is `cfg-<id % 3>`, so ids repeat (the same-id short cut).
    pub id: u8,
    /// The instance declares the agent's listen port (2151).
    pub listen_port: bool,
    pub nodes: Vec<NodeSpec>,
}

/// One step of a scenario.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `deploy_request` (or the seed `set_configuration_request`).
    Deploy {
        reqid: u8,
        config: ConfigSpec,
        force: bool,
        set_configuration: bool,
    },
    GetNodes {
        reqid: u8,
    },
    /// `node_dispatch_request` for these nodes (indices into the names;
    /// none means all).
    Dispatch {
        reqid: u8,
        nodes: Vec<u8>,
    },
    Restart {
        reqid: u8,
        nodes: Vec<u8>,
    },
    Welcome {
        reqid: u8,
    },
    Standby {
        reqid: u8,
    },
    /// The Supervisor answers one queued command.
    Answer {
        which: u8,
        outcome: Outcome,
    },
    /// The Supervisor loses one queued command: no answer, ever.
    Drop {
        which: u8,
    },
    /// An answer for a command answered already (or never sent), possibly
    /// of the wrong kind.
    StaleAnswer {
        which: u8,
        kind: AnswerKind,
        outcome: Outcome,
    },
    /// `notify_node_hello` from a node (index into the names).
    Hello {
        node: u8,
    },
    /// A report about a node from the Supervisor.
    Report {
        node: u8,
        kind: ReportKind,
    },
    /// A node answers a node dispatch fan-out (an index past the fan-out's
    /// nodes is a node that was not asked).
    DispatchAnswer {
        which: u8,
        node: u8,
        success: bool,
    },
    /// `Broker::peer_added` / `peer_lost` of the Supervisor or a controller.
    Peer {
        supervisor: bool,
        lost: bool,
    },
    /// The clock moves on; with `fire`, the host calls `handle_timeout`.
    Advance {
        ms: u16,
        fire: bool,
    },
    /// The host wakes at `poll_timeout` and calls `handle_timeout`.
    FireDue,
    /// An event the agent does not take (its own response), or traffic that
    /// is not for it (a foreign Supervisor answer, an unknown dispatch).
    Foreign {
        kind: u8,
    },
}

/// A whole fuzz input.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub setup: Setup,
    pub ops: Vec<Op>,
}

// ---- running -----------------------------------------------------------------

fn pick<T: Copy>(table: &[T], index: u8) -> T {
    table[usize::from(index) % table.len()]
}

fn node_name(index: u8) -> &'static str {
    pick(&NODE_NAMES, index)
}

fn reqid_of(n: u8) -> String {
    // A small pool, so ids repeat while in flight and after.
    format!("r{}", n % 8)
}

fn relaxed() -> Limits {
    Limits {
        max_event_bytes: usize::MAX,
        max_json_depth: 1024,
    }
}

/// The request's kind in the state JSON, for requests the engine tracks.
fn state_kind(request: EventName) -> Option<&'static str> {
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
struct Open {
    reqid: String,
    request: EventName,
    encoding: Encoding,
    /// When it times out: `request_timeout_ms` after it was sent.
    deadline: Time,
}

struct Runner {
    engine: Engine,
    now: Time,
    request_timeout_ms: u64,
    host: bool,
    dialect: Dialect,
    outbound: OutChoice,
    inbound: InChoice,
    sends: usize,
    /// Commands sent and not answered (nor dropped).
    queue: Vec<(CommandId, Command)>,
    /// Commands answered (or dropped), for stale answers.
    answered: Vec<(CommandId, Command)>,
    seen_commands: HashSet<u64>,
    /// The simulated Supervisor's processes.
    procs: BTreeMap<String, SupervisorNodeStatus>,
    next_pid: i64,
    /// Node dispatch fan-outs: (child reqid, nodes asked).
    fanouts: Vec<(String, Vec<String>)>,
    open: Vec<Open>,
    step: usize,
    /// Node name -> the create command of its current process (its
    /// incarnation).
    incarnation: BTreeMap<String, u64>,
    /// Create command -> its node.
    creating: BTreeMap<u64, String>,
    /// Restart command -> the node and the incarnation it restarts.
    restarting: BTreeMap<u64, (String, Option<u64>)>,
    /// The RUNNING, CRASHED and FAILED states this step may legitimately
    /// give a node: what the step reports about its current process, or a
    /// failed restart of that process putting it back as it was.
    may: BTreeSet<(String, State)>,
    /// This step's `Output::NodeReady`s, and the nodes it made RUNNING.
    step_ready: Vec<String>,
    step_running: Vec<String>,
}

/// Whether to print each step (`ZMA_FUZZ_TRACE=1`), for debugging a
/// failing scenario.
fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ZMA_FUZZ_TRACE").is_some_and(|v| v == "1"))
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
    fn new(setup: &Setup) -> Runner {
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

    fn fail(&self, what: &str) -> ! {
        panic!(
            "step {}: {what}\nstate: {}\nopen: {:?}",
            self.step,
            self.engine.state().to_json(),
            self.open
        )
    }

    fn input_encoding(&mut self) -> Encoding {
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
    fn apply(&mut self, op: &Op) -> bool {
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

    fn apply_op(&mut self, op: &Op) -> bool {
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

    /// What the simulated Supervisor does with a command.
    fn supervise(&mut self, id: CommandId, command: &Command, outcome: Outcome) -> Report {
        let ok = outcome == Outcome::Ok;
        match command {
            Command::Create(config) => {
                if !ok {
                    return Report::Created {
                        id,
                        error: Some("cannot create".into()),
                    };
                }
                self.next_pid += 1;
                self.procs.insert(
                    config.name.clone(),
                    SupervisorNodeStatus {
                        node: config.as_ref().clone(),
                        pid: Some(self.next_pid),
                    },
                );
                Report::Created { id, error: None }
            }
            Command::Destroy { node } => {
                if ok {
                    self.procs.remove(node);
                }
                Report::Destroyed { id, ok }
            }
            Command::Restart { node } => {
                let ok = ok && self.procs.contains_key(node);
                if ok {
                    self.next_pid += 1;
                    let pid = self.next_pid;
                    if let Some(p) = self.procs.get_mut(node) {
                        p.pid = Some(pid);
                    }
                }
                Report::Restarted { id, ok }
            }
            Command::Status { .. } => Report::Status {
                id,
                status: self.status(!ok),
            },
        }
    }

    /// The simulated Supervisor's status; `stray` adds a node nobody asked
    /// for and a management node (which a deploy must leave alone).
    fn status(&self, stray: bool) -> SupervisorStatus {
        let mut status = SupervisorStatus {
            nodes: self.procs.clone(),
        };
        if stray {
            status.nodes.insert(
                "stray-01".into(),
                SupervisorNodeStatus {
                    node: NodeConfig::new("stray-01"),
                    pid: Some(7),
                },
            );
            let mut agent = NodeConfig::new("agent-proc");
            agent
                .env
                .insert("ZEEK_MANAGEMENT_NODE".into(), "AGENT".into());
            status.nodes.insert(
                "agent-proc".into(),
                SupervisorNodeStatus {
                    node: agent,
                    pid: Some(8),
                },
            );
        }
        status
    }

    /// A Supervisor answer, as a report (process mode) or a
    /// SupervisorControl response event (host mode).
    fn deliver(&mut self, report: Report) {
        if !self.host {
            let outputs = self.engine.handle_report(self.now, report);
            self.absorb(outputs);
            return;
        }
        let event = host::event_from_report(ID_PREFIX, report.clone())
            .unwrap_or_else(|| self.fail(&format!("a Zeek Supervisor cannot report {report:?}")));
        self.send_ok(event, "zeek/supervisor");
    }

    fn report(&mut self, node: &str, kind: ReportKind) {
        let outputs = NodeOutputs {
            stdout: format!("{node} out\n"),
            stderr: format!("{node} err\n"),
        };
        if self.host {
            // Zeek's Supervisor restarts crashed nodes itself; its shim
            // publishes the exit with the output.
            if matches!(
                kind,
                ReportKind::Crashed | ReportKind::Failed | ReportKind::Output
            ) {
                self.deliver(Report::NodeOutput {
                    node: node.to_owned(),
                    outputs,
                });
            }
            return;
        }
        let node = node.to_owned();
        let report = match kind {
            ReportKind::Spawned => {
                self.next_pid += 1;
                Report::NodeSpawned {
                    node,
                    pid: self.next_pid,
                }
            }
            ReportKind::Ready => Report::NodeReady { node },
            ReportKind::Crashed => Report::NodeCrashed {
                node,
                reason: "exit status 1".into(),
                outputs,
            },
            ReportKind::Failed => Report::NodeFailed {
                node,
                reason: "gave up after 5 failed starts".into(),
                outputs,
            },
            ReportKind::Output => Report::NodeOutput { node, outputs },
        };
        self.deliver(report);
    }

    /// Whether the agent refuses an event of this role as not for it: what
    /// it only sends, and Supervisor traffic when it runs its own process
    /// supervisor.
    fn not_for_agent(&self, role: EventRole) -> bool {
        match role {
            EventRole::ControllerRequest | EventRole::NodeReport | EventRole::Transport => false,
            EventRole::SupervisorResponse | EventRole::SupervisorNotice => !self.host,
            EventRole::AgentResponse
            | EventRole::AgentNotification
            | EventRole::NodeRequest
            | EventRole::SupervisorRequest => true,
        }
    }

    fn foreign(&mut self, kind: u8) {
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
    fn send_ok(&mut self, event: Event, topic: &str) {
        if let Err(kind) = self.send(event.clone(), topic) {
            self.fail(&format!("{} refused: {kind:?}", event.name().full()));
        }
    }

    /// Sends a controller request, tracking its answer.
    fn request(&mut self, event: Event) {
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

    fn peek_encoding(&self) -> Encoding {
        match self.inbound {
            InChoice::Broker => Encoding::Broker,
            InChoice::Plain => Encoding::Plain,
            InChoice::Alternate if (self.sends + 1) % 2 == 0 => Encoding::Plain,
            InChoice::Alternate => Encoding::Broker,
        }
    }

    /// Sends one event as JSON; a refusal must change nothing.
    fn send(&mut self, event: Event, topic: &str) -> Result<(), RefusalKind> {
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

    /// Takes the engine's outputs, checking each.
    fn absorb(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Event(out) => {
                    if tracing() {
                        eprintln!("   out {:?}: {}", out.channel, out.to_json());
                    }
                    if out.dialect != self.dialect {
                        self.fail("an event in another dialect");
                    }
                    if let Some(fixed) = match self.outbound {
                        OutChoice::Broker => Some(Encoding::Broker),
                        OutChoice::Plain => Some(Encoding::Plain),
                        OutChoice::Auto => None,
                    } {
                        if out.encoding != fixed {
                            self.fail("an event ignores the fixed encoding");
                        }
                    }
                    // The JSON decodes, and is a fixed point of the round trip.
                    let json = out.to_json();
                    let decoded = decode(json.as_bytes(), &relaxed()).unwrap_or_else(|e| {
                        self.fail(&format!("output does not decode: {e}\n{json}"))
                    });
                    if decoded.encoding != out.encoding
                        || encode(&decoded.event, &out.topic, out.encoding, out.dialect) != json
                    {
                        self.fail(&format!("output does not round-trip: {json}"));
                    }
                    self.on_event(out.channel, &out.topic, out.encoding, out.event);
                }
                Output::Supervisor(command) => {
                    if tracing() {
                        eprintln!(
                            "   command {}: {}",
                            command.id.0,
                            command.command.describe()
                        );
                    }
                    if self.host {
                        self.fail("a process supervisor command with a host Supervisor");
                    }
                    self.command(command.id, command.command);
                }
                Output::EnsureDirectory { node, path } => {
                    if !self.host || !path.ends_with(&format!("/nodes/{node}")) {
                        self.fail(&format!("unexpected directory {path} for {node}"));
                    }
                }
                Output::Log(record) => {
                    if record.message.is_empty() {
                        self.fail("an empty log line");
                    }
                }
                Output::NodeReady { node } => {
                    if tracing() {
                        eprintln!("   ready {node}");
                    }
                    if self.host {
                        self.fail("a readiness notice with a host Supervisor");
                    }
                    self.step_ready.push(node);
                }
            }
        }
    }

    /// What a Supervisor answer may do to a node: a failed create makes
    /// the node it created FAILED, a failed restart puts its node back in
    /// the state it had; both only if the node is still that process.
    fn allow(&mut self, report: &Report) {
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

    fn command(&mut self, id: CommandId, command: Command) {
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

    fn on_event(&mut self, channel: Channel, topic: &str, encoding: Encoding, event: Event) {
        let agent_topic = "zeek/management/agent/instance-1";
        match channel {
            Channel::Response => {
                if topic != agent_topic {
                    self.fail(&format!("a response on {topic}"));
                }
                let name = event.name();
                let Some(reqid) = event.reqid() else {
                    self.fail(&format!("a response without reqid: {event:?}"));
                };
                let Some(index) = self
                    .open
                    .iter()
                    .position(|o| o.reqid == reqid && o.request.response_name() == Some(name))
                else {
                    self.fail(&format!(
                        "{} for reqid {reqid}: no such request open (answered twice?)",
                        name.full()
                    ));
                };
                let open = self.open.remove(index);
                if self.outbound == OutChoice::Auto && encoding != open.encoding {
                    self.fail(&format!("{reqid} answered in another encoding"));
                }
                let results = event.results().unwrap_or_default();
                // No answer comes before the request's deadline unless the
                // request finished: a timeout answer before it is the timer
                // of another request (one answered early, its id reused).
                if self.now < open.deadline
                    && results
                        .iter()
                        .any(|r| r.error.as_deref() == Some("request timed out"))
                {
                    self.fail(&format!(
                        "{reqid} answered 'request timed out' at {}, before its deadline {}",
                        self.now, open.deadline
                    ));
                }
                // Only dispatches to nobody and restarts of nothing are
                // answered without results.
                if results.is_empty()
                    && !matches!(
                        name,
                        EventName::NodeDispatchResponse | EventName::RestartResponse
                    )
                {
                    self.fail(&format!("{} without results", name.full()));
                }
                // Dispatch results are the nodes' own, with the fan-out's id.
                if name != EventName::NodeDispatchResponse
                    && results.iter().any(|r| r.reqid != reqid)
                {
                    self.fail(&format!("a result of {reqid} names another request"));
                }
            }
            Channel::Notification => {
                if topic != agent_topic {
                    self.fail(&format!("a notification on {topic}"));
                }
                match &event {
                    Event::NotifyChange { node, old, new, .. } => {
                        if *new == State::Running {
                            self.step_running.push(node.name.clone());
                        }
                        // RUNNING only on a check-in (hello, readiness),
                        // CRASHED and FAILED only on a report about the
                        // current process, or back to one of them after a
                        // failed restart of that process.
                        if matches!(new, State::Running | State::Crashed | State::Failed)
                            && !self.may.contains(&(node.name.clone(), *new))
                        {
                            self.fail(&format!(
                                "{} became {} without a report about its current process",
                                node.name,
                                new.name()
                            ));
                        }
                        if old == new || node.state != *new {
                            self.fail(&format!(
                                "notify_change {} {} -> {} (node says {})",
                                node.name,
                                old.name(),
                                new.name(),
                                node.state.name()
                            ));
                        }
                    }
                    Event::NotifyAgentHello(_)
                    | Event::NotifyError { .. }
                    | Event::NotifyLog { .. } => {}
                    other => self.fail(&format!("notification {other:?}")),
                }
            }
            Channel::Publish => match event {
                Event::NodeApiDispatchRequest { reqid, nodes, .. } => {
                    if topic != NODE_TOPIC || nodes.is_empty() {
                        self.fail("a node dispatch fan-out on the wrong topic or to nobody");
                    }
                    self.fanouts.push((reqid, nodes.into_iter().collect()));
                }
                Event::NotifyNodeExit { .. } => {}
                Event::SupervisorCreateRequest { .. }
                | Event::SupervisorDestroyRequest { .. }
                | Event::SupervisorRestartRequest { .. }
                | Event::SupervisorStatusRequest { .. } => {
                    if !self.host || topic != host::SUPERVISOR_TOPIC {
                        self.fail("SupervisorControl traffic without a host Supervisor");
                    }
                    let Some(command) = host::command_from_event(ID_PREFIX, &event) else {
                        let reqid = event.reqid().unwrap_or_default();
                        self.fail(&format!("a Supervisor request id not ours: {reqid}"));
                    };
                    let (id, command) = (command.id, command.command);
                    self.command(id, command);
                }
                other => self.fail(&format!("published {other:?}")),
            },
        }
    }

    /// The invariants that hold after every step.
    fn check(&mut self, fired: bool) {
        let state = self.engine.state();
        let text = state.to_json();
        let json: J = serde_json::from_str(&text)
            .unwrap_or_else(|e| self.fail(&format!("state JSON does not parse: {e}")));
        for key in ["name", "dialect", "config_id", "nodes", "pending_requests"] {
            if json.get(key).is_none() {
                self.fail(&format!("state JSON without '{key}'"));
            }
        }
        if json["name"] != AGENT || json["dialect"] != self.dialect.name() {
            self.fail("state JSON name or dialect");
        }
        if !(json["config_id"].is_null() || json["config_id"].is_string()) {
            self.fail("state JSON config_id");
        }
        let mut names = BTreeSet::new();
        for node in json["nodes"].as_array().unwrap_or(&Vec::new()) {
            let name = node["name"].as_str().unwrap_or_default().to_owned();
            let known = node["state"]
                .as_str()
                .is_some_and(|s| State::ALL.iter().any(|v| v.name() == s));
            let role = node["role"]
                .as_str()
                .is_some_and(|s| ClusterRole::ALL.iter().any(|v| v.name() == s));
            if !known || !role || !names.insert(name.clone()) {
                self.fail(&format!(
                    "state JSON node {node}: unknown state or listed twice"
                ));
            }
        }
        if !json["nodes"].is_array() || !json["pending_requests"].is_array() {
            self.fail("state JSON nodes / pending_requests not arrays");
        }

        // The requests the engine holds are exactly those accepted and not
        // answered (none lost, none replaced by a request of the same id).
        let mut pending: Vec<(String, String)> = state
            .pending_requests
            .iter()
            .map(|r| (r.id.clone(), r.kind.to_owned()))
            .collect();
        let mut open: Vec<(String, String)> = self
            .open
            .iter()
            .filter_map(|o| state_kind(o.request).map(|k| (o.reqid.clone(), k.to_owned())))
            .collect();
        pending.sort();
        open.sort();
        if pending != open || self.open.iter().any(|o| state_kind(o.request).is_none()) {
            self.fail(&format!(
                "requests held {pending:?} != requests accepted and unanswered {open:?}"
            ));
        }

        // No timer lost: every pending request's deadline is covered by
        // poll_timeout, and once the host fired everything due nothing is
        // overdue.
        let poll = self.engine.poll_timeout();
        for r in &state.pending_requests {
            if !poll.is_some_and(|p| p.as_millis() <= r.deadline_ms) {
                self.fail(&format!(
                    "request {} due at {} but poll_timeout is {poll:?}",
                    r.id, r.deadline_ms
                ));
            }
            if fired && r.deadline_ms <= self.now.as_millis() {
                self.fail(&format!("request {} overdue after handle_timeout", r.id));
            }
        }
        if fired && poll.is_some_and(|p| p <= self.now) {
            self.fail(&format!(
                "poll_timeout {poll:?} still due at {} after handle_timeout",
                self.now
            ));
        }
    }

    /// Lets time run until no timer is left: every accepted request must
    /// then have had its one answer.
    fn drain(&mut self) {
        for _ in 0..1000 {
            let Some(at) = self.engine.poll_timeout() else {
                break;
            };
            self.now = self.now.max(at);
            let outputs = self.engine.handle_timeout(self.now);
            self.absorb(outputs);
            self.check(true);
        }
        if self.engine.poll_timeout().is_some() {
            self.fail("timers keep firing");
        }
        if !self.open.is_empty() || !self.engine.state().pending_requests.is_empty() {
            self.fail("requests never answered");
        }
    }
}

/// The configuration a spec describes.
pub fn build_config(spec: &ConfigSpec) -> Configuration {
    let mut instances = vec![Instance {
        name: AGENT.into(),
        host: "127.0.0.1".parse().expect("an address"),
        listen_port: spec.listen_port.then_some(Port::tcp(2151)),
    }];
    let mut nodes = Vec::new();
    for n in spec.nodes.iter().take(MAX_NODES) {
        let instance = match n.instance % 4 {
            0 | 1 => AGENT,
            2 => OTHER_INSTANCE,
            _ => "instance-9",
        };
        let role = match n.role {
            RoleChoice::None => ClusterRole::None,
            RoleChoice::Logger => ClusterRole::Logger,
            RoleChoice::Manager => ClusterRole::Manager,
            RoleChoice::Proxy => ClusterRole::Proxy,
            RoleChoice::Worker => ClusterRole::Worker,
        };
        let mut node = Node::new(node_name(n.name), instance, role);
        node.p = pick(&PORTS, n.port).map(Port::tcp);
        if n.metrics_port {
            node.metrics_port = Some(Port::tcp(9000 + u16::from(n.name % 8)));
        }
        node.scripts = match n.scripts % 4 {
            0 => None,
            1 => Some(vec!["site/local".into()]),
            2 => Some(vec!["-e".into()]),
            _ => Some(Vec::new()),
        };
        if role == ClusterRole::Worker {
            node.interface = Some("lo".into());
        }
        nodes.push(node);
    }
    if nodes.iter().any(|n| n.instance == OTHER_INSTANCE) {
        instances.push(Instance {
            name: OTHER_INSTANCE.into(),
            host: "10.0.0.2".parse().expect("an address"),
            listen_port: None,
        });
    }
    Configuration {
        id: format!("cfg-{}", spec.id % 3),
        instances,
        nodes,
    }
}

// ---- the raw fuzz input of a scenario ------------------------------------------

/// Writes the bytes `Arbitrary` (arbitrary 1.x, derived) reads back as a
/// given value: integers little-endian, `bool` as one byte, enum variants
/// as a `u32` scaled to the variant count, collections as a "one more"
/// byte before each element and a final 0 (none at the very end, where
/// `arbitrary_take_rest` reads until the input runs out). The fuzz target
/// checks the inverse on every scenario it writes as a seed.
struct Bytes(Vec<u8>);

impl Bytes {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }

    /// Variant `index` of `count`: the least `x` with `x * count >> 32 == index`.
    fn variant(&mut self, index: u64, count: u64) {
        let x = (index << 32).div_ceil(count);
        self.0
            .extend_from_slice(&u32::try_from(x).unwrap_or(u32::MAX).to_le_bytes());
    }

    fn choice<T: Copy + PartialEq>(&mut self, all: &[T], v: T) {
        let index = all.iter().position(|c| *c == v).unwrap_or(0);
        self.variant(index as u64, all.len() as u64);
    }

    fn seq<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Bytes, &T), terminated: bool) {
        for item in items {
            self.bool(true);
            each(self, item);
        }
        if terminated {
            self.bool(false);
        }
    }
}

const DIALECTS: [DialectChoice; 4] = [
    DialectChoice::Seed,
    DialectChoice::Zeek5,
    DialectChoice::Zeek6,
    DialectChoice::Zeek7,
];
const OUTS: [OutChoice; 3] = [OutChoice::Auto, OutChoice::Broker, OutChoice::Plain];
const INS: [InChoice; 3] = [InChoice::Broker, InChoice::Plain, InChoice::Alternate];
const ROLES: [RoleChoice; 5] = [
    RoleChoice::None,
    RoleChoice::Logger,
    RoleChoice::Manager,
    RoleChoice::Proxy,
    RoleChoice::Worker,
];
const OUTCOMES: [Outcome; 2] = [Outcome::Ok, Outcome::Fail];
const REPORTS: [ReportKind; 5] = [
    ReportKind::Spawned,
    ReportKind::Ready,
    ReportKind::Crashed,
    ReportKind::Failed,
    ReportKind::Output,
];
const ANSWERS: [AnswerKind; 4] = [
    AnswerKind::Created,
    AnswerKind::Destroyed,
    AnswerKind::Restarted,
    AnswerKind::Status,
];
/// The number of [`Op`] variants.
const OPS: u64 = 16;

impl Scenario {
    /// The raw fuzz input this scenario is parsed from (a seed for the
    /// fuzzer made from a saved scenario).
    pub fn to_fuzz_input(&self) -> Vec<u8> {
        let mut b = Bytes(Vec::new());
        let s = &self.setup;
        b.bool(s.host_supervisor);
        b.choice(&DIALECTS, s.dialect);
        b.choice(&OUTS, s.outbound);
        b.choice(&INS, s.inbound);
        b.u8(s.request_timeout);
        b.u8(s.stage_wait);
        b.u8(s.supervisor_timeout);
        b.seq(&self.ops, |b, op| op.write(b), false);
        b.0
    }
}

impl Op {
    fn write(&self, b: &mut Bytes) {
        let nums = |b: &mut Bytes, v: &[u8]| b.seq(v, |b, n| b.u8(*n), true);
        match self {
            Op::Deploy {
                reqid,
                config,
                force,
                set_configuration,
            } => {
                b.variant(0, OPS);
                b.u8(*reqid);
                b.u8(config.id);
                b.bool(config.listen_port);
                b.seq(
                    &config.nodes,
                    |b, n| {
                        b.u8(n.name);
                        b.choice(&ROLES, n.role);
                        b.u8(n.instance);
                        b.u8(n.port);
                        b.bool(n.metrics_port);
                        b.u8(n.scripts);
                    },
                    true,
                );
                b.bool(*force);
                b.bool(*set_configuration);
            }
            Op::GetNodes { reqid } => {
                b.variant(1, OPS);
                b.u8(*reqid);
            }
            Op::Dispatch { reqid, nodes } => {
                b.variant(2, OPS);
                b.u8(*reqid);
                nums(b, nodes);
            }
            Op::Restart { reqid, nodes } => {
                b.variant(3, OPS);
                b.u8(*reqid);
                nums(b, nodes);
            }
            Op::Welcome { reqid } => {
                b.variant(4, OPS);
                b.u8(*reqid);
            }
            Op::Standby { reqid } => {
                b.variant(5, OPS);
                b.u8(*reqid);
            }
            Op::Answer { which, outcome } => {
                b.variant(6, OPS);
                b.u8(*which);
                b.choice(&OUTCOMES, *outcome);
            }
            Op::Drop { which } => {
                b.variant(7, OPS);
                b.u8(*which);
            }
            Op::StaleAnswer {
                which,
                kind,
                outcome,
            } => {
                b.variant(8, OPS);
                b.u8(*which);
                b.choice(&ANSWERS, *kind);
                b.choice(&OUTCOMES, *outcome);
            }
            Op::Hello { node } => {
                b.variant(9, OPS);
                b.u8(*node);
            }
            Op::Report { node, kind } => {
                b.variant(10, OPS);
                b.u8(*node);
                b.choice(&REPORTS, *kind);
            }
            Op::DispatchAnswer {
                which,
                node,
                success,
            } => {
                b.variant(11, OPS);
                b.u8(*which);
                b.u8(*node);
                b.bool(*success);
            }
            Op::Peer { supervisor, lost } => {
                b.variant(12, OPS);
                b.bool(*supervisor);
                b.bool(*lost);
            }
            Op::Advance { ms, fire } => {
                b.variant(13, OPS);
                b.u16(*ms);
                b.bool(*fire);
            }
            Op::FireDue => b.variant(14, OPS),
            Op::Foreign { kind } => {
                b.variant(15, OPS);
                b.u8(*kind);
            }
        }
    }
}

// ---- the JSON form of scenarios ---------------------------------------------

fn field<'a>(v: &'a J, key: &str) -> Result<&'a J, String> {
    v.get(key).ok_or_else(|| format!("missing '{key}' in {v}"))
}

fn num(v: &J, key: &str) -> Result<u8, String> {
    field(v, key)?
        .as_u64()
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| format!("'{key}' must be 0..=255 in {v}"))
}

fn flag(v: &J, key: &str) -> Result<bool, String> {
    field(v, key)?
        .as_bool()
        .ok_or_else(|| format!("'{key}' must be a boolean in {v}"))
}

fn text<'a>(v: &'a J, key: &str) -> Result<&'a str, String> {
    field(v, key)?
        .as_str()
        .ok_or_else(|| format!("'{key}' must be a string in {v}"))
}

fn nums(v: &J, key: &str) -> Result<Vec<u8>, String> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| format!("'{key}' must be an array in {v}"))?
        .iter()
        .map(|n| {
            n.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| format!("'{key}' must hold 0..=255"))
        })
        .collect()
}

impl Scenario {
    /// The scenario as JSON (what tests/fuzz_regressions/engine_ops holds).
    pub fn to_json(&self) -> String {
        let s = &self.setup;
        let setup = json!({
            "host_supervisor": s.host_supervisor,
            "dialect": s.dialect.name(),
            "outbound": s.outbound.name(),
            "inbound": s.inbound.name(),
            "request_timeout": s.request_timeout,
            "stage_wait": s.stage_wait,
            "supervisor_timeout": s.supervisor_timeout,
        });
        let ops: Vec<J> = self.ops.iter().take(MAX_OPS).map(Op::to_json).collect();
        let mut out = String::from("{\n  \"setup\": ");
        out.push_str(&setup.to_string());
        out.push_str(",\n  \"ops\": [");
        for (i, op) in ops.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str(&op.to_string());
        }
        out.push_str("\n  ]\n}\n");
        out
    }

    pub fn from_json(text_: &str) -> Result<Scenario, String> {
        let v: J = serde_json::from_str(text_).map_err(|e| e.to_string())?;
        let s = field(&v, "setup")?;
        let setup = Setup {
            host_supervisor: flag(s, "host_supervisor")?,
            dialect: DialectChoice::parse(text(s, "dialect")?)?,
            outbound: OutChoice::parse(text(s, "outbound")?)?,
            inbound: InChoice::parse(text(s, "inbound")?)?,
            request_timeout: num(s, "request_timeout")?,
            stage_wait: num(s, "stage_wait")?,
            supervisor_timeout: num(s, "supervisor_timeout")?,
        };
        let ops = field(&v, "ops")?
            .as_array()
            .ok_or("'ops' must be an array")?
            .iter()
            .map(Op::from_json)
            .collect::<Result<_, _>>()?;
        Ok(Scenario { setup, ops })
    }
}

impl Op {
    fn to_json(&self) -> J {
        match self {
            Op::Deploy {
                reqid,
                config,
                force,
                set_configuration,
            } => json!({
                "op": "deploy", "reqid": reqid, "force": force,
                "set_configuration": set_configuration,
                "config": {
                    "id": config.id,
                    "listen_port": config.listen_port,
                    "nodes": config.nodes.iter().take(MAX_NODES).map(|n| json!({
                        "name": n.name, "role": n.role.name(), "instance": n.instance,
                        "port": n.port, "metrics_port": n.metrics_port, "scripts": n.scripts,
                    })).collect::<Vec<_>>(),
                },
            }),
            Op::GetNodes { reqid } => json!({"op": "get_nodes", "reqid": reqid}),
            Op::Dispatch { reqid, nodes } => {
                json!({"op": "dispatch", "reqid": reqid, "nodes": nodes.iter().take(4).collect::<Vec<_>>()})
            }
            Op::Restart { reqid, nodes } => {
                json!({"op": "restart", "reqid": reqid, "nodes": nodes.iter().take(4).collect::<Vec<_>>()})
            }
            Op::Welcome { reqid } => json!({"op": "welcome", "reqid": reqid}),
            Op::Standby { reqid } => json!({"op": "standby", "reqid": reqid}),
            Op::Answer { which, outcome } => {
                json!({"op": "answer", "which": which, "outcome": outcome.name()})
            }
            Op::Drop { which } => json!({"op": "drop", "which": which}),
            Op::StaleAnswer {
                which,
                kind,
                outcome,
            } => json!({
                "op": "stale_answer", "which": which, "kind": kind.name(), "outcome": outcome.name(),
            }),
            Op::Hello { node } => json!({"op": "hello", "node": node}),
            Op::Report { node, kind } => json!({"op": "report", "node": node, "kind": kind.name()}),
            Op::DispatchAnswer {
                which,
                node,
                success,
            } => json!({"op": "dispatch_answer", "which": which, "node": node, "success": success}),
            Op::Peer { supervisor, lost } => {
                json!({"op": "peer", "supervisor": supervisor, "lost": lost})
            }
            Op::Advance { ms, fire } => json!({"op": "advance", "ms": ms, "fire": fire}),
            Op::FireDue => json!({"op": "fire_due"}),
            Op::Foreign { kind } => json!({"op": "foreign", "kind": kind}),
        }
    }

    fn from_json(v: &J) -> Result<Op, String> {
        Ok(match text(v, "op")? {
            "deploy" => {
                let c = field(v, "config")?;
                let nodes = field(c, "nodes")?
                    .as_array()
                    .ok_or("'nodes' must be an array")?
                    .iter()
                    .map(|n| {
                        Ok(NodeSpec {
                            name: num(n, "name")?,
                            role: RoleChoice::parse(text(n, "role")?)?,
                            instance: num(n, "instance")?,
                            port: num(n, "port")?,
                            metrics_port: flag(n, "metrics_port")?,
                            scripts: num(n, "scripts")?,
                        })
                    })
                    .collect::<Result<_, String>>()?;
                Op::Deploy {
                    reqid: num(v, "reqid")?,
                    force: flag(v, "force")?,
                    set_configuration: flag(v, "set_configuration")?,
                    config: ConfigSpec {
                        id: num(c, "id")?,
                        listen_port: flag(c, "listen_port")?,
                        nodes,
                    },
                }
            }
            "get_nodes" => Op::GetNodes {
                reqid: num(v, "reqid")?,
            },
            "dispatch" => Op::Dispatch {
                reqid: num(v, "reqid")?,
                nodes: nums(v, "nodes")?,
            },
            "restart" => Op::Restart {
                reqid: num(v, "reqid")?,
                nodes: nums(v, "nodes")?,
            },
            "welcome" => Op::Welcome {
                reqid: num(v, "reqid")?,
            },
            "standby" => Op::Standby {
                reqid: num(v, "reqid")?,
            },
            "answer" => Op::Answer {
                which: num(v, "which")?,
                outcome: Outcome::parse(text(v, "outcome")?)?,
            },
            "drop" => Op::Drop {
                which: num(v, "which")?,
            },
            "stale_answer" => Op::StaleAnswer {
                which: num(v, "which")?,
                kind: AnswerKind::parse(text(v, "kind")?)?,
                outcome: Outcome::parse(text(v, "outcome")?)?,
            },
            "hello" => Op::Hello {
                node: num(v, "node")?,
            },
            "report" => Op::Report {
                node: num(v, "node")?,
                kind: ReportKind::parse(text(v, "kind")?)?,
            },
            "dispatch_answer" => Op::DispatchAnswer {
                which: num(v, "which")?,
                node: num(v, "node")?,
                success: flag(v, "success")?,
            },
            "peer" => Op::Peer {
                supervisor: flag(v, "supervisor")?,
                lost: flag(v, "lost")?,
            },
            "advance" => Op::Advance {
                ms: field(v, "ms")?
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or("'ms' must be 0..=65535")?,
                fire: flag(v, "fire")?,
            },
            "fire_due" => Op::FireDue,
            "foreign" => Op::Foreign {
                kind: num(v, "kind")?,
            },
            other => return Err(format!("unknown op '{other}'")),
        })
    }
}

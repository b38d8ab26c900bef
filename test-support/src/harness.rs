//! A virtual-clock harness for driving the engine through its public API,
//! in the manner of quinn-proto's test harness: explicit time, no sleeps.
//!
//! Every event goes in as JSON in the harness's encoding and every event
//! that comes out is encoded and decoded again, so the wire is exercised
//! on both paths in every test. A simulated Supervisor answers commands in
//! either mode (built-in process supervisor reports, or SupervisorControl
//! events for a host-delegated one).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::clock::{self, World};

use zeek_mgmt_agent::engine::{
    AgentConfig, Channel, EncodingChoice, Engine, Input, LogLevel, Output, SupervisorKind, Time,
};
use zeek_mgmt_agent::model::{
    ClusterRole, Configuration, EndpointInfo, Instance, Node, NodeConfig, NodeOutputs, Port,
    ResultRecord, SupervisorNodeStatus, SupervisorStatus,
};
use zeek_mgmt_agent::supervisor::{host, Command, CommandId, Report};
use zeek_mgmt_agent::wire::{decode, encode, Dialect, Encoding, Event, EventRole, Limits};

pub const AGENT: &str = "instance-1";
pub const AGENT_TOPIC: &str = "zeek/management/agent/instance-1";
pub const STATE_DIR: &str = "/var/lib/zeek-agent";
pub const SUPERVISOR_ADDR: &str = "127.0.0.1";
pub const SUPERVISOR_PORT: u16 = 9999;

/// Which Supervisor the agent uses in a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sup {
    Process,
    Host,
}

/// Every combination the behaviour tests run in.
pub fn variants() -> Vec<(Dialect, Encoding, Sup)> {
    let mut all = Vec::new();
    for dialect in Dialect::ALL {
        for encoding in [Encoding::Broker, Encoding::Plain] {
            for sup in [Sup::Process, Sup::Host] {
                all.push((dialect, encoding, sup));
            }
        }
    }
    all
}

/// An event the agent emitted, decoded back from its JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    pub channel: Channel,
    pub topic: String,
    pub encoding: Encoding,
    pub json: String,
    pub event: Event,
}

/// A supervisor command waiting for an answer, in either mode.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedCommand {
    pub id: CommandId,
    pub command: Command,
}

/// A simulated Supervisor: a process table and failure switches.
#[derive(Default)]
pub struct SimSupervisor {
    pub procs: BTreeMap<String, SupervisorNodeStatus>,
    next_pid: i64,
    pub fail_create: BTreeMap<String, String>,
    pub fail_destroy: BTreeSet<String>,
    pub fail_restart: BTreeSet<String>,
    /// Management processes listed by status (env ZEEK_MANAGEMENT_NODE).
    pub management: BTreeMap<String, String>,
    pub creates: Vec<NodeConfig>,
    pub destroys: Vec<String>,
    pub restarts: Vec<String>,
    /// A Supervisor that answers nothing: the commands it takes are lost
    /// (and the agent's command deadlines run out).
    pub silent: bool,
}

impl SimSupervisor {
    fn answer(&mut self, command: &QueuedCommand) -> Report {
        let id = command.id;
        match &command.command {
            Command::Create(config) => {
                let config = config.as_ref();
                self.creates.push(config.clone());
                if let Some(error) = self.fail_create.get(&config.name) {
                    return Report::Created {
                        id,
                        error: Some(error.clone()),
                    };
                }
                self.next_pid += 1;
                self.procs.insert(
                    config.name.clone(),
                    SupervisorNodeStatus {
                        node: config.clone(),
                        pid: Some(1000 + self.next_pid),
                    },
                );
                Report::Created { id, error: None }
            }
            Command::Destroy { node } => {
                self.destroys.push(node.clone());
                let ok = !self.fail_destroy.contains(node);
                if ok {
                    self.procs.remove(node);
                }
                Report::Destroyed { id, ok }
            }
            Command::Restart { node } => {
                self.restarts.push(node.clone());
                let ok = self.procs.contains_key(node) && !self.fail_restart.contains(node);
                if ok {
                    self.next_pid += 1;
                    if let Some(p) = self.procs.get_mut(node) {
                        p.pid = Some(1000 + self.next_pid);
                    }
                }
                Report::Restarted { id, ok }
            }
            Command::Status { .. } => {
                let mut status = SupervisorStatus {
                    nodes: self.procs.clone(),
                };
                for (name, role) in &self.management {
                    let mut node = NodeConfig::new(name);
                    node.env.insert("ZEEK_MANAGEMENT_NODE".into(), role.clone());
                    status.nodes.insert(
                        name.clone(),
                        SupervisorNodeStatus {
                            node,
                            pid: Some(42),
                        },
                    );
                }
                Report::Status { id, status }
            }
        }
    }
}

pub struct Harness {
    pub engine: Engine,
    pub now: Time,
    pub encoding: Encoding,
    pub dialect: Dialect,
    pub sup: Sup,
    pub supervisor: SimSupervisor,
    /// Commands the agent sent that the supervisor has not answered yet.
    pub queue: VecDeque<QueuedCommand>,
    /// Node dispatch fan-outs the agent published.
    pub node_requests: Vec<Event>,
    /// Directories the agent asked for (host mode).
    pub directories: Vec<String>,
    /// Everything the agent sent, in order.
    pub sent: Vec<Sent>,
    pub logs: Vec<(LogLevel, String)>,
    /// Nodes the engine told the process supervisor are ready
    /// (`Output::NodeReady`), in order.
    pub ready: Vec<String>,
}

pub fn agent_config(dialect: Dialect, sup: Sup) -> AgentConfig {
    let mut cfg = AgentConfig::new(AGENT);
    cfg.dialect = dialect;
    cfg.state_dir = STATE_DIR.into();
    cfg.broker_id = "agent-broker-id".into();
    cfg.id_prefix = "zma-test-".into();
    cfg.supervisor = match sup {
        Sup::Process => SupervisorKind::Process,
        Sup::Host => SupervisorKind::Host {
            address: SUPERVISOR_ADDR.into(),
            port: SUPERVISOR_PORT,
        },
    };
    cfg
}

impl Harness {
    pub fn new(dialect: Dialect, encoding: Encoding, sup: Sup) -> Harness {
        Harness::with_config(agent_config(dialect, sup), encoding)
    }

    pub fn with_config(cfg: AgentConfig, encoding: Encoding) -> Harness {
        let sup = match cfg.supervisor {
            SupervisorKind::Process => Sup::Process,
            SupervisorKind::Host { .. } => Sup::Host,
        };
        Harness {
            dialect: cfg.dialect,
            engine: Engine::new(cfg),
            now: Time::ZERO,
            encoding,
            sup,
            supervisor: SimSupervisor::default(),
            queue: VecDeque::new(),
            node_requests: Vec::new(),
            directories: Vec::new(),
            sent: Vec::new(),
            logs: Vec::new(),
            ready: Vec::new(),
        }
    }

    pub fn label(&self) -> String {
        format!("{}/{}/{:?}", self.dialect, self.encoding.name(), self.sup)
    }

    /// Sends an event as JSON in the harness encoding; returns what the
    /// agent sent in reply.
    pub fn send(&mut self, event: Event) -> Vec<Sent> {
        let topic = AGENT_TOPIC;
        let json = encode(&event, topic, self.encoding, self.dialect);
        let outputs = self
            .engine
            .handle_json(self.now, json.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| {
                panic!(
                    "[{}] agent refused {}: {e}",
                    self.label(),
                    event.name().full()
                )
            });
        self.absorb(outputs)
    }

    /// Sends raw JSON; returns the refusal or what the agent sent.
    pub fn send_json(
        &mut self,
        json: &str,
    ) -> Result<Vec<Sent>, zeek_mgmt_agent::engine::AgentError> {
        let outputs = self
            .engine
            .handle_json(self.now, json.as_bytes(), &Limits::default())?;
        Ok(self.absorb(outputs))
    }

    /// Runs the simulated world until nothing is due ([`clock::drive`]):
    /// the Supervisor answers every queued command (and those its answers
    /// cause), then the clock moves to the engine's next wakeup and fires
    /// what is due there, and again, until no command is queued and the
    /// engine has no timer. Returns what the agent sent meanwhile. Panics
    /// if timers still fire after [`MAX_WAKEUPS`] wakeups.
    pub fn drive(&mut self) -> Vec<Sent> {
        let before = self.sent.len();
        if let Err(busy) = clock::drive(self, MAX_WAKEUPS) {
            panic!(
                "[{}] still busy after {MAX_WAKEUPS} wakeups (now {} ms, next {} ms)",
                self.label(),
                self.now.as_millis(),
                busy.next.as_millis()
            );
        }
        self.sent[before..].to_vec()
    }

    /// Moves the clock forward and fires due timers.
    pub fn advance(&mut self, ms: u64) -> Vec<Sent> {
        self.now = self.now.plus_millis(ms);
        let outputs = self.engine.handle_timeout(self.now);
        self.absorb(outputs)
    }

    /// Moves the clock to an absolute time.
    pub fn advance_to(&mut self, at: u64) -> Vec<Sent> {
        self.now = Time::from_millis(at);
        let outputs = self.engine.handle_timeout(self.now);
        self.absorb(outputs)
    }

    /// No timer outlives what it is for: with no request in flight and no
    /// supervisor command waiting for its answer, the engine has no
    /// deadline (`poll_timeout` None, `zma_agent_next_timeout_ms` -1).
    /// Checked after every step of every harness test.
    pub fn assert_no_stray_timer(&self) {
        let state = self.engine.state();
        if state.pending_requests.is_empty() && state.supervisor_commands_pending == 0 {
            assert_eq!(
                self.engine.poll_timeout(),
                None,
                "[{}] a timer outlives every request and command (now {} ms)",
                self.label(),
                self.now.as_millis()
            );
        }
    }

    fn absorb(&mut self, outputs: Vec<Output>) -> Vec<Sent> {
        self.assert_no_stray_timer();
        let mut sent = Vec::new();
        for output in outputs {
            match output {
                Output::Event(out) => {
                    let json = out.to_json();
                    let decoded = decode(json.as_bytes(), &Limits::default()).unwrap_or_else(|e| {
                        panic!(
                            "[{}] agent output does not decode: {e}\n{json}",
                            self.label()
                        )
                    });
                    assert_eq!(decoded.encoding, out.encoding);
                    assert_eq!(
                        decoded.event,
                        normalize(&out.event, self.dialect),
                        "[{}] round trip",
                        self.label()
                    );
                    let s = Sent {
                        channel: out.channel,
                        topic: out.topic.clone(),
                        encoding: out.encoding,
                        json,
                        event: decoded.event,
                    };
                    match s.event.role() {
                        EventRole::SupervisorRequest => {
                            assert_eq!(
                                self.sup,
                                Sup::Host,
                                "SupervisorControl events only in host mode"
                            );
                            assert_eq!(s.topic, host::SUPERVISOR_TOPIC);
                            let command = host::command_from_event("zma-test-", &s.event)
                                .expect("our own id");
                            self.queue.push_back(QueuedCommand {
                                id: command.id,
                                command: command.command,
                            });
                        }
                        EventRole::NodeRequest => self.node_requests.push(s.event.clone()),
                        _ => {}
                    }
                    self.sent.push(s.clone());
                    sent.push(s);
                }
                Output::Supervisor(command) => {
                    assert_eq!(
                        self.sup,
                        Sup::Process,
                        "supervisor commands only in process mode"
                    );
                    self.queue.push_back(QueuedCommand {
                        id: command.id,
                        command: command.command,
                    });
                }
                Output::EnsureDirectory { path, .. } => {
                    assert_eq!(self.sup, Sup::Host);
                    self.directories.push(path);
                }
                Output::Log(record) => self.logs.push((record.level, record.message)),
                Output::NodeReady { node } => {
                    assert_eq!(
                        self.sup,
                        Sup::Process,
                        "readiness notices only in process mode"
                    );
                    self.ready.push(node);
                }
            }
        }
        sent
    }

    /// Delivers one supervisor answer (as a report or a SupervisorControl
    /// event, depending on the mode).
    pub fn deliver(&mut self, report: Report) -> Vec<Sent> {
        match self.sup {
            Sup::Process => {
                let outputs = self
                    .engine
                    .handle(self.now, Input::Report(report))
                    .expect("reports are never refused");
                self.absorb(outputs)
            }
            Sup::Host => {
                let event = host::event_from_report("zma-test-", report.clone())
                    .unwrap_or_else(|| panic!("a Zeek Supervisor cannot report {report:?}"));
                self.send(event)
            }
        }
    }

    /// Lets the simulated Supervisor answer every queued command, including
    /// those its answers cause, until nothing is left.
    pub fn run_supervisor(&mut self) -> Vec<Sent> {
        let before = self.sent.len();
        while self.act() {}
        self.sent[before..].to_vec()
    }

    /// Answers only the first queued command.
    pub fn run_one_command(&mut self) -> Vec<Sent> {
        let command = self.queue.pop_front().expect("a queued command");
        let report = self.supervisor.answer(&command);
        self.deliver(report)
    }

    /// The Supervisor peers with the agent (host mode: its address and
    /// port), which lets Zeek >= 5.0 hellos out.
    pub fn supervisor_peers(&mut self) -> Vec<Sent> {
        self.send(peer_added(
            "supervisor-id",
            SUPERVISOR_ADDR,
            SUPERVISOR_PORT,
        ))
    }

    pub fn hello(&mut self, node: &str) -> Vec<Sent> {
        self.send(Event::NotifyNodeHello { node: node.into() })
    }

    /// Deploys `config` (set_configuration in seed, deploy otherwise), lets
    /// the Supervisor start everything and every local node check in.
    /// Returns the response.
    pub fn deploy_all(&mut self, reqid: &str, config: &Configuration) -> Event {
        self.send(deploy_event(self.dialect, reqid, config, false));
        self.settle(config);
        let response = self
            .response(reqid)
            .unwrap_or_else(|| panic!("[{}] no deploy answer", self.label()));
        response.event
    }

    /// Runs the Supervisor and checks in local nodes, stage by stage, until
    /// no command is left.
    pub fn settle(&mut self, config: &Configuration) {
        for _ in 0..8 {
            self.run_supervisor();
            let started: Vec<String> = self.supervisor.procs.keys().cloned().collect();
            for node in config
                .nodes
                .iter()
                .filter(|n| n.instance == AGENT && started.contains(&n.name))
            {
                let state = self
                    .engine
                    .state()
                    .nodes
                    .into_iter()
                    .find(|s| s.name == node.name)
                    .map(|s| s.state);
                if state == Some(zeek_mgmt_agent::model::State::Pending) {
                    self.hello(&node.name);
                }
            }
            if self.queue.is_empty() {
                break;
            }
        }
    }

    /// The response (to the controller) with this reqid, if one was sent.
    pub fn response(&self, reqid: &str) -> Option<Sent> {
        let mut found = self
            .sent
            .iter()
            .filter(|s| s.channel == Channel::Response && s.event.reqid() == Some(reqid));
        let first = found.next().cloned();
        assert!(
            found.next().is_none(),
            "[{}] two responses to {reqid}",
            self.label()
        );
        first
    }

    pub fn responses(&self) -> Vec<&Sent> {
        self.sent
            .iter()
            .filter(|s| s.channel == Channel::Response)
            .collect()
    }

    pub fn notifications(&self) -> Vec<&Event> {
        self.sent
            .iter()
            .filter(|s| s.channel == Channel::Notification)
            .map(|s| &s.event)
            .collect()
    }

    /// `(node, old, new)` of every notify_change so far.
    pub fn changes(&self) -> Vec<(String, String, String)> {
        use zeek_mgmt_agent::model::ZeekEnum;
        self.notifications()
            .into_iter()
            .filter_map(|e| match e {
                Event::NotifyChange { node, old, new, .. } => {
                    assert_eq!(node.state, *new, "n carries the new state");
                    Some((
                        node.name.clone(),
                        old.name().to_owned(),
                        new.name().to_owned(),
                    ))
                }
                _ => None,
            })
            .collect()
    }

    pub fn clear_sent(&mut self) {
        self.sent.clear();
    }
}

/// What a decoded event looks like after the round trip in `dialect`:
/// fields a layout lacks are lost, `seed` results gain `""` defaults.
/// The most wakeups [`Harness::drive`] fires before it calls the engine
/// busy for ever.
pub const MAX_WAKEUPS: usize = 1000;

/// The harness as the clock driver sees it: the Supervisor acts on its
/// queue one command at a time; timers fire through `handle_timeout`.
impl World for Harness {
    fn next_wakeup(&self) -> Option<Time> {
        self.engine.poll_timeout()
    }

    fn act(&mut self) -> bool {
        let Some(command) = self.queue.pop_front() else {
            return false;
        };
        if !self.supervisor.silent {
            let report = self.supervisor.answer(&command);
            self.deliver(report);
        }
        true
    }

    fn fire(&mut self, at: Time) {
        self.now = self.now.max(at);
        let outputs = self.engine.handle_timeout(self.now);
        self.absorb(outputs);
    }
}

pub fn normalize(event: &Event, dialect: Dialect) -> Event {
    let bytes = encode(event, "t", Encoding::Broker, dialect);
    decode(bytes.as_bytes(), &Limits::default())
        .expect("own encoding decodes")
        .event
}

/// The results of a vector-valued response.
pub fn results(event: &Event) -> &[ResultRecord] {
    assert!(
        !matches!(
            event,
            Event::GetNodesResponse { .. }
                | Event::AgentWelcomeResponse { .. }
                | Event::AgentStandbyResponse { .. }
        ),
        "not a vector response: {event:?}"
    );
    event
        .results()
        .unwrap_or_else(|| panic!("not a response: {event:?}"))
}

/// The single result of a response.
pub fn result(event: &Event) -> &ResultRecord {
    match event.results() {
        Some([one]) => one,
        _ => panic!("not a single-result response: {event:?}"),
    }
}

/// `(node, success, error)` of each result, for compact assertions.
pub fn summary(results: &[ResultRecord]) -> Vec<(Option<String>, bool, Option<String>)> {
    results
        .iter()
        .map(|r| {
            (
                r.node.clone(),
                r.success,
                r.error.clone().filter(|e| !e.is_empty()),
            )
        })
        .collect()
}

/// The deploy request of the dialect.
pub fn deploy_event(dialect: Dialect, reqid: &str, config: &Configuration, force: bool) -> Event {
    if dialect == Dialect::Seed {
        Event::SetConfigurationRequest {
            reqid: reqid.into(),
            config: config.clone(),
        }
    } else {
        Event::DeployRequest {
            reqid: reqid.into(),
            config: config.clone(),
            force,
        }
    }
}

pub fn peer_added(id: &str, address: &str, port: u16) -> Event {
    Event::PeerAdded {
        endpoint: EndpointInfo::at(id, address, port),
        msg: "handshake successful".into(),
    }
}

pub fn instance(name: &str, host: &str, port: Option<u16>) -> Instance {
    Instance {
        name: name.into(),
        host: host.parse().unwrap(),
        listen_port: port.map(Port::tcp),
    }
}

pub fn node(name: &str, instance: &str, role: ClusterRole, port: Option<u16>) -> Node {
    let mut n = Node::new(name, instance, role);
    n.p = port.map(Port::tcp);
    n
}

/// The mini fixture's cluster: logger, manager, two workers on this agent.
pub fn mini(id: &str) -> Configuration {
    let mut w1 = node("worker-01", AGENT, ClusterRole::Worker, None);
    w1.interface = Some("lo".into());
    let mut w2 = node("worker-02", AGENT, ClusterRole::Worker, None);
    w2.interface = Some("lo".into());
    Configuration {
        id: id.into(),
        instances: vec![instance(AGENT, "127.0.0.1", Some(2151))],
        nodes: vec![
            node("logger-01", AGENT, ClusterRole::Logger, Some(5001)),
            node("manager", AGENT, ClusterRole::Manager, Some(5000)),
            w1,
            w2,
        ],
    }
}

pub fn outputs(stdout: &str, stderr: &str) -> NodeOutputs {
    NodeOutputs {
        stdout: stdout.into(),
        stderr: stderr.into(),
    }
}

pub fn fixed_encoding(cfg: &mut AgentConfig, choice: EncodingChoice) {
    cfg.encoding = choice;
}

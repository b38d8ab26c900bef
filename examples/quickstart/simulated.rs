//! The simulated session (`--simulated`): the engine alone, with this
//! program playing the controller, a Zeek Supervisor (answering its
//! `SupervisorControl` events) and the cluster nodes (checking in and
//! answering a dispatched `get_id_value`). Everything crosses the wire as
//! JSON, exactly as a real host would pass it. Time is simulated. CI runs it
//! in every dialect and encoding and checks the transcript with zeek-client.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::{print_event, Options};
use std::fs::File;
use std::io::Write;

use zeek_mgmt_agent::engine::{Channel, Output};
use zeek_mgmt_agent::model::{
    EndpointInfo, NodeConfig, ResultData, ResultRecord, State, SupervisorNodeStatus,
    SupervisorStatus, ZeekEnum,
};
use zeek_mgmt_agent::supervisor::{host, Command, Report};
use zeek_mgmt_agent::wire::{decode_configuration, encode};
use zeek_mgmt_agent::{
    AgentConfig, Dialect, Encoding, Engine, Event, Limits, SupervisorKind, Time,
};

const AGENT: &str = "instance-1";
const SUPERVISOR: (&str, u16) = ("127.0.0.1", 9999);
/// The agent's id prefix: its Supervisor request ids are `agent-<n>`.
const ID_PREFIX: &str = "agent-";

/// The cluster, as a controller would send it (plain JSON, zeek-client's
/// field names).
const CLUSTER: &str = r#"{
  "id": "quickstart-cluster",
  "instances": [{"name": "instance-1", "host": "127.0.0.1", "listen_port": "2151/tcp"}],
  "nodes": [
    {"name": "logger-01", "instance": "instance-1", "role": "LOGGER", "port": 5001},
    {"name": "manager", "instance": "instance-1", "role": "MANAGER", "port": 5000},
    {"name": "worker-01", "instance": "instance-1", "role": "WORKER", "interface": "lo"},
    {"name": "worker-02", "instance": "instance-1", "role": "WORKER", "interface": "lo"}
  ]
}"#;

/// The demo's stand-ins for the controller, the Supervisor and the nodes.
struct Session {
    agent: Engine,
    options: Options,
    now: u64,
    transcript: Option<File>,
    /// The simulated Supervisor's processes.
    processes: BTreeMap<String, SupervisorNodeStatus>,
    next_pid: i64,
    /// Events the agent published that the Supervisor or nodes must answer.
    to_supervisor: VecDeque<Event>,
    to_nodes: VecDeque<Event>,
    /// Nodes started but not yet checked in.
    starting: VecDeque<String>,
    responses: Vec<Event>,
}

impl Session {
    fn new(options: Options) -> Result<Session, String> {
        let mut config = AgentConfig::new(AGENT);
        config.dialect = options.dialect;
        config.state_dir = "/var/lib/zeek-agent".into();
        config.broker_id = "quickstart-agent".into();
        config.id_prefix = ID_PREFIX.into();
        config.supervisor = SupervisorKind::Host {
            address: SUPERVISOR.0.into(),
            port: SUPERVISOR.1,
        };
        let transcript = match &options.transcript {
            Some(path) => Some(File::create(path).map_err(|e| format!("{path}: {e}"))?),
            None => None,
        };
        Ok(Session {
            agent: Engine::new(config),
            options,
            now: 0,
            transcript,
            processes: BTreeMap::new(),
            next_pid: 4000,
            to_supervisor: VecDeque::new(),
            to_nodes: VecDeque::new(),
            starting: VecDeque::new(),
            responses: Vec::new(),
        })
    }

    fn say(&self, text: &str) {
        println!("\n# {text}");
    }

    /// Hands one event to the agent as JSON, from `who`.
    fn send(&mut self, who: &str, event: Event) -> Result<(), String> {
        self.now += 5;
        self.print(who, "agent", &event);
        let json = encode(
            &event,
            &format!("zeek/management/agent/{AGENT}"),
            self.options.encoding,
            self.options.dialect,
        );
        let outputs = self
            .agent
            .handle_json(
                Time::from_millis(self.now),
                json.as_bytes(),
                &Limits::default(),
            )
            .map_err(|e| format!("the agent refused {}: {e}", event.name().full()))?;
        self.carry_out(outputs)
    }

    fn carry_out(&mut self, outputs: Vec<Output>) -> Result<(), String> {
        for output in outputs {
            match output {
                Output::Event(out) => {
                    let json = out.to_json();
                    if let Some(file) = &mut self.transcript {
                        writeln!(file, "{json}").map_err(|e| e.to_string())?;
                    }
                    let to = match (out.channel, out.topic.as_str()) {
                        (Channel::Response | Channel::Notification, _) => "controller",
                        (Channel::Publish, "zeek/supervisor") => "Supervisor",
                        (Channel::Publish, _) => "nodes",
                    };
                    self.print("agent", to, &out.event);
                    match to {
                        "Supervisor" => self.to_supervisor.push_back(out.event),
                        "nodes" => self.to_nodes.push_back(out.event),
                        _ if out.channel == Channel::Response => self.responses.push(out.event),
                        _ => {}
                    }
                }
                Output::EnsureDirectory { path, .. } => {
                    println!(
                        "{:>7}  host: mkdir -p {path}   (a real host creates it; skipped here)",
                        ""
                    );
                }
                Output::Log(record) if self.options.verbose => {
                    println!("{:>7}  log {}: {}", "", record.level.name(), record.message);
                }
                Output::Log(_) => {}
                Output::Supervisor(command) => {
                    return Err(format!("unexpected process command {command:?}"))
                }
                Output::NodeReady { node } => {
                    return Err(format!("unexpected process readiness notice for {node}"))
                }
            }
        }
        Ok(())
    }

    /// The Supervisor answers everything it was asked; started nodes check
    /// in; nodes answer dispatches. Repeats until nobody has anything left.
    fn run_cluster(&mut self) -> Result<(), String> {
        loop {
            if let Some(request) = self.to_supervisor.pop_front() {
                let response = self.supervise(request)?;
                self.send("Supervisor", response)?;
            } else if let Some(node) = self.starting.pop_front() {
                self.send(&node.clone(), Event::NotifyNodeHello { node })?;
            } else if let Some(dispatch) = self.to_nodes.pop_front() {
                let Event::NodeApiDispatchRequest {
                    reqid,
                    action,
                    nodes,
                } = dispatch
                else {
                    continue;
                };
                for node in nodes {
                    let mut result = ResultRecord::success(&reqid, "");
                    result.instance = None;
                    result.node = Some(node.clone());
                    if action.first().map(String::as_str) == Some("get_id_value") {
                        // What Zeek's to_json(Cluster::node) gives.
                        result.data = Some(ResultData::String(format!("\"{node}\"")));
                    }
                    self.send(
                        &node,
                        Event::NodeApiDispatchResponse {
                            reqid: reqid.clone(),
                            result,
                        },
                    )?;
                }
            } else {
                return Ok(());
            }
        }
    }

    /// A Zeek Supervisor, in a few lines: the command a request carries,
    /// carried out, answered with the event of its report.
    fn supervise(&mut self, request: Event) -> Result<Event, String> {
        let command = host::command_from_event(ID_PREFIX, &request)
            .ok_or_else(|| format!("the Supervisor got {}", request.name().full()))?;
        let id = command.id;
        let report = match command.command {
            Command::Status { .. } => Report::Status {
                id,
                status: SupervisorStatus {
                    nodes: self.processes.clone(),
                },
            },
            Command::Create(node) => {
                self.start(*node);
                Report::Created { id, error: None }
            }
            Command::Destroy { node } => Report::Destroyed {
                id,
                ok: self.processes.remove(&node).is_some(),
            },
            Command::Restart { node } => {
                let config = self.processes.get(&node).map(|p| p.node.clone());
                let ok = config.is_some();
                if let Some(config) = config {
                    self.start(config);
                }
                Report::Restarted { id, ok }
            }
        };
        host::event_from_report(ID_PREFIX, report)
            .ok_or_else(|| "the Supervisor has no event for its answer".to_owned())
    }

    fn start(&mut self, node: NodeConfig) {
        self.next_pid += 1;
        self.starting.push_back(node.name.clone());
        self.processes.insert(
            node.name.clone(),
            SupervisorNodeStatus {
                node,
                pid: Some(self.next_pid),
            },
        );
    }

    fn print(&self, from: &str, to: &str, event: &Event) {
        let plain = encode(event, "", Encoding::Plain, self.options.dialect);
        print_event(self.now, from, to, &plain);
    }

    fn response(&self, reqid: &str) -> Result<&Event, String> {
        self.responses
            .iter()
            .find(|e| e.reqid() == Some(reqid))
            .ok_or(format!("no response to {reqid}"))
    }
}

/// The results of a response, or none.
fn results(event: &Event) -> &[ResultRecord] {
    event.results().unwrap_or_default()
}

fn expect(what: &str, ok: bool) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}"))
    }
}

fn peer(id: &str, address: &str, port: u16) -> Event {
    Event::PeerAdded {
        endpoint: EndpointInfo::at(id, address, port),
        msg: "handshake successful".into(),
    }
}

pub fn run(options: Options) -> Result<(), String> {
    let dialect = options.dialect;
    println!(
        "zeek-mgmt-agent quickstart: agent '{AGENT}' (dialect {dialect}, {} encoding) with a host-delegated \
         Zeek Supervisor,\nplayed here together with the controller and the nodes. Time is simulated.",
        options.encoding.name()
    );
    let mut s = Session::new(options)?;
    let config =
        decode_configuration(CLUSTER.as_bytes(), &Limits::default()).map_err(|e| e.to_string())?;

    s.say("Peerings: the Supervisor first (Zeek >= 5.0 holds the hello until then), then the controller.");
    s.send("Broker", peer("supervisor", SUPERVISOR.0, SUPERVISOR.1))?;
    s.send("Broker", peer("controller", "127.0.0.1", 2150))?;
    s.send(
        "controller",
        Event::AgentWelcomeRequest {
            reqid: "req-welcome".into(),
        },
    )?;

    s.say("Deploy a four-node cluster: teardown first, then loggers -> manager -> workers, each checking in.");
    let deploy = if dialect == Dialect::Seed {
        Event::SetConfigurationRequest {
            reqid: "req-deploy".into(),
            config,
        }
    } else {
        Event::DeployRequest {
            reqid: "req-deploy".into(),
            config,
            force: false,
        }
    };
    s.send("controller", deploy)?;
    s.run_cluster()?;
    let deployed = results(s.response("req-deploy")?);
    expect(
        "four nodes deployed",
        deployed.len() == 4 && deployed.iter().all(|r| r.success),
    )?;

    s.say("get_nodes: the Supervisor's status in the management framework's terms.");
    s.send(
        "controller",
        Event::GetNodesRequest {
            reqid: "req-nodes".into(),
        },
    )?;
    s.run_cluster()?;
    let statuses = match &results(s.response("req-nodes")?)[0].data {
        Some(ResultData::NodeStatuses(statuses)) => statuses.clone(),
        _ => Vec::new(),
    };
    println!(
        "\n    {:<10} {:<8} {:<8} {:>6} {:>9}",
        "node", "role", "state", "pid", "port"
    );
    for n in &statuses {
        let port = n.p.map(|p| p.to_string()).unwrap_or_default();
        let pid = n.pid.map(|p| p.to_string()).unwrap_or_default();
        println!(
            "    {:<10} {:<8} {:<8} {:>6} {:>9}",
            n.node,
            n.cluster_role.name(),
            n.state.name(),
            pid,
            port
        );
    }
    expect(
        "four nodes running",
        statuses.len() == 4 && statuses.iter().all(|n| n.state == State::Running),
    )?;

    s.say("A dispatch: get_id_value Cluster::node, relayed to every node, answers gathered.");
    s.send(
        "controller",
        Event::NodeDispatchRequest {
            reqid: "req-dispatch".into(),
            action: vec!["get_id_value".into(), "Cluster::node".into()],
            nodes: BTreeSet::new(),
        },
    )?;
    s.run_cluster()?;
    let answers = results(s.response("req-dispatch")?);
    expect(
        "every node answered the dispatch",
        answers.len() == 4 && answers.iter().all(|r| r.success),
    )?;

    s.say("Restart worker-01: PENDING until it checks in again.");
    s.send(
        "controller",
        Event::RestartRequest {
            reqid: "req-restart".into(),
            nodes: ["worker-01".to_owned()].into(),
        },
    )?;
    s.run_cluster()?;
    let restarted = results(s.response("req-restart")?);
    expect(
        "worker-01 restarted",
        restarted.len() == 1 && restarted[0].success,
    )?;

    s.say("Standby: every node is stopped, then the agent answers.");
    s.send(
        "controller",
        Event::AgentStandbyRequest {
            reqid: "req-standby".into(),
        },
    )?;
    s.run_cluster()?;
    expect(
        "standby answered",
        results(s.response("req-standby")?)[0].success,
    )?;
    expect("no node left", s.processes.is_empty())?;

    let state = s.agent.state();
    println!("\n# The agent's state now: {}", state.to_json());
    println!(
        "\nDone: {} responses, every request answered exactly once, {} simulated ms.",
        s.responses.len(),
        s.now
    );
    expect(
        "one response per request",
        s.responses.len() == 6
            && s.responses
                .iter()
                .map(Event::reqid)
                .collect::<BTreeSet<_>>()
                .len()
                == 6,
    )
}

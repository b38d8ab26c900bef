//! The scenario: an engine setup and the operations run against it, the
//! tables operations pick their values from, and the configurations they
//! deploy ([`build_config`]).

use zeek_mgmt_agent::model::{ClusterRole, Configuration, Instance, Node, Port};

pub const AGENT: &str = "instance-1";
pub(super) const OTHER_INSTANCE: &str = "instance-2";
pub(super) const ID_PREFIX: &str = "zma-fuzz-";
pub(super) const SUPERVISOR_ADDR: &str = "127.0.0.1";
pub(super) const SUPERVISOR_PORT: u16 = 9999;
pub(super) const NODE_TOPIC: &str = "zeek/management/node";

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
pub(super) const PORTS: [Option<u16>; 6] = [
    None,
    Some(5000),
    Some(5001),
    Some(5002),
    Some(2151),
    Some(0),
];
pub(super) const REQUEST_TIMEOUTS: [u64; 5] = [5000, 1, 40, 300, 2000];
pub(super) const STAGE_WAITS: [u64; 4] = [500, 0, 1, 50];
pub(super) const SUPERVISOR_TIMEOUTS: [u64; 4] = [60_000, 1, 100, 3000];

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

// ---- configurations -----------------------------------------------------------

pub(super) fn pick<T: Copy>(table: &[T], index: u8) -> T {
    table[usize::from(index) % table.len()]
}

pub(super) fn node_name(index: u8) -> &'static str {
    pick(&NODE_NAMES, index)
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

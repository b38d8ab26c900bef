//! The records of `policy/frameworks/management/types.zeek`.
//!
//! Field order here is Zeek's declaration order, which is also the Broker
//! encoding order. Layout differences between dialects (the `seed` Result,
//! Zeek 7's `metrics_port`) are handled by the wire layer; the model holds the
//! union of all fields.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::enums::{ClusterRole, Role, State};
use super::port::Port;
use super::value::Value;

/// `Management::Instance`: a machine (or container) running one agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub name: String,
    pub host: IpAddr,
    /// The agent's listening port; absent when the agent connects out.
    pub listen_port: Option<Port>,
}

/// `Management::Option`: a Zeek option and its value for a node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeOption {
    pub name: String,
    pub value: String,
}

/// `Management::Node`: one Zeek cluster node of a configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    /// The instance (agent) that runs this node.
    pub instance: String,
    pub role: ClusterRole,
    /// Desired or current run state. Plain JSON without `state` means RUNNING.
    pub state: State,
    /// Broker listening port; absent means the node does not listen.
    pub p: Option<Port>,
    pub scripts: Option<Vec<String>>,
    pub options: Option<Vec<NodeOption>>,
    pub interface: Option<String>,
    pub cpu_affinity: Option<i64>,
    pub env: BTreeMap<String, String>,
    /// Prometheus metrics port (Zeek 7; dropped by older dialects' layouts).
    pub metrics_port: Option<Port>,
}

impl Node {
    /// A node with only the required fields set, as a convenience for hosts
    /// and tests that build configurations in code.
    pub fn new(name: impl Into<String>, instance: impl Into<String>, role: ClusterRole) -> Node {
        Node {
            name: name.into(),
            instance: instance.into(),
            role,
            state: State::Running,
            p: None,
            scripts: None,
            options: None,
            interface: None,
            cpu_affinity: None,
            env: BTreeMap::new(),
            metrics_port: None,
        }
    }
}

/// `Management::Configuration`: a whole cluster, over all instances.
///
/// `instances` and `nodes` are Zeek sets; they are kept as vectors in input
/// order so that validation can report duplicates instead of silently
/// merging them.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Configuration {
    pub id: String,
    pub instances: Vec<Instance>,
    pub nodes: Vec<Node>,
}

/// `Management::NodeStatus`: one supervised process in a get_nodes answer.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeStatus {
    pub node: String,
    pub state: State,
    pub mgmt_role: Role,
    pub cluster_role: ClusterRole,
    pub pid: Option<i64>,
    pub p: Option<Port>,
    pub metrics_port: Option<Port>,
}

impl NodeStatus {
    /// A status with Zeek's defaults: no roles, no pid, no ports.
    pub fn new(node: impl Into<String>, state: State) -> NodeStatus {
        NodeStatus {
            node: node.into(),
            state,
            mgmt_role: Role::None,
            cluster_role: ClusterRole::None,
            pid: None,
            p: None,
            metrics_port: None,
        }
    }
}

/// `Management::NodeOutputs`: the recent stdout and stderr of a node.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeOutputs {
    pub stdout: String,
    pub stderr: String,
}

/// The `any`-typed `data` of a [`ResultRecord`], with the concrete types the
/// management framework puts there.
#[derive(Clone, Debug, PartialEq)]
pub enum ResultData {
    /// get_nodes: `vector of Management::NodeStatus`.
    NodeStatuses(Vec<NodeStatus>),
    /// Failed deploy results: the node's recent output.
    NodeOutputs(NodeOutputs),
    /// Dispatch results (`get_id_value` answers with a JSON string).
    String(String),
    /// Anything else a node may send, kept as a typed Zeek value.
    Other(Value),
}

/// `Management::Result`: the outcome of one part of a request.
///
/// The `seed` dialect declares `instance` and `error` with default `""`
/// instead of optional; the wire layer writes absent values as `""` there.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRecord {
    pub reqid: String,
    pub success: bool,
    pub instance: Option<String>,
    pub data: Option<ResultData>,
    pub error: Option<String>,
    pub node: Option<String>,
}

impl ResultRecord {
    /// A successful result for `reqid` from `instance`.
    pub fn success(reqid: &str, instance: &str) -> ResultRecord {
        ResultRecord {
            reqid: reqid.to_owned(),
            success: true,
            instance: Some(instance.to_owned()),
            data: None,
            error: None,
            node: None,
        }
    }

    /// A failed result for `reqid` from `instance` with an error message.
    pub fn failure(reqid: &str, instance: &str, error: impl Into<String>) -> ResultRecord {
        ResultRecord {
            success: false,
            error: Some(error.into()),
            ..ResultRecord::success(reqid, instance)
        }
    }

    /// The same result about a particular node.
    pub fn for_node(mut self, node: &str) -> ResultRecord {
        self.node = Some(node.to_owned());
        self
    }

    /// The same result carrying data.
    pub fn with_data(mut self, data: ResultData) -> ResultRecord {
        self.data = Some(data);
        self
    }
}

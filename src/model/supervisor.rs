//! The records of `base/frameworks/supervisor/api.zeek`, as the agent sends
//! them to (and receives them from) a Zeek Supervisor.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::enums::ClusterRole;
use super::port::Port;

/// `Supervisor::ClusterEndpoint`: one entry of the cluster table every node
/// receives, describing where another node lives.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterEndpoint {
    pub role: ClusterRole,
    pub host: IpAddr,
    /// `0/unknown` when the node does not listen.
    pub p: Port,
    pub interface: Option<String>,
    /// Zeek >= 6.1.
    pub pcap_file: Option<String>,
    /// Zeek >= 7.0.
    pub metrics_port: Option<Port>,
}

/// `Supervisor::NodeConfig`: everything needed to start one node.
///
/// `scripts` are the node's own scripts; the `seed` and `zeek5` layouts carry
/// them in the `scripts` field, `zeek6` and `zeek7` in `addl_user_scripts`.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    pub name: String,
    pub interface: Option<String>,
    /// Zeek >= 6.1.
    pub pcap_file: Option<String>,
    pub directory: Option<String>,
    pub stdout_file: Option<String>,
    pub stderr_file: Option<String>,
    pub bare_mode: Option<bool>,
    /// Zeek >= 6.1: scripts loaded before the user scripts.
    pub addl_base_scripts: Vec<String>,
    /// The node's scripts (`scripts` before Zeek 6.1, `addl_user_scripts` after).
    pub scripts: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cpu_affinity: Option<i64>,
    /// Every node of the cluster. Shared: all nodes of one deploy get the
    /// same table, so a large cluster is held once, not once per node.
    pub cluster: Arc<BTreeMap<String, ClusterEndpoint>>,
}

impl NodeConfig {
    /// A node configuration with only a name.
    pub fn new(name: impl Into<String>) -> NodeConfig {
        NodeConfig {
            name: name.into(),
            interface: None,
            pcap_file: None,
            directory: None,
            stdout_file: None,
            stderr_file: None,
            bare_mode: None,
            addl_base_scripts: Vec::new(),
            scripts: Vec::new(),
            env: BTreeMap::new(),
            cpu_affinity: None,
            cluster: Arc::default(),
        }
    }
}

/// `Supervisor::NodeStatus`: a supervised node and, once running, its pid.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorNodeStatus {
    pub node: NodeConfig,
    pub pid: Option<i64>,
}

/// `Supervisor::Status`: every node the Supervisor supervises.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SupervisorStatus {
    pub nodes: BTreeMap<String, SupervisorNodeStatus>,
}

//! A snapshot of the agent's state for diagnostics and tests
//! (`zma_agent_state_json` in the C API).

use super::agent::Engine;
use crate::model::{ClusterRole, State, ZeekEnum};

/// One of this agent's nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSnapshot {
    pub name: String,
    pub instance: String,
    pub role: ClusterRole,
    pub state: State,
    pub pid: Option<i64>,
    pub restarts: u32,
    /// When its current process started, in the engine's clock.
    pub started_ms: Option<u64>,
}

/// A controller request in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSnapshot {
    pub id: String,
    /// `deploy`, `set_configuration`, `get_nodes`, `node_dispatch`,
    /// `restart` or `agent_standby`.
    pub kind: &'static str,
    /// Absolute, in the engine's clock; it times out when now >= this.
    pub deadline_ms: u64,
}

/// The agent's state at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentState {
    pub name: String,
    pub dialect: &'static str,
    /// `None` until a configuration was adopted, and after standby.
    pub config_id: Option<String>,
    pub nodes: Vec<NodeSnapshot>,
    pub pending_requests: Vec<RequestSnapshot>,
    /// Supervisor commands still waiting for an answer.
    pub supervisor_commands_pending: usize,
}

impl AgentState {
    /// The JSON form `docs/c-api.md` documents (`zma_agent_state_json`).
    pub fn to_json(&self) -> String {
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| {
                serde_json::json!({
                    "name": n.name,
                    "instance": n.instance,
                    "role": n.role.name(),
                    "state": n.state.name(),
                    "pid": n.pid,
                    "restarts": n.restarts,
                    "started_ms": n.started_ms,
                })
            })
            .collect();
        let requests: Vec<serde_json::Value> = self
            .pending_requests
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "kind": r.kind, "deadline_ms": r.deadline_ms}))
            .collect();
        serde_json::json!({
            "name": self.name,
            "dialect": self.dialect,
            "config_id": self.config_id,
            "nodes": nodes,
            "pending_requests": requests,
            "supervisor_commands_pending": self.supervisor_commands_pending,
        })
        .to_string()
    }
}

impl Engine {
    /// The agent's state now.
    pub fn state(&self) -> AgentState {
        AgentState {
            name: self.cfg.name.clone(),
            dialect: self.cfg.dialect.name(),
            config_id: self.config.as_ref().map(|c| c.id.clone()),
            nodes: self
                .nodes
                .managed
                .values()
                .map(|m| NodeSnapshot {
                    name: m.node.name.clone(),
                    instance: m.node.instance.clone(),
                    role: m.node.role,
                    state: m.node.state,
                    pid: m.pid,
                    restarts: m.restarts,
                    started_ms: m.started.map(|t| t.as_millis()),
                })
                .collect(),
            pending_requests: self
                .requests
                .iter()
                .map(|(id, r)| RequestSnapshot {
                    id: id.clone(),
                    kind: r.kind.name(),
                    deadline_ms: r.deadline.as_millis(),
                })
                .collect(),
            supervisor_commands_pending: self.commands.len(),
        }
    }
}

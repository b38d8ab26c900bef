//! `get_nodes_request`: the Supervisor's status, told in the management
//! framework's terms (`Management::NodeStatus`).

use super::agent::Engine;
use super::commands::Pending;
use super::config::SupervisorKind;
use super::deploy::MANAGEMENT_NODE_ENV;
use super::output::LogLevel;
use super::requests::RequestKind;
use crate::model::{NodeStatus, Port, ResultData, ResultRecord, Role, State, SupervisorStatus};
use crate::supervisor::{Command, CommandId};
use crate::wire::{Encoding, Event};

impl Engine {
    pub(crate) fn on_get_nodes_request(&mut self, reqid: String, encoding: Encoding) {
        let status = self.command(
            Command::Status {
                node: String::new(),
            },
            Pending::GetNodesStatus {
                reqid: reqid.clone(),
            },
        );
        self.register_request(&reqid, RequestKind::GetNodes(status), encoding);
    }

    pub(crate) fn on_status(&mut self, id: CommandId, status: SupervisorStatus) {
        let expected = |p: &Pending| {
            matches!(
                p,
                Pending::GetNodesStatus { .. } | Pending::DeployStatus { .. }
            )
        };
        // Any status is news about the pids of the nodes this
        // configuration started (a planned node's namesake is an old one).
        for (name, supervised) in &status.nodes {
            if let Some(managed) = self.nodes.started_mut(name) {
                managed.pid = supervised.pid;
            }
        }
        match self.take_pending(id, expected) {
            Some(Pending::DeployStatus { op }) => self.on_deploy_status(op, &status),
            Some(Pending::GetNodesStatus { reqid }) => {
                let statuses = self.node_statuses(&status);
                let Some(request) = self.finish_request(&reqid) else {
                    return; // timed out already
                };
                let result = ResultRecord::success(&reqid, &self.cfg.name)
                    .with_data(ResultData::NodeStatuses(statuses));
                self.answer(request.encoding, Event::GetNodesResponse { reqid, result });
            }
            _ => {}
        }
    }

    pub(crate) fn on_get_nodes_timeout(&mut self, reqid: &str) {
        let Some(request) = self.finish_request(reqid) else {
            return;
        };
        if let RequestKind::GetNodes(status) = request.kind {
            self.forget_command(status);
        }
        let result = ResultRecord::failure(reqid, &self.cfg.name, "request timed out");
        self.answer(
            request.encoding,
            Event::GetNodesResponse {
                reqid: reqid.to_owned(),
                result,
            },
        );
    }

    /// One NodeStatus per supervised process, in name order.
    fn node_statuses(&mut self, status: &SupervisorStatus) -> Vec<NodeStatus> {
        let mut statuses = Vec::with_capacity(status.nodes.len());
        for (name, supervised) in &status.nodes {
            let mut ns = NodeStatus::new(name, State::Pending);
            if let Some(endpoint) = supervised.node.cluster.get(name) {
                // A cluster node: role from its cluster table, state from
                // the agent's live node table.
                ns.cluster_role = endpoint.role;
                if let Some(state) = self.nodes.reported_state(name) {
                    ns.state = state;
                }
                ns.p = endpoint.p.is_set().then_some(endpoint.p);
                ns.metrics_port = endpoint.metrics_port;
            } else if let Some(role) = supervised.node.env.get(MANAGEMENT_NODE_ENV) {
                match role.as_str() {
                    "CONTROLLER" => {
                        ns.mgmt_role = Role::Controller;
                        ns.state = State::Running;
                        // Zeek reports the agent's own port here; the
                        // controller's is what a client can connect to.
                        ns.p = Some(Port::tcp(self.cfg.controller_port));
                    }
                    "AGENT" => {
                        ns.mgmt_role = Role::Agent;
                        ns.state = State::Running;
                        if !self.cfg.connects_to_controller() {
                            ns.p = Some(Port::tcp(self.cfg.listen_port));
                        }
                    }
                    other => {
                        let other = crate::wire::escape_for_message(other);
                        self.log(
                            LogLevel::Warning,
                            format!("unexpected cluster management node type '{other}' for {name}"),
                        );
                    }
                }
            }
            // A pid while it runs; FAILED nodes have none to show.
            ns.pid = supervised.pid.filter(|_| ns.state != State::Failed);
            statuses.push(ns);
        }
        if self.cfg.supervisor == SupervisorKind::Process
            && self.cfg.host_pid.is_some()
            && statuses
                .iter()
                .all(|ns| ns.node != self.cfg.name && ns.mgmt_role != Role::Agent)
        {
            // A Zeek Supervisor runs the agent as one of its nodes and so
            // lists it; the process supervisor does not run the agent, so
            // the agent speaks for itself, as Zeek's agent is listed.
            statuses.push(self.own_status());
            statuses.sort_by(|a, b| a.node.cmp(&b.node));
        }
        statuses
    }

    /// The agent's own entry (`host_pid` set): Zeek's agent appears in
    /// get_nodes as a management node (`mgmt_role` AGENT, RUNNING, its pid,
    /// and its port when it listens for the controller).
    fn own_status(&self) -> NodeStatus {
        let mut ns = NodeStatus::new(self.cfg.name.clone(), State::Running);
        ns.mgmt_role = Role::Agent;
        ns.pid = self.cfg.host_pid;
        if !self.cfg.connects_to_controller() {
            ns.p = Some(Port::tcp(self.cfg.listen_port));
        }
        ns
    }
}

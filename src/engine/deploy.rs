//! `set_configuration_request` (seed) and `deploy_request` (Zeek >= 5.0),
//! and standby, which is a deploy of no configuration.
//!
//! A deploy is an operation with phases: validate, adopt, tear the old
//! nodes down (seed: destroy the previous configuration's nodes; Zeek >=
//! 5.0: ask the Supervisor for its status and destroy every node that is
//! not a management node), then start the new nodes in stages (loggers ->
//! manager -> proxies -> workers) and wait for each to check in. The
//! request waiting on it is answered when every local node has checked in
//! or failed, when it times out, or when a newer deploy supersedes it; the
//! operation itself carries on after a timeout until its nodes are started,
//! then without stage waits (no timer outlives its request).
//!
//! A node fails for its deploy when it cannot be created, when the
//! Supervisor gives up on it, and when it dies before it became ready
//! (`Report::NodeCrashed` while PENDING): its result is then a failure
//! with its last stderr lines at once, and the deploy waits no longer for
//! it, although the process supervisor goes on restarting it on its
//! schedule (up to `max_start_failures`). The built-in process supervisor
//! reports that death as it happens. A Zeek Supervisor (host mode) reports
//! a node's exit only with `notify_node_exit` at the node's next start (at
//! least a second after the last one), only when it printed anything, and
//! the first start of a node can report the exit of an earlier node of that
//! name; so there an exit report counts as this node's death only when it
//! comes at least half a second after the create was answered (see
//! `Engine::on_node_output`), and a node that dies silently is still waited
//! for until the request times out, as Zeek's agent does.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use super::agent::Engine;
use super::commands::Pending;
use super::config::SupervisorKind;
use super::nodes::ManagedNode;
use super::output::LogLevel;
use super::requests::RequestKind;
use super::timers::{Timer, TimerKey};
use super::validate::{validate_configuration, MANAGEMENT_NODE_SCRIPT};
use crate::model::{
    ClusterEndpoint, Configuration, NodeConfig, Port, ResultData, ResultRecord, State,
    SupervisorStatus,
};
use crate::supervisor::{Command, CommandId};
use crate::wire::{escape_for_message, Dialect, Encoding, Event};

/// The env entry that marks Zeek's own management processes (agent,
/// controller) among supervised nodes.
pub const MANAGEMENT_NODE_ENV: &str = "ZEEK_MANAGEMENT_NODE";

/// A deploy being carried out.
pub(crate) struct DeployOp {
    pub(crate) id: u64,
    /// The configuration being deployed; `None` for standby.
    pub(crate) config_id: Option<String>,
    /// The request waiting for the outcome, until it is answered.
    pub(crate) waiter: Option<String>,
    /// The status round trip that precedes teardown (Zeek >= 5.0).
    pub(crate) status: Option<CommandId>,
    /// Destroys the launch waits for.
    pub(crate) destroys: BTreeSet<CommandId>,
    /// Teardown is over and the launch has begun.
    pub(crate) launched: bool,
    /// Start stages not yet launched.
    pub(crate) stages: VecDeque<Vec<String>>,
    /// The stage launched last.
    pub(crate) stage: Vec<String>,
    pub(crate) stage_timer: Option<TimerKey>,
    /// The last stage's wait is over, ready or not.
    pub(crate) stage_expired: bool,
    /// The cluster table every node receives.
    pub(crate) cluster: Arc<BTreeMap<String, ClusterEndpoint>>,
}

/// How a waiting request is answered.
enum Outcome<'a> {
    Done,
    TimedOut,
    Superseded(&'a str),
}

impl Engine {
    /// `force` is `None` for `set_configuration_request`, which has no
    /// same-id short cut.
    pub(crate) fn on_deploy_request(
        &mut self,
        reqid: String,
        config: Configuration,
        force: Option<bool>,
        encoding: Encoding,
    ) {
        let kind = if force.is_some() {
            RequestKind::Deploy
        } else {
            RequestKind::SetConfiguration
        };
        let same_id = self.config.as_ref().is_some_and(|c| c.id == config.id);
        if force == Some(false) && same_id {
            // Zeek's short cut: the configuration is the current one.
            self.log(
                LogLevel::Info,
                format!("already running configuration {}", config.id),
            );
            let results = vec![ResultRecord::success(&reqid, &self.cfg.name)];
            self.answer(encoding, Event::DeployResponse { reqid, results });
            return;
        }
        let problems = validate_configuration(&config);
        if !problems.is_empty() {
            self.log(
                LogLevel::Warning,
                format!(
                    "configuration {} refused: {}",
                    config.id,
                    problems.join("; ")
                ),
            );
            let results = problems
                .into_iter()
                .map(|p| ResultRecord::failure(&reqid, &self.cfg.name, p))
                .collect();
            let event = match kind {
                RequestKind::Deploy => Event::DeployResponse { reqid, results },
                _ => Event::SetConfigurationResponse { reqid, results },
            };
            self.answer(encoding, event);
            return;
        }
        self.register_request(&reqid, kind, encoding);
        self.start_deploy(Some(config), reqid);
    }

    /// Standby: stop every cluster node by deploying no configuration, then
    /// answer (once the nodes are gone).
    pub(crate) fn on_standby_request(&mut self, reqid: String, encoding: Encoding) {
        self.register_request(&reqid, RequestKind::Standby, encoding);
        self.start_deploy(None, reqid);
    }

    fn start_deploy(&mut self, target: Option<Configuration>, waiter: String) {
        let id = self.next_id();
        if let Some(old) = self.deploy.take() {
            self.supersede(old, &waiter);
        }

        // Adopt: the previous nodes that were started retire; the new local
        // nodes are planned.
        for (name, node) in self.nodes.take_managed() {
            if let Some(create) = node.create {
                // A late answer to its create no longer concerns anybody.
                self.forget_command(create);
                self.nodes.retiring.insert(name, node);
            }
        }
        self.outputs.clear();
        if let Some(config) = &target {
            for node in config.nodes.iter().filter(|n| n.instance == self.cfg.name) {
                self.nodes.plan(node.clone());
            }
        }
        let config_id = target.as_ref().map(|c| c.id.clone());
        self.config = target;
        self.config_generation += 1;
        match &config_id {
            Some(cid) => self.notify_log(
                format!(
                    "deploying configuration {cid}: {} nodes on this instance",
                    self.nodes.managed.len()
                ),
                "",
            ),
            None => self.notify_log("standing by: stopping all cluster nodes".to_owned(), ""),
        }

        // Destroys still in flight from a superseded deploy hold this one up
        // too: the new nodes must not start before the old ones are gone.
        let destroys = self.commands.adopt_destroys(id).into_iter().collect();
        self.deploy = Some(DeployOp {
            id,
            config_id,
            waiter: Some(waiter),
            status: None,
            destroys,
            launched: false,
            stages: VecDeque::new(),
            stage: Vec::new(),
            stage_timer: None,
            stage_expired: false,
            cluster: Arc::default(),
        });

        if self.cfg.dialect == Dialect::Seed {
            self.destroy_retiring(id);
        } else {
            let status = self.command_with_deadline(
                Command::Status {
                    node: String::new(),
                },
                Pending::DeployStatus { op: id },
            );
            if let Some(op) = self.deploy.as_mut() {
                op.status = Some(status);
            }
        }
        self.continue_deploy();
    }

    fn supersede(&mut self, old: DeployOp, by: &str) {
        if let Some(timer) = old.stage_timer {
            self.timers.cancel(timer);
        }
        if let Some(status) = old.status {
            self.forget_command(status);
        }
        let reason = format!("superseded by request '{}'", escape_for_message(by));
        if let Some(waiter) = old.waiter {
            self.answer_waiter(&waiter, Outcome::Superseded(&reason));
        }
    }

    /// Destroys every retiring node not being destroyed already.
    fn destroy_retiring(&mut self, op: u64) {
        let to_stop: Vec<String> = self
            .nodes
            .retiring
            .keys()
            .filter(|n| !self.commands.destroying(n))
            .cloned()
            .collect();
        for name in to_stop {
            self.destroy_node(&name, op);
        }
    }

    fn destroy_node(&mut self, name: &str, op: u64) {
        let command = self.command_with_deadline(
            Command::Destroy {
                node: name.to_owned(),
            },
            Pending::Destroy {
                op,
                node: name.to_owned(),
            },
        );
        if let Some(current) = self.current_op(op) {
            current.destroys.insert(command);
        }
    }

    /// Whether a deploy is starting (or has started) the managed nodes.
    pub(crate) fn deploying(&self) -> bool {
        self.deploy.as_ref().is_some_and(|op| op.launched)
    }

    fn current_op(&mut self, op: u64) -> Option<&mut DeployOp> {
        self.deploy.as_mut().filter(|d| d.id == op)
    }

    /// The Supervisor's status for a deploy (Zeek >= 5.0): destroy every
    /// supervised node that is not a management node.
    pub(crate) fn on_deploy_status(&mut self, op: u64, status: &SupervisorStatus) {
        let Some(current) = self.current_op(op) else {
            return; // superseded; the newer deploy asked for its own status
        };
        current.status = None;
        for (name, supervised) in &status.nodes {
            if supervised.node.env.contains_key(MANAGEMENT_NODE_ENV)
                || self.commands.destroying(name)
            {
                continue;
            }
            self.destroy_node(name, op);
        }
        // Retiring nodes the Supervisor no longer has are already gone.
        let gone: Vec<String> = self
            .nodes
            .retiring
            .keys()
            .filter(|n| !status.nodes.contains_key(n.as_str()) && !self.commands.destroying(n))
            .cloned()
            .collect();
        for name in gone {
            self.retire_stopped(&name);
        }
        self.continue_deploy();
    }

    pub(crate) fn on_destroyed(&mut self, id: CommandId, ok: bool) {
        let Some(Pending::Destroy { op, node }) =
            self.take_pending(id, |p| matches!(p, Pending::Destroy { .. }))
        else {
            return;
        };
        if ok {
            self.retire_stopped(&node);
        } else {
            self.notify_error(format!("failed to destroy node {node}"), &node);
            self.retire_unknown(&node);
        }
        self.destroy_settled(op, id);
    }

    fn destroy_settled(&mut self, op: u64, id: CommandId) {
        if let Some(current) = self.current_op(op) {
            current.destroys.remove(&id);
        }
        self.continue_deploy();
    }

    /// A command a deploy waited on got no answer in time: go on without.
    pub(crate) fn on_unanswered(&mut self, id: CommandId, pending: Pending) {
        match pending {
            Pending::Destroy { op, node } => {
                self.notify_error(
                    format!("the Supervisor did not answer the destroy of node {node}"),
                    &node,
                );
                self.retire_unknown(&node);
                self.destroy_settled(op, id);
            }
            Pending::DeployStatus { op } => {
                let Some(current) = self.current_op(op).filter(|d| d.status == Some(id)) else {
                    return;
                };
                current.status = None;
                self.notify_error(
                    "the Supervisor did not answer the status request; stopping the nodes this agent knows of"
                        .to_owned(),
                    "",
                );
                self.destroy_retiring(op);
                self.continue_deploy();
            }
            other => self.log(LogLevel::Debug, format!("no answer to {other:?}")),
        }
    }

    pub(crate) fn on_created(&mut self, id: CommandId, error: Option<String>) {
        let Some(Pending::Create { node }) =
            self.take_pending(id, |p| matches!(p, Pending::Create { .. }))
        else {
            return;
        };
        let Some(error) = error else {
            // Started; readiness comes with its hello. In host mode this is
            // the moment the node's life starts, as far as the agent knows.
            if matches!(self.cfg.supervisor, SupervisorKind::Host { .. }) {
                let now = self.now;
                if let Some(managed) = self
                    .nodes
                    .managed
                    .get_mut(&node)
                    .filter(|m| m.create == Some(id))
                {
                    managed.started = Some(now);
                }
            }
            return;
        };
        let message = format!("failed to create node {node}: {error}");
        self.notify_error(message.clone(), &node);
        if let Some(managed) = self
            .nodes
            .managed
            .get_mut(&node)
            .filter(|m| m.create == Some(id))
        {
            // The Supervisor has no such node: nothing to restart or stop.
            managed.create = None;
            managed.failure = Some(message);
            self.set_state(&node, State::Failed);
            self.continue_deploy();
        }
    }

    pub(crate) fn on_stage_timeout(&mut self, op: u64) {
        if let Some(current) = self.current_op(op) {
            current.stage_timer = None;
            current.stage_expired = true;
            self.continue_deploy();
        }
    }

    /// Moves the deploy as far as it can go: launch after teardown, the next
    /// start stage when the last one is ready (or its wait is over), and the
    /// answer when every local node has checked in or failed.
    pub(crate) fn continue_deploy(&mut self) {
        let Some(op) = self.deploy.as_mut() else {
            return;
        };
        if op.status.is_some() || !op.destroys.is_empty() {
            return; // teardown still under way
        }
        if !op.launched {
            op.launched = true;
            if op.config_id.is_none() || self.nodes.managed.is_empty() {
                self.finish_deploy();
                return;
            }
            self.plan_launch();
        }
        self.launch_ready_stages();

        let all_launched = self.deploy.as_ref().is_some_and(|op| op.stages.is_empty());
        if all_launched && self.nodes.unsettled() == 0 {
            self.finish_deploy();
        }
    }

    /// The cluster table (every node of the configuration, wherever it
    /// runs) and the start stages of the local nodes, which all go PENDING.
    fn plan_launch(&mut self) {
        let cluster = self.config.as_ref().map(cluster_table).unwrap_or_default();
        let mut stages: [Vec<String>; 4] = Default::default();
        for (name, managed) in &self.nodes.managed {
            stages[managed.node.role.start_stage()].push(name.clone());
        }
        if let Some(op) = self.deploy.as_mut() {
            op.cluster = Arc::new(cluster);
            op.stages = stages.into_iter().filter(|s| !s.is_empty()).collect();
        }
        // The launch is the start of every local node, in Zeek's terms: a
        // node that waits for its stage is PENDING ("not yet running"), not
        // UNKNOWN, and is announced so now, not when its stage starts.
        let names: Vec<String> = self.nodes.managed.keys().cloned().collect();
        for name in names {
            self.set_state(&name, State::Pending);
        }
    }

    fn launch_ready_stages(&mut self) {
        loop {
            let Some(op) = self.deploy.as_ref() else {
                return;
            };
            if op.stages.is_empty() {
                return;
            }
            // Once its request is answered (it timed out), the operation
            // goes on without stage waits: see `on_deploy_timeout`.
            let answered = op.waiter.is_none();
            let stage_ready = answered
                || op.stage_expired
                || op.stage.iter().all(|n| {
                    self.nodes
                        .managed
                        .get(n)
                        .map_or(true, ManagedNode::is_settled)
                });
            if !stage_ready {
                return;
            }
            let (id, stage_timer) = (op.id, op.stage_timer);
            if let Some(timer) = stage_timer {
                self.timers.cancel(timer);
            }
            let Some(op) = self.deploy.as_mut() else {
                return;
            };
            let stage = op.stages.pop_front().unwrap_or_default();
            op.stage = stage.clone();
            op.stage_timer = None;
            op.stage_expired = false;
            let more = !op.stages.is_empty();
            for name in &stage {
                self.launch_node(name);
            }
            if more && !answered {
                if self.cfg.stage_wait_ms == 0 {
                    if let Some(op) = self.deploy.as_mut() {
                        op.stage_expired = true;
                    }
                } else {
                    let at = self.now.plus_millis(self.cfg.stage_wait_ms);
                    let timer = self.timers.add(at, Timer::Stage { op: id });
                    if let Some(op) = self.deploy.as_mut() {
                        op.stage_timer = Some(timer);
                    }
                }
            }
        }
    }

    /// The Supervisor node configuration for a local node, and its create.
    fn launch_node(&mut self, name: &str) {
        let cluster = self
            .deploy
            .as_ref()
            .map(|op| op.cluster.clone())
            .unwrap_or_default();
        let Some(config) = self.node_config(name, cluster) else {
            return;
        };
        let directory = config.directory.clone().unwrap_or_default();
        self.outputs.remove(name);
        if matches!(self.cfg.supervisor, SupervisorKind::Host { .. }) {
            self.ensure_directory(name, directory);
        }
        let command = self.command(
            Command::Create(Box::new(config)),
            Pending::Create {
                node: name.to_owned(),
            },
        );
        if let Some(managed) = self.nodes.managed.get_mut(name) {
            managed.create = Some(command);
            managed.failure = None;
            managed.pid = None;
            managed.started = None;
            managed.restarts = 0;
        }
        self.set_state(name, State::Pending);
    }

    /// The Supervisor node configuration of managed node `name`, with
    /// the deploy's cluster table.
    pub(crate) fn node_config(
        &self,
        name: &str,
        cluster: Arc<BTreeMap<String, ClusterEndpoint>>,
    ) -> Option<NodeConfig> {
        let node = &self.nodes.managed.get(name)?.node;
        let mut scripts = node.scripts.clone().unwrap_or_default();
        scripts.push(MANAGEMENT_NODE_SCRIPT.to_owned());
        Some(NodeConfig {
            interface: node.interface.clone(),
            directory: Some(node_directory(&self.cfg.state_dir, name)),
            scripts,
            env: node.env.clone(),
            cpu_affinity: node.cpu_affinity,
            cluster,
            ..NodeConfig::new(name)
        })
    }

    /// The deploy is complete: answer whoever waits and forget it.
    fn finish_deploy(&mut self) {
        let Some(op) = self.deploy.take() else {
            return;
        };
        if let Some(timer) = op.stage_timer {
            self.timers.cancel(timer);
        }
        if let Some(config_id) = &op.config_id {
            let running = self
                .nodes
                .managed
                .values()
                .filter(|m| m.node.state == State::Running)
                .count();
            let failed = self.nodes.managed.len() - running;
            self.notify_log(
                format!(
                    "configuration {config_id} deployed: {running} nodes running, {failed} failed"
                ),
                "",
            );
        }
        if let Some(waiter) = op.waiter {
            self.answer_waiter(&waiter, Outcome::Done);
        }
    }

    /// The deploy's request timed out: it is answered with what is known
    /// now, and the operation carries on until its nodes are started.
    ///
    /// No timer of an answered request stays behind (`poll_timeout` is
    /// `None` once nothing is pending). The operation's stage waits would
    /// be such timers, and they exist only to make a stage wait for the
    /// previous one's check-ins for the answer's sake; so from here on the
    /// remaining stages are launched at once (now, or as soon as a teardown
    /// still under way is over) instead of one stage wait after another.
    /// Deadlines of supervisor commands the teardown still waits for stay:
    /// they belong to those commands, which are pending.
    pub(crate) fn on_deploy_timeout(&mut self, reqid: &str) {
        let mut ours = false;
        if let Some(op) = self.deploy.as_mut() {
            if op.waiter.as_deref() == Some(reqid) {
                op.waiter = None;
                ours = true;
                if let Some(timer) = op.stage_timer.take() {
                    self.timers.cancel(timer);
                }
            }
        }
        self.answer_waiter(reqid, Outcome::TimedOut);
        if ours {
            self.continue_deploy();
        }
    }

    /// One result per local node: success where it checked in (and did
    /// not die before that); otherwise a failure carrying why (when known)
    /// and its latest output.
    fn node_results(&self, reqid: &str) -> Vec<ResultRecord> {
        self.nodes
            .managed
            .iter()
            .map(|(name, managed)| {
                let success = ResultRecord::success(reqid, &self.cfg.name).for_node(name);
                if managed.node.state == State::Running && managed.start_failure.is_none() {
                    return success;
                }
                ResultRecord {
                    success: false,
                    error: managed
                        .failure
                        .clone()
                        .or_else(|| managed.start_failure.clone()),
                    data: self.outputs.get(name).cloned().map(ResultData::NodeOutputs),
                    ..success
                }
            })
            .collect()
    }

    fn answer_waiter(&mut self, reqid: &str, outcome: Outcome<'_>) {
        let Some(request) = self.finish_request(reqid) else {
            return;
        };
        let name = self.cfg.name.clone();
        let single = match &outcome {
            Outcome::Done => ResultRecord::success(reqid, &name),
            Outcome::TimedOut => ResultRecord::failure(reqid, &name, "request timed out"),
            Outcome::Superseded(reason) => ResultRecord::failure(reqid, &name, *reason),
        };
        let results = match outcome {
            Outcome::Done if self.nodes.managed.is_empty() => vec![single.clone()],
            Outcome::Done => self.node_results(reqid),
            // Zeek puts the request's timeout result first, then the nodes.
            Outcome::TimedOut => std::iter::once(single.clone())
                .chain(self.node_results(reqid))
                .collect(),
            Outcome::Superseded(_) => vec![single.clone()],
        };
        let reqid = reqid.to_owned();
        let event = match request.kind {
            RequestKind::SetConfiguration => Event::SetConfigurationResponse { reqid, results },
            RequestKind::Deploy => Event::DeployResponse { reqid, results },
            RequestKind::Standby => Event::AgentStandbyResponse {
                reqid,
                result: single,
            },
            _ => return,
        };
        self.answer(request.encoding, event);
    }
}

/// The cluster table of a configuration: every node, wherever it runs.
pub(crate) fn cluster_table(config: &Configuration) -> BTreeMap<String, ClusterEndpoint> {
    let hosts: HashMap<&str, IpAddr> = config
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.host))
        .collect();
    let mut cluster = BTreeMap::new();
    for node in &config.nodes {
        let Some(&host) = hosts.get(node.instance.as_str()) else {
            continue; // validation rules this out
        };
        cluster.insert(
            node.name.clone(),
            ClusterEndpoint {
                role: node.role,
                host,
                p: node.p.unwrap_or(Port::UNUSED),
                interface: node.interface.clone(),
                pcap_file: None,
                metrics_port: node.metrics_port,
            },
        );
    }
    cluster
}

/// `<state_dir>/nodes/<node>`.
pub fn node_directory(state_dir: &str, node: &str) -> String {
    let trimmed = state_dir.trim_end_matches('/');
    if state_dir.is_empty() {
        format!("nodes/{node}")
    } else if trimmed.is_empty() {
        format!("/nodes/{node}")
    } else {
        format!("{trimmed}/nodes/{node}")
    }
}

#[cfg(test)]
mod tests {
    use super::node_directory;

    #[test]
    fn node_directories_join_cleanly() {
        assert_eq!(
            node_directory("/var/lib/zeek", "w1"),
            "/var/lib/zeek/nodes/w1"
        );
        assert_eq!(
            node_directory("/var/lib/zeek/", "w1"),
            "/var/lib/zeek/nodes/w1"
        );
        assert_eq!(node_directory("/", "w1"), "/nodes/w1");
        assert_eq!(node_directory("./state", "w1"), "./state/nodes/w1");
        assert_eq!(node_directory("", "w1"), "nodes/w1");
    }
}

//! The agent's live node table, and what the Supervisor reports about nodes.
//!
//! `managed` holds the nodes of the current configuration that run on this
//! instance; `retiring` holds nodes of an earlier configuration until the
//! Supervisor confirms they are gone. Reports about a node (hello, crash,
//! pid, output) count only once the current configuration started it: until
//! then, a process of that name is the old one being torn down.
//!
//! Every real state change of a managed node is announced with
//! `notify_change` (**beyond Zeek**, which never implemented it), never with
//! `old == new`.

use std::collections::BTreeMap;

use super::agent::Engine;
use super::output::LogLevel;
use crate::model::{Node, NodeOutputs, State, ZeekEnum};
use crate::supervisor::CommandId;
use crate::wire::Event;

/// The topic of `Management::Supervisor::API` events.
pub const SUPERVISOR_API_TOPIC: &str = "zeek/management/supervisor";

/// A node this agent runs (or ran).
#[derive(Clone, Debug)]
pub(crate) struct ManagedNode {
    /// The node's record; `node.state` is its current state.
    pub(crate) node: Node,
    pub(crate) pid: Option<i64>,
    /// Restarts, automatic or requested, since the current configuration
    /// created the node.
    pub(crate) restarts: u32,
    /// When its current process started (process supervisor).
    pub(crate) started: Option<super::time::Time>,
    /// Why the node is FAILED, for deploy results.
    pub(crate) failure: Option<String>,
    /// The create command that started it; `None` while only planned (or
    /// when the Supervisor could not create it).
    pub(crate) create: Option<CommandId>,
}

impl ManagedNode {
    /// Settled for a deploy: it checked in, or it will never start.
    pub(crate) fn is_settled(&self) -> bool {
        is_settled(self.node.state)
    }

    pub(crate) fn is_started(&self) -> bool {
        self.create.is_some()
    }
}

fn is_settled(state: State) -> bool {
    matches!(state, State::Running | State::Failed)
}

#[derive(Default)]
pub(crate) struct NodeTable {
    pub(crate) managed: BTreeMap<String, ManagedNode>,
    pub(crate) retiring: BTreeMap<String, ManagedNode>,
    /// How many managed nodes are not settled, kept so that a deploy
    /// knows it is done without scanning every node at every hello.
    unsettled: usize,
}

impl NodeTable {
    /// Adds a node of a newly adopted configuration, not yet created:
    /// `UNKNOWN` until its create command goes out.
    pub(crate) fn plan(&mut self, mut node: Node) {
        node.state = State::Unknown;
        let name = node.name.clone();
        let planned = ManagedNode {
            node,
            pid: None,
            restarts: 0,
            started: None,
            failure: None,
            create: None,
        };
        if let Some(old) = self.managed.insert(name, planned) {
            if !old.is_settled() {
                self.settle_one();
            }
        }
        self.unsettled += 1;
    }

    /// Takes every managed node out (the configuration is being replaced).
    pub(crate) fn take_managed(&mut self) -> BTreeMap<String, ManagedNode> {
        self.unsettled = 0;
        std::mem::take(&mut self.managed)
    }

    pub(crate) fn unsettled(&self) -> usize {
        self.unsettled
    }

    fn settle_one(&mut self) {
        debug_assert!(self.unsettled > 0, "unsettled node count out of step");
        self.unsettled = self.unsettled.saturating_sub(1);
    }

    /// A node the current configuration started, by name.
    pub(crate) fn started_mut(&mut self, name: &str) -> Option<&mut ManagedNode> {
        self.managed.get_mut(name).filter(|m| m.is_started())
    }

    /// The state to report for a supervised process of this name: an old
    /// process still being torn down wins over a planned successor.
    pub(crate) fn reported_state(&self, name: &str) -> Option<State> {
        self.retiring
            .get(name)
            .or_else(|| self.managed.get(name))
            .map(|m| m.node.state)
    }
}

impl Engine {
    /// Moves a managed node to `new`, announcing the change.
    pub(crate) fn set_state(&mut self, name: &str, new: State) {
        let Some(managed) = self.nodes.managed.get_mut(name) else {
            return;
        };
        let old = managed.node.state;
        if old == new {
            return;
        }
        managed.node.state = new;
        let node = managed.node.clone();
        match (is_settled(old), is_settled(new)) {
            (false, true) => self.nodes.settle_one(),
            (true, false) => self.nodes.unsettled += 1,
            _ => {}
        }
        self.announce_change(node, old, new);
    }

    /// A retiring node is gone: forget it, announcing STOPPED.
    pub(crate) fn retire_stopped(&mut self, name: &str) {
        self.retire_as(name, State::Stopped);
    }

    /// The agent lost track of a retiring node (its destroy failed or went
    /// unanswered): forget it, announcing UNKNOWN.
    pub(crate) fn retire_unknown(&mut self, name: &str) {
        self.retire_as(name, State::Unknown);
    }

    fn retire_as(&mut self, name: &str, last: State) {
        if let Some(mut gone) = self.nodes.retiring.remove(name) {
            let old = gone.node.state;
            if old != last {
                gone.node.state = last;
                self.announce_change(gone.node, old, last);
            }
        }
    }

    fn announce_change(&mut self, node: Node, old: State, new: State) {
        self.log(
            LogLevel::Info,
            format!("node {} {} -> {}", node.name, old.name(), new.name()),
        );
        let instance = self.cfg.name.clone();
        self.notify(Event::NotifyChange {
            instance,
            node,
            old,
            new,
        });
    }

    /// A node checked in (`notify_node_hello`), or counts as ready without a
    /// hello (`NodeReady`).
    pub(crate) fn on_node_ready(&mut self, name: &str, how: &str) {
        let Some(managed) = self.nodes.started_mut(name) else {
            self.log(
                LogLevel::Debug,
                format!("{how} from {name} ignored: not a node this configuration started"),
            );
            return;
        };
        managed.failure = None;
        self.set_state(name, State::Running);
        self.continue_deploy();
    }

    /// The latest output of a node's past life (`notify_node_exit`).
    pub(crate) fn on_node_output(&mut self, name: &str, outputs: NodeOutputs) {
        if self.nodes.started_mut(name).is_some() {
            self.outputs.insert(name.to_owned(), outputs);
        }
    }

    pub(crate) fn on_node_spawned(&mut self, name: &str, pid: i64) {
        let Some(managed) = self.nodes.started_mut(name) else {
            return;
        };
        managed.pid = Some(pid);
        managed.started = Some(self.now);
        // A crashed node coming back is an automatic restart.
        if managed.node.state == State::Crashed {
            managed.restarts += 1;
            self.set_state(name, State::Pending);
        }
    }

    /// What Zeek's Supervisor shim publishes when a node's life ends:
    /// `notify_node_exit` with its last output, on `zeek/management/supervisor`.
    fn publish_exit(&mut self, name: &str, outputs: &NodeOutputs) {
        self.publish(
            SUPERVISOR_API_TOPIC,
            Event::NotifyNodeExit {
                node: name.to_owned(),
                outputs: outputs.clone(),
            },
        );
    }

    pub(crate) fn on_node_crashed(&mut self, name: &str, outputs: NodeOutputs) {
        let Some(managed) = self.nodes.started_mut(name) else {
            return;
        };
        managed.pid = None;
        self.publish_exit(name, &outputs);
        self.outputs.insert(name.to_owned(), outputs);
        self.set_state(name, State::Crashed);
        self.notify_log(format!("node {name} crashed; it will be restarted"), name);
        self.continue_deploy();
    }

    pub(crate) fn on_node_failed(&mut self, name: &str, reason: &str, outputs: NodeOutputs) {
        let Some(managed) = self.nodes.started_mut(name) else {
            return;
        };
        managed.pid = None;
        let mut message = format!("node {name} failed: {reason}");
        if !outputs.stderr.is_empty() {
            message.push_str("; last stderr lines:\n");
            message.push_str(&outputs.stderr);
        }
        managed.failure = Some(message.clone());
        self.publish_exit(name, &outputs);
        self.outputs.insert(name.to_owned(), outputs);
        self.set_state(name, State::Failed);
        self.notify_error(message, name);
        self.continue_deploy();
    }
}

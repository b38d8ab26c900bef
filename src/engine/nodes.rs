//! The agent's live node table, and what the Supervisor reports about nodes.
//!
//! `managed` holds the nodes of the current configuration that run on this
//! instance; `retiring` holds nodes of an earlier configuration until the
//! Supervisor confirms they are gone. Every real state change of a managed
//! node is announced with `notify_change` (**beyond Zeek**, which never
//! implemented it), never with `old == new`.

use std::collections::BTreeMap;

use super::agent::Engine;
use super::output::LogLevel;
use crate::model::{Node, NodeOutputs, State, ZeekEnum};
use crate::supervisor::CommandId;
use crate::wire::Event;

/// A node this agent runs (or ran).
#[derive(Clone, Debug)]
pub(crate) struct ManagedNode {
    /// The node's record; `node.state` is its current state.
    pub(crate) node: Node,
    pub(crate) pid: Option<i64>,
    /// Restarts, automatic or requested, since the current configuration
    /// created the node.
    pub(crate) restarts: u32,
    /// Why the node is FAILED, for deploy results.
    pub(crate) failure: Option<String>,
    /// The create command that started it; `None` while only planned.
    pub(crate) create: Option<CommandId>,
}

impl ManagedNode {
    /// A node of a newly adopted configuration, not yet created: `UNKNOWN`
    /// until its create command goes out.
    pub(crate) fn planned(mut node: Node) -> ManagedNode {
        node.state = State::Unknown;
        ManagedNode {
            node,
            pid: None,
            restarts: 0,
            failure: None,
            create: None,
        }
    }

    /// Settled for a deploy: it checked in, or it will never start.
    pub(crate) fn is_settled(&self) -> bool {
        matches!(self.node.state, State::Running | State::Failed)
    }
}

#[derive(Default)]
pub(crate) struct NodeTable {
    pub(crate) managed: BTreeMap<String, ManagedNode>,
    pub(crate) retiring: BTreeMap<String, ManagedNode>,
}

impl NodeTable {
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
        self.announce_change(node, old, new);
    }

    /// A retiring node is gone: forget it, announcing STOPPED.
    pub(crate) fn retire_stopped(&mut self, name: &str) {
        if let Some(mut gone) = self.nodes.retiring.remove(name) {
            let old = gone.node.state;
            if old != State::Stopped {
                gone.node.state = State::Stopped;
                self.announce_change(gone.node, old, State::Stopped);
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
    /// hello (`NodeReady`). Nodes not yet created or already stopped are not
    /// moved: the hello comes from some other process of that name.
    pub(crate) fn on_node_ready(&mut self, name: &str, how: &str) {
        let state = self.nodes.managed.get(name).map(|m| m.node.state);
        match state {
            Some(State::Unknown | State::Stopped) | None => {
                self.log(
                    LogLevel::Debug,
                    format!("{how} from {name} ignored: not a started node of this agent"),
                );
            }
            Some(_) => {
                if let Some(m) = self.nodes.managed.get_mut(name) {
                    m.failure = None;
                }
                self.set_state(name, State::Running);
                self.continue_deploy();
            }
        }
    }

    /// The latest output of a node's past life (`notify_node_exit`).
    pub(crate) fn on_node_output(&mut self, name: &str, outputs: NodeOutputs) {
        if self.nodes.managed.contains_key(name) {
            self.outputs.insert(name.to_owned(), outputs);
        }
    }

    pub(crate) fn on_node_spawned(&mut self, name: &str, pid: i64) {
        let Some(m) = self.nodes.managed.get_mut(name) else {
            return;
        };
        m.pid = Some(pid);
        // A crashed node coming back is an automatic restart.
        if m.node.state == State::Crashed {
            m.restarts += 1;
            self.set_state(name, State::Pending);
        }
    }

    pub(crate) fn on_node_crashed(&mut self, name: &str, outputs: NodeOutputs) {
        let Some(m) = self.nodes.managed.get_mut(name) else {
            return;
        };
        m.pid = None;
        self.outputs.insert(name.to_owned(), outputs);
        self.set_state(name, State::Crashed);
        self.notify_log(format!("node {name} crashed; it will be restarted"), name);
        self.continue_deploy();
    }

    pub(crate) fn on_node_failed(&mut self, name: &str, reason: &str, outputs: NodeOutputs) {
        let Some(m) = self.nodes.managed.get_mut(name) else {
            return;
        };
        m.pid = None;
        let mut message = format!("node {name} failed: {reason}");
        if !outputs.stderr.is_empty() {
            message.push_str("; last stderr lines:\n");
            message.push_str(&outputs.stderr);
        }
        m.failure = Some(message.clone());
        self.outputs.insert(name.to_owned(), outputs);
        self.set_state(name, State::Failed);
        self.notify_error(message, name);
        self.continue_deploy();
    }
}

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
use super::config::SupervisorKind;
use super::output::{LogLevel, Output};
use crate::model::{Node, NodeOutputs, State, Time, ZeekEnum};
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
    /// When its current process started (process supervisor), or when
    /// Zeek's Supervisor answered its create (host mode).
    pub(crate) started: Option<crate::model::Time>,
    /// Why the node is FAILED, for deploy results.
    pub(crate) failure: Option<String>,
    /// Why the deploy carrying the node out counts it as failed although
    /// its process may come back: it died before it became ready (its
    /// message, with the exit and the last stderr lines). Set at most once
    /// per create, so the deploy's result for the node does not depend on
    /// how its restarts race the other nodes.
    pub(crate) start_failure: Option<String>,
    /// The create command that started it; `None` while only planned (or
    /// when the Supervisor could not create it).
    pub(crate) create: Option<CommandId>,
}

impl ManagedNode {
    /// Settled for a deploy: it checked in, it will never start, or it
    /// died before it became ready.
    pub(crate) fn is_settled(&self) -> bool {
        is_settled(self.node.state) || self.start_failure.is_some()
    }

    pub(crate) fn is_started(&self) -> bool {
        self.create.is_some()
    }
}

fn is_settled(state: State) -> bool {
    matches!(state, State::Running | State::Failed)
}

/// Zeek's Supervisor revives a node that died no sooner than one second
/// after it spawned it (`Stem::Revive`, `revival_delay` starts at 1 s), and
/// its shim reports the death (`notify_node_exit`) only at that revival.
pub(crate) const SUPERVISOR_FIRST_REVIVAL_MS: u64 = 1000;

/// A `notify_node_exit` that arrives this long after the create was
/// answered is about the life that create started; sooner, it is the
/// output of an earlier node of that name, reported at this one's first
/// start. Half the revival delay leaves room for delays either way.
pub(crate) const EARLIEST_EXIT_REPORT_MS: u64 = SUPERVISOR_FIRST_REVIVAL_MS / 2;

/// How a node came to count as ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// It checked in: `notify_node_hello`.
    Hello,
    /// The process supervisor says so without a hello (`Report::NodeReady`,
    /// `node_ready: "spawn"`).
    Report,
}

impl Readiness {
    fn describe(self) -> &'static str {
        match self {
            Readiness::Hello => "notify_node_hello",
            Readiness::Report => "readiness report",
        }
    }
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
    /// `UNKNOWN` while the old nodes are torn down, `PENDING` from the
    /// launch on (see `Engine::plan_launch`), even while it waits for its
    /// start stage.
    pub(crate) fn plan(&mut self, mut node: Node) {
        node.state = State::Unknown;
        let name = node.name.clone();
        let planned = ManagedNode {
            node,
            pid: None,
            restarts: 0,
            started: None,
            failure: None,
            start_failure: None,
            create: None,
        };
        if let Some(old) = self.managed.insert(name, planned) {
            if !old.is_settled() {
                self.settle_one();
            }
        }
        self.unsettled += 1;
    }

    /// Adds a node of an adopted configuration whose process runs
    /// already (see `Engine::adopt_running`): RUNNING, so settled.
    pub(crate) fn adopt(&mut self, mut node: Node, pid: i64, create: CommandId, now: Time) {
        node.state = State::Running;
        let name = node.name.clone();
        let adopted = ManagedNode {
            node,
            pid: Some(pid),
            restarts: 0,
            started: Some(now),
            failure: None,
            start_failure: None,
            create: Some(create),
        };
        if let Some(old) = self.managed.insert(name, adopted) {
            if !old.is_settled() {
                self.settle_one();
            }
        }
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

    /// Changes a managed node, keeping the count of unsettled nodes in
    /// step; `None` if there is no such node.
    fn update<T>(&mut self, name: &str, change: impl FnOnce(&mut ManagedNode) -> T) -> Option<T> {
        let managed = self.managed.get_mut(name)?;
        let before = managed.is_settled();
        let result = change(managed);
        match (before, managed.is_settled()) {
            (false, true) => self.settle_one(),
            (true, false) => self.unsettled += 1,
            _ => {}
        }
        Some(result)
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
    /// Moves a managed node to `new`, announcing the change; returns
    /// whether the state changed.
    pub(crate) fn set_state(&mut self, name: &str, new: State) -> bool {
        let changed = self.nodes.update(name, |managed| {
            let old = managed.node.state;
            managed.node.state = new;
            (old != new).then(|| (managed.node.clone(), old))
        });
        match changed {
            Some(Some((node, old))) => {
                self.announce_change(node, old, new);
                true
            }
            _ => false,
        }
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
    pub(crate) fn on_node_ready(&mut self, name: &str, by: Readiness) {
        let Some(managed) = self.nodes.started_mut(name) else {
            self.log(
                LogLevel::Debug,
                format!(
                    "{} from {name} ignored: not a node this configuration started",
                    by.describe()
                ),
            );
            return;
        };
        managed.failure = None;
        let became_running = self.set_state(name, State::Running);
        if became_running
            && by == Readiness::Hello
            && self.cfg.supervisor == SupervisorKind::Process
        {
            // The process supervisor learns of a check-in only from here.
            self.push_output(Output::NodeReady {
                node: name.to_owned(),
            });
        }
        self.continue_deploy();
    }

    /// The latest output of a node's past life (`notify_node_exit`, host
    /// mode). Zeek's Supervisor shim publishes it when a node (re)starts,
    /// for the life before, so it says two different things:
    ///
    /// - right after a create, it is the output of an earlier node of that
    ///   name (the shim keeps it across destroy and create): only output;
    /// - once Zeek's Supervisor could have revived the node (it waits at
    ///   least [`SUPERVISOR_FIRST_REVIVAL_MS`] after a spawn), it says the
    ///   node this create started has died. Before the node was ready, that
    ///   fails its deploy at once, with the node's stderr, as a crash report
    ///   of the process supervisor does, instead of at the request timeout.
    pub(crate) fn on_node_output(&mut self, name: &str, outputs: NodeOutputs) {
        let now = self.now;
        let deploying = self.deploying();
        let Some(managed) = self.nodes.started_mut(name) else {
            return;
        };
        let this_life = managed.started.is_some_and(|created| {
            now.as_millis().saturating_sub(created.as_millis()) >= EARLIEST_EXIT_REPORT_MS
        });
        let fails_deploy = this_life
            && deploying
            && managed.node.state == State::Pending
            && managed.start_failure.is_none();
        if fails_deploy {
            let message = with_stderr(
                format!(
                    "node {name} exited before it became ready (Zeek's Supervisor restarted it)"
                ),
                &outputs,
            );
            // Through `update`, which keeps the count of unsettled nodes.
            self.nodes.update(name, |managed| {
                managed.restarts += 1;
                managed.start_failure = Some(message);
            });
        }
        self.outputs.insert(name.to_owned(), outputs);
        if fails_deploy {
            self.notify_log(
                format!(
                    "node {name} exited before it became ready; Zeek's Supervisor restarted it"
                ),
                name,
            );
            self.continue_deploy();
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

    /// A node's process ended without being asked to; the Supervisor
    /// restarts it on its schedule. `reason` says how it ended.
    pub(crate) fn on_node_crashed(&mut self, name: &str, reason: &str, outputs: NodeOutputs) {
        let Some(managed) = self.nodes.started_mut(name) else {
            return;
        };
        managed.pid = None;
        let before_ready = managed.node.state == State::Pending;
        if before_ready && self.deploying() {
            // Its deploy need not wait for a restart that may never come
            // ready: its result is this failure, now.
            let message = with_stderr(
                format!("node {name} exited before it became ready ({reason})"),
                &outputs,
            );
            self.nodes.update(name, |managed| {
                managed.start_failure.get_or_insert(message);
            });
        }
        self.publish_exit(name, &outputs);
        self.outputs.insert(name.to_owned(), outputs);
        self.set_state(name, State::Crashed);
        let when = if before_ready {
            " before it became ready"
        } else {
            ""
        };
        self.notify_log(
            format!("node {name} crashed{when} ({reason}); it will be restarted"),
            name,
        );
        self.continue_deploy();
    }

    pub(crate) fn on_node_failed(&mut self, name: &str, reason: &str, outputs: NodeOutputs) {
        let Some(managed) = self.nodes.started_mut(name) else {
            return;
        };
        managed.pid = None;
        let message = with_stderr(format!("node {name} failed: {reason}"), &outputs);
        managed.failure = Some(message.clone());
        self.publish_exit(name, &outputs);
        self.outputs.insert(name.to_owned(), outputs);
        self.set_state(name, State::Failed);
        self.notify_error(message, name);
        self.continue_deploy();
    }
}

/// `message`, followed by the node's last stderr lines when it has any.
fn with_stderr(mut message: String, outputs: &NodeOutputs) -> String {
    if !outputs.stderr.is_empty() {
        message.push_str("; last stderr lines:\n");
        message.push_str(&outputs.stderr);
    }
    message
}

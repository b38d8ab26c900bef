//! What the engine asks of a Supervisor, and what a Supervisor reports back.
//!
//! The engine never starts a process. It emits [`SupervisorCommand`]s and
//! consumes [`Report`]s. Two backends carry them out:
//! - the built-in process supervisor (`"supervisor": {"kind": "process"}`),
//!   which runs real child processes and feeds reports back in;
//! - a Zeek Supervisor reached through `SupervisorControl` events
//!   (`{"kind": "host"}`): [`host`] turns commands into request events and
//!   response events back into reports. The engine does that translation
//!   itself in host mode, so the host only moves events.

pub mod host;

use crate::model::{NodeConfig, NodeOutputs, SupervisorStatus};

/// Identifies one command so that its answer can be matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u64);

/// One thing for the Supervisor to do (the four SupervisorControl requests).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Start a node. Its working directory is `node.directory`; the backend
    /// creates it if missing.
    Create(Box<NodeConfig>),
    /// Stop a node and forget it.
    Destroy { node: String },
    /// Stop a node and start it again with the same configuration.
    Restart { node: String },
    /// Report every supervised node (`node` is `""`) or one.
    Status { node: String },
}

impl Command {
    /// A short description for logs (`create worker-01`).
    pub fn describe(&self) -> String {
        match self {
            Command::Create(node) => format!("create {}", node.name),
            Command::Destroy { node } => format!("destroy {node}"),
            Command::Restart { node } => format!("restart {node}"),
            Command::Status { node } if node.is_empty() => "status of all nodes".to_owned(),
            Command::Status { node } => format!("status {node}"),
        }
    }
}

/// A command with its id.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorCommand {
    pub id: CommandId,
    pub command: Command,
}

/// What a Supervisor tells the engine: answers to commands, and (from the
/// process supervisor) what happened to nodes on their own.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// Answer to `Create`: `error` is `None` on success.
    Created {
        id: CommandId,
        error: Option<String>,
    },
    /// Answer to `Destroy`.
    Destroyed { id: CommandId, ok: bool },
    /// Answer to `Restart`.
    Restarted { id: CommandId, ok: bool },
    /// Answer to `Status`.
    Status {
        id: CommandId,
        status: SupervisorStatus,
    },
    /// A node's recent output from a past life (`notify_node_exit`).
    NodeOutput { node: String, outputs: NodeOutputs },
    /// A node's process started (first start or restart).
    NodeSpawned { node: String, pid: i64 },
    /// A node counts as ready without a hello (`node_ready: "spawn"`).
    NodeReady { node: String },
    /// A node exited without being asked to; it will be restarted. If it
    /// had not become ready, a deploy carrying it out counts it as failed.
    NodeCrashed {
        node: String,
        /// How it ended: `exit status 1`, `killed by signal 9`.
        reason: String,
        outputs: NodeOutputs,
    },
    /// A node will not be restarted any more (it kept dying before it
    /// became ready).
    NodeFailed {
        node: String,
        reason: String,
        outputs: NodeOutputs,
    },
}

//! Supervisor commands waiting for their answers.
//!
//! Every command the engine sends is remembered with what its answer is
//! for ([`Pending`]). The commands a deploy waits on (the status round trip
//! and the destroys of its teardown) also get a deadline, so that a
//! Supervisor that never answers cannot hold deploys up for good. A
//! command is forgotten when it is answered, when its deadline passes, or
//! when the request it served is over; a late answer is then ignored.

use std::collections::{BTreeMap, HashMap};

use super::agent::Engine;
use super::config::SupervisorKind;
use super::output::{LogLevel, Output};
use super::timers::{Timer, TimerKey};
use crate::supervisor::{host, Command, CommandId, SupervisorCommand};

/// What a supervisor command is waiting to do with its answer.
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    /// The status round trip that starts a deploy's teardown (Zeek >= 5.0).
    DeployStatus {
        op: u64,
    },
    /// Destroying a node; the deploy `op` waits for it.
    Destroy {
        op: u64,
        node: String,
    },
    Create {
        node: String,
    },
    Restart {
        reqid: String,
        node: String,
        /// The create command of the process being restarted: a newer
        /// deploy may have replaced the node by the time the answer comes.
        create: Option<CommandId>,
    },
    GetNodesStatus {
        reqid: String,
    },
}

#[derive(Default)]
pub(crate) struct Commands {
    pending: BTreeMap<CommandId, Pending>,
    deadlines: HashMap<CommandId, TimerKey>,
    /// Node name -> its destroy in flight.
    destroying: HashMap<String, CommandId>,
}

impl Commands {
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn get(&self, id: CommandId) -> Option<&Pending> {
        self.pending.get(&id)
    }

    /// Whether a destroy of `node` is in flight.
    pub(crate) fn destroying(&self, node: &str) -> bool {
        self.destroying.contains_key(node)
    }

    /// Hands every destroy in flight to deploy `op` (a newer deploy waits
    /// for them too); returns their ids.
    pub(crate) fn adopt_destroys(&mut self, op: u64) -> Vec<CommandId> {
        let mut ids = Vec::with_capacity(self.destroying.len());
        for id in self.destroying.values() {
            if let Some(Pending::Destroy { op: owner, .. }) = self.pending.get_mut(id) {
                *owner = op;
                ids.push(*id);
            }
        }
        ids
    }

    fn insert(&mut self, id: CommandId, pending: Pending) {
        if let Pending::Destroy { node, .. } = &pending {
            self.destroying.insert(node.clone(), id);
        }
        self.pending.insert(id, pending);
    }

    /// Forgets a command; returns it and the deadline to cancel, if any.
    fn remove(&mut self, id: CommandId) -> Option<(Pending, Option<TimerKey>)> {
        let pending = self.pending.remove(&id)?;
        if let Pending::Destroy { node, .. } = &pending {
            if self.destroying.get(node) == Some(&id) {
                self.destroying.remove(node);
            }
        }
        Some((pending, self.deadlines.remove(&id)))
    }
}

impl Engine {
    /// Sends a supervisor command, remembering what its answer is for.
    pub(crate) fn command(&mut self, command: Command, pending: Pending) -> CommandId {
        let id = CommandId(self.next_id());
        self.commands.insert(id, pending);
        let command = SupervisorCommand { id, command };
        match self.cfg.supervisor {
            SupervisorKind::Process => {
                let what = command.command.describe();
                self.log(
                    LogLevel::Debug,
                    format!("supervisor command {}: {what}", id.0),
                );
                self.push_output(Output::Supervisor(command));
            }
            SupervisorKind::Host { .. } => {
                let event = host::command_event(&self.cfg.id_prefix, &command);
                self.publish(host::SUPERVISOR_TOPIC, event);
            }
        }
        id
    }

    /// Like [`Engine::command`], for commands a deploy waits on: if no
    /// answer comes within `supervisor_timeout_ms`, the deploy goes on.
    pub(crate) fn command_with_deadline(
        &mut self,
        command: Command,
        pending: Pending,
    ) -> CommandId {
        let id = self.command(command, pending);
        let at = self.now.plus_millis(self.cfg.supervisor_timeout_ms);
        let timer = self.timers.add(at, Timer::Command(id));
        self.commands.deadlines.insert(id, timer);
        id
    }

    /// Takes the pending command `id` for its answer, if it is of the
    /// expected kind; an answer of the wrong kind is logged and ignored.
    pub(crate) fn take_pending(
        &mut self,
        id: CommandId,
        expected: fn(&Pending) -> bool,
    ) -> Option<Pending> {
        match self.commands.get(id) {
            Some(p) if expected(p) => {}
            Some(p) => {
                let p = format!("{p:?}");
                self.log(
                    LogLevel::Warning,
                    format!("supervisor answer {} does not fit its command {p}", id.0),
                );
                return None;
            }
            None => {
                self.log(
                    LogLevel::Debug,
                    format!("supervisor answer {} for no pending command", id.0),
                );
                return None;
            }
        }
        let (pending, deadline) = self.commands.remove(id)?;
        if let Some(timer) = deadline {
            self.timers.cancel(timer);
        }
        Some(pending)
    }

    /// Stops waiting for a command's answer (its request is over).
    pub(crate) fn forget_command(&mut self, id: CommandId) {
        if let Some((_, Some(timer))) = self.commands.remove(id) {
            self.timers.cancel(timer);
        }
    }

    /// A command's deadline passed: forget it and let its deploy go on.
    pub(crate) fn on_command_timeout(&mut self, id: CommandId) {
        if let Some((pending, _)) = self.commands.remove(id) {
            self.on_unanswered(id, pending);
        }
    }
}

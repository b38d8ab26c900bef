//! `restart_request` (Zeek >= 5.0): restart nodes through the Supervisor.
//!
//! Nodes are restarted one command each, never with "all" (that would hit
//! the agent and controller when they are supervised too). Each node is
//! PENDING until it checks in again; if the Supervisor cannot restart it,
//! it goes back to the state it had. A node this configuration has not
//! started (it waits for the old one to go, or could not be created) has
//! nothing to restart and is answered at once.

use std::collections::{BTreeMap, BTreeSet};

use super::agent::Engine;
use super::commands::Pending;
use super::nodes::ManagedNode;
use super::requests::{RequestKind, RestartState};
use crate::model::{ResultRecord, State};
use crate::supervisor::{Command, CommandId};
use crate::wire::{Encoding, Event};

impl Engine {
    pub(crate) fn on_restart_request(
        &mut self,
        reqid: String,
        nodes: BTreeSet<String>,
        encoding: Encoding,
    ) {
        let mut results = Vec::new();
        let mut pending = BTreeMap::new();
        for node in self.target_nodes(&nodes) {
            let Some((previous, create)) = self
                .nodes
                .started_mut(&node)
                .map(|m| (m.node.state, m.create))
            else {
                results.push(
                    ResultRecord::failure(
                        &reqid,
                        &self.cfg.name,
                        format!("could not restart node {node}"),
                    )
                    .for_node(&node),
                );
                continue;
            };
            let command = self.command(
                Command::Restart { node: node.clone() },
                Pending::Restart {
                    reqid: reqid.clone(),
                    node: node.clone(),
                    create,
                },
            );
            self.set_state(&node, State::Pending);
            pending.insert(node, (command, previous));
        }
        if pending.is_empty() {
            // No overlap, no nodes, or none started: answer now.
            self.answer(encoding, Event::RestartResponse { reqid, results });
            return;
        }
        self.register_request(
            &reqid,
            RequestKind::Restart(RestartState { pending, results }),
            encoding,
        );
    }

    pub(crate) fn on_restarted(&mut self, id: CommandId, ok: bool) {
        let Some(Pending::Restart {
            reqid,
            node,
            create,
        }) = self.take_pending(id, |p| matches!(p, Pending::Restart { .. }))
        else {
            return;
        };
        let name = self.cfg.name.clone();
        let Some(RequestKind::Restart(state)) = self.requests.get_mut(&reqid).map(|r| &mut r.kind)
        else {
            return; // the request timed out already
        };
        let Some((_, previous)) = state.pending.remove(&node) else {
            return;
        };
        state.results.push(if ok {
            ResultRecord::success(&reqid, &name).for_node(&node)
        } else {
            ResultRecord::failure(&reqid, &name, format!("could not restart node {node}"))
                .for_node(&node)
        });
        let done = state.pending.is_empty();
        // The answer is about the process the restart was for; a newer
        // deploy may have replaced it with a node of the same name since.
        let restarted = |m: &&mut ManagedNode| m.create == create;
        if ok {
            if let Some(managed) = self.nodes.started_mut(&node).filter(restarted) {
                managed.restarts += 1;
                managed.failure = None;
            }
        } else {
            self.notify_error(format!("failed to restart node {node}"), &node);
            // Unless something else happened to it meanwhile, it is as it was.
            if self
                .nodes
                .started_mut(&node)
                .filter(restarted)
                .is_some_and(|m| m.node.state == State::Pending)
            {
                self.set_state(&node, previous);
                self.continue_deploy();
            }
        }
        if done {
            self.answer_restart(&reqid, None);
        }
    }

    pub(crate) fn on_restart_timeout(&mut self, reqid: &str) {
        let timeout = ResultRecord::failure(reqid, &self.cfg.name, "request timed out");
        self.answer_restart(reqid, Some(timeout));
    }

    fn answer_restart(&mut self, reqid: &str, extra: Option<ResultRecord>) {
        let Some(request) = self.finish_request(reqid) else {
            return;
        };
        let RequestKind::Restart(state) = request.kind else {
            return;
        };
        for (command, _) in state.pending.values() {
            self.forget_command(*command);
        }
        let mut results = state.results;
        results.extend(extra);
        self.answer(
            request.encoding,
            Event::RestartResponse {
                reqid: reqid.to_owned(),
                results,
            },
        );
    }
}

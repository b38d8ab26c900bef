//! `restart_request` (Zeek >= 5.0): restart nodes through the Supervisor.
//!
//! Nodes are restarted one command each, never with "all" (that would hit
//! the agent and controller when they are supervised too). Each node is
//! PENDING until it checks in again.

use std::collections::{BTreeMap, BTreeSet};

use super::agent::{Engine, Pending};
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
        let targets = self.target_nodes(&nodes);
        if targets.is_empty() {
            self.answer(
                encoding,
                Event::RestartResponse {
                    reqid,
                    results: Vec::new(),
                },
            );
            return;
        }
        let mut pending = BTreeMap::new();
        for node in targets {
            let command = self.command(
                Command::Restart { node: node.clone() },
                Pending::Restart {
                    reqid: reqid.clone(),
                    node: node.clone(),
                },
            );
            // A node not created yet has nothing to restart; the Supervisor
            // will say so, and its state stays as it is.
            let created = self
                .nodes
                .managed
                .get_mut(&node)
                .filter(|m| m.create.is_some());
            if let Some(managed) = created {
                managed.failure = None;
                self.set_state(&node, State::Pending);
            }
            pending.insert(node, command);
        }
        self.register_request(
            &reqid,
            RequestKind::Restart(RestartState {
                pending,
                results: Vec::new(),
            }),
            encoding,
        );
    }

    pub(crate) fn on_restarted(&mut self, id: CommandId, ok: bool) {
        let Some(Pending::Restart { reqid, node }) =
            self.take_pending(id, |p| matches!(p, Pending::Restart { .. }))
        else {
            return;
        };
        if ok {
            if let Some(managed) = self.nodes.managed.get_mut(&node) {
                managed.restarts += 1;
            }
        } else {
            self.notify_error(format!("failed to restart node {node}"), &node);
        }
        let name = self.cfg.name.clone();
        let Some(RequestKind::Restart(state)) = self.requests.get_mut(&reqid).map(|r| &mut r.kind)
        else {
            return; // the request timed out already
        };
        state.pending.remove(&node);
        state.results.push(if ok {
            ResultRecord::success(&reqid, &name).for_node(&node)
        } else {
            ResultRecord::failure(&reqid, &name, format!("could not restart node {node}"))
                .for_node(&node)
        });
        if state.pending.is_empty() {
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
        for command in state.pending.values() {
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

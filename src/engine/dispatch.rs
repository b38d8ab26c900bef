//! `node_dispatch_request`: relay an action to this agent's nodes and
//! gather their answers.
//!
//! One `Management::Node::API::node_dispatch_request` goes out on
//! `zeek/management/node` with a fresh request id, naming exactly the
//! targeted running nodes (Zeek passes the controller's set through; an
//! empty set would make every node answer). Answers from nodes not asked,
//! or asked and already answered, are ignored. On timeout each silent node
//! gets a failed result (**beyond Zeek**, which lets the controller time out).

use std::collections::BTreeSet;

use super::agent::{Engine, NODE_TOPIC};
use super::output::LogLevel;
use super::requests::{DispatchState, RequestKind};
use crate::model::{ResultRecord, State};
use crate::wire::{Encoding, Event};

impl Engine {
    /// The managed nodes a request targets: those of `nodes` this agent
    /// runs, or all of them when `nodes` is empty.
    pub(crate) fn target_nodes(&self, nodes: &BTreeSet<String>) -> BTreeSet<String> {
        if nodes.is_empty() {
            self.nodes.managed.keys().cloned().collect()
        } else {
            nodes
                .iter()
                .filter(|n| self.nodes.managed.contains_key(n.as_str()))
                .cloned()
                .collect()
        }
    }

    pub(crate) fn on_dispatch_request(
        &mut self,
        reqid: String,
        action: Vec<String>,
        nodes: BTreeSet<String>,
        encoding: Encoding,
    ) {
        let targets = self.target_nodes(&nodes);
        let mut results = Vec::new();
        let mut running = BTreeSet::new();
        for name in targets {
            if self
                .nodes
                .managed
                .get(&name)
                .is_some_and(|m| m.node.state == State::Running)
            {
                running.insert(name);
            } else {
                results.push(
                    ResultRecord::failure(
                        &reqid,
                        &self.cfg.name,
                        format!("cluster node {name} not in running state"),
                    )
                    .for_node(&name),
                );
            }
        }
        if running.is_empty() {
            // No overlap, no nodes, or none running: answer now.
            self.answer(encoding, Event::NodeDispatchResponse { reqid, results });
            return;
        }
        let child = self.fresh_request_id();
        self.publish(
            NODE_TOPIC,
            Event::NodeApiDispatchRequest {
                reqid: child.clone(),
                action,
                nodes: running.clone(),
            },
        );
        self.dispatches.insert(child.clone(), reqid.clone());
        self.register_request(
            &reqid,
            RequestKind::Dispatch(DispatchState {
                child,
                pending: running,
                results,
            }),
            encoding,
        );
    }

    pub(crate) fn on_node_dispatch_response(&mut self, child: &str, mut result: ResultRecord) {
        let Some(parent) = self.dispatches.get(child).cloned() else {
            self.log(
                LogLevel::Debug,
                format!("dispatch response {child} for no pending dispatch, ignored"),
            );
            return;
        };
        let Some(RequestKind::Dispatch(state)) =
            self.requests.get_mut(&parent).map(|r| &mut r.kind)
        else {
            return;
        };
        let responder = result.node.clone().unwrap_or_default();
        if !state.pending.remove(&responder) {
            self.log(
                LogLevel::Debug,
                format!("dispatch response {child} from unexpected or repeated node '{responder}', ignored"),
            );
            return;
        }
        // Nodes do not know their instance; the agent fills it in.
        result.instance = Some(self.cfg.name.clone());
        state.results.push(result);
        if state.pending.is_empty() {
            self.dispatches.remove(child);
            self.answer_dispatch(&parent, Vec::new());
        }
    }

    pub(crate) fn on_dispatch_timeout(&mut self, reqid: &str) {
        let Some(RequestKind::Dispatch(state)) = self.requests.get(reqid).map(|r| &r.kind) else {
            return;
        };
        let silent: Vec<ResultRecord> = state
            .pending
            .iter()
            .map(|node| {
                ResultRecord::failure(reqid, &self.cfg.name, "request timed out").for_node(node)
            })
            .collect();
        let child = state.child.clone();
        self.dispatches.remove(&child);
        self.answer_dispatch(reqid, silent);
    }

    fn answer_dispatch(&mut self, reqid: &str, extra: Vec<ResultRecord>) {
        let Some(request) = self.finish_request(reqid) else {
            return;
        };
        let RequestKind::Dispatch(state) = request.kind else {
            return;
        };
        let mut results = state.results;
        results.extend(extra);
        self.answer(
            request.encoding,
            Event::NodeDispatchResponse {
                reqid: reqid.to_owned(),
                results,
            },
        );
    }
}

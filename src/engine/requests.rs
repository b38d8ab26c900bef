//! Controller requests in flight: what each waits for, and its deadline.
//!
//! Every request is answered exactly once: [`Engine::finish_request`]
//! removes it (and its timer) before any answer goes out, and every answer
//! path goes through it.

use std::collections::{BTreeMap, BTreeSet};

use super::agent::Engine;
use super::timers::{Timer, TimerKey};
use crate::model::{ResultRecord, State, Time};
use crate::supervisor::CommandId;
use crate::wire::Encoding;

/// A node dispatch waiting for its nodes' answers.
#[derive(Clone, Debug)]
pub(crate) struct DispatchState {
    /// The request id of the fan-out to the nodes.
    pub(crate) child: String,
    /// Targeted running nodes that have not answered yet.
    pub(crate) pending: BTreeSet<String>,
    pub(crate) results: Vec<ResultRecord>,
}

/// A restart waiting for the Supervisor's answers.
#[derive(Clone, Debug)]
pub(crate) struct RestartState {
    /// Node -> its restart command and the state it had before (restored
    /// if the restart fails).
    pub(crate) pending: BTreeMap<String, (CommandId, State)>,
    pub(crate) results: Vec<ResultRecord>,
}

#[derive(Clone, Debug)]
pub(crate) enum RequestKind {
    SetConfiguration,
    Deploy,
    Standby,
    /// Waiting for the answer to this status command.
    GetNodes(CommandId),
    Dispatch(DispatchState),
    Restart(RestartState),
}

impl RequestKind {
    /// The request's short name without `_request`, as in the state JSON.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            RequestKind::SetConfiguration => "set_configuration",
            RequestKind::Deploy => "deploy",
            RequestKind::Standby => "agent_standby",
            RequestKind::GetNodes(_) => "get_nodes",
            RequestKind::Dispatch(_) => "node_dispatch",
            RequestKind::Restart(_) => "restart",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) kind: RequestKind,
    pub(crate) deadline: Time,
    /// The encoding the request came in (answers use it under `"auto"`).
    pub(crate) encoding: Encoding,
    timer: TimerKey,
}

pub(crate) type Requests = BTreeMap<String, Request>;

impl Engine {
    /// Whether a request with this id is in flight at `now` (one whose
    /// deadline has passed is about to be answered and no longer counts).
    pub(crate) fn request_in_flight(&self, reqid: &str, now: Time) -> bool {
        self.requests.get(reqid).is_some_and(|r| r.deadline > now)
    }

    /// Starts tracking a request; it times out `request_timeout_ms` from now.
    pub(crate) fn register_request(&mut self, reqid: &str, kind: RequestKind, encoding: Encoding) {
        let deadline = self.now.plus_millis(self.cfg.request_timeout_ms);
        let timer = self.timers.add(deadline, Timer::Request(reqid.to_owned()));
        self.requests.insert(
            reqid.to_owned(),
            Request {
                kind,
                deadline,
                encoding,
                timer,
            },
        );
    }

    /// Stops tracking a request, returning it for its one answer.
    pub(crate) fn finish_request(&mut self, reqid: &str) -> Option<Request> {
        let request = self.requests.remove(reqid)?;
        self.timers.cancel(request.timer);
        Some(request)
    }
}

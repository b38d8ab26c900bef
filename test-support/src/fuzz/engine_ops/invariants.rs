//! The invariants: each output of the engine checked as it comes out, the
//! state checked after every step, and at the end every accepted request
//! answered once.

use std::collections::BTreeSet;

use serde_json::Value as J;
use zeek_mgmt_agent::engine::{Channel, Output};
use zeek_mgmt_agent::model::{ClusterRole, State, ZeekEnum};
use zeek_mgmt_agent::supervisor::host;
use zeek_mgmt_agent::wire::{decode, encode, Encoding, Event, EventName};

use crate::clock;

use super::model::*;
use super::simulator::*;

impl Runner {
    /// Takes the engine's outputs, checking each.
    pub(super) fn absorb(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Event(out) => {
                    if tracing() {
                        eprintln!("   out {:?}: {}", out.channel, out.to_json());
                    }
                    if out.dialect != self.dialect {
                        self.fail("an event in another dialect");
                    }
                    if let Some(fixed) = match self.outbound {
                        OutChoice::Broker => Some(Encoding::Broker),
                        OutChoice::Plain => Some(Encoding::Plain),
                        OutChoice::Auto => None,
                    } {
                        if out.encoding != fixed {
                            self.fail("an event ignores the fixed encoding");
                        }
                    }
                    // The JSON decodes, and is a fixed point of the round trip.
                    let json = out.to_json();
                    let decoded = decode(json.as_bytes(), &relaxed()).unwrap_or_else(|e| {
                        self.fail(&format!("output does not decode: {e}\n{json}"))
                    });
                    if decoded.encoding != out.encoding
                        || encode(&decoded.event, &out.topic, out.encoding, out.dialect) != json
                    {
                        self.fail(&format!("output does not round-trip: {json}"));
                    }
                    self.on_event(out.channel, &out.topic, out.encoding, out.event);
                }
                Output::Supervisor(command) => {
                    if tracing() {
                        eprintln!(
                            "   command {}: {}",
                            command.id.0,
                            command.command.describe()
                        );
                    }
                    if self.host {
                        self.fail("a process supervisor command with a host Supervisor");
                    }
                    self.command(command.id, command.command);
                }
                Output::EnsureDirectory { node, path } => {
                    if !self.host || !path.ends_with(&format!("/nodes/{node}")) {
                        self.fail(&format!("unexpected directory {path} for {node}"));
                    }
                }
                Output::Log(record) => {
                    if record.message.is_empty() {
                        self.fail("an empty log line");
                    }
                }
                Output::NodeReady { node } => {
                    if tracing() {
                        eprintln!("   ready {node}");
                    }
                    if self.host {
                        self.fail("a readiness notice with a host Supervisor");
                    }
                    self.step_ready.push(node);
                }
            }
        }
    }

    pub(super) fn on_event(
        &mut self,
        channel: Channel,
        topic: &str,
        encoding: Encoding,
        event: Event,
    ) {
        let agent_topic = "zeek/management/agent/instance-1";
        match channel {
            Channel::Response => {
                if topic != agent_topic {
                    self.fail(&format!("a response on {topic}"));
                }
                let name = event.name();
                let Some(reqid) = event.reqid() else {
                    self.fail(&format!("a response without reqid: {event:?}"));
                };
                let Some(index) = self
                    .open
                    .iter()
                    .position(|o| o.reqid == reqid && o.request.response_name() == Some(name))
                else {
                    self.fail(&format!(
                        "{} for reqid {reqid}: no such request open (answered twice?)",
                        name.full()
                    ));
                };
                let open = self.open.remove(index);
                if self.outbound == OutChoice::Auto && encoding != open.encoding {
                    self.fail(&format!("{reqid} answered in another encoding"));
                }
                let results = event.results().unwrap_or_default();
                // No answer comes before the request's deadline unless the
                // request finished: a timeout answer before it is the timer
                // of another request (one answered early, its id reused).
                if self.now < open.deadline
                    && results
                        .iter()
                        .any(|r| r.error.as_deref() == Some("request timed out"))
                {
                    self.fail(&format!(
                        "{reqid} answered 'request timed out' at {}, before its deadline {}",
                        self.now, open.deadline
                    ));
                }
                // Only dispatches to nobody and restarts of nothing are
                // answered without results.
                if results.is_empty()
                    && !matches!(
                        name,
                        EventName::NodeDispatchResponse | EventName::RestartResponse
                    )
                {
                    self.fail(&format!("{} without results", name.full()));
                }
                // Dispatch results are the nodes' own, with the fan-out's id.
                if name != EventName::NodeDispatchResponse
                    && results.iter().any(|r| r.reqid != reqid)
                {
                    self.fail(&format!("a result of {reqid} names another request"));
                }
            }
            Channel::Notification => {
                if topic != agent_topic {
                    self.fail(&format!("a notification on {topic}"));
                }
                match &event {
                    Event::NotifyChange { node, old, new, .. } => {
                        if *new == State::Running {
                            self.step_running.push(node.name.clone());
                        }
                        // RUNNING only on a check-in (hello, readiness),
                        // CRASHED and FAILED only on a report about the
                        // current process, or back to one of them after a
                        // failed restart of that process.
                        if matches!(new, State::Running | State::Crashed | State::Failed)
                            && !self.may.contains(&(node.name.clone(), *new))
                        {
                            self.fail(&format!(
                                "{} became {} without a report about its current process",
                                node.name,
                                new.name()
                            ));
                        }
                        if old == new || node.state != *new {
                            self.fail(&format!(
                                "notify_change {} {} -> {} (node says {})",
                                node.name,
                                old.name(),
                                new.name(),
                                node.state.name()
                            ));
                        }
                    }
                    Event::NotifyAgentHello(_)
                    | Event::NotifyError { .. }
                    | Event::NotifyLog { .. } => {}
                    other => self.fail(&format!("notification {other:?}")),
                }
            }
            Channel::Publish => match event {
                Event::NodeApiDispatchRequest { reqid, nodes, .. } => {
                    if topic != NODE_TOPIC || nodes.is_empty() {
                        self.fail("a node dispatch fan-out on the wrong topic or to nobody");
                    }
                    self.fanouts.push((reqid, nodes.into_iter().collect()));
                }
                Event::NotifyNodeExit { .. } => {}
                Event::SupervisorCreateRequest { .. }
                | Event::SupervisorDestroyRequest { .. }
                | Event::SupervisorRestartRequest { .. }
                | Event::SupervisorStatusRequest { .. } => {
                    if !self.host || topic != host::SUPERVISOR_TOPIC {
                        self.fail("SupervisorControl traffic without a host Supervisor");
                    }
                    let Some(command) = host::command_from_event(ID_PREFIX, &event) else {
                        let reqid = event.reqid().unwrap_or_default();
                        self.fail(&format!("a Supervisor request id not ours: {reqid}"));
                    };
                    let (id, command) = (command.id, command.command);
                    self.command(id, command);
                }
                other => self.fail(&format!("published {other:?}")),
            },
        }
    }

    /// The invariants that hold after every step.
    pub(super) fn check(&mut self, fired: bool) {
        let state = self.engine.state();
        let text = state.to_json();
        let json: J = serde_json::from_str(&text)
            .unwrap_or_else(|e| self.fail(&format!("state JSON does not parse: {e}")));
        for key in ["name", "dialect", "config_id", "nodes", "pending_requests"] {
            if json.get(key).is_none() {
                self.fail(&format!("state JSON without '{key}'"));
            }
        }
        if json["name"] != AGENT || json["dialect"] != self.dialect.name() {
            self.fail("state JSON name or dialect");
        }
        if !(json["config_id"].is_null() || json["config_id"].is_string()) {
            self.fail("state JSON config_id");
        }
        let mut names = BTreeSet::new();
        for node in json["nodes"].as_array().unwrap_or(&Vec::new()) {
            let name = node["name"].as_str().unwrap_or_default().to_owned();
            let known = node["state"]
                .as_str()
                .is_some_and(|s| State::ALL.iter().any(|v| v.name() == s));
            let role = node["role"]
                .as_str()
                .is_some_and(|s| ClusterRole::ALL.iter().any(|v| v.name() == s));
            if !known || !role || !names.insert(name.clone()) {
                self.fail(&format!(
                    "state JSON node {node}: unknown state or listed twice"
                ));
            }
        }
        if !json["nodes"].is_array() || !json["pending_requests"].is_array() {
            self.fail("state JSON nodes / pending_requests not arrays");
        }

        // The requests the engine holds are exactly those accepted and not
        // answered (none lost, none replaced by a request of the same id).
        let mut pending: Vec<(String, String)> = state
            .pending_requests
            .iter()
            .map(|r| (r.id.clone(), r.kind.to_owned()))
            .collect();
        let mut open: Vec<(String, String)> = self
            .open
            .iter()
            .filter_map(|o| state_kind(o.request).map(|k| (o.reqid.clone(), k.to_owned())))
            .collect();
        pending.sort();
        open.sort();
        if pending != open || self.open.iter().any(|o| state_kind(o.request).is_none()) {
            self.fail(&format!(
                "requests held {pending:?} != requests accepted and unanswered {open:?}"
            ));
        }

        // No timer lost: every pending request's deadline is covered by
        // poll_timeout, and once the host fired everything due nothing is
        // overdue.
        let poll = self.engine.poll_timeout();
        for r in &state.pending_requests {
            if !poll.is_some_and(|p| p.as_millis() <= r.deadline_ms) {
                self.fail(&format!(
                    "request {} due at {} but poll_timeout is {poll:?}",
                    r.id, r.deadline_ms
                ));
            }
            if fired && r.deadline_ms <= self.now.as_millis() {
                self.fail(&format!("request {} overdue after handle_timeout", r.id));
            }
        }
        if fired && poll.is_some_and(|p| p <= self.now) {
            self.fail(&format!(
                "poll_timeout {poll:?} still due at {} after handle_timeout",
                self.now
            ));
        }
    }

    /// Lets time run until no timer is left (the clock driver, with the
    /// step's invariants checked at every wakeup; the simulated Supervisor
    /// answers nothing more): every accepted request must then have had
    /// its one answer.
    pub(super) fn drain(&mut self) {
        if clock::drive(self, 1000).is_err() {
            self.fail("timers keep firing");
        }
        if !self.open.is_empty() || !self.engine.state().pending_requests.is_empty() {
            self.fail("requests never answered");
        }
    }
}

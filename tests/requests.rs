//! get_nodes, node_dispatch, restart, welcome, standby, and the refusals.

use std::collections::BTreeSet;

use test_support::harness::*;
use zeek_mgmt_agent::engine::{AgentError, Channel, RefusalKind, Time, NODE_TOPIC};
use zeek_mgmt_agent::model::{
    ClusterRole, NodeStatus, Port, ResultData, ResultRecord, Role, State,
};
use zeek_mgmt_agent::supervisor::{Command, Report};
use zeek_mgmt_agent::wire::{Dialect, Encoding, Event};

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn deployed(dialect: Dialect, encoding: Encoding, sup: Sup) -> Harness {
    let mut h = Harness::new(dialect, encoding, sup);
    h.deploy_all("r0", &mini("c1"));
    h.clear_sent();
    h
}

fn statuses(event: &Event) -> Vec<NodeStatus> {
    match &result(event).data {
        Some(ResultData::NodeStatuses(s)) => s.clone(),
        other => panic!("no NodeStatus vector: {other:?}"),
    }
}

#[test]
fn with_the_process_supervisor_and_list_self_get_nodes_lists_the_agent_itself() {
    // A Zeek Supervisor lists the agent as one of its nodes; the process
    // supervisor does not run the agent, which then lists itself when its
    // host asks (`list_self`, the runtime sets `host_pid`), as Zeek's
    // agent appears in get_nodes.
    for ((dialect, encoding, sup), host_pid) in variants()
        .into_iter()
        .flat_map(|v| [(v, Some(4242)), (v, None)])
    {
        let mut cfg = agent_config(dialect, sup);
        cfg.host_pid = host_pid;
        let mut h = Harness::with_config(cfg, encoding);
        h.deploy_all("r0", &mini("c1"));
        h.send(Event::GetNodesRequest { reqid: "g1".into() });
        h.run_supervisor();
        let got = statuses(&h.response("g1").expect("answered").event);
        let names: Vec<_> = got.iter().map(|s| s.node.as_str()).collect();
        let agent = got.iter().find(|s| s.node == AGENT);
        match sup {
            Sup::Process if host_pid.is_none() => assert_eq!(agent, None, "{}", h.label()),
            Sup::Process => {
                assert_eq!(
                    names,
                    [AGENT, "logger-01", "manager", "worker-01", "worker-02"],
                    "{}",
                    h.label()
                );
                let mut me = NodeStatus::new(AGENT, State::Running);
                me.mgmt_role = Role::Agent;
                me.pid = Some(4242);
                assert_eq!(agent, Some(&me), "{}", h.label());
            }
            // Only what the Supervisor's status lists (the simulated one
            // lists no management node here).
            Sup::Host => assert_eq!(agent, None, "{}", h.label()),
        }
    }
}

#[test]
fn get_nodes_reports_every_supervised_process() {
    for (dialect, encoding, sup) in variants() {
        let mut h = deployed(dialect, encoding, sup);
        h.supervisor
            .management
            .insert("controller".into(), "CONTROLLER".into());
        h.supervisor
            .management
            .insert("instance-1-agent".into(), "AGENT".into());
        h.send(Event::RestartRequest {
            reqid: "rs".into(),
            nodes: set(&["worker-02"]),
        });
        h.run_supervisor(); // worker-02 now PENDING again
        h.send(Event::GetNodesRequest { reqid: "g1".into() });
        assert!(
            h.response("g1").is_none(),
            "{}: waits for the Supervisor",
            h.label()
        );
        h.run_supervisor();
        let answer = h.response("g1").expect("answered");
        let r = result(&answer.event);
        assert_eq!(
            (r.success, r.instance.as_deref(), r.reqid.as_str()),
            (true, Some(AGENT), "g1")
        );
        let got = statuses(&answer.event);
        let names: Vec<_> = got.iter().map(|s| s.node.as_str()).collect();
        assert_eq!(
            names,
            [
                "controller",
                "instance-1-agent",
                "logger-01",
                "manager",
                "worker-01",
                "worker-02"
            ]
        );
        let by = |n: &str| got.iter().find(|s| s.node == n).unwrap().clone();
        assert_eq!(
            (
                by("manager").cluster_role,
                by("manager").state,
                by("manager").p,
                by("manager").mgmt_role
            ),
            (
                ClusterRole::Manager,
                State::Running,
                Some(Port::tcp(5000)),
                Role::None
            ),
            "{}",
            h.label()
        );
        assert!(by("manager").pid.is_some());
        assert_eq!(
            (by("worker-01").p, by("worker-01").cluster_role),
            (None, ClusterRole::Worker)
        );
        assert_eq!(by("worker-02").state, State::Pending);
        let controller = by("controller");
        assert_eq!(
            (controller.mgmt_role, controller.state, controller.p),
            (Role::Controller, State::Running, Some(Port::tcp(2150)))
        );
        // The agent connects to its controller, so it reports no port.
        let agent = by("instance-1-agent");
        assert_eq!(
            (agent.mgmt_role, agent.state, agent.p),
            (Role::Agent, State::Running, None)
        );
    }
}

#[test]
fn a_listening_agent_reports_its_port() {
    let mut cfg = agent_config(Dialect::Zeek7, Sup::Host);
    cfg.controller_address = "0.0.0.0".parse().unwrap();
    let mut h = Harness::with_config(cfg, Encoding::Broker);
    h.supervisor
        .management
        .insert("agent".into(), "AGENT".into());
    h.send(Event::GetNodesRequest { reqid: "g1".into() });
    h.run_supervisor();
    let got = statuses(&h.response("g1").unwrap().event);
    assert_eq!(got[0].p, Some(Port::tcp(2151)));
}

#[test]
fn get_nodes_times_out_with_one_failed_result() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.send(Event::GetNodesRequest { reqid: "g1".into() });
        h.advance(4999);
        assert!(h.response("g1").is_none());
        h.advance(1);
        let r = result(&h.response("g1").unwrap().event).clone();
        assert_eq!(
            (r.success, r.error.as_deref(), r.data),
            (false, Some("request timed out"), None),
            "{}",
            h.label()
        );
        h.run_supervisor(); // the late status is ignored
        assert_eq!(h.responses().len(), 1);
    }
}

#[test]
fn dispatch_fans_out_once_to_the_running_targets_and_fans_in() {
    for (dialect, encoding, sup) in variants() {
        let mut h = deployed(dialect, encoding, sup);
        h.send(Event::RestartRequest {
            reqid: "rs".into(),
            nodes: set(&["worker-02"]),
        });
        h.run_supervisor();
        let action = vec!["get_id_value".to_owned(), "Cluster::node".to_owned()];
        h.send(Event::NodeDispatchRequest {
            reqid: "d1".into(),
            action: action.clone(),
            nodes: BTreeSet::new(),
        });
        assert_eq!(h.node_requests.len(), 1, "{}", h.label());
        let out = h
            .sent
            .iter()
            .find(|s| s.topic == NODE_TOPIC)
            .unwrap()
            .clone();
        let Event::NodeApiDispatchRequest {
            reqid: child,
            action: sent_action,
            nodes,
        } = &out.event
        else {
            panic!()
        };
        assert_eq!(sent_action, &action);
        assert_eq!(
            nodes,
            &set(&["logger-01", "manager", "worker-01"]),
            "only running nodes, named"
        );
        assert_ne!(child, "d1");
        let answer = |node: &str, data: &str| Event::NodeApiDispatchResponse {
            reqid: child.clone(),
            result: ResultRecord {
                reqid: child.clone(),
                success: true,
                instance: None,
                data: Some(ResultData::String(data.into())),
                error: None,
                node: Some(node.into()),
            },
        };
        h.send(answer("manager", "\"manager\""));
        h.send(answer("manager", "\"again\"")); // duplicate: ignored
        h.send(answer("stranger", "\"x\"")); // unknown: ignored
        h.send(answer("logger-01", "\"logger-01\""));
        assert!(h.response("d1").is_none());
        h.send(answer("worker-01", "\"worker-01\""));
        let rs = results(&h.response("d1").unwrap().event).to_vec();
        assert_eq!(
            summary(&rs),
            vec![
                (
                    Some("worker-02".into()),
                    false,
                    Some("cluster node worker-02 not in running state".into())
                ),
                (Some("manager".into()), true, None),
                (Some("logger-01".into()), true, None),
                (Some("worker-01".into()), true, None),
            ],
            "{}",
            h.label()
        );
        assert!(
            rs.iter().all(|r| r.instance.as_deref() == Some(AGENT)),
            "{}: instance filled in",
            h.label()
        );
        assert_eq!(rs[1].data, Some(ResultData::String("\"manager\"".into())));
        // Answers after the fan-in are ignored; nothing is answered twice.
        h.send(answer("worker-01", "\"late\""));
        h.advance(10_000);
        assert_eq!(
            h.responses().len(),
            2,
            "{}: the restart and the dispatch, nothing more",
            h.label()
        );
    }
}

#[test]
fn dispatch_times_out_per_silent_node() {
    for (dialect, encoding, sup) in variants() {
        let mut h = deployed(dialect, encoding, sup);
        let action = vec!["get_id_value".to_owned(), "Cluster::node".to_owned()];
        h.send(Event::NodeDispatchRequest {
            reqid: "d1".into(),
            action,
            nodes: set(&["manager", "worker-01", "nope"]),
        });
        let Event::NodeApiDispatchRequest {
            reqid: child,
            nodes,
            ..
        } = h.node_requests[0].clone()
        else {
            panic!()
        };
        assert_eq!(nodes, set(&["manager", "worker-01"]));
        h.send(Event::NodeApiDispatchResponse {
            reqid: child.clone(),
            result: ResultRecord {
                node: Some("manager".into()),
                ..ResultRecord::success(&child, "")
            },
        });
        h.advance(5000);
        let rs = results(&h.response("d1").unwrap().event).to_vec();
        assert_eq!(
            summary(&rs),
            vec![
                (Some("manager".into()), true, None),
                (
                    Some("worker-01".into()),
                    false,
                    Some("request timed out".into())
                ),
            ],
            "{}",
            h.label()
        );
        assert_eq!(rs[1].instance.as_deref(), Some(AGENT));
    }
}

#[test]
fn dispatch_and_restart_answer_at_once_when_there_is_nothing_to_do() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        let action = vec!["get_id_value".to_owned()];
        h.send(Event::NodeDispatchRequest {
            reqid: "d1".into(),
            action: action.clone(),
            nodes: BTreeSet::new(),
        });
        assert!(
            results(&h.response("d1").unwrap().event).is_empty(),
            "{}: no nodes",
            h.label()
        );
        h.send(Event::RestartRequest {
            reqid: "x1".into(),
            nodes: BTreeSet::new(),
        });
        assert!(results(&h.response("x1").unwrap().event).is_empty());

        h.deploy_all("r0", &mini("c1"));
        h.send(Event::NodeDispatchRequest {
            reqid: "d2".into(),
            action: action.clone(),
            nodes: set(&["elsewhere"]),
        });
        assert!(
            results(&h.response("d2").unwrap().event).is_empty(),
            "{}: no overlap",
            h.label()
        );
        h.send(Event::RestartRequest {
            reqid: "x2".into(),
            nodes: set(&["elsewhere"]),
        });
        assert!(results(&h.response("x2").unwrap().event).is_empty());

        // None running: the not-running failures, at once.
        h.send(Event::RestartRequest {
            reqid: "x3".into(),
            nodes: set(&["worker-01"]),
        });
        h.run_supervisor();
        h.send(Event::NodeDispatchRequest {
            reqid: "d3".into(),
            action,
            nodes: set(&["worker-01"]),
        });
        assert_eq!(
            summary(results(&h.response("d3").unwrap().event)),
            vec![(
                Some("worker-01".into()),
                false,
                Some("cluster node worker-01 not in running state".into())
            )]
        );
        assert!(h.node_requests.is_empty(), "{}", h.label());
    }
}

#[test]
fn restart_goes_node_by_node_through_the_supervisor() {
    for (dialect, encoding, sup) in variants() {
        let mut h = deployed(dialect, encoding, sup);
        h.supervisor.fail_restart.insert("worker-02".into());
        h.send(Event::RestartRequest {
            reqid: "x1".into(),
            nodes: BTreeSet::new(),
        });
        let commands: Vec<_> = h.queue.iter().map(|c| c.command.clone()).collect();
        assert_eq!(
            commands,
            ["logger-01", "manager", "worker-01", "worker-02"]
                .map(|n| Command::Restart { node: n.into() })
                .to_vec(),
            "{}: one per node, never all",
            h.label()
        );
        assert!(h
            .engine
            .state()
            .nodes
            .iter()
            .all(|n| n.state == State::Pending));
        h.run_supervisor();
        let rs = results(&h.response("x1").unwrap().event).to_vec();
        assert_eq!(rs.len(), 4);
        let failed: Vec<_> = rs.iter().filter(|r| !r.success).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0].error.as_deref(),
            Some("could not restart node worker-02")
        );
        assert!(h.notifications().iter().any(
            |e| matches!(e, Event::NotifyError { msg, node, .. } if msg == "failed to restart node worker-02" && node == "worker-02")
        ));
        let state = h.engine.state();
        let restarts: Vec<_> = state.nodes.iter().map(|n| n.restarts).collect();
        assert_eq!(restarts, [1, 1, 1, 0], "{}", h.label());
        h.hello("worker-01");
        assert!(h
            .changes()
            .contains(&("worker-01".into(), "PENDING".into(), "RUNNING".into())));
    }
}

#[test]
fn restart_times_out_with_what_it_has_plus_a_timeout_result() {
    for (dialect, encoding, sup) in variants() {
        let mut h = deployed(dialect, encoding, sup);
        h.send(Event::RestartRequest {
            reqid: "x1".into(),
            nodes: set(&["manager", "worker-01"]),
        });
        h.run_one_command();
        h.advance(5000);
        assert_eq!(
            summary(results(&h.response("x1").unwrap().event)),
            vec![
                (Some("manager".into()), true, None),
                (None, false, Some("request timed out".into()))
            ],
            "{}",
            h.label()
        );
        h.run_supervisor();
        assert_eq!(
            h.responses().len(),
            1,
            "{}: the late answer changes nothing",
            h.label()
        );
    }
}

#[test]
fn welcome_is_answered_at_once() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.send(Event::AgentWelcomeRequest { reqid: "w1".into() });
        let r = result(&h.response("w1").unwrap().event).clone();
        assert_eq!(
            r,
            ResultRecord::success("w1", AGENT).normalized(dialect),
            "{}",
            h.label()
        );
    }
}

trait Normalized {
    fn normalized(self, dialect: Dialect) -> Self;
}

impl Normalized for ResultRecord {
    /// seed results carry `""` for an absent error.
    fn normalized(mut self, dialect: Dialect) -> Self {
        if dialect == Dialect::Seed {
            self.error.get_or_insert_with(String::new);
        }
        self
    }
}

#[test]
fn standby_stops_every_node_and_answers_once_they_are_gone() {
    for (dialect, encoding, sup) in variants() {
        let mut h = deployed(dialect, encoding, sup);
        h.send(Event::AgentStandbyRequest { reqid: "s1".into() });
        assert!(h.response("s1").is_none(), "{}: nodes still up", h.label());
        h.run_supervisor();
        let r = result(&h.response("s1").unwrap().event).clone();
        assert!(r.success, "{}", h.label());
        assert_eq!(
            h.responses().len(),
            1,
            "{}: no response for the internal deploy",
            h.label()
        );
        assert!(h.supervisor.procs.is_empty());
        let state = h.engine.state();
        assert_eq!((state.config_id, state.nodes.len()), (None, 0));
        for n in ["logger-01", "manager", "worker-01", "worker-02"] {
            assert!(h
                .changes()
                .contains(&(n.into(), "RUNNING".into(), "STOPPED".into())));
        }
        // After standby the same configuration deploys again.
        h.deploy_all("r1", &mini("c1"));
        assert_eq!(results(&h.response("r1").unwrap().event).len(), 4);
    }
}

#[test]
fn a_request_id_in_flight_is_refused_and_nothing_happens() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.send(Event::GetNodesRequest { reqid: "g1".into() });
        let before = h.engine.state().to_json();
        let json = zeek_mgmt_agent::wire::encode(
            &Event::RestartRequest {
                reqid: "g1".into(),
                nodes: BTreeSet::new(),
            },
            AGENT_TOPIC,
            encoding,
            dialect,
        );
        match h.send_json(&json) {
            Err(AgentError::Refused(r)) => {
                assert_eq!(r.kind, RefusalKind::DuplicateRequest);
                assert_eq!(
                    r.message,
                    "restart_request: request id 'g1' is already in flight"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.engine.state().to_json(), before);
        // Once answered, the id may be used again.
        h.run_supervisor();
        assert!(h.send_json(&json).is_ok());
    }
}

#[test]
fn events_the_agent_does_not_take_are_refused() {
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Plain, Sup::Process);
    let err = h
        .send_json(r#"{"event": "deploy_response", "args": {"reqid": "r", "results": []}}"#)
        .unwrap_err();
    assert!(
        matches!(&err, AgentError::Refused(r) if r.kind == RefusalKind::NotForAgent),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "deploy_response is not an event the agent receives"
    );
    let err = h
        .send_json(r#"{"event": "SupervisorControl::create_response", "args": {"reqid": "r", "result": ""}}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "SupervisorControl::create_response is Supervisor traffic, but this agent runs its own process supervisor"
    );
}

#[test]
fn supervisor_answers_for_someone_else_are_ignored() {
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Broker, Sup::Host);
    let sent = h.send(Event::SupervisorDestroyResponse {
        reqid: "other-agent-7".into(),
        result: true,
    });
    assert!(sent.is_empty());
    // and an answer that does not fit its command is ignored too
    h.send(Event::GetNodesRequest { reqid: "g1".into() });
    let id = h.queue[0].id;
    h.deliver(Report::Destroyed { id, ok: true });
    assert!(h.response("g1").is_none());
    h.run_supervisor();
    assert!(h.response("g1").is_some());
}

#[test]
fn a_silent_supervisor_does_not_make_the_agent_grow() {
    for dialect in [Dialect::Seed, Dialect::Zeek7] {
        let mut h = deployed(dialect, Encoding::Broker, Sup::Host);
        for round in 0..200 {
            h.send(Event::GetNodesRequest {
                reqid: format!("g{round}"),
            });
            h.send(Event::RestartRequest {
                reqid: format!("x{round}"),
                nodes: BTreeSet::new(),
            });
            h.send(deploy_event(
                dialect,
                &format!("d{round}"),
                &mini(&format!("c{round}")),
                false,
            ));
            h.queue.clear(); // the Supervisor hears nothing
            h.advance(1000);
        }
        h.advance(10_000);
        let state = h.engine.state();
        assert!(
            state.pending_requests.is_empty(),
            "{dialect}: {:?}",
            state.pending_requests
        );
        // Only what the current deploy still waits for, never one entry per
        // request.
        assert!(
            state.supervisor_commands_pending <= 4,
            "{dialect}: {}",
            state.supervisor_commands_pending
        );
        assert_eq!(
            h.responses().len(),
            600,
            "{dialect}: every request answered once"
        );
        // Once the Supervisor listens again, deploys work.
        h.queue.clear();
        h.advance(120_000);
        // At most the creates of the current nodes wait for an answer.
        assert!(
            h.engine.state().supervisor_commands_pending <= 4,
            "{dialect}"
        );
        let answer = h.deploy_all("final", &mini("final"));
        assert!(
            results(&answer).iter().all(|r| r.success),
            "{dialect}: {answer:?}"
        );
    }
}

#[test]
fn a_failed_restart_puts_the_node_back_as_it_was() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.supervisor
            .fail_create
            .insert("worker-01".into(), "no interface".into());
        h.send(deploy_event(dialect, "r1", &mini("c1"), false));
        h.run_supervisor();
        h.hello("logger-01");
        h.run_supervisor();
        h.hello("manager");
        h.run_supervisor();
        // worker-01 could not be created: nothing to restart, answered at once.
        h.send(Event::RestartRequest {
            reqid: "x1".into(),
            nodes: set(&["worker-01"]),
        });
        assert_eq!(
            summary(results(&h.response("x1").unwrap().event)),
            vec![(
                Some("worker-01".into()),
                false,
                Some("could not restart node worker-01".into())
            )],
            "{}",
            h.label()
        );
        assert!(h.queue.is_empty());
        // worker-02's restart fails: it goes back to PENDING's predecessor.
        h.supervisor.fail_restart.insert("manager".into());
        h.send(Event::RestartRequest {
            reqid: "x2".into(),
            nodes: set(&["manager"]),
        });
        h.run_supervisor();
        assert!(
            h.changes().ends_with(&[
                ("manager".into(), "RUNNING".into(), "PENDING".into()),
                ("manager".into(), "PENDING".into(), "RUNNING".into()),
            ]),
            "{}: {:?}",
            h.label(),
            h.changes()
        );
        // ... and the deploy still completes when the last node checks in.
        h.hello("worker-02");
        let r1 = results(&h.response("r1").expect("not held up").event).to_vec();
        assert_eq!(r1.iter().filter(|r| r.success).count(), 3, "{}", h.label());
        assert_eq!(
            r1[2].error.as_deref(),
            Some("failed to create node worker-01: no interface")
        );
    }
}

#[test]
fn a_restart_during_teardown_does_not_restart_the_old_process() {
    let mut h = deployed(Dialect::Zeek7, Encoding::Broker, Sup::Host);
    h.send(deploy_event(Dialect::Zeek7, "r2", &mini("c2"), false));
    let queued = h.queue.len();
    h.send(Event::RestartRequest {
        reqid: "x1".into(),
        nodes: set(&["worker-01"]),
    });
    assert_eq!(
        h.queue.len(),
        queued,
        "no restart command for a node not started yet"
    );
    assert_eq!(
        summary(results(&h.response("x1").unwrap().event)),
        vec![(
            Some("worker-01".into()),
            false,
            Some("could not restart node worker-01".into())
        )]
    );
}

/// The responses to `reqid` so far, as (success, error) of their result.
fn outcomes(h: &Harness, reqid: &str) -> Vec<(bool, Option<String>)> {
    h.responses()
        .iter()
        .filter(|s| s.event.reqid() == Some(reqid))
        .map(|s| {
            let r = result(&s.event);
            // seed writes an absent error as "".
            (r.success, r.error.clone().filter(|e| !e.is_empty()))
        })
        .collect()
}

/// A request answered before its deadline takes its timer with it: a later
/// request with the same id gets its own full timeout and is not answered
/// "request timed out" at the first one's deadline, and `poll_timeout`
/// names only deadlines of requests still pending.
#[test]
fn an_answered_request_leaves_no_timer_behind() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.send(Event::GetNodesRequest { reqid: "g1".into() }); // due at 5000
        let first_deadline = h.engine.poll_timeout();
        h.advance(1000);
        h.run_supervisor(); // answered at 1000
        let after_answer = h.engine.poll_timeout();
        h.advance(2000);
        h.send(Event::GetNodesRequest { reqid: "g1".into() }); // due at 8000
        let after_reuse = h.engine.poll_timeout();
        // The first request's deadline passes: the second one waits on.
        h.advance_to(5000);
        h.advance_to(7999);
        assert_eq!(
            outcomes(&h, "g1"),
            [(true, None)],
            "{}: the reused id was answered at the first request's deadline",
            h.label()
        );
        h.run_supervisor();
        assert_eq!(
            outcomes(&h, "g1"),
            [(true, None), (true, None)],
            "{}",
            h.label()
        );
        assert_eq!(first_deadline, Some(Time::from_millis(5000)));
        assert_eq!(
            after_answer,
            None,
            "{}: a deadline left after the only request was answered",
            h.label()
        );
        assert_eq!(
            after_reuse,
            Some(Time::from_millis(8000)),
            "{}: poll_timeout names a deadline of no pending request",
            h.label()
        );
        assert_eq!(h.engine.poll_timeout(), None, "{}", h.label());
    }
}

/// An input the engine refuses changes nothing, even when timers are due
/// at its time: the refusal is decided before any timer fires, so the
/// overdue request is still pending afterwards, nothing was emitted, and
/// the next accepted call (here the host's timeout call) fires it.
#[test]
fn a_refused_input_fires_no_due_timer() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        // g1 is due at 5000, g2 at 8000.
        h.send(Event::GetNodesRequest { reqid: "g1".into() });
        h.advance(3000);
        h.send(Event::GetNodesRequest { reqid: "g2".into() });
        // Time passes g1's deadline without the host calling in.
        h.now = Time::from_millis(6000);
        let duplicate = zeek_mgmt_agent::wire::encode(
            &Event::GetNodesRequest { reqid: "g2".into() },
            AGENT_TOPIC,
            encoding,
            dialect,
        );
        let refused = [
            ("not JSON", "{\"event\": ".to_owned()),
            (
                "an unknown event",
                r#"{"event": "no_such_request", "args": {"reqid": "x"}}"#.to_owned(),
            ),
            (
                "an event not for the agent",
                r#"{"event": "deploy_response", "args": {"reqid": "r", "results": []}}"#.to_owned(),
            ),
            ("a duplicate request id", duplicate),
        ];
        let before = h.engine.state().to_json();
        assert!(before.contains("\"g1\""), "{before}");
        let sent_before = h.sent.len();
        for (what, json) in &refused {
            let refusal = h.send_json(json);
            assert!(refusal.is_err(), "{}: {what} was taken", h.label());
            assert_eq!(
                (h.engine.state().to_json(), h.sent.len()),
                (before.clone(), sent_before),
                "{}: refusing {what} changed the state or emitted something",
                h.label()
            );
        }
        // The host's next call fires the overdue timer: g1 times out, once.
        let sent = h.advance(0);
        let answers: Vec<_> = sent
            .iter()
            .filter(|s| s.channel == Channel::Response)
            .map(|s| {
                (
                    s.event.reqid().unwrap().to_owned(),
                    result(&s.event).error.clone(),
                )
            })
            .collect();
        assert_eq!(
            answers,
            [("g1".to_owned(), Some("request timed out".to_owned()))],
            "{}",
            h.label()
        );
        assert_eq!(h.engine.poll_timeout(), Some(Time::from_millis(8000)));
    }
}

/// When a request is answered no timer of it stays: once nothing is
/// pending (no request, no supervisor command), `poll_timeout` is `None`
/// (`zma_agent_next_timeout_ms` -1), after every kind of request, answered
/// or timed out. (The harness checks this after every step of every test
/// too; here each kind is gone through once.)
#[test]
fn no_timer_outlives_an_answered_request() {
    let idle = |h: &Harness, what: &str| {
        let state = h.engine.state();
        assert!(
            state.pending_requests.is_empty(),
            "[{}] {what}: {state:?}",
            h.label()
        );
        assert_eq!(
            state.supervisor_commands_pending,
            0,
            "[{}] {what}",
            h.label()
        );
        assert_eq!(h.engine.poll_timeout(), None, "[{}] {what}", h.label());
    };
    for (dialect, encoding, sup) in variants() {
        for stage_wait_ms in [0, 300, 10_000] {
            let mut cfg = agent_config(dialect, sup);
            cfg.stage_wait_ms = stage_wait_ms;
            let mut h = Harness::with_config(cfg, encoding);
            if sup == Sup::Host {
                h.supervisor_peers();
            }
            let what = format!("deploy answered, stage wait {stage_wait_ms} ms");
            h.deploy_all("r1", &mini("c1"));
            assert!(h.response("r1").is_some(), "{what}");
            idle(&h, &what);

            // A deploy that times out while a stage waits (the logger stays
            // silent): the remaining stages start at once, so no stage
            // timer is left once the creates are answered.
            let what = format!("deploy timed out, stage wait {stage_wait_ms} ms");
            let creates = h.supervisor.creates.len();
            h.send(deploy_event(dialect, "r2", &mini("c2"), false));
            h.run_supervisor();
            h.advance(5000);
            assert!(h.response("r2").is_some(), "{what}");
            h.run_supervisor();
            assert_eq!(
                h.supervisor.creates.len(),
                creates + 4,
                "[{}] {what}: every stage launched",
                h.label()
            );
            idle(&h, &what);
            // Its nodes check in later; the operation completes quietly.
            for n in ["logger-01", "manager", "worker-01", "worker-02"] {
                h.hello(n);
            }
            idle(&h, &what);
            let sent = h.sent.len();
            h.advance(60_000);
            assert_eq!(h.sent.len(), sent, "[{}] {what}: nothing fires", h.label());

            h.send(Event::GetNodesRequest { reqid: "g1".into() });
            h.run_supervisor();
            assert!(h.response("g1").is_some());
            idle(&h, "get_nodes answered");
            h.send(Event::GetNodesRequest { reqid: "g2".into() });
            h.advance(5000);
            h.queue.clear(); // its status answer is lost
            assert!(h.response("g2").is_some());
            idle(&h, "get_nodes timed out");

            h.send(Event::RestartRequest {
                reqid: "rs1".into(),
                nodes: set(&["worker-01"]),
            });
            h.run_supervisor();
            assert!(h.response("rs1").is_some());
            h.hello("worker-01");
            idle(&h, "restart answered");
            h.send(Event::RestartRequest {
                reqid: "rs2".into(),
                nodes: set(&["worker-01"]),
            });
            h.advance(5000);
            h.queue.clear();
            assert!(h.response("rs2").is_some());
            h.hello("worker-01");
            idle(&h, "restart timed out");

            h.send(Event::NodeDispatchRequest {
                reqid: "d1".into(),
                action: vec!["get_id_value".into(), "Cluster::node".into()],
                nodes: set(&["manager"]),
            });
            let Some(Event::NodeApiDispatchRequest { reqid: child, .. }) =
                h.node_requests.last().cloned()
            else {
                panic!("no fan-out");
            };
            h.send(Event::NodeApiDispatchResponse {
                reqid: child.clone(),
                result: ResultRecord {
                    reqid: child,
                    success: true,
                    instance: None,
                    data: None,
                    error: None,
                    node: Some("manager".into()),
                },
            });
            assert!(h.response("d1").is_some());
            idle(&h, "dispatch answered");
            h.send(Event::NodeDispatchRequest {
                reqid: "d2".into(),
                action: vec!["get_id_value".into(), "Cluster::node".into()],
                nodes: BTreeSet::new(),
            });
            h.advance(5000);
            assert!(h.response("d2").is_some());
            idle(&h, "dispatch timed out");

            h.send(Event::AgentStandbyRequest { reqid: "s1".into() });
            h.run_supervisor();
            assert!(h.response("s1").is_some());
            idle(&h, "standby answered");

            // A standby (then a deploy) whose Supervisor answers nothing:
            // the command deadlines are the commands', gone with them.
            h.deploy_all("r3", &mini("c3"));
            h.send(Event::AgentStandbyRequest { reqid: "s2".into() });
            h.queue.clear();
            h.advance(5000);
            assert!(h.response("s2").is_some());
            // Every deadline passes, each at its own time, and nothing is
            // answered (Zeek >= 5.0: the status round trip's deadline, then
            // the destroys').
            h.supervisor.silent = true;
            h.drive();
            idle(&h, "standby timed out, its destroys lost");
        }
    }
}

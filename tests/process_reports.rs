//! What the built-in process supervisor reports about nodes on its own:
//! crashes, restarts, readiness without a hello, giving up.

use test_support::harness::*;
use zeek_mgmt_agent::model::{ResultData, State};
use zeek_mgmt_agent::supervisor::Report;
use zeek_mgmt_agent::wire::{Dialect, Encoding, Event};

fn process(dialect: Dialect) -> Harness {
    Harness::new(dialect, Encoding::Broker, Sup::Process)
}

fn node_state(h: &Harness, name: &str) -> (State, Option<i64>, u32) {
    let n = h
        .engine
        .state()
        .nodes
        .into_iter()
        .find(|n| n.name == name)
        .unwrap();
    (n.state, n.pid, n.restarts)
}

#[test]
fn a_crash_is_noticed_and_the_restart_counted() {
    for dialect in Dialect::ALL {
        let mut h = process(dialect);
        h.deploy_all("r1", &mini("c1"));
        h.deliver(Report::NodeSpawned {
            node: "worker-01".into(),
            pid: 4242,
        });
        assert_eq!(node_state(&h, "worker-01"), (State::Running, Some(4242), 0));
        h.clear_sent();
        h.deliver(Report::NodeCrashed {
            node: "worker-01".into(),
            reason: "killed by signal 11".into(),
            outputs: outputs("", "segfault"),
        });
        assert_eq!(node_state(&h, "worker-01"), (State::Crashed, None, 0));
        h.deliver(Report::NodeSpawned {
            node: "worker-01".into(),
            pid: 4343,
        });
        assert_eq!(node_state(&h, "worker-01"), (State::Pending, Some(4343), 1));
        h.hello("worker-01");
        assert_eq!(
            h.changes(),
            vec![
                ("worker-01".into(), "RUNNING".into(), "CRASHED".into()),
                ("worker-01".into(), "CRASHED".into(), "PENDING".into()),
                ("worker-01".into(), "PENDING".into(), "RUNNING".into()),
            ]
        );
        assert!(h.notifications().iter().any(
            |e| matches!(e, Event::NotifyLog { msg, .. } if msg.contains("worker-01 crashed"))
        ));
    }
}

#[test]
fn a_node_that_never_starts_fails_and_no_longer_holds_the_deploy() {
    for dialect in Dialect::ALL {
        let mut h = process(dialect);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        h.run_supervisor();
        for n in ["logger-01", "manager", "worker-01"] {
            h.hello(n);
        }
        h.run_supervisor();
        h.deliver(Report::NodeFailed {
            node: "worker-02".into(),
            reason: "exited 5 times before becoming ready".into(),
            outputs: outputs(
                "",
                "error in ./local.zeek, line 3: unknown identifier\nfatal error",
            ),
        });
        let answer = h.response("r1").expect("answered before the timeout");
        let rs = results(&answer.event);
        let w2 = rs
            .iter()
            .find(|r| r.node.as_deref() == Some("worker-02"))
            .unwrap();
        assert!(!w2.success);
        assert!(w2
            .error
            .as_deref()
            .unwrap()
            .starts_with("node worker-02 failed: exited 5 times"));
        assert_eq!(
            w2.data,
            Some(ResultData::NodeOutputs(outputs(
                "",
                "error in ./local.zeek, line 3: unknown identifier\nfatal error"
            )))
        );
        let error = h
            .notifications()
            .into_iter()
            .find_map(|e| match e {
                Event::NotifyError { msg, node, .. } => Some((msg.clone(), node.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            error,
            (
                "node worker-02 failed: exited 5 times before becoming ready; last stderr lines:\n\
                 error in ./local.zeek, line 3: unknown identifier\nfatal error"
                    .into(),
                "worker-02".into()
            )
        );
        // get_nodes shows it FAILED and without a pid.
        h.send(Event::GetNodesRequest { reqid: "g".into() });
        h.run_supervisor();
        let answer = h.response("g").unwrap();
        let Some(ResultData::NodeStatuses(st)) = &result(&answer.event).data else {
            panic!()
        };
        let w2 = st.iter().find(|s| s.node == "worker-02").unwrap();
        assert_eq!((w2.state, w2.pid), (State::Failed, None));
        // A restart revives it.
        h.send(Event::RestartRequest {
            reqid: "x".into(),
            nodes: ["worker-02".to_owned()].into(),
        });
        h.run_supervisor();
        assert_eq!(node_state(&h, "worker-02").0, State::Pending);
        assert_eq!(node_state(&h, "worker-02").2, 1);
    }
}

#[test]
fn readiness_without_a_hello_counts_like_one() {
    let mut h = process(Dialect::Zeek7);
    let config = mini("c1");
    h.send(deploy_event(Dialect::Zeek7, "r1", &config, false));
    for _ in 0..6 {
        h.run_supervisor();
        let pending: Vec<String> = h
            .engine
            .state()
            .nodes
            .iter()
            .filter(|n| n.state == State::Pending)
            .map(|n| n.name.clone())
            .collect();
        for n in pending {
            h.deliver(Report::NodeReady { node: n });
        }
    }
    assert_eq!(
        results(&h.response("r1").unwrap().event)
            .iter()
            .filter(|r| r.success)
            .count(),
        4
    );
}

#[test]
fn reports_about_unknown_nodes_change_nothing() {
    let mut h = process(Dialect::Zeek7);
    h.deploy_all("r1", &mini("c1"));
    let before = h.engine.state();
    h.clear_sent();
    h.deliver(Report::NodeCrashed {
        node: "ghost".into(),
        reason: "exit status 1".into(),
        outputs: outputs("", ""),
    });
    h.deliver(Report::NodeReady {
        node: "ghost".into(),
    });
    h.deliver(Report::NodeSpawned {
        node: "ghost".into(),
        pid: 1,
    });
    h.hello("ghost");
    assert_eq!(h.engine.state(), before);
    assert!(h.sent.is_empty());
}

/// The engine tells the process supervisor a node is ready
/// (`Output::NodeReady`) exactly when a hello makes it RUNNING: not for a
/// hello that changes nothing or comes from a node it did not start, not
/// for readiness the process supervisor reported itself, never with a
/// host-delegated Supervisor.
#[test]
fn a_hello_that_makes_a_node_running_tells_the_process_supervisor() {
    let running_by_change = |h: &Harness| -> Vec<String> {
        h.changes()
            .into_iter()
            .filter(|(_, _, new)| new == "RUNNING")
            .map(|(node, _, _)| node)
            .collect()
    };
    for dialect in Dialect::ALL {
        let mut h = process(dialect);
        h.deploy_all("r1", &mini("c1"));
        // Every node checked in once, each becoming RUNNING: one notice
        // each, in the order they became RUNNING.
        assert_eq!(h.ready.len(), 4, "[{dialect}] {:?}", h.ready);
        assert_eq!(h.ready, running_by_change(&h), "[{dialect}]");

        // A second hello changes nothing; nor does a stranger's.
        h.ready.clear();
        h.hello("worker-01");
        h.hello("ghost");
        assert!(h.ready.is_empty(), "[{dialect}] {:?}", h.ready);

        // A crash, a restart, the hello again: RUNNING again, told again.
        h.deliver(Report::NodeCrashed {
            node: "worker-01".into(),
            reason: "exit status 1".into(),
            outputs: outputs("", ""),
        });
        h.deliver(Report::NodeSpawned {
            node: "worker-01".into(),
            pid: 4343,
        });
        assert!(h.ready.is_empty(), "[{dialect}] {:?}", h.ready);
        h.hello("worker-01");
        assert_eq!(h.ready, ["worker-01"], "[{dialect}]");

        // Readiness the process supervisor reported makes the node RUNNING
        // without a notice: it knows already.
        h.ready.clear();
        h.clear_sent();
        h.deliver(Report::NodeCrashed {
            node: "worker-02".into(),
            reason: "exit status 1".into(),
            outputs: outputs("", ""),
        });
        h.deliver(Report::NodeSpawned {
            node: "worker-02".into(),
            pid: 4444,
        });
        h.deliver(Report::NodeReady {
            node: "worker-02".into(),
        });
        assert_eq!(running_by_change(&h), ["worker-02"], "[{dialect}]");
        assert!(h.ready.is_empty(), "[{dialect}] {:?}", h.ready);
        // ... and a hello after it changes nothing.
        h.hello("worker-02");
        assert!(h.ready.is_empty(), "[{dialect}] {:?}", h.ready);
    }

    // With a Zeek Supervisor, hellos make nodes RUNNING and nothing else.
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Broker, Sup::Host);
    h.supervisor_peers();
    h.deploy_all("r1", &mini("c1"));
    assert_eq!(running_by_change(&h).len(), 4);
    assert!(h.ready.is_empty(), "{:?}", h.ready);
}

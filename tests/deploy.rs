//! Deploying configurations: validation, teardown, staged start, check-in,
//! timeouts, supersession, the same-id short cut. Every test runs in every
//! dialect, both encodings and both Supervisor modes unless it says why not.

use test_support::harness::*;
use zeek_mgmt_agent::engine::{Channel, MANAGEMENT_NODE_SCRIPT};
use zeek_mgmt_agent::model::{ClusterRole, Configuration, NodeOutputs, Port, ResultData, State};
use zeek_mgmt_agent::supervisor::Report;
use zeek_mgmt_agent::wire::{Dialect, Encoding, Event};

fn ids(config: &[zeek_mgmt_agent::model::NodeConfig]) -> Vec<&str> {
    config.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn deploy_starts_nodes_in_stage_order_and_answers_once_all_check_in() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        h.settle(&config);
        let label = h.label();

        // Start order: loggers, manager, proxies, workers.
        assert_eq!(
            ids(&h.supervisor.creates),
            ["logger-01", "manager", "worker-01", "worker-02"],
            "{label}"
        );
        let worker = &h.supervisor.creates[2];
        assert_eq!(
            worker.directory.as_deref(),
            Some("/var/lib/zeek-agent/nodes/worker-01"),
            "{label}"
        );
        assert_eq!(worker.interface.as_deref(), Some("lo"), "{label}");
        assert_eq!(worker.scripts, [MANAGEMENT_NODE_SCRIPT], "{label}");
        // The cluster table covers every node, unused ports as 0/unknown.
        assert_eq!(worker.cluster.len(), 4, "{label}");
        assert_eq!(worker.cluster["manager"].p, Port::tcp(5000), "{label}");
        assert_eq!(worker.cluster["worker-02"].p, Port::UNUSED, "{label}");
        assert_eq!(
            worker.cluster["worker-02"].role,
            ClusterRole::Worker,
            "{label}"
        );
        if sup == Sup::Host {
            assert_eq!(h.directories.len(), 4, "{label}");
            assert_eq!(
                h.directories[0], "/var/lib/zeek-agent/nodes/logger-01",
                "{label}"
            );
        }

        let answer = h.response("r1").expect("answered");
        let expected_name = if dialect == Dialect::Seed {
            "Management::Agent::API::set_configuration_response"
        } else {
            "Management::Agent::API::deploy_response"
        };
        assert_eq!(answer.event.name().full(), expected_name, "{label}");
        assert_eq!(
            (answer.topic.as_str(), answer.encoding),
            (AGENT_TOPIC, encoding),
            "{label}"
        );
        let rs = results(&answer.event);
        assert_eq!(
            summary(rs),
            ["logger-01", "manager", "worker-01", "worker-02"]
                .map(|n| (Some(n.to_owned()), true, None))
                .to_vec(),
            "{label}"
        );
        assert!(
            rs.iter()
                .all(|r| r.instance.as_deref() == Some(AGENT) && r.reqid == "r1"),
            "{label}"
        );

        let changes = h.changes();
        for n in ["logger-01", "manager", "worker-01", "worker-02"] {
            let mine: Vec<_> = changes
                .iter()
                .filter(|c| c.0 == n)
                .map(|c| (c.1.as_str(), c.2.as_str()))
                .collect();
            assert_eq!(
                mine,
                [("UNKNOWN", "PENDING"), ("PENDING", "RUNNING")],
                "{label} {n}"
            );
        }
        let state = h.engine.state();
        assert_eq!(state.config_id.as_deref(), Some("c1"));
        assert!(
            state.nodes.iter().all(|n| n.state == State::Running),
            "{label}"
        );
        assert!(state.pending_requests.is_empty(), "{label}");
    }
}

#[test]
fn later_stages_wait_for_earlier_ones_but_only_for_a_while() {
    for (dialect, encoding, sup) in variants() {
        let mut cfg = agent_config(dialect, sup);
        cfg.stage_wait_ms = 300;
        let mut h = Harness::with_config(cfg, encoding);
        let mut config = mini("c1");
        config
            .nodes
            .push(node("proxy-01", AGENT, ClusterRole::Proxy, Some(5010)));
        h.send(deploy_event(dialect, "r1", &config, false));
        h.run_supervisor();
        assert_eq!(ids(&h.supervisor.creates), ["logger-01"], "{}", h.label());
        // The logger checks in: the manager starts at once.
        h.hello("logger-01");
        h.run_supervisor();
        assert_eq!(
            ids(&h.supervisor.creates),
            ["logger-01", "manager"],
            "{}",
            h.label()
        );
        // The manager stays silent: proxies start when the wait is over.
        h.advance(299);
        h.run_supervisor();
        assert_eq!(h.supervisor.creates.len(), 2, "{}", h.label());
        h.advance(1);
        h.run_supervisor();
        assert_eq!(ids(&h.supervisor.creates)[2], "proxy-01", "{}", h.label());
        h.hello("proxy-01");
        h.run_supervisor();
        assert_eq!(h.supervisor.creates.len(), 5, "{}", h.label());
        for n in ["manager", "worker-01", "worker-02"] {
            h.hello(n);
        }
        assert_eq!(results(&h.response("r1").unwrap().event).len(), 5);
    }
}

#[test]
fn a_silent_deploy_times_out_to_the_millisecond_with_per_node_outputs() {
    for (dialect, encoding, sup) in variants() {
        let mut cfg = agent_config(dialect, sup);
        cfg.stage_wait_ms = 0;
        let mut h = Harness::with_config(cfg, encoding);
        h.advance(1000);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        h.run_supervisor();
        h.hello("manager");
        // worker-01 died and left output behind.
        match sup {
            Sup::Host => h.deliver(Report::NodeOutput {
                node: "worker-01".into(),
                outputs: outputs("starting", "fatal error in local.zeek"),
            }),
            Sup::Process => h.deliver(Report::NodeCrashed {
                node: "worker-01".into(),
                reason: "exit status 1".into(),
                outputs: outputs("starting", "fatal error in local.zeek"),
            }),
        };
        assert_eq!(
            h.engine.poll_timeout().map(|t| t.as_millis()),
            Some(6000),
            "{}",
            h.label()
        );
        h.advance_to(5999);
        assert!(h.response("r1").is_none(), "{}", h.label());
        h.advance_to(6000);
        let answer = h.response("r1").expect("answered at the deadline");
        let rs = results(&answer.event);
        // The process supervisor reports the death before readiness, which
        // fails worker-01 at once with its stderr; a Zeek Supervisor's
        // notify_node_exit cannot tell (see deploy.rs), only the output
        // remains.
        let worker_01_error = match sup {
            Sup::Host => None,
            Sup::Process => Some(
                "node worker-01 exited before it became ready (exit status 1); \
                 last stderr lines:\nfatal error in local.zeek"
                    .to_owned(),
            ),
        };
        assert_eq!(
            summary(rs),
            vec![
                (None, false, Some("request timed out".to_owned())),
                (Some("logger-01".into()), false, None),
                (Some("manager".into()), true, None),
                (Some("worker-01".into()), false, worker_01_error),
                (Some("worker-02".into()), false, None),
            ],
            "{}",
            h.label()
        );
        assert_eq!(rs[0].instance.as_deref(), Some(AGENT));
        assert_eq!(
            rs[3].data,
            Some(ResultData::NodeOutputs(outputs(
                "starting",
                "fatal error in local.zeek"
            ))),
            "{}",
            h.label()
        );
        assert_eq!(rs[1].data, None);
        // Late check-ins still count for the nodes, not for the answer.
        h.hello("logger-01");
        assert_eq!(h.responses().len(), 1);
        assert!(h.engine.state().pending_requests.is_empty());
    }
}

#[test]
fn the_same_configuration_is_not_deployed_twice_unless_forced() {
    for (dialect, encoding, sup) in variants().into_iter().filter(|v| v.0 != Dialect::Seed) {
        let mut h = Harness::new(dialect, encoding, sup);
        let config = mini("c1");
        h.deploy_all("r1", &config);
        let creates = h.supervisor.creates.len();
        h.clear_sent();
        h.send(deploy_event(dialect, "r2", &config, false));
        let answer = h.response("r2").expect("answered at once");
        assert_eq!(
            summary(results(&answer.event)),
            vec![(None, true, None)],
            "{}",
            h.label()
        );
        assert!(h.queue.is_empty(), "{}: nothing to do", h.label());
        assert!(h.changes().is_empty());

        h.send(deploy_event(dialect, "r3", &config, true));
        h.settle(&config);
        assert_eq!(
            h.supervisor.creates.len(),
            creates + 4,
            "{}: forced redeploy",
            h.label()
        );
        assert_eq!(results(&h.response("r3").unwrap().event).len(), 4);
    }
}

#[test]
fn set_configuration_has_no_same_id_short_cut() {
    let mut h = Harness::new(
        Dialect::Seed,
        zeek_mgmt_agent::wire::Encoding::Broker,
        Sup::Process,
    );
    let config = mini("c1");
    h.deploy_all("r1", &config);
    h.send(deploy_event(Dialect::Seed, "r2", &config, false));
    h.settle(&config);
    assert_eq!(h.supervisor.creates.len(), 8);
    assert_eq!(results(&h.response("r2").unwrap().event).len(), 4);
}

#[test]
fn the_same_id_is_answered_at_once_even_while_it_is_deploying_or_after_a_timeout() {
    for (dialect, encoding, sup) in variants().into_iter().filter(|v| v.0 != Dialect::Seed) {
        let mut h = Harness::new(dialect, encoding, sup);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        h.run_supervisor();
        // Zeek's rule: the configuration id is the current one, not forced.
        h.send(deploy_event(dialect, "r2", &config, false));
        assert_eq!(
            summary(results(&h.response("r2").expect("answered at once").event)),
            vec![(None, true, None)],
            "{}",
            h.label()
        );
        // The deploy in flight is untouched and answers its own request.
        for n in ["logger-01", "manager", "worker-01"] {
            h.hello(n);
        }
        h.run_supervisor();
        h.advance(5000);
        let first = results(&h.response("r1").unwrap().event).to_vec();
        assert_eq!(
            first[0].error.as_deref(),
            Some("request timed out"),
            "{}",
            h.label()
        );
        // After that timeout the same id is still the current configuration.
        h.send(deploy_event(dialect, "r3", &config, false));
        assert_eq!(
            summary(results(&h.response("r3").unwrap().event)),
            vec![(None, true, None)]
        );
        assert_eq!(
            h.supervisor.creates.len(),
            4,
            "{}: deployed once",
            h.label()
        );
    }
}

#[test]
fn a_supervisor_that_loses_destroys_cannot_block_deploys_for_good() {
    for (dialect, encoding) in [
        (Dialect::Seed, Encoding::Broker),
        (Dialect::Zeek7, Encoding::Plain),
    ] {
        let mut h = Harness::new(dialect, encoding, Sup::Host);
        h.supervisor_peers();
        h.deploy_all("r1", &mini("c1"));
        h.send(deploy_event(dialect, "r2", &mini("c2"), false));
        if dialect != Dialect::Seed {
            h.run_one_command(); // the status round trip
        }
        assert_eq!(h.queue.len(), 4);
        h.queue.clear(); // every destroy is lost
        h.advance(5000); // r2 times out, still waiting for its teardown
        assert_eq!(
            results(&h.response("r2").unwrap().event)[0]
                .error
                .as_deref(),
            Some("request timed out")
        );
        h.send(deploy_event(dialect, "r3", &mini("c3"), false));
        if dialect != Dialect::Seed {
            h.run_one_command();
        }
        assert!(
            h.supervisor.creates.len() == 4,
            "{dialect}: nothing starts while the destroys may still come"
        );
        // At the Supervisor deadline the agent stops waiting, says so, and
        // starts the new nodes.
        h.advance_to(60_000);
        let lost: Vec<_> = h
            .notifications()
            .into_iter()
            .filter(|e| matches!(e, Event::NotifyError { msg, .. } if msg.starts_with("the Supervisor did not answer the destroy of node")))
            .collect();
        assert_eq!(lost.len(), 4, "{dialect}");
        assert!(
            h.changes()
                .contains(&("manager".into(), "RUNNING".into(), "UNKNOWN".into())),
            "{dialect}"
        );
        h.settle(&mini("c3"));
        assert_eq!(h.supervisor.creates.len(), 8, "{dialect}");
        // r3 itself timed out long before (once); its nodes run all the same.
        assert_eq!(
            results(&h.response("r3").unwrap().event)[0]
                .error
                .as_deref(),
            Some("request timed out")
        );
        let state = h.engine.state();
        assert!(
            state.nodes.iter().all(|n| n.state == State::Running),
            "{dialect}: {state:?}"
        );
        assert_eq!(state.supervisor_commands_pending, 0, "{dialect}");
    }
}

#[test]
fn an_unanswered_status_round_trip_falls_back_to_the_known_nodes() {
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Broker, Sup::Host);
    h.supervisor_peers();
    h.deploy_all("r1", &mini("c1"));
    h.send(deploy_event(Dialect::Zeek7, "r2", &mini("c2"), false));
    h.queue.clear(); // the status request is lost
    h.advance(59_999);
    assert!(h.queue.is_empty());
    h.advance(1);
    let destroys: Vec<_> = h.queue.iter().map(|c| format!("{:?}", c.command)).collect();
    assert_eq!(destroys.len(), 4, "{destroys:?}");
    assert!(h.notifications().iter().any(|e| matches!(e, Event::NotifyError { msg, .. } if msg.contains("did not answer the status request"))));
    h.settle(&mini("c2"));
    assert_eq!(h.supervisor.creates.len(), 8);
}

#[test]
fn reports_about_an_old_process_do_not_touch_its_planned_successor() {
    let mut h = Harness::new(Dialect::Seed, Encoding::Broker, Sup::Process);
    h.deploy_all("r1", &mini("c1"));
    h.clear_sent();
    h.send(deploy_event(Dialect::Seed, "r2", &mini("c2"), false)); // destroys queued
    h.deliver(Report::NodeCrashed {
        node: "worker-01".into(),
        reason: "exit status 1".into(),
        outputs: outputs("", "boom"),
    });
    h.deliver(Report::NodeSpawned {
        node: "worker-01".into(),
        pid: 777,
    });
    h.deliver(Report::NodeFailed {
        node: "worker-01".into(),
        reason: "x".into(),
        outputs: outputs("", ""),
    });
    h.hello("worker-01");
    let w1 = h
        .engine
        .state()
        .nodes
        .into_iter()
        .find(|n| n.name == "worker-01")
        .unwrap();
    assert_eq!((w1.state, w1.pid, w1.restarts), (State::Unknown, None, 0));
    assert!(h.changes().is_empty(), "{:?}", h.changes());
    h.settle(&mini("c2"));
    assert!(results(&h.response("r2").unwrap().event)
        .iter()
        .all(|r| r.success));
}

#[test]
fn an_invalid_configuration_is_refused_and_changes_nothing() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        let good = mini("c1");
        h.deploy_all("r1", &good);
        let before = h.engine.state();
        let (creates, destroys) = (h.supervisor.creates.len(), h.supervisor.destroys.len());
        h.clear_sent();

        let mut bad = mini("c2");
        bad.nodes
            .push(node("../../etc", AGENT, ClusterRole::Worker, Some(5000)));
        bad.nodes
            .push(node("w9", "instance-9", ClusterRole::Worker, None));
        h.send(deploy_event(dialect, "r2", &bad, false));
        let answer = h.response("r2").expect("answered at once");
        assert_eq!(
            summary(results(&answer.event)),
            vec![
                (
                    None,
                    false,
                    Some("multiple nodes on instance 'instance-1' using port 5000/tcp".into())
                ),
                (
                    None,
                    false,
                    Some("node 'w9' has undeclared instance name 'instance-9'".into())
                ),
                (
                    None,
                    false,
                    Some("node name '../../etc' is not allowed: it contains '/'".into())
                ),
            ],
            "{}",
            h.label()
        );
        assert!(results(&answer.event)
            .iter()
            .all(|r| r.instance.as_deref() == Some(AGENT)));
        assert_eq!(h.engine.state(), before, "{}", h.label());
        assert!(h.queue.is_empty());
        assert_eq!(
            (h.supervisor.creates.len(), h.supervisor.destroys.len()),
            (creates, destroys)
        );
        assert!(h.changes().is_empty());
    }
}

#[test]
fn a_redeploy_stops_the_old_nodes_before_starting_new_ones() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.supervisor
            .management
            .insert("agent".into(), "AGENT".into());
        h.deploy_all("r1", &mini("c1"));
        h.clear_sent();
        let mut next = mini("c2");
        next.nodes.retain(|n| n.name != "worker-02");
        h.send(deploy_event(dialect, "r2", &next, false));
        let label = h.label();
        if dialect == Dialect::Seed {
            // seed: destroy the previous configuration's nodes.
            let queued: Vec<_> = h.queue.iter().map(|c| format!("{:?}", c.command)).collect();
            assert_eq!(queued.len(), 4, "{label}: {queued:?}");
            assert!(queued.iter().all(|c| c.starts_with("Destroy")), "{label}");
        } else {
            // Zeek >= 5.0: ask for the status first.
            assert_eq!(h.queue.len(), 1, "{label}");
            assert!(matches!(
                h.queue[0].command,
                zeek_mgmt_agent::supervisor::Command::Status { .. }
            ));
            h.run_one_command();
            assert_eq!(
                h.queue.len(),
                4,
                "{label}: one destroy per cluster node, none for the agent"
            );
        }
        // Nothing starts until every destroy is answered.
        let creates = h.supervisor.creates.len();
        for _ in 0..3 {
            h.run_one_command();
        }
        assert_eq!(h.supervisor.creates.len(), creates, "{label}");
        assert_eq!(
            h.queue.len(),
            1,
            "{label}: no create before the last destroy"
        );
        assert!(matches!(
            h.queue[0].command,
            zeek_mgmt_agent::supervisor::Command::Destroy { .. }
        ));
        h.run_one_command();
        assert_eq!(h.queue.len(), 1, "{label}: the logger stage starts");
        h.settle(&next);
        assert_eq!(
            results(&h.response("r2").unwrap().event).len(),
            3,
            "{label}"
        );
        assert!(!h.supervisor.procs.contains_key("worker-02"), "{label}");
        assert!(
            !h.supervisor.destroys.contains(&"agent".to_owned()),
            "{label}: management nodes are spared"
        );
        let changes = h.changes();
        assert!(
            changes.contains(&("worker-02".into(), "RUNNING".into(), "STOPPED".into())),
            "{label}"
        );
        let stopped = changes
            .iter()
            .position(|c| c.0 == "manager" && c.2 == "STOPPED")
            .unwrap();
        let pending = changes
            .iter()
            .position(|c| c.0 == "manager" && c.2 == "PENDING")
            .unwrap();
        assert!(
            stopped < pending,
            "{label}: old manager stopped before the new one starts"
        );
    }
}

#[test]
fn a_newer_deploy_supersedes_a_pending_one() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.send(deploy_event(dialect, "r1", &mini("c1"), false));
        h.run_supervisor();
        h.hello("logger-01");
        h.send(deploy_event(dialect, "r2", &mini("c2"), false));
        let first = h.response("r1").expect("the superseded deploy is answered");
        assert_eq!(
            summary(results(&first.event)),
            vec![(None, false, Some("superseded by request 'r2'".into()))],
            "{}",
            h.label()
        );
        h.settle(&mini("c2"));
        assert_eq!(
            results(&h.response("r2").unwrap().event).len(),
            4,
            "{}",
            h.label()
        );
        assert_eq!(h.engine.state().config_id.as_deref(), Some("c2"));
        h.advance(10_000);
        assert_eq!(
            h.responses().len(),
            2,
            "{}: nothing answered twice",
            h.label()
        );
    }
}

#[test]
fn configurations_without_local_nodes_are_answered_once_teardown_is_done() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.deploy_all("r1", &mini("c1"));
        let remote = Configuration {
            id: "c2".into(),
            instances: vec![
                instance(AGENT, "127.0.0.1", None),
                instance("instance-2", "10.0.0.2", None),
            ],
            nodes: vec![node("w", "instance-2", ClusterRole::Worker, None)],
        };
        h.send(deploy_event(dialect, "r2", &remote, false));
        assert!(
            h.response("r2").is_none(),
            "{}: old nodes still up",
            h.label()
        );
        h.run_supervisor();
        let answer = h.response("r2").expect("answered");
        assert_eq!(
            summary(results(&answer.event)),
            vec![(None, true, None)],
            "{}",
            h.label()
        );
        assert!(h.supervisor.procs.is_empty());
        assert!(h.engine.state().nodes.is_empty());

        let empty = Configuration {
            id: "c3".into(),
            ..Configuration::default()
        };
        h.send(deploy_event(dialect, "r3", &empty, false));
        h.run_supervisor();
        assert_eq!(
            summary(results(&h.response("r3").unwrap().event)),
            vec![(None, true, None)]
        );
    }
}

#[test]
fn a_node_the_supervisor_cannot_create_fails_the_deploy_early() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.supervisor
            .fail_create
            .insert("worker-02".into(), "zeek: not found".into());
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        h.settle(&config);
        let answer = h
            .response("r1")
            .expect("answered without waiting for the timeout");
        assert_eq!(h.now.as_millis(), 0);
        let rs = results(&answer.event);
        assert_eq!(rs[3].node.as_deref(), Some("worker-02"));
        assert!(!rs[3].success);
        assert_eq!(
            rs[3].error.as_deref(),
            Some("failed to create node worker-02: zeek: not found"),
            "{}",
            h.label()
        );
        assert!(rs[..3].iter().all(|r| r.success));
        let errors: Vec<_> = h
            .notifications()
            .into_iter()
            .filter_map(|e| match e {
                Event::NotifyError {
                    msg,
                    node,
                    instance,
                } => Some((msg.clone(), node.clone(), instance.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            errors,
            vec![(
                "failed to create node worker-02: zeek: not found".into(),
                "worker-02".into(),
                AGENT.into()
            )]
        );
        assert!(h
            .changes()
            .contains(&("worker-02".into(), "PENDING".into(), "FAILED".into())));
    }
}

#[test]
fn only_this_instances_nodes_start_and_every_node_is_in_the_cluster_table() {
    let multi = zeek_mgmt_agent::wire::decode_configuration(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/configs/multi.broker.json"
        ))
        .unwrap(),
        &zeek_mgmt_agent::wire::Limits::default(),
    )
    .unwrap();
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.deploy_all("r1", &multi);
        assert_eq!(
            ids(&h.supervisor.creates),
            ["logger-01", "manager", "proxy-01", "worker-01", "worker-02"],
            "{}",
            h.label()
        );
        let w1 = h
            .supervisor
            .creates
            .iter()
            .find(|c| c.name == "worker-01")
            .unwrap();
        assert_eq!(w1.cpu_affinity, Some(2));
        assert_eq!(w1.env["NOTE"], "a value with spaces");
        assert_eq!(
            w1.scripts,
            [
                "local",
                "site/detect-foo.zeek",
                "site/my scripts/with space.zeek",
                MANAGEMENT_NODE_SCRIPT
            ]
        );
        assert_eq!(w1.cluster.len(), 12);
        assert_eq!(w1.cluster["worker-05"].host.to_string(), "2001:db8::30");
        // Only the zeek7 layout carries metrics ports (in and out).
        let expected_metrics = (dialect == Dialect::Zeek7).then_some(Port::tcp(9103));
        assert_eq!(
            w1.cluster["worker-05"].metrics_port,
            expected_metrics,
            "{}",
            h.label()
        );
        let answer = h.response("r1").unwrap();
        assert_eq!(results(&answer.event).len(), 5);
    }
}

#[test]
fn deploy_answers_follow_the_request_encoding() {
    for dialect in Dialect::ALL {
        let mut h = Harness::new(
            dialect,
            zeek_mgmt_agent::wire::Encoding::Plain,
            Sup::Process,
        );
        h.deploy_all("r1", &mini("c1"));
        let answer = h.response("r1").unwrap();
        assert!(answer.json.starts_with("{\"event\":"), "{}", answer.json);
        assert_eq!(answer.channel, Channel::Response);
    }
}

/// The process supervisor's dialects and encodings: deaths before readiness
/// are reported by the built-in process supervisor only (a Zeek
/// Supervisor's `notify_node_exit` cannot tell one: see
/// `in_host_mode_an_exit_report_before_the_hello_is_only_output`).
fn process_variants() -> Vec<(Dialect, Encoding, Sup)> {
    variants()
        .into_iter()
        .filter(|v| v.2 == Sup::Process)
        .collect()
}

fn crashed(node: &str, stderr: &str) -> Report {
    Report::NodeCrashed {
        node: node.into(),
        reason: "exit status 1".into(),
        outputs: outputs("starting", stderr),
    }
}

fn node_changes(h: &Harness, node: &str) -> Vec<(String, String)> {
    h.changes()
        .into_iter()
        .filter(|c| c.0 == node)
        .map(|c| (c.1, c.2))
        .collect()
}

/// Deploys `mini` as r1 and lets every node but worker-01 check in, stage
/// by stage: worker-01 is left PENDING.
fn deploy_mini_all_but_worker_01(h: &mut Harness, dialect: Dialect) {
    let config = mini("c1");
    h.send(deploy_event(dialect, "r1", &config, false));
    for stage in [&["logger-01"][..], &["manager"], &["worker-02"]] {
        h.run_supervisor();
        for n in stage {
            h.hello(n);
        }
    }
}

/// The answer to r1 fails worker-01 alone, with `message` and its outputs
/// (no "request timed out" among the results).
fn assert_only_worker_01_failed(h: &Harness, answer: &Sent, message: String, out: NodeOutputs) {
    let rs = results(&answer.event);
    assert_eq!(
        summary(rs),
        vec![
            (Some("logger-01".into()), true, None),
            (Some("manager".into()), true, None),
            (Some("worker-01".into()), false, Some(message)),
            (Some("worker-02".into()), true, None),
        ],
        "{}: no 'request timed out' among them",
        h.label()
    );
    assert_eq!(
        rs[2].data,
        Some(ResultData::NodeOutputs(out)),
        "{}",
        h.label()
    );
}

#[test]
fn a_deploy_whose_node_dies_before_ready_is_answered_at_once_with_its_stderr_not_at_the_timeout() {
    for (dialect, encoding, sup) in process_variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.advance(1000);
        deploy_mini_all_but_worker_01(&mut h, dialect);
        assert!(
            h.response("r1").is_none(),
            "{}: worker-01 pending",
            h.label()
        );
        let stderr = "error in ./local.zeek, line 1: unknown identifier";
        h.deliver(crashed("worker-01", stderr));
        let answer = h.response("r1").expect("answered on the death, not later");
        assert_eq!(h.now.as_millis(), 1000, "{}", h.label());
        let message = format!(
            "node worker-01 exited before it became ready (exit status 1); \
             last stderr lines:\n{stderr}"
        );
        assert_only_worker_01_failed(&h, &answer, message, outputs("starting", stderr));
        assert!(h.engine.state().pending_requests.is_empty());
        assert!(h.notifications().iter().any(|e| matches!(e, Event::NotifyLog { msg, .. }
            if msg == "node worker-01 crashed before it became ready (exit status 1); it will be restarted")));
        assert!(h.sent.iter().any(|s| s.channel == Channel::Publish
            && matches!(&s.event, Event::NotifyNodeExit { node, .. } if node == "worker-01")));

        // The process supervisor goes on with its restarts and gives up on
        // its own schedule; that answers nothing twice.
        h.deliver(Report::NodeSpawned {
            node: "worker-01".into(),
            pid: 4242,
        });
        h.deliver(crashed("worker-01", stderr));
        h.deliver(Report::NodeFailed {
            node: "worker-01".into(),
            reason: "it exited 2 times in a row before becoming ready (last: exit status 1)".into(),
            outputs: outputs("starting", stderr),
        });
        h.advance(60_000);
        assert_eq!(h.responses().len(), 1, "{}", h.label());
        assert_eq!(
            node_changes(&h, "worker-01"),
            [
                ("UNKNOWN", "PENDING"),
                ("PENDING", "CRASHED"),
                ("CRASHED", "PENDING"),
                ("PENDING", "CRASHED"),
                ("CRASHED", "FAILED"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .to_vec(),
            "{}",
            h.label()
        );
        assert!(h
            .notifications()
            .iter()
            .any(|e| matches!(e, Event::NotifyError { node, .. }
            if node == "worker-01")));
    }
}

#[test]
fn a_logger_that_dies_before_ready_lets_the_next_stage_start_at_once() {
    for (dialect, encoding, sup) in process_variants() {
        let mut cfg = agent_config(dialect, sup);
        cfg.stage_wait_ms = 300;
        let mut h = Harness::with_config(cfg, encoding);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        h.run_supervisor();
        assert_eq!(ids(&h.supervisor.creates), ["logger-01"], "{}", h.label());
        h.deliver(crashed("logger-01", "fatal error: can't find site/missing"));
        h.run_supervisor();
        assert_eq!(
            ids(&h.supervisor.creates),
            ["logger-01", "manager"],
            "{}: no stage wait for a node that failed",
            h.label()
        );
        assert_eq!(h.now.as_millis(), 0);
        h.hello("manager");
        h.run_supervisor();
        h.hello("worker-01");
        h.hello("worker-02");
        let rs = results(&h.response("r1").expect("answered").event).to_vec();
        assert_eq!(
            rs.iter().map(|r| r.success).collect::<Vec<_>>(),
            [false, true, true, true],
            "{}",
            h.label()
        );
        assert!(rs[0]
            .error
            .as_deref()
            .unwrap()
            .ends_with("last stderr lines:\nfatal error: can't find site/missing"));
    }
}

#[test]
fn a_node_that_crashes_after_it_was_ready_is_waited_for_again() {
    for (dialect, encoding, sup) in process_variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        for stage in [&["logger-01"][..], &["manager"], &["worker-01"]] {
            h.run_supervisor();
            for n in stage {
                h.hello(n);
            }
        }
        // worker-01 was ready: its crash is a crash, not a failed start.
        h.deliver(crashed("worker-01", "segfault"));
        h.hello("worker-02");
        assert!(
            h.response("r1").is_none(),
            "{}: the deploy waits for worker-01 to come back",
            h.label()
        );
        h.deliver(Report::NodeSpawned {
            node: "worker-01".into(),
            pid: 4242,
        });
        h.hello("worker-01");
        let rs = results(&h.response("r1").expect("answered").event).to_vec();
        assert!(rs.iter().all(|r| r.success), "{}: {rs:?}", h.label());
    }
}

#[test]
fn a_node_that_died_before_ready_stays_failed_in_its_deploys_answer_even_if_it_recovers() {
    // The result is decided when the death is known; that a restart came
    // ready before the last other node does not change it (notify_change
    // tells of the recovery).
    for (dialect, encoding, sup) in process_variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        let config = mini("c1");
        h.send(deploy_event(dialect, "r1", &config, false));
        for stage in [&["logger-01"][..], &["manager"], &[]] {
            h.run_supervisor();
            for n in stage {
                h.hello(n);
            }
        }
        h.deliver(crashed("worker-01", "bind: address in use"));
        h.deliver(Report::NodeSpawned {
            node: "worker-01".into(),
            pid: 4242,
        });
        h.deliver(Report::NodeReady {
            node: "worker-01".into(),
        });
        assert!(
            h.response("r1").is_none(),
            "{}: worker-02 pending",
            h.label()
        );
        h.hello("worker-02");
        let rs = results(&h.response("r1").expect("answered").event).to_vec();
        assert_eq!(rs[2].node.as_deref(), Some("worker-01"));
        assert!(!rs[2].success, "{}", h.label());
        assert!(rs[2]
            .error
            .as_deref()
            .unwrap()
            .starts_with("node worker-01 exited before it became ready"));
        let w1 = h
            .engine
            .state()
            .nodes
            .into_iter()
            .find(|n| n.name == "worker-01")
            .unwrap();
        assert_eq!(
            (w1.state, w1.restarts),
            (State::Running, 1),
            "{}",
            h.label()
        );
    }
}

#[test]
fn in_host_mode_an_exit_report_before_the_hello_is_only_output() {
    // Zeek's Supervisor shim publishes notify_node_exit when a node starts
    // again, and the first start of a node can carry the output of an
    // earlier node of that name: it is no evidence that this one died.
    for (dialect, encoding, _) in variants().into_iter().filter(|v| v.2 == Sup::Host) {
        let mut h = Harness::new(dialect, encoding, Sup::Host);
        h.supervisor_peers();
        deploy_mini_all_but_worker_01(&mut h, dialect);
        h.deliver(Report::NodeOutput {
            node: "worker-01".into(),
            outputs: outputs("", "the output of an earlier life"),
        });
        assert!(h.response("r1").is_none(), "{}", h.label());
        h.hello("worker-01");
        let rs = results(&h.response("r1").expect("answered").event).to_vec();
        assert!(rs.iter().all(|r| r.success), "{}: {rs:?}", h.label());
    }
}

#[test]
fn in_host_mode_an_exit_report_after_the_first_revival_delay_fails_the_deploy_at_once() {
    // Zeek's Supervisor revives a dead node no sooner than a second after
    // it spawned it, and only then does its shim publish notify_node_exit:
    // one that comes that late is about the node this create started.
    for (dialect, encoding, _) in variants().into_iter().filter(|v| v.2 == Sup::Host) {
        let mut h = Harness::new(dialect, encoding, Sup::Host);
        h.supervisor_peers();
        h.advance(1000);
        deploy_mini_all_but_worker_01(&mut h, dialect);
        let stderr = "fatal error: can't find no-such-script";
        // 499 ms after the create was answered: still an earlier life's.
        h.advance(499);
        h.deliver(Report::NodeOutput {
            node: "worker-01".into(),
            outputs: outputs("", "an earlier life"),
        });
        assert!(h.response("r1").is_none(), "{}", h.label());
        h.advance(1);
        h.deliver(Report::NodeOutput {
            node: "worker-01".into(),
            outputs: outputs("", stderr),
        });
        let answer = h.response("r1").expect("answered on the exit report");
        assert_eq!(h.now.as_millis(), 1500, "{}", h.label());
        let message = format!(
            "node worker-01 exited before it became ready (Zeek's Supervisor restarted it); \
             last stderr lines:\n{stderr}"
        );
        assert_only_worker_01_failed(&h, &answer, message, outputs("", stderr));
        assert!(h.engine.state().pending_requests.is_empty());
        // Revived, the node checks in: RUNNING, and nothing is answered
        // twice (`response` asserts there is one).
        h.hello("worker-01");
        assert!(h.response("r1").is_some());
    }
}

/// A node that waits for its start stage is PENDING (Zeek's "not yet
/// running"), announced as such when the launch begins: in the state JSON,
/// in get_nodes and in notify_change. Before the launch (the old nodes are
/// still being torn down) it is UNKNOWN.
#[test]
fn nodes_waiting_for_their_stage_are_pending_from_the_launch_on() {
    for (dialect, encoding, sup) in variants() {
        let mut cfg = agent_config(dialect, sup);
        cfg.stage_wait_ms = 300;
        let mut h = Harness::with_config(cfg, encoding);
        let label = h.label();
        let old = mini("c1");
        h.deploy_all("r1", &old);
        // The old worker-02 cannot be destroyed: its process stays, the
        // agent loses track of it (UNKNOWN), and the new configuration's
        // worker-02 waits for the worker stage.
        h.supervisor.fail_destroy.insert("worker-02".into());
        h.clear_sent();
        let config = mini("c2");
        h.send(deploy_event(dialect, "r2", &config, false));
        let pending_state = |h: &Harness, n: &str| {
            let json: serde_json::Value =
                serde_json::from_str(&h.engine.state().to_json()).unwrap();
            json["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == n)
                .map(|v| v["state"].as_str().unwrap().to_owned())
        };
        assert_eq!(
            pending_state(&h, "worker-01").as_deref(),
            Some("UNKNOWN"),
            "{label}: before the launch"
        );
        // Teardown; the launch starts the logger stage only.
        while !h
            .queue
            .iter()
            .any(|c| matches!(c.command, zeek_mgmt_agent::supervisor::Command::Create(_)))
        {
            h.run_one_command();
        }
        assert_eq!(h.queue.len(), 1, "{label}: the logger's create");
        for n in ["logger-01", "manager", "worker-01", "worker-02"] {
            assert_eq!(
                pending_state(&h, n).as_deref(),
                Some("PENDING"),
                "{label} {n}"
            );
            let new = h
                .changes()
                .into_iter()
                .filter(|c| c.0 == n && c.2 == "PENDING")
                .collect::<Vec<_>>();
            assert_eq!(
                new,
                [(n.to_owned(), "UNKNOWN".to_owned(), "PENDING".to_owned())],
                "{label} {n}: announced at the launch"
            );
        }
        // get_nodes lists the old worker-02 process under the new node's
        // state, PENDING.
        h.run_supervisor();
        h.send(Event::GetNodesRequest { reqid: "g".into() });
        h.run_supervisor();
        let answer = h.response("g").expect("answered").event;
        let Some(ResultData::NodeStatuses(statuses)) = &result(&answer).data else {
            panic!("{label}: {answer:?}");
        };
        let w2 = statuses
            .iter()
            .find(|s| s.node == "worker-02")
            .expect("listed");
        assert_eq!(w2.state, State::Pending, "{label}");
        // Its stage starts: no second PENDING announcement.
        h.advance(300);
        h.run_supervisor();
        assert_eq!(
            h.changes()
                .iter()
                .filter(|c| c.0 == "worker-01" && c.2 == "PENDING")
                .count(),
            1,
            "{label}"
        );
        assert!(
            h.supervisor.creates.iter().any(|c| c.name == "worker-01"),
            "{label}"
        );
    }
}

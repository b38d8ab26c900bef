//! notify_agent_hello, the choice of encoding, and exact timing.

use std::collections::BTreeSet;

use test_support::harness::*;
use zeek_mgmt_agent::engine::{Channel, EncodingChoice, Time};
use zeek_mgmt_agent::wire::{AgentHello, Dialect, Encoding, Event};

fn hellos(h: &Harness) -> Vec<AgentHello> {
    h.sent
        .iter()
        .filter_map(|s| match &s.event {
            Event::NotifyAgentHello(hello) => {
                assert_eq!(
                    (s.channel, s.topic.as_str()),
                    (Channel::Notification, AGENT_TOPIC)
                );
                Some(hello.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn seed_says_hello_on_every_peering() {
    for sup in [Sup::Process, Sup::Host] {
        let mut h = Harness::new(Dialect::Seed, Encoding::Broker, sup);
        h.send(peer_added("controller", "127.0.0.1", 2150));
        h.send(peer_added("node", "127.0.0.1", 5000));
        let expected = AgentHello::Seed {
            instance: AGENT.into(),
            host: "0.0.0.0".parse().unwrap(),
            api_version: 1,
        };
        assert_eq!(hellos(&h), vec![expected.clone(), expected]);
    }
}

#[test]
fn zeek5_and_later_hold_the_hello_until_the_supervisor_peers() {
    for dialect in [Dialect::Zeek5, Dialect::Zeek6, Dialect::Zeek7] {
        let current = AgentHello::Current {
            instance: AGENT.into(),
            id: "agent-broker-id".into(),
            connecting: true,
            api_version: 1,
        };
        // The built-in supervisor is always there.
        let mut h = Harness::new(dialect, Encoding::Broker, Sup::Process);
        h.send(peer_added("controller", "127.0.0.1", 2150));
        assert_eq!(hellos(&h), vec![current.clone()]);

        let mut h = Harness::new(dialect, Encoding::Broker, Sup::Host);
        h.send(peer_added("controller", "127.0.0.1", 2150));
        assert!(hellos(&h).is_empty(), "{dialect}: held back");
        h.supervisor_peers();
        assert_eq!(
            hellos(&h).len(),
            1,
            "{dialect}: the Supervisor's own peering says hello"
        );
        h.send(peer_added("controller", "127.0.0.1", 2150));
        assert_eq!(hellos(&h), vec![current.clone(), current.clone()]);
        h.send(Event::PeerLost {
            endpoint: match peer_added("s", SUPERVISOR_ADDR, SUPERVISOR_PORT) {
                Event::PeerAdded { endpoint, .. } => endpoint,
                _ => unreachable!(),
            },
            msg: "lost".into(),
        });
        h.send(peer_added("controller", "127.0.0.1", 2150));
        assert_eq!(hellos(&h).len(), 2, "{dialect}: held back again");
    }
}

#[test]
fn connecting_is_false_when_the_controller_connects_to_us() {
    let mut cfg = agent_config(Dialect::Zeek7, Sup::Process);
    cfg.controller_address = "0.0.0.0".parse().unwrap();
    let mut h = Harness::with_config(cfg, Encoding::Plain);
    h.send(peer_added("controller", "10.0.0.1", 40000));
    assert!(matches!(
        &hellos(&h)[..],
        [AgentHello::Current {
            connecting: false,
            ..
        }]
    ));
}

#[test]
fn auto_encoding_answers_in_kind_and_notifies_in_the_latest() {
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Plain, Sup::Process);
    h.deploy_all("r1", &mini("c1"));
    assert_eq!(h.response("r1").unwrap().encoding, Encoding::Plain);
    assert!(h.sent.iter().all(|s| s.encoding == Encoding::Plain));
    h.clear_sent();
    h.encoding = Encoding::Broker;
    h.send(Event::RestartRequest {
        reqid: "x".into(),
        nodes: ["manager".to_owned()].into(),
    });
    h.encoding = Encoding::Plain;
    h.send(Event::GetNodesRequest { reqid: "g".into() }); // latest inbound: plain
    h.run_supervisor();
    assert_eq!(
        h.response("x").unwrap().encoding,
        Encoding::Broker,
        "answer in its request's encoding"
    );
    assert_eq!(h.response("g").unwrap().encoding, Encoding::Plain);
    let change = h
        .sent
        .iter()
        .find(|s| matches!(s.event, Event::NotifyChange { .. }))
        .unwrap();
    assert_eq!(
        change.encoding,
        Encoding::Broker,
        "notify_change followed the broker restart request"
    );
}

#[test]
fn a_fixed_encoding_is_used_for_everything() {
    for (choice, expected) in [
        (EncodingChoice::Broker, Encoding::Broker),
        (EncodingChoice::Plain, Encoding::Plain),
    ] {
        let mut cfg = agent_config(Dialect::Zeek6, Sup::Host);
        cfg.encoding = choice;
        for sent_in in [Encoding::Broker, Encoding::Plain] {
            let mut h = Harness::with_config(cfg.clone(), sent_in);
            h.supervisor_peers();
            h.deploy_all("r1", &mini("c1"));
            assert!(
                h.sent.iter().all(|s| s.encoding == expected),
                "{choice:?} {sent_in:?}"
            );
        }
    }
}

#[test]
fn deadlines_are_exact_and_due_timers_fire_before_new_input() {
    for (dialect, encoding, sup) in variants() {
        let mut h = Harness::new(dialect, encoding, sup);
        h.advance_to(250);
        h.send(Event::GetNodesRequest { reqid: "g1".into() });
        assert_eq!(h.engine.poll_timeout(), Some(Time::from_millis(5250)));
        let state = h.engine.state();
        assert_eq!(state.pending_requests.len(), 1);
        assert_eq!(
            (
                state.pending_requests[0].id.as_str(),
                state.pending_requests[0].kind,
                state.pending_requests[0].deadline_ms
            ),
            ("g1", "get_nodes", 5250)
        );
        // The status arrives exactly at the deadline: the timeout wins.
        h.now = Time::from_millis(5250);
        h.run_supervisor();
        let r = result(&h.response("g1").unwrap().event).clone();
        assert_eq!(
            r.error.as_deref(),
            Some("request timed out"),
            "{}",
            h.label()
        );
        assert_eq!(h.engine.poll_timeout(), None);
    }
}

#[test]
fn time_never_goes_backwards() {
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Broker, Sup::Process);
    h.advance_to(1000);
    h.now = Time::from_millis(10); // a confused caller
    h.send(Event::RestartRequest {
        reqid: "x".into(),
        nodes: BTreeSet::new(),
    });
    h.send(Event::GetNodesRequest { reqid: "g".into() });
    assert_eq!(h.engine.now(), Time::from_millis(1000));
    assert_eq!(h.engine.state().pending_requests[0].deadline_ms, 6000);
}

#[test]
fn many_requests_time_out_in_deadline_order() {
    let mut h = Harness::new(Dialect::Zeek7, Encoding::Broker, Sup::Process);
    for i in 0..50u64 {
        h.advance_to(i * 7);
        h.send(Event::GetNodesRequest {
            reqid: format!("g{i}"),
        });
    }
    h.advance_to(100_000);
    let order: Vec<String> = h
        .responses()
        .iter()
        .map(|s| s.event.reqid().unwrap().to_owned())
        .collect();
    assert_eq!(order, (0..50).map(|i| format!("g{i}")).collect::<Vec<_>>());
}

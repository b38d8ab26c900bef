//! The wire on its own: every event of the catalogue in every dialect and
//! both encodings, the layouts each dialect writes, the leniencies input
//! enjoys, and the errors malformed input gets.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use zeek_mgmt_agent::model::{
    ClusterEndpoint, ClusterRole, Configuration, EndpointInfo, Instance, NetworkInfo, Node,
    NodeConfig, NodeOption, NodeOutputs, NodeStatus, Port, Proto, ResultData, ResultRecord, Role,
    State, SupervisorNodeStatus, SupervisorStatus, Value as ZeekValue,
};
use zeek_mgmt_agent::wire::{
    decode, encode, AgentHello, Dialect, Encoding, Event, EventName, InputErrorKind, Limits,
};

fn full_node() -> Node {
    Node {
        name: "worker-01".into(),
        instance: "instance-1".into(),
        role: ClusterRole::Worker,
        state: State::Pending,
        p: Some(Port::tcp(5005)),
        scripts: Some(vec!["local".into(), "site/x.zeek".into()]),
        options: Some(vec![NodeOption {
            name: "Log::default_rotation_interval".into(),
            value: "1hr".into(),
        }]),
        interface: Some("eth0".into()),
        cpu_affinity: Some(3),
        env: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "two words".into())]),
        metrics_port: Some(Port::tcp(9100)),
    }
}

fn config() -> Configuration {
    Configuration {
        id: "c1".into(),
        instances: vec![Instance {
            name: "instance-1".into(),
            host: "2001:db8::1".parse().unwrap(),
            listen_port: Some(Port::tcp(2151)),
        }],
        nodes: vec![
            full_node(),
            Node::new("manager", "instance-1", ClusterRole::Manager),
        ],
    }
}

fn results() -> Vec<ResultRecord> {
    vec![
        ResultRecord::success("r1", "instance-1").for_node("manager"),
        ResultRecord::failure("r1", "instance-1", "boom é")
            .for_node("worker-01")
            .with_data(ResultData::NodeOutputs(NodeOutputs {
                stdout: "out".into(),
                stderr: "err\nmore".into(),
            })),
        ResultRecord::success("r1", "instance-1").with_data(ResultData::NodeStatuses(vec![
            NodeStatus {
                node: "manager".into(),
                state: State::Running,
                mgmt_role: Role::None,
                cluster_role: ClusterRole::Manager,
                pid: Some(42),
                p: Some(Port::tcp(5000)),
                metrics_port: Some(Port::tcp(9100)),
            },
        ])),
        ResultRecord::success("r1", "instance-1").with_data(ResultData::Other(ZeekValue::Vector(
            vec![ZeekValue::Count(1), ZeekValue::Bool(false)],
        ))),
    ]
}

fn node_config() -> NodeConfig {
    NodeConfig {
        interface: Some("eth0".into()),
        directory: Some("/var/lib/zeek-agent/nodes/worker-01".into()),
        scripts: vec!["local".into(), "policy/frameworks/management/node".into()],
        env: BTreeMap::from([("A".into(), "1".into())]),
        cpu_affinity: Some(3),
        cluster: std::sync::Arc::new(BTreeMap::from([(
            "worker-01".into(),
            ClusterEndpoint {
                role: ClusterRole::Worker,
                host: "10.0.0.1".parse().unwrap(),
                p: Port::UNUSED,
                interface: Some("eth0".into()),
                pcap_file: None,
                metrics_port: Some(Port::tcp(9100)),
            },
        )])),
        ..NodeConfig::new("worker-01")
    }
}

fn endpoint() -> EndpointInfo {
    EndpointInfo {
        id: "peer".into(),
        network: Some(NetworkInfo {
            address: "127.0.0.1".into(),
            bound_port: Port::tcp(2150),
        }),
    }
}

/// One sample of every event (the match makes a new event fail to compile
/// here until it has a sample).
fn sample(name: EventName) -> Event {
    let reqid = || "r1".to_owned();
    let nodes = || BTreeSet::from(["manager".to_owned(), "worker-01".to_owned()]);
    match name {
        EventName::SetConfigurationRequest => Event::SetConfigurationRequest {
            reqid: reqid(),
            config: config(),
        },
        EventName::DeployRequest => Event::DeployRequest {
            reqid: reqid(),
            config: config(),
            force: true,
        },
        EventName::GetNodesRequest => Event::GetNodesRequest { reqid: reqid() },
        EventName::NodeDispatchRequest => Event::NodeDispatchRequest {
            reqid: reqid(),
            action: vec!["get_id_value".into(), "Cluster::node".into()],
            nodes: nodes(),
        },
        EventName::AgentWelcomeRequest => Event::AgentWelcomeRequest { reqid: reqid() },
        EventName::AgentStandbyRequest => Event::AgentStandbyRequest { reqid: reqid() },
        EventName::RestartRequest => Event::RestartRequest {
            reqid: reqid(),
            nodes: nodes(),
        },
        EventName::SetConfigurationResponse => Event::SetConfigurationResponse {
            reqid: reqid(),
            results: results(),
        },
        EventName::DeployResponse => Event::DeployResponse {
            reqid: reqid(),
            results: results(),
        },
        EventName::GetNodesResponse => Event::GetNodesResponse {
            reqid: reqid(),
            result: results().remove(2),
        },
        EventName::NodeDispatchResponse => Event::NodeDispatchResponse {
            reqid: reqid(),
            results: results(),
        },
        EventName::AgentWelcomeResponse => Event::AgentWelcomeResponse {
            reqid: reqid(),
            result: results().remove(0),
        },
        EventName::AgentStandbyResponse => Event::AgentStandbyResponse {
            reqid: reqid(),
            result: results().remove(1),
        },
        EventName::RestartResponse => Event::RestartResponse {
            reqid: reqid(),
            results: results(),
        },
        EventName::NotifyAgentHello => Event::NotifyAgentHello(AgentHello::Current {
            instance: "instance-1".into(),
            id: "broker-id".into(),
            connecting: true,
            api_version: 1,
        }),
        EventName::NotifyChange => Event::NotifyChange {
            instance: "instance-1".into(),
            node: full_node(),
            old: State::Unknown,
            new: State::Pending,
        },
        EventName::NotifyError => Event::NotifyError {
            instance: "instance-1".into(),
            msg: "failed \"x\" ✓".into(),
            node: "w".into(),
        },
        EventName::NotifyLog => Event::NotifyLog {
            instance: "instance-1".into(),
            msg: "m".into(),
            node: String::new(),
        },
        EventName::NodeApiDispatchRequest => Event::NodeApiDispatchRequest {
            reqid: reqid(),
            action: vec!["get_id_value".into()],
            nodes: nodes(),
        },
        EventName::NodeApiDispatchResponse => Event::NodeApiDispatchResponse {
            reqid: reqid(),
            result: ResultRecord {
                instance: None,
                data: Some(ResultData::String("\"worker-01\"".into())),
                ..ResultRecord::success("r1", "").for_node("worker-01")
            },
        },
        EventName::NotifyNodeHello => Event::NotifyNodeHello {
            node: "manager".into(),
        },
        EventName::SupervisorCreateRequest => Event::SupervisorCreateRequest {
            reqid: reqid(),
            node: node_config(),
        },
        EventName::SupervisorStatusRequest => Event::SupervisorStatusRequest {
            reqid: reqid(),
            node: String::new(),
        },
        EventName::SupervisorDestroyRequest => Event::SupervisorDestroyRequest {
            reqid: reqid(),
            node: "w".into(),
        },
        EventName::SupervisorRestartRequest => Event::SupervisorRestartRequest {
            reqid: reqid(),
            node: "w".into(),
        },
        EventName::SupervisorCreateResponse => Event::SupervisorCreateResponse {
            reqid: reqid(),
            result: "no".into(),
        },
        EventName::SupervisorStatusResponse => Event::SupervisorStatusResponse {
            reqid: reqid(),
            result: SupervisorStatus {
                nodes: BTreeMap::from([(
                    "worker-01".into(),
                    SupervisorNodeStatus {
                        node: node_config(),
                        pid: Some(7),
                    },
                )]),
            },
        },
        EventName::SupervisorDestroyResponse => Event::SupervisorDestroyResponse {
            reqid: reqid(),
            result: true,
        },
        EventName::SupervisorRestartResponse => Event::SupervisorRestartResponse {
            reqid: reqid(),
            result: false,
        },
        EventName::NotifyNodeExit => Event::NotifyNodeExit {
            node: "w".into(),
            outputs: NodeOutputs {
                stdout: "a".into(),
                stderr: "b".into(),
            },
        },
        EventName::PeerAdded => Event::PeerAdded {
            endpoint: endpoint(),
            msg: "hi".into(),
        },
        EventName::PeerLost => Event::PeerLost {
            endpoint: endpoint(),
            msg: "bye".into(),
        },
    }
}

/// The engine takes exactly the events whose role is inbound (Supervisor
/// traffic only with a host-delegated Supervisor), and answers each
/// controller request with its `response_name`, in every dialect.
#[test]
fn the_engine_takes_events_by_their_role_and_answers_with_their_response() {
    use zeek_mgmt_agent::engine::{AgentConfig, AgentError, Channel, RefusalKind, SupervisorKind};
    use zeek_mgmt_agent::wire::EventRole;
    use zeek_mgmt_agent::{Engine, Time};
    for dialect in Dialect::ALL {
        for host in [false, true] {
            for name in EventName::ALL {
                let mut cfg = AgentConfig::new("instance-1");
                cfg.dialect = dialect;
                if host {
                    cfg.supervisor = SupervisorKind::Host {
                        address: "127.0.0.1".into(),
                        port: 9999,
                    };
                }
                let mut engine = Engine::new(cfg);
                let event = sample(*name);
                let role = name.role();
                let json = encode(&event, "t", Encoding::Plain, dialect);
                let taken = engine.handle_json(Time::ZERO, json.as_bytes(), &Limits::default());
                let supervisor = matches!(
                    role,
                    EventRole::SupervisorResponse | EventRole::SupervisorNotice
                );
                let expected = role.is_inbound() && (host || !supervisor);
                let what = format!("{} ({role:?}) in {dialect}, host {host}", name.full());
                match taken {
                    Ok(outputs) => {
                        assert!(expected, "{what} was taken");
                        let responses: Vec<_> = outputs
                            .iter()
                            .filter_map(|o| o.as_event())
                            .filter(|o| o.channel == Channel::Response)
                            .map(|o| o.event.name())
                            .collect();
                        // Requests answered at once get the response of
                        // their name; others are answered later, or never.
                        if let Some(response) = name.response_name() {
                            assert!(
                                responses.iter().all(|r| *r == response),
                                "{what}: {responses:?}"
                            );
                        } else {
                            assert!(responses.is_empty(), "{what}: {responses:?}");
                        }
                    }
                    Err(AgentError::Refused(r)) => {
                        assert!(!expected, "{what} was refused: {r}");
                        assert_eq!(r.kind, RefusalKind::NotForAgent, "{what}");
                    }
                    Err(e) => panic!("{what}: {e}"),
                }
            }
        }
    }
}

fn roundtrip(event: &Event, encoding: Encoding, dialect: Dialect) -> Event {
    let text = encode(event, "t", encoding, dialect);
    let inbound = decode(text.as_bytes(), &Limits::default()).unwrap_or_else(|e| {
        panic!(
            "{} {dialect} {}: {e}\n{text}",
            event.name().full(),
            encoding.name()
        )
    });
    assert_eq!(inbound.encoding, encoding);
    inbound.event
}

#[test]
fn every_event_round_trips_in_every_dialect_and_encoding() {
    for name in EventName::ALL {
        let event = sample(*name);
        assert_eq!(event.name(), *name);
        for dialect in Dialect::ALL {
            let broker = roundtrip(&event, Encoding::Broker, dialect);
            let plain = roundtrip(&event, Encoding::Plain, dialect);
            assert_eq!(
                broker,
                plain,
                "{} in {dialect}: the encodings disagree",
                name.full()
            );
            // Encoding what was decoded gives the same text: a fixpoint.
            for encoding in [Encoding::Broker, Encoding::Plain] {
                let once = encode(&broker, "t", encoding, dialect);
                assert_eq!(
                    encode(
                        &roundtrip(&broker, encoding, dialect),
                        "t",
                        encoding,
                        dialect
                    ),
                    once
                );
            }
        }
        // zeek7 is the richest layout: nothing is lost.
        assert_eq!(
            roundtrip(&event, Encoding::Broker, Dialect::Zeek7),
            event,
            "{}",
            name.full()
        );
        assert_eq!(
            roundtrip(&event, Encoding::Plain, Dialect::Zeek7),
            event,
            "{}",
            name.full()
        );
    }
}

fn broker_args(event: &Event, dialect: Dialect) -> Vec<Value> {
    let v: Value = serde_json::from_str(&encode(event, "t", Encoding::Broker, dialect)).unwrap();
    v["data"][2]["data"][1]["data"].as_array().unwrap().clone()
}

fn plain_args(event: &Event, dialect: Dialect) -> Value {
    let v: Value = serde_json::from_str(&encode(event, "t", Encoding::Plain, dialect)).unwrap();
    v["args"].clone()
}

#[test]
fn record_layouts_follow_the_dialect() {
    let fields = |v: &Value| v["data"].as_array().unwrap().len();
    for (dialect, node, status, endpoint, node_config) in [
        (Dialect::Seed, 10, 6, 4, 10),
        (Dialect::Zeek5, 10, 6, 4, 10),
        (Dialect::Zeek6, 10, 6, 5, 12),
        (Dialect::Zeek7, 11, 7, 6, 12),
    ] {
        let change = broker_args(&sample(EventName::NotifyChange), dialect);
        assert_eq!(fields(&change[1]), node, "{dialect} Node");
        let get_nodes = broker_args(&sample(EventName::GetNodesResponse), dialect);
        let data = &get_nodes[1]["data"][3]["data"][0];
        assert_eq!(fields(data), status, "{dialect} NodeStatus");
        let create = broker_args(&sample(EventName::SupervisorCreateRequest), dialect);
        assert_eq!(fields(&create[1]), node_config, "{dialect} NodeConfig");
        let cluster =
            create[1]["data"].as_array().unwrap().last().unwrap()["data"][0]["value"].clone();
        assert_eq!(fields(&cluster), endpoint, "{dialect} ClusterEndpoint");
    }
}

#[test]
fn results_are_written_in_each_dialects_order() {
    let welcome = sample(EventName::AgentWelcomeResponse);
    assert_eq!(
        plain_args(&welcome, Dialect::Seed)["result"],
        json!({"reqid": "r1", "instance": "instance-1", "success": true, "error": "", "node": "manager"})
    );
    let seed = encode(&welcome, "t", Encoding::Plain, Dialect::Seed);
    assert!(
        seed.find("\"instance\"") < seed.find("\"success\""),
        "seed order: {seed}"
    );
    let zeek5 = encode(&welcome, "t", Encoding::Plain, Dialect::Zeek5);
    assert!(
        zeek5.contains(
            r#""result":{"reqid":"r1","success":true,"instance":"instance-1","node":"manager"}"#
        ),
        "{zeek5}"
    );
    let seed_broker = broker_args(&welcome, Dialect::Seed);
    let types: Vec<&str> = seed_broker[1]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["@data-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["string", "string", "boolean", "none", "string", "string"]
    );
}

#[test]
fn response_argument_names_follow_the_catalogue() {
    for dialect in Dialect::ALL {
        let names = |event: EventName| -> Vec<String> {
            plain_args(&sample(event), dialect)
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            names(EventName::SetConfigurationResponse),
            ["reqid", "result"],
            "{dialect}"
        );
        assert_eq!(
            names(EventName::DeployResponse),
            ["reqid", "results"],
            "{dialect}"
        );
        assert_eq!(
            names(EventName::RestartResponse),
            ["reqid", "results"],
            "{dialect}"
        );
        assert_eq!(
            names(EventName::GetNodesResponse),
            ["reqid", "result"],
            "{dialect}"
        );
        let dispatch = if dialect == Dialect::Seed {
            "result"
        } else {
            "results"
        };
        assert_eq!(
            names(EventName::NodeDispatchResponse),
            ["reqid", dispatch],
            "{dialect}"
        );
    }
}

#[test]
fn plain_output_uses_to_json_shapes() {
    let change = plain_args(&sample(EventName::NotifyChange), Dialect::Zeek7);
    assert_eq!(
        change["n"],
        json!({
            "name": "worker-01", "instance": "instance-1", "role": "Supervisor::WORKER",
            "state": "Management::PENDING", "p": {"port": 5005, "proto": "tcp"},
            "scripts": ["local", "site/x.zeek"],
            "options": [{"name": "Log::default_rotation_interval", "value": "1hr"}],
            "interface": "eth0", "cpu_affinity": 3, "env": {"A": "1", "B": "two words"},
            "metrics_port": {"port": 9100, "proto": "tcp"}
        })
    );
    let create = plain_args(&sample(EventName::SupervisorCreateRequest), Dialect::Zeek5);
    assert_eq!(
        create["node"]["scripts"],
        json!(["local", "policy/frameworks/management/node"])
    );
    assert!(create["node"].get("addl_user_scripts").is_none());
    assert_eq!(
        create["node"]["cluster"]["worker-01"]["p"],
        json!({"port": 0, "proto": "unknown"})
    );
    let create = plain_args(&sample(EventName::SupervisorCreateRequest), Dialect::Zeek6);
    assert_eq!(
        create["node"]["addl_user_scripts"],
        json!(["local", "policy/frameworks/management/node"])
    );
    assert_eq!(create["node"]["addl_base_scripts"], json!([]));
    assert!(
        create["node"]["cluster"]["worker-01"]
            .get("metrics_port")
            .is_none(),
        "zeek6 has none"
    );
    // Sets are written sorted, as zeek-client does.
    let dispatch = plain_args(&sample(EventName::NodeApiDispatchRequest), Dialect::Zeek7);
    assert_eq!(dispatch["nodes"], json!(["manager", "worker-01"]));
}

fn ok(text: &str) -> Event {
    decode(text.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .event
}

fn node_of(event: Event) -> Node {
    match event {
        Event::DeployRequest { config, .. } => config.nodes.into_iter().next().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_input_is_lenient_as_documented() {
    let deploy = |node: &str| {
        format!(
            r#"{{"event": "deploy_request", "args": ["r", {{"id": "c", "instances": [], "nodes": [{node}]}}]}}"#
        )
    };
    // zeek-client's JSON: no state, `port` for `p`, bare enum names, nulls.
    let n = node_of(ok(&deploy(
        r#"{"name": "w", "instance": "i", "role": "worker", "port": 5000, "scripts": null, "env": {"A": "1"}}"#,
    )));
    assert_eq!(
        (n.role, n.state, n.p, n.scripts),
        (
            ClusterRole::Worker,
            State::Running,
            Some(Port::tcp(5000)),
            None
        )
    );
    for port in [
        r#""5000/tcp""#,
        "5000",
        r#"{"port": 5000, "proto": "tcp"}"#,
        r#"{"port": 5000}"#,
    ] {
        let n = node_of(ok(&deploy(&format!(
            r#"{{"name": "w", "instance": "i", "role": "WORKER", "p": {port}}}"#
        ))));
        assert_eq!(n.p, Some(Port::tcp(5000)), "{port}");
    }
    let n = node_of(ok(&deploy(
        r#"{"name": "w", "instance": "i", "role": "Supervisor::WORKER", "p": "53/udp"}"#,
    )));
    assert_eq!(
        n.p,
        Some(Port {
            number: 53,
            proto: Proto::Udp
        })
    );
    // Defaults may be left out; `force` is false.
    assert!(matches!(
        ok(&deploy(
            r#"{"name": "w", "instance": "i", "role": "WORKER"}"#
        )),
        Event::DeployRequest { force: false, .. }
    ));
}

#[test]
fn broker_input_takes_every_dialects_layout() {
    // A seed-layout Result (instance before success) in a zeek7 agent's input.
    // Told apart by the types of its second and third fields.
    let seed = encode(
        &sample(EventName::DeployResponse),
        "t",
        Encoding::Broker,
        Dialect::Seed,
    );
    let Event::DeployResponse {
        results: decoded, ..
    } = ok(&seed)
    else {
        panic!()
    };
    let fields = |rs: &[ResultRecord]| -> Vec<(bool, Option<String>, String)> {
        rs.iter()
            .map(|r| {
                (
                    r.success,
                    r.instance.clone(),
                    r.error.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    assert_eq!(fields(&decoded), fields(&results()));

    // Zeek 6.0's NodeConfig: 13 fields, the deprecated `scripts` after
    // `addl_user_scripts`; its scripts count as user scripts.
    let create = sample(EventName::SupervisorCreateRequest);
    let mut v: Value =
        serde_json::from_str(&encode(&create, "t", Encoding::Broker, Dialect::Zeek7)).unwrap();
    let fields = v["data"][2]["data"][1]["data"][1]["data"]
        .as_array_mut()
        .unwrap();
    fields.insert(
        9,
        json!({"@data-type": "vector", "data": [{"@data-type": "string", "data": "old.zeek"}]}),
    );
    let Event::SupervisorCreateRequest { node, .. } = ok(&v.to_string()) else {
        panic!()
    };
    assert_eq!(
        node.scripts,
        ["local", "policy/frameworks/management/node", "old.zeek"]
    );
    assert_eq!(node.cpu_affinity, Some(3));
    assert_eq!(node.cluster.len(), 1);

    // Older layouts of Node, NodeStatus, ClusterEndpoint read back.
    for dialect in [Dialect::Seed, Dialect::Zeek5, Dialect::Zeek6] {
        for name in [
            EventName::NotifyChange,
            EventName::GetNodesResponse,
            EventName::SupervisorStatusResponse,
        ] {
            let text = encode(&sample(name), "t", Encoding::Broker, dialect);
            assert_eq!(ok(&text).name(), name);
        }
    }
}

fn err(text: &[u8]) -> (InputErrorKind, String) {
    let e = decode(text, &Limits::default()).unwrap_err();
    (e.kind, e.message)
}

#[test]
fn malformed_input_is_refused_with_a_precise_message() {
    use InputErrorKind::*;
    let cases: &[(&[u8], InputErrorKind, &str)] = &[
        (b"\xc3\x28", Utf8, "event is not valid UTF-8 (invalid byte at offset 0)"),
        (b"{\"event\": ", Json, "event is not JSON: EOF while parsing a value at line 1 column 10"),
        (b"[]", Event, "not an event: expected a JSON object, got array"),
        (br#"{"event": 7}"#, Event, "'event' must be a string, got number"),
        (br#"{"event": "get_nodes_request", "args": 5}"#, Event, "get_nodes_request: 'args' must be an object or an array, got number"),
        (br#"{"event": "get_nodes_request", "args": {"reqid": 5}}"#, Event, "get_nodes_request: argument 'reqid': expected string, got number"),
        (br#"{"event": "get_nodes_request", "topic": "x", "args": {}}"#, Event, "unexpected key 'topic' in event (expected \"event\" and \"args\")"),
        (br#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"instances": []}}}"#, Event, "deploy_request: argument 'config': missing field 'id'"),
        (br#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "nodes": [{"name": "w", "instance": "i", "role": "BOSS"}]}}}"#, Event, "deploy_request: argument 'config': nodes[0].role: 'BOSS' is not a Supervisor::ClusterRole value"),
        (br#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "instances": [{"name": "i", "host": "10.0.0.300"}]}}}"#, Event, "deploy_request: argument 'config': instances[0].host: '10.0.0.300' is not an IP address"),
        (br#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "nodes": [{"name": "w", "instance": "i", "role": "WORKER", "env": {"A": 1}}]}}}"#, Event, "deploy_request: argument 'config': nodes[0].env[\"A\"]: expected string, got number"),
        (br#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c"}, "force": "yes"}}"#, Event, "deploy_request: argument 'force': expected boolean, got string"),
        (br#"{"event": "notify_agent_hello", "args": {"instance": "i", "id": "x", "connecting": true, "api_version": -1}}"#, Event, "notify_agent_hello: argument 'api_version': count -1 is negative"),
        (br#"{"event": "Management::Node::API::node_dispatch_response", "args": {"reqid": "r", "result": {"reqid": "r", "succes": true}}}"#, Event, "Management::Node::API::node_dispatch_response: argument 'result': Management::Result has no field 'succes'"),
        (br#"{"@data-type": "vector", "data": [{"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 1}, {"@data-type": "vector", "data": [{"@data-type": "string", "data": "Management::Agent::API::get_nodes_request"}, {"@data-type": "vector", "data": [{"@data-type": "count", "data": 3}]}]}]}"#, Event, "get_nodes_request: argument 'reqid': expected Broker string, got Broker count"),
        (br#"{"@data-type": "vector", "data": [{"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 1}, {"@data-type": "vector", "data": [{"@data-type": "string", "data": "Management::Agent::API::restart_request"}, {"@data-type": "vector", "data": [{"@data-type": "string", "data": "r"}, {"@data-type": "vector", "data": []}]}]}]}"#, Event, "restart_request: argument 'nodes': expected Broker set, got Broker vector"),
        (br#"{"@data-type": "vector", "data": [{"@data-type": "count", "data": 1}, {"@data-type": "count", "data": 1}, {"@data-type": "vector", "data": [{"@data-type": "string", "data": "Management::Node::API::notify_node_hello"}]}]}"#, Event, "malformed Broker event: expected [name, args] after the version"),
    ];
    for (input, kind, message) in cases {
        assert_eq!(
            err(input),
            (*kind, message.to_string()),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    // A Broker Node of the wrong length names the record.
    let mut v: Value = serde_json::from_str(&encode(
        &sample(EventName::NotifyChange),
        "t",
        Encoding::Broker,
        Dialect::Zeek7,
    ))
    .unwrap();
    v["data"][2]["data"][1]["data"][1]["data"]
        .as_array_mut()
        .unwrap()
        .pop();
    v["data"][2]["data"][1]["data"][1]["data"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_eq!(
        err(v.to_string().as_bytes()).1,
        "notify_change: argument 'n': Management::Node record has 9 fields, expected 10 or 11"
    );
}

#[test]
fn limits_come_first_and_are_exact() {
    let limits = Limits {
        max_event_bytes: 64,
        max_json_depth: 3,
    };
    let big = format!(
        r#"{{"event": "get_nodes_request", "args": {{"reqid": "{}"}}}}"#,
        "x".repeat(30)
    );
    let e = decode(big.as_bytes(), &limits).unwrap_err();
    let expected = format!("event of {} bytes exceeds max_event_bytes (64)", big.len());
    assert_eq!((e.kind, e.message), (InputErrorKind::Limit, expected));
    let deep = br#"{"event": "get_nodes_request", "args": [[["r"]]]}"#;
    let e = decode(deep, &limits).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            InputErrorKind::Limit,
            "event nests JSON deeper than max_json_depth (3)"
        )
    );
    let fits = br#"{"event": "get_nodes_request", "args": ["r"]}"#;
    assert!(decode(fits, &limits).is_ok());
}

#[test]
fn zeek_clients_instance_json_is_accepted() {
    let text = r#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c",
        "instances": [{"name": "a", "host": "10.0.0.1", "port": 2151}, {"name": "b", "host": "10.0.0.2"}, {"name": "c"}]}}}"#;
    let Event::DeployRequest { config, .. } = ok(text) else {
        panic!()
    };
    let got: Vec<(String, String, Option<Port>)> = config
        .instances
        .iter()
        .map(|i| (i.name.clone(), i.host.to_string(), i.listen_port))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), "10.0.0.1".into(), Some(Port::tcp(2151))),
            ("b".into(), "10.0.0.2".into(), None),
            ("c".into(), "0.0.0.0".into(), None),
        ]
    );
}

#[test]
fn a_response_with_both_result_and_results_is_refused() {
    let e = decode(
        br#"{"event": "deploy_response", "args": {"reqid": "r", "results": [], "result": []}}"#,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "deploy_response: both 'results' and 'result' given"
    );
}

/// A Broker `count` cannot be negative, whatever field it fills: a deploy
/// whose node carries `cpu_affinity` as count -1 (or a port numbered below
/// 0 or above 65535) is refused while the event is read, naming the field,
/// and the engine changes and emits nothing. (It used to decode, and the
/// deploy was answered with a failed result.)
#[test]
fn negative_broker_counts_and_out_of_range_ports_are_refused_naming_the_field() {
    use zeek_mgmt_agent::engine::{AgentConfig, Engine, Time};
    let event = Event::DeployRequest {
        reqid: "r".into(),
        config: config(),
        force: false,
    };
    for dialect in Dialect::ALL {
        let json = encode(&event, "t", Encoding::Broker, dialect);
        let three = r#"{"@data-type": "integer", "data": 3}"#;
        assert_eq!(json.matches(three).count(), 1, "{dialect}: {json}");
        let port = r#"{"@data-type": "port", "data": "5005/tcp"}"#;
        assert_eq!(json.matches(port).count(), 1, "{dialect}: {json}");
        let cases = [
            (
                json.replace(three, r#"{"@data-type": "count", "data": -1}"#),
                "deploy_request: argument 'config': nodes[0].cpu_affinity: count -1 is negative",
            ),
            (
                json.replace(three, r#"{"@data-type": "count", "data": -9223372036854775808}"#),
                "deploy_request: argument 'config': nodes[0].cpu_affinity: count -9223372036854775808 is negative",
            ),
            (
                json.replace(port, r#"{"@data-type": "port", "data": "-1/tcp"}"#),
                "deploy_request: argument 'config': nodes[0].p: port '-1/tcp' has no valid number",
            ),
            (
                json.replace(port, r#"{"@data-type": "port", "data": "65536/tcp"}"#),
                "deploy_request: argument 'config': nodes[0].p: port 65536 out of range",
            ),
        ];
        for (bad, message) in cases {
            assert_eq!(
                err(bad.as_bytes()),
                (InputErrorKind::Event, message.to_owned()),
                "{dialect}"
            );
            let mut engine = Engine::new(AgentConfig::new("instance-1"));
            let before = engine.state();
            let e = engine
                .handle_json(Time::from_millis(1), bad.as_bytes(), &Limits::default())
                .expect_err("refused");
            assert_eq!(
                e.input_kind(),
                Some(InputErrorKind::Event),
                "{dialect}: {e}"
            );
            assert_eq!(e.to_string(), message, "{dialect}");
            assert_eq!(engine.state(), before, "{dialect}: nothing changed");
            assert_eq!(
                engine.poll_timeout(),
                None,
                "{dialect}: no request registered"
            );
        }
        // A Broker integer may be negative: that is for the configuration
        // check (a failed result), not the reader.
        let minus = json.replace(three, r#"{"@data-type": "integer", "data": -1}"#);
        assert_eq!(node_of(ok(&minus)).cpu_affinity, Some(-1), "{dialect}");
    }
    // Plain JSON has one number type and `cpu_affinity` is a Zeek `int`, so
    // a plain -1 is well-formed and left to the configuration check; a
    // plain count (`api_version`) or port number is refused when negative.
    let n = node_of(ok(
        r#"{"event": "deploy_request", "args": ["r", {"id": "c", "instances": [], "nodes": [{"name": "w", "instance": "i", "role": "WORKER", "cpu_affinity": -1}]}]}"#,
    ));
    assert_eq!(n.cpu_affinity, Some(-1));
    for (p, message) in [
        ("-1", "port -1 out of range"),
        ("65536", "port 65536 out of range"),
        (r#"{"port": -1, "proto": "tcp"}"#, "count -1 is negative"),
    ] {
        let text = format!(
            r#"{{"event": "deploy_request", "args": ["r", {{"id": "c", "instances": [], "nodes": [{{"name": "w", "instance": "i", "role": "WORKER", "p": {p}}}]}}]}}"#
        );
        assert_eq!(
            err(text.as_bytes()),
            (
                InputErrorKind::Event,
                format!(
                    "deploy_request: argument 'config': nodes[0].p{}: {message}",
                    if p.starts_with('{') { ".port" } else { "" }
                )
            ),
            "{p}"
        );
    }
}

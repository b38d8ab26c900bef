"""Cross-check with zeek-client (the controller's own Python client): the
agent takes requests zeek-client builds - also as zeek-client objects handed
to handle() - and every response and notification it emits decodes with
zeek-client's decoders and says what it should."""

from __future__ import annotations

import collections
import configparser
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from zeekclient import brokertypes as bt
from zeekclient import types as zt

from conftest import (
    AGENT_API,
    AGENT_TOPIC,
    FIXTURES,
    INSTANCE,
    TIMED_OUT,
    alive,
    free_port,
    process_options,
    request,
    run_until,
)
from zeek_mgmt_agent import Agent, Event, NodeStatus

ROLES = {"logger-01": "LOGGER", "manager": "MANAGER", "worker-01": "WORKER", "worker-02": "WORKER"}


def zeek_client_config(ports: Dict[str, int]) -> zt.Configuration:
    """A configuration read from INI text the way `zeek-client deploy-config`
    reads a file (the layout of tests/fixtures/configs/mini.ini, free ports)."""
    parser = configparser.ConfigParser(allow_no_value=True)
    parser.read_string(
        f"[instances]\n{INSTANCE} = 127.0.0.1:{ports['instance']}\n"
        f"[logger-01]\ninstance = {INSTANCE}\nrole = logger\nport = {ports['logger-01']}\n"
        f"[manager]\ninstance = {INSTANCE}\nrole = manager\nport = {ports['manager']}\n"
        f"[worker-01]\ninstance = {INSTANCE}\nrole = worker\n"
        f"[worker-02]\ninstance = {INSTANCE}\nrole = worker\n"
    )
    config = zt.Configuration.from_config_parser(parser)
    assert config is not None
    return config


def controller_request(name: str, reqid: str, *args: bt.Type) -> bt.ZeekEvent:
    return bt.ZeekEvent(AGENT_API + name, bt.String(reqid), *args)


def decode(event: Event) -> bt.ZeekEvent:
    """zeek-client's decoding: Broker JSON -> DataMessage -> ZeekEvent."""
    assert event.is_broker, event.json
    message = bt.unserialize(event.json)
    assert isinstance(message, bt.DataMessage), event.json
    assert message.topic == event.topic
    zeek_event = bt.ZeekEvent.from_vector(message.data)
    assert zeek_event.name == event.name
    return zeek_event


def decode_agent_event(event: Event) -> Tuple[str, List[Any]]:
    """Short name and zeek-client-typed arguments of an agent -> controller event."""
    zeek_event = decode(event)
    assert zeek_event.name.startswith(AGENT_API), zeek_event.name
    name, args = zeek_event.name[len(AGENT_API) :], zeek_event.args
    if name in ("deploy_response", "restart_response", "node_dispatch_response"):
        assert isinstance(args[1], bt.Vector)
        return name, [args[0].to_py(), [zt.Result.from_brokertype(r) for r in args[1]]]
    if name in ("get_nodes_response", "agent_welcome_response", "agent_standby_response"):
        result = zt.Result.from_brokertype(args[1])
        if name == "get_nodes_response" and result.success:
            return name, [args[0].to_py(), result, [zt.NodeStatus.from_brokertype(s) for s in result.data]]
        return name, [args[0].to_py(), result]
    if name == "notify_agent_hello":
        kinds = (bt.String, bt.String, bt.Boolean, bt.Count)
        assert [type(a) for a in args] == list(kinds), args
        return name, [a.to_py() for a in args]
    if name == "notify_change":
        return name, [
            args[0].to_py(),
            zt.Node.from_brokertype(args[1]),
            zt.State.from_brokertype(args[2]),
            zt.State.from_brokertype(args[3]),
        ]
    if name in ("notify_log", "notify_error"):
        assert all(isinstance(a, bt.String) for a in args), args
        return name, [a.to_py() for a in args]
    raise AssertionError(f"no decoder for {zeek_event.name}")


class Recorder:
    """Collects what an agent emits, per channel, through its callbacks."""

    def __init__(self, agent: Agent) -> None:
        self.responses: List[Event] = []
        self.notifications: List[Event] = []
        self.published: List[Event] = []
        agent.on_response = self.responses.append
        agent.on_notification = self.notifications.append
        agent.on_publish = self.published.append

    def answered(self, reqid: str) -> bool:
        return any(e.reqid == reqid for e in self.responses)


def broker_agent(tmp_path: Path, make_agent: Callable[..., Agent], **extra: Any) -> Agent:
    return make_agent(**process_options(tmp_path, encoding="broker", **extra))


def test_handle_takes_zeek_client_events_messages_and_their_json(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = broker_agent(tmp_path, make_agent)
    record = Recorder(agent)
    agent.handle(controller_request("agent_welcome_request", "w1"))  # a ZeekEvent
    agent.handle(bt.DataMessage(AGENT_TOPIC, controller_request("agent_welcome_request", "w2")))
    agent.handle(bt.DataMessage(AGENT_TOPIC, controller_request("agent_welcome_request", "w3")).serialize())
    agent.handle(bt.DataMessage(AGENT_TOPIC, controller_request("agent_welcome_request", "w4")).serialize().encode())
    assert [(e.channel, e.topic, e.reqid) for e in record.responses] == [
        ("response", AGENT_TOPIC, f"w{n}") for n in range(1, 5)
    ]
    for n, event in enumerate(record.responses, 1):
        name, (reqid, result) = decode_agent_event(event)
        assert (name, reqid) == ("agent_welcome_response", f"w{n}")
        assert (result.reqid, result.success, result.instance, result.error) == (f"w{n}", True, INSTANCE, None)


def test_handle_refuses_zeek_client_values_that_are_not_events(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = broker_agent(tmp_path, make_agent)
    with pytest.raises(TypeError, match="not Vector"):
        agent.handle(bt.Vector([bt.String("x")]))


def test_a_session_driven_by_zeek_client_decodes_with_zeek_client(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = broker_agent(tmp_path, make_agent, broker_id="agent-endpoint", request_timeout_ms=300)
    record = Recorder(agent)
    ports = {name: free_port() for name in ("instance", "logger-01", "manager")}
    config = zeek_client_config(ports)
    local = sorted(ROLES)

    # The controller peers (zeek-client reads the Broker fixture as a ZeekEvent).
    peer_added = bt.from_broker(json.loads((FIXTURES / "events" / "Broker.peer_added.broker.json").read_text()))
    agent.handle(bt.ZeekEvent.from_vector(peer_added))

    sent: Dict[str, str] = {}

    def send(name: str, reqid: str, *args: bt.Type) -> None:
        sent[reqid] = name
        agent.poll()
        agent.handle(controller_request(name, reqid, *args))
        assert run_until(agent, lambda: record.answered(reqid)), f"no answer to {reqid}"

    send("agent_welcome_request", "welcome-1")
    send("deploy_request", "deploy-1", config.to_brokertype(), bt.Boolean(False))
    pids = {n["name"]: n["pid"] for n in agent.state()["nodes"]}
    assert sorted(pids) == local and all(alive(pid) for pid in pids.values())
    send("get_nodes_request", "nodes-1")
    send("restart_request", "restart-1", bt.Set({bt.String("worker-01")}))
    # The stand-in nodes have no Broker endpoint: the dispatch times out.
    send("node_dispatch_request", "dispatch-1", bt.Vector([bt.String("get_id_value"), bt.String("Cluster::node")]), bt.Set(set()))
    send("agent_standby_request", "standby-1")
    assert agent.state()["nodes"] == []

    # Every response, once per request, decodes as its request's answer.
    decoded = [decode_agent_event(e) for e in record.responses]
    assert collections.Counter(args[0] for _, args in decoded) == collections.Counter(sent.keys())
    by_reqid = {args[0]: (name, args) for name, args in decoded}
    for reqid, name in sent.items():
        assert by_reqid[reqid][0] == name.replace("_request", "_response"), reqid

    welcome = by_reqid["welcome-1"][1][1]
    assert (welcome.success, welcome.instance) == (True, INSTANCE)

    deployed = by_reqid["deploy-1"][1][1]
    assert sorted(r.node for r in deployed) == local
    assert all(r.success and r.instance == INSTANCE and r.reqid == "deploy-1" for r in deployed)

    _, (_, nodes_result, statuses) = by_reqid["nodes-1"]
    assert nodes_result.success and nodes_result.instance == INSTANCE
    assert {s.node: s.cluster_role.name for s in statuses} == ROLES
    for status in statuses:
        assert status.state == zt.State.RUNNING and status.mgmt_role == zt.ManagementRole.NONE
        assert status.pid == pids[status.node]
    ports_seen = {s.node: s.port for s in statuses}
    assert ports_seen == {"logger-01": ports["logger-01"], "manager": ports["manager"], "worker-01": None, "worker-02": None}

    restarted = by_reqid["restart-1"][1][1]
    assert [(r.node, r.success) for r in restarted] == [("worker-01", True)]

    dispatched = by_reqid["dispatch-1"][1][1]
    assert sorted(r.node for r in dispatched) == local
    assert {(r.success, r.error) for r in dispatched} == {(False, TIMED_OUT)}

    standby = by_reqid["standby-1"][1][1]
    assert (standby.success, standby.instance) == (True, INSTANCE)
    assert not any(alive(pid) for pid in pids.values())

    # Every notification decodes too.
    notes = [decode_agent_event(e) for e in record.notifications]
    assert all(e.topic == AGENT_TOPIC for e in record.notifications)
    hellos = [args for name, args in notes if name == "notify_agent_hello"]
    assert hellos == [[INSTANCE, "agent-endpoint", True, 1]]
    assert [args for name, args in notes if name == "notify_error"] == []
    changes = [args for name, args in notes if name == "notify_change"]
    for instance, node, old, new in changes:
        assert instance == INSTANCE and node.instance == INSTANCE
        assert node.role.name == ROLES[node.name] and node.state == new and old != new
    assert {node.name for _, node, _, new in changes if new == zt.State.RUNNING} == set(local)
    assert {node.name for _, node, _, new in changes if new == zt.State.STOPPED} == set(local)

    # What went to the nodes decodes as well: one node-level dispatch.
    node_events = [decode(e) for e in record.published if e.topic == "zeek/management/node"]
    assert [e.name for e in node_events] == ["Management::Node::API::node_dispatch_request"]
    assert sorted(node_events[0].args[2].to_py()) == local


def test_convenience_methods_decode_broker_answers_with_zeek_client(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = broker_agent(tmp_path, make_agent)
    ports = {name: free_port() for name in ("instance", "logger-01", "manager")}
    results = agent.deploy(zeek_client_config(ports))  # a zeek-client Configuration
    assert sorted((r.node, r.success, r.instance) for r in results) == [(n, True, INSTANCE) for n in sorted(ROLES)]

    statuses = agent.get_nodes()
    assert all(isinstance(s, NodeStatus) for s in statuses)
    pids = {n["name"]: n["pid"] for n in agent.state()["nodes"]}
    assert sorted(statuses, key=lambda s: s.node) == [
        NodeStatus(node=n, state="RUNNING", mgmt_role="NONE", cluster_role=ROLES[n], pid=pids[n], port=ports.get(n))
        for n in sorted(ROLES)
    ]

    # A plain-JSON deploy on a broker agent is answered in Broker JSON too.
    manager_port = free_port()
    plain = {
        "id": "plain-on-broker",
        "instances": [{"name": INSTANCE}],
        "nodes": [{"name": "manager", "instance": INSTANCE, "role": "MANAGER", "p": manager_port}],
    }
    assert [(r.node, r.success) for r in agent.deploy(plain)] == [("manager", True)]
    [status] = agent.get_nodes()
    assert (status.node, status.port, status.cluster_role) == ("manager", manager_port, "MANAGER")

    result = agent.standby()
    assert (result.success, result.instance, result.node) == (True, INSTANCE, None)
    assert agent.get_nodes() == []


def test_auto_encoding_answers_in_the_encoding_of_the_request(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent(**process_options(tmp_path, encoding="auto"))
    agent.handle(request("agent_welcome_request", "plain-1"))
    agent.handle(controller_request("agent_welcome_request", "broker-1"))
    plain, broker = list(agent.events())
    assert (plain.reqid, plain.is_broker) == ("plain-1", False)
    assert (broker.reqid, broker.is_broker) == ("broker-1", True)
    name, (reqid, result) = decode_agent_event(broker)
    assert (name, reqid, result.success, result.instance) == ("agent_welcome_response", "broker-1", True, INSTANCE)


def test_broker_notifications_carry_no_request_id(tmp_path: Path, make_agent: Callable[..., Agent]) -> None:
    # As in plain JSON: only events whose first argument is a request id
    # have a reqid; a hello's or a notify_log's first argument is the instance.
    agent = broker_agent(tmp_path, make_agent)
    peer_added = bt.from_broker(json.loads((FIXTURES / "events" / "Broker.peer_added.broker.json").read_text()))
    agent.handle(bt.ZeekEvent.from_vector(peer_added))
    empty = zt.Configuration()
    empty.id = "empty"
    agent.handle(controller_request("deploy_request", "d1", empty.to_brokertype(), bt.Boolean(False)))
    events = list(agent.events())
    assert [decode_agent_event(e)[0] for e in events] == [
        "notify_agent_hello", "notify_log", "notify_log", "deploy_response",
    ]  # fmt: skip
    assert [e.reqid for e in events] == [None, None, None, "d1"]


DUPLICATE = {
    "id": "c-dup",
    "instances": [{"name": INSTANCE}],
    "nodes": [{"name": "x", "instance": INSTANCE, "role": "WORKER"}] * 2,
}


@pytest.mark.parametrize("dialect", ["zeek5", "zeek7", "seed"])
def test_a_refused_deploy_on_a_broker_agent_reports_the_failure(
    tmp_path: Path, make_agent: Callable[..., Agent], dialect: str
) -> None:
    agent = broker_agent(tmp_path, make_agent, dialect=dialect)
    results = agent.deploy(DUPLICATE)
    assert [(r.success, r.instance, r.node, r.error) for r in results] == [
        (False, INSTANCE, None, "multiple nodes named 'x'")
    ]


def test_deploying_an_ini_file_with_the_default_dialect_reports_the_instance(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    # No dialect option: the library's default (seed). An INI deploy goes
    # out in Broker JSON (built by zeek-client), so its answer comes back so.
    options = process_options(tmp_path)
    del options["dialect"], options["encoding"]
    agent = make_agent(**options)
    path = tmp_path / "cluster.ini"
    path.write_text(f"[w1]\ninstance = {INSTANCE}\nrole = worker\n")
    results = agent.deploy(path)
    assert [(r.node, r.success, r.instance) for r in results] == [("w1", True, INSTANCE)]

#!/usr/bin/env python3
"""Cross-check our Broker JSON against Zeek's own Python client, zeek-client.

This script uses nothing but the standard library and the PyPI package
``zeek-client==1.5.0`` (module ``zeekclient``), so it is an encoder and decoder
independent of this crate. It proves two things:

``vectors --out DIR``
    Builds agent, node-API and Supervisor events with zeek-client's own classes
    (``zeekclient.types`` records and ``to_brokertype()``, otherwise
    ``zeekclient.brokertypes``) and writes each one as ``DIR/<name>.json``:
    ``DataMessage(topic, ZeekEvent(name, *args)).serialize()`` plus one newline.
    These are the byte-exact reference encodings our encoder is compared with
    (they are checked in under ``tests/fixtures/zeek-client/``).

    One normalisation is applied, and only where zeek-client's own output is not
    deterministic: zeek-client sorts set members with ``<``, but its ``Vector``
    comparison is not a total order, so the order of a set of records (the
    instances and nodes of a ``Management::Configuration``) depends on Python's
    per-process hash seed. Such sets, and only those, are re-sorted by the
    members' canonical JSON (``json.dumps(member, sort_keys=True)``), the same
    rule as ``tests/fixtures/README.md``. Everything else is byte-for-byte what
    ``serialize()`` returned; the script asserts that.

``check FILE...``
    Each FILE holds one Broker JSON data message per line, as emitted by our
    agent (zeek7 dialect). Every line must unserialize with
    ``brokertypes.unserialize`` into a ``DataMessage`` holding a Zeek event
    (``ZeekEvent.from_vector``), and the event's arguments must decode with
    zeek-client's typed decoders (``types.Result``, ``NodeStatus``,
    ``NodeOutputs``, ``Node``, ``State``, ``Configuration``). Unknown events
    and any decoder failure are refused. With ``--roundtrip`` each message must
    also re-encode through zeek-client to the same JSON value (object key order
    and set member order aside), which catches fields zeek-client would drop or
    rewrite (for instance ``1.0`` for a count, or stray keys).

CI runs ``vectors`` into a temporary directory and diffs it against
``tests/fixtures/zeek-client/`` (so a zeek-client upgrade that changes the
encoding is noticed), and runs ``check`` on the messages the agent under test
sent, so that everything we emit is readable by ``zeek-client``.

Exit status: 0 on success, 1 on any failure (with the reason on stderr).
"""

from __future__ import annotations

import argparse
import configparser
import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from zeekclient import brokertypes as bt
from zeekclient import types

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "tests" / "fixtures" / "configs"

AGENT_TOPIC = "zeek/management/agent/instance-1"
NODE_TOPIC = "zeek/management/node"
SUPERVISOR_TOPIC = "zeek/supervisor"

AGENT_API = "Management::Agent::API::"
NODE_API = "Management::Node::API::"
INSTANCE = "instance-1"

# ---- vectors -----------------------------------------------------------


def strings(*values: str) -> List[bt.Type]:
    return [bt.String(v) for v in values]


def load_config(name: str) -> types.Configuration:
    """Reads tests/fixtures/configs/<name>.ini the way `zeek-client deploy-config` does."""
    cfp = configparser.ConfigParser(allow_no_value=True)
    path = CONFIG_DIR / f"{name}.ini"
    with path.open(encoding="utf-8") as handle:
        cfp.read_file(handle)
    config = types.Configuration.from_config_parser(cfp)
    if config is None:
        raise SystemExit(f"zeek-client rejected {path}")
    config.id = f"fixture-config-{name}"  # zeek-client would use a fresh uuid1
    return config


def ok(reqid: str, node: Optional[str] = None, data: Optional[bt.Type] = None) -> bt.Type:
    return types.Result(reqid, True, INSTANCE, data=data, node=node).to_brokertype()


def failed(reqid: str, node: str, error: str, data: Optional[bt.Type] = None) -> bt.Type:
    return types.Result(reqid, False, INSTANCE, data=data, error=error, node=node).to_brokertype()


def build_vectors() -> Dict[str, Tuple[str, str, List[bt.Type]]]:
    """Name -> (topic, event name, args) of every reference vector."""
    State, Role, MRole = types.State, types.ClusterRole, types.ManagementRole
    outputs = types.NodeOutputs("starting\nline 2", 'fatal: "quoted" \u00e9').to_brokertype()
    statuses = [
        types.NodeStatus("manager", State.RUNNING, MRole.NONE, Role.MANAGER, 4242, 5000, 9100),
        types.NodeStatus("worker-01", State.PENDING, MRole.NONE, Role.WORKER),
        types.NodeStatus("instance-1-agent", State.RUNNING, MRole.AGENT, Role.NONE, 4100, 2151),
    ]
    worker = types.Node(
        "worker-01",
        INSTANCE,
        Role.WORKER,
        state=State.PENDING,
        scripts=["local"],
        interface="eth0",
        cpu_affinity=2,
        env={"B": "2", "A": "1"},
        metrics_port=9102,
    )
    nodes = bt.Set(set(strings("worker-01", "manager", "logger-01")))
    deploy_error = "failed to create node worker-01: zeek: not found"
    error_text = 'failed to create node w: "x" \\ \u2713 \u2003 \U0001f600 \x01'

    def agent(event: str, *args: bt.Type) -> Tuple[str, str, List[bt.Type]]:
        return AGENT_TOPIC, AGENT_API + event, list(args)

    def supervisor(event: str, node: str) -> Tuple[str, str, List[bt.Type]]:
        return SUPERVISOR_TOPIC, f"SupervisorControl::{event}", strings("zma-3", node)

    def deploy(name: str) -> Tuple[str, str, List[bt.Type]]:
        config = load_config(name).to_brokertype()
        return agent("deploy_request", bt.String("r1"), config, bt.Boolean(False))

    return {
        "deploy_response": agent(
            "deploy_response",
            bt.String("r1"),
            bt.Vector(
                [
                    ok("r1", "manager"),
                    failed("r1", "worker-01", deploy_error, outputs),
                ]
            ),
        ),
        "get_nodes_response": agent(
            "get_nodes_response",
            bt.String("g1"),
            ok("g1", data=bt.Vector([s.to_brokertype() for s in statuses])),
        ),
        "node_dispatch_response": agent(
            "node_dispatch_response",
            bt.String("d1"),
            bt.Vector([ok("d1", "worker-01", bt.String('"worker-01"'))]),
        ),
        "agent_welcome_response": agent("agent_welcome_response", bt.String("w1"), ok("w1")),
        "agent_standby_response": agent("agent_standby_response", bt.String("s1"), ok("s1")),
        "restart_response": agent(
            "restart_response",
            bt.String("x1"),
            bt.Vector(
                [
                    ok("x1", "manager"),
                    failed("x1", "worker-02", "could not restart node worker-02"),
                ]
            ),
        ),
        "notify_agent_hello": agent(
            "notify_agent_hello",
            *strings(INSTANCE, "agent-broker-id"),
            bt.Boolean(True),
            bt.Count(1),
        ),
        "notify_error": agent("notify_error", *strings(INSTANCE, error_text, "w")),
        "notify_log": agent(
            "notify_log",
            *strings(INSTANCE, "deploying configuration c1: 4 nodes on this instance", ""),
        ),
        "notify_change": agent(
            "notify_change",
            bt.String(INSTANCE),
            worker.to_brokertype(),
            State.UNKNOWN.to_brokertype(),
            State.PENDING.to_brokertype(),
        ),
        "node_api_dispatch_request": (
            NODE_TOPIC,
            NODE_API + "node_dispatch_request",
            [bt.String("zma-7"), bt.Vector(strings("get_id_value", "Cluster::node")), nodes],
        ),
        "supervisor_destroy_request": supervisor("destroy_request", "worker-01"),
        "supervisor_status_request": supervisor("status_request", ""),
        "supervisor_restart_request": supervisor("restart_request", "worker-01"),
        "deploy_request_mini": deploy("mini"),
        "deploy_request_multi": deploy("multi"),
    }


CONTAINERS = ("vector", "set", "table")


def sort_sets(value: Any, all_sets: bool = False) -> Any:
    """Re-sorts set members by canonical JSON: sets of containers only (see the
    module docstring), or every set when all_sets is True."""
    if isinstance(value, list):
        return [sort_sets(v, all_sets) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: sort_sets(v, all_sets) for k, v in value.items()}
    members = out.get("data")
    if out.get("@data-type") == "set" and isinstance(members, list):
        nested = any(isinstance(m, dict) and m.get("@data-type") in CONTAINERS for m in members)
        if all_sets or nested:
            out["data"] = sorted(members, key=lambda m: json.dumps(m, sort_keys=True))
    return out


def encode(topic: str, event: str, args: Sequence[bt.Type]) -> str:
    raw = bt.DataMessage(topic, bt.ZeekEvent(event, *args)).serialize()
    # serialize() is json.dumps(..., sort_keys=True); re-dumping must be lossless.
    if json.dumps(json.loads(raw), sort_keys=True) != raw:
        raise SystemExit(f"{event}: zeek-client output does not survive a JSON round trip")
    return json.dumps(sort_sets(json.loads(raw)), sort_keys=True)


def cmd_vectors(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, (topic, event, ev_args) in build_vectors().items():
        path = out / f"{name}.json"
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(encode(topic, event, ev_args) + "\n")
        print(f"wrote {path}")
    return 0


# ---- check -------------------------------------------------------------


class CheckError(Exception):
    """An argument zeek-client cannot (or should not) accept."""


Checker = Callable[[bt.Type], None]


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckError(what)


def of(*kinds: type) -> Checker:
    def check(value: bt.Type) -> None:
        names = "/".join(k.__name__ for k in kinds)
        expect(isinstance(value, kinds), f"expected {names}, got {value!r}")

    return check


STR, BOOL, COUNT, ADDR = of(bt.String), of(bt.Boolean), of(bt.Count), of(bt.Address)
OPT_STR = of(bt.String, bt.NoneType)


def anything(_value: bt.Type) -> None:
    """Records zeek-client does not model (Supervisor::NodeConfig, Supervisor::Status)."""


def vector_of(check: Checker) -> Checker:
    def run(value: bt.Type) -> None:
        of(bt.Vector)(value)
        for elem in value:
            check(elem)

    return run


def set_of(check: Checker) -> Checker:
    def run(value: bt.Type) -> None:
        of(bt.Set)(value)
        for elem in value:
            check(elem)

    return run


def record(value: bt.Type, size: int, what: str) -> None:
    """A Zeek record: a vector of exactly `size` fields."""
    ok = isinstance(value, bt.Vector) and len(value) == size
    expect(ok, f"expected {what} ({size} fields), got {value!r}")


def result(value: bt.Type) -> types.Result:
    """A zeek7 Management::Result: reqid, success, instance, data, error, node."""
    record(value, 6, "Result")
    for field, check in zip(value, (STR, BOOL, OPT_STR, anything, OPT_STR, OPT_STR)):
        check(field)
    return types.Result.from_brokertype(value)


def result_only(value: bt.Type) -> None:
    result(value)


def node_outputs(value: bt.Type) -> None:
    """Management::NodeOutputs: stdout, stderr."""
    record(value, 2, "NodeOutputs")
    vector_of(STR)(value)
    types.NodeOutputs.from_brokertype(value)


def result_with_outputs(value: bt.Type) -> None:
    """A deploy/set_configuration result; failures may carry NodeOutputs."""
    res = result(value)
    if not res.success and isinstance(res.data, bt.Vector) and len(res.data) == 2:
        node_outputs(res.data)


def nodes_result(value: bt.Type) -> None:
    """get_nodes_response: a Result whose data is a vector of NodeStatus."""
    res = result(value)
    if res.data is None and not res.success:
        return
    of(bt.Vector)(res.data)
    for elem in res.data:
        expect(isinstance(elem, bt.Vector), f"expected a NodeStatus, got {elem!r}")
        types.NodeStatus.from_brokertype(elem)


def node(value: bt.Type) -> None:
    record(value, 11, "Node")
    types.Node.from_brokertype(value)


def state(value: bt.Type) -> None:
    of(bt.Enum)(value)
    types.State.from_brokertype(value)


def configuration(value: bt.Type) -> None:
    record(value, 3, "Configuration")
    types.Configuration.from_brokertype(value)


STR_VEC, STR_SET = vector_of(STR), set_of(STR)
RESULTS = vector_of(result_only)
RESULTS_WITH_OUTPUTS = vector_of(result_with_outputs)

# Argument checkers per event: every event our agent sends or receives.
SIGNATURES: Dict[str, List[List[Checker]]] = {
    AGENT_API + "deploy_request": [[STR, configuration, BOOL]],
    AGENT_API + "deploy_response": [[STR, RESULTS_WITH_OUTPUTS]],
    AGENT_API + "set_configuration_request": [[STR, configuration]],
    AGENT_API + "set_configuration_response": [[STR, RESULTS_WITH_OUTPUTS]],
    AGENT_API + "get_nodes_request": [[STR]],
    AGENT_API + "get_nodes_response": [[STR, nodes_result]],
    AGENT_API + "node_dispatch_request": [[STR, STR_VEC, STR_SET]],
    AGENT_API + "node_dispatch_response": [[STR, RESULTS]],
    AGENT_API + "agent_welcome_request": [[STR]],
    AGENT_API + "agent_welcome_response": [[STR, result_only]],
    AGENT_API + "agent_standby_request": [[STR]],
    AGENT_API + "agent_standby_response": [[STR, result_only]],
    AGENT_API + "restart_request": [[STR, STR_SET]],
    AGENT_API + "restart_response": [[STR, RESULTS]],
    # Current shape (instance, broker id, connecting, api version), then the seed one.
    AGENT_API + "notify_agent_hello": [[STR, STR, BOOL, COUNT], [STR, ADDR, COUNT]],
    AGENT_API + "notify_change": [[STR, node, state, state]],
    AGENT_API + "notify_error": [[STR, STR, STR]],
    AGENT_API + "notify_log": [[STR, STR, STR]],
    NODE_API + "node_dispatch_request": [[STR, STR_VEC, STR_SET]],
    NODE_API + "node_dispatch_response": [[STR, result_only]],
    NODE_API + "notify_node_hello": [[STR]],
    "Management::Supervisor::API::notify_node_exit": [[STR, node_outputs]],
    "SupervisorControl::create_request": [[STR, anything]],
    "SupervisorControl::create_response": [[STR, STR]],
    "SupervisorControl::destroy_request": [[STR, STR]],
    "SupervisorControl::destroy_response": [[STR, BOOL]],
    "SupervisorControl::restart_request": [[STR, STR]],
    "SupervisorControl::restart_response": [[STR, BOOL]],
    "SupervisorControl::status_request": [[STR, STR]],
    "SupervisorControl::status_response": [[STR, anything]],
    "SupervisorControl::stop_request": [[]],
}


def check_event(event: bt.ZeekEvent) -> None:
    shapes = SIGNATURES.get(event.name)
    if shapes is None:
        raise CheckError(f"no check defined for event {event.name!r}; refusing")
    arity = [s for s in shapes if len(s) == len(event.args)]
    wanted = " or ".join(str(len(s)) for s in shapes)
    expect(bool(arity), f"{event.name}: {len(event.args)} arguments, expected {wanted}")
    problems = []
    for shape in arity:
        try:
            for index, (check, arg) in enumerate(zip(shape, event.args)):
                try:
                    check(arg)
                except CheckError as err:
                    raise CheckError(f"{event.name} argument {index + 1}: {err}") from err
            return
        except CheckError as err:
            problems.append(str(err))
    raise CheckError("; ".join(problems))


def roundtrip_equal(line: str, msg: bt.DataMessage) -> None:
    want = json.dumps(sort_sets(json.loads(line), all_sets=True), sort_keys=True)
    got = json.dumps(sort_sets(json.loads(msg.serialize()), all_sets=True), sort_keys=True)
    expect(want == got, f"zeek-client re-encodes this message differently:\n  {got}")


def check_line(line: str, roundtrip: bool) -> None:
    msg = bt.unserialize(line)
    expect(isinstance(msg, bt.DataMessage), f"not a Broker data message but {type(msg).__name__}")
    event = bt.ZeekEvent.from_vector(msg.data)
    header = (msg.data[0], msg.data[1])  # zeek-client ignores it; Broker wants 1, 1
    expect(header == (bt.Count(1), bt.Count(1)), f"bad Zeek event header {header!r}")
    check_event(event)
    if roundtrip:
        roundtrip_equal(line, msg)


def check_file(path: Path, roundtrip: bool) -> bool:
    try:
        raw_lines = path.read_bytes().split(b"\n")
    except OSError as err:
        print(f"{path}: cannot read: {err}", file=sys.stderr)
        return False
    count = 0
    for lineno, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            check_line(raw.decode("utf-8"), roundtrip)
        except Exception as err:  # refuse, never crash: report whatever zeek-client raised
            print(f"{path}:{lineno}: FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            print(f"  line: {raw.decode('utf-8', errors='replace')}", file=sys.stderr)
            return False
        count += 1
    if count == 0:
        print(f"{path}: FAILED: no events", file=sys.stderr)
        return False
    print(f"checked {count} events in {path}")
    return True


def cmd_check(args: argparse.Namespace) -> int:
    for path in args.files:
        if not check_file(path, args.roundtrip):
            return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    vec = sub.add_parser("vectors", help="write zeek-client's encodings of reference events")
    vec.add_argument("--out", type=Path, required=True, help="output directory")
    vec.set_defaults(func=cmd_vectors)
    chk = sub.add_parser("check", help="decode Broker JSON lines with zeek-client's decoders")
    chk.add_argument("files", nargs="+", type=Path, metavar="FILE")
    chk.add_argument(
        "--roundtrip",
        action="store_true",
        help="also require zeek-client to re-encode each message to the same JSON value",
    )
    chk.set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

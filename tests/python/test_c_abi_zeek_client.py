"""Cross-checks the C ABI of libzeek_mgmt_agent against Zeek's own Python client.

What this proves:

* The shared library's C functions (``include/zeek_mgmt_agent.h``) work when
  called through nothing but :mod:`ctypes` — pointers, C strings, callbacks
  with ``user_data``, status codes, ``zma_last_error``, owned strings released
  with ``zma_string_free`` — the way any C host would call them.
* Every controller request the test sends is built by zeek-client 1.5.0
  (``zeekclient.brokertypes`` and ``zeekclient.types``, the configuration read
  from ``tests/fixtures/configs/mini.ini`` as ``zeek-client deploy-config``
  reads it), so the agent accepts the controller's real encoding.
* Every response and notification the agent emits during a full session
  (hello, welcome, deploy, get_nodes, node_dispatch, restart, standby) decodes
  with zeek-client's own decoders (``brokertypes.unserialize``,
  ``ZeekEvent.from_vector``, ``types.Result``, ``types.NodeStatus``,
  ``types.Node``, ``types.State``), and says what it should.
* The error paths (NULL agent, malformed JSON, unknown event, refused options)
  return the documented status codes and messages through the C ABI.

The test plays the Zeek side itself: it peers the Supervisor
(``Broker::peer_added``), answers every ``SupervisorControl::*_request`` the
agent publishes on ``zeek/supervisor``, and plays the cluster nodes
(``notify_node_hello``, ``Management::Node::API::node_dispatch_response``).
The agent runs in polled mode on a clock the test drives, so nothing sleeps.

The library is loaded from ``$ZMA_LIB`` (absolute path of
``libzeek_mgmt_agent.so``), by default from
``<repo>/target/release/libzeek_mgmt_agent.so``, ``<repo>`` being two
directories above this file; if it is missing the tests fail (they do not
skip). CI
builds it first and runs this module with the virtualenv that has
``zeek-client==1.5.0`` and pytest::

    cargo build --release --lib
    /tmp/zcvenv/bin/python -m pytest -q tests/python
"""

from __future__ import annotations

import collections
import configparser
import ctypes
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from zeekclient import brokertypes as bt
from zeekclient import types as zt

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIB = REPO_ROOT / "target" / "release" / "libzeek_mgmt_agent.so"
CONFIG_DIR = REPO_ROOT / "tests" / "fixtures" / "configs"

INSTANCE = "instance-1"
AGENT_TOPIC = f"zeek/management/agent/{INSTANCE}"
NODE_TOPIC = "zeek/management/node"
SUPERVISOR_TOPIC = "zeek/supervisor"
AGENT_API = "Management::Agent::API::"
NODE_API = "Management::Node::API::"
SUPERVISOR_API = "SupervisorControl::"

# Status codes (include/zeek_mgmt_agent.h).
ZMA_OK = 0
ZMA_ERR_NULL = -1
ZMA_ERR_UTF8 = -2
ZMA_ERR_JSON = -3
ZMA_ERR_EVENT = -4
ZMA_ERR_STATE = -5
ZMA_ERR_OPTIONS = -6
ZMA_ABI_VERSION = 1
ZMA_LOG_ERROR = 40

REQUEST_TIMEOUT_MS = 5000  # the agent's default request_timeout_ms

# ---- the C ABI through ctypes -------------------------------------------

# typedef void (*zma_event_fn)(void *user_data, const char *topic, const char *event_json);
EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
# typedef void (*zma_log_fn)(void *user_data, int level, const char *message);
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Declares argtypes/restype of every function this module calls.

    Agents and owned strings are kept as raw ``c_void_p`` so that ctypes never
    converts (and loses) a pointer the library wants back.
    """
    vp, cp, ci = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures: Dict[str, Tuple[List[Any], Any]] = {
        "zma_agent_new": ([cp, ctypes.POINTER(vp)], vp),
        "zma_agent_free": ([vp], None),
        "zma_agent_set_response_callback": ([vp, EVENT_FN, vp], ci),
        "zma_agent_set_notification_callback": ([vp, EVENT_FN, vp], ci),
        "zma_agent_set_publish_callback": ([vp, EVENT_FN, vp], ci),
        "zma_agent_set_log_callback": ([vp, LOG_FN, vp], ci),
        "zma_agent_handle_request": ([vp, cp], ci),
        "zma_agent_poll": ([vp, ctypes.c_uint64], ci),
        "zma_agent_next_timeout_ms": ([vp], ctypes.c_int64),
        "zma_agent_state_json": ([vp, ctypes.POINTER(vp)], ci),
        "zma_last_error": ([], cp),
        "zma_string_free": ([vp], None),
        "zma_version": ([], cp),
        "zma_abi_version": ([], ctypes.c_uint32),
    }
    for name, (argtypes, restype) in signatures.items():
        func = getattr(lib, name)
        func.argtypes = argtypes
        func.restype = restype
    return lib


_LIBRARY: Optional[ctypes.CDLL] = None


def load_library() -> ctypes.CDLL:
    """The shared library, or a test FAILURE (never a skip) naming what is missing."""
    global _LIBRARY
    if _LIBRARY is not None:
        return _LIBRARY
    configured = os.environ.get("ZMA_LIB")
    path = Path(configured) if configured else DEFAULT_LIB
    how = "from $ZMA_LIB" if configured else "default path; set $ZMA_LIB to override"
    if not path.is_file():
        pytest.fail(
            f"libzeek_mgmt_agent.so not found at {path} ({how}); build it with "
            f"`cargo build --release --lib` in {REPO_ROOT}",
            pytrace=False,
        )
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as err:
        pytest.fail(f"cannot load {path} ({how}): {err}", pytrace=False)
    _LIBRARY = _declare(lib)
    return _LIBRARY


def last_error(lib: ctypes.CDLL) -> Optional[str]:
    raw = lib.zma_last_error()
    return None if raw is None else raw.decode("utf-8")


def take_string(lib: ctypes.CDLL, ptr: ctypes.c_void_p) -> Optional[str]:
    """Copies a library-owned string and releases it with zma_string_free."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.zma_string_free(ptr)


@dataclass(frozen=True)
class Emitted:
    """One event the agent handed to a callback, copied during the callback."""

    topic: str
    json: str


class Agent:
    """A ``zma_agent *`` with its callbacks recorded into lists; ``close()`` is idempotent."""

    def __init__(self, lib: ctypes.CDLL, options: Dict[str, Any]) -> None:
        self.lib = lib
        self.now_ms = 0
        self.responses: List[Emitted] = []
        self.notifications: List[Emitted] = []
        self.published: List[Emitted] = []
        self.logs: List[Tuple[int, str]] = []
        self.callback_errors: List[str] = []
        error = ctypes.c_void_p()
        handle = lib.zma_agent_new(json.dumps(options).encode(), ctypes.byref(error))
        message = take_string(lib, error)
        assert handle, f"zma_agent_new refused {options}: {message}"
        assert message is None, f"zma_agent_new succeeded but set an error: {message}"
        self._handle: Optional[int] = handle
        # The ctypes callback objects must outlive the agent: keep them here.
        self._callbacks = [
            (lib.zma_agent_set_response_callback, self._event_fn(self.responses)),
            (lib.zma_agent_set_notification_callback, self._event_fn(self.notifications)),
            (lib.zma_agent_set_publish_callback, self._event_fn(self.published)),
            (lib.zma_agent_set_log_callback, LOG_FN(self._on_log)),
        ]
        for setter, callback in self._callbacks:
            assert setter(handle, callback, None) == ZMA_OK, last_error(lib)

    def _event_fn(self, into: List[Emitted]) -> Any:
        def on_event(_user_data: Optional[int], topic: bytes, event_json: bytes) -> None:
            try:  # never raise into C: record, and the test asserts afterwards
                into.append(Emitted(topic.decode("utf-8"), event_json.decode("utf-8")))
            except Exception as err:  # noqa: BLE001
                self.callback_errors.append(f"{type(err).__name__}: {err}")

        return EVENT_FN(on_event)

    def _on_log(self, _user_data: Optional[int], level: int, message: bytes) -> None:
        try:
            self.logs.append((level, message.decode("utf-8")))
        except Exception as err:  # noqa: BLE001
            self.callback_errors.append(f"{type(err).__name__}: {err}")

    @property
    def handle(self) -> int:
        assert self._handle is not None, "the agent is closed"
        return self._handle

    def _check_callbacks(self) -> None:
        assert not self.callback_errors, f"callbacks failed: {self.callback_errors}"

    def handle_request(self, event_json: str) -> int:
        status = self.lib.zma_agent_handle_request(self.handle, event_json.encode("utf-8"))
        self._check_callbacks()
        return int(status)

    def send(self, event_json: str) -> None:
        status = self.handle_request(event_json)
        assert status == ZMA_OK, f"handle_request: {status} {last_error(self.lib)}\n{event_json}"
        assert last_error(self.lib) is None, "zma_last_error is not NULL after success"

    def poll(self, step_ms: int = 10) -> None:
        """Advances the agent's clock (monotonically) and runs what is due."""
        self.now_ms += step_ms
        status = self.lib.zma_agent_poll(self.handle, self.now_ms)
        self._check_callbacks()
        assert status == ZMA_OK, f"zma_agent_poll: {status} {last_error(self.lib)}"

    def next_timeout_ms(self) -> int:
        return int(self.lib.zma_agent_next_timeout_ms(self.handle))

    def state(self) -> Dict[str, Any]:
        out = ctypes.c_void_p()
        status = self.lib.zma_agent_state_json(self.handle, ctypes.byref(out))
        error_text = last_error(self.lib)  # read before another call replaces it
        text = take_string(self.lib, out)
        assert status == ZMA_OK and text is not None, error_text
        return json.loads(text)

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            self.lib.zma_agent_free(handle)
        self._callbacks = []  # no callback runs after zma_agent_free returned

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def agent_options(state_dir: Path) -> Dict[str, Any]:
    return {
        "name": INSTANCE,
        "mode": "polled",
        "dialect": "zeek7",
        "encoding": "broker",
        "supervisor": {"kind": "host"},
        "state_dir": str(state_dir),
    }


# ---- building events with zeek-client -----------------------------------


def message(topic: str, name: str, *args: bt.Type) -> str:
    """A Broker JSON data message, exactly as zeek-client writes it."""
    return bt.DataMessage(topic, bt.ZeekEvent(name, *args)).serialize()


def controller_request(name: str, reqid: str, *args: bt.Type) -> str:
    return message(AGENT_TOPIC, AGENT_API + name, bt.String(reqid), *args)


def load_config(name: str) -> zt.Configuration:
    """Reads tests/fixtures/configs/<name>.ini the way `zeek-client deploy-config` does."""
    cfp = configparser.ConfigParser(allow_no_value=True)
    with (CONFIG_DIR / f"{name}.ini").open(encoding="utf-8") as handle:
        cfp.read_file(handle)
    config = zt.Configuration.from_config_parser(cfp)
    assert config is not None, f"zeek-client refused {name}.ini"
    return config


def supervisor_peer_added() -> str:
    """``Broker::peer_added`` for the Supervisor's endpoint, 127.0.0.1:9999/tcp.

    zeek-client does not model ``Broker::EndpointInfo``, so this is written by
    hand in the layout of tests/fixtures/events/Broker.peer_added.broker.json
    (a bare event: EndpointInfo = [id, NetworkInfo = [address string, port]]).
    """

    def val(kind: str, data: Any) -> Dict[str, Any]:
        return {"@data-type": kind, "data": data}

    endpoint = val(
        "vector",
        [
            val("string", "5b1e0c9a-0000-4000-8000-supervisor01"),
            val("vector", [val("string", "127.0.0.1"), val("port", "9999/tcp")]),
        ],
    )
    event = val(
        "vector",
        [
            val("count", 1),
            val("count", 1),
            val(
                "vector",
                [
                    val("string", "Broker::peer_added"),
                    val("vector", [endpoint, val("string", "handshake successful")]),
                ],
            ),
        ],
    )
    return json.dumps(event)


class Verbatim(bt.DataType):
    """A Broker JSON value zeek-client cannot build, passed through unchanged.

    The agent's ``Supervisor::NodeConfig`` carries cluster-table ports ``0/?``,
    which zeek-client's ``Port`` refuses; the fake Supervisor hands the record
    back in status responses exactly as the agent sent it, inside an event
    otherwise built with zeek-client.
    """

    def __init__(self, value: Dict[str, Any]) -> None:
        self._value = value

    def __hash__(self) -> int:
        return hash(json.dumps(self._value, sort_keys=True))

    def to_py(self) -> Dict[str, Any]:
        return self._value

    def to_broker(self) -> Dict[str, Any]:
        return self._value

    @classmethod
    def from_broker(cls, data: Dict[str, Any]) -> "Verbatim":
        return cls(data)


def raw_event(emitted: Emitted) -> Tuple[str, List[Dict[str, Any]]]:
    """Name and raw Broker JSON arguments of an event the agent published.

    Parsed with json.loads: Supervisor-bound events are not fed to zeek-client.
    """
    msg = json.loads(emitted.json)
    assert msg.get("type") == "data-message", emitted.json
    assert msg.get("topic") == emitted.topic, f"envelope topic != callback topic: {emitted}"
    header, body = msg["data"][:2], msg["data"][2]["data"]
    assert header == [{"@data-type": "count", "data": 1}] * 2, emitted.json
    assert body[0]["@data-type"] == "string" and body[1]["@data-type"] == "vector"
    return body[0]["data"], body[1]["data"]


def raw_string(value: Dict[str, Any]) -> str:
    assert value["@data-type"] == "string", value
    return value["data"]


def sorted_sets(value: Any) -> Any:
    """A Broker JSON value with set members in a canonical order (sets are unordered)."""
    if isinstance(value, list):
        return [sorted_sets(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: sorted_sets(v) for k, v in value.items()}
    if out.get("@data-type") == "set" and isinstance(out.get("data"), list):
        out["data"] = sorted(out["data"], key=lambda m: json.dumps(m, sort_keys=True))
    return out


def decode(emitted: Emitted) -> bt.ZeekEvent:
    """zeek-client's decoding of one emitted event: DataMessage, then ZeekEvent.

    zeek-client must also re-encode the message to the same JSON value, so it
    neither dropped nor rewrote anything (stray keys, ``1.0`` for a count).
    """
    msg = bt.unserialize(emitted.json)
    assert isinstance(msg, bt.DataMessage), f"not a data message: {emitted.json}"
    assert msg.topic == emitted.topic, f"envelope topic != callback topic: {emitted}"
    # Compared as canonical text: as Python values 1 == 1.0 == True.
    again = json.dumps(sorted_sets(json.loads(msg.serialize())), sort_keys=True)
    assert again == json.dumps(sorted_sets(json.loads(emitted.json)), sort_keys=True), (
        f"zeek-client re-encodes this differently:\n  agent:       {emitted.json}"
        f"\n  zeek-client: {msg.serialize()}"
    )
    return bt.ZeekEvent.from_vector(msg.data)


# ---- the Zeek side: Supervisor and nodes --------------------------------


@dataclass
class Supervised:
    config: Dict[str, Any]  # the Supervisor::NodeConfig, raw Broker JSON
    pid: int


class ZeekSide:
    """Plays the Zeek Supervisor and the cluster nodes for one agent."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.answered = 0  # how many of agent.published were handled
        self.nodes: Dict[str, Supervised] = {}
        self.next_pid = 4000
        self.supervisor_log: List[Tuple[str, str]] = []  # (request, node)
        self.dispatches: List[bt.ZeekEvent] = []

    def pump(self) -> None:
        """Answers everything the agent publishes, polling, until it goes quiet."""
        for _ in range(1000):
            if self.answered == len(self.agent.published):
                self.agent.poll()
                if self.answered == len(self.agent.published):
                    return
            emitted = self.agent.published[self.answered]
            self.answered += 1
            if emitted.topic == SUPERVISOR_TOPIC:
                self._supervisor(emitted)
            elif emitted.topic == NODE_TOPIC:
                self._node_dispatch(emitted)
            else:
                raise AssertionError(f"published on an unexpected topic: {emitted}")
        raise AssertionError("the agent never stopped publishing")

    def _reply(self, name: str, *args: bt.Type) -> None:
        self.agent.send(message(SUPERVISOR_TOPIC, SUPERVISOR_API + name, *args))

    def _hello(self, node: str) -> None:
        self.agent.send(message(NODE_TOPIC, NODE_API + "notify_node_hello", bt.String(node)))

    def _supervisor(self, emitted: Emitted) -> None:
        name, args = raw_event(emitted)
        assert name.startswith(SUPERVISOR_API), emitted.json
        short = name[len(SUPERVISOR_API) :]
        assert len(args) == 2, emitted.json
        reqid = bt.String(raw_string(args[0]))
        if short == "create_request":
            config = args[1]
            assert config["@data-type"] == "vector", config
            node = raw_string(config["data"][0])
            self.supervisor_log.append((short, node))
            assert node not in self.nodes, f"{node} created twice"
            self.next_pid += 1
            self.nodes[node] = Supervised(config, self.next_pid)
            self._reply("create_response", reqid, bt.String(""))
            self._hello(node)
            return
        node = raw_string(args[1])
        self.supervisor_log.append((short, node))
        if short == "status_request":
            nodes = {
                bt.String(n): bt.Vector([Verbatim(s.config), bt.Integer(s.pid)])
                for n, s in self.nodes.items()
                if node in ("", n)
            }
            self._reply("status_response", reqid, bt.Vector([bt.Table(nodes)]))
        elif short == "destroy_request":
            known = node in self.nodes
            self.nodes.pop(node, None)
            self._reply("destroy_response", reqid, bt.Boolean(known))
        elif short == "restart_request":
            known = node in self.nodes
            if known:
                self.next_pid += 1
                self.nodes[node].pid = self.next_pid
            self._reply("restart_response", reqid, bt.Boolean(known))
            if known:
                self._hello(node)  # the restarted node checks in again
        else:
            raise AssertionError(f"unexpected Supervisor request: {emitted.json}")

    def _node_dispatch(self, emitted: Emitted) -> None:
        event = decode(emitted)  # node-bound events are plain strings: zeek-client reads them
        assert event.name == NODE_API + "node_dispatch_request", emitted.json
        reqid, action, targets = event.args
        assert isinstance(reqid, bt.String) and isinstance(action, bt.Vector)
        assert isinstance(targets, bt.Set), emitted.json
        self.dispatches.append(event)
        for node in sorted(targets.to_py()):
            result = zt.Result(
                reqid.to_py(), True, None, bt.String(json.dumps(node)), None, node
            ).to_brokertype()
            self.agent.send(
                message(NODE_TOPIC, NODE_API + "node_dispatch_response", reqid, result)
            )


# ---- decoding what the agent emitted with zeek-client -------------------


def decode_result(value: bt.Type) -> zt.Result:
    assert isinstance(value, bt.Vector) and len(value) == 6, f"not a zeek7 Result: {value!r}"
    result = zt.Result.from_brokertype(value)
    assert isinstance(result.reqid, str) and isinstance(result.success, bool), repr(value)
    for field in (result.instance, result.error, result.node):
        assert field is None or isinstance(field, str), repr(value)
    return result


def decode_results(value: bt.Type) -> List[zt.Result]:
    assert isinstance(value, bt.Vector), f"not a vector of Results: {value!r}"
    return [decode_result(elem) for elem in value]


def decode_strings(args: List[bt.Type], count: int) -> List[str]:
    assert len(args) == count and all(isinstance(a, bt.String) for a in args), repr(args)
    return [a.to_py() for a in args]


@dataclass
class Decoded:
    name: str  # without the Management::Agent::API:: prefix
    args: List[Any]  # zeek-client's typed values


def decode_agent_event(emitted: Emitted) -> Decoded:
    """Every argument of an agent -> controller event, through zeek-client's decoders."""
    event = decode(emitted)
    assert event.name.startswith(AGENT_API), f"unexpected event {event.name}"
    name = event.name[len(AGENT_API) :]
    args = event.args
    if name in ("deploy_response", "node_dispatch_response", "restart_response"):
        assert len(args) == 2 and isinstance(args[0], bt.String), repr(args)
        return Decoded(name, [args[0].to_py(), decode_results(args[1])])
    if name in ("get_nodes_response", "agent_welcome_response", "agent_standby_response"):
        assert len(args) == 2 and isinstance(args[0], bt.String), repr(args)
        result = decode_result(args[1])
        if name == "get_nodes_response" and result.data is not None:
            assert isinstance(result.data, bt.Vector), repr(result.data)
            for elem in result.data:
                assert isinstance(elem, bt.Vector) and len(elem) == 7, f"not a NodeStatus: {elem!r}"
            statuses = [zt.NodeStatus.from_brokertype(elem) for elem in result.data]
            return Decoded(name, [args[0].to_py(), result, statuses])
        return Decoded(name, [args[0].to_py(), result])
    if name == "notify_agent_hello":
        kinds = (bt.String, bt.String, bt.Boolean, bt.Count)
        assert len(args) == 4, repr(args)
        assert all(isinstance(a, k) for a, k in zip(args, kinds)), repr(args)
        return Decoded(name, [a.to_py() for a in args])
    if name == "notify_change":
        assert len(args) == 4 and isinstance(args[0], bt.String), repr(args)
        assert isinstance(args[1], bt.Vector) and len(args[1]) == 11, f"not a Node: {args[1]!r}"
        node = zt.Node.from_brokertype(args[1])
        old, new = zt.State.from_brokertype(args[2]), zt.State.from_brokertype(args[3])
        return Decoded(name, [args[0].to_py(), node, old, new])
    if name in ("notify_log", "notify_error"):
        return Decoded(name, decode_strings(args, 3))
    raise AssertionError(f"no decoder for {event.name}: {emitted.json}")


# ---- tests ----------------------------------------------------------------


def test_version_and_abi() -> None:
    lib = load_library()
    assert lib.zma_abi_version() == ZMA_ABI_VERSION
    version = lib.zma_version().decode()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    cargo = (REPO_ROOT / "Cargo.toml").read_text(encoding="utf-8")
    package_version = re.search(r'^version\s*=\s*"([^"]+)"', cargo, re.MULTILINE)
    assert package_version and version == package_version.group(1)


def test_full_session_round_trips_through_zeek_client(tmp_path: Path) -> None:
    lib = load_library()
    config = load_config("mini")
    local_nodes = sorted(n.name for n in config.nodes if n.instance == INSTANCE)
    assert local_nodes == ["logger-01", "manager", "worker-01", "worker-02"]
    sent: Dict[str, str] = {}  # reqid -> request name

    with Agent(lib, agent_options(tmp_path)) as agent:
        zeek = ZeekSide(agent)
        agent.poll(1000)
        assert agent.next_timeout_ms() == -1

        def request(name: str, reqid: str, *args: bt.Type) -> None:
            sent[reqid] = name
            agent.send(controller_request(name, reqid, *args))
            zeek.pump()

        # The Supervisor peers: only now does the agent say hello.
        agent.send(supervisor_peer_added())
        zeek.pump()
        assert [decode(n).name for n in agent.notifications] == [AGENT_API + "notify_agent_hello"]

        request("agent_welcome_request", "welcome-1")
        request("deploy_request", "deploy-1", config.to_brokertype(), bt.Boolean(False))
        state = agent.state()
        assert state["config_id"] == config.id
        assert {n["name"]: n["state"] for n in state["nodes"]} == dict.fromkeys(
            local_nodes, "RUNNING"
        )
        creates = [n for kind, n in zeek.supervisor_log if kind == "create_request"]
        assert creates == local_nodes, "one create per node, loggers, manager, workers"

        # get_nodes is registered with the request timeout on the host's clock.
        agent.send(controller_request("get_nodes_request", "nodes-1"))
        sent["nodes-1"] = "get_nodes_request"
        pending = agent.state()["pending_requests"]
        deadline = agent.now_ms + REQUEST_TIMEOUT_MS
        assert pending == [{"id": "nodes-1", "kind": "get_nodes", "deadline_ms": deadline}]
        assert 0 <= agent.next_timeout_ms() <= deadline
        zeek.pump()

        request(
            "node_dispatch_request",
            "dispatch-1",
            bt.Vector([bt.String("get_id_value"), bt.String("Cluster::node")]),
            bt.Set(set()),
        )
        request("restart_request", "restart-1", bt.Set({bt.String("worker-01")}))
        restarts = {n["name"]: n["restarts"] for n in agent.state()["nodes"]}
        assert restarts == {**dict.fromkeys(local_nodes, 0), "worker-01": 1}

        request("agent_standby_request", "standby-1")
        state = agent.state()
        assert state["nodes"] == [] and state["pending_requests"] == []
        assert zeek.nodes == {}, "standby destroyed every cluster node"
        assert agent.next_timeout_ms() == -1

        responses, notifications = list(agent.responses), list(agent.notifications)
        logs = list(agent.logs)

    # Closed: nothing more arrives, and close() again is harmless.
    agent.close()
    assert agent.responses == responses and agent.notifications == notifications

    # ---- the Supervisor and the nodes saw what they should ----
    assert zeek.supervisor_log.count(("restart_request", "worker-01")) == 1
    destroyed = sorted(n for kind, n in zeek.supervisor_log if kind == "destroy_request")
    assert destroyed == local_nodes
    assert len(zeek.dispatches) == 1
    dispatch_reqid, action, targets = zeek.dispatches[0].args
    node_reqid = dispatch_reqid.to_py()
    assert action.to_py() == ["get_id_value", "Cluster::node"]
    assert sorted(targets.to_py()) == local_nodes
    assert node_reqid not in sent, "the node-level dispatch has its own request id"

    # ---- every response and notification decodes with zeek-client ----
    assert all(r.topic == AGENT_TOPIC for r in responses + notifications), [
        r.topic for r in responses + notifications
    ]
    decoded = [decode_agent_event(r) for r in responses]
    per_reqid = collections.Counter(d.args[0] for d in decoded)
    assert per_reqid == collections.Counter(list(sent)), "each request answered exactly once"
    by_reqid = {d.args[0]: d for d in decoded}
    for reqid, name in sent.items():
        want = name.replace("_request", "_response")
        assert by_reqid[reqid].name == want, f"{reqid}: {by_reqid[reqid].name} != {want}"

    def single(reqid: str) -> zt.Result:
        result: zt.Result = by_reqid[reqid].args[1]
        assert result.reqid == reqid and result.success, vars(result)
        assert result.instance == INSTANCE and result.error is None, vars(result)
        return result

    def many(reqid: str, result_reqid: Optional[str] = None) -> Dict[str, zt.Result]:
        results: List[zt.Result] = by_reqid[reqid].args[1]
        for result in results:
            assert result.reqid == (result_reqid or reqid) and result.success, vars(result)
            assert result.instance == INSTANCE and result.error is None, vars(result)
        named = {r.node: r for r in results}
        assert len(named) == len(results), f"{reqid}: a node answered twice"
        return named

    single("welcome-1")
    assert sorted(many("deploy-1")) == local_nodes

    single("nodes-1")
    statuses = {s.node: s for s in by_reqid["nodes-1"].args[2]}
    assert sorted(statuses) == local_nodes
    roles = {
        "logger-01": zt.ClusterRole.LOGGER,
        "manager": zt.ClusterRole.MANAGER,
        "worker-01": zt.ClusterRole.WORKER,
        "worker-02": zt.ClusterRole.WORKER,
    }
    ports = {"logger-01": 5001, "manager": 5000, "worker-01": None, "worker-02": None}
    for name, status in statuses.items():
        assert status.state == zt.State.RUNNING, (name, status.state)
        assert status.mgmt_role == zt.ManagementRole.NONE, (name, status.mgmt_role)
        assert status.cluster_role == roles[name], (name, status.cluster_role)
        assert status.port == ports[name], (name, status.port)
        assert status.metrics_port is None, (name, status.metrics_port)
        assert isinstance(status.pid, int) and status.pid > 4000, (name, status.pid)

    # As in Zeek, the agent relays each node's Result as the node wrote it
    # (reqid = the node-level request id) and fills in its instance.
    dispatch = many("dispatch-1", result_reqid=node_reqid)
    assert sorted(dispatch) == local_nodes
    for node, result in dispatch.items():
        assert isinstance(result.data, bt.String), repr(result.data)
        assert json.loads(result.data.to_py()) == node

    assert list(many("restart-1")) == ["worker-01"]
    single("standby-1")

    # Notifications: one hello, then logs and node state changes.
    events = [decode_agent_event(n) for n in notifications]
    hello = [e for e in events if e.name == "notify_agent_hello"]
    assert len(hello) == 1
    instance, broker_id, connecting, api_version = hello[0].args
    assert (instance, connecting, api_version) == (INSTANCE, True, 1) and broker_id
    assert [e for e in events if e.name == "notify_error"] == []
    changes = [e.args for e in events if e.name == "notify_change"]
    assert changes, "node state changes were notified"
    for instance, node, old, new in changes:
        assert instance == INSTANCE and node.instance == INSTANCE
        assert node.name in local_nodes and node.role == roles[node.name]
        assert node.state == new and old != new
    running = {c[1].name for c in changes if c[3] == zt.State.RUNNING}
    assert running == set(local_nodes)
    assert not [m for level, m in logs if level >= ZMA_LOG_ERROR], logs


def test_error_paths_through_ctypes(tmp_path: Path) -> None:
    lib = load_library()
    welcome = controller_request("agent_welcome_request", "w-1").encode()

    # NULL agent: every entry point refuses it with ZMA_ERR_NULL.
    assert lib.zma_agent_handle_request(None, welcome) == ZMA_ERR_NULL
    error_text = last_error(lib)
    assert error_text and "NULL" in error_text, error_text
    assert lib.zma_agent_poll(None, 1) == ZMA_ERR_NULL
    assert "NULL" in (last_error(lib) or "")
    out = ctypes.c_void_p()
    assert lib.zma_agent_state_json(None, ctypes.byref(out)) == ZMA_ERR_NULL
    assert out.value is None
    assert lib.zma_agent_set_response_callback(None, EVENT_FN(), None) == ZMA_ERR_NULL
    assert lib.zma_agent_next_timeout_ms(None) == -1
    lib.zma_agent_free(None)  # no-op
    lib.zma_string_free(None)  # no-op

    with Agent(lib, agent_options(tmp_path)) as agent:
        agent.poll(1000)

        # Malformed JSON: a zeek-client message cut short.
        assert agent.handle_request(welcome.decode()[:-7]) == ZMA_ERR_JSON
        error_text = last_error(lib)
        assert error_text and "not JSON" in error_text, error_text

        # Well-formed, but no such event.
        unknown = controller_request("no_such_request", "u-1")
        assert agent.handle_request(unknown) == ZMA_ERR_EVENT
        error_text = last_error(lib)
        assert error_text and "no_such_request" in error_text, error_text
        assert "unknown event" in error_text, error_text

        # zeek-client will not even build a config with a node port out of
        # range; the same deploy with the port patched in afterwards is an
        # event error naming the value.
        cfp = configparser.ConfigParser()
        cfp.read_string("[manager]\ninstance = instance-1\nrole = manager\nport = 70000\n")
        with pytest.raises(ValueError, match="outside valid range"):
            zt.Node.from_config_parser(cfp, "manager")
        deploy = controller_request(
            "deploy_request", "d-1", load_config("mini").to_brokertype(), bt.Boolean(False)
        )
        assert deploy.count('"5000/tcp"') == 1
        patched = deploy.replace('"5000/tcp"', '"70000/tcp"')
        assert agent.handle_request(patched) == ZMA_ERR_EVENT
        error_text = last_error(lib)
        assert error_text and "deploy_request" in error_text and "70000" in error_text, error_text
        assert "out of range" in error_text, error_text

        # A refused input changes nothing and emits nothing.
        assert agent.responses == [] and agent.notifications == [] and agent.published == []
        assert agent.state()["pending_requests"] == []

        # After a success zma_last_error is NULL again; the answer is zeek-client-readable.
        agent.send(welcome.decode())
        assert [decode_agent_event(r).name for r in agent.responses] == ["agent_welcome_response"]

    # Refused options: NULL agent and an owned message naming the key.
    error = ctypes.c_void_p()
    handle = lib.zma_agent_new(json.dumps({"mode": "sideways"}).encode(), ctypes.byref(error))
    assert handle is None and error.value
    thread_message = last_error(lib)
    text = take_string(lib, error)  # copied, then released with zma_string_free
    assert text is not None and "'mode'" in text and "sideways" in text, text
    assert thread_message == text

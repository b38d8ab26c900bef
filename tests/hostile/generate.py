#!/usr/bin/env python3
"""Writes the hostile-input corpus: tests/hostile/cases/* and expectations.tsv.

Standard library only. Run from anywhere:

    python3 tests/hostile/generate.py

The committed files are what tests/hostile.rs reads; this script only makes
them reproducible. It reads the fixtures in tests/fixtures/events/ (to
truncate real zeek-client events) and nothing outside the repository.

Columns of expectations.tsv (tab-separated, `-` = none):
  file            case file under cases/, or gen:<name> (built by the test)
  target          request (zma_agent_handle_request), options
                  (zma_agent_new) or poll (zma_agent_poll, the file holds now_ms)
  agent           agent overrides, comma-separated k=v: dialect, encoding,
                  sup (host|process), max_event_bytes, max_json_depth
  status          the exact status (ZMA_OK, ZMA_ERR_JSON, ...)
  message         a substring zma_last_error() must contain (`-`: NULL)
  response_error  for ZMA_OK: a substring the `error` of a failed Result in
                  the answer must contain (`-`: no failed Result at all)
  state           same (state JSON identical), config (config_id and nodes
                  unchanged), any (the input is accepted and may change it)
"""

import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES_DIR = os.path.join(HERE, "cases")
EVENTS = os.path.join(ROOT, "tests", "fixtures", "events")
STANDIN = "target/release/zma-standin-node"
TOPIC = "zeek/management/agent/instance-1"

OK = "ZMA_OK"
JSON_ = "ZMA_ERR_JSON"
EVENT = "ZMA_ERR_EVENT"
LIMIT = "ZMA_ERR_LIMIT"
UTF8 = "ZMA_ERR_UTF8"
OPTIONS = "ZMA_ERR_OPTIONS"

CASES = []
NAMES = set()


def add(name, content, status, message="-", response="-", state=None,
        target="request", agent="-"):
    """Registers one case. `content` is str (written as UTF-8), bytes, or a
    JSON-able object (written with json.dumps)."""
    if isinstance(content, (dict, list)):
        content = json.dumps(content, ensure_ascii=False)
    if isinstance(content, str):
        content = content.encode("utf-8")
    try:
        content.decode("utf-8")
        text_like = b"\0" not in content
    except UnicodeDecodeError:
        text_like = False
    file = f"{name}.json" if text_like else f"{name}.bin"
    if target == "poll":
        file = f"{name}.txt"
    assert file not in NAMES, file
    NAMES.add(file)
    if state is None:
        if target == "options":
            state = "-"
        elif status != OK:
            state = "same"
        elif response != "-":
            state = "config"
        else:
            state = "same"
    for col in (message, response, agent):
        assert "\t" not in col and "\n" not in col, (name, col)
    CASES.append((file, content, target, agent, status, message, response, state))


def gen(name, status, message="-", response="-", state=None, agent="-"):
    """A case built by the test at run time (too big to commit)."""
    if state is None:
        state = "same" if status != OK or response == "-" else "config"
    CASES.append((f"gen:{name}", None, "request", agent, status, message, response, state))


def utf8_offset(data):
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as e:
        return e.start


# ---- value builders ----------------------------------------------------------

def B(tag, data):
    return {"@data-type": tag, "data": data}


NONE = B("none", {})


def bstr(s):
    return B("string", s)


def bcount(n):
    return B("count", n)


def bint(n):
    return B("integer", n)


def bbool(b):
    return B("boolean", b)


def bport(p):
    return B("port", p)


def benum(e):
    return B("enum-value", e)


def baddr(a):
    return B("address", a)


def bvec(xs):
    return B("vector", xs)


def bset(xs):
    return B("set", xs)


def btable(d):
    return B("table", [{"key": bstr(k), "value": v} for k, v in d.items()])


def broker_event(name, args, topic=TOPIC):
    return {
        "type": "data-message",
        "topic": topic,
        "@data-type": "vector",
        "data": [bcount(1), bcount(1), bvec([bstr(name), bvec(args)])],
    }


def plain_event(name, args):
    return {"event": name, "args": args}


def instance(name="instance-1", host="127.0.0.1", listen_port=2151):
    i = {"name": name, "host": host}
    if listen_port is not None:
        i["listen_port"] = {"port": listen_port, "proto": "tcp"}
    return i


def node(name="h-worker", inst="instance-1", role="WORKER", **kw):
    """A plain Management::Node; a bare role name gets its scope, anything
    else (a scoped name, "", a number) is written as given."""
    scoped = isinstance(role, str) and role.isupper() and "::" not in role
    n = {"name": name, "instance": inst, "role": f"Supervisor::{role}" if scoped else role}
    n.update(kw)
    return n


def config(nodes, instances=None, cid="hostile-config"):
    return {"id": cid, "instances": instances if instances is not None else [instance()],
            "nodes": nodes}


def deploy(cfg, reqid="h-deploy", force=False):
    return plain_event("deploy_request", {"reqid": reqid, "config": cfg, "force": force})


def set_configuration(cfg, reqid="h-setconf"):
    return plain_event("set_configuration_request", {"reqid": reqid, "config": cfg})


def b_port_of(v):
    if isinstance(v, dict):
        return bport(f"{v['port']}/{v.get('proto', 'tcp')}")
    if isinstance(v, int):
        return bport(f"{v}/tcp")
    return bport(v)


def b_instance(i):
    return bvec([bstr(i["name"]), baddr(i["host"]),
                 b_port_of(i["listen_port"]) if "listen_port" in i else NONE])


def b_node(n):
    role = n["role"] if n["role"].startswith("Supervisor::") else "Supervisor::" + n["role"]
    return bvec([
        bstr(n["name"]),
        bstr(n["instance"]),
        benum(role),
        benum(n.get("state", "Management::RUNNING")),
        b_port_of(n["p"]) if "p" in n else NONE,
        bvec([bstr(s) for s in n["scripts"]]) if "scripts" in n else NONE,
        NONE,
        bstr(n["interface"]) if "interface" in n else NONE,
        bint(n["cpu_affinity"]) if "cpu_affinity" in n else NONE,
        btable({k: bstr(v) for k, v in n.get("env", {}).items()}),
        b_port_of(n["metrics_port"]) if "metrics_port" in n else NONE,
    ])


def b_config(cfg):
    return bvec([bstr(cfg["id"]),
                 bset([b_instance(i) for i in cfg["instances"]]),
                 bset([b_node(n) for n in cfg["nodes"]])])


def b_deploy(cfg, reqid="h-deploy", force=False):
    return broker_event("Management::Agent::API::deploy_request",
                        [bstr(reqid), b_config(cfg), bbool(force)])


def b_set_configuration(cfg, reqid="h-setconf"):
    return broker_event("Management::Agent::API::set_configuration_request",
                        [bstr(reqid), b_config(cfg)])


def good_node(**kw):
    return node("h-worker", **kw)


# ---- 1. truncated fixtures ---------------------------------------------------

def truncations():
    plan = {
        "Management.Agent.API.deploy_request": 9,
        "Management.Agent.API.set_configuration_request": 5,
        "Management.Agent.API.get_nodes_request": 3,
        "Management.Agent.API.node_dispatch_request": 3,
        "Management.Agent.API.node_dispatch_request-targeted": 2,
        "Management.Agent.API.restart_request": 3,
        "Management.Agent.API.agent_welcome_request": 2,
        "Management.Agent.API.agent_standby_request": 2,
        "Management.Node.API.notify_node_hello": 2,
        "Management.Node.API.node_dispatch_response": 2,
        "Broker.peer_added": 2,
        "SupervisorControl.status_response": 2,
    }
    for base, points in plan.items():
        for enc in ("plain", "broker"):
            with open(os.path.join(EVENTS, f"{base}.{enc}.json"), "rb") as f:
                data = f.read().rstrip()
            cuts = sorted({len(data) * k // (points + 1) for k in range(1, points + 1)}
                          | {len(data) - 1})
            short = base.split(".")[-1]
            for cut in cuts:
                piece = data[:cut]
                off = utf8_offset(piece)
                if off is not None:
                    add(f"trunc-{short}-{enc}-{cut:05d}", piece, UTF8,
                        f"event is not valid UTF-8 (invalid byte at offset {off})")
                else:
                    add(f"trunc-{short}-{enc}-{cut:05d}", piece, JSON_, "event is not JSON")


# ---- 2. malformed JSON ---------------------------------------------------------

GN = '{"event": "get_nodes_request", "args": {"reqid": "r"}}'
WELCOME = '{"event": "agent_welcome_request", "args": {"reqid": "w"}}'


def malformed():
    m = lambda name, text, msg="event is not JSON": add(f"json-{name}", text, JSON_, msg)
    m("empty", "", "event is not JSON: EOF while parsing a value")
    m("whitespace-only", " \n\t ", "event is not JSON: EOF while parsing a value")
    m("trailing-garbage", GN + " x", "event is not JSON: trailing characters")
    m("two-objects", GN + GN, "event is not JSON: trailing characters")
    m("extra-closing-brace", GN + "}", "event is not JSON: trailing characters")
    m("single-quotes", "{'event': 'get_nodes_request', 'args': {'reqid': 'r'}}",
      "event is not JSON: key must be a string")
    m("trailing-comma-object", '{"event": "get_nodes_request", "args": {"reqid": "r",}}',
      "event is not JSON: trailing comma")
    m("trailing-comma-array", '{"event": "restart_request", "args": {"reqid": "r", "nodes": ["a",]}}',
      "event is not JSON: trailing comma")
    m("line-comment", '// hello\n' + GN, "event is not JSON: expected value")
    m("block-comment", '{"event": /* x */ "get_nodes_request", "args": {"reqid": "r"}}',
      "event is not JSON: expected value")
    m("nan", '{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c"}, "force": NaN}}',
      "event is not JSON: expected value")
    m("infinity", '{"event": "node_dispatch_request", "args": {"reqid": "r", "action": [Infinity]}}',
      "event is not JSON: expected value")
    m("python-true", '{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c"}, "force": True}}',
      "event is not JSON: expected value")
    m("unquoted-key", '{event: "get_nodes_request", "args": {"reqid": "r"}}',
      "event is not JSON: key must be a string")
    m("bad-escape", '{"event": "get_nodes_request", "args": {"reqid": "\\x41"}}',
      "event is not JSON: invalid escape")
    m("lone-surrogate", '{"event": "get_nodes_request", "args": {"reqid": "\\ud800"}}',
      "event is not JSON: unexpected end of hex escape")
    m("lone-trailing-surrogate", '{"event": "get_nodes_request", "args": {"reqid": "\\udc00x"}}',
      "event is not JSON: ")
    m("raw-newline-in-string", '{"event": "get_nodes_request", "args": {"reqid": "a\nb"}}',
      "event is not JSON: control character")
    m("raw-tab-in-string", '{"event": "get_nodes_request", "args": {"reqid": "a\tb"}}',
      "event is not JSON: control character")
    m("bom", "\ufeff" + GN, "event is not JSON: expected value")
    m("number-overflow", '{"event": "restart_request", "args": {"reqid": "r", "nodes": [1e400]}}',
      "event is not JSON: number out of range")
    m("hex-number", '{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "nodes": [{"name": "n", "instance": "instance-1", "role": "WORKER", "p": 0x10}]}}}',
      "event is not JSON")
    m("leading-zero", '{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "nodes": [{"name": "n", "instance": "instance-1", "role": "WORKER", "p": 05000}]}}}',
      "event is not JSON")
    m("plus-sign", '{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "nodes": [{"name": "n", "instance": "instance-1", "role": "WORKER", "p": +5000}]}}}',
      "event is not JSON: expected value")
    m("missing-colon", '{"event" "get_nodes_request"}', "event is not JSON: expected `:`")
    m("unclosed-string", '{"event": "get_nodes_request', "event is not JSON: EOF while parsing a string")
    m("bare-word", "get_nodes_request", "event is not JSON: expected value")
    # Duplicate keys: refused while parsing, named (see the report: the
    # implementation counts JSON with duplicate names as not JSON).
    m("dup-event-key", '{"event": "get_nodes_request", "event": "agent_standby_request", "args": {"reqid": "r"}}',
      'duplicate key "event"')
    m("dup-args-key", '{"event": "get_nodes_request", "args": {"reqid": "r"}, "args": {"reqid": "s"}}',
      'duplicate key "args"')
    m("dup-reqid", '{"event": "get_nodes_request", "args": {"reqid": "r", "reqid": "s"}}',
      'duplicate key "reqid"')
    m("dup-node-name", json.dumps(deploy(config([good_node()]))).replace(
        '"name": "h-worker"', '"name": "h-worker", "name": "../../etc"'), 'duplicate key "name"')
    m("dup-env-key", json.dumps(deploy(config([good_node(env={"A": "1"})]))).replace(
        '"env": {"A": "1"}', '"env": {"A": "1", "A": "2"}'), 'duplicate key "A"')
    m("dup-broker-data", json.dumps(broker_event("Management::Agent::API::get_nodes_request", [bstr("r")])).replace(
        '"data": "r"}', '"data": "r", "data": "s"}'), 'duplicate key "data"')
    m("dup-key-escaped", '{"event": "get_nodes_request", "args": {"reqid": "r", "re\\u0071id": "s"}}',
      'duplicate key "reqid"')


# ---- 3. invalid UTF-8 ----------------------------------------------------------

def invalid_utf8():
    def u(name, data, status=UTF8, agent="-", message=None):
        if message is None:
            message = f"event is not valid UTF-8 (invalid byte at offset {utf8_offset(data)})"
        add(f"utf8-{name}", data, status, message, agent=agent)
    pre = b'{"event": "get_nodes_request", "args": {"reqid": "'
    post = b'"}}'
    u("lone-continuation", pre + b"\x80" + post)
    u("ff-byte", b"\xff" + GN.encode())
    u("fe-byte", pre + b"a\xfe" + post)
    u("overlong-slash", pre + b"\xc0\xaf" + post)
    u("overlong-nul", pre + b"\xc0\x80" + post)
    u("utf16-surrogate", pre + b"\xed\xa0\x80" + post)
    u("above-10ffff", pre + b"\xf4\x90\x80\x80" + post)
    u("five-byte", pre + b"\xf8\x88\x80\x80\x80" + post)
    u("truncated-multibyte-at-end", GN.encode()[:-3] + b"\xe2\x82")
    u("latin1-node-name", json.dumps(deploy(config([good_node()]))).encode().replace(b"h-worker", b"caf\xe9"))
    u("in-event-name", b'{"event": "get_nodes_\xc3request", "args": {"reqid": "r"}}')
    u("in-key", b'{"event": "get_nodes_request", "args": {"re\xa0qid": "r"}}')
    # Order: UTF-8 before JSON, before depth; size before UTF-8.
    u("before-json", b'{"event": \xff')
    u("before-depth", b"[" * 100 + b"\xff" + b"]" * 100)
    u("before-event", b'{"event": "no_such_event\xff", "args": {}}')
    u("over-limit-wins", b"\xff" * 65, LIMIT, "max_event_bytes=64,base=none",
      "event of 65 bytes exceeds max_event_bytes (64)")


# ---- 4. NUL bytes ----------------------------------------------------------------

def nul_bytes():
    # Raw NUL: a C string ends there, so the library sees what comes before.
    add("nul-raw-at-start", b"\0" + GN.encode(), JSON_, "event is not JSON: EOF while parsing a value")
    add("nul-raw-in-reqid", b'{"event": "get_nodes_request", "args": {"reqid": "a\0b"}}', JSON_,
        "event is not JSON: EOF while parsing a string")
    add("nul-raw-in-name", b'{"event": "get_no\0des_request", "args": {"reqid": "r"}}', JSON_,
        "event is not JSON: EOF while parsing a string")
    add("nul-raw-after-event", WELCOME.encode() + b"\0{garbage", OK)
    add("nul-raw-deploy-node-name", json.dumps(deploy(config([good_node()]))).encode().replace(b"h-worker", b"h-\0worker"),
        JSON_, "event is not JSON: EOF while parsing a string")
    # Escaped NUL: part of the string.
    add("nul-escaped-event-name", '{"event": "get_nodes_request\\u0000", "args": {"reqid": "r"}}', EVENT,
        "unknown event 'get_nodes_request\\u0000'")
    add("nul-escaped-broker-event-name",
        broker_event("Management::Agent::API::get_nodes_request\u0000x", [bstr("r")]), EVENT,
        "unknown event 'Management::Agent::API::get_nodes_request\\u0000x'")
    add("nul-escaped-welcome-reqid", '{"event": "agent_welcome_request", "args": {"reqid": "w\\u0000"}}', OK)
    add("nul-escaped-restart-node", plain_event("restart_request", {"reqid": "r", "nodes": ["base-worker\u0000"]}), OK)
    add("nul-escaped-node-name", deploy(config([node("h\u0000worker")])), OK,
        response="node name 'h\\u0000worker' is not allowed: it contains a control character")
    add("nul-escaped-script", deploy(config([good_node(scripts=["site/local\u0000.zeek"])])), OK,
        response="script 'site/local\\u0000.zeek' is not allowed: it contains NUL")
    add("nul-escaped-interface", deploy(config([good_node(interface="eth0\u0000")])), OK,
        response="interface 'eth0\\u0000' is not allowed: it contains NUL")
    add("nul-escaped-env-name", deploy(config([good_node(env={"A\u0000B": "1"})])), OK,
        response="environment variable name 'A\\u0000B' is not allowed: it contains NUL")
    add("nul-escaped-env-value", deploy(config([good_node(env={"A": "1\u0000rm -rf /"})])), OK,
        response="environment variable 'A' is not allowed: its value contains NUL")
    add("nul-escaped-env-name-broker", b_deploy(config([good_node(env={"\u0000": "1"})])), OK,
        response="environment variable name '\\u0000' is not allowed: it contains NUL")
    add("nul-escaped-node-name-broker", b_deploy(config([node("\u0000")])), OK,
        response="node name '\\u0000' is not allowed: it contains a control character")


# ---- 5. depth and size ---------------------------------------------------------------

def depth_and_size():
    d = lambda n: "[" * n + "]" * n
    add("depth-65-arrays", d(65), LIMIT, "event nests JSON deeper than max_json_depth (64)")
    add("depth-64-arrays", d(64), EVENT, "not an event: expected a JSON object, got array")
    add("depth-10000-arrays", d(10000), LIMIT, "event nests JSON deeper than max_json_depth (64)")
    add("depth-unclosed-arrays", "[" * 200, LIMIT, "event nests JSON deeper than max_json_depth (64)")
    add("depth-65-objects", '{"a":' * 65 + "1" + "}" * 65, LIMIT,
        "event nests JSON deeper than max_json_depth (64)")
    add("depth-in-node-name", '{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "nodes": [{"name": '
        + d(70) + "}]}}}", LIMIT, "event nests JSON deeper than max_json_depth (64)")
    add("depth-before-unknown-event", '{"event": "no_such_event", "args": ' + d(80) + "}", LIMIT,
        "event nests JSON deeper than max_json_depth (64)")
    add("depth-broker-args", json.dumps(broker_event("Management::Agent::API::get_nodes_request",
                                                     [bstr("r")])).replace('"data": "r"', '"data": ' + d(70)),
        LIMIT, "event nests JSON deeper than max_json_depth (64)")
    add("depth-limit-8-broker-deploy", b_deploy(config([good_node()])), LIMIT,
        "event nests JSON deeper than max_json_depth (8)", agent="max_json_depth=8")
    add("depth-limit-8-plain-welcome-ok", WELCOME, OK, agent="max_json_depth=8")
    add("depth-limit-1-object", GN, LIMIT, "event nests JSON deeper than max_json_depth (1)",
        agent="max_json_depth=1,base=none")
    padded = '{"event": "agent_welcome_request", "args": {"reqid": "w"}}'
    assert len(padded) == 58
    add("size-at-limit-ok", padded + " " * 6, OK, agent="max_event_bytes=64,base=none")
    add("size-one-over", padded + " " * 7, LIMIT, "event of 65 bytes exceeds max_event_bytes (64)",
        agent="max_event_bytes=64,base=none")
    add("size-garbage-over", "x" * 100, LIMIT, "event of 100 bytes exceeds max_event_bytes (64)",
        agent="max_event_bytes=64,base=none")
    add("size-deep-over", d(50), LIMIT, "event of 100 bytes exceeds max_event_bytes (64)",
        agent="max_event_bytes=64,base=none")
    add("size-deploy-over", deploy(config([good_node()])), LIMIT, "exceeds max_event_bytes (64)",
        agent="max_event_bytes=64,base=none")


# ---- 6. arguments of the wrong type, missing, extra ---------------------------------

REQUESTS = {
    # event: [(argument, a valid plain value, a valid Broker value, required)]
    "set_configuration_request": [("reqid", "r", bstr("r"), True),
                                  ("config", config([good_node()]), b_config(config([good_node()])), True)],
    "deploy_request": [("reqid", "r", bstr("r"), True),
                       ("config", config([good_node()]), b_config(config([good_node()])), True),
                       ("force", False, bbool(False), False)],
    "get_nodes_request": [("reqid", "r", bstr("r"), True)],
    "node_dispatch_request": [("reqid", "r", bstr("r"), True),
                              ("action", ["get_id_value", "Cluster::node"],
                               bvec([bstr("get_id_value"), bstr("Cluster::node")]), True),
                              ("nodes", ["base-worker"], bset([bstr("base-worker")]), False)],
    "agent_welcome_request": [("reqid", "r", bstr("r"), True)],
    "agent_standby_request": [("reqid", "r", bstr("r"), True)],
    "restart_request": [("reqid", "r", bstr("r"), True),
                        ("nodes", ["base-worker"], bset([bstr("base-worker")]), False)],
}

# Wrong plain values per argument type, with what the message says.
PLAIN_WRONG = {
    "reqid": [("number", 42, "expected string, got number"),
              ("array", ["r"], "expected string, got array"),
              ("object", {"r": 1}, "expected string, got object"),
              ("bool", True, "expected string, got boolean")],
    "config": [("string", "mini", "expected Management::Configuration record (an object), got string"),
               ("array", [], "expected Management::Configuration record (an object), got array")],
    "force": [("string", "false", "expected boolean, got string"),
              ("number", 0, "expected boolean, got number")],
    "action": [("string", "get_id_value Cluster::node", "expected array, got string"),
               ("object", {"0": "get_id_value"}, "expected array, got object"),
               ("element-number", ["get_id_value", 7], "[1]: expected string, got number")],
    "nodes": [("string", "base-worker", "expected array, got string"),
              ("element-null", [None], "[0]: expected string, got null"),
              ("element-object", [{"name": "base-worker"}], "[0]: expected string, got object")],
}

BROKER_WRONG = {
    "reqid": [("count", bcount(42), "expected Broker string, got Broker count"),
              ("untagged", "r", "expected a Broker value")],
    "config": [("string", bstr("mini"), "expected Broker vector, got Broker string"),
               ("set", bset([]), "expected Broker vector, got Broker set")],
    "force": [("string", bstr("true"), "expected Broker boolean, got Broker string"),
              ("count", bcount(1), "expected Broker boolean, got Broker count")],
    "action": [("set", bset([bstr("get_id_value")]), "expected Broker vector, got Broker set"),
               ("element-count", bvec([bcount(1)]), "[0]: expected Broker string, got Broker count")],
    "nodes": [("vector", bvec([bstr("base-worker")]), "expected Broker set, got Broker vector"),
              ("table", btable({}), "expected Broker set, got Broker table")],
}


def wrong_types():
    for event, args in REQUESTS.items():
        short = event.replace("_request", "")
        full = "Management::Agent::API::" + event
        for pos, (arg, _, _, _) in enumerate(args):
            for label, bad, msg in PLAIN_WRONG[arg]:
                named = {a: (bad if a == arg else v) for a, v, _, _ in args}
                add(f"type-{short}-{arg}-plain-{label}", plain_event(event, named), EVENT,
                    f"{event}: argument '{arg}': {msg}")
            for label, bad, msg in BROKER_WRONG[arg]:
                positional = [(bad if a == arg else b) for a, _, b, _ in args]
                add(f"type-{short}-{arg}-broker-{label}", broker_event(full, positional), EVENT,
                    f"{event}: argument '{arg}': {msg}")
        # Positional plain arguments, the last one wrong.
        last, _, _, _ = args[-1]
        label, bad, msg = PLAIN_WRONG[last][0]
        positional = [v for _, v, _, _ in args[:-1]] + [bad]
        add(f"type-{short}-{last}-plain-positional-{label}", plain_event(event, positional), EVENT,
            f"{event}: argument '{last}': {msg}")
        # Missing required arguments (named, null, Broker none, Broker short).
        for arg, _, _, required in args:
            if not required:
                continue
            named = {a: v for a, v, _, _ in args if a != arg}
            add(f"missing-{short}-{arg}-plain", plain_event(event, named), EVENT,
                f"{event}: missing argument '{arg}'")
            named_null = {a: (None if a == arg else v) for a, v, _, _ in args}
            add(f"missing-{short}-{arg}-plain-null", plain_event(event, named_null), EVENT,
                f"{event}: missing argument '{arg}'")
            positional = [(NONE if a == arg else b) for a, _, b, _ in args]
            add(f"missing-{short}-{arg}-broker-none", broker_event(full, positional), EVENT,
                f"{event}: missing argument '{arg}'")
        required = [a for a in args if a[3]]
        add(f"missing-{short}-broker-no-args", broker_event(full, []), EVENT,
            f"{event}: missing argument 'reqid'")
        if len(required) > 1:
            add(f"missing-{short}-broker-short", broker_event(full, [bstr("r")]), EVENT,
                f"{event}: missing argument '{required[1][0]}'")
        # Too many and unknown arguments.
        add(f"extra-{short}-broker", broker_event(full, [b for _, _, b, _ in args] + [bstr("x")]), EVENT,
            f"{event}: expected at most {len(args)} arguments, got {len(args) + 1}")
        add(f"extra-{short}-plain-positional", plain_event(event, [v for _, v, _, _ in args] + ["x"]), EVENT,
            f"{event}: expected at most {len(args)} arguments, got {len(args) + 1}")
        add(f"extra-{short}-plain-unknown", plain_event(event, dict({a: v for a, v, _, _ in args}, reqd="x")),
            EVENT, f"{event}: unknown argument 'reqd'")
    # args itself of the wrong type.
    for label, bad, kind in [("string", "r", "string"), ("number", 1, "number"), ("bool", False, "boolean")]:
        add(f"type-args-{label}", {"event": "get_nodes_request", "args": bad}, EVENT,
            f"get_nodes_request: 'args' must be an object or an array, got {kind}")
    add("type-args-broker-set", json.dumps(broker_event("Management::Agent::API::get_nodes_request", [bstr("r")]))
        .replace('"@data-type": "vector", "data": [{"@data-type": "string", "data": "r"}]',
                 '"@data-type": "set", "data": [{"@data-type": "string", "data": "r"}]'),
        EVENT, "get_nodes_request: arguments: expected Broker vector, got Broker set")


# ---- 7. other inbound events with bad arguments ------------------------------------------

def other_events():
    e = lambda name, obj, msg: add(f"inbound-{name}", obj, EVENT, msg)
    e("hello-node-number", plain_event("Management::Node::API::notify_node_hello", {"node": 5}),
      "Management::Node::API::notify_node_hello: argument 'node': expected string, got number")
    e("hello-node-missing-broker", broker_event("Management::Node::API::notify_node_hello", [], "zeek/management/node"),
      "Management::Node::API::notify_node_hello: missing argument 'node'")
    e("dispatch-response-result-string",
      plain_event("Management::Node::API::node_dispatch_response", {"reqid": "x", "result": "ok"}),
      "Management::Node::API::node_dispatch_response: argument 'result': expected Management::Result record (an object), got string")
    e("dispatch-response-result-unknown-field",
      plain_event("Management::Node::API::node_dispatch_response",
                  {"reqid": "x", "result": {"reqid": "x", "succes": True}}),
      "argument 'result': Management::Result has no field 'succes'")
    e("dispatch-response-broker-5-fields",
      broker_event("Management::Node::API::node_dispatch_response",
                   [bstr("x"), bvec([bstr("x"), bbool(True), NONE, NONE, NONE])], "zeek/management/node"),
      "argument 'result': Management::Result record has 5 fields, expected 6")
    e("create-response-number", plain_event("SupervisorControl::create_response", {"reqid": "x", "result": 0}),
      "SupervisorControl::create_response: argument 'result': expected string, got number")
    e("destroy-response-string", plain_event("SupervisorControl::destroy_response", {"reqid": "x", "result": "yes"}),
      "SupervisorControl::destroy_response: argument 'result': expected boolean, got string")
    e("restart-response-broker-count",
      broker_event("SupervisorControl::restart_response", [bstr("x"), bcount(1)], "zeek/supervisor"),
      "SupervisorControl::restart_response: argument 'result': expected Broker boolean, got Broker count")
    e("status-response-string", plain_event("SupervisorControl::status_response", {"reqid": "x", "result": "{}"}),
      "argument 'result': expected Supervisor::Status record (an object), got string")
    e("status-response-bad-cluster-port",
      plain_event("SupervisorControl::status_response", {"reqid": "x", "result": {"nodes": {"w": {"node": {
          "name": "w", "env": {}, "cluster": {"w": {"role": "WORKER", "host": "127.0.0.1", "p": 70000}}}}}}}),
      "argument 'result': nodes[\"w\"].node.cluster[\"w\"].p: port 70000 out of range")
    e("status-response-pid-float",
      plain_event("SupervisorControl::status_response", {"reqid": "x", "result": {"nodes": {"w": {"node": {
          "name": "w"}, "pid": 12.5}}}}),
      "argument 'result': nodes[\"w\"].pid: expected a whole number, got 12.5")
    e("node-exit-missing-stderr",
      plain_event("Management::Supervisor::API::notify_node_exit", {"node": "base-worker", "outputs": {"stdout": ""}}),
      "Management::Supervisor::API::notify_node_exit: argument 'outputs': missing field 'stderr'")
    e("peer-added-id-number",
      plain_event("Broker::peer_added", {"endpoint": {"id": 1}, "msg": "hi"}),
      "Broker::peer_added: argument 'endpoint': id: expected string, got number")
    e("peer-added-port-out-of-range",
      broker_event("Broker::peer_added", [bvec([bstr("id"), bvec([bstr("127.0.0.1"), bport("99999/tcp")])]),
                                          bstr("hi")]),
      "Broker::peer_added: argument 'endpoint': network.bound_port: port 99999 out of range")
    e("peer-lost-endpoint-missing", plain_event("Broker::peer_lost", {"msg": "bye"}),
      "Broker::peer_lost: missing argument 'endpoint'")
    e("hello-api-version-negative",
      plain_event("Management::Agent::API::notify_agent_hello",
                  {"instance": "i", "id": "x", "connecting": True, "api_version": -1}),
      "notify_agent_hello: argument 'api_version': count -1 is negative")
    e("hello-api-version-broker-negative",
      broker_event("Management::Agent::API::notify_agent_hello",
                   [bstr("i"), baddr("127.0.0.1"), bcount(-1)]),
      "notify_agent_hello: argument 'api_version': count -1 is negative")
    # Accepted, ignored: node events naming nodes the agent does not have.
    for label, name in [("dotdot", "../../etc"), ("shell", "$(reboot)"), ("empty", "")]:
        add(f"inbound-hello-unknown-{label}",
            plain_event("Management::Node::API::notify_node_hello", {"node": name}), OK)
    add("inbound-node-exit-unknown-node",
        plain_event("Management::Supervisor::API::notify_node_exit",
                    {"node": "../../etc/passwd", "outputs": {"stdout": "x", "stderr": "y"}}), OK)
    add("inbound-create-response-unknown-reqid",
        plain_event("SupervisorControl::create_response", {"reqid": "no-such-id", "result": "boom"}), OK)
    add("inbound-dispatch-response-unknown-reqid",
        plain_event("Management::Node::API::node_dispatch_response",
                    {"reqid": "no-such-id", "result": {"reqid": "no-such-id", "success": False, "error": "x"}}), OK)


# ---- 8. unknown events, events the agent does not take, broken envelopes -----------------

def unknown_events():
    u = lambda name, obj, msg: add(f"unknown-{name}", obj, EVENT, msg)
    u("typo", plain_event("Management::Agent::API::deploy_requests", {"reqid": "r"}),
      "unknown event 'Management::Agent::API::deploy_requests'")
    u("short-typo", plain_event("deploy", {"reqid": "r"}), "unknown event 'deploy'")
    u("upper-case", plain_event("GET_NODES_REQUEST", {"reqid": "r"}), "unknown event 'GET_NODES_REQUEST'")
    u("empty-name", plain_event("", {"reqid": "r"}), "unknown event ''")
    u("module-only", plain_event("Management::Agent::API::", {}), "unknown event 'Management::Agent::API::'")
    u("wrong-module", plain_event("Management::Controller::API::deploy_request", {"reqid": "r"}),
      "unknown event 'Management::Controller::API::deploy_request'")
    u("short-node-api", plain_event("notify_node_hello", {"node": "base-worker"}),
      "unknown event 'notify_node_hello'")
    u("broker-short-name", broker_event("get_nodes_request", [bstr("r")]), "unknown event 'get_nodes_request'")
    u("newline-in-name", plain_event("get_nodes_request\nrm -rf /", {"reqid": "r"}),
      "unknown event 'get_nodes_request\\nrm -rf /'")
    u("shell-in-name", plain_event("$(reboot)", {}), "unknown event '$(reboot)'")
    u("long-name", plain_event("x" * 10000, {}), "unknown event 'xxxxxxxx")
    u("event-number", {"event": 7, "args": {}}, "'event' must be a string, got number")
    u("event-null", {"event": None, "args": {}}, "'event' must be a string, got null")
    u("event-array", {"event": ["get_nodes_request"], "args": {"reqid": "r"}}, "'event' must be a string, got array")
    u("top-array", [GN], "not an event: expected a JSON object, got array")
    u("top-string", "\"get_nodes_request\"", "not an event: expected a JSON object, got string")
    u("top-number", "42", "not an event: expected a JSON object, got number")
    u("top-null", "null", "not an event: expected a JSON object, got null")
    u("top-true", "true", "not an event: expected a JSON object, got boolean")
    u("empty-object", {}, "not an event: expected a Broker data-message or")
    u("args-only", {"args": {"reqid": "r"}}, "not an event: expected a Broker data-message or")
    u("plain-extra-key", {"event": "get_nodes_request", "args": {"reqid": "r"}, "topic": "x"},
      "unexpected key 'topic' in event")
    # Events the agent sends or that are not for it.
    u("own-response", plain_event("deploy_response", {"reqid": "r", "results": []}),
      "deploy_response is not an event the agent receives")
    u("own-hello", plain_event("notify_agent_hello", {"instance": "i", "id": "x", "connecting": True, "api_version": 1}),
      "notify_agent_hello is not an event the agent receives")
    u("node-api-request", plain_event("Management::Node::API::node_dispatch_request",
                                      {"reqid": "r", "action": ["get_id_value", "x"], "nodes": []}),
      "Management::Node::API::node_dispatch_request is not an event the agent receives")
    u("supervisor-create-request", plain_event("SupervisorControl::create_request",
                                               {"reqid": "r", "node": {"name": "x"}}),
      "SupervisorControl::create_request is not an event the agent receives")
    u("notify-error", plain_event("notify_error", {"instance": "i", "msg": "m"}),
      "notify_error is not an event the agent receives")
    # Broken Broker envelopes.
    good = broker_event("Management::Agent::API::get_nodes_request", [bstr("r")])
    u("broker-type-error", dict(good, type="error"), "Broker message of type 'error' is not an event")
    u("broker-type-number", dict(good, type=1), "Broker message 'type' is not a string")
    u("broker-no-topic", {k: v for k, v in good.items() if k != "topic"}, "Broker data-message has no 'topic'")
    u("broker-topic-number", dict(good, topic=5), "Broker data-message 'topic' is not a string")
    u("broker-two-elements", dict(good, data=good["data"][:2]),
      "malformed Broker event: expected [1, 1, [name, args]], got 2 elements")
    u("broker-version-2", dict(good, data=[bcount(2)] + good["data"][1:]),
      "unsupported Broker event format: element 0 is 2, expected 1")
    u("broker-version-negative", dict(good, data=[bcount(-1)] + good["data"][1:]),
      "malformed Broker event: [0]: count -1 is negative")
    u("broker-version-string", dict(good, data=[bcount(1), bstr("1")] + good["data"][2:]),
      "malformed Broker event: [1]: expected Broker count, got Broker string")
    u("broker-name-only", dict(good, data=good["data"][:2] + [bvec([bstr("Management::Agent::API::get_nodes_request")])]),
      "malformed Broker event: expected [name, args] after the version")
    u("broker-name-count", dict(good, data=good["data"][:2] + [bvec([bcount(3), bvec([])])]),
      "malformed Broker event: name: expected Broker string, got Broker count")
    u("broker-data-type-typo", dict(good, **{"@data-type": "vectr"}),
      "malformed Broker event: expected Broker vector, got Broker vectr")
    u("broker-data-not-array", dict(good, data={"x": 1}),
      "malformed Broker event: expected array, got object")
    u("broker-bare-none", {"@data-type": "none", "data": {}}, "malformed Broker event: expected Broker vector, got Broker none")
    u("broker-missing-data", {"type": "data-message", "topic": TOPIC, "@data-type": "vector"},
      "malformed Broker event: expected a Broker value")
    # Supervisor traffic while the agent runs its own process supervisor.
    for name, args in [
        ("SupervisorControl::status_response", {"reqid": "x", "result": {"nodes": {}}}),
        ("SupervisorControl::create_response", {"reqid": "x", "result": ""}),
        ("SupervisorControl::destroy_response", {"reqid": "x", "result": True}),
        ("SupervisorControl::restart_response", {"reqid": "x", "result": True}),
        ("Management::Supervisor::API::notify_node_exit", {"node": "w", "outputs": {"stdout": "", "stderr": ""}}),
    ]:
        add(f"process-sup-{name.split('::')[-1]}", plain_event(name, args), EVENT,
            f"{name} is Supervisor traffic, but this agent runs its own process supervisor", agent="sup=process")
    add("process-sup-status-response-broker",
        broker_event("SupervisorControl::status_response", [bstr("x"), bvec([btable({})])], "zeek/supervisor"),
        EVENT, "SupervisorControl::status_response is Supervisor traffic, but this agent runs its own process supervisor",
        agent="sup=process")
    add("process-sup-truncated-deploy", json.dumps(deploy(config([good_node()])))[:60], JSON_,
        "event is not JSON", agent="sup=process")


# ---- 9. ports, counts, integers out of range ------------------------------------------

def ranges():
    def p(name, n, msg, broker=False):
        cfg = config([n])
        add(f"range-{name}", b_deploy(cfg) if broker else deploy(cfg), EVENT,
            f"deploy_request: argument 'config': {msg}")
    p("port-70000", good_node(p=70000), "nodes[0].p: port 70000 out of range")
    p("port-65536", good_node(p=65536), "nodes[0].p: port 65536 out of range")
    p("port-negative", good_node(p=-1), "nodes[0].p: port -1 out of range")
    p("port-u64-max", good_node(p=18446744073709551615), "nodes[0].p: port 18446744073709551615 out of range")
    p("port-beyond-u64", good_node(p=18446744073709551616), "nodes[0].p: expected port, got number")
    p("port-float", good_node(p=5000.5), "nodes[0].p: expected port, got number")
    p("port-object-70000", good_node(p={"port": 70000, "proto": "tcp"}), "nodes[0].p.port: port 70000 out of range")
    p("port-object-negative", good_node(p={"port": -5, "proto": "tcp"}), "nodes[0].p.port: count -5 is negative")
    p("port-object-proto", good_node(p={"port": 5000, "proto": "sctp"}),
      "nodes[0].p.proto: unknown port protocol 'sctp'")
    p("port-object-extra", good_node(p={"port": 5000, "proto": "tcp", "host": "0.0.0.0"}),
      "nodes[0].p: port has no field 'host'")
    p("port-string-70000", good_node(p="70000/tcp"), "nodes[0].p: port 70000 out of range")
    p("port-string-proto", good_node(p="5000/xyz"), "nodes[0].p: port '5000/xyz' has unknown protocol 'xyz'")
    p("port-string-no-slash", good_node(p="5000"), "nodes[0].p: port '5000' is not of the form <number>/<proto>")
    p("port-string-negative", good_node(p="-1/tcp"), "nodes[0].p: port '-1/tcp' has no valid number")
    p("port-bool", good_node(p=True), "nodes[0].p: expected port, got boolean")
    p("port-alias-70000", good_node(port=70000), "nodes[0].port: port 70000 out of range")
    p("metrics-port-99999", good_node(metrics_port=99999), "nodes[0].metrics_port: port 99999 out of range")
    add("range-port-third-node", deploy(config([node("a"), node("b"), node("c", p=100000)])), EVENT,
        "deploy_request: argument 'config': nodes[2].p: port 100000 out of range")
    add("range-listen-port-70000", deploy(config([good_node()], [dict(instance(), listen_port=70000)])), EVENT,
        "deploy_request: argument 'config': instances[0].listen_port: port 70000 out of range")
    add("range-listen-port-alias", deploy(config([good_node()], [{"name": "instance-1", "host": "127.0.0.1", "port": -2}])),
        EVENT, "deploy_request: argument 'config': instances[0].port: port -2 out of range")
    p("broker-port-70000", good_node(p="70000/tcp"), "nodes[0].p: port 70000 out of range", broker=True)
    p("broker-port-huge", good_node(p="99999999999999999999999/tcp"),
      "nodes[0].p: port 99999999999999999999999 out of range", broker=True)
    p("broker-port-empty-number", good_node(p="/tcp"), "nodes[0].p: port '/tcp' has no valid number", broker=True)
    p("broker-port-plus", good_node(p="+80/tcp"), "nodes[0].p: port '+80/tcp' has no valid number", broker=True)
    p("broker-metrics-port", good_node(metrics_port="65536/tcp"), "nodes[0].metrics_port: port 65536 out of range",
      broker=True)
    cfg = config([good_node()])
    bad = b_deploy(cfg)
    bad["data"][2]["data"][1]["data"][1]["data"][2]["data"][0]["data"][4] = bport(5000)
    add("range-broker-port-number", bad, EVENT,
        "deploy_request: argument 'config': nodes[0].p: expected port string, got number")
    # cpu_affinity: a Zeek int.
    p("cpu-beyond-i64", good_node(cpu_affinity=9223372036854775808),
      "nodes[0].cpu_affinity: integer 9223372036854775808 out of range")
    p("cpu-float", good_node(cpu_affinity=1.5), "nodes[0].cpu_affinity: expected a whole number, got 1.5")
    p("cpu-exponent", good_node(cpu_affinity=1e3), "nodes[0].cpu_affinity: expected a whole number, got 1000.0")
    p("cpu-string", good_node(cpu_affinity="0"), "nodes[0].cpu_affinity: expected number, got string")
    bad = b_deploy(config([good_node()]))
    bad["data"][2]["data"][1]["data"][1]["data"][2]["data"][0]["data"][8] = B("real", 1.0)
    add("range-cpu-broker-real", bad, EVENT,
        "deploy_request: argument 'config': nodes[0].cpu_affinity: expected Broker count, got Broker real")
    bad = b_deploy(config([good_node()]))
    bad["data"][2]["data"][1]["data"][1]["data"][2]["data"][0]["data"][8] = bcount(18446744073709551615)
    add("range-cpu-broker-count-u64-max", bad, EVENT,
        "deploy_request: argument 'config': nodes[0].cpu_affinity: integer 18446744073709551615 out of range")


# ---- 10. configurations that are JSON-valid but unsafe: failed results ----------------

def validation():
    def v(name, cfg_nodes, expect, instances=None, broker=False, setconf=False, agent="-"):
        cfg = config(cfg_nodes, instances)
        if setconf:
            obj = b_set_configuration(cfg) if broker else set_configuration(cfg)
        else:
            obj = b_deploy(cfg) if broker else deploy(cfg)
        add(f"invalid-{name}", obj, OK, response=expect, agent=agent)

    names = [
        ("name-empty", "", "node name '' is not allowed: it is empty"),
        ("name-dot", ".", "node name '.' is not allowed: it names a relative directory"),
        ("name-dotdot", "..", "node name '..' is not allowed: it names a relative directory"),
        ("name-traversal", "../../etc", "node name '../../etc' is not allowed: it contains '/'"),
        ("name-traversal-deep", "../../../../../../tmp/x", "it contains '/'"),
        ("name-slash", "a/b", "node name 'a/b' is not allowed: it contains '/'"),
        ("name-absolute", "/etc/passwd", "node name '/etc/passwd' is not allowed: it contains '/'"),
        ("name-trailing-slash", "worker/", "it contains '/'"),
        ("name-space", "my worker", "node name 'my worker' is not allowed: it contains whitespace"),
        ("name-leading-space", " worker", "it contains whitespace"),
        ("name-tab", "a\tb", "node name 'a\\tb' is not allowed: it contains whitespace, it contains a control character"),
        ("name-newline", "a\nb", "node name 'a\\nb' is not allowed: it contains whitespace, it contains a control character"),
        ("name-cr", "a\rb", "it contains whitespace, it contains a control character"),
        ("name-escape-seq", "\u001b[31mred", "node name '\\u001b[31mred' is not allowed: it contains a control character"),
        ("name-del", "a\u007f", "node name 'a\\u007f' is not allowed: it contains a control character"),
        ("name-nel", "a\u0085", "it contains whitespace, it contains a control character"),
        ("name-em-space", "a\u2003b", "node name 'a\\u2003b' is not allowed: it contains whitespace"),
        ("name-nbsp", "a\u00a0b", "node name 'a\\u00a0b' is not allowed: it contains whitespace"),
        ("name-line-separator", "a\u2028b", "it contains whitespace"),
        ("name-256-bytes", "n" * 256, "is not allowed: it is longer than 255 bytes"),
        ("name-256-bytes-utf8", "\u00e9" * 128, "is not allowed: it is longer than 255 bytes"),
        ("name-shell-semicolon", "w;rm -rf /", "node name 'w;rm -rf /' is not allowed: it contains '/', it contains whitespace"),
        ("name-shell-subst", "$(rm -rf ~)", "node name '$(rm -rf ~)' is not allowed: it contains whitespace"),
        ("name-shell-backticks", "`touch /tmp/pwned`", "it contains '/', it contains whitespace"),
        ("name-shell-pipe", "w | nc evil 1", "it contains whitespace"),
    ]
    for label, name, expect in names:
        v(label, [node(name)], expect)
    # The 255-byte name is fine; the same names over the other encodings and events.
    v("broker-name-dotdot", [node("..")], "node name '..' is not allowed: it names a relative directory", broker=True)
    v("broker-name-traversal", [node("../../etc")], "node name '../../etc' is not allowed: it contains '/'", broker=True)
    v("broker-name-newline", [node("x\ny")], "node name 'x\\ny' is not allowed", broker=True)
    v("setconf-name-traversal", [node("../x")], "node name '../x' is not allowed: it contains '/'", setconf=True)
    v("setconf-broker-name-empty", [node("")], "node name '' is not allowed: it is empty", setconf=True, broker=True)
    v("seed-name-slash", [node("a/b")], "it contains '/'", agent="dialect=seed")
    v("zeek5-name-space", [node("a b")], "it contains whitespace", agent="dialect=zeek5")
    v("zeek6-name-dot", [node(".")], "it names a relative directory", agent="dialect=zeek6,encoding=broker")
    v("broker-encoding-answer", [node("..")], "it names a relative directory", agent="encoding=broker", broker=True)
    v("process-sup-name-traversal", [node("../../etc")], "node name '../../etc' is not allowed: it contains '/'",
      agent="sup=process")
    v("process-sup-script-option", [good_node(scripts=["-e", "system(\"id\")"])],
      "script '-e' is not allowed: it starts with '-' and would be read as an option", agent="sup=process")
    v("process-sup-env-equals", [good_node(env={"LD_PRELOAD=/tmp/x.so": "1"})],
      "environment variable name 'LD_PRELOAD=/tmp/x.so' is not allowed: it contains '='", agent="sup=process")
    # Scripts that look like options, or hold what a command line cannot.
    for label, script, expect in [
        ("script-dash-e", "-e", "script '-e' is not allowed: it starts with '-' and would be read as an option"),
        ("script-dash-e-code", "-e system(\"id\")", "script '-e system(\\\"id\\\")' is not allowed: it starts with '-'"),
        ("script-double-dash", "--foo", "script '--foo' is not allowed: it starts with '-'"),
        ("script-dash-only", "-", "script '-' is not allowed: it starts with '-'"),
        ("script-dash-bare-mode", "-b", "script '-b' is not allowed: it starts with '-'"),
        ("script-empty", "", "script '' is not allowed: it is empty"),
        ("script-newline", "local\n-e", "script 'local\\n-e' is not allowed: it contains a control character"),
        ("script-escape", "a\u001bb", "script 'a\\u001bb' is not allowed: it contains a control character"),
    ]:
        v(label, [good_node(scripts=["site/local", script])], expect)
    v("broker-script-dash", [good_node(scripts=["--help"])], "script '--help' is not allowed: it starts with '-'",
      broker=True)
    v("setconf-script-dash", [good_node(scripts=["-i"])], "script '-i' is not allowed", setconf=True)
    # Interfaces.
    for label, iface, expect in [
        ("iface-dash", "-r", "interface '-r' is not allowed: it starts with '-' and would be read as an option"),
        ("iface-double-dash", "--help", "interface '--help' is not allowed: it starts with '-'"),
        ("iface-pcap-option", "-r/tmp/evil.pcap", "interface '-r/tmp/evil.pcap' is not allowed: it starts with '-'"),
        ("iface-empty", "", "interface '' is not allowed: it is empty"),
        ("iface-newline", "eth0\n", "interface 'eth0\\n' is not allowed: it contains a control character"),
    ]:
        v(label, [good_node(interface=iface)], expect)
    v("broker-iface-dash", [good_node(interface="-i")], "interface '-i' is not allowed: it starts with '-'", broker=True)
    # Environment.
    for label, env, expect in [
        ("env-name-equals", {"A=B": "1"}, "environment variable name 'A=B' is not allowed: it contains '='"),
        ("env-name-only-equals", {"=": "x"}, "environment variable name '=' is not allowed: it contains '='"),
        ("env-name-empty", {"": "x"}, "environment variable name '' is not allowed: it is empty"),
        ("env-path-override", {"PATH=/tmp:": "x"}, "environment variable name 'PATH=/tmp:' is not allowed: it contains '='"),
    ]:
        v(label, [good_node(env=env)], expect)
    v("broker-env-name-equals", [good_node(env={"X=Y": ""})], "environment variable name 'X=Y' is not allowed",
      broker=True)
    # CPU affinity.
    v("cpu-negative", [good_node(cpu_affinity=-1)], "node 'h-worker' cpu_affinity -1 is negative")
    v("cpu-i64-min", [good_node(cpu_affinity=-9223372036854775808)],
      "node 'h-worker' cpu_affinity -9223372036854775808 is negative")
    v("broker-cpu-negative", [good_node(cpu_affinity=-4)], "cpu_affinity -4 is negative", broker=True)
    # Roles, names, instances, ports.
    v("role-none", [node("h-worker", role="NONE")], "node 'h-worker' has no cluster role")
    n = node("h-worker")
    n["role"] = "none"
    v("role-none-bare", [n], "node 'h-worker' has no cluster role")
    v("dup-node-names", [node("w"), node("w")], "multiple nodes named 'w'")
    v("dup-instances", [good_node()], "multiple instances named 'instance-1'", [instance(), instance()])
    v("name-collides-instance", [node("instance-1")], "node and instance names collide: instance-1")
    v("undeclared-instance", [node("w", inst="nowhere")], "node 'w' has undeclared instance name 'nowhere'")
    v("undeclared-instance-traversal", [node("w", inst="../../etc")],
      "node 'w' has undeclared instance name '../../etc'")
    v("port-clash", [node("a", p=5000), node("b", p=5000)], "multiple nodes on instance 'instance-1' using port 5000/tcp")
    v("port-clash-metrics", [node("a", p=9100), node("b", metrics_port=9100)],
      "multiple nodes on instance 'instance-1' using port 9100/tcp")
    v("port-agent-clash", [node("a", p=2151)], "node 'a' port 2151/tcp conflicts with agent port on instance 'instance-1'")
    v("many-problems", [node(".."), node("a b", scripts=["-e"]), node("c", cpu_affinity=-2, env={"=": ""})],
      "node 'c' cpu_affinity -2 is negative")
    # A remote node with an unsafe name is refused too (every node of the configuration).
    v("remote-name-traversal", [good_node(), node("../../etc", inst="instance-2")],
      "node name '../../etc' is not allowed: it contains '/'",
      [instance(), instance("instance-2", "10.0.0.2")])


# ---- 11. unknown fields, wrong records, wrong enums ---------------------------------------

def records():
    def r(name, cfg_or_obj, msg, raw=False):
        obj = cfg_or_obj if raw else deploy(cfg_or_obj)
        add(f"record-{name}", obj, EVENT, f"deploy_request: argument 'config': {msg}")
    r("node-unknown-field", config([good_node(interfce="eth0")]), "nodes[0]: Management::Node has no field 'interfce'")
    r("node-unknown-field-pid", config([good_node(pid=1)]), "nodes[0]: Management::Node has no field 'pid'")
    r("config-unknown-field", dict(config([good_node()]), force=True), "Management::Configuration has no field 'force'")
    r("instance-unknown-field", config([good_node()], [dict(instance(), hostname="x")]),
      "instances[0]: Management::Instance has no field 'hostname'")
    r("option-unknown-field", config([good_node(options=[{"name": "a", "value": "b", "extra": 1}])]),
      "nodes[0].options[0]: Management::Option has no field 'extra'")
    r("option-missing-value", config([good_node(options=[{"name": "a"}])]),
      "nodes[0].options[0]: missing field 'value'")
    r("node-missing-name", config([{"instance": "instance-1", "role": "WORKER"}]), "nodes[0]: missing field 'name'")
    r("node-missing-role", config([{"name": "w", "instance": "instance-1"}]), "nodes[0]: missing field 'role'")
    r("node-missing-instance", config([{"name": "w", "role": "WORKER"}]), "nodes[0]: missing field 'instance'")
    r("config-missing-id", {"instances": [instance()], "nodes": []}, "missing field 'id'")
    r("config-id-number", dict(config([]), id=1), "id: expected string, got number")
    r("nodes-object", dict(config([]), nodes={"w": good_node()}), "nodes: expected array, got object")
    r("node-string", dict(config([]), nodes=["h-worker"]),
      "nodes[0]: expected Management::Node record (an object), got string")
    r("role-unknown", config([good_node(role="Supervisor::BOSS")]),
      "nodes[0].role: 'Supervisor::BOSS' is not a Supervisor::ClusterRole value")
    r("role-wrong-scope", config([good_node(role="Management::WORKER")]),
      "nodes[0].role: 'Management::WORKER' is not a Supervisor::ClusterRole value")
    r("role-empty", config([good_node(role="")]), "nodes[0].role: '' is not a Supervisor::ClusterRole value")
    r("role-number", config([good_node(role=4)]), "nodes[0].role: expected Supervisor::ClusterRole name, got number")
    r("state-unknown", config([good_node(state="Management::EXPLODED")]),
      "nodes[0].state: 'Management::EXPLODED' is not a Management::State value")
    r("host-invalid", config([good_node()], [instance(host="999.1.1.1")]),
      "instances[0].host: '999.1.1.1' is not an IP address")
    r("host-name", config([good_node()], [instance(host="localhost; rm -rf /")]),
      "instances[0].host: 'localhost; rm -rf /' is not an IP address")
    r("env-array", config([good_node(env=["A=1"])]), "nodes[0].env: expected object, got array")
    r("env-value-number", config([good_node(env={"A": 1})]), "nodes[0].env[\"A\"]: expected string, got number")
    r("env-value-null", config([good_node(env={"LD_PRELOAD": None})]),
      "nodes[0].env[\"LD_PRELOAD\"]: expected string, got null")
    r("scripts-string", config([good_node(scripts="-e x")]), "nodes[0].scripts: expected array, got string")
    r("scripts-element-number", config([good_node(scripts=["a", 1])]), "nodes[0].scripts[1]: expected string, got number")
    r("interface-array", config([good_node(interface=["-i", "eth0"])]), "nodes[0].interface: expected string, got array")
    r("name-number", config([node(0)]), "nodes[0].name: expected string, got number")
    # An alias given next to its field would be dropped unchecked.
    r("node-p-and-port", config([good_node(p=5000, port=70000)]), "nodes[0]: both 'p' and 'port' given")
    r("node-p-and-port-same", config([good_node(p=5000, port=5000)]), "nodes[0]: both 'p' and 'port' given")
    r("instance-listen-port-and-port", config([good_node()], [dict(instance(), port="garbage")]),
      "instances[0]: both 'listen_port' and 'port' given")
    # Broker records of the wrong shape.
    def broker_node_fields(fields):
        d = b_deploy(config([good_node()]))
        nd = d["data"][2]["data"][1]["data"][1]["data"][2]["data"][0]
        nd["data"] = fields(nd["data"])
        return d
    r("broker-node-9-fields", broker_node_fields(lambda f: f[:9]),
      "nodes[0]: Management::Node record has 9 fields, expected 10 or 11", raw=True)
    r("broker-node-12-fields", broker_node_fields(lambda f: f + [NONE]),
      "nodes[0]: Management::Node record has 12 fields, expected 10 or 11", raw=True)
    r("broker-role-string", broker_node_fields(lambda f: f[:2] + [bstr("Supervisor::WORKER")] + f[3:]),
      "nodes[0].role: expected Broker enum-value, got Broker string", raw=True)
    r("broker-role-unknown", broker_node_fields(lambda f: f[:2] + [benum("Supervisor::ROOT")] + f[3:]),
      "nodes[0].role: 'Supervisor::ROOT' is not a Supervisor::ClusterRole value", raw=True)
    r("broker-name-untagged", broker_node_fields(lambda f: ["h-worker"] + f[1:]),
      "nodes[0].name: expected a Broker value", raw=True)
    r("broker-env-vector", broker_node_fields(lambda f: f[:9] + [bvec([])] + f[10:]),
      "nodes[0].env: expected Broker table, got Broker vector", raw=True)
    r("broker-env-dup-key", broker_node_fields(
        lambda f: f[:9] + [B("table", [{"key": bstr("A"), "value": bstr("1")}, {"key": bstr("A"), "value": bstr("2")}])]
        + f[10:]), "nodes[0].env: duplicate key \"A\"", raw=True)
    r("broker-env-entry-no-value", broker_node_fields(
        lambda f: f[:9] + [B("table", [{"key": bstr("A")}])] + f[10:]),
      "nodes[0].env[0]: expected a {\"key\": ..., \"value\": ...} entry", raw=True)
    r("broker-env-key-count", broker_node_fields(
        lambda f: f[:9] + [B("table", [{"key": bcount(1), "value": bstr("x")}])] + f[10:]),
      "nodes[0].env[0]: expected Broker string, got Broker count", raw=True)
    r("broker-host-string", (lambda d: (d["data"][2]["data"][1]["data"][1]["data"][1]["data"][0]["data"].__setitem__(
        1, bstr("127.0.0.1")), d)[1])(b_deploy(config([good_node()]))),
      "instances[0].host: expected Broker address, got Broker string", raw=True)
    d = b_deploy(config([good_node()]))
    d["data"][2]["data"][1]["data"][1]["data"].append(NONE)
    r("broker-config-4-fields", d, "Management::Configuration record has 4 fields, expected 3", raw=True)
    d = b_deploy(config([good_node()]))
    d["data"][2]["data"][1]["data"][1]["data"][2] = bvec(d["data"][2]["data"][1]["data"][1]["data"][2]["data"])
    r("broker-nodes-vector", d, "nodes: expected Broker set, got Broker vector", raw=True)


# ---- 12. hostile but valid: accepted ---------------------------------------------------------

def accepted():
    # Names without '/', whitespace or control characters are safe as a
    # directory and process name: nothing runs them through a shell.
    for label, name in [("shell-subst", "$(reboot)"), ("backticks", "`id`"), ("semicolon", "w;id"),
                        ("pipe", "w|id"), ("glob", "*"), ("dash", "-rf"), ("tilde", "~"),
                        ("unicode", "w\u00f6rker-\u2603"), ("255-bytes", "n" * 255)]:
        add(f"accepted-name-{label}", deploy(config([node(name)], cid=f"accepted-{label}")), OK, state="any")
    add("accepted-cpu-huge", deploy(config([good_node(cpu_affinity=4096)], cid="accepted-cpu")), OK, state="any")
    add("accepted-cpu-i64-max", deploy(config([good_node(cpu_affinity=9223372036854775807)], cid="accepted-cpu-max")),
        OK, state="any")
    add("accepted-port-alias", deploy(config([good_node(p=None, port=5000)], cid="accepted-port-alias")), OK,
        state="any")
    add("accepted-port-zero", deploy(config([good_node(p=0)], cid="accepted-port-0")), OK, state="any")
    add("accepted-env-shell-value", deploy(config([good_node(env={"A": "$(reboot); `id` | nc"})], cid="accepted-env")),
        OK, state="any")
    # The same id as the running configuration without force: Zeek's short
    # cut answers success at once and nothing changes, whatever it holds.
    add("accepted-same-id-unforced", deploy(config([node("../../etc")], cid="base-config")), OK)
    # Requests naming nodes the agent does not have: empty answers.
    for label, nodes in [("traversal", ["../../etc"]), ("empty-name", [""]), ("shell", ["$(reboot)"])]:
        add(f"accepted-restart-{label}", plain_event("restart_request", {"reqid": f"rs-{label}", "nodes": nodes}), OK)
        add(f"accepted-dispatch-{label}",
            plain_event("node_dispatch_request", {"reqid": f"nd-{label}", "action": ["get_id_value", "x"], "nodes": nodes}),
            OK)
    add("accepted-welcome-empty-reqid", plain_event("agent_welcome_request", {"reqid": ""}), OK)
    add("accepted-welcome-long-reqid", plain_event("agent_welcome_request", {"reqid": "r" * 10000}), OK)
    add("accepted-broker-extra-metadata", json.dumps(broker_event("Management::Agent::API::agent_welcome_request",
                                                                  [bstr("w")])).replace(
        '[{"@data-type": "string", "data": "w"}]}', '[{"@data-type": "string", "data": "w"}]}, {"@data-type": "vector", "data": []}'),
        OK)
    add("accepted-node-hello-duplicate", plain_event("Management::Node::API::notify_node_hello", {"node": "base-worker"}),
        OK)
    add("accepted-peer-added-unknown", plain_event("Broker::peer_added", {"endpoint": {"id": "x", "network": {
        "address": "10.9.9.9", "bound_port": "1/tcp"}}, "msg": "hi"}), OK)


# ---- 13. generated at run time (too big to commit) --------------------------------------------

def generated():
    big = "max_event_bytes=134217728"
    gen("over-default-limit-64mib", LIMIT, "event of 67108865 bytes exceeds max_event_bytes (67108864)")
    gen("string-50mb-over-small-limit", LIMIT, "exceeds max_event_bytes (1048576)", agent="max_event_bytes=1048576")
    gen("string-50mb-reqid", OK)
    gen("string-50mb-node-name", OK, response="is not allowed: it is longer than 255 bytes", agent=big)
    gen("string-50mb-script-dash", OK, response="is not allowed: it starts with '-' and would be read as an option",
        agent=big)
    gen("string-50mb-invalid-utf8-at-end", UTF8, "event is not valid UTF-8 (invalid byte at offset", agent=big)
    gen("string-50mb-unterminated", JSON_, "event is not JSON: EOF while parsing a string", agent=big)
    gen("config-100k-nodes-dup-name", OK, response="multiple nodes named 'n0'", agent=big)
    gen("config-100k-nodes-broker-bad-port", EVENT,
        "deploy_request: argument 'config': nodes[99999].p: port 70000 out of range", agent=big)
    gen("config-100k-nodes-traversal-last", OK, response="node name '../../n99999' is not allowed", agent=big)
    gen("config-100k-nodes-all-bad-names", OK, response="node name 'n 99999' is not allowed: it contains whitespace",
        agent=big)
    gen("config-100k-nodes-remote-accepted", OK, state="any", agent=big)
    gen("depth-1m-arrays", LIMIT, "event nests JSON deeper than max_json_depth (64)", agent=big)


# ---- 14. options ---------------------------------------------------------------------------------

def options():
    def o(name, text, message, status=OPTIONS):
        add(f"opt-{name}", text, status, message, target="options")
    base = {"name": "instance-1", "mode": "polled", "supervisor": {"kind": "host"}}
    proc = {"name": "instance-1", "mode": "polled", "supervisor": {"kind": "process", "zeek": STANDIN}}

    def with_(extra, b=base):
        d = json.loads(json.dumps(b))
        for k, v in extra.items():
            if k.startswith("supervisor."):
                d["supervisor"][k.split(".", 1)[1]] = v
            else:
                d[k] = v
        return d
    o("not-json", "{", "options: not JSON")
    o("empty", "", "options: not JSON: EOF while parsing a value")
    o("array", [], "options: expected a JSON object, got array")
    o("string", "\"polled\"", "options: expected a JSON object, got string")
    o("json-null", "null", "options: expected a JSON object, got null")
    o("trailing", '{"mode": "polled"} {}', "options: not JSON: trailing characters")
    o("dup-key", '{"mode": "polled", "mode": "threaded"}', "options: not JSON: duplicate key \"mode\"")
    o("deep", '{"supervisor": ' + "[" * 40 + "]" * 40 + "}", "options: nested too deeply")
    o("number-overflow", '{"request_timeout_ms": 1e400}', "options: not JSON: number out of range")
    add("opt-invalid-utf8", b'{"name": "inst\xff"}', UTF8,
        "zma_agent_new: options are not valid UTF-8 (invalid byte at offset 14)", target="options")
    add("opt-raw-nul", b'{"name": "inst\0ance-1"}', OPTIONS, "options: not JSON: EOF while parsing a string",
        target="options")
    # Unknown keys at every level.
    o("unknown-top", with_({"nmae": "x"}), "option 'nmae': unknown option")
    o("unknown-top-escaped", with_({"mode\u0000": "polled"}), "option 'mode\\u0000': unknown option")
    o("unknown-supervisor-host", with_({"supervisor.zeek": "/bin/sh"}), "option 'supervisor.zeek': unknown option")
    o("unknown-supervisor-nested", with_({"supervisor.extra": {"deep": {"x": 1}}}), "option 'supervisor.extra': unknown option")
    o("unknown-supervisor-process", with_({"supervisor.shell": True}, proc), "option 'supervisor.shell': unknown option")
    o("host-key-in-process", with_({"supervisor.address": "127.0.0.1"}, proc), "option 'supervisor.address': unknown option")
    o("host-key-default-kind", {"supervisor": {"port": 9999}}, "option 'supervisor.port': unknown option")
    o("unknown-limits-object", with_({"limits": {"max_event_bytes": 1}}), "option 'limits': unknown option")
    # Wrong types and impossible values, key by key.
    cases = [
        ("name-number", {"name": 5}, "option 'name': expected a string, got number"),
        ("dialect-number", {"dialect": 7}, "option 'dialect': expected a string, got number"),
        ("dialect-unknown", {"dialect": "zeek8"}, "option 'dialect': 'zeek8' is not one of seed, zeek5, zeek6, zeek7"),
        ("encoding-bool", {"encoding": True}, "option 'encoding': expected a string, got boolean"),
        ("encoding-unknown", {"encoding": "xml"}, "option 'encoding': 'xml' is not one of auto, broker, plain"),
        ("topic-prefix-array", {"topic_prefix": ["a"]}, "option 'topic_prefix': expected a string, got array"),
        ("topic-prefix-empty", {"topic_prefix": ""}, "option 'topic_prefix': must be a non-empty topic"),
        ("topic-prefix-newline", {"topic_prefix": "a\nb"}, "option 'topic_prefix': must be a non-empty topic without control characters"),
        ("timeout-string", {"request_timeout_ms": "5000"}, "option 'request_timeout_ms': expected a whole number, got string"),
        ("timeout-fraction", {"request_timeout_ms": 1.5}, "option 'request_timeout_ms': expected a whole number, got 1.5"),
        ("timeout-exponent", {"request_timeout_ms": 5e3}, "option 'request_timeout_ms': expected a whole number, got 5000.0"),
        ("timeout-zero", {"request_timeout_ms": 0}, "option 'request_timeout_ms': must be greater than 0"),
        ("timeout-negative", {"request_timeout_ms": -1}, "option 'request_timeout_ms': must not be negative, got -1"),
        ("timeout-bool", {"request_timeout_ms": True}, "option 'request_timeout_ms': expected a whole number, got boolean"),
        ("supervisor-timeout-zero", {"supervisor_timeout_ms": 0}, "option 'supervisor_timeout_ms': must be greater than 0"),
        ("supervisor-timeout-negative", {"supervisor_timeout_ms": -60000}, "option 'supervisor_timeout_ms': must not be negative"),
        ("stage-wait-fraction", {"stage_wait_ms": 0.5}, "option 'stage_wait_ms': expected a whole number, got 0.5"),
        ("stage-wait-negative", {"stage_wait_ms": -1}, "option 'stage_wait_ms': must not be negative, got -1"),
        ("ready-after-negative", {"ready_after_ms": -500}, "option 'ready_after_ms': must not be negative, got -500"),
        ("listen-address-number", {"listen_address": 127}, "option 'listen_address': expected a string, got number"),
        ("listen-address-name", {"listen_address": "localhost"}, "option 'listen_address': 'localhost' is not an IP address"),
        ("listen-address-shell", {"listen_address": "$(id)"}, "option 'listen_address': '$(id)' is not an IP address"),
        ("listen-port-zero", {"listen_port": 0}, "option 'listen_port': port 0 out of range (1-65535)"),
        ("listen-port-70000", {"listen_port": 70000}, "option 'listen_port': port 70000 out of range (1-65535)"),
        ("listen-port-negative", {"listen_port": -1}, "option 'listen_port': must not be negative, got -1"),
        ("listen-port-string", {"listen_port": "2151/tcp"}, "option 'listen_port': expected a whole number, got string"),
        ("controller-address-bad", {"controller_address": "256.0.0.1"}, "option 'controller_address': '256.0.0.1' is not an IP address"),
        ("controller-port-65536", {"controller_port": 65536}, "option 'controller_port': port 65536 out of range (1-65535)"),
        ("controller-port-fraction", {"controller_port": 2150.5}, "option 'controller_port': expected a whole number, got 2150.5"),
        ("state-dir-number", {"state_dir": 5}, "option 'state_dir': expected a string, got number"),
        ("state-dir-empty", {"state_dir": ""}, "option 'state_dir': must be a non-empty path without NUL"),
        ("state-dir-nul", {"state_dir": "/tmp/x\u0000/etc"}, "option 'state_dir': must be a non-empty path without NUL"),
        ("mode-unknown", {"mode": "sideways"}, "option 'mode': 'sideways' is not one of threaded, polled"),
        ("mode-number", {"mode": 1}, "option 'mode': expected a string, got number"),
        ("node-ready-unknown", {"node_ready": "eventually"}, "option 'node_ready': 'eventually' is not one of hello, spawn"),
        ("node-ready-spawn-host", {"node_ready": "spawn"}, "option 'node_ready': \"spawn\" needs the process supervisor"),
        ("broker-id-empty", {"broker_id": ""}, "option 'broker_id': must be non-empty, without control characters"),
        ("broker-id-newline", {"broker_id": "a\nb"}, "option 'broker_id': must be non-empty, without control characters"),
        ("broker-id-number", {"broker_id": 5}, "option 'broker_id': expected a string, got number"),
        ("max-event-bytes-zero", {"max_event_bytes": 0}, "option 'max_event_bytes': must be greater than 0"),
        ("max-event-bytes-negative", {"max_event_bytes": -1}, "option 'max_event_bytes': must not be negative, got -1"),
        ("max-event-bytes-fraction", {"max_event_bytes": 1024.5}, "option 'max_event_bytes': expected a whole number, got 1024.5"),
        ("max-json-depth-zero", {"max_json_depth": 0}, "option 'max_json_depth': must be 1 to 127, got 0"),
        ("max-json-depth-128", {"max_json_depth": 128}, "option 'max_json_depth': must be 1 to 127, got 128"),
        ("max-json-depth-huge", {"max_json_depth": 18446744073709551615}, "option 'max_json_depth': must be 1 to 127, got 18446744073709551615"),
        ("stop-nodes-string", {"stop_nodes_on_free": "no"}, "option 'stop_nodes_on_free': expected true or false, got string"),
        ("stop-nodes-number", {"stop_nodes_on_free": 0}, "option 'stop_nodes_on_free': expected true or false, got number"),
        ("supervisor-string", {"supervisor": "host"}, "option 'supervisor': expected a JSON object, got string"),
        ("supervisor-array", {"supervisor": [{"kind": "host"}]}, "option 'supervisor': expected a JSON object, got array"),
        ("supervisor-kind-unknown", {"supervisor": {"kind": "docker"}}, "option 'supervisor.kind': 'docker' is not one of process, host"),
        ("supervisor-kind-number", {"supervisor": {"kind": 1}}, "option 'supervisor.kind': expected a string, got number"),
        ("supervisor-address-bad", {"supervisor.address": "::g"}, "option 'supervisor.address': '::g' is not an IP address"),
        ("supervisor-port-zero", {"supervisor.port": 0}, "option 'supervisor.port': port 0 out of range (1-65535)"),
    ]
    for label, extra, message in cases:
        o(label, with_(extra), message)
    proc_cases = [
        ("zeek-empty", {"supervisor.zeek": ""}, "option 'supervisor.zeek': must be a program name or path without NUL"),
        ("zeek-nul", {"supervisor.zeek": STANDIN + "\u0000/bin/sh"}, "option 'supervisor.zeek': must be a program name or path without NUL"),
        ("zeek-number", {"supervisor.zeek": 5}, "option 'supervisor.zeek': expected a string, got number"),
        ("zeek-array", {"supervisor.zeek": ["/bin/sh", "-c"]}, "option 'supervisor.zeek': expected a string, got array"),
        ("output-lines-negative", {"supervisor.output_max_lines": -1}, "option 'supervisor.output_max_lines': must not be negative, got -1"),
        ("output-lines-fraction", {"supervisor.output_max_lines": 2.5}, "option 'supervisor.output_max_lines': expected a whole number, got 2.5"),
        ("stop-grace-negative", {"supervisor.stop_grace_ms": -1}, "option 'supervisor.stop_grace_ms': must not be negative, got -1"),
        ("restart-delay-zero", {"supervisor.restart_delay_ms": 0}, "option 'supervisor.restart_delay_ms': must be greater than 0"),
        ("restart-delay-max-zero", {"supervisor.restart_delay_max_ms": 0}, "option 'supervisor.restart_delay_max_ms': must be greater than 0"),
        ("restart-delay-max-below", {"supervisor.restart_delay_ms": 500, "supervisor.restart_delay_max_ms": 100},
         "option 'supervisor.restart_delay_max_ms': 100 is below restart_delay_ms (500)"),
        ("max-start-failures-zero", {"supervisor.max_start_failures": 0}, "option 'supervisor.max_start_failures': must be greater than 0"),
        ("max-start-failures-huge", {"supervisor.max_start_failures": 4294967296}, "option 'supervisor.max_start_failures': too large"),
        ("args-prefix-string", {"supervisor.args_prefix": "-e x"}, "option 'supervisor.args_prefix': expected an array of strings, got string"),
        ("args-prefix-number", {"supervisor.args_prefix": ["ok", 3]}, "option 'supervisor.args_prefix[1]': expected a string, got number"),
        ("args-prefix-nul", {"supervisor.args_prefix": ["a\u0000b"]}, "option 'supervisor.args_prefix[0]': contains NUL"),
        ("args-prefix-nested", {"supervisor.args_prefix": [["x"]]}, "option 'supervisor.args_prefix[0]': expected a string, got array"),
    ]
    for label, extra, message in proc_cases:
        o(f"process-{label}", with_(extra, proc), message)
    # Hostile instance names.
    for label, name, shown in [("empty", "", ""), ("slash", "a/b", "a/b"), ("traversal", "../..", "../.."),
                               ("space", "a b", "a b"), ("newline", "a\nb", "a\\nb"), ("nul", "a\u0000b", "a\\u0000b"),
                               ("em-space", "a\u2003b", "a\\u2003b"), ("tab-only", "\t", "\\t")]:
        o(f"name-{label}", with_({"name": name}), f"option 'name': '{shown}' is not usable as an instance name")
    # Accepted: null means the default, names without '/', whitespace or
    # control characters, every key at its edge.
    add("opt-ok-nulls", with_({"dialect": None, "encoding": None, "request_timeout_ms": None, "listen_port": None}),
        OK, target="options")
    add("opt-ok-shell-name", with_({"name": "$(reboot);`id`|x"}), OK, target="options")
    add("opt-ok-edges", with_({"listen_port": 65535, "controller_port": 1, "max_json_depth": 127,
                               "max_event_bytes": 18446744073709551615, "request_timeout_ms": 1,
                               "stage_wait_ms": 0, "ready_after_ms": 0}), OK, target="options")


def poll_cases():
    for label, now in [("zero", 0), ("one", 1), ("u64-max", 18446744073709551615)]:
        add(f"poll-{label}", str(now), OK, target="poll")


def main():
    truncations()
    malformed()
    invalid_utf8()
    nul_bytes()
    depth_and_size()
    wrong_types()
    other_events()
    unknown_events()
    ranges()
    validation()
    records()
    accepted()
    generated()
    options()
    poll_cases()
    if os.path.isdir(CASES_DIR):
        shutil.rmtree(CASES_DIR)
    os.makedirs(CASES_DIR)
    lines = ["# file\ttarget\tagent\tstatus\tmessage\tresponse_error\tstate"]
    for file, content, target, agent, status, message, response, state in CASES:
        if content is not None:
            with open(os.path.join(CASES_DIR, file), "wb") as f:
                f.write(content)
        lines.append("\t".join([file, target, agent, status, message, response, state]))
    with open(os.path.join(HERE, "expectations.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()

"""Polled mode: time is whatever the host passes to poll(); the descriptor
works with selectors and asyncio; the convenience methods drive poll()
themselves on the real clock."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from conftest import (
    AGENT_API,
    INSTANCE,
    TIMED_OUT,
    free_port,
    host_options,
    process_options,
    request,
    run_until,
)
import pytest

from zeek_mgmt_agent import Agent, AgentError, Event

GET_NODES_RESPONSE = AGENT_API + "get_nodes_response"


def pending(agent: Agent) -> Dict[str, int]:
    """Pending request id -> deadline."""
    return {p["id"]: p["deadline_ms"] for p in agent.state()["pending_requests"]}


def responses(agent: Agent) -> List[Event]:
    """The queued responses (other queued events are dropped)."""
    return [e for e in agent.events() if e.channel == "response"]


def test_next_timeout_is_none_when_nothing_is_pending(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path))
    assert agent.next_timeout_ms is None
    agent.poll(1000)
    agent.handle(request("agent_welcome_request", "w1"))  # answered at once: no deadline
    assert agent.next_timeout_ms is None


def test_a_request_times_out_exactly_at_its_deadline(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path))  # default request_timeout_ms: 5000
    agent.poll(1000)
    agent.handle(request("get_nodes_request", "g1"))
    assert pending(agent) == {"g1": 6000}
    assert agent.next_timeout_ms == 6000
    assert [e.name for e in agent.events()] == ["SupervisorControl::status_request"]

    agent.poll(5999)
    assert list(agent.events()) == []
    assert pending(agent) == {"g1": 6000}

    agent.poll(6000)
    [answer] = responses(agent)
    assert answer.name == GET_NODES_RESPONSE and answer.reqid == "g1"
    assert answer.args["result"] == {"reqid": "g1", "success": False, "instance": INSTANCE, "error": TIMED_OUT}
    assert agent.next_timeout_ms is None
    assert pending(agent) == {}
    agent.poll(60000)
    assert list(agent.events()) == [], "answered exactly once"


def test_the_request_timeout_option_sets_the_deadline(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path, request_timeout_ms=250))
    agent.poll(40)
    agent.handle(request("get_nodes_request", "g1"))
    assert agent.next_timeout_ms == 290
    agent.poll(289)
    assert responses(agent) == []
    agent.poll(290)
    assert [(e.reqid, e.args["result"]["error"]) for e in responses(agent)] == [("g1", TIMED_OUT)]


def test_before_the_first_poll_the_agent_clock_is_zero(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path))
    agent.handle(request("get_nodes_request", "g1"))
    assert agent.next_timeout_ms == 5000


def test_next_timeout_is_the_earliest_deadline(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path))
    agent.poll(0)
    agent.handle(request("get_nodes_request", "g1"))
    agent.poll(2000)
    agent.handle(request("get_nodes_request", "g2"))
    assert pending(agent) == {"g1": 5000, "g2": 7000}
    assert agent.next_timeout_ms == 5000
    agent.poll(5000)
    assert [e.reqid for e in responses(agent)] == ["g1"]
    assert agent.next_timeout_ms == 7000
    agent.poll(7000)
    assert [e.reqid for e in responses(agent)] == ["g2"]
    assert agent.next_timeout_ms is None


def test_a_late_poll_times_out_everything_due(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path, request_timeout_ms=100))
    for n, now in enumerate((0, 10, 20)):
        agent.poll(now)
        agent.handle(request("get_nodes_request", f"g{n}"))
    agent.poll(115)
    assert sorted(str(e.reqid) for e in responses(agent)) == ["g0", "g1"]
    agent.poll(10_000)
    assert [e.reqid for e in responses(agent)] == ["g2"]


def test_the_descriptor_is_stable_and_quiet_when_idle(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**host_options(tmp_path))
    fd = agent.fileno()
    assert fd >= 0 and agent.fileno() == fd
    os.fstat(fd)  # a real, open descriptor
    with selectors.DefaultSelector() as selector:
        selector.register(agent, selectors.EVENT_READ)  # selectors take the agent itself
        assert selector.select(0) == []


def drain(agent: Agent, selector: selectors.BaseSelector) -> None:
    """Polls until the descriptor stays quiet for 200 ms (start-up output read)."""
    deadline = time.monotonic() + 10
    while selector.select(0.2):
        agent.poll()
        assert time.monotonic() < deadline, "the descriptor never went quiet"


def test_a_selector_wakes_when_a_node_exits(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    agent = make_agent(**process_options(tmp_path))
    config = {"id": "c1", "instances": [{"name": INSTANCE}], "nodes": [{"name": "w1", "instance": INSTANCE, "role": "WORKER"}]}
    assert [(r.node, r.success) for r in agent.deploy(config)] == [("w1", True)]
    [status] = agent.get_nodes()
    assert status.pid is not None
    changes: List[Any] = []
    agent.on_notification = lambda e: changes.append(e.args) if e.name.endswith("notify_change") else None

    with selectors.DefaultSelector() as selector:
        selector.register(agent.fileno(), selectors.EVENT_READ)
        drain(agent, selector)
        assert selector.select(0) == [], "nothing to do while the node runs"
        os.kill(status.pid, signal.SIGKILL)
        ready = selector.select(10)
        assert [key.fd for key, _ in ready] == [agent.fileno()], "readable once the node died"

    def crashed() -> bool:
        return any(c["n"]["name"] == "w1" and c["new"] == "Management::CRASHED" for c in changes)

    assert run_until(agent, crashed, timeout=10), changes
    assert [c["old"] for c in changes if c["new"] == "Management::CRASHED"] == ["Management::RUNNING"]


def test_asyncio_drives_a_deploy_and_get_nodes(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    # Nodes count as RUNNING 200 ms after spawning: the deploy is answered
    # only if the loop honours next_timeout_ms as well as the descriptor.
    agent = make_agent(**process_options(tmp_path, ready_after_ms=200))
    manager_port = free_port()
    config = {
        "id": "c-async",
        "instances": [{"name": INSTANCE, "host": "127.0.0.1"}],
        "nodes": [
            {"name": "manager", "instance": INSTANCE, "role": "MANAGER", "p": manager_port},
            {"name": "w1", "instance": INSTANCE, "role": "WORKER"},
        ],
    }

    async def session() -> Dict[str, Any]:
        loop = asyncio.get_running_loop()
        answers: Dict[str, "asyncio.Future[Event]"] = {}
        crashed: "asyncio.Future[Any]" = loop.create_future()
        timer: Optional[asyncio.TimerHandle] = None

        def drive() -> None:
            nonlocal timer
            agent.poll()
            if timer is not None:
                timer.cancel()
                timer = None
            next_ms = agent.next_timeout_ms
            if next_ms is not None:
                timer = loop.call_later(max(0.0, (next_ms - agent.now_ms()) / 1000), drive)

        def on_response(event: Event) -> None:
            answers[str(event.reqid)].set_result(event)

        def on_notification(event: Event) -> None:
            args = event.args
            if event.name.endswith("notify_change") and args["new"] == "Management::CRASHED" and not crashed.done():
                crashed.set_result(args["n"]["name"])

        def ask(name: str, reqid: str, **args: Any) -> "asyncio.Future[Event]":
            answers[reqid] = loop.create_future()
            agent.poll()  # the agent's clock to now before handing over a request
            agent.handle(request(name, reqid, **args))
            drive()
            return answers[reqid]

        agent.on_response = on_response
        agent.on_notification = on_notification
        loop.add_reader(agent.fileno(), drive)
        try:
            deployed = await asyncio.wait_for(ask("deploy_request", "d1", config=config), 10)
            nodes = await asyncio.wait_for(ask("get_nodes_request", "g1"), 10)
            pids = {s["node"]: s["pid"] for s in nodes.args["result"]["data"]}
            os.kill(pids["w1"], signal.SIGKILL)
            crashed_node = await asyncio.wait_for(crashed, 10)
        finally:
            loop.remove_reader(agent.fileno())
            if timer is not None:
                timer.cancel()
        return {"deployed": deployed, "nodes": nodes, "crashed": crashed_node}

    outcome = asyncio.run(session())
    results = outcome["deployed"].args["results"]
    assert sorted((r["node"], r["success"]) for r in results) == [("manager", True), ("w1", True)]
    statuses = {s["node"]: s for s in outcome["nodes"].args["result"]["data"]}
    assert statuses["manager"]["state"] == statuses["w1"]["state"] == "Management::RUNNING"
    assert statuses["manager"]["p"] == {"port": manager_port, "proto": "tcp"}
    assert outcome["crashed"] == "w1"


def test_convenience_methods_drive_poll_themselves(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    # Readiness comes from a timer 200 ms after the spawn: deploy() must poll.
    agent = make_agent(**process_options(tmp_path, ready_after_ms=200))
    config = {"id": "c1", "instances": [{"name": INSTANCE}], "nodes": [{"name": "w1", "instance": INSTANCE, "role": "WORKER"}]}
    results = agent.deploy(config, timeout=10)
    assert [(r.node, r.success, r.error) for r in results] == [("w1", True, None)]
    assert [(s.node, s.state) for s in agent.get_nodes()] == [("w1", "RUNNING")]


def test_a_convenience_request_after_idle_time_gets_its_full_timeout(
    make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    # The host Supervisor answers every status request 50 ms after it is
    # sent; the request timeout is 300 ms. The agent sat idle (nobody
    # polled) for 400 ms before get_nodes(): the request must still get its
    # 300 ms, i.e. the package brings the agent's clock to now before it
    # hands the request over (as docs/c-api.md asks of a host).
    agent = make_agent(**host_options(tmp_path, request_timeout_ms=300))
    deadlines: List[int] = []
    timers: List[threading.Timer] = []

    def supervisor(event: Event) -> None:
        if event.name == "SupervisorControl::status_request":
            deadlines.append(agent.state()["pending_requests"][0]["deadline_ms"])
            answer = {
                "event": "SupervisorControl::status_response",
                "args": {"reqid": event.args["reqid"], "result": {"nodes": {}}},
            }
            timers.append(threading.Timer(0.05, agent.handle, args=(answer,)))
            timers[-1].start()

    agent.on_publish = supervisor
    time.sleep(0.4)
    handed_over_at = agent.now_ms()
    try:
        nodes = agent.get_nodes(timeout=5)
    except AgentError as error:
        pytest.fail(f"{error}: its deadline was {deadlines} ms, it was handed over at {handed_over_at} ms")
    finally:
        for timer in timers:
            timer.cancel()
            timer.join()
    assert nodes == []


def test_poll_refuses_a_negative_time(make_agent: Callable[..., Agent], tmp_path: Path) -> None:
    # now_ms is a uint64_t: -1 must not wrap around to 2**64 - 1, which
    # would time out every pending request and put every later deadline at
    # the end of time.
    agent = make_agent(**host_options(tmp_path))
    agent.poll(1000)
    agent.handle(request("get_nodes_request", "g1"))
    list(agent.events())
    with pytest.raises((ValueError, OverflowError)):
        agent.poll(-1)
    assert responses(agent) == []
    assert pending(agent) == {"g1": 6000}

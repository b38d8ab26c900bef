"""Creating, closing and dropping agents: close() is idempotent, a closed
agent refuses every call with ClosedError, and an agent nobody closed is
freed (its nodes stopped) by garbage collection or at interpreter exit."""

from __future__ import annotations

import doctest
import gc
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import zeek_mgmt_agent
from conftest import (
    AGENT_TOPIC,
    INSTANCE,
    REPO,
    alive,
    host_options,
    process_options,
    request,
    two_nodes,
)
from zeek_mgmt_agent import Agent, ClosedError, StateError


def test_a_new_agent_is_open_and_knows_its_name_topic_and_mode(tmp_path: Path) -> None:
    agent = Agent(**host_options(tmp_path))
    try:
        assert agent.closed is False
        assert agent.name == INSTANCE
        assert agent.topic == AGENT_TOPIC
        assert agent.polled is True
        assert agent.state()["name"] == INSTANCE
    finally:
        agent.close()
    assert agent.closed is True


def test_topic_follows_the_topic_prefix_option(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, topic_prefix="site/agents")) as agent:
        assert agent.topic == f"site/agents/{INSTANCE}"
        agent.handle(request("agent_welcome_request", "w1"))
        assert [e.topic for e in agent.events()] == [f"site/agents/{INSTANCE}"]


def test_a_threaded_agent_is_not_polled(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, mode="threaded")) as agent:
        assert agent.polled is False


def test_close_twice_is_harmless(tmp_path: Path) -> None:
    agent = Agent(**host_options(tmp_path))
    agent.close()
    agent.close()
    assert agent.closed


def test_context_manager_closes_the_agent(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        assert not agent.closed
    assert agent.closed


def test_context_manager_closes_the_agent_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="boom"):
        with Agent(**host_options(tmp_path)) as agent:
            raise KeyError("boom")
    assert agent.closed


CALLS_ON_CLOSED: Dict[str, Callable[[Agent], Any]] = {
    "handle": lambda a: a.handle(request("agent_welcome_request", "w1")),
    "poll": lambda a: a.poll(10),
    "poll on its own clock": lambda a: a.poll(),
    "next_timeout_ms": lambda a: a.next_timeout_ms,
    "fileno": lambda a: a.fileno(),
    "state": lambda a: a.state(),
    "request": lambda a: a.request(request("agent_welcome_request", "w1"), "w1", timeout=1),
    "deploy": lambda a: a.deploy({"id": "c", "instances": [], "nodes": []}, timeout=1),
    "get_nodes": lambda a: a.get_nodes(timeout=1),
    "standby": lambda a: a.standby(timeout=1),
}


@pytest.mark.parametrize("call", sorted(CALLS_ON_CLOSED))
def test_every_call_on_a_closed_agent_raises_closed_error(tmp_path: Path, call: str) -> None:
    agent = Agent(**host_options(tmp_path))
    agent.close()
    with pytest.raises(ClosedError) as caught:
        CALLS_ON_CLOSED[call](agent)
    assert isinstance(caught.value, StateError)
    assert caught.value.status == -5
    assert caught.value.message == "the agent is closed"


def test_no_callback_runs_after_close(tmp_path: Path) -> None:
    # A threaded agent with a request that times out 100 ms later on the
    # library's own thread; closed before that, nothing may arrive.
    agent = Agent(**host_options(tmp_path, mode="threaded", request_timeout_ms=100))
    seen: List[Any] = []
    agent.on_response = seen.append
    agent.handle(request("get_nodes_request", "g1"))
    agent.close()
    time.sleep(0.3)
    assert seen == []


def test_an_agent_dropped_without_close_is_freed(tmp_path: Path) -> None:
    agent = Agent(**host_options(tmp_path))
    reference = weakref.ref(agent)
    del agent
    gc.collect()
    assert reference() is None


def test_an_agent_in_a_reference_cycle_is_freed_by_the_collector(tmp_path: Path) -> None:
    agent = Agent(**host_options(tmp_path, mode="threaded"))
    # The callback keeps the agent alive through its closure: a cycle.
    agent.on_response = lambda event: None if agent.state() else None
    reference = weakref.ref(agent)
    del agent
    gc.collect()
    assert reference() is None


def test_a_dropped_agent_stops_its_nodes(tmp_path: Path) -> None:
    agent = Agent(**process_options(tmp_path))
    results = agent.deploy(two_nodes())
    assert [(r.node, r.success) for r in results] == [("manager", True), ("w1", True)]
    pids = [status.pid for status in agent.get_nodes()]
    assert len(pids) == 2 and all(isinstance(pid, int) and alive(pid) for pid in pids)
    reference = weakref.ref(agent)
    del agent
    gc.collect()
    assert reference() is None
    # Freeing stops the nodes before it returns: no waiting here.
    assert [pid for pid in pids if alive(pid)] == []


def test_stop_nodes_on_free_false_leaves_the_nodes_running(tmp_path: Path) -> None:
    agent = Agent(**process_options(tmp_path, stop_nodes_on_free=False))
    agent.deploy(two_nodes())
    pids = [status.pid for status in agent.get_nodes()]
    agent.close()
    try:
        assert all(alive(pid) for pid in pids), "the nodes outlive the agent"
    finally:
        for pid in pids:
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


_EXIT_SCRIPT = """
import json, sys
import zeek_mgmt_agent
options, config = json.loads(sys.argv[1]), json.loads(sys.argv[2])
agent = zeek_mgmt_agent.Agent(**options)
assert all(r.success for r in agent.deploy(config))
print(" ".join(str(s.pid) for s in agent.get_nodes()), flush=True)
# No close(): the interpreter exits with the agent (and its nodes) alive.
"""


def test_interpreter_exit_frees_an_agent_nobody_closed(tmp_path: Path) -> None:
    options = process_options(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, json.dumps(options), json.dumps(two_nodes())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    # Freed at exit (not by the nodes' 1 s orphan check): gone at once.
    assert [pid for pid in pids if alive(pid)] == []


def test_library_version_is_the_crate_version() -> None:
    cargo = (REPO / "Cargo.toml").read_text(encoding="utf-8")
    crate = re.search(r'^version\s*=\s*"([^"]+)"', cargo, re.MULTILINE)
    assert crate is not None
    assert zeek_mgmt_agent.library_version() == crate.group(1)


def test_package_docstring_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example uses the default state_dir
    outcome = doctest.testmod(zeek_mgmt_agent, verbose=False, report=False)
    assert outcome.attempted >= 2
    assert outcome.failed == 0


def test_close_wakes_a_thread_waiting_for_an_answer_with_closed_error(tmp_path: Path) -> None:
    # A thread blocked in get_nodes() on a threaded agent whose answer can
    # never come once another thread closed the agent: it must not sit out
    # its whole timeout and then report a TimeoutError.
    agent = Agent(**host_options(tmp_path, mode="threaded"))
    handed_over = threading.Event()
    agent.on_publish = lambda event: handed_over.set()  # the status_request went out
    outcome: Dict[str, BaseException] = {}

    def wait_for_nodes() -> None:
        try:
            agent.get_nodes(timeout=3)
        except BaseException as error:  # noqa: BLE001
            outcome["error"] = error

    thread = threading.Thread(target=wait_for_nodes, daemon=True)
    thread.start()
    assert handed_over.wait(10)
    agent.close()
    thread.join(10)
    assert not thread.is_alive(), "deadlocked"
    assert isinstance(outcome.get("error"), ClosedError), outcome

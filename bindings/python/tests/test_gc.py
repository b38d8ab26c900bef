"""Garbage collection can neither free a callback the library still calls
nor keep a forgotten agent (its descriptor, its thread) alive."""

from __future__ import annotations

import collections
import gc
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, List

from conftest import INSTANCE, host_options, process_options, request, wait_until
from zeek_mgmt_agent import Agent
from zeek_mgmt_agent import agent as agent_module

CRASH_LOOP = {
    "id": "crash-loop",
    "instances": [{"name": INSTANCE}],
    "nodes": [{"name": "crashy", "instance": INSTANCE, "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=30"}}],
}


def crash_loop_agent(tmp_path: Path, make_agent: Callable[..., Agent]) -> Agent:
    """A threaded agent whose one node crashes 30 ms after every start, so
    its library thread keeps calling back (notify_change, notify_log, logs)."""
    options = process_options(tmp_path, mode="threaded")
    options["supervisor"]["restart_delay_ms"] = 20
    return make_agent(**options)


def install_counting_callbacks(agent: Agent, counts: "collections.Counter[str]") -> None:
    """Lambdas and closures referenced by nothing but the agent."""

    def closure(channel: str) -> Callable[[Any], None]:
        return lambda item: counts.update([channel])

    agent.on_response = closure("response")
    agent.on_notification = closure("notification")
    agent.on_publish = lambda event: counts.update(["publish"])
    agent.on_log = lambda record: counts.update(["log"])


def test_lambda_callbacks_survive_gc_while_a_threaded_agent_delivers(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = crash_loop_agent(tmp_path, make_agent)
    counts: "collections.Counter[str]" = collections.Counter()
    install_counting_callbacks(agent, counts)
    gc.collect()
    agent.handle(request("deploy_request", "d1", config=CRASH_LOOP))

    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            gc.collect()

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        notifications_before = counts["notification"]
        for n in range(300):
            agent.handle(request("agent_welcome_request", f"w{n}"))
            if n % 30 == 0:
                gc.collect()
        assert wait_until(lambda: counts["notification"] >= notifications_before + 10, timeout=10), counts
    finally:
        stop.set()
        collector.join(10)
    assert not collector.is_alive()
    assert wait_until(lambda: counts["response"] == 301, timeout=10), counts  # 300 welcomes + the deploy
    assert counts["log"] > 0 and counts["publish"] > 0  # notify_node_exit goes out on publish
    agent.close()
    after_close = dict(counts)
    time.sleep(0.1)
    assert dict(counts) == after_close, "a callback ran after close()"


def test_many_agents_created_and_dropped_leave_nothing_behind(tmp_path: Path) -> None:
    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    def threads() -> int:
        return len(os.listdir("/proc/self/task"))

    gc.collect()
    fds_before, threads_before, registry_before = fds(), threads(), len(agent_module._registry)
    references: List["weakref.ReferenceType[Agent]"] = []
    for n in range(120):
        agent = Agent(**host_options(tmp_path, mode="polled" if n % 2 else "threaded"))
        agent.on_response = lambda event, agent=agent: agent.name  # a cycle for the collector
        agent.handle(request("agent_welcome_request", f"w{n}"))
        references.append(weakref.ref(agent))
        del agent
        if n % 10 == 0:
            gc.collect()
    gc.collect()
    assert [r for r in references if r() is not None] == []
    assert len(agent_module._registry) == registry_before
    assert fds() == fds_before, "descriptors leaked"
    assert wait_until(lambda: threads() == threads_before, timeout=10), "threads leaked"


def test_agents_collected_on_another_agents_library_thread(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    # The collector may run inside a callback on a library thread, and free
    # there whatever agents are garbage by then.
    host = crash_loop_agent(tmp_path / "host", make_agent)
    collections_run: List[str] = []

    def collect_on_library_thread(event: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            collections_run.append(threading.current_thread().name)
            gc.collect()

    host.on_notification = collect_on_library_thread
    host.on_log = lambda record: None
    gc.disable()  # only the library thread collects now
    try:
        references = []
        for n in range(20):
            garbage = Agent(**host_options(tmp_path / f"g{n}", mode="threaded"))
            garbage.on_log = lambda record, garbage=garbage: None  # reachable only through a cycle
            references.append(weakref.ref(garbage))
            del garbage
        host.handle(request("deploy_request", "d1", config=CRASH_LOOP))
        assert wait_until(lambda: all(r() is None for r in references), timeout=10)
    finally:
        gc.enable()
    assert collections_run and "MainThread" not in collections_run
    host.handle(request("agent_welcome_request", "still-alive"))


def test_callbacks_replaced_while_delivering_are_not_freed_under_the_library(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = crash_loop_agent(tmp_path, make_agent)
    seen: "collections.Counter[int]" = collections.Counter()
    agent.handle(request("deploy_request", "d1", config=CRASH_LOOP))
    deadline = time.monotonic() + 1.0
    generation = 0
    while time.monotonic() < deadline:
        generation += 1
        agent.on_notification = (lambda g: (lambda event: seen.update([g])))(generation)
        agent.on_log = (lambda g: (lambda record: None))(generation)
        gc.collect()
        time.sleep(0.005)
    assert len(seen) > 1, "several generations of callbacks were called"
    agent.handle(request("agent_welcome_request", "w1"))
    assert [e.reqid for e in agent.events() if e.channel == "response"][-1] == "w1"

"""close() racing calls from other threads: no use after free.

close() waits for the calls other threads have in flight and refuses new
ones with ClosedError; from inside a callback (or a call) on the same agent
it never waits for its own thread; the finalizer waits a bounded time. The
races run in a child interpreter, so that a crash (the library's memory
used after zma_agent_free: SIGSEGV, SIGABRT) or a deadlock fails the test
instead of killing pytest.
"""

from __future__ import annotations

import json
import subprocess
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from conftest import alive, host_options, process_options, request, two_nodes
from zeek_mgmt_agent import Agent, ClosedError, Event, StateError
from zeek_mgmt_agent import agent as agent_module

#: The child's limit: a deadlock fails the test instead of hanging the suite.
CHILD_TIMEOUT_S = 60

# Shared by every child script: an agent factory, the calls the hammering
# threads make, and helpers. Anything a hammering thread raises other than
# ClosedError is a failure; so is a thread still running after 20 s.
_PRELUDE = """
import faulthandler, json, random, sys, threading, time
faulthandler.enable()
from zeek_mgmt_agent import Agent, ClosedError
from zeek_mgmt_agent import agent as agent_module

STATE_DIR, MODE, ROUNDS, THREADS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
WELCOME = {"event": "agent_welcome_request", "args": {"reqid": "w"}}
failures = []

def new_agent(**extra):
    options = {"name": "instance-1", "dialect": "zeek7", "encoding": "plain", "mode": MODE,
               "state_dir": STATE_DIR, "supervisor": {"kind": "host"}}
    options.update(extra)
    return Agent(**options)

def nested_state(agent):
    # A callback calling back into the agent while it is being closed.
    def callback(event):
        try:
            agent.state()
        except ClosedError:
            pass
    return callback

def calls(agent):
    ops = [lambda: agent.handle(WELCOME), agent.state, lambda: agent.next_timeout_ms]
    if agent.polled:
        ops += [agent.poll, agent.fileno]
    return ops

def hammer(agent, started, counts):
    ops = calls(agent)
    started.wait()
    n = 0
    try:
        while True:
            ops[n % len(ops)]()
            n += 1
    except ClosedError:
        counts.append(n)
    except BaseException as error:
        failures.append(repr(error))

def run_threads(targets):
    threads = [threading.Thread(target=t) for t in targets]
    for thread in threads:
        thread.start()
    return threads

def join(threads):
    for thread in threads:
        thread.join(20)
        if thread.is_alive():
            failures.append("a thread is stuck (deadlock)")
            print("FAILED", failures[:5], flush=True)
            faulthandler.dump_traceback()
            sys.stdout.flush()
            import os
            os._exit(3)

def finish():
    if failures:
        print("FAILED", len(failures), failures[:5], flush=True)
        sys.exit(1)
    print("OK", flush=True)
"""

# Threads call poll/handle/state/next_timeout_ms/fileno in a loop; the main
# thread closes the agent once every one of them is calling.
_CALLS_RACE_CLOSE = """
calls_made = []
for round_ in range(ROUNDS):
    agent = new_agent()
    agent.on_response = nested_state(agent)
    agent.on_log = nested_state(agent)
    started = threading.Barrier(THREADS + 1)
    counts = []
    threads = run_threads([lambda: hammer(agent, started, counts)] * THREADS)
    started.wait()
    time.sleep(random.uniform(0, 0.002))
    agent.close()
    if not agent.closed or agent._id in agent_module._registry:
        failures.append("close() returned before the agent was freed")
    join(threads)
    if len(counts) != THREADS:
        failures.append(f"round {round_}: {THREADS - len(counts)} threads did not see ClosedError")
    calls_made.extend(counts)
print("calls", sum(calls_made), flush=True)
finish()
"""

# Several threads close at once while others call; every close() returns
# only once the agent is freed.
_CONCURRENT_CLOSE = """
for round_ in range(ROUNDS):
    agent = new_agent()
    agent.on_response = nested_state(agent)
    started = threading.Barrier(2 * THREADS + 1)
    counts = []

    def closer():
        started.wait()
        time.sleep(random.uniform(0, 0.002))
        try:
            agent.close()
        except BaseException as error:
            failures.append("close raised " + repr(error))
        if agent._id in agent_module._registry:
            failures.append("close() returned before the agent was freed")

    threads = run_threads([lambda: hammer(agent, started, counts)] * THREADS + [closer] * THREADS)
    started.wait()
    join(threads)
    if len(counts) != THREADS:
        failures.append(f"round {round_}: {THREADS - len(counts)} callers did not see ClosedError")
finish()
"""

# A callback closes the agent (on the thread of the call that delivers it,
# or on the library's thread) while other threads call.
_CLOSE_FROM_CALLBACK = """
closed_on = []
for round_ in range(ROUNDS):
    agent = new_agent(request_timeout_ms=1)
    started = threading.Barrier(THREADS + 1)
    counts = []
    done = threading.Event()

    def on_response(event, agent=agent, done=done):
        if event.reqid == "bye":
            agent.close()  # must neither deadlock nor free under the other threads
            thread = threading.current_thread()
            # The library's thread is a foreign one: threading calls it Dummy-N.
            on = "main" if thread is threading.main_thread() else "caller"
            on = "library" if thread.name.startswith("Dummy") else on
            freed = getattr(getattr(agent, "_gate", None), "freed", None)
            closed_on.append((on, "freed" if freed else "deferred"))
            try:
                agent.state()
                failures.append("a call after close() from a callback did not raise")
            except ClosedError:
                pass
            done.set()

    agent.on_response = on_response
    threads = run_threads([lambda: hammer(agent, started, counts)] * THREADS)
    started.wait()
    time.sleep(random.uniform(0, 0.002))
    try:
        # Polled: answered (timed out) by the poll below, on this thread or
        # a hammering one. Threaded: timed out 1 ms later by the library.
        agent.handle({"event": "get_nodes_request", "args": {"reqid": "bye"}})
        if agent.polled:
            while not done.is_set():
                agent.poll(agent.now_ms() + 10)
    except ClosedError:
        pass
    if not done.wait(10):
        failures.append(f"round {round_}: the closing callback never ran")
    join(threads)
    if len(counts) != THREADS:
        failures.append(f"round {round_}: {THREADS - len(counts)} threads did not see ClosedError")
    if not agent.closed:
        failures.append("closed is false after close() from a callback")
    # Freed by the last call in flight: by now every thread is done.
    if agent._id in agent_module._registry:
        failures.append("the agent closed from a callback was never freed")
import collections
print("closed on", dict(collections.Counter(closed_on)), flush=True)
finish()
"""

# No close(): the interpreter exits while daemon threads are in calls; the
# finalizer (weakref.finalize at exit) must not free under them, and must
# still free the agents (stopping the nodes of the one that runs some).
_EXIT_WHILE_CALLING = """
options, config = json.loads(sys.argv[5]), json.loads(sys.argv[6])
runner = Agent(**options)
assert all(r.success for r in runner.deploy(config))
print(" ".join(str(s.pid) for s in runner.get_nodes()), flush=True)
agents = [runner] + [new_agent() for _ in range(ROUNDS)]
started = threading.Barrier(THREADS * len(agents) + 1)
for agent in agents:
    for _ in range(THREADS):
        threading.Thread(target=hammer, args=(agent, started, []), daemon=True).start()
started.wait()
time.sleep(0.05)
print("OK", flush=True)
"""


def run_child(script: str, tmp_path: Path, mode: str, rounds: int, threads: int, *extra: str) -> str:
    """Runs a race script in a child interpreter; fails on a crash, a hang
    or a reported failure. Returns its output."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PRELUDE + script, str(tmp_path), mode, str(rounds), str(threads), *extra],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the child hung for {CHILD_TIMEOUT_S} s (deadlock?): {expired.stdout!r} {expired.stderr!r}")
    took = time.monotonic() - started
    tail = "\n".join(done.stderr.splitlines()[-25:])
    assert done.returncode == 0, (
        f"the child died with {describe(done.returncode)} after {took:.1f} s\n"
        f"stdout: {done.stdout[-2000:]}\nstderr (end): {tail}"
    )
    assert done.stdout.splitlines()[-1:] == ["OK"], done.stdout + tail
    return done.stdout


def describe(returncode: int) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


@pytest.mark.parametrize("mode", ["polled", "threaded"])
def test_calls_racing_close_never_use_a_freed_agent(tmp_path: Path, mode: str) -> None:
    # 200 rounds of 4 threads calling while the main thread closes: the old
    # close() (free with calls in flight) crashed the child in round one.
    out = run_child(_CALLS_RACE_CLOSE, tmp_path, mode, rounds=200, threads=4)
    calls = int(out.split("calls ")[1].split()[0])
    assert calls > 200 * 4, "the threads hardly called: the race was not exercised"


@pytest.mark.parametrize("mode", ["polled", "threaded"])
def test_close_from_several_threads_at_once(tmp_path: Path, mode: str) -> None:
    run_child(_CONCURRENT_CLOSE, tmp_path, mode, rounds=60, threads=3)


@pytest.mark.parametrize("mode", ["polled", "threaded"])
def test_close_from_a_callback_while_other_threads_call(tmp_path: Path, mode: str) -> None:
    out = run_child(_CLOSE_FROM_CALLBACK, tmp_path, mode, rounds=60, threads=3)
    assert "closed on" in out


def test_interpreter_exit_while_threads_are_in_calls(tmp_path: Path) -> None:
    options = json.dumps(process_options(tmp_path / "runner"))
    out = run_child(_EXIT_WHILE_CALLING, tmp_path, "polled", 3, 3, options, json.dumps(two_nodes()))
    pids = [int(pid) for pid in out.splitlines()[0].split()]
    assert len(pids) == 2
    # Freed at exit, after the calls in flight: its nodes are gone at once.
    assert [pid for pid in pids if alive(pid)] == []


# ---- in this process: the rules, one at a time -----------------------------------------------

CALLS_AFTER_CLOSE: Dict[str, Callable[[Agent], Any]] = {
    "handle": lambda a: a.handle(request("agent_welcome_request", "w1")),
    "poll": lambda a: a.poll(10),
    "next_timeout_ms": lambda a: a.next_timeout_ms,
    "fileno": lambda a: a.fileno(),
    "state": lambda a: a.state(),
    "request": lambda a: a.request(request("agent_welcome_request", "w1"), "w1", timeout=1),
    "get_nodes": lambda a: a.get_nodes(timeout=1),
    "standby": lambda a: a.standby(timeout=1),
}


def assert_every_call_raises_closed_error(agent: Agent) -> None:
    assert agent.closed
    for name, call in CALLS_AFTER_CLOSE.items():
        with pytest.raises(ClosedError) as caught:
            call(agent)
        assert isinstance(caught.value, StateError), name
        assert caught.value.message == "the agent is closed", name
    assert agent._id not in agent_module._registry, "closed but never freed"
    agent.close()  # still harmless


def test_close_from_a_callback_during_this_threads_call(tmp_path: Path) -> None:
    # Polled: the response is delivered during handle(), on this thread; the
    # callback's close() must not wait for the very call it runs in.
    agent = Agent(**host_options(tmp_path))
    after: List[BaseException] = []

    def on_response(event: Event) -> None:
        agent.close()
        try:
            agent.state()
        except ClosedError as error:
            after.append(error)

    agent.on_response = on_response
    agent.handle(request("agent_welcome_request", "w1"))  # returns normally
    assert len(after) == 1
    assert_every_call_raises_closed_error(agent)


def test_close_from_a_callback_on_the_librarys_thread(tmp_path: Path) -> None:
    agent = Agent(**host_options(tmp_path, mode="threaded", request_timeout_ms=1))
    closed_on: List[str] = []
    done = threading.Event()

    def on_response(event: Event) -> None:
        agent.close()
        closed_on.append(threading.current_thread().name)
        done.set()

    agent.on_response = on_response
    agent.handle(request("get_nodes_request", "g1"))  # times out 1 ms later, on the library's thread
    assert done.wait(10)
    assert closed_on and closed_on[0] != threading.main_thread().name
    assert_every_call_raises_closed_error(agent)


def test_close_while_another_thread_is_in_a_callback_waits_for_it(tmp_path: Path) -> None:
    # Thread A's handle() is inside a slow callback; close() from this thread
    # returns only after that call has returned, and A's call completes.
    agent = Agent(**host_options(tmp_path))
    inside, release = threading.Event(), threading.Event()
    order: List[str] = []

    def on_response(event: Event) -> None:
        inside.set()
        release.wait(10)
        order.append("callback returns")

    agent.on_response = on_response
    outcome: List[Any] = []

    def call() -> None:
        try:
            agent.handle(request("agent_welcome_request", "w1"))
            outcome.append("returned")
        except BaseException as error:  # noqa: BLE001
            outcome.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    assert inside.wait(10)
    closer = threading.Thread(target=lambda: (agent.close(), order.append("close returns")))
    closer.start()
    time.sleep(0.1)
    assert closer.is_alive(), "close() did not wait for the call in flight"
    with pytest.raises(ClosedError):
        agent.state()  # new calls are refused while close() waits
    release.set()
    closer.join(10)
    thread.join(10)
    assert not closer.is_alive() and not thread.is_alive()
    assert outcome == ["returned"]
    assert order == ["callback returns", "close returns"]
    assert_every_call_raises_closed_error(agent)


def test_close_from_a_callback_does_not_wait_for_a_caller_that_waits_for_it(tmp_path: Path) -> None:
    # Thread A is the library's deliverer, inside a callback; thread B hands
    # over events until the library's backpressure holds it (more than
    # 4096 outputs A has yet to deliver). If A's close() waited for B's
    # call, both would wait for ever: it leaves the free to the last call
    # out instead (here A's own, once it has returned).
    agent = Agent(**host_options(tmp_path))
    inside = threading.Event()
    made: List[int] = [0]
    closed = threading.Event()
    outcomes: Dict[str, Any] = {}

    def held_up() -> bool:
        # B has handed over more than the backpressure allows and stopped.
        before = made[0]
        time.sleep(0.2)
        return made[0] == before and before > 100

    def on_response(event: Event) -> None:
        if event.reqid != "first":
            return
        inside.set()
        deadline = time.monotonic() + 10
        while not held_up() and time.monotonic() < deadline:
            pass
        outcomes["held up"] = held_up()
        outcomes["made"] = made[0]
        agent.close()
        outcomes["freed by close"] = agent._gate.freed
        closed.set()

    agent.on_response = on_response

    def a() -> None:
        try:
            agent.handle(request("agent_welcome_request", "first"))
            outcomes["a"] = "returned"
        except BaseException as error:  # noqa: BLE001
            outcomes["a"] = error

    def b() -> None:
        assert inside.wait(10)
        try:
            while True:
                agent.handle(request("agent_welcome_request", "w"))
                made[0] += 1
        except BaseException as error:  # noqa: BLE001
            outcomes["b"] = error

    threads = [threading.Thread(target=a, daemon=True), threading.Thread(target=b, daemon=True)]
    for thread in threads:
        thread.start()
    assert closed.wait(20), "close() from the callback deadlocked"
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads), "deadlocked"
    assert outcomes["held up"], f"B was never held up: the case was not exercised {outcomes}"
    assert outcomes["freed by close"] is False  # B was in a call: left to the last call out
    assert outcomes["a"] == "returned"
    assert isinstance(outcomes["b"], ClosedError)
    assert_every_call_raises_closed_error(agent)


def test_concurrent_close_in_this_process(tmp_path: Path) -> None:
    agent = Agent(**host_options(tmp_path, mode="threaded"))
    start = threading.Barrier(4)
    errors: List[BaseException] = []

    def closer() -> None:
        start.wait()
        try:
            agent.close()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=closer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert_every_call_raises_closed_error(agent)


"""Shared fixtures and helpers for the zeek_mgmt_agent test suite.

The package under test loads the library its own way (``$ZEEK_MGMT_AGENT_LIB``
or the copy ``pip install`` bundles); nothing here names a library path.

Tests that run real nodes use the stand-in node program: ``$ZMA_STANDIN`` if
set, else ``<repo>/target/release/zma-standin-node``. If it is missing those
tests FAIL (see :func:`standin`), they never skip.
"""

from __future__ import annotations

import os
import selectors
import socket
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from zeek_mgmt_agent import Agent

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
INSTANCE = "instance-1"
AGENT_TOPIC = f"zeek/management/agent/{INSTANCE}"
AGENT_API = "Management::Agent::API::"
TIMED_OUT = "request timed out"


def standin() -> str:
    """The stand-in node program; fails the calling test if it is missing."""
    configured = os.environ.get("ZMA_STANDIN")
    path = Path(configured) if configured else REPO / "target" / "release" / "zma-standin-node"
    if not path.is_file():
        pytest.fail(
            f"stand-in node program not found at {path}: build it with "
            f"`cargo build --release --bin zma-standin-node` in {REPO}, or set $ZMA_STANDIN",
            pytrace=False,
        )
    return str(path)


def host_options(state_dir: Path, **extra: Any) -> Dict[str, Any]:
    """A polled agent whose Supervisor is host-delegated: requests that need
    the Supervisor stay pending until answered (or timed out)."""
    options: Dict[str, Any] = {
        "name": INSTANCE,
        "dialect": "zeek7",
        "encoding": "plain",
        "mode": "polled",
        "state_dir": str(state_dir),
        "supervisor": {"kind": "host"},
    }
    options.update(extra)
    return options


def process_options(state_dir: Path, **extra: Any) -> Dict[str, Any]:
    """A polled agent with the built-in process supervisor running the
    stand-in; a node counts as RUNNING once spawned."""
    options: Dict[str, Any] = {
        "name": INSTANCE,
        "dialect": "zeek7",
        "encoding": "plain",
        "mode": "polled",
        "state_dir": str(state_dir),
        "node_ready": "spawn",
        "ready_after_ms": 0,
        "supervisor": {"kind": "process", "zeek": standin(), "stop_grace_ms": 2000},
    }
    options.update(extra)
    return options


@pytest.fixture
def make_agent() -> Iterator[Callable[..., Agent]]:
    """A factory ``make_agent(**options)``; every agent it made is closed at
    teardown (stopping its nodes), whatever the test did."""
    agents: List[Agent] = []

    def make(**options: Any) -> Agent:
        agent = Agent(**options)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        try:
            agent.close()
        except Exception:  # noqa: BLE001 - a kept callback error; cleanup goes on
            pass


def free_port() -> int:
    """A TCP port nobody listens on right now (stand-in nodes bind theirs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def two_nodes(config_id: str = "c1") -> Dict[str, Any]:
    """A configuration for this instance: a manager on a free port and a worker."""
    return {
        "id": config_id,
        "instances": [{"name": INSTANCE, "host": "127.0.0.1"}],
        "nodes": [
            {"name": "manager", "instance": INSTANCE, "role": "MANAGER", "p": free_port()},
            {"name": "w1", "instance": INSTANCE, "role": "WORKER"},
        ],
    }


def request(name: str, reqid: str, **args: Any) -> Dict[str, Any]:
    """A controller request in plain JSON."""
    return {"event": name, "args": {"reqid": reqid, **args}}


def alive(pid: Optional[int]) -> bool:
    """Whether a process exists and is not a zombie (None: no process)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat[stat.rfind(")") + 2 :].startswith("Z")


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Polls ``predicate`` every 20 ms until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(0.02)
    return True


def run_until(agent: Agent, done: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Drives a polled agent on the real clock - waits on its descriptor and
    its next deadline, then polls - until ``done()`` holds or ``timeout``
    passes; returns ``done()``."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(agent.fileno(), selectors.EVENT_READ)
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return done()
            wait = min(left, 0.05)
            next_ms = agent.next_timeout_ms
            if next_ms is not None:
                wait = min(wait, max(0.0, (next_ms - agent.now_ms()) / 1000))
            selector.select(wait)
            agent.poll()
    return True

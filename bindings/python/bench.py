"""Benchmarks of the Python package (medians; baselines measured in the same run).

1. An ``agent_welcome_request`` round trip (polled mode, the answer comes
   back through the response callback inside the call):
   - through the package: ``agent.handle(dict)`` and ``agent.handle(text)``
     with an ``on_response`` callable;
   - through raw ctypes: ``zma_agent_handle_request`` with a bare
     ``CFUNCTYPE`` callback (the baseline);
   - the C-level figure of the C ABI issue, read from criterion's results
     (``cargo bench --bench ffi``) when they are there.
   Target: the package adds under 15 us per event over raw ctypes.
2. The 2,000-node configuration (``tests/fixtures/configs/large.broker.json``)
   in a ``set_configuration_request``: zeek-client alone decoding it
   (``unserialize``, ``ZeekEvent.from_vector``, ``Configuration.
   from_brokertype``) against the agent handling it through the package
   (decode, validate, plan, and the 20 ``create_request`` events delivered
   to a Python callback).

Run from a checkout, with the package importable and zeek-client installed::

    python bindings/python/bench.py            # the measurement
    python bindings/python/bench.py --smoke    # a quick run that checks it works (CI)
"""

from __future__ import annotations

import ctypes
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

from zeek_mgmt_agent import Agent, Event, _raw

REPO = Path(__file__).resolve().parents[2]
WELCOME = {"event": "agent_welcome_request", "args": {"reqid": "r1"}}
OPTIONS = {"name": "instance-1", "mode": "polled", "encoding": "plain", "supervisor": {"kind": "host"}}


def median_ns(run: Callable[[int], None], per_round: int, rounds: int = 9) -> float:
    """Median over ``rounds`` of the time per call of ``run(per_round)``."""
    samples = []
    run(max(1, per_round // 10))  # warm up
    for _ in range(rounds):
        start = time.perf_counter_ns()
        run(per_round)
        samples.append((time.perf_counter_ns() - start) / per_round)
    return statistics.median(samples)


def package_round_trip(as_text: bool) -> Callable[[int], None]:
    agent = Agent(**OPTIONS)
    answers: List[Event] = []
    agent.on_response = answers.append
    agent.on_notification = lambda event: None
    agent.on_publish = lambda event: None
    request: Any = json.dumps(WELCOME) if as_text else WELCOME

    def run(n: int) -> None:
        answers.clear()
        for _ in range(n):
            agent.handle(request)
        assert len(answers) == n

    return run


def raw_round_trip() -> Callable[[int], None]:
    lib = _raw.library()
    pointer = lib.zma_agent_new(json.dumps(OPTIONS).encode(), None)
    assert pointer
    answers: List[bytes] = []

    @_raw.EVENT_FN
    def on_event(user_data: Optional[int], topic: bytes, event_json: bytes) -> None:
        answers.append(event_json)

    for setter in (
        lib.zma_agent_set_response_callback,
        lib.zma_agent_set_notification_callback,
        lib.zma_agent_set_publish_callback,
    ):
        assert setter(pointer, on_event, None) == 0
    request = json.dumps(WELCOME).encode()
    raw_round_trip.keep = (on_event, pointer)  # type: ignore[attr-defined]

    def run(n: int) -> None:
        answers.clear()
        for _ in range(n):
            if lib.zma_agent_handle_request(pointer, request) != 0:
                raise RuntimeError(_raw.last_error())
        assert len(answers) == n

    return run


def criterion_median_ns(group: str, function: str) -> Optional[float]:
    path = REPO / "target" / "criterion" / group / function / "new" / "estimates.json"
    if not path.is_file():
        return None
    value: float = json.loads(path.read_text())["median"]["point_estimate"]
    return value


def large_configuration() -> str:
    from zeekclient import brokertypes as bt

    config = bt.from_broker(json.loads((REPO / "tests/fixtures/configs/large.broker.json").read_text()))
    event = bt.ZeekEvent(
        "Management::Agent::API::set_configuration_request", bt.String("req-large"), config
    )
    text: str = bt.DataMessage("zeek/management/agent/instance-042", event).serialize()
    return text


def zeek_client_decode(text: str) -> Callable[[int], None]:
    from zeekclient import brokertypes as bt
    from zeekclient import types as zt

    def run(n: int) -> None:
        for _ in range(n):
            message = bt.unserialize(text)
            event = bt.ZeekEvent.from_vector(message.data)
            config = zt.Configuration.from_brokertype(event.args[1])
            assert len(config.nodes) == 2000

    return run


def agent_handles(text: str) -> Callable[[int], None]:
    options = {
        "name": "instance-042",
        "dialect": "seed",
        "mode": "polled",
        "stage_wait_ms": 0,
        "supervisor": {"kind": "host"},
    }

    def run(n: int) -> None:
        for _ in range(n):
            agent = Agent(**options)
            creates: List[Event] = []
            agent.on_publish = creates.append
            agent.on_notification = lambda event: None
            agent.handle(text)
            agent.close()
            assert sum("create_request" in e.json[:300] for e in creates) == 20, len(creates)

    return run


def human(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def main() -> int:
    smoke = "--smoke" in sys.argv[1:]
    calls, rounds, large_rounds = (200, 1, 1) if smoke else (20_000, 9, 5)
    raw = median_ns(raw_round_trip(), calls, rounds)
    package_dict = median_ns(package_round_trip(as_text=False), calls, rounds)
    package_text = median_ns(package_round_trip(as_text=True), calls, rounds)
    c_level = criterion_median_ns("c_boundary_welcome", "c_abi")
    print("welcome round trip (polled, answer through the response callback), medians:")
    print(f"  raw ctypes                   {human(raw):>10}")
    print(f"  package, handle(text)        {human(package_text):>10}  adds {human(package_text - raw)} over raw ctypes")
    print(f"  package, handle(dict)        {human(package_dict):>10}  adds {human(package_dict - raw)} over raw ctypes")
    if c_level is not None:
        print(f"  C caller (criterion, ffi)    {human(c_level):>10}  ctypes adds {human(raw - c_level)}")
    else:
        print("  C caller: no criterion result (cargo bench --bench ffi)")

    text = large_configuration()
    decode = median_ns(zeek_client_decode(text), 3, large_rounds)
    handle = median_ns(agent_handles(text), 3, large_rounds)
    print(f"2,000-node configuration ({len(text) / 1e6:.2f} MB), medians:")
    print(f"  zeek-client decoding it      {human(decode):>10}")
    print(f"  the agent handling it        {human(handle):>10}  ({handle / decode:.2f}x zeek-client's decode)")

    if smoke:
        print("smoke run: too few samples for a verdict")
        return 0
    added = package_dict - raw
    verdict = "met" if added < 15_000 else "MISSED"
    print(f"target: the package adds < 15 us per event over raw ctypes: {human(added)}, {verdict}")
    return 0 if added < 15_000 else 1


if __name__ == "__main__":
    sys.exit(main())

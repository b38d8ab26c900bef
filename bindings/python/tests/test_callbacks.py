"""Where events go: callbacks per channel or the events() queue, in order;
exceptions raised by callbacks reach the caller; threaded mode under load
from several Python threads."""

from __future__ import annotations

import collections
import logging
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from conftest import (
    AGENT_API,
    AGENT_TOPIC,
    INSTANCE,
    TIMED_OUT,
    host_options,
    process_options,
    request,
)
from zeek_mgmt_agent import NOTIFICATION, PUBLISH, RESPONSE, Agent, Event, LogRecord

SUPERVISOR_PEER_ADDED = {
    "event": "Broker::peer_added",
    "args": {
        "endpoint": {
            "id": "supervisor-endpoint",
            "network": {"address": "127.0.0.1", "bound_port": {"port": 9999, "proto": "tcp"}},
        },
        "msg": "handshake successful",
    },
}

REFUSED_DEPLOY = request(
    "deploy_request",
    "d1",
    config={
        "id": "c-bad",
        "instances": [{"name": INSTANCE}],
        "nodes": [{"name": "w1", "instance": INSTANCE, "role": "WORKER"}] * 2,
    },
)


def test_the_response_callback_receives_responses(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        got: List[Event] = []
        agent.on_response = got.append
        assert agent.on_response is not None
        agent.handle(request("agent_welcome_request", "w1"))
        assert len(got) == 1
        event = got[0]
        assert (event.channel, event.topic) == (RESPONSE, AGENT_TOPIC)
        assert event.name == AGENT_API + "agent_welcome_response"
        assert event.reqid == "w1"
        assert event.args["result"] == {"reqid": "w1", "success": True, "instance": INSTANCE}
        assert event.is_broker is False
        assert list(agent.events()) == []


def test_the_notification_callback_receives_the_hello(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, broker_id="endpoint-7")) as agent:
        got: List[Event] = []
        agent.on_notification = got.append
        agent.handle(SUPERVISOR_PEER_ADDED)
        assert [(e.channel, e.topic, e.name) for e in got] == [
            (NOTIFICATION, AGENT_TOPIC, AGENT_API + "notify_agent_hello")
        ]
        assert got[0].args == {"instance": INSTANCE, "id": "endpoint-7", "connecting": True, "api_version": 1}
        assert got[0].reqid is None
        assert list(agent.events()) == []


def test_the_publish_callback_receives_supervisor_requests(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        got: List[Event] = []
        agent.on_publish = got.append
        agent.handle(request("get_nodes_request", "g1"))
        assert [(e.channel, e.topic, e.name) for e in got] == [
            (PUBLISH, "zeek/supervisor", "SupervisorControl::status_request")
        ]
        assert got[0].args["node"] == ""
        assert list(agent.events()) == []


def test_the_log_callback_receives_log_records(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        records: List[LogRecord] = []
        agent.on_log = records.append
        agent.handle(REFUSED_DEPLOY)
        assert LogRecord(logging.WARNING, "configuration c-bad refused: multiple nodes named 'w1'") in records
        assert LogRecord(logging.INFO, f"rx {AGENT_API}deploy_request d1") in records


def test_without_a_log_callback_records_go_to_the_logging_module(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="zeek_mgmt_agent")
    with Agent(**host_options(tmp_path)) as agent:
        assert agent.on_log is None
        agent.handle(REFUSED_DEPLOY)
    assert ("zeek_mgmt_agent", logging.WARNING, "configuration c-bad refused: multiple nodes named 'w1'") in (
        caplog.record_tuples
    )


def test_without_callbacks_events_are_queued_in_order(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        agent.handle(request("agent_welcome_request", "w1"))
        agent.handle(request("get_nodes_request", "g1"))
        agent.handle(request("agent_welcome_request", "w2"))
        agent.handle(SUPERVISOR_PEER_ADDED)
        agent.handle(REFUSED_DEPLOY)
        queued = [(e.channel, e.name.rsplit("::", 1)[-1], e.reqid) for e in agent.events()]
        assert queued == [
            (RESPONSE, "agent_welcome_response", "w1"),
            (PUBLISH, "status_request", queued[1][2]),
            (RESPONSE, "agent_welcome_response", "w2"),
            (NOTIFICATION, "notify_agent_hello", None),
            (RESPONSE, "deploy_response", "d1"),
        ]
        assert list(agent.events()) == []


def test_channels_without_a_callback_still_queue(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        responses: List[Event] = []
        agent.on_response = responses.append
        agent.handle(request("get_nodes_request", "g1"))
        agent.handle(request("agent_welcome_request", "w1"))
        assert [e.reqid for e in responses] == ["w1"]
        assert [e.name for e in agent.events()] == ["SupervisorControl::status_request"]
        agent.on_response = None  # unregistered: back to the queue
        agent.handle(request("agent_welcome_request", "w2"))
        assert [e.reqid for e in agent.events()] == ["w2"]
        assert [e.reqid for e in responses] == ["w1"]


def test_a_callback_may_hand_the_agent_the_next_request(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        answered: List[str] = []

        def chain(event: Event) -> None:
            answered.append(str(event.reqid))
            if len(answered) < 5:
                agent.handle(request("agent_welcome_request", f"w{len(answered) + 1}"))

        agent.on_response = chain
        agent.handle(request("agent_welcome_request", "w1"))
        assert answered == ["w1", "w2", "w3", "w4", "w5"]


# ---- exceptions raised by callbacks -------------------------------------


def test_a_callback_exception_is_raised_by_handle_polled(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        error = RuntimeError("boom in on_response")

        def fail(event: Event) -> None:
            raise error

        agent.on_response = fail
        with pytest.raises(RuntimeError) as caught:
            agent.handle(request("agent_welcome_request", "w1"))
        assert caught.value is error
        # Raised once, not again; the agent carries on.
        got: List[Event] = []
        agent.on_response = got.append
        agent.handle(request("agent_welcome_request", "w2"))
        agent.poll(1)
        assert [e.reqid for e in got] == ["w2"]


def test_a_callback_exception_is_raised_by_poll_polled(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, request_timeout_ms=100)) as agent:
        error = KeyError("boom in on_response during poll")
        seen: List[Event] = []

        def fail(event: Event) -> None:
            seen.append(event)
            raise error

        agent.on_response = fail
        agent.handle(request("get_nodes_request", "g1"))
        agent.poll(99)
        assert seen == []
        with pytest.raises(KeyError) as caught:
            agent.poll(100)
        assert caught.value is error
        assert [e.reqid for e in seen] == ["g1"]
        agent.poll(101)  # nothing kept any more


def test_a_log_callback_exception_is_raised_by_handle(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        error = ValueError("boom in on_log")
        records: List[LogRecord] = []

        def fail(record: LogRecord) -> None:
            records.append(record)
            if len(records) == 1:
                raise error

        agent.on_log = fail
        with pytest.raises(ValueError) as caught:
            agent.handle(request("agent_welcome_request", "w1"))
        assert caught.value is error
        assert len(records) > 1, "later records were still delivered"
        agent.poll(1)  # nothing kept any more


def test_several_callback_exceptions_are_raised_one_per_call_in_order(tmp_path: Path) -> None:
    # Deploying an empty configuration emits two notify_log notifications,
    # then the deploy_response, all during one handle().
    with Agent(**host_options(tmp_path, supervisor={"kind": "process"})) as agent:
        first, second = RuntimeError("first"), RuntimeError("second")
        to_raise = [first]
        notified: List[str] = []

        def on_notification(event: Event) -> None:
            notified.append(event.name)
            if to_raise:
                raise to_raise.pop()

        def on_response(event: Event) -> None:
            raise second

        agent.on_notification = on_notification
        agent.on_response = on_response
        empty = {"id": "empty", "instances": [{"name": INSTANCE}], "nodes": []}
        with pytest.raises(RuntimeError) as caught:
            agent.handle(request("deploy_request", "d1", config=empty))
        assert caught.value is first
        assert notified == [AGENT_API + "notify_log"] * 2, "the second notification was still delivered"
        with pytest.raises(RuntimeError) as caught:
            agent.poll(1)
        assert caught.value is second
        agent.poll(2)  # nothing kept any more
        assert agent.state()["config_id"] == "empty"


def threaded_agent_with_kept_error(tmp_path: Path, error: BaseException) -> Agent:
    """A threaded agent whose response callback raised ``error`` on the
    library's thread (for request g1's timeout) and has surely returned: the
    callback first handed over g2, whose timeout, 100 ms later, has come."""
    agent = Agent(**host_options(tmp_path, mode="threaded", request_timeout_ms=100))
    later = threading.Event()
    threads: List[str] = []

    def on_response(event: Event) -> None:
        threads.append(threading.current_thread().name)
        if event.reqid == "g1":
            agent.handle(request("get_nodes_request", "g2"))
            raise error
        if event.reqid == "g2":
            later.set()

    agent.on_response = on_response
    agent.handle(request("get_nodes_request", "g1"))
    assert later.wait(10), "the timeouts never came"
    assert threading.main_thread().name not in threads, "answered on the library's thread"
    return agent


def test_a_threaded_callback_exception_is_raised_by_the_next_call(tmp_path: Path) -> None:
    error = RuntimeError("boom on the library's thread")
    agent = threaded_agent_with_kept_error(tmp_path, error)
    try:
        with pytest.raises(RuntimeError) as caught:
            agent.handle(request("agent_welcome_request", "w1"))
        assert caught.value is error
        agent.handle(request("agent_welcome_request", "w2"))  # raised once only
    finally:
        agent.close()


def test_a_threaded_callback_exception_is_raised_by_close(tmp_path: Path) -> None:
    error = RuntimeError("boom before close")
    agent = threaded_agent_with_kept_error(tmp_path, error)
    with pytest.raises(RuntimeError) as caught:
        agent.close()
    assert caught.value is error
    assert agent.closed
    agent.close()  # nothing kept any more


# ---- threaded mode under load ---------------------------------------------


def hammer(agent: Agent, threads: int, per_thread: int, make: Any) -> List[BaseException]:
    """Runs ``threads`` Python threads each handing over ``per_thread``
    requests built by ``make(thread, n)``; returns what they raised. Fails
    if a thread is still running after 60 s (a deadlock)."""
    failures: List[BaseException] = []
    start = threading.Barrier(threads)

    def work(thread: int) -> None:
        try:
            start.wait(10)
            for n in range(per_thread):
                agent.handle(make(thread, n))
        except BaseException as error:  # noqa: BLE001
            failures.append(error)

    workers = [threading.Thread(target=work, args=(t,), name=f"worker-{t}") for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.name for w in workers if w.is_alive()] == [], "deadlocked"
    return failures


def test_threaded_agent_under_load_answers_every_request_exactly_once(tmp_path: Path) -> None:
    # A node that crashes 30 ms after every start keeps the library's thread
    # busy delivering notifications while four Python threads send requests.
    options = process_options(tmp_path, mode="threaded")
    options["supervisor"]["restart_delay_ms"] = 20
    with Agent(**options) as agent:
        lock = threading.Lock()
        responses: Dict[str, List[Event]] = collections.defaultdict(list)
        library_thread_events: "collections.Counter[str]" = collections.Counter()
        crashed = threading.Event()

        all_in = threading.Event()

        def on_response(event: Event) -> None:
            with lock:
                responses[str(event.reqid)].append(event)
                if len(responses) == 801:  # 800 requests and the deploy
                    all_in.set()

        def on_notification(event: Event) -> None:
            if not threading.current_thread().name.startswith(("MainThread", "worker-")):
                library_thread_events[event.name] += 1
            if event.name.endswith("notify_change") and event.args["new"] == "Management::CRASHED":
                crashed.set()

        agent.on_response = on_response
        agent.on_notification = on_notification
        agent.on_publish = lambda event: None
        agent.on_log = lambda record: None
        config = {
            "id": "load",
            "instances": [{"name": INSTANCE}],
            "nodes": [
                {"name": "crashy", "instance": INSTANCE, "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=30"}},
                {"name": "steady", "instance": INSTANCE, "role": "WORKER"},
            ],
        }
        agent.handle(request("deploy_request", "deploy", config=config))
        assert crashed.wait(10), "the crashing node never crashed"

        def make(thread: int, n: int) -> Dict[str, Any]:
            kind = "get_nodes_request" if n % 2 else "agent_welcome_request"
            return request(kind, f"t{thread}-{n}")

        failures = hammer(agent, threads=4, per_thread=200, make=make)
        assert failures == []
        # Answers may come inside handle() or later, from another thread.
        assert all_in.wait(20), f"only {len(responses)} of 801 answered"
        sent = {f"t{t}-{n}" for t in range(4) for n in range(200)}
        assert set(responses) == sent | {"deploy"}
        assert {reqid: len(events) for reqid, events in responses.items() if len(events) != 1} == {}
        for reqid in sent:
            event = responses[reqid][0]
            result = event.args["result"]
            assert result["success"] is True and result["reqid"] == reqid
            n = int(reqid.split("-")[1])
            if n % 2:
                assert event.name == AGENT_API + "get_nodes_response"
                assert sorted(s["node"] for s in result["data"]) == ["crashy", "steady"]
            else:
                assert event.name == AGENT_API + "agent_welcome_response"
        assert library_thread_events[AGENT_API + "notify_change"] > 0


def test_timeouts_on_the_library_thread_race_requests_from_python_threads(tmp_path: Path) -> None:
    # Every get_nodes stays pending (the host Supervisor never answers) and
    # is answered by its timeout on the library's thread, while the Python
    # threads keep handing over requests.
    with Agent(**host_options(tmp_path, mode="threaded", request_timeout_ms=30)) as agent:
        lock = threading.Lock()
        answers: List[Tuple[str, str, bool, str]] = []
        all_in = threading.Event()

        def on_response(event: Event) -> None:
            result = event.args["result"]
            with lock:
                answers.append((str(event.reqid), threading.current_thread().name, result["success"], result.get("error", "")))
                if len(answers) == 800:
                    all_in.set()

        agent.on_response = on_response
        agent.on_publish = lambda event: None
        agent.on_log = lambda record: None

        def make(thread: int, n: int) -> Dict[str, Any]:
            kind = "get_nodes_request" if n % 2 else "agent_welcome_request"
            return request(kind, f"t{thread}-{n}")

        assert hammer(agent, threads=4, per_thread=200, make=make) == []
        assert all_in.wait(20), f"only {len(answers)} of 800 answered"
        by_reqid = collections.Counter(reqid for reqid, _, _, _ in answers)
        assert by_reqid == collections.Counter(f"t{t}-{n}" for t in range(4) for n in range(200))
        for reqid, _, success, error in answers:
            if int(reqid.split("-")[1]) % 2:
                assert (success, error) == (False, TIMED_OUT), reqid
            else:
                assert (success, error) == (True, ""), reqid
        python_threads = {"MainThread"} | {f"worker-{t}" for t in range(4)}
        assert {thread for _, thread, _, _ in answers} - python_threads, "none came from the library's thread"
        assert agent.state()["pending_requests"] == []

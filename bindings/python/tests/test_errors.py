"""Every exception type: raised where the library refuses something, with
the C status code in ``.status`` and the library's own message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Type

import pytest

from conftest import host_options, request
from zeek_mgmt_agent import (
    Agent,
    AgentError,
    AgentIOError,
    ClosedError,
    EventError,
    JsonError,
    LimitError,
    NullError,
    OptionsError,
    PanicError,
    StateError,
    TimeoutError,
    Utf8Error,
    errors,
)

STATUS: Dict[Type[AgentError], int] = {
    NullError: -1,
    Utf8Error: -2,
    JsonError: -3,
    EventError: -4,
    StateError: -5,
    OptionsError: -6,
    AgentIOError: -7,
    PanicError: -8,
    LimitError: -9,
}


@pytest.mark.parametrize("cls", list(STATUS), ids=lambda c: c.__name__)
def test_each_error_class_carries_its_c_status(cls: Type[AgentError]) -> None:
    assert issubclass(cls, AgentError)
    assert cls.status == STATUS[cls]
    assert cls("message").status == STATUS[cls]


@pytest.mark.parametrize("cls", list(STATUS), ids=lambda c: c.__name__)
def test_error_for_maps_each_status_to_its_class(cls: Type[AgentError]) -> None:
    error = errors.error_for(STATUS[cls], "the library's words")
    assert type(error) is cls
    assert error.status == STATUS[cls]
    assert error.message == "the library's words" == str(error)


def test_error_for_an_unknown_status_is_a_plain_agent_error() -> None:
    error = errors.error_for(-42, "new in a later ABI")
    assert type(error) is AgentError
    assert error.status == -42 and error.message == "new in a later ABI"


def test_closed_and_timeout_errors_are_agent_errors() -> None:
    assert issubclass(ClosedError, StateError) and ClosedError.status == -5
    assert issubclass(TimeoutError, AgentError)


def test_check_passes_ok() -> None:
    errors.check(0)  # ZMA_OK: no exception


# ---- options ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bogus": 1}, "option 'bogus': unknown option"),
        ({"mode": "sideways"}, "option 'mode': 'sideways' is not one of threaded, polled"),
        ({"request_timeout_ms": 0}, "option 'request_timeout_ms': must be greater than 0"),
        ({"request_timeout_ms": 1.5}, "option 'request_timeout_ms': expected a whole number, got 1.5"),
        ({"supervisor": {"kind": "process", "nope": 1}}, "option 'supervisor.nope': unknown option"),
        ({"supervisor": {"kind": "host", "zeek": "zeek"}}, "option 'supervisor.zeek': unknown option"),
    ],
    ids=["unknown key", "bad value", "zero timeout", "fraction", "nested key", "other kind's key"],
)
def test_a_refused_option_raises_options_error_naming_the_key(options: Dict[str, Any], message: str) -> None:
    with pytest.raises(OptionsError) as caught:
        Agent(**options)
    assert caught.value.status == -6
    assert caught.value.message == message


# ---- creation: the status of zma_agent_create picks the class -------------


def test_options_that_are_not_json_raise_options_error() -> None:
    # json.dumps writes NaN, which JSON does not have: the library refuses
    # the options as a whole.
    with pytest.raises(OptionsError) as caught:
        Agent(mode="polled", request_timeout_ms=float("nan"))
    assert type(caught.value) is OptionsError and caught.value.status == -6
    assert caught.value.message.startswith("options: not JSON"), caught.value.message


def test_creating_with_options_that_are_not_json_raises_options_error() -> None:
    # The raw C call, with text no keyword argument can produce.
    from zeek_mgmt_agent import _raw
    from zeek_mgmt_agent.agent import _create

    for text in (b'{"mode": ', b"[1, 2]", b"nonsense"):
        with pytest.raises(OptionsError) as caught:
            _create(_raw.library(), text)
        assert caught.value.status == -6
        assert caught.value.message.startswith("options"), caught.value.message


def test_a_state_directory_that_cannot_be_created_raises_agent_io_error(tmp_path: Path) -> None:
    # Named so that no word of the message could pass for an option or a
    # panic: the class comes from the status code.
    blocker = tmp_path / "option-panic"
    blocker.write_text("a file, not a directory")
    with pytest.raises(AgentIOError) as caught:
        Agent(mode="polled", state_dir=str(blocker / "state"))
    assert type(caught.value) is AgentIOError and caught.value.status == -7
    assert caught.value.message.startswith("cannot create the agent's process supervisor"), caught.value.message
    assert str(blocker / "state") in caught.value.message


def test_a_state_directory_in_use_by_another_agent_raises_agent_io_error(tmp_path: Path) -> None:
    state_dir = tmp_path / "options-panic"
    with Agent(mode="polled", state_dir=str(state_dir)):
        with pytest.raises(AgentIOError) as caught:
            Agent(mode="polled", state_dir=str(state_dir))
        assert type(caught.value) is AgentIOError and caught.value.status == -7
        assert "is in use by another agent" in caught.value.message, caught.value.message
        assert str(state_dir) in caught.value.message
    # Free again once the first agent is closed.
    Agent(mode="polled", state_dir=str(state_dir)).close()


# ---- input --------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path) -> Any:
    with Agent(**host_options(tmp_path, max_event_bytes=200, max_json_depth=5)) as agent:
        yield agent


def refuse(agent: Agent, event: Any, cls: Type[AgentError]) -> AgentError:
    """Hands ``event`` over, expects ``cls``; checks nothing came out or changed."""
    before = agent.state()
    with pytest.raises(cls) as caught:
        agent.handle(event)
    assert type(caught.value) is cls
    assert caught.value.status == STATUS[cls]
    assert list(agent.events()) == []
    assert agent.state() == before
    return caught.value


def test_not_json_raises_json_error(agent: Agent) -> None:
    error = refuse(agent, '{"event": "agent_welcome_request", ', JsonError)
    assert error.message.startswith("event is not JSON: "), error.message


def test_an_unknown_event_raises_event_error(agent: Agent) -> None:
    error = refuse(agent, {"event": "no_such_request", "args": {"reqid": "x"}}, EventError)
    assert error.message == "unknown event 'no_such_request'"


def test_a_missing_argument_raises_event_error(agent: Agent) -> None:
    error = refuse(agent, {"event": "get_nodes_request", "args": {}}, EventError)
    assert error.message == "get_nodes_request: missing argument 'reqid'"


def test_a_mistyped_argument_raises_event_error(agent: Agent) -> None:
    error = refuse(agent, {"event": "get_nodes_request", "args": {"reqid": 7}}, EventError)
    assert "get_nodes_request" in error.message and "reqid" in error.message, error.message


def test_invalid_utf8_raises_utf8_error(agent: Agent) -> None:
    error = refuse(agent, b'{"event": "\xff"}', Utf8Error)
    assert error.message == "event is not valid UTF-8 (invalid byte at offset 11)"


def test_an_event_over_max_event_bytes_raises_limit_error(agent: Agent) -> None:
    event = json.dumps(request("agent_welcome_request", "w" * 300))
    error = refuse(agent, event, LimitError)
    assert error.message == f"event of {len(event)} bytes exceeds max_event_bytes (200)"


def test_an_event_deeper_than_max_json_depth_raises_limit_error(agent: Agent) -> None:
    error = refuse(agent, "[[[[[[[1]]]]]]]", LimitError)
    assert error.message == "event nests JSON deeper than max_json_depth (5)"


def test_a_nul_byte_in_an_event_is_refused_not_truncated(agent: Agent) -> None:
    # JSON text never holds a raw NUL: the whole input is not JSON. Passed as
    # a C string it would be cut at the NUL and the front half acted upon.
    welcome = json.dumps(request("agent_welcome_request", "w1"))
    for event in (welcome + "\x00 trailing garbage", (welcome + "\x00 trailing garbage").encode()):
        with pytest.raises((AgentError, ValueError)):
            agent.handle(event)
        assert list(agent.events()) == [], "the truncated front half was handled"


def test_a_duplicate_request_id_in_flight_raises_state_error(agent: Agent) -> None:
    agent.handle(request("get_nodes_request", "g1"))  # pending: the host Supervisor never answers
    assert [e.name for e in agent.events()] == ["SupervisorControl::status_request"]
    error = refuse(agent, request("get_nodes_request", "g1"), StateError)
    assert error.message == "get_nodes_request: request id 'g1' is already in flight"


def test_poll_on_a_threaded_agent_raises_state_error(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, mode="threaded")) as agent:
        with pytest.raises(StateError) as caught:
            agent.poll(10)
        assert type(caught.value) is StateError and caught.value.status == -5
        assert caught.value.message == "zma_agent_poll: the agent runs in threaded mode"


def test_fileno_on_a_threaded_agent_raises_state_error(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, mode="threaded")) as agent:
        with pytest.raises(StateError) as caught:
            agent.fileno()
        assert caught.value.status == -5
        assert "threaded" in caught.value.message
        assert agent.next_timeout_ms is None  # always None in threaded mode


def test_waiting_twice_for_one_request_id_raises_state_error(tmp_path: Path) -> None:
    import threading

    with Agent(**host_options(tmp_path, mode="threaded")) as agent:
        first_sent = threading.Event()
        agent.on_publish = lambda event: first_sent.set()
        outcome: Dict[str, BaseException] = {}

        def first() -> None:
            try:
                agent.request(request("get_nodes_request", "g1"), "g1", timeout=1.0)
            except BaseException as error:  # noqa: BLE001
                outcome["first"] = error

        waiter = threading.Thread(target=first)
        waiter.start()
        assert first_sent.wait(10)
        with pytest.raises(StateError) as caught:
            agent.request(request("get_nodes_request", "g1"), "g1", timeout=1.0)
        assert caught.value.message == "request id 'g1' is already awaited"
        waiter.join(10)
        assert not waiter.is_alive()
        assert isinstance(outcome.get("first"), TimeoutError)


def test_no_answer_in_time_raises_timeout_error(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        with pytest.raises(TimeoutError) as caught:
            agent.get_nodes(timeout=0.2)
        assert caught.value.message == "no answer within 0.2 s"
        pending = agent.state()["pending_requests"]
        assert [p["kind"] for p in pending] == ["get_nodes"]
        assert pending[0]["id"].startswith("py-get-nodes-")


def test_a_failed_get_nodes_raises_agent_error_with_the_result_error(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path, request_timeout_ms=100)) as agent:
        with pytest.raises(AgentError) as caught:
            agent.get_nodes(timeout=10)
        assert type(caught.value) is AgentError
        assert caught.value.message == "get_nodes failed: request timed out"


def test_deploy_of_a_json_file_that_is_not_json_raises_event_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with Agent(**host_options(tmp_path)) as agent:
        with pytest.raises(EventError, match=r"config\.json: not JSON"):
            agent.deploy(path)
        path.write_text("[1, 2]")
        with pytest.raises(EventError, match="a configuration is a JSON object"):
            agent.deploy(str(path))


def test_deploy_and_handle_refuse_other_types_with_type_error(tmp_path: Path) -> None:
    with Agent(**host_options(tmp_path)) as agent:
        with pytest.raises(TypeError, match="not int"):
            agent.deploy(42)
        with pytest.raises(TypeError, match="not int"):
            agent.handle(42)

"""Exceptions: one class per status code of the C ABI.

Every exception carries the library's own message (``zma_last_error``) and
the status code. Catch :class:`AgentError` for all of them.
"""

from __future__ import annotations

from typing import Dict, Type

from . import _raw


class AgentError(Exception):
    """A call into the agent failed. ``status`` is the C status code."""

    status: int = 0

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        if status:
            self.status = status


class NullError(AgentError):
    """A required pointer was NULL (a bug in this package if it happens)."""

    status = _raw.ZMA_ERR_NULL


class Utf8Error(AgentError):
    """Input was not valid UTF-8."""

    status = _raw.ZMA_ERR_UTF8


class JsonError(AgentError):
    """Input was not JSON."""

    status = _raw.ZMA_ERR_JSON


class EventError(AgentError):
    """JSON, but not a valid event: unknown name, missing or mistyped argument."""

    status = _raw.ZMA_ERR_EVENT


class StateError(AgentError):
    """Not allowed now (polling a threaded agent, a request id in flight, a closed agent)."""

    status = _raw.ZMA_ERR_STATE


class OptionsError(AgentError):
    """An option was refused; the message names the key."""

    status = _raw.ZMA_ERR_OPTIONS


class AgentIOError(AgentError):
    """The operating system refused something the agent needed."""

    status = _raw.ZMA_ERR_IO


class PanicError(AgentError):
    """An internal bug was caught at the boundary; the agent is poisoned."""

    status = _raw.ZMA_ERR_PANIC


class LimitError(AgentError):
    """Input over a configured size or depth limit."""

    status = _raw.ZMA_ERR_LIMIT


class ClosedError(StateError):
    """The agent was closed."""


class TimeoutError(AgentError):  # noqa: A001 - the agent's own, an AgentError
    """No answer came within the time a convenience method waited."""


_BY_STATUS: Dict[int, Type[AgentError]] = {
    cls.status: cls
    for cls in (
        NullError,
        Utf8Error,
        JsonError,
        EventError,
        StateError,
        OptionsError,
        AgentIOError,
        PanicError,
        LimitError,
    )
}


def error_for(status: int, message: str) -> AgentError:
    """The exception for a status code the library returned."""
    return _BY_STATUS.get(status, AgentError)(message, status)


def check(status: int) -> None:
    """Raises the exception for a failed call (with the library's message)."""
    if status != _raw.ZMA_OK:
        raise error_for(status, _raw.last_error())

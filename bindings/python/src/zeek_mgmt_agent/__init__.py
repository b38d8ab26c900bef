"""zeek-mgmt-agent for Python: the agent of Zeek's cluster management framework.

>>> from zeek_mgmt_agent import Agent
>>> with Agent(name="instance-1", mode="polled", encoding="plain") as agent:
...     agent.handle({"event": "agent_welcome_request", "args": {"reqid": "r1"}})
...     [event.name for event in agent.events()]
['Management::Agent::API::agent_welcome_response']

The package is a thin layer over the C library ``libzeek_mgmt_agent`` (bundled
by ``pip install``; ``$ZEEK_MGMT_AGENT_LIB`` loads another). See
:class:`Agent`.
"""

from __future__ import annotations

from . import _raw
from .agent import Agent, ConfigSource, EventCallback, Inbound, LogCallback, standin_path
from .errors import (
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
)
from .types import NOTIFICATION, PUBLISH, RESPONSE, Event, LogRecord, NodeStatus, Result

__version__ = "0.2.0"


def library_version() -> str:
    """The version of the loaded C library (``zma_version``)."""
    version = _raw.library().zma_version()
    return version.decode("utf-8") if version else ""


__all__ = [
    "Agent",
    "AgentError",
    "AgentIOError",
    "ClosedError",
    "ConfigSource",
    "Event",
    "EventCallback",
    "EventError",
    "Inbound",
    "JsonError",
    "LimitError",
    "LogCallback",
    "LogRecord",
    "NOTIFICATION",
    "NodeStatus",
    "NullError",
    "OptionsError",
    "PUBLISH",
    "PanicError",
    "RESPONSE",
    "Result",
    "StateError",
    "TimeoutError",
    "Utf8Error",
    "library_version",
    "standin_path",
]

"""What the agent hands back: events, log records, results, node status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

#: The channels events come out on (see docs/c-api.md).
RESPONSE = "response"
NOTIFICATION = "notification"
PUBLISH = "publish"


@dataclass(frozen=True)
class Event:
    """One event the agent sent: its channel, Broker topic and JSON text.

    ``channel`` is ``"response"`` (an answer to a controller request),
    ``"notification"`` (a ``notify_*`` event for the controller) or
    ``"publish"`` (everything else: node dispatches, SupervisorControl
    requests). The JSON is parsed on first use of :attr:`data`.
    """

    channel: str
    topic: str
    json: str
    _parsed: List[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def data(self) -> Dict[str, Any]:
        """The event as JSON data (parsed once)."""
        if not self._parsed:
            self._parsed.append(json.loads(self.json))
        value: Dict[str, Any] = self._parsed[0]
        return value

    @property
    def is_broker(self) -> bool:
        """Whether the event is in Broker JSON (else plain JSON)."""
        return "@data-type" in self.data

    @property
    def name(self) -> str:
        """The event's full Zeek name, e.g. ``Management::Agent::API::deploy_response``."""
        data = self.data
        if self.is_broker:
            name: str = data["data"][2]["data"][0]["data"]
            return name
        plain: str = data["event"]
        return plain

    @property
    def args(self) -> Any:
        """The arguments: a dict for plain JSON, the Broker vector for Broker JSON."""
        data = self.data
        if self.is_broker:
            return data["data"][2]["data"][1]["data"]
        return data.get("args", {})

    @property
    def reqid(self) -> Optional[str]:
        """The request id of a request or response event (None for others,
        such as notifications)."""
        args = self.args
        if isinstance(args, dict):
            reqid = args.get("reqid")
            return reqid if isinstance(reqid, str) else None
        # Broker: positional; requests and responses carry it first.
        if not self.name.endswith(("_request", "_response")):
            return None
        if args and isinstance(args[0], dict) and args[0].get("@data-type") == "string":
            value: str = args[0]["data"]
            return value
        return None


@dataclass(frozen=True)
class LogRecord:
    """A log message of the agent; ``level`` is a :mod:`logging` level."""

    level: int
    message: str


def _short(enum_value: Optional[str]) -> Optional[str]:
    """``Management::RUNNING`` -> ``RUNNING``."""
    if enum_value is None:
        return None
    return enum_value.rsplit("::", 1)[-1]


def _port(value: Any) -> Optional[int]:
    if isinstance(value, dict):
        port = value.get("port")
        return port if isinstance(port, int) else None
    if isinstance(value, int):
        return value
    return None


@dataclass(frozen=True)
class Result:
    """``Management::Result``: the outcome of a request for one node or instance."""

    reqid: str
    success: bool
    instance: str = ""
    node: Optional[str] = None
    error: Optional[str] = None
    data: Any = None

    @classmethod
    def from_plain(cls, value: Dict[str, Any]) -> "Result":
        return cls(
            reqid=value.get("reqid", ""),
            success=bool(value.get("success", False)),
            instance=value.get("instance", ""),
            node=value.get("node"),
            error=value.get("error"),
            data=value.get("data"),
        )


@dataclass(frozen=True)
class NodeStatus:
    """``Management::NodeStatus``: one node as ``get_nodes`` reports it."""

    node: str
    state: str
    mgmt_role: str
    cluster_role: str
    pid: Optional[int] = None
    port: Optional[int] = None
    metrics_port: Optional[int] = None

    @classmethod
    def from_plain(cls, value: Dict[str, Any]) -> "NodeStatus":
        return cls(
            node=value["node"],
            state=_short(value.get("state")) or "UNKNOWN",
            mgmt_role=_short(value.get("mgmt_role")) or "NONE",
            cluster_role=_short(value.get("cluster_role")) or "NONE",
            pid=value.get("pid"),
            port=_port(value.get("p")),
            metrics_port=_port(value.get("metrics_port")),
        )

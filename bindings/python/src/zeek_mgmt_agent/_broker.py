"""Reading the records of Broker-encoded responses (docs/protocol.md, encoding 1: Broker JSON).

Only what the convenience methods need: plain Python values from Broker
JSON data, and the ``Management::Result`` and ``Management::NodeStatus``
records in every dialect's layout (the Result layouts are told apart by the
types of their second and third fields, as the agent itself does).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .types import NodeStatus, Result


def value(data: Dict[str, Any]) -> Any:
    """A Broker JSON value as plain Python: vectors and sets become lists,
    tables dicts, ports their number, everything else its ``data``."""
    kind = data.get("@data-type")
    inner = data.get("data")
    if kind == "none":
        return None
    if kind in ("vector", "set"):
        return [value(item) for item in inner or []]
    if kind == "table":
        return {_key(entry["key"]): value(entry["value"]) for entry in inner or []}
    if kind == "port":
        return int(str(inner).split("/", 1)[0])
    return inner


def _key(data: Dict[str, Any]) -> Any:
    key = value(data)
    return tuple(key) if isinstance(key, list) else key


def _enum(data: Dict[str, Any]) -> str:
    return str(data.get("data", "")).rsplit("::", 1)[-1]


def _field(fields: List[Dict[str, Any]], index: int) -> Optional[Dict[str, Any]]:
    if index < len(fields) and fields[index].get("@data-type") != "none":
        return fields[index]
    return None


def is_record_vector(data: Dict[str, Any]) -> bool:
    """Whether a vector holds records (a ``results`` vector), not fields."""
    items = data.get("data") or []
    return data.get("@data-type") == "vector" and (not items or items[0].get("@data-type") == "vector")


def result(data: Dict[str, Any]) -> Result:
    """A ``Management::Result`` in the seed layout (reqid, instance, success,
    ...) or the later one (reqid, success, instance, ...); ``data`` is left
    as Broker JSON for the caller to read."""
    fields: List[Dict[str, Any]] = data["data"]
    seed = len(fields) > 2 and fields[1].get("@data-type") == "string" and fields[2].get("@data-type") == "boolean"
    success_at, instance_at = (2, 1) if seed else (1, 2)
    success = _field(fields, success_at)
    instance = _field(fields, instance_at)
    error = _field(fields, 4)
    node = _field(fields, 5)
    return Result(
        reqid=str(fields[0].get("data", "")),
        success=bool(success["data"]) if success is not None else True,
        instance=str(instance["data"]) if instance is not None else "",
        node=str(node["data"]) if node is not None else None,
        error=str(error["data"]) if error is not None and error["data"] != "" else None,
        data=_field(fields, 3),
    )


def node_status(data: Dict[str, Any]) -> NodeStatus:
    """A ``Management::NodeStatus`` (6 fields, or 7 with ``metrics_port``)."""
    fields: List[Dict[str, Any]] = data["data"]
    mgmt_role = _field(fields, 2)
    cluster_role = _field(fields, 3)
    pid = _field(fields, 4)
    port = _field(fields, 5)
    metrics_port = _field(fields, 6)
    return NodeStatus(
        node=str(fields[0]["data"]),
        state=_enum(fields[1]),
        mgmt_role=_enum(mgmt_role) if mgmt_role is not None else "NONE",
        cluster_role=_enum(cluster_role) if cluster_role is not None else "NONE",
        pid=int(pid["data"]) if pid is not None else None,
        port=value(port) if port is not None else None,
        metrics_port=value(metrics_port) if metrics_port is not None else None,
    )

"""The :class:`Agent`: one zeek-mgmt-agent, owned by Python.

Design (after wasmtime-py and rustls-ffi):

* The library never holds a Python object. Each agent's callbacks are
  module-level trampolines that receive an integer id as ``user_data`` and
  look the agent's :class:`_Inbox` up in a registry of weak references, so
  garbage collection can neither free a callback the library still calls
  nor keep a forgotten agent alive.
* An exception raised by a user callback never reaches ctypes (which would
  print and drop it): it is kept and raised to the caller once the library
  has returned - by the call during which it happened (polled mode, or a
  synchronous answer), else by the next :meth:`Agent.handle`,
  :meth:`Agent.poll`, :meth:`Agent.events`, request or :meth:`Agent.close`
  (reading :meth:`Agent.state` or :attr:`Agent.next_timeout_ms` does not
  raise it). Several are raised one per call, in order.
* Every call holds the agent's :class:`~zeek_mgmt_agent._gate.Gate` shared
  and :meth:`Agent.close` takes it exclusively (``zma_agent_free`` must not
  race with other calls): close refuses new calls with :class:`~zeek_mgmt_agent.
  errors.ClosedError` at once, waits for the calls other threads have in
  flight, then frees. From inside a callback or a call on the same agent it
  does not wait for its own thread (see ``_gate``). No callback starts once
  close was called.
* :meth:`Agent.close` is idempotent; a ``weakref.finalize`` (which also runs
  at interpreter exit) frees an agent nobody closed, waiting at most
  ``_FINALIZE_WAIT_S`` for calls in flight, and ``__del__`` is the last
  resort.
* ctypes releases the GIL for every call into the library, and the library
  calls back with none of its locks held, so Python threads and the
  library's own thread never deadlock.
"""

from __future__ import annotations

import ctypes
import dataclasses
import itertools
import json
import logging
import os
import queue
import selectors
import shutil
import sysconfig
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Union

from . import _broker, _raw
from ._gate import Gate
from .errors import (
    AgentError,
    ClosedError,
    EventError,
    JsonError,
    StateError,
    TimeoutError,
    check,
)
from .types import NOTIFICATION, PUBLISH, RESPONSE, Event, LogRecord, NodeStatus, Result

EventCallback = Callable[[Event], None]
LogCallback = Callable[[LogRecord], None]

#: Anything :meth:`Agent.handle` takes: JSON text, a JSON object, or a
#: zeek-client event or Broker message.
Inbound = Union[str, bytes, Mapping[str, Any], Any]

#: What :meth:`Agent.deploy` takes: a configuration as a JSON object, a path
#: to a JSON file or to a zeek-client INI file, or a zeek-client
#: ``Configuration``.
ConfigSource = Union[Mapping[str, Any], str, "os.PathLike[str]", Any]

LOG = logging.getLogger("zeek_mgmt_agent")

#: The agent's log levels are logging's (10, 20, 30, 40).
_DEFAULT_WAIT_S = 30.0
#: How often a polled wait looks whether another thread closed the agent.
_CLOSE_CHECK_S = 0.1
#: How long the finalizer waits for calls in flight (daemon threads at
#: interpreter exit) before it leaves the free to the last of them.
_FINALIZE_WAIT_S = 5.0

_request_ids = itertools.count(1)

#: The stand-in node's program name (``pip install ./bindings/python/standin``).
STANDIN = "zma-standin-node"
#: How the library reports a node program it cannot find.
_NOT_FOUND = "not found on PATH"


def standin_path() -> Optional[str]:
    """The installed stand-in node program (``zma-standin-node`` on ``PATH``
    or in this Python's scripts directory), or None."""
    return shutil.which(STANDIN) or shutil.which(STANDIN, path=sysconfig.get_path("scripts"))


def _hint(message: str) -> str:
    """A message of the library, plus what to do when the node program
    (``zeek``) is not installed: use the stand-in node."""
    if _NOT_FOUND not in message:
        return message
    found = standin_path()
    if found is not None:
        return (
            f"{message} (without Zeek, the installed stand-in node can run the nodes: "
            f"supervisor={{'kind': 'process', 'zeek': {found!r}}}, or zeek-mgmt-agent --zeek {found})"
        )
    return (
        f"{message} (without Zeek, the stand-in node can run the nodes: "
        f"`pip install ./bindings/python/standin` in a zeek-mgmt-agent checkout installs {STANDIN}; "
        f"then supervisor={{'kind': 'process', 'zeek': {STANDIN!r}}}, or zeek-mgmt-agent --zeek {STANDIN})"
    )


class _Inbox:
    """The Python side of one agent: where its events and log records go.

    Trampolines call :meth:`deliver` and :meth:`log`; they may run on any
    thread, the library's own included.
    """

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.lock = threading.Lock()
        self.callbacks: Dict[str, Optional[EventCallback]] = {RESPONSE: None, NOTIFICATION: None, PUBLISH: None}
        self.on_log: Optional[LogCallback] = None
        self.queue: "queue.Queue[Event]" = queue.Queue()
        self.waiters: Dict[str, "_Waiter"] = {}
        self.errors: List[BaseException] = []

    def keep(self, error: BaseException) -> None:
        with self.lock:
            self.errors.append(error)

    def take_error(self) -> Optional[BaseException]:
        if not self.errors:  # the common case, without the lock
            return None
        with self.lock:
            return self.errors.pop(0) if self.errors else None

    def deliver(self, event: Event) -> None:
        if event.channel == RESPONSE and self.waiters:
            reqid = event.reqid
            with self.lock:
                waiter = self.waiters.pop(reqid, None) if reqid is not None else None
            if waiter is not None:
                waiter.set(event)
                return
        callback = self.callbacks[event.channel]
        if callback is None:
            self.queue.put(event)
            return
        try:
            callback(event)
        except BaseException as error:  # noqa: BLE001 - kept and re-raised to the caller
            self.keep(error)

    def log(self, record: LogRecord) -> None:
        callback = self.on_log
        if callback is None:
            LOG.log(record.level, "%s", record.message)
            return
        try:
            callback(record)
        except BaseException as error:  # noqa: BLE001 - kept and re-raised to the caller
            self.keep(error)


class _Waiter:
    """One answer a convenience method waits for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.event: Optional[Event] = None

    def set(self, event: Event) -> None:
        self.event = event
        self.done.set()


# ---- the registry and the trampolines -----------------------------------------

_registry_lock = threading.Lock()
_registry: Dict[int, "weakref.ReferenceType[_Inbox]"] = {}
_inbox_ids = itertools.count(1)


def _inbox(user_data: Optional[int]) -> Optional[_Inbox]:
    if user_data is None:
        return None
    with _registry_lock:
        reference = _registry.get(user_data)
    return reference() if reference is not None else None


def _event_trampoline(channel: str) -> Any:
    def trampoline(user_data: Optional[int], topic: bytes, event_json: bytes) -> None:
        inbox = _inbox(user_data)
        if inbox is None or inbox.gate.closing:
            return  # the agent is being closed: no callback starts any more
        inbox.gate.callback_started()
        try:
            inbox.deliver(Event(channel, topic.decode("utf-8"), event_json.decode("utf-8")))
        except BaseException as error:  # noqa: BLE001 - never into ctypes
            inbox.keep(error)
        finally:
            inbox.gate.callback_ended()

    return _raw.EVENT_FN(trampoline)


def _log_trampoline(user_data: Optional[int], level: int, message: bytes) -> None:
    inbox = _inbox(user_data)
    if inbox is None or inbox.gate.closing:
        return
    inbox.gate.callback_started()
    try:
        inbox.log(LogRecord(level, _hint(message.decode("utf-8", "replace"))))
    except BaseException as error:  # noqa: BLE001 - never into ctypes
        inbox.keep(error)
    finally:
        inbox.gate.callback_ended()


# Module-level, alive for as long as the module: the library may call them
# until zma_agent_free returns.
_TRAMPOLINES = {
    RESPONSE: _event_trampoline(RESPONSE),
    NOTIFICATION: _event_trampoline(NOTIFICATION),
    PUBLISH: _event_trampoline(PUBLISH),
}
_LOG_TRAMPOLINE = _raw.LOG_FN(_log_trampoline)


class _Release:
    """Frees one agent, for its :class:`Gate` (references nothing of the
    Agent, so the finalizer may hold it)."""

    def __init__(self, inbox_id: int) -> None:
        self.inbox_id = inbox_id

    def __call__(self, pointer: int) -> None:
        _raw.library().zma_agent_free(pointer)
        with _registry_lock:
            _registry.pop(self.inbox_id, None)


def _option_value(value: Any) -> Any:
    """Options JSON for what ``json`` cannot write itself: paths."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"an option value cannot be a {type(value).__name__}")


def _create(lib: Any, options_json: bytes) -> int:
    """A new agent (``zma_agent_create``), as its pointer; a failure raises
    the exception of its status code with the library's message."""
    created = _raw.AgentPointer()
    status = lib.zma_agent_create(options_json, ctypes.byref(created))
    check(status)
    if not created.value:  # ZMA_OK always comes with an agent
        raise AgentError("zma_agent_create returned ZMA_OK without an agent")
    return created.value


class Agent:
    """One agent of Zeek's cluster management framework.

    ``Agent(**options)`` takes the options of docs/options.md as keyword arguments
    (``name``, ``dialect``, ``encoding``, ``mode``, ``state_dir``,
    ``supervisor={...}``, ...); a refused option (or options that are not
    JSON) raises :class:`~zeek_mgmt_agent.errors.OptionsError` naming the
    key, a state directory that cannot be created or that another agent
    holds :class:`~zeek_mgmt_agent.errors.AgentIOError`: the exception of
    the status code ``zma_agent_create`` returned, with its message.

    Events the agent sends go to the callable registered for their channel
    (:attr:`on_response`, :attr:`on_notification`, :attr:`on_publish`), or,
    when none is, to a queue that :meth:`events` iterates. Log records go to
    :attr:`on_log`, by default to the ``zeek_mgmt_agent`` logger.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, **options: Any) -> None:
        lib = _raw.library()
        text = json.dumps(options, default=_option_value)
        pointer = _create(lib, text.encode("utf-8"))
        self._lib = lib
        self._id = next(_inbox_ids)
        self._gate = Gate(pointer, _Release(self._id))
        self._inbox = _Inbox(self._gate)
        with _registry_lock:
            _registry[self._id] = weakref.ref(self._inbox)
        self._finalizer = weakref.finalize(self, self._gate.close, _FINALIZE_WAIT_S)
        self._started = time.monotonic()
        user_data = ctypes.c_void_p(self._id)
        for channel, setter in (
            (RESPONSE, lib.zma_agent_set_response_callback),
            (NOTIFICATION, lib.zma_agent_set_notification_callback),
            (PUBLISH, lib.zma_agent_set_publish_callback),
        ):
            check(setter(pointer, _TRAMPOLINES[channel], user_data))
        check(lib.zma_agent_set_log_callback(pointer, _LOG_TRAMPOLINE, user_data))
        self._name: str = self.state()["name"]
        prefix = options.get("topic_prefix") or "zeek/management/agent"
        self._topic = f"{prefix}/{self._name}"
        self._polled: bool = lib.zma_agent_fd(pointer) >= 0

    # ---- lifetime -------------------------------------------------------------

    def close(self) -> None:
        """Frees the agent: stops its thread and (unless ``stop_nodes_on_free``
        is false) every node it runs. Raises a callback exception still kept.

        Safe to call from any thread, while other threads use the agent, and
        any number of times: from the moment it is called, every new call
        raises :class:`~zeek_mgmt_agent.errors.ClosedError` and no callback
        starts; it waits for the calls other threads have in flight, frees
        the agent, and returns (concurrent close() calls all return once it
        is freed). From inside a callback, or from a thread that is in a call
        on this agent, it does not wait: it frees the agent at once if no
        other thread is in a call, else the last of those calls frees it as
        it returns.
        """
        self._gate.refuse()
        # Threads waiting for an answer raise ClosedError now, not once the
        # free is done. A request that registers its waiter after this finds
        # its call refused.
        with self._inbox.lock:
            waiters = list(self._inbox.waiters.values())
            self._inbox.waiters.clear()
        for waiter in waiters:
            waiter.done.set()  # no event: the waiting thread raises ClosedError
        self._gate.close()
        self._finalizer.detach()
        self._raise_kept()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._gate.closing

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # The last resort: the finalizer frees it anyway; this only makes it
        # happen as soon as the agent is unreachable.
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()

    def _raise_kept(self) -> None:
        error = self._inbox.take_error()
        if error is not None:
            raise error

    def _call(self, status: int) -> None:
        """Raises for a failed call, else for a kept callback exception."""
        check(status)
        self._raise_kept()

    # ---- properties ---------------------------------------------------------------

    @property
    def name(self) -> str:
        """The agent's instance name."""
        return self._name

    @property
    def topic(self) -> str:
        """The Broker topic the agent listens on (``<topic_prefix>/<name>``)."""
        return self._topic

    @property
    def polled(self) -> bool:
        """Whether the agent runs in polled mode (else threaded)."""
        return self._polled

    @property
    def on_response(self) -> Optional[EventCallback]:
        """Called with every ``*_response`` event (else they are queued)."""
        return self._inbox.callbacks[RESPONSE]

    @on_response.setter
    def on_response(self, callback: Optional[EventCallback]) -> None:
        self._inbox.callbacks[RESPONSE] = callback

    @property
    def on_notification(self) -> Optional[EventCallback]:
        """Called with every ``notify_*`` event for the controller (else queued)."""
        return self._inbox.callbacks[NOTIFICATION]

    @on_notification.setter
    def on_notification(self, callback: Optional[EventCallback]) -> None:
        self._inbox.callbacks[NOTIFICATION] = callback

    @property
    def on_publish(self) -> Optional[EventCallback]:
        """Called with everything else the agent sends (else queued)."""
        return self._inbox.callbacks[PUBLISH]

    @on_publish.setter
    def on_publish(self, callback: Optional[EventCallback]) -> None:
        self._inbox.callbacks[PUBLISH] = callback

    @property
    def on_log(self) -> Optional[LogCallback]:
        """Called with every log record (default: the ``zeek_mgmt_agent`` logger)."""
        return self._inbox.on_log

    @on_log.setter
    def on_log(self, callback: Optional[LogCallback]) -> None:
        self._inbox.on_log = callback

    # ---- events in and out -------------------------------------------------------

    def handle(self, event: Inbound) -> None:
        """Hands the agent one inbound event: JSON text (str or bytes) in either
        encoding, a JSON object (dict), or a zeek-client event or Broker
        message (when zeek-client is installed).

        Raises :class:`~zeek_mgmt_agent.errors.EventError`,
        :class:`~zeek_mgmt_agent.errors.JsonError`, ... with the library's
        message; nothing changed then.
        """
        with self._gate as pointer:
            status = self._lib.zma_agent_handle_request(pointer, self._encode(event))
        self._call(status)

    def _encode(self, event: Inbound) -> bytes:
        if isinstance(event, bytes):
            data = event
        elif isinstance(event, str):
            data = event.encode("utf-8", "surrogatepass")
        elif isinstance(event, Mapping):
            data = json.dumps(event).encode("utf-8")
        else:
            data = _zeek_client_message(event, self._topic).encode("utf-8")
        nul = data.find(b"\0")
        if nul >= 0:
            # A C string would end there; JSON text never holds a raw NUL.
            raise JsonError(f"the event contains a NUL byte at offset {nul}; JSON text cannot", _raw.ZMA_ERR_JSON)
        return data

    def events(self, timeout: Optional[float] = 0.0) -> Iterator[Event]:
        """Iterates the queued events (those no callback took), in order.

        Stops once no event arrives for ``timeout`` seconds (0: stops when
        the queue is empty; None: waits forever). Thread-safe.
        """
        while True:
            try:
                if timeout == 0.0:
                    event = self._inbox.queue.get_nowait()
                else:
                    event = self._inbox.queue.get(timeout=timeout)
            except queue.Empty:
                self._raise_kept()
                return
            yield event

    # ---- polled mode ---------------------------------------------------------------

    def now_ms(self) -> int:
        """Milliseconds since the agent was created (the clock :meth:`poll`
        uses when given no time)."""
        return int((time.monotonic() - self._started) * 1000)

    def poll(self, now_ms: Optional[int] = None) -> None:
        """Polled mode: advances timers to ``now_ms`` (default :meth:`now_ms`)
        and collects node exits and output."""
        with self._gate as pointer:
            now = self.now_ms() if now_ms is None else now_ms
            if not 0 <= now < 1 << 64:
                raise ValueError(f"now_ms must be between 0 and 2**64 - 1, not {now}")
            status = self._lib.zma_agent_poll(pointer, now)
        self._call(status)

    @property
    def next_timeout_ms(self) -> Optional[int]:
        """Polled mode: when the next deadline is (in :meth:`poll`'s clock), or None."""
        with self._gate as pointer:
            value = self._lib.zma_agent_next_timeout_ms(pointer)
        return None if value < 0 else int(value)

    def fileno(self) -> int:
        """Polled mode: a descriptor readable when :meth:`poll` has work, for
        ``selectors`` and ``asyncio`` (``loop.add_reader``)."""
        with self._gate as pointer:
            fd = int(self._lib.zma_agent_fd(pointer))
        if fd < 0:
            raise StateError("a threaded agent has no descriptor (fileno is for polled mode)")
        return fd

    # ---- diagnostics -----------------------------------------------------------------

    def state(self) -> Dict[str, Any]:
        """A snapshot of the agent: name, dialect, config_id, nodes, pending requests."""
        out = ctypes.c_void_p()
        with self._gate as pointer:
            status = self._lib.zma_agent_state_json(pointer, ctypes.byref(out))
        check(status)
        value: Dict[str, Any] = json.loads(_raw.take_string(out))
        return value

    # ---- convenience: requests that wait for their answer ----------------------------

    def request(self, event: Inbound, reqid: str, timeout: Optional[float] = None) -> Event:
        """Hands over a request and waits for the response carrying ``reqid``
        (it does not go to callbacks or the queue). In polled mode this
        drives :meth:`poll` on the real clock while it waits."""
        waiter = _Waiter()
        with self._inbox.lock:
            if reqid in self._inbox.waiters:
                raise StateError(f"request id '{reqid}' is already awaited")
            self._inbox.waiters[reqid] = waiter
        try:
            if self._polled:
                self.poll()  # the request's deadline counts from now
            self.handle(event)
            self._wait(waiter, _DEFAULT_WAIT_S if timeout is None else timeout)
        finally:
            with self._inbox.lock:
                self._inbox.waiters.pop(reqid, None)
        if waiter.event is None:
            raise ClosedError("the agent was closed while waiting for an answer")
        return waiter.event

    def _wait(self, waiter: _Waiter, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self._polled:
            if not waiter.done.wait(timeout):
                raise TimeoutError(f"no answer within {timeout} s")
            self._raise_kept()
            return
        with selectors.DefaultSelector() as selector:
            selector.register(self.fileno(), selectors.EVENT_READ)
            while not waiter.done.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer within {timeout} s")
                # Short waits: another thread may close the agent meanwhile.
                wake = min(left, _CLOSE_CHECK_S)
                next_ms = self.next_timeout_ms
                if next_ms is not None:
                    wake = min(wake, max(0.0, (next_ms - self.now_ms()) / 1000))
                selector.select(wake)
                if waiter.done.is_set():
                    break
                self.poll()

    def deploy(self, config: ConfigSource, *, force: bool = False, timeout: Optional[float] = None) -> List[Result]:
        """Deploys a configuration and returns the results, one per node (or
        one failure for the whole deploy).

        ``config`` is a JSON object (``{"id": ..., "instances": [...],
        "nodes": [...]}``), a path to a JSON file, a path to a zeek-client
        INI file (``cluster.cfg``, read with zeek-client's own parser), or a
        zeek-client ``Configuration``.
        """
        reqid = f"py-deploy-{next(_request_ids)}"
        event: Inbound
        loaded = _load_config(config)
        if isinstance(loaded, Mapping):
            event = {"event": "deploy_request", "args": {"reqid": reqid, "config": dict(loaded), "force": force}}
        else:
            event = _zeek_client_deploy(loaded, reqid, force, self._topic)
        response = self.request(event, reqid, timeout)
        return _results(response)

    def get_nodes(self, *, timeout: Optional[float] = None) -> List[NodeStatus]:
        """The nodes of this instance as ``get_nodes_request`` reports them."""
        reqid = f"py-get-nodes-{next(_request_ids)}"
        response = self.request({"event": "get_nodes_request", "args": {"reqid": reqid}}, reqid, timeout)
        results = _results(response)
        if not results or not results[0].success:
            error = results[0].error if results else "no result"
            raise AgentError(f"get_nodes failed: {error}")
        data = results[0].data
        if response.is_broker:
            return [_broker.node_status(item) for item in (data or {}).get("data", [])]
        return [NodeStatus.from_plain(item) for item in data or []]

    def standby(self, *, timeout: Optional[float] = None) -> Result:
        """Stops every node of the instance and forgets the configuration."""
        reqid = f"py-standby-{next(_request_ids)}"
        response = self.request({"event": "agent_standby_request", "args": {"reqid": reqid}}, reqid, timeout)
        results = _results(response)
        if not results:
            raise AgentError("agent_standby_response carried no result")
        return results[0]


# ---- configurations and zeek-client --------------------------------------------------


def _load_config(config: ConfigSource) -> Any:
    """A JSON object, or a zeek-client Configuration."""
    if isinstance(config, Mapping):
        return config
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json" or text.lstrip().startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise EventError(f"{path}: not JSON: {error}") from error
            if not isinstance(value, dict):
                raise EventError(f"{path}: a configuration is a JSON object")
            return value
        return _read_ini(path, text)
    if hasattr(config, "to_brokertype"):
        return config
    raise TypeError(f"a configuration is a dict, a file path or a zeek-client Configuration, not {type(config).__name__}")


def _zeek_client() -> Any:
    try:
        import zeekclient  # noqa: F401
        from zeekclient import brokertypes, types
    except ImportError as error:
        raise ImportError(
            "this needs zeek-client: pip install zeek-client==1.5.0"
        ) from error
    return brokertypes, types


def _read_ini(path: Path, text: str) -> Any:
    import configparser

    _, zt = _zeek_client()
    parser = configparser.ConfigParser(allow_no_value=True)
    parser.read_string(text, source=str(path))
    config = zt.Configuration.from_config_parser(parser)
    if config is None:
        raise EventError(f"{path}: zeek-client refused the configuration (its log says why)")
    return config


def _zeek_client_message(event: Any, topic: str) -> str:
    bt, _ = _zeek_client()
    if isinstance(event, bt.DataMessage):
        text: str = event.serialize()
        return text
    if isinstance(event, bt.ZeekEvent):
        text = bt.DataMessage(topic, event).serialize()
        return text
    if hasattr(event, "to_brokertype"):
        data = event.to_brokertype()
        if isinstance(data, bt.ZeekEvent):
            text = bt.DataMessage(topic, data).serialize()
            return text
    raise TypeError(
        f"handle() takes JSON text, a dict, or a zeek-client event or Broker message, not {type(event).__name__}"
    )


def _zeek_client_deploy(config: Any, reqid: str, force: bool, topic: str) -> str:
    bt, _ = _zeek_client()
    event = bt.ZeekEvent(
        "Management::Agent::API::deploy_request", bt.String(reqid), config.to_brokertype(), bt.Boolean(force)
    )
    text: str = bt.DataMessage(topic, event).serialize()
    return text


def _results(response: Event) -> List[Result]:
    """The Result records of a response, in either encoding and any dialect
    (``results`` or ``result``, a vector or one record)."""
    if response.is_broker:
        arguments = response.args
        if len(arguments) < 2:
            return []
        carried = arguments[1]
        if _broker.is_record_vector(carried):
            return [_hinted(_broker.result(item)) for item in carried.get("data", [])]
        return [_hinted(_broker.result(carried))]
    args = response.args
    value = args.get("results", args.get("result"))
    items = value if isinstance(value, list) else [value]
    return [_hinted(Result.from_plain(item)) for item in items if isinstance(item, dict)]


def _hinted(result: Result) -> Result:
    if result.error is None or _NOT_FOUND not in result.error:
        return result
    return dataclasses.replace(result, error=_hint(result.error))

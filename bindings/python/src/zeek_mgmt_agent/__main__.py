"""``python -m zeek_mgmt_agent``: an agent speaking JSON lines on stdin/stdout.

One inbound event per line on stdin (either encoding, as the agent takes
them); one line per event out on stdout::

    {"channel": "response", "topic": "zeek/management/agent/instance-1", "event": {...}}

A line the agent refuses gets an error line, and the agent carries on::

    {"error": {"type": "EventError", "status": -4, "message": "...", "line": 3}}

Log records go to stderr. The agent runs in polled mode with the built-in
process supervisor unless ``--options`` says otherwise. At end of input the
host still answers every request it handed over (each gets its response, or
its timeout response at the request's deadline: ``request_timeout_ms``), then
closes the agent, which stops every node it started, and exits 0. SIGTERM
and SIGINT close it at once. So a shell script, or a program in any
language, can host the agent with no FFI::

    echo '{"event": "get_nodes_request", "args": {"reqid": "g1"}}' | python -m zeek_mgmt_agent
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import signal
import sys
import sysconfig
from typing import Any, BinaryIO, Dict, List, Optional

from . import Agent, AgentError, Event, LogRecord

#: A line longer than this is refused without being kept (the library's own
#: default max_event_bytes).
MAX_LINE_BYTES = 64 * 1024 * 1024

_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error"}


def _program(name: str) -> str:
    """A program name without a directory, as the library would find it on
    PATH, else in this Python's scripts directory (where ``pip install``
    put ``zma-standin-node`` when the venv is not activated)."""
    if os.sep in name:
        return name
    return shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts")) or name


def _options(args: argparse.Namespace) -> Dict[str, Any]:
    options: Dict[str, Any] = {}
    if args.options:
        text = args.options
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise SystemExit("--options: a JSON object")
        options.update(loaded)
    options.setdefault("mode", "polled")
    for key in ("name", "dialect", "encoding", "state_dir", "node_ready"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    if args.zeek is not None:
        supervisor = dict(options.get("supervisor") or {"kind": "process"})
        supervisor["zeek"] = _program(args.zeek)
        options["supervisor"] = supervisor
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeek-mgmt-agent",
        description=(
            "Run a zeek-mgmt-agent that reads events as JSON lines on stdin and writes them on stdout; "
            "at end of input it answers the pending requests, stops its nodes and exits."
        ),
    )
    parser.add_argument("--options", help="agent options as a JSON object, or @file with one (the flags below win)")
    parser.add_argument("--name", help="the instance name (default: $ZEEK_AGENT_NAME, else agent-<hostname>)")
    parser.add_argument(
        "--dialect", choices=["seed", "zeek5", "zeek6", "zeek7"], help="Zeek's event layouts (default: seed)"
    )
    parser.add_argument(
        "--encoding",
        choices=["auto", "broker", "plain"],
        help="of the events out (default: auto: a response in its request's encoding)",
    )
    parser.add_argument(
        "--state-dir",
        dest="state_dir",
        help="where node directories live (default: $ZEEK_MANAGEMENT_STATE_DIR, else ./zeek-agent-state)",
    )
    parser.add_argument(
        "--zeek",
        help="the program each node runs (default: zeek on PATH; without Zeek: zma-standin-node, see the README)",
    )
    parser.add_argument(
        "--node-ready",
        dest="node_ready",
        choices=["hello", "spawn"],
        help="a node is RUNNING once it says hello over Broker (default), or once spawned (so for zma-standin-node)",
    )
    return parser


class _Host:
    """The loop: stdin lines in, events out, the agent's descriptor and timers."""

    def __init__(self, agent: Agent, out: BinaryIO) -> None:
        self.agent = agent
        self.out = out
        self.buffer = b""
        self.discarding = False
        self.line_number = 0
        agent.on_response = self.emit
        agent.on_notification = self.emit
        agent.on_publish = self.emit
        agent.on_log = self.log

    def write(self, value: Dict[str, Any]) -> None:
        self.out.write(json.dumps(value).encode("utf-8") + b"\n")
        self.out.flush()

    def emit(self, event: Event) -> None:
        self.write({"channel": event.channel, "topic": event.topic, "event": event.data})

    @staticmethod
    def log(record: LogRecord) -> None:
        level = _LEVELS.get(record.level, str(record.level))
        sys.stderr.write(f"zeek-mgmt-agent: {level}: {record.message}\n")
        sys.stderr.flush()

    def error(self, kind: str, status: int, message: str) -> None:
        self.write({"error": {"type": kind, "status": status, "message": message, "line": self.line_number}})

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE_BYTES:
                    if not self.discarding:
                        self.line_number += 1
                        self.error("LimitError", -9, f"line longer than {MAX_LINE_BYTES} bytes")
                    self.discarding = True
                    self.buffer = b""
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 1 :]
            if self.discarding:
                self.discarding = False  # the end of the refused line
                continue
            self.line_number += 1
            self.handle(line)

    def handle(self, line: bytes) -> None:
        if not line.strip():
            return
        self.agent.poll()
        try:
            self.agent.handle(line)
        except AgentError as error:
            self.error(type(error).__name__, error.status, error.message)

    def wait_s(self) -> Optional[float]:
        """Seconds until the agent's next deadline (None: no deadline)."""
        next_ms = self.agent.next_timeout_ms
        if next_ms is None:
            return None
        return max(0.0, (next_ms - self.agent.now_ms()) / 1000)

    def pending(self) -> int:
        """How many requests still wait for their response."""
        return len(self.agent.state()["pending_requests"])

    def run(self, stdin: int) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(stdin, selectors.EVENT_READ, "stdin")
            selector.register(self.agent.fileno(), selectors.EVENT_READ, "agent")
            reading = True
            while reading:
                for key, _ in selector.select(self.wait_s()):
                    if key.data == "stdin":
                        chunk = os.read(stdin, 1 << 16)
                        if not chunk:
                            if self.buffer and not self.discarding:
                                self.line_number += 1
                                self.handle(self.buffer)
                            reading = False
                            break
                        self.feed(chunk)
                self.agent.poll()
            # End of input: every request handed over gets its answer - a
            # response, or the agent's timeout response at its deadline.
            selector.unregister(stdin)
            while self.pending():
                wait = self.wait_s()
                selector.select(1.0 if wait is None else wait)
                self.agent.poll()


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the JSON-lines agent until end of input; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        options = _options(args)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"zeek-mgmt-agent: --options: {error}\n")
        return 2
    try:
        agent = Agent(**options)
    except AgentError as error:
        sys.stderr.write(f"zeek-mgmt-agent: {error.message}\n")
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    with agent:
        if not agent.polled:
            sys.stderr.write("zeek-mgmt-agent: the JSON-lines host runs the agent in polled mode\n")
            return 2
        _Host(agent, sys.stdout.buffer).run(sys.stdin.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())

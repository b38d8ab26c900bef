"""``python -m zeek_mgmt_agent``: JSON lines in on stdin, events and error
lines out on stdout, logs on stderr; end of input or SIGTERM stops every
node."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional

import pytest

from conftest import AGENT_API, AGENT_TOPIC, INSTANCE, TIMED_OUT, alive, request, standin, two_nodes


def cli_command(state_dir: Path, *extra: str) -> List[str]:
    return [
        sys.executable, "-m", "zeek_mgmt_agent",
        "--name", INSTANCE, "--dialect", "zeek7", "--encoding", "plain",
        "--state-dir", str(state_dir), "--zeek", standin(), "--node-ready", "spawn",
        *extra,
    ]  # fmt: skip


class Cli:
    """The CLI as a child process; a thread reads its stdout lines into a queue."""

    def __init__(self, command: List[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("w")
        # The environment passes through: PYTHONPATH / ZEEK_MGMT_AGENT_LIB as inherited.
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=dict(os.environ)
        )
        self.lines: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def read_until(self, match: Callable[[Dict[str, Any]], bool], timeout: float = 10.0) -> List[Dict[str, Any]]:
        """Lines up to and including the first that matches; fails after ``timeout``."""
        seen: List[Dict[str, Any]] = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no matching line within {timeout} s; read {seen}; stderr: {self.stderr()}")
            if line is None:
                pytest.fail(f"stdout closed; read {seen}; stderr: {self.stderr()}")
            seen.append(line)
            if match(line):
                return seen

    def response(self, reqid: str) -> Dict[str, Any]:
        """Reads until the response to ``reqid``; returns its event."""
        lines = self.read_until(lambda l: l.get("channel") == "response" and l["event"]["args"].get("reqid") == reqid)
        event: Dict[str, Any] = lines[-1]["event"]
        return event

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text()

    def finish(self, timeout: float = 20.0) -> int:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        code = self.process.wait(timeout)
        self._reader.join(5)
        self._stderr.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    started: List[Cli] = []

    def start(*extra: str) -> Cli:
        session = Cli(cli_command(tmp_path / "state", *extra), tmp_path / f"stderr-{len(started)}")
        started.append(session)
        return session

    yield start
    for session in started:
        session.kill()


def test_a_cli_session_deploys_reports_errors_and_cleans_up(cli: Callable[..., Cli]) -> None:
    session = cli()
    session.send(json.dumps(request("deploy_request", "d1", config=two_nodes("c1"))))  # line 1
    lines = session.read_until(lambda l: l.get("channel") == "response")
    deployed = lines[-1]
    assert deployed["topic"] == AGENT_TOPIC
    assert deployed["event"]["event"] == AGENT_API + "deploy_response"
    results = deployed["event"]["args"]["results"]
    assert sorted((r["node"], r["success"]) for r in results) == [("manager", True), ("w1", True)]
    assert any(l["event"]["event"] == AGENT_API + "notify_change" for l in lines[:-1]), lines

    session.send("")  # line 2: blank, skipped but counted
    session.send("this is not JSON")  # line 3
    [error] = session.read_until(lambda l: "error" in l)
    assert error["error"]["type"] == "JsonError"
    assert (error["error"]["status"], error["error"]["line"]) == (-3, 3)
    assert error["error"]["message"].startswith("event is not JSON")

    session.send(json.dumps({"event": "nope", "args": {}}))  # line 4
    [error] = session.read_until(lambda l: "error" in l)
    assert error["error"] == {"type": "EventError", "status": -4, "message": "unknown event 'nope'", "line": 4}

    session.send(json.dumps(request("get_nodes_request", "g1")))  # line 5
    nodes = session.response("g1")
    statuses = {s["node"]: s for s in nodes["args"]["result"]["data"]}
    assert sorted(statuses) == ["manager", "w1"]
    assert {s["state"] for s in statuses.values()} == {"Management::RUNNING"}
    pids = [s["pid"] for s in statuses.values()]
    assert all(alive(pid) for pid in pids)

    assert session.finish() == 0
    assert [pid for pid in pids if alive(pid)] == []
    assert f"zeek-mgmt-agent: info: rx {AGENT_API}deploy_request d1" in session.stderr()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_cli_and_its_nodes(cli: Callable[..., Cli], signum: int) -> None:
    session = cli()
    session.send(json.dumps(request("deploy_request", "d1", config=two_nodes("c1"))))
    session.response("d1")
    session.send(json.dumps(request("get_nodes_request", "g1")))
    pids = [s["pid"] for s in session.response("g1")["args"]["result"]["data"]]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    session.process.send_signal(signum)
    assert session.process.wait(20) == 128 + signum
    assert [pid for pid in pids if alive(pid)] == []


def run_cli(tmp_path: Path, *extra: str, stdin: bytes = b"") -> "subprocess.CompletedProcess[bytes]":
    return subprocess.run(
        cli_command(tmp_path / "state", *extra), input=stdin, capture_output=True, env=dict(os.environ), timeout=30
    )


def test_a_last_line_without_a_newline_is_handled_at_end_of_input(tmp_path: Path) -> None:
    welcome = json.dumps(request("agent_welcome_request", "w1")).encode()
    done = run_cli(tmp_path, stdin=welcome)
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(l) for l in done.stdout.splitlines()]
    assert line["channel"] == "response" and line["topic"] == AGENT_TOPIC
    assert line["event"] == {
        "event": AGENT_API + "agent_welcome_response",
        "args": {"reqid": "w1", "result": {"reqid": "w1", "success": True, "instance": INSTANCE}},
    }


def test_options_from_a_file_are_used(tmp_path: Path) -> None:
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"topic_prefix": "site/agents", "request_timeout_ms": 1000}))
    welcome = json.dumps(request("agent_welcome_request", "w1")).encode() + b"\n"
    done = run_cli(tmp_path, "--options", f"@{options}", stdin=welcome)
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(l) for l in done.stdout.splitlines()]
    assert line["topic"] == f"site/agents/{INSTANCE}"


def test_a_refused_option_exits_2_naming_it(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--options", '{"bogus": 1}')
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"zeek-mgmt-agent: option 'bogus': unknown option" in done.stderr


def test_options_that_are_not_json_exit_2(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--options", "{nope")
    assert done.returncode == 2
    assert done.stderr.startswith(b"zeek-mgmt-agent: --options: ")


def test_threaded_mode_is_refused_by_the_cli(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--options", '{"mode": "threaded"}')
    assert done.returncode == 2
    assert b"the JSON-lines host runs the agent in polled mode" in done.stderr


def test_lines_arriving_together_are_handled_in_order(tmp_path: Path) -> None:
    lines = [
        json.dumps(request("agent_welcome_request", "w1")),
        "",
        '{"event": "agent_welcome_request", "args": {}}',
        json.dumps(request("agent_welcome_request", "w2")),
    ]
    done = run_cli(tmp_path, stdin="\n".join(lines).encode() + b"\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(l) for l in done.stdout.splitlines()]
    assert [l["event"]["args"]["reqid"] if "event" in l else l["error"]["line"] for l in out] == ["w1", 3, "w2"]
    assert out[1]["error"] == {
        "type": "EventError",
        "status": -4,
        "message": "agent_welcome_request: missing argument 'reqid'",
        "line": 3,
    }


def processes_under(directory: Path) -> List[int]:
    """Live processes whose working directory is in ``directory`` (the nodes
    an agent with that state_dir started run in its node directories)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (cwd == str(directory) or cwd.startswith(f"{directory}/")) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_end_of_input_answers_a_deploy_then_stops_its_nodes(tmp_path: Path) -> None:
    # `echo '<deploy_request>' | zeek-mgmt-agent ...`: stdin ends before the
    # nodes are up; the deploy_response must still be printed.
    deploy = json.dumps(request("deploy_request", "d1", config=two_nodes("c1"))).encode() + b"\n"
    # The console script pip installed (beside this python, as in a venv).
    script = Path(sysconfig.get_path("scripts")) / "zeek-mgmt-agent"
    assert script.is_file(), f"{script}: the package is not installed (pip install ./bindings/python)"
    command = [str(script), *cli_command(tmp_path / "state")[3:]]
    done = subprocess.run(command, input=deploy, capture_output=True, env=dict(os.environ), timeout=30)
    assert done.returncode == 0, done.stderr
    out = [json.loads(l) for l in done.stdout.splitlines()]
    [deployed] = [l for l in out if l.get("channel") == "response"]
    assert deployed["event"]["event"] == AGENT_API + "deploy_response"
    results = deployed["event"]["args"]["results"]
    assert sorted((r["node"], r["success"]) for r in results) == [("manager", True), ("w1", True)]
    assert (tmp_path / "state" / "nodes" / "manager").is_dir(), "the nodes ran"
    assert processes_under(tmp_path / "state") == []


def test_end_of_input_waits_for_a_request_to_time_out(tmp_path: Path) -> None:
    # With a host-delegated Supervisor nobody answers: the response is the
    # agent's timeout, printed at the request's deadline, and then the exit.
    options = json.dumps({"supervisor": {"kind": "host"}, "request_timeout_ms": 1500})
    command = [
        sys.executable, "-m", "zeek_mgmt_agent", "--name", INSTANCE, "--dialect", "zeek7",
        "--encoding", "plain", "--state-dir", str(tmp_path / "state"), "--options", options,
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command,
        input=json.dumps(request("get_nodes_request", "g1")).encode() + b"\n",
        capture_output=True,
        env=dict(os.environ),
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    out = [json.loads(l) for l in done.stdout.splitlines()]
    [answer] = [l for l in out if l.get("channel") == "response"]
    assert answer["event"]["args"]["result"] == {
        "reqid": "g1",
        "success": False,
        "instance": INSTANCE,
        "error": TIMED_OUT,
    }
    assert elapsed >= 1.5

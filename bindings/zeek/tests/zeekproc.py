"""Process and port helpers shared by the real-Zeek tests and the
side-by-side benchmark (bench/bench.py): finding Zeek and zeek-client,
free loopback ports, and reading /proc."""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent.parent


def find_zeek_bin():
    config = shutil.which("zeek-config")
    if config:
        out = subprocess.run([config, "--prefix"], capture_output=True, text=True, timeout=10)
        prefix = out.stdout.strip()
        if prefix and Path(prefix, "bin", "zeek").exists():
            return Path(prefix, "bin")
    if Path("/opt/zeek/bin/zeek").exists():
        return Path("/opt/zeek/bin")
    return None


def find_zeek_client():
    venv = REPO / ".venv" / "bin" / "zeek-client"
    if venv.exists():
        return str(venv)
    return shutil.which("zeek-client")


_taken = set()


def free_port():
    """A free loopback port, never the same twice in one run."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _taken:
            _taken.add(port)
            return port


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def proc_table():
    """{pid: (ppid, state)} of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid):
    """Every process below pid (by /proc ppid links)."""
    children = {}
    for child, (ppid, _) in proc_table().items():
        children.setdefault(ppid, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(what, fn, timeout, interval=0.5, error=AssertionError):
    """fn() until it returns something true (returned), at most `timeout`
    seconds; then raises `error` naming what was awaited and fn's last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise error(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def stop_sessions(procs, pids, grace=15):
    """Stops processes started each in a session of its own: SIGTERM to each
    process group, up to `grace` seconds for them to exit (Zeek's Supervisor
    stops its nodes when it exits), then SIGKILL to the groups and to every
    process of `pids` still alive."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    time.sleep(0.5)
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

"""The ZeekMgmt::Agent plugin against real Zeek: Zeek's controller, the
plugin's agent (`zeek -j ZeekMgmt/Agent`) and zeek-client.

Needs Zeek >= 8.0 with the plugin installed (./configure && make && make
install) and zeek-client 1.5.0 (on PATH, or in the repository's .venv).
Skips, with one line saying why, when any of them is missing.

Runs: get-instances; deploy-config of a logger, a manager and two workers;
get-nodes (every node RUNNING with a pid); get-id-value; teardown by
deploying an empty configuration; then checks that no process is left.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
SUPERVISOR_PORT = 9999  # Broker::default_port: where the agent's Supervisor listens

CLUSTER_INI = """\
[instances]
instance-1

[logger-01]
instance = instance-1
role = logger

[manager]
instance = instance-1
role = manager

[worker-01]
instance = instance-1
role = worker

[worker-02]
instance = instance-1
role = worker
"""

EMPTY_INI = "[instances]\ninstance-1\n"


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid):
    """Every process below pid (by /proc ppid links)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
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


class Cluster:
    def __init__(self, zeek_bin, client, tmp):
        self.zeek = str(zeek_bin / "zeek")
        self.client = client
        self.tmp = tmp
        self.procs = []
        self.pids = set()
        self.ctl_port = free_port()
        self.ws_port = free_port()
        self.agent_port = free_port()

    def start(self, name, script, env):
        wd = self.tmp / name
        for sub in ("state", "spool"):
            (wd / sub).mkdir(parents=True)
        env = dict(os.environ, **env,
                   ZEEK_MANAGEMENT_STATE_DIR=str(wd / "state"),
                   ZEEK_MANAGEMENT_SPOOL_DIR=str(wd / "spool"))
        proc = subprocess.Popen(
            [self.zeek, "-j", script], cwd=wd, env=env, stdin=subprocess.DEVNULL,
            stdout=open(wd / "stdout", "wb"), stderr=open(wd / "stderr", "wb"),
            start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_all(self):
        self.start("controller", "policy/frameworks/management/controller", {
            "ZEEK_CONTROLLER_ADDR": "127.0.0.1",
            "ZEEK_CONTROLLER_PORT": f"{self.ctl_port}/tcp",
            "ZEEK_CONTROLLER_WEBSOCKET_ADDR": "127.0.0.1",
            "ZEEK_CONTROLLER_WEBSOCKET_PORT": f"{self.ws_port}/tcp",
        })
        self.start("agent", "ZeekMgmt/Agent", {
            "ZEEK_AGENT_NAME": "instance-1",
            "ZEEK_AGENT_ADDR": "127.0.0.1",
            "ZEEK_AGENT_PORT": f"{self.agent_port}/tcp",
            "ZEEK_CONTROLLER_PORT": f"{self.ctl_port}/tcp",
        })

    def zc(self, *args, timeout=60):
        cmd = [self.client, "--set", "controller.host=127.0.0.1",
               "--set", f"controller.port={self.ws_port}", *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        self.note_pids()
        try:
            return out.returncode, json.loads(out.stdout) if out.stdout.strip() else None, out.stderr
        except json.JSONDecodeError:
            return out.returncode, out.stdout, out.stderr

    def note_pids(self):
        for p in self.procs:
            self.pids.add(p.pid)
            self.pids.update(descendants(p.pid))

    def stop(self):
        self.note_pids()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # Zeek's Supervisor stops its nodes when it exits; anything left
        # after the grace period is killed, group and stragglers.
        time.sleep(0.5)
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        for pid in self.pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def logs(self):
        text = []
        for f in sorted(self.tmp.rglob("*")):
            if f.is_file() and (f.name in ("stdout", "stderr") or f.name.startswith("management-")):
                text.append(f"== {f.relative_to(self.tmp)}\n{f.read_text(errors='replace')[-3000:]}")
        return "\n".join(text)


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@pytest.fixture
def cluster(tmp_path):
    zeek_bin = find_zeek_bin()
    if zeek_bin is None:
        pytest.skip("Zeek not found (no zeek-config on PATH, no /opt/zeek/bin/zeek)")
    check = subprocess.run([str(zeek_bin / "zeek"), "-N", "ZeekMgmt::Agent"],
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0 or "ZeekMgmt::Agent" not in check.stdout:
        pytest.skip("the ZeekMgmt::Agent plugin is not installed (bindings/zeek: ./configure && make && make install)")
    client = find_zeek_client()
    if client is None:
        pytest.skip("zeek-client not found (pip install zeek-client==1.5.0 into .venv)")
    if port_in_use(SUPERVISOR_PORT):
        pytest.skip(f"port {SUPERVISOR_PORT} (the agent Supervisor's Broker port) is in use")
    c = Cluster(zeek_bin, client, tmp_path)
    try:
        c.start_all()
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()
        left = [pid for pid in c.pids if alive(pid)]
        assert not left, f"processes left behind: {left}"


def test_deploy_inspect_teardown(cluster, tmp_path):
    def instances():
        rc, out, _ = cluster.zc("get-instances", timeout=20)
        return out if rc == 0 and isinstance(out, dict) and "instance-1" in out else None

    out = wait_for("the agent to register with the controller", instances, 60)
    assert out["instance-1"]["host"] == "127.0.0.1"

    ini = tmp_path / "cluster.ini"
    ini.write_text(CLUSTER_INI)
    rc, out, err = cluster.zc("deploy-config", str(ini), timeout=90)
    assert rc == 0, (out, err, cluster.logs())
    assert out["errors"] == []
    assert sorted(out["results"]["nodes"]) == ["logger-01", "manager", "worker-01", "worker-02"]
    assert all(n["success"] for n in out["results"]["nodes"].values()), out

    def all_running():
        rc, out, _ = cluster.zc("get-nodes", timeout=30)
        if rc != 0 or not isinstance(out, dict):
            return None
        nodes = out["results"].get("instance-1", {})
        cluster_nodes = {k: v for k, v in nodes.items() if v.get("cluster_role")}
        if sorted(cluster_nodes) != ["logger-01", "manager", "worker-01", "worker-02"]:
            return None
        if all(v["state"] == "RUNNING" and v.get("pid") for v in cluster_nodes.values()):
            return nodes
        return None

    nodes = wait_for("every node RUNNING", all_running, 60)
    assert nodes["instance-1"]["mgmt_role"] == "AGENT"
    roles = {k: v["cluster_role"] for k, v in nodes.items() if v.get("cluster_role")}
    assert roles == {"logger-01": "LOGGER", "manager": "MANAGER",
                     "worker-01": "WORKER", "worker-02": "WORKER"}
    node_pids = [v["pid"] for k, v in nodes.items() if v.get("cluster_role")]
    for pid in node_pids:
        assert alive(pid), f"node pid {pid} reported but not running"

    # A node dispatch: the agent fans out to the nodes and collects answers.
    rc, out, err = cluster.zc("get-id-value", "Cluster::node", timeout=60)
    assert rc == 0, (out, err)
    assert out["errors"] == [], out
    assert out["results"] == {n: n for n in ["logger-01", "manager", "worker-01", "worker-02"]}, out

    # Teardown: an empty configuration stops every node.
    empty = tmp_path / "empty.ini"
    empty.write_text(EMPTY_INI)
    rc, out, err = cluster.zc("deploy-config", str(empty), timeout=90)
    assert rc == 0 and out["errors"] == [], (out, err)
    wait_for("the nodes to exit", lambda: not any(alive(p) for p in node_pids), 30)

    def only_agent():
        rc, out, _ = cluster.zc("get-nodes", timeout=30)
        if rc != 0 or not isinstance(out, dict):
            return None
        nodes = out["results"].get("instance-1", {})
        return nodes if list(nodes) == ["instance-1"] else None

    wait_for("get-nodes to list only the agent", only_agent, 30)

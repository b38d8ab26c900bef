"""The ZeekMgmt::Agent plugin against real Zeek: Zeek's controller
(`zeek -j policy/frameworks/management/controller`), the plugin's agent
(`zeek -j ZeekMgmt/Agent`) and zeek-client, every answer checked.

Needs Zeek >= 8.0 with the plugin installed (./configure && make && make
install) and zeek-client 1.5.0 (on PATH, or in the repository's .venv).
Skips, with one line saying why, when any of them is missing.

The tests of one module-scoped cluster (a controller and the agent
instance-1) run in order, but each one is meaningful alone: a test that
needs the good configuration deployed deploys it first when it is not.

  get-instances; deploy-config of a logger, a manager and two workers and
  get-nodes (pids of zeek processes, ports, RUNNING); get-id-value
  Cluster::node; restart of a worker; a node that cannot start (its deploy
  fails with Zeek's stderr); redeploy of the good configuration; teardown
  with an empty configuration (every node gone when the answer arrives).

Then, each with its own controller: two agents under one controller with
one configuration spanning both; and the library's own process supervisor
(`ZeekMgmt::Agent::supervisor = "process"`) instead of Zeek's Supervisor.

Every port is a free loopback port (the agents' Supervisors too, through
`-e 'redef Broker::default_port = ...'`), every process started is killed
at the end, pass or fail, and the test checks that none is left. Answer
times (zeek-client's whole run) are printed with -s.
"""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent

GOOD_NODES = ["logger-01", "manager", "worker-01", "worker-02"]
ROLES = {"logger-01": "logger", "manager": "manager", "worker-01": "worker", "worker-02": "worker"}
MISSING_SCRIPT = "zma-test-no-such-script"

TIMINGS = {}

from zeekproc import (alive, descendants, find_zeek_bin, find_zeek_client,  # noqa: E402
                      free_port, listening, stop_sessions, wait_for)


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def note_time(what, seconds):
    TIMINGS[what] = seconds
    print(f"\nTIMING {what}: {seconds:.2f}s")


def config_ini(instances, nodes):
    """A zeek-client configuration: instances, and nodes as
    {name: {"instance": ..., "role": ..., "port": ..., ...}}."""
    lines = ["[instances]", *instances, ""]
    for name, keys in nodes.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {v}" for k, v in keys.items()]
        lines.append("")
    return "\n".join(lines)


def good_nodes(instance="instance-1"):
    """The logger, the manager and two workers, on fixed free ports (so
    that no auto-assigned port collides with anything else running)."""
    return {name: {"instance": instance, "role": ROLES[name],
                   "port": free_port(), "metrics_port": free_port()}
            for name in GOOD_NODES}


class Cluster:
    """A controller and agents, each `zeek -j` in its own session and
    scratch directory; everything started is remembered and killed."""

    def __init__(self, zeek_bin, client, tmp):
        self.zeek = str(zeek_bin / "zeek")
        self.client = client
        self.tmp = tmp
        self.procs = []
        self.pids = set()
        self.ctl_port = free_port()
        self.ws_port = free_port()
        self.agents = {}
        self.deployed = None  # the node table of the last successful deploy

    def start(self, name, script, env, extra=()):
        wd = self.tmp / name
        for sub in ("state", "spool"):
            (wd / sub).mkdir(parents=True)
        env = dict(os.environ, **env,
                   ZEEK_MANAGEMENT_STATE_DIR=str(wd / "state"),
                   ZEEK_MANAGEMENT_SPOOL_DIR=str(wd / "spool"))
        with open(wd / "stdout", "wb") as out, open(wd / "stderr", "wb") as err:
            proc = subprocess.Popen(
                [self.zeek, "-j", script, *extra], cwd=wd, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_controller(self):
        self.start("controller", "policy/frameworks/management/controller", {
            "ZEEK_CONTROLLER_ADDR": "127.0.0.1",
            "ZEEK_CONTROLLER_PORT": f"{self.ctl_port}/tcp",
            "ZEEK_CONTROLLER_WEBSOCKET_ADDR": "127.0.0.1",
            "ZEEK_CONTROLLER_WEBSOCKET_PORT": f"{self.ws_port}/tcp",
        })

    def start_agent(self, name, redefs=(), script="ZeekMgmt/Agent", env=None):
        port = free_port()
        # The agent's Supervisor listens on Broker::default_port; -e code
        # reaches the Supervisor and its supervised nodes alike.
        code = f"redef Broker::default_port = {free_port()}/tcp; " + " ".join(redefs)
        proc = self.start(name, script, {
            "ZEEK_AGENT_NAME": name,
            "ZEEK_AGENT_ADDR": "127.0.0.1",
            "ZEEK_AGENT_PORT": f"{port}/tcp",
            "ZEEK_CONTROLLER_PORT": f"{self.ctl_port}/tcp",
            **(env or {}),
        }, extra=("-e", code))
        self.agents[name] = proc

    def zc(self, *args, timeout=60):
        """zeek-client: (exit code, JSON output or text, stderr, seconds)."""
        cmd = [self.client, "--set", "controller.host=127.0.0.1",
               "--set", f"controller.port={self.ws_port}", *args]
        started = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        took = time.monotonic() - started
        self.note_pids()
        try:
            data = json.loads(out.stdout) if out.stdout.strip() else None
        except json.JSONDecodeError:
            data = out.stdout
        return out.returncode, data, out.stderr, took

    def deploy(self, text, name="cluster.ini", timeout=120):
        ini = self.tmp / name
        ini.write_text(text)
        return self.zc("deploy-config", str(ini), timeout=timeout)

    def get_nodes(self):
        rc, out, _, _ = self.zc("get-nodes", timeout=30)
        if rc != 0 or not isinstance(out, dict):
            return None
        return out["results"]

    def wait_instances(self, names, timeout=60):
        def instances():
            rc, out, _, _ = self.zc("get-instances", timeout=20)
            ok = rc == 0 and isinstance(out, dict) and all(n in out for n in names)
            return out if ok else None
        return wait_for(f"{', '.join(names)} registered with the controller", instances, timeout)

    def wait_running(self, expected, timeout=60):
        """get-nodes until each instance lists exactly its expected nodes
        ({instance: [names]}), every one RUNNING with a pid."""
        def running():
            results = self.get_nodes()
            if results is None:
                return None
            for instance, names in expected.items():
                nodes = {k: v for k, v in results.get(instance, {}).items() if v.get("cluster_role")}
                if sorted(nodes) != sorted(names):
                    return None
                if not all(v["state"] == "RUNNING" and v.get("pid") for v in nodes.values()):
                    return None
            return results
        return wait_for(f"nodes RUNNING: {expected}", running, timeout)

    def node_pids(self):
        """Pids of the nodes (zeek processes below the agents that are not
        the Supervisor, its stem or the agent node itself)."""
        results = self.get_nodes() or {}
        return {name: v["pid"] for nodes in results.values()
                for name, v in nodes.items() if v.get("cluster_role") and v.get("pid")}

    def note_pids(self):
        for p in self.procs:
            self.pids.add(p.pid)
            self.pids.update(descendants(p.pid))

    def stop(self):
        self.note_pids()
        stop_sessions(self.procs, self.pids)

    def logs(self):
        text = []
        for f in sorted(self.tmp.rglob("*")):
            if f.is_file() and (f.name in ("stdout", "stderr") or f.name.startswith("management-")):
                text.append(f"== {f.relative_to(self.tmp)}\n{f.read_text(errors='replace')[-3000:]}")
        return "\n".join(text)


@pytest.fixture(scope="module")
def tools():
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
    return zeek_bin, client


def running_cluster(tools, tmp, agents, redefs=()):
    """A generator for fixtures: a controller and the named agents, all
    registered; everything stopped, and checked gone, afterwards."""
    zeek_bin, client = tools
    c = Cluster(zeek_bin, client, tmp)
    failed = False
    try:
        c.start_controller()
        for name in agents:
            c.start_agent(name, redefs)
        c.wait_instances(agents)
        yield c
    except BaseException:
        failed = True
        raise
    finally:
        c.stop()
        left = [pid for pid in c.pids if alive(pid)]
        if failed or left:
            print(c.logs())
        assert not left, f"processes left behind: {left}"


@pytest.fixture(scope="module")
def cluster(tools, tmp_path_factory):
    # The agent's request timeout beyond the controller's (10 s): an answer
    # the agent gives only when a request times out never reaches the
    # client, so each answer checked below was given because its outcome
    # was known.
    yield from running_cluster(tools, tmp_path_factory.mktemp("one-agent"), ["instance-1"],
                               redefs=["redef ZeekMgmt::Agent::request_timeout = 60 sec;"])


def check_nodes(cluster, results, nodes, agent_listed=True):
    """get-nodes matches the configuration: roles, ports, RUNNING, and
    each pid a live zeek process."""
    for name, keys in nodes.items():
        got = results[keys["instance"]][name]
        assert got["state"] == "RUNNING", (name, got)
        assert got["cluster_role"] == keys["role"].upper(), (name, got)
        assert got["mgmt_role"] is None, (name, got)
        assert got["port"] == keys["port"], (name, got)
        assert got.get("metrics_port") == keys["metrics_port"], (name, got)
        pid = got["pid"]
        assert alive(pid), f"{name}: pid {pid} reported but not running"
        assert (comm(pid) or "").startswith("zeek"), f"{name}: pid {pid} is {comm(pid)!r}, not zeek"
    for instance in {k["instance"] for k in nodes.values()} if agent_listed else ():
        assert results[instance][instance]["mgmt_role"] == "AGENT", results[instance]
    # Each node listens on its cluster port.
    for name, keys in nodes.items():
        wait_for(f"{name} listening on {keys['port']}", lambda p=keys["port"]: listening(p), 30)


def deploy_good(cluster):
    """Deploys the logger, the manager and two workers; checks the answer
    and get-nodes; returns the node table."""
    nodes = good_nodes()
    rc, out, err, took = cluster.deploy(config_ini(["instance-1"], nodes))
    assert rc == 0, (out, err, cluster.logs())
    assert out["errors"] == [], out
    assert out["results"].get("id"), out
    assert sorted(out["results"]["nodes"]) == GOOD_NODES, out
    for name, res in out["results"]["nodes"].items():
        assert res == {"success": True, "instance": "instance-1"}, (name, res)
    results = cluster.wait_running({"instance-1": GOOD_NODES}, 60)
    check_nodes(cluster, results, nodes)
    cluster.deployed = nodes
    return nodes, took


def ensure_good(cluster):
    """The good configuration running: as left by an earlier test, else
    deployed now."""
    if cluster.deployed is not None:
        results = cluster.get_nodes() or {}
        nodes = results.get("instance-1", {})
        if all(nodes.get(n, {}).get("state") == "RUNNING" for n in GOOD_NODES):
            return cluster.deployed
    return deploy_good(cluster)[0]


# ---- one agent ----

def test_get_instances(cluster):
    rc, out, err, _ = cluster.zc("get-instances", timeout=20)
    assert rc == 0, (out, err)
    assert list(out) == ["instance-1"], out
    assert out["instance-1"]["host"] == "127.0.0.1", out
    # The agent connects to the controller, so it has no port to be reached on.
    assert "port" not in out["instance-1"] or out["instance-1"]["port"], out


def test_deploy_four_nodes(cluster):
    _, took = deploy_good(cluster)
    note_time("deploy of 4 nodes", took)


def test_get_id_value(cluster):
    ensure_good(cluster)
    rc, out, err, _ = cluster.zc("get-id-value", "Cluster::node", timeout=60)
    assert rc == 0, (out, err)
    assert out["errors"] == [], out
    # Each node answers with its own name (JSON of a string).
    assert out["results"] == {n: n for n in GOOD_NODES}, out


def test_restart_worker(cluster):
    nodes = ensure_good(cluster)
    before = cluster.node_pids()
    rc, out, err, took = cluster.zc("restart", "worker-01", timeout=60)
    note_time("restart of a worker", took)
    assert rc == 0, (out, err, cluster.logs())
    assert out == {"results": {"worker-01": True}, "errors": []}, out

    def restarted():
        pids = cluster.node_pids()
        results = cluster.get_nodes() or {}
        state = results.get("instance-1", {}).get("worker-01", {}).get("state")
        new = pids.get("worker-01")
        return (new, results) if new and new != before["worker-01"] and state == "RUNNING" else None

    new, results = wait_for("worker-01 RUNNING with a new pid", restarted, 60)
    assert not alive(before["worker-01"]), "the old worker-01 process is still running"
    assert (comm(new) or "").startswith("zeek"), comm(new)
    # The other nodes were left alone.
    after = cluster.node_pids()
    for name in GOOD_NODES:
        if name != "worker-01":
            assert after[name] == before[name], (name, before, after)
    check_nodes(cluster, results, nodes)


def test_unstartable_node(cluster):
    ensure_good(cluster)
    nodes = good_nodes()
    nodes["worker-02"]["scripts"] = MISSING_SCRIPT
    rc, out, err, took = cluster.deploy(config_ini(["instance-1"], nodes), "bad.ini")
    note_time("answer to a deploy with an unstartable node", took)
    cluster.deployed = None
    assert rc != 0, (out, err)
    assert isinstance(out, dict), (out, err)
    bad = out["results"]["nodes"]["worker-02"]
    assert bad["success"] is False, out
    assert bad["instance"] == "instance-1", out
    # The node's own stderr: Zeek cannot find the script.
    assert "can't find" in bad.get("stderr", ""), out
    assert MISSING_SCRIPT in bad["stderr"], out
    # Zeek's Supervisor reports the death (notify_node_exit) when it revives
    # the node, a second after it spawned it: the agent answers then, with
    # the node's stderr, not at its request timeout (60 s here, beyond the
    # controller's 10 s, after which the client would get no stderr).


def test_redeploy_good(cluster):
    # Whatever ran before (the failed deploy, or nothing), the good
    # configuration deploys again (zeek-client gives it a new id).
    nodes, took = deploy_good(cluster)
    note_time("redeploy of 4 nodes", took)
    rc, out, err, _ = cluster.zc("get-id-value", "Cluster::node", timeout=60)
    assert rc == 0 and out["results"] == {n: n for n in GOOD_NODES}, (out, err)


def test_teardown(cluster):
    ensure_good(cluster)
    pids = cluster.node_pids()
    assert sorted(pids) == GOOD_NODES, pids
    rc, out, err, took = cluster.deploy("[instances]\ninstance-1\n", "empty.ini")
    # Right after the answer, no waiting: every node process is gone.
    left = {name: pid for name, pid in pids.items() if alive(pid)}
    note_time("teardown (empty configuration)", took)
    cluster.deployed = None
    assert rc == 0 and out["errors"] == [], (out, err)
    assert "nodes" not in out["results"], out
    assert not left, f"node processes still running when the teardown was answered: {left}"
    results = cluster.get_nodes()
    assert list(results["instance-1"]) == ["instance-1"], results


# ---- two agents under one controller ----

@pytest.fixture
def two_agents(tools, tmp_path):
    yield from running_cluster(tools, tmp_path, ["instance-1", "instance-2"])


def test_two_agents(two_agents):
    c = two_agents
    rc, out, err, _ = c.zc("get-instances", timeout=20)
    assert rc == 0 and sorted(out) == ["instance-1", "instance-2"], (out, err)
    nodes = {
        "manager": {"instance": "instance-1", "role": "manager"},
        "worker-01": {"instance": "instance-1", "role": "worker"},
        "logger-01": {"instance": "instance-2", "role": "logger"},
        "worker-02": {"instance": "instance-2", "role": "worker"},
    }
    for keys in nodes.values():
        keys.update(port=free_port(), metrics_port=free_port())
    rc, out, err, took = c.deploy(config_ini(["instance-1", "instance-2"], nodes))
    note_time("deploy of 4 nodes on two agents", took)
    assert rc == 0 and out["errors"] == [], (out, err, c.logs())
    assert {n: r["instance"] for n, r in out["results"]["nodes"].items()} == \
        {n: k["instance"] for n, k in nodes.items()}, out
    assert all(r["success"] for r in out["results"]["nodes"].values()), out
    results = c.wait_running({"instance-1": ["manager", "worker-01"],
                              "instance-2": ["logger-01", "worker-02"]}, 60)
    check_nodes(c, results, nodes)
    # A node's pid is below its own agent.
    for name, keys in nodes.items():
        below = descendants(c.agents[keys["instance"]].pid)
        assert results[keys["instance"]][name]["pid"] in below, (name, keys["instance"])
    rc, out, err, _ = c.zc("get-id-value", "Cluster::node", timeout=60)
    assert rc == 0 and out["results"] == {n: n for n in nodes}, (out, err)
    pids = c.node_pids()
    rc, out, err, _ = c.deploy("[instances]\ninstance-1\ninstance-2\n", "empty.ini")
    left = {name: pid for name, pid in pids.items() if alive(pid)}
    assert rc == 0 and out["errors"] == [], (out, err)
    assert not left, f"node processes still running when the teardown was answered: {left}"


# ---- the library's own process supervisor ----

@pytest.fixture
def process_agent(tools, tmp_path):
    yield from running_cluster(tools, tmp_path, ["instance-1"],
                               redefs=['redef ZeekMgmt::Agent::supervisor = "process";'])


def test_process_supervisor(process_agent):
    """ZeekMgmt::Agent::supervisor = "process": the agent node runs the
    cluster nodes itself (no Zeek Supervisor involved): deploy, get-nodes,
    get-id-value, a node that cannot start, teardown."""
    c = process_agent
    agent = c.agents["instance-1"]
    nodes = good_nodes()
    rc, out, err, took = c.deploy(config_ini(["instance-1"], nodes))
    note_time("deploy of 4 nodes (process supervisor)", took)
    assert rc == 0 and out["errors"] == [], (out, err, c.logs())
    assert all(r == {"success": True, "instance": "instance-1"}
               for r in out["results"]["nodes"].values()), out
    results = c.wait_running({"instance-1": GOOD_NODES}, 60)
    check_nodes(c, results, nodes)
    # The agent lists itself, as Zeek's agent does: the agent node's pid.
    me = results["instance-1"]["instance-1"]
    assert me["state"] == "RUNNING" and me["pid"] in descendants(agent.pid), me
    state = c.tmp / "instance-1" / "state" / "nodes"
    for name in GOOD_NODES:
        pid = results["instance-1"][name]["pid"]
        # Run by the library in the agent node (below the agent's Supervisor
        # process, not by its stem), as the zeek.<name> link it made.
        assert pid in descendants(agent.pid), name
        assert comm(pid) == f"zeek.{name}"[:15], (name, comm(pid))
        assert os.readlink(f"/proc/{pid}/cwd") == str(state / name), name
        assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(c.zeek), name
    rc, out, err, _ = c.zc("get-id-value", "Cluster::node", timeout=60)
    assert rc == 0 and out["results"] == {n: n for n in GOOD_NODES}, (out, err)

    bad = good_nodes()
    bad["worker-02"]["scripts"] = MISSING_SCRIPT
    rc, out, err, took = c.deploy(config_ini(["instance-1"], bad), "bad.ini")
    note_time("answer to a deploy with an unstartable node (process supervisor)", took)
    assert rc != 0 and isinstance(out, dict), (out, err)
    failed = out["results"]["nodes"]["worker-02"]
    assert failed["success"] is False, out
    assert "can't find" in failed.get("stderr", "") and MISSING_SCRIPT in failed["stderr"], out

    pids = c.node_pids()
    rc, out, err, took = c.deploy("[instances]\ninstance-1\n", "empty.ini")
    left = {name: pid for name, pid in pids.items() if alive(pid)}
    note_time("teardown (process supervisor)", took)
    assert rc == 0 and out["errors"] == [], (out, err)
    assert not left, f"node processes still running when the teardown was answered: {left}"


def find_zkg():
    venv = REPO / ".venv" / "bin" / "zkg"
    return str(venv) if venv.exists() else shutil.which("zkg")


def test_zkg_install(tools, tmp_path):
    """`zkg install` of the repository (zkg clones a git repository, so the
    package is the repository; zkg.meta is at its root) builds the plugin,
    and the agent it installed boots and registers with a controller. zkg
    installs what is committed: the test installs a clone of HEAD."""
    zkg = find_zkg()
    if zkg is None:
        pytest.skip("zkg not found (pip install zkg==3.2.0 into .venv)")
    zeek_bin, client = tools
    src = tmp_path / "zeek-mgmt-agent"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(src)],
                   check=True, timeout=300)
    # zkg's own directories, all in scratch space (none in Zeek's tree).
    paths = {k: tmp_path / "zkg" / k for k in ("state", "script", "plugin", "bin")}
    config = tmp_path / "zkg.config"
    config.write_text("[sources]\n[paths]\n" + "".join(
        f"{k}_dir = {v}\n" for k, v in paths.items()) + "zeek_dist =\n")
    env = dict(os.environ, PATH=f"{zeek_bin}:{os.environ['PATH']}",
               # The crate's build cache, apart from the checkout's own output.
               CARGO_TARGET_DIR=str(REPO / "target" / "zkg-test"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True,
                          text=True, check=True).stdout.strip()
    out = subprocess.run([zkg, "--configfile", str(config), "install", "--force", "--skiptests",
                          "--version", head, str(src)],
                         env=env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0 and f'Installed "{src}"' in out.stdout, (out.stdout, out.stderr)

    # Only zkg's plugin directory: the plugin found is the one zkg built.
    zenv = {"ZEEK_PLUGIN_PATH": str(paths["plugin"])}
    listed = subprocess.run([str(zeek_bin / "zeek"), "-N", "ZeekMgmt::Agent"],
                            env=dict(os.environ, **zenv), capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0 and "ZeekMgmt::Agent" in listed.stdout, listed

    # zkg puts the package's scripts in its script directory (normally
    # Zeek's site directory): `zeek -j packages/<package>/ZeekMgmt/Agent`.
    zeekpath = subprocess.run([str(zeek_bin / "zeek-config"), "--zeekpath"],
                              capture_output=True, text=True, check=True).stdout.strip()
    zenv["ZEEKPATH"] = f"{zeekpath}:{paths['script']}"
    c = Cluster(zeek_bin, client, tmp_path / "run")
    try:
        c.start_controller()
        c.start_agent("instance-1", script="packages/zeek-mgmt-agent/ZeekMgmt/Agent", env=zenv)
        c.wait_instances(["instance-1"])
        # The agent node runs the plugin zkg built.
        plugin = str(paths["plugin"].resolve())
        maps = []
        for pid in descendants(c.agents["instance-1"].pid):
            try:
                maps.append(Path(f"/proc/{pid}/maps").read_text())
            except OSError:
                pass
        so = f"{plugin}/packages/zeek-mgmt-agent/lib/ZeekMgmt-Agent"
        assert any(so in m for m in maps), f"no process of the agent has {so}* loaded"
    finally:
        c.stop()
        left = [pid for pid in c.pids if alive(pid)]
        assert not left, f"processes left behind: {left}"


def test_zz_timings():
    """Not a check: the answer times measured above, in one place."""
    for what, seconds in TIMINGS.items():
        print(f"TIMING {what}: {seconds:.2f}s")

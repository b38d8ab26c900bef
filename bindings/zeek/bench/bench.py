#!/usr/bin/env python3
"""Side-by-side benchmark of Zeek's own agent
(`zeek -j policy/frameworks/management/agent`) and the ZeekMgmt::Agent
plugin's agent (`zeek -j ZeekMgmt/Agent`): same Zeek, same controller
(`zeek -j policy/frameworks/management/controller`), same zeek-client, same
configurations. See README.md next to this file.

    python bench.py [--runs N] [--only zeek|plugin] [--smoke]

Every process started runs in its own session (process group); all are
killed at the end, on success, failure or Ctrl-C.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import zeekproc  # noqa: E402
from zeekproc import alive, descendants, free_port, stop_sessions  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent

# name -> (agent script, extra `zeek -e` redefs)
AGENTS = {
    "zeek": ("policy/frameworks/management/agent", ""),
    "plugin": ("ZeekMgmt/Agent", ""),
    # Staged start: loggers, then the manager, then proxies, then workers,
    # each stage waiting for the previous one's check-ins (at most 2 s).
    "plugin-staged": ("ZeekMgmt/Agent", "redef ZeekMgmt::Agent::stage_wait = 2 sec;"),
}
MISSING_SCRIPT = "zma-bench-no-such-script"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def find_zeek():
    for cand in (os.environ.get("ZEEK"), "/opt/zeek/bin/zeek", shutil.which("zeek")):
        if cand and Path(cand).exists():
            return cand
    sys.exit("zeek not found (set ZEEK=/path/to/zeek)")


def find_client():
    for cand in (os.environ.get("ZEEK_CLIENT"), REPO / ".venv" / "bin" / "zeek-client",
                 shutil.which("zeek-client")):
        if cand and Path(cand).exists():
            return str(cand)
    sys.exit("zeek-client not found (set ZEEK_CLIENT=/path/to/zeek-client)")


def proc_stat(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def start_wall(pid):
    """The process's start time, wall clock (its starttime ticks since boot
    against CLOCK_BOOTTIME; 1/CLK_TCK resolution)."""
    f = proc_stat(pid)
    if f is None:
        return None
    # field 22 of stat (f starts at field 3): ticks since boot
    since = time.clock_gettime(time.CLOCK_BOOTTIME) - int(f[19]) / CLK_TCK
    return time.time() - since


def config_ini(nodes, instance="instance-1"):
    lines = ["[instances]", instance, ""]
    for name, keys in nodes.items():
        lines.append(f"[{name}]")
        lines.append(f"instance = {instance}")
        lines += [f"{k} = {v}" for k, v in keys.items()]
        lines.append("")
    return "\n".join(lines)


def nodes4():
    roles = {"logger-01": "logger", "manager": "manager", "worker-01": "worker", "worker-02": "worker"}
    return {n: {"role": r, "port": free_port(), "metrics_port": free_port()} for n, r in roles.items()}


def nodes15():
    roles = {"logger-01": "logger", "manager": "manager", "proxy-01": "proxy"}
    roles.update({f"worker-{i:02d}": "worker" for i in range(1, 13)})
    return {n: {"role": r, "port": free_port(), "metrics_port": free_port()} for n, r in roles.items()}


class Cluster:
    """A controller and one agent, each `zeek -j` in its own session and
    scratch directory."""

    def __init__(self, zeek, client, tmp, agent):
        self.zeek, self.client, self.tmp = zeek, client, tmp
        self.agent_script, self.agent_redefs = agent
        self.procs, self.pids = [], set()
        self.ctl_port, self.ws_port = free_port(), free_port()
        # Every deploy sent, in order; the measured ones carry what the
        # agent's log is matched against once the agent has stopped.
        self.deploys = []

    def start(self, name, script, env, extra=()):
        wd = self.tmp / name
        for sub in ("state", "spool"):
            (wd / sub).mkdir(parents=True)
        env = dict(os.environ, **env, ZEEK_MANAGEMENT_STATE_DIR=str(wd / "state"),
                   ZEEK_MANAGEMENT_SPOOL_DIR=str(wd / "spool"))
        with open(wd / "stdout", "wb") as out, open(wd / "stderr", "wb") as err:
            proc = subprocess.Popen([self.zeek, "-j", script, *extra], cwd=wd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def boot(self):
        self.start("controller", "policy/frameworks/management/controller", {
            "ZEEK_CONTROLLER_ADDR": "127.0.0.1",
            "ZEEK_CONTROLLER_PORT": f"{self.ctl_port}/tcp",
            "ZEEK_CONTROLLER_WEBSOCKET_ADDR": "127.0.0.1",
            "ZEEK_CONTROLLER_WEBSOCKET_PORT": f"{self.ws_port}/tcp",
        })
        self.agent = self.start("instance-1", self.agent_script, {
            "ZEEK_AGENT_NAME": "instance-1",
            "ZEEK_AGENT_ADDR": "127.0.0.1",
            "ZEEK_AGENT_PORT": f"{free_port()}/tcp",
            "ZEEK_CONTROLLER_PORT": f"{self.ctl_port}/tcp",
        }, extra=("-e", f"redef Broker::default_port = {free_port()}/tcp; {self.agent_redefs}"))
        wait_for("instance-1 registered", lambda: self.instances_ok(), 90)

    def instances_ok(self):
        rc, out, _, _ = self.zc("get-instances", timeout=20)
        return rc == 0 and isinstance(out, dict) and "instance-1" in out

    def zc(self, *args, timeout=180):
        cmd = [self.client, "--set", "controller.host=127.0.0.1",
               "--set", f"controller.port={self.ws_port}", *args]
        started = time.monotonic()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return -1, None, "zeek-client timed out", time.monotonic() - started
        took = time.monotonic() - started
        self.note_pids()
        try:
            data = json.loads(out.stdout) if out.stdout.strip() else None
        except json.JSONDecodeError:
            data = out.stdout
        return out.returncode, data, out.stderr, took

    def deploy(self, text, name, measured=None):
        ini = self.tmp / name
        ini.write_text(text)
        self.deploys.append(measured)
        return self.zc("deploy-config", str(ini))

    def agent_log(self):
        """The agent's Management log lines, (ts, message), in time order.
        Zeek writes them at exit into the agent's spool (and, while a
        cluster logger runs, into its files too): read once stopped."""
        lines = set()
        for f in (self.tmp / "instance-1" / "spool").rglob("management-instance-1*.log"):
            for line in f.read_text(errors="replace").splitlines():
                if line.startswith("#"):
                    continue
                parts = line.split("\t")
                if len(parts) >= 5:
                    lines.add((float(parts[0]), parts[4]))
        return sorted(lines)

    def get_nodes(self):
        rc, out, _, _ = self.zc("get-nodes", timeout=30)
        if rc != 0 or not isinstance(out, dict):
            return None
        return {n: v for nodes in out.get("results", {}).values()
                for n, v in nodes.items() if v.get("cluster_role")}

    def wait_running(self, names, timeout=120):
        def running():
            nodes = self.get_nodes()
            if nodes is None or sorted(nodes) != sorted(names):
                return None
            ok = all(v["state"] == "RUNNING" and v.get("pid") for v in nodes.values())
            return nodes if ok else None
        return wait_for(f"{len(names)} nodes RUNNING", running, timeout, 0.2)

    def note_pids(self):
        for p in self.procs:
            self.pids.add(p.pid)
            self.pids.update(descendants(p.pid))

    def stop(self):
        self.note_pids()
        stop_sessions(self.procs, self.pids, grace=10)
        return [pid for pid in self.pids if alive(pid)]


def wait_for(what, fn, timeout, interval=0.5):
    # A failed wait is reported and the benchmark goes on.
    return zeekproc.wait_for(what, fn, timeout, interval, error=RuntimeError)


def answer_failures(rc, out):
    """(failed answer?, number of 'request timed out' in it)."""
    text = json.dumps(out) if out is not None else ""
    timed_out = text.count("request timed out")
    failed = rc != 0 or not isinstance(out, dict) or bool(out.get("errors")) or \
        any(not r.get("success") for r in (out.get("results", {}).get("nodes") or {}).values())
    return failed, timed_out


DEPLOY_RX = re.compile(r"^rx Management::Agent::API::deploy_request (\S+)")
DEPLOY_TX = re.compile(r"^tx Management::Agent::API::deploy_response (?:.*\(reqid )?([^\s,)]+)")
HELLO_RX = re.compile(r"^rx Management::Node::API::notify_node_hello (\S+)")


def agent_timings(log):
    """Per deploy_request the agent received, in order: (the agent's time
    from request to response, {node: time of its first hello after the
    request}), from the agent's Management log."""
    deploys = []
    for i, (ts, msg) in enumerate(log):
        m = DEPLOY_RX.match(msg)
        if not m:
            continue
        reqid, answered, hellos = m.group(1), None, {}
        for ts2, msg2 in log[i:]:
            t = DEPLOY_TX.match(msg2)
            if t and t.group(1) == reqid and answered is None:
                answered = ts2
            h = HELLO_RX.match(msg2)
            if h and h.group(1) not in hellos:
                hellos[h.group(1)] = ts2
            if DEPLOY_RX.match(msg2) and ts2 > ts and answered is not None:
                break
        deploys.append((answered - ts if answered is not None else None, hellos))
    return deploys


def add_agent_timings(c, kind, res):
    """The agent's own deploy times and the floor, for the measured deploys:
    floor = the slowest node's time from its process start to its hello
    reaching the agent (check-in), measured in that same deploy."""
    timings = agent_timings(c.agent_log())
    if len(timings) != len(c.deploys):
        print(f"[{kind}] agent log: {len(timings)} deploy requests, {len(c.deploys)} sent; "
              "agent timings skipped", file=sys.stderr)
        return
    for measured, (took, hellos) in zip(c.deploys, timings):
        if measured is None:
            continue
        label, starts = measured
        if took is not None:
            res.add(f"{label}: agent's time, request to response (s)", kind, took)
        if starts == "no floor":
            continue
        if starts is None or any(n not in hellos for n in starts):
            print(f"[{kind}] deploy {label}: a node's start or hello is missing", file=sys.stderr)
            continue
        fl = max(hellos[n] - start for n, start in starts.items())
        res.add(f"{label}: floor, slowest node start to check-in (s)", kind, fl)
        if took is not None:
            res.add(f"{label}: agent's time / floor", kind, took / fl)


class Results:
    def __init__(self):
        self.rows = {}  # (row) -> {agent: [values]}
        self.order = []

    def add(self, row, agent, value):
        if row not in self.rows:
            self.rows[row] = {}
            self.order.append(row)
        self.rows[row].setdefault(agent, []).append(value)


def run_agent(kind, args, zeek, client, res, keep):
    tmp = Path(tempfile.mkdtemp(prefix=f"zma-bench-{kind}-"))
    cluster = Cluster(zeek, client, tmp, AGENTS[kind])
    CLUSTERS.append(cluster)
    try:
        cluster.boot()
        for run in range(args.runs):
            print(f"[{kind}] run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            step_deploy(cluster, kind, res, "4 nodes", nodes4(), f"d4-{run}.ini")
            if not args.smoke:
                step_restart(cluster, kind, res)
            step_teardown(cluster, kind, res, "4 nodes")
            if args.smoke:
                continue
            step_deploy(cluster, kind, res, "15 nodes", nodes15(), f"d15-{run}.ini")
            step_teardown(cluster, kind, res, "15 nodes")
            step_unstartable(cluster, kind, res, run)
    finally:
        left = cluster.stop()
        CLUSTERS.remove(cluster)
        add_agent_timings(cluster, kind, res)
        if left:
            print(f"[{kind}] processes left behind: {left}", file=sys.stderr)
        if keep:
            print(f"[{kind}] scratch directory kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def step_deploy(c, kind, res, label, nodes, ini):
    measured = [f"deploy {label}", None]
    rc, out, err, took = c.deploy(config_ini(nodes), ini, measured)
    failed, timed_out = answer_failures(rc, out)
    res.add(f"deploy {label}: answer, zeek-client (s)", kind, took)
    res.add(f"deploy {label}: failed answers", kind, int(failed))
    res.add(f"deploy {label}: 'request timed out' nodes", kind, timed_out)
    try:
        running = c.wait_running(list(nodes))
    except RuntimeError as e:
        print(f"[{kind}] deploy {label}: {e}; answer: {out} {err}", file=sys.stderr)
        return
    # Every node came up: a timed-out answer was false.
    res.add(f"deploy {label}: false 'request timed out'", kind, timed_out)
    starts = {n: start_wall(v["pid"]) for n, v in running.items()}
    if all(s is not None for s in starts.values()):
        measured[1] = starts


def step_restart(c, kind, res):
    before = c.get_nodes()["worker-01"]["pid"]
    started = time.monotonic()
    rc, out, err, took = c.zc("restart", "worker-01")
    res.add("restart worker: answer (s)", kind, took)
    res.add("restart worker: failed answers", kind,
            int(rc != 0 or out != {"results": {"worker-01": True}, "errors": []}))

    def back():
        v = (c.get_nodes() or {}).get("worker-01", {})
        return v.get("state") == "RUNNING" and v.get("pid") and v["pid"] != before
    try:
        wait_for("worker-01 RUNNING with a new pid", back, 120, 0.1)
        res.add("restart worker: RUNNING with new pid (s)", kind, time.monotonic() - started)
    except RuntimeError as e:
        print(f"[{kind}] restart: {e}; answer {out} {err}", file=sys.stderr)


def step_teardown(c, kind, res, label):
    pids = [v["pid"] for v in (c.get_nodes() or {}).values() if v.get("pid")]
    started = time.monotonic()
    rc, out, err, took = c.deploy("[instances]\ninstance-1\n", "empty.ini")
    left = [p for p in pids if alive(p)]
    res.add(f"teardown {label}: answer (s)", kind, took)
    res.add(f"teardown {label}: failed answers", kind,
            int(rc != 0 or not isinstance(out, dict) or bool(out.get("errors"))))
    res.add(f"teardown {label}: nodes alive at answer", kind, len(left))
    try:
        wait_for("node processes gone", lambda: not any(alive(p) for p in pids), 120, 0.05)
        res.add(f"teardown {label}: all processes gone (s)", kind, time.monotonic() - started)
    except RuntimeError as e:
        print(f"[{kind}] teardown: {e}", file=sys.stderr)
    # Settle: get-nodes lists no cluster node.
    try:
        wait_for("no nodes listed", lambda: c.get_nodes() == {}, 60, 0.2)
    except RuntimeError as e:
        print(f"[{kind}] teardown: {e}", file=sys.stderr)


def step_unstartable(c, kind, res, run):
    nodes = nodes4()
    nodes["worker-02"]["scripts"] = MISSING_SCRIPT
    rc, out, err, took = c.deploy(config_ini(nodes), f"bad-{run}.ini",
                                  ["unstartable node", "no floor"])
    bad = (out.get("results", {}).get("nodes", {}).get("worker-02", {})
           if isinstance(out, dict) else {})
    res.add("unstartable node: answer (s)", kind, took)
    res.add("unstartable node: answer has its stderr", kind,
            int(MISSING_SCRIPT in (bad.get("stderr") or "")))
    # Clean up for the next run (not measured).
    c.deploy("[instances]\ninstance-1\n", "empty.ini")
    try:
        wait_for("no nodes listed", lambda: c.get_nodes() == {}, 60, 0.2)
    except RuntimeError as e:
        print(f"[{kind}] after unstartable: {e}", file=sys.stderr)


def fmt(v):
    if v is None:
        return "-"
    if float(v).is_integer() and abs(v) >= 1 or v == 0:
        return f"{v:g}"
    return f"{v:.2f}"


def table(res, kinds):
    """Medians per agent; for times and floor ratios, each other agent's
    median over Zeek's."""
    others = [k for k in kinds if k != "zeek"] if "zeek" in kinds else []
    head = ["measure (median)"] + kinds + [f"{k}/zeek" for k in others]
    rows = []
    for row in res.order:
        meds = {}
        for k in kinds:
            vals = res.rows[row].get(k)
            meds[k] = statistics.median(vals) if vals else None
        line = [row] + [fmt(meds[k]) for k in kinds]
        ratio_row = row.endswith("(s)") or "/ floor" in row
        for k in others:
            z, p = meds["zeek"], meds[k]
            line.append(f"{p / z:.2f}" if ratio_row and z and p is not None else "")
        rows.append(line)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    return "\n".join(out)


CLUSTERS = []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", choices=sorted(AGENTS))
    ap.add_argument("--smoke", action="store_true",
                    help="runs=1, the 4-node deploy and teardown only (for CI)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories")
    ap.add_argument("--raw", action="store_true",
                    help="also print every run's value of every row, not only the medians")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
    zeek, client = find_zeek(), find_client()
    check = subprocess.run([zeek, "-N", "ZeekMgmt::Agent"], capture_output=True, text=True)
    kinds = [args.only] if args.only else list(AGENTS)
    if any(k.startswith("plugin") for k in kinds) and "ZeekMgmt::Agent" not in check.stdout:
        sys.exit("the ZeekMgmt::Agent plugin is not installed in this Zeek")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    # Also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    res = Results()
    status = 0
    try:
        for kind in kinds:
            run_agent(kind, args, zeek, client, res, args.keep)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    except Exception as e:  # report what was measured, then fail
        print(f"error: {e!r}", file=sys.stderr)
        status = 1
    finally:
        for c in list(CLUSTERS):
            c.stop()
    print(f"runs: {args.runs}; zeek: {zeek}; zeek-client: {client}; {os.cpu_count()} CPUs")
    print(table(res, kinds))
    if args.raw:
        for row in res.order:
            for k in kinds:
                vals = res.rows[row].get(k) or []
                print(f"{row} [{k}]: " + ", ".join(fmt(v) for v in vals))
    return status


if __name__ == "__main__":
    sys.exit(main())

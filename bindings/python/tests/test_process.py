"""The built-in process supervisor with real processes (the stand-in node
program): deploy from a dict, a JSON file or a zeek-client INI file,
get_nodes, redeploys, standby, and no node outliving its agent."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from conftest import INSTANCE, alive, free_port, process_options, run_until, two_nodes
from zeek_mgmt_agent import Agent, EventError, NodeStatus, Result, standin_path


def cmdline(pid: int) -> List[str]:
    """The process's argv. Right after its start (ready_after_ms 0) the new
    program's arguments may not be in place yet: the vfork parent resumes
    when the child drops the old memory, before execve has set up argv."""
    deadline = time.monotonic() + 2.0
    while True:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        if raw or time.monotonic() > deadline:
            return raw.decode().split("\0")[:-1]
        time.sleep(0.005)


def environ(pid: int) -> List[str]:
    return Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")


def by_node(statuses: List[NodeStatus]) -> Dict[str, NodeStatus]:
    return {status.node: status for status in statuses}


def assert_all_succeeded(results: List[Result], nodes: List[str]) -> None:
    assert sorted(r.node for r in results if r.node) == sorted(nodes), results
    for result in results:
        assert result.success is True, result
        assert result.reqid.startswith("py-deploy-") and result.instance == INSTANCE, result
        assert result.error is None and result.data is None, result


@pytest.fixture
def agent(tmp_path: Path, make_agent: Callable[..., Agent]) -> Agent:
    return make_agent(**process_options(tmp_path))


def test_get_nodes_before_any_deploy_is_empty(agent: Agent) -> None:
    assert agent.get_nodes() == []
    assert agent.state()["config_id"] is None


def test_deploy_of_a_dict_starts_every_node(agent: Agent, tmp_path: Path) -> None:
    config = two_nodes("c1")
    manager_port = config["nodes"][0]["p"]
    assert_all_succeeded(agent.deploy(config), ["manager", "w1"])

    statuses = by_node(agent.get_nodes())
    assert sorted(statuses) == ["manager", "w1"]
    manager, worker = statuses["manager"], statuses["w1"]
    assert (manager.state, manager.mgmt_role, manager.cluster_role) == ("RUNNING", "NONE", "MANAGER")
    assert (worker.state, worker.mgmt_role, worker.cluster_role) == ("RUNNING", "NONE", "WORKER")
    assert (manager.port, worker.port) == (manager_port, None)
    assert manager.metrics_port is None and worker.metrics_port is None
    for name, status in statuses.items():
        assert isinstance(status.pid, int) and alive(status.pid), status
        # Named as Zeek's Supervisor names nodes: comm (what ps and top
        # show) is zeek.<node>, argv[0] the link <node dir>/zeek.<node>.
        assert cmdline(status.pid)[0] == str(tmp_path / "nodes" / name / f"zeek.{name}")
        assert Path(f"/proc/{status.pid}/comm").read_text().strip() == f"zeek.{name}"[:15]
        assert f"CLUSTER_NODE={name}" in environ(status.pid)

    state = agent.state()
    assert state["config_id"] == "c1"
    assert {n["name"]: (n["state"], n["pid"]) for n in state["nodes"]} == {
        name: ("RUNNING", status.pid) for name, status in statuses.items()
    }
    assert (tmp_path / "nodes" / "manager").is_dir()


def test_deploy_of_a_json_file(agent: Agent, tmp_path: Path) -> None:
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(two_nodes("from-json-file")))
    assert_all_succeeded(agent.deploy(path), ["manager", "w1"])
    assert agent.state()["config_id"] == "from-json-file"
    # A str path works as well (and a redeploy of the same id is a no-op).
    [result] = agent.deploy(str(path))
    assert (result.success, result.node) == (True, None)


def test_deploy_of_a_json_file_without_the_json_suffix(agent: Agent, tmp_path: Path) -> None:
    path = tmp_path / "cluster.cfg"
    path.write_text(json.dumps(two_nodes("json-by-content")))
    assert_all_succeeded(agent.deploy(path), ["manager", "w1"])
    assert agent.state()["config_id"] == "json-by-content"


def test_deploy_of_a_zeek_client_ini_file(agent: Agent, tmp_path: Path) -> None:
    # zeek-client's format (as tests/fixtures/configs/mini.ini), on free ports.
    path = tmp_path / "cluster.ini"
    path.write_text(
        f"[instances]\n{INSTANCE} = 127.0.0.1:{free_port()}\n\n"
        f"[logger-01]\ninstance = {INSTANCE}\nrole = logger\nport = {free_port()}\n\n"
        f"[manager]\ninstance = {INSTANCE}\nrole = manager\nport = {free_port()}\n\n"
        f"[worker-01]\ninstance = {INSTANCE}\nrole = worker\n"
    )
    assert_all_succeeded(agent.deploy(path), ["logger-01", "manager", "worker-01"])
    statuses = by_node(agent.get_nodes())
    assert {n: s.cluster_role for n, s in statuses.items()} == {
        "logger-01": "LOGGER",
        "manager": "MANAGER",
        "worker-01": "WORKER",
    }
    assert all(s.state == "RUNNING" and s.pid and alive(s.pid) for s in statuses.values())
    config_id = agent.state()["config_id"]
    assert isinstance(config_id, str) and config_id  # zeek-client made one up


def test_the_fixture_ini_names_this_instance() -> None:
    # The repository's mini.ini is written for an agent named instance-1.
    import configparser

    from conftest import FIXTURES

    parser = configparser.ConfigParser(allow_no_value=True)
    parser.read(FIXTURES / "configs" / "mini.ini")
    assert list(parser["instances"]) == [INSTANCE]
    assert {parser[s]["instance"] for s in parser.sections() if s != "instances"} == {INSTANCE}


def test_an_ini_file_zeek_client_refuses_raises_event_error(agent: Agent, tmp_path: Path) -> None:
    path = tmp_path / "bad.ini"
    path.write_text(f"[w1]\ninstance = {INSTANCE}\nrole = bogus\n")
    with pytest.raises(EventError, match="zeek-client refused the configuration"):
        agent.deploy(path)
    assert agent.state()["config_id"] is None


def test_redeploying_the_same_configuration_changes_nothing_unless_forced(agent: Agent) -> None:
    config = two_nodes("c1")
    agent.deploy(config)
    pids = {s.node: s.pid for s in agent.get_nodes()}

    [result] = agent.deploy(config)
    assert (result.success, result.node, result.instance) == (True, None, INSTANCE)
    assert {s.node: s.pid for s in agent.get_nodes()} == pids

    assert_all_succeeded(agent.deploy(config, force=True), ["manager", "w1"])
    new_pids = {s.node: s.pid for s in agent.get_nodes()}
    assert sorted(new_pids) == ["manager", "w1"]
    assert all(new_pids[n] != pids[n] and alive(new_pids[n]) for n in pids)
    assert not any(alive(pid) for pid in pids.values() if pid is not None)


def test_a_refused_configuration_leaves_the_running_nodes_alone(agent: Agent) -> None:
    agent.deploy(two_nodes("c1"))
    pids = {s.node: s.pid for s in agent.get_nodes()}
    duplicate = {
        "id": "c2",
        "instances": [{"name": INSTANCE}],
        "nodes": [{"name": "x", "instance": INSTANCE, "role": "WORKER"}] * 2,
    }
    results = agent.deploy(duplicate)
    assert [(r.success, r.node, r.instance, r.error) for r in results] == [
        (False, None, INSTANCE, "multiple nodes named 'x'")
    ]
    assert agent.state()["config_id"] == "c1"
    assert {s.node: s.pid for s in agent.get_nodes()} == pids
    assert all(alive(pid) for pid in pids.values() if pid is not None)


def test_a_node_that_never_starts_fails_with_its_output(tmp_path: Path, make_agent: Callable[..., Agent]) -> None:
    options = process_options(tmp_path, ready_after_ms=100)
    options["supervisor"].update(restart_delay_ms=20, max_start_failures=2)
    agent = make_agent(**options)
    config = {
        "id": "c1",
        "instances": [{"name": INSTANCE}],
        "nodes": [
            {"name": "bad", "instance": INSTANCE, "role": "WORKER", "env": {"ZMA_STANDIN": "crash-at-start"}},
            {"name": "good", "instance": INSTANCE, "role": "WORKER"},
        ],
    }
    results = {r.node: r for r in agent.deploy(config, timeout=20)}
    assert results["good"].success is True
    bad = results["bad"]
    assert bad.success is False
    # Failed with its stderr: on its first death, or given up already if
    # its restart died before "good" came up...
    assert bad.error is not None and bad.error.startswith(
        ("node bad exited before it became ready (exit status 1)", "node bad failed: it exited 2 times in a row")
    ), bad.error
    assert "stand-in crash at start" in bad.error, bad.error
    assert isinstance(bad.data, dict) and "stand-in crash at start" in bad.data["stderr"], bad.data
    # ...and given up after its second death, on the restart schedule.
    assert run_until(agent, lambda: {n["name"]: n["state"] for n in agent.state()["nodes"]}["bad"] == "FAILED")
    statuses = by_node(agent.get_nodes())
    assert (statuses["bad"].state, statuses["bad"].pid) == ("FAILED", None)
    assert statuses["good"].state == "RUNNING"


def test_standby_stops_every_node(agent: Agent) -> None:
    agent.deploy(two_nodes("c1"))
    pids = [s.pid for s in agent.get_nodes()]
    assert len(pids) == 2 and all(pid is not None and alive(pid) for pid in pids)

    result = agent.standby()
    assert (result.success, result.instance, result.node, result.error) == (True, INSTANCE, None, None)
    assert result.reqid.startswith("py-standby-")
    # Answered once the nodes are gone: no waiting here.
    assert [pid for pid in pids if pid is not None and alive(pid)] == []
    assert agent.get_nodes() == []
    state = agent.state()
    assert state["nodes"] == [] and state["pending_requests"] == []


def test_close_leaves_no_node_behind(tmp_path: Path) -> None:
    agent = Agent(**process_options(tmp_path))
    try:
        agent.deploy(two_nodes("c1"))
        pids = [s.pid for s in agent.get_nodes()]
        assert len(pids) == 2 and all(pid is not None and alive(pid) for pid in pids)
    finally:
        agent.close()
    assert [pid for pid in pids if pid is not None and alive(pid)] == []


def test_a_threaded_agent_deploys_and_stands_by(tmp_path: Path, make_agent: Callable[..., Agent]) -> None:
    agent = make_agent(**process_options(tmp_path, mode="threaded"))
    assert_all_succeeded(agent.deploy(two_nodes("c1"), timeout=10), ["manager", "w1"])
    statuses = agent.get_nodes(timeout=10)
    assert sorted((s.node, s.state) for s in statuses) == [("manager", "RUNNING"), ("w1", "RUNNING")]
    assert agent.standby(timeout=10).success
    assert not any(alive(s.pid) for s in statuses if s.pid is not None)


def test_a_missing_node_program_hints_at_the_stand_in(tmp_path: Path, make_agent: Callable[..., Agent]) -> None:
    # Where Zeek is not installed, the library says "program 'zeek' not found
    # on PATH"; the package adds how to run the stand-in node instead.
    options = process_options(tmp_path)
    options["supervisor"]["zeek"] = "no-such-program-zma"
    agent = make_agent(**options)
    logged: List[str] = []
    agent.on_log = lambda record: logged.append(record.message)
    [manager, worker] = sorted(agent.deploy(two_nodes("c1")), key=lambda r: r.node or "")
    assert not manager.success and manager.error is not None
    assert manager.error.startswith("failed to create node manager: program 'no-such-program-zma' not found on PATH (")
    installed = standin_path()
    if installed is not None:
        assert f"'zeek': {installed!r}" in manager.error and f"--zeek {installed}" in manager.error
    else:
        assert "`pip install ./bindings/python/standin`" in manager.error
    assert any(m.startswith("failed to create node w1: program") and "stand-in node" in m for m in logged), logged


def test_an_ini_file_without_zeek_client_names_the_install_command(
    agent: Agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    path = tmp_path / "cluster.cfg"
    path.write_text(f"[instances]\n{INSTANCE} = 127.0.0.1:{free_port()}\n")
    monkeypatch.setitem(sys.modules, "zeekclient", None)  # as if not installed: import raises ImportError
    with pytest.raises(ImportError, match=r"^this needs zeek-client: pip install zeek-client==1\.5\.0$"):
        agent.deploy(path)

"""Deploys examples/cluster.cfg with the agent, lists the nodes, stands by.

    pip install ./bindings/python zeek-client==1.5.0        # from a checkout
    python bindings/python/examples/deploy.py                # nodes run zeek (from PATH)
    python bindings/python/examples/deploy.py --zeek zma-standin-node   # without Zeek

``--zeek`` names the program each node runs. Without Zeek, the stand-in node
(``pip install ./bindings/python/standin``) plays the nodes: it listens on
their ports and runs until stopped, and inspects no traffic. Node
directories go to a temporary directory unless ``--state-dir`` says where.
Exits 1 if a node failed to start.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from zeek_mgmt_agent import Agent

HERE = Path(__file__).resolve().parent


def program(name: str) -> str:
    """``name`` on PATH, else in this Python's scripts directory (where pip
    put zma-standin-node if the venv is not activated), else as given."""
    if "/" in name:
        return name
    return shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts")) or name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(HERE / "cluster.cfg"), help="the configuration (default: %(default)s)")
    parser.add_argument("--zeek", default="zeek", help="the program each node runs (default: zeek)")
    parser.add_argument("--state-dir", help="where the node directories go (default: a temporary directory)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="zeek-agent-") as scratch:
        supervisor = {"kind": "process", "zeek": program(args.zeek)}
        state_dir = args.state_dir or scratch
        options = {"name": "instance-1", "mode": "polled", "node_ready": "spawn", "state_dir": state_dir}
        with Agent(**options, supervisor=supervisor) as agent:
            results = agent.deploy(args.config)
            for result in results:
                print(f"deploy {result.node}: {'ok' if result.success else result.error}")
            for node in agent.get_nodes():
                print(f"node {node.node}: {node.cluster_role} {node.state} pid {node.pid} port {node.port}")
            print(f"standby: {'ok' if agent.standby().success else 'failed'}")
        # leaving the block closes the agent: every node it started is stopped
    return 0 if all(result.success for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""An asyncio host: the agent in polled mode inside an event loop.

The agent's descriptor goes to ``loop.add_reader`` (node exits and output),
its next deadline to ``loop.call_later``; both call ``agent.poll()``.
Requests are awaited as futures keyed by request id. The script deploys a
logger, a manager and a worker with the built-in process supervisor, lists
the nodes, stands by and closes.

    python bindings/python/examples/asyncio_host.py [program]

``program`` is what each node runs: ``zeek`` by default; the repository's
stand-in (``target/release/zma-standin-node``) works where Zeek is not
installed.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
from typing import Any, Dict, Optional

from zeek_mgmt_agent import Agent, Event


class AsyncAgent:
    """Drives a polled agent from an asyncio loop."""

    def __init__(self, agent: Agent, loop: asyncio.AbstractEventLoop) -> None:
        self.agent = agent
        self.loop = loop
        self.answers: Dict[str, "asyncio.Future[Event]"] = {}
        self.timer: Optional[asyncio.TimerHandle] = None
        self.ids = itertools.count(1)
        agent.on_response = self._on_response
        agent.on_notification = lambda event: print(f"  notification: {event.name.rsplit('::', 1)[-1]} {event.args}")
        loop.add_reader(agent.fileno(), self._drive)

    def _on_response(self, event: Event) -> None:
        future = self.answers.pop(event.reqid or "", None)
        if future is not None and not future.done():
            future.set_result(event)

    def _drive(self) -> None:
        self.agent.poll()
        self._schedule()

    def _schedule(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        at = self.agent.next_timeout_ms
        if at is not None:
            self.timer = self.loop.call_later(max(0.0, (at - self.agent.now_ms()) / 1000), self._drive)

    async def request(self, name: str, timeout: float = 15.0, **args: Any) -> Event:
        reqid = f"{name}-{next(self.ids)}"
        future: "asyncio.Future[Event]" = self.loop.create_future()
        self.answers[reqid] = future
        self.agent.poll()  # the agent's clock is now
        self.agent.handle({"event": f"{name}_request", "args": {"reqid": reqid, **args}})
        self._schedule()
        return await asyncio.wait_for(future, timeout)

    def close(self) -> None:
        self.loop.remove_reader(self.agent.fileno())
        if self.timer is not None:
            self.timer.cancel()
        self.agent.close()


async def main(program: str) -> int:
    config = {
        "id": "asyncio-example",
        "instances": [{"name": "instance-1"}],
        "nodes": [
            {"name": "logger-01", "instance": "instance-1", "role": "LOGGER", "p": 27761},
            {"name": "manager", "instance": "instance-1", "role": "MANAGER", "p": 27762},
            {"name": "worker-01", "instance": "instance-1", "role": "WORKER", "interface": "lo"},
        ],
    }
    with tempfile.TemporaryDirectory(prefix="zma-asyncio-") as state_dir:
        agent = Agent(
            name="instance-1",
            dialect="zeek7",
            encoding="plain",
            mode="polled",
            state_dir=state_dir,
            node_ready="spawn",
            ready_after_ms=200,
            supervisor={"kind": "process", "zeek": program},
        )
        host = AsyncAgent(agent, asyncio.get_running_loop())
        try:
            deployed = await host.request("deploy", config=config)
            results = deployed.args["results"]
            print(f"deploy: {sum(r['success'] for r in results)} of {len(results)} nodes started")
            nodes = await host.request("get_nodes")
            for status in nodes.args["result"]["data"]:
                print(f"  {status['node']:<10} {status['state']:<20} pid {status.get('pid')}")
            standby = await host.request("agent_standby")
            print(f"standby: success={standby.args['result']['success']}")
            return 0 if all(r["success"] for r in results) else 1
        finally:
            host.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "zeek")))

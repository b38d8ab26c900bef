##! Settings of the ZeekMgmt::Agent plugin's agent, loaded both in Zeek's
##! Supervisor and in the agent node, so that they can be redefined on the
##! command line of `zeek -j ZeekMgmt/Agent` (e.g. with -e).

module ZeekMgmt::Agent;

export {
	## Who runs the cluster nodes of this instance:
	## ``"host"`` (the default): Zeek's Supervisor, as for Zeek's own agent;
	## ``"process"``: the library's own process supervisor, in the agent
	## node, running the node processes itself (the Zeek binary that runs
	## the agent, as ``zeek.<name>`` links in ``<state>/nodes/<name>``).
	const supervisor = "host" &redef;

	## How long the agent waits for a request's outcome (for a deploy:
	## every node checked in, or failed) before it answers "request timed
	## out". Zeek's agent waits 5 s, which 15 nodes booting at once on a
	## 2-core machine can overrun although every node comes up; 8 s leaves
	## them room and stays below the controller's own 10 s request timeout,
	## so the controller always hears the agent's answer.
	const request_timeout = 8 sec &redef;

	## Staged start. ``0 sec`` (the default) starts every node of a deploy
	## at once, as Zeek's agent does. A positive interval starts the loggers
	## first, then the manager, then the proxies, then the workers, each
	## stage waiting for the previous one's nodes to check in, but at most
	## this long.
	const stage_wait = 0 sec &redef;
}

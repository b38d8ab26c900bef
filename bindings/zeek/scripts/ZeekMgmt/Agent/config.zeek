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
}

##! The agent's runtime in its supervised node: a bridge only. Every event
##! the agent must see is handed to the library (ZeekMgmt::Agent::handle, one
##! JSON event each); every event the library emits is published by the
##! plugin, typed, on its topic. All decisions (hellos, deploys, node state,
##! timeouts, Supervisor requests) are the library's. Mirrors the transport
##! set-up of policy/frameworks/management/agent/main.zeek.

@load base/frameworks/broker
@load base/utils/paths

@load policy/frameworks/management
@load policy/frameworks/management/agent/api
@load policy/frameworks/management/agent/config
@load policy/frameworks/management/node/api
@load policy/frameworks/management/node/config
@load policy/frameworks/management/supervisor/api
@load policy/frameworks/management/supervisor/config

@load ./config

module ZeekMgmt::Agent;

export {
	## Library log lines (level: 10 debug, 20 info, 30 warning, 40 error),
	## raised by the plugin and written to the Management log.
	global log: event(level: count, msg: string);

	## The options JSON the agent is created with. Redef to add library
	## options; the defaults below follow the Management framework's.
	global options: function(): string;

	## The agent's topic, as Zeek's agent computes it.
	global agent_topic: function(): string;

	## Raised by the plugin for each SupervisorControl::destroy_request the
	## agent sends.
	global destroy_sent: event(reqid: string, node: string);

	## How long a Supervisor's destroy_response is held back at most,
	## waiting for the node's process to be gone.
	const destroy_wait = 30 sec &redef;
}

# The pid of each node, from the Supervisor's latest status (the agent asks
# for one before it destroys nodes).
global node_pids: table[string] of count;

# Destroy requests in flight: their node's pid.
global destroy_pids: table[string] of count;

redef Management::role = Management::AGENT;

function agent_topic(): string
	{
	return Management::Agent::topic_prefix + "/" + Management::Agent::endpoint_info()$id;
	}

function supervisor_network_info(): Broker::NetworkInfo
	{
	local address = Broker::default_listen_address;
	if ( address == "" )
		address = "127.0.0.1";
	return Broker::NetworkInfo($address=address, $bound_port=Broker::default_port);
	}

function use_process_supervisor(): bool
	{
	return supervisor == "process";
	}

function supervisor_options(): string
	{
	if ( use_process_supervisor() )
		return fmt("{\"kind\": \"process\", \"zeek\": %s}", to_json(zeek_path()));

	local sni = supervisor_network_info();
	return fmt("{\"kind\": \"host\", \"address\": %s, \"port\": %d}",
	    to_json(sni$address), port_to_count(sni$bound_port));
	}

function millis(i: interval): count
	{
	return double_to_count(interval_to_double(i) * 1000.0);
	}

function options(): string
	{
	local epi = Management::Agent::endpoint_info();
	return fmt("{\"name\": %s, \"dialect\": \"zeek7\", \"encoding\": \"broker\", \"mode\": \"polled\", \"topic_prefix\": %s, \"listen_address\": %s, \"listen_port\": %d, \"controller_address\": %s, \"controller_port\": %d, \"state_dir\": %s, \"broker_id\": %s, \"supervisor\": %s, \"request_timeout_ms\": %d, \"stage_wait_ms\": %d, \"list_self\": true}",
	    to_json(epi$id), to_json(Management::Agent::topic_prefix),
	    to_json(epi$network$address), port_to_count(epi$network$bound_port),
	    to_json(Management::Agent::controller$address),
	    port_to_count(Management::Agent::controller$bound_port),
	    to_json(Management::get_state_dir()), to_json(Broker::node_id()),
	    supervisor_options(), millis(request_timeout), millis(stage_wait));
	}

event ZeekMgmt::Agent::log(level: count, msg: string)
	{
	if ( level >= 40 )
		Management::Log::error(msg);
	else if ( level >= 30 )
		Management::Log::warning(msg);
	else if ( level >= 20 )
		Management::Log::info(msg);
	else
		Management::Log::debug(msg);
	}

function fwd(name: string, args: string)
	{
	handle(fmt("{\"event\": \"%s\", \"args\": {%s}}", name, args));
	}

# ---- controller -> agent ----

event Management::Agent::API::deploy_request(reqid: string, config: Management::Configuration, force: bool)
	{
	fwd("Management::Agent::API::deploy_request", fmt("\"reqid\": %s, \"config\": %s, \"force\": %s",
	    to_json(reqid), to_json(config), to_json(force)));
	}

event Management::Agent::API::get_nodes_request(reqid: string)
	{
	fwd("Management::Agent::API::get_nodes_request", fmt("\"reqid\": %s", to_json(reqid)));
	}

event Management::Agent::API::node_dispatch_request(reqid: string, action: vector of string, nodes: set[string])
	{
	fwd("Management::Agent::API::node_dispatch_request", fmt("\"reqid\": %s, \"action\": %s, \"nodes\": %s",
	    to_json(reqid), to_json(action), to_json(nodes)));
	}

event Management::Agent::API::agent_welcome_request(reqid: string)
	{
	fwd("Management::Agent::API::agent_welcome_request", fmt("\"reqid\": %s", to_json(reqid)));
	}

event Management::Agent::API::agent_standby_request(reqid: string)
	{
	fwd("Management::Agent::API::agent_standby_request", fmt("\"reqid\": %s", to_json(reqid)));
	}

event Management::Agent::API::restart_request(reqid: string, nodes: set[string])
	{
	fwd("Management::Agent::API::restart_request", fmt("\"reqid\": %s, \"nodes\": %s",
	    to_json(reqid), to_json(nodes)));
	}

# ---- cluster nodes -> agent ----

event Management::Node::API::notify_node_hello(node: string)
	{
	fwd("Management::Node::API::notify_node_hello", fmt("\"node\": %s", to_json(node)));
	}

event Management::Node::API::node_dispatch_response(reqid: string, result: Management::Result)
	{
	# Result$data is `any`: over Broker it arrives as Broker::Data, which
	# to_json cannot render. Nodes answer dispatches (get_id_value) with a
	# string, as Zeek's agent also assumes; give it that concrete type.
	if ( result?$data && result$data is string )
		result$data = result$data as string;

	fwd("Management::Node::API::node_dispatch_response", fmt("\"reqid\": %s, \"result\": %s",
	    to_json(reqid), to_json(result)));
	}

# ---- Supervisor -> agent ----

event SupervisorControl::create_response(reqid: string, result: string)
	{
	fwd("SupervisorControl::create_response", fmt("\"reqid\": %s, \"result\": %s",
	    to_json(reqid), to_json(result)));
	}

event SupervisorControl::status_response(reqid: string, result: Supervisor::Status)
	{
	for ( name, ns in result$nodes )
		if ( ns?$pid )
			node_pids[name] = int_to_count(ns$pid);

	fwd("SupervisorControl::status_response", fmt("\"reqid\": %s, \"result\": %s",
	    to_json(reqid), to_json(result)));
	}

event ZeekMgmt::Agent::destroy_sent(reqid: string, node: string)
	{
	if ( node in node_pids )
		{
		destroy_pids[reqid] = node_pids[node];
		delete node_pids[node];
		}
	}

# Zeek's Supervisor answers a destroy as soon as its stem has the request,
# while the node is still shutting down. The agent takes the answer as "the
# node is gone" (a deploy is answered, new nodes reuse the ports), so hand it
# over only once the node's process has exited (or after destroy_wait).
event forward_destroy_response(reqid: string, result: bool, give_up: time)
	{
	if ( reqid in destroy_pids && process_running(destroy_pids[reqid]) && current_time() < give_up )
		{
		schedule 10 msec { forward_destroy_response(reqid, result, give_up) };
		return;
		}

	delete destroy_pids[reqid];
	fwd("SupervisorControl::destroy_response", fmt("\"reqid\": %s, \"result\": %s",
	    to_json(reqid), to_json(result)));
	}

event SupervisorControl::destroy_response(reqid: string, result: bool)
	{
	if ( reqid in destroy_pids && result )
		event forward_destroy_response(reqid, result, current_time() + destroy_wait);
	else
		{
		delete destroy_pids[reqid];
		fwd("SupervisorControl::destroy_response", fmt("\"reqid\": %s, \"result\": %s",
		    to_json(reqid), to_json(result)));
		}
	}

event SupervisorControl::restart_response(reqid: string, result: bool)
	{
	fwd("SupervisorControl::restart_response", fmt("\"reqid\": %s, \"result\": %s",
	    to_json(reqid), to_json(result)));
	}

event Management::Supervisor::API::notify_node_exit(node: string, outputs: Management::NodeOutputs)
	{
	fwd("Management::Supervisor::API::notify_node_exit", fmt("\"node\": %s, \"outputs\": %s",
	    to_json(node), to_json(outputs)));
	}

# ---- transport ----

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	fwd("Broker::peer_added", fmt("\"endpoint\": %s, \"msg\": %s", to_json(endpoint), to_json(msg)));
	}

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
	{
	fwd("Broker::peer_lost", fmt("\"endpoint\": %s, \"msg\": %s", to_json(endpoint), to_json(msg)));
	}

event zeek_init()
	{
	# The process supervisor starts nodes with this process's environment.
	# ZEEK_MANAGEMENT_NODE (AGENT, from boot.zeek) would make them load
	# the Management framework's persistence settings, whose rotation
	# format function clashes with a logger's ("already defined
	# (archiver_rotation_format_func)"). Zeek's Supervisor starts nodes
	# with its own environment, which lacks it.
	if ( use_process_supervisor() )
		setenv("ZEEK_MANAGEMENT_NODE", "");

	if ( ! start(options()) )
		{
		Reporter::error("ZeekMgmt::Agent: the agent could not start");
		exit(1);
		}

	local epi = Management::Agent::endpoint_info();

	# The agent's own topic and the nodes'.
	Broker::subscribe(agent_topic());
	Broker::subscribe(Management::Node::node_topic);

	if ( ! use_process_supervisor() )
		{
		# Peer with the Supervisor, which does not happen on its own, and
		# hear its responses and the Management framework's Supervisor
		# shim. (The process supervisor runs the nodes itself.)
		local sni = supervisor_network_info();
		Broker::peer(sni$address, sni$bound_port, Broker::default_listen_retry);
		Broker::subscribe(SupervisorControl::topic_prefix);
		Broker::subscribe(Management::Supervisor::topic_prefix);
		}

	if ( Management::Agent::controller$address != "0.0.0.0" )
		Broker::peer(Management::Agent::controller$address,
		    Management::Agent::controller$bound_port,
		    Management::connect_retry);

	# The agent always listens: cluster nodes peer with it, and so does
	# the controller when it connects to the agent.
	Broker::listen(cat(epi$network$address), epi$network$bound_port);

	Management::Log::info(fmt("agent is live (ZeekMgmt::Agent), Broker ID %s", Broker::node_id()));
	}

event zeek_done()
	{
	stop();
	}

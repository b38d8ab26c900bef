##! Runs in Zeek's Supervisor: launches the agent as a supervised node whose
##! only script is ./main.zeek (by absolute path: supervised nodes resolve
##! scripts before plugins extend ZEEKPATH). Mirrors
##! policy/frameworks/management/agent/boot.zeek.

@load base/utils/paths

@load policy/frameworks/management/agent/config

# The agent sends its node requests to the Supervisor over Broker.
redef SupervisorControl::enable_listen = T;

# Only local peers need to reach the instance's Supervisor.
redef Broker::default_listen_address = "127.0.0.1";

event zeek_init()
	{
	if ( ! Supervisor::is_supervisor() )
		return;

	local epi = Management::Agent::endpoint_info();
	local sn = Supervisor::NodeConfig($name=epi$id, $bare_mode=T,
		$addl_base_scripts=vector(@DIR + "/main.zeek"));

	local statedir = build_path(Management::get_state_dir(), "nodes");

	if ( ! mkdir(statedir) )
		print(fmt("warning: could not create state dir '%s'", statedir));

	if ( Management::Agent::directory != "" )
		sn$directory = build_path(statedir, Management::Agent::directory);
	else
		sn$directory = build_path(statedir, Management::Agent::get_name());

	if ( ! mkdir(sn$directory) )
		print(fmt("warning: could not create agent state dir '%s'", sn$directory));

	# Output files are managed by the Management framework's Supervisor shim.
	sn$env["ZEEK_MANAGEMENT_NODE"] = "AGENT";

	# The node runs in bare mode, which activates only the plugins asked
	# for: ask for this one (its BIFs and its IO source).
	sn$env["ZEEK_PLUGIN_ACTIVATE"] = "ZeekMgmt::Agent";

	local res = Supervisor::create(sn);

	if ( res != "" )
		{
		print(fmt("error: supervisor could not create agent node: %s", res));
		exit(1);
		}
	}

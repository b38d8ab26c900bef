##! `zeek -j ZeekMgmt/Agent`: the Management framework's cluster agent, with
##! the agent itself in the ZeekMgmt::Agent plugin (the zeek-mgmt-agent
##! library). A drop-in for `zeek -j policy/frameworks/management/agent`:
##! the same boot (the Supervisor runs the agent as a supervised node), the
##! same environment variables and redefinable options, the same topics and
##! events.

# As in Zeek's agent, the Management infrastructure is loaded so that users
# can redef its settings; the agent is launched only in the Supervisor.

@load ./config

@if ( Supervisor::is_supervised() )
@load policy/frameworks/management/agent/config
@endif

@if ( Supervisor::is_supervisor() )
@load policy/frameworks/management/supervisor
@load ./boot
@endif

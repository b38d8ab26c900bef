#include "Plugin.h"

#include "AgentSource.h"
#include "zeek_mgmt_agent.h"

namespace plugin::ZeekMgmt_Agent {
Plugin plugin;
}

using namespace plugin::ZeekMgmt_Agent;

zeek::plugin::Configuration Plugin::Configure() {
    zeek::plugin::Configuration config;
    config.name = "ZeekMgmt::Agent";
    config.description = "Zeek's cluster management agent, hosted in-process (zeek-mgmt-agent library)";
    config.version.major = ZMA_VERSION_MAJOR;
    config.version.minor = ZMA_VERSION_MINOR;
    config.version.patch = ZMA_VERSION_PATCH;
    return config;
}

void Plugin::Done() {
    // Frees the agent (no callback runs after this) before Zeek tears down.
    AgentSource::Shutdown();
    zeek::plugin::Plugin::Done();
}

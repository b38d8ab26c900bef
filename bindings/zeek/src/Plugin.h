// The ZeekMgmt::Agent plugin: the zeek-mgmt-agent library inside Zeek.
#pragma once

#include <zeek/plugin/Plugin.h>

namespace plugin::ZeekMgmt_Agent {

class Plugin : public zeek::plugin::Plugin {
protected:
    zeek::plugin::Configuration Configure() override;
    void Done() override;
};

extern Plugin plugin;

} // namespace plugin::ZeekMgmt_Agent

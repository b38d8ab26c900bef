// Runs the agent library in polled mode inside Zeek's main loop.
#pragma once

#include <cstdint>
#include <string>

#include <zeek/iosource/IOSource.h>

struct zma_agent;

namespace plugin::ZeekMgmt_Agent {

class AgentSource : public zeek::iosource::IOSource {
public:
    // Creates the agent from options JSON and registers the source with
    // Zeek's IO manager. False (with a reporter error) on failure.
    static bool Start(const std::string& options_json);
    // Hands the agent one inbound event (plain or Broker JSON). Returns the
    // library's status code; failures go to the reporter and the log.
    static int Handle(const std::string& event_json);
    // zma_agent_state_json, or "" when there is no agent.
    static std::string State();
    // Frees the agent; idempotent.
    static void Shutdown();

    double GetNextTimeout() override;
    void Process() override;
    const char* Tag() override { return "ZeekMgmt::Agent"; }

    // The agent's clock: monotonic milliseconds since the plugin started.
    static uint64_t NowMs();

private:
    explicit AgentSource(zma_agent* agent);
    ~AgentSource() override;

    zma_agent* agent;
    int fd = -1;
};

} // namespace plugin::ZeekMgmt_Agent

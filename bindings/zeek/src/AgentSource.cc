#include "AgentSource.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include <zeek/Event.h>
#include <zeek/EventRegistry.h>
#include <zeek/Reporter.h>
#include <zeek/Val.h>
#include <zeek/cluster/Backend.h>
#include <zeek/cluster/serializer/broker/Serializer.h>
#include <zeek/iosource/Manager.h>

#include "zeek_mgmt_agent.h"

using namespace plugin::ZeekMgmt_Agent;

namespace {

AgentSource* the_source = nullptr;
zma_agent* the_agent = nullptr;

const auto clock_start = std::chrono::steady_clock::now();

const char* last_error() {
    const char* e = zma_last_error();
    return e ? e : "unknown error";
}

// Library log lines: to the Management framework's log (through the
// script-level event ZeekMgmt::Agent::log, which main.zeek handles with
// Management::Log) and, for warnings and errors, to Zeek's reporter too.
// Without the script handler (or at shutdown) everything goes to the
// reporter, so nothing is lost.
void log_line(int level, const std::string& msg, bool may_queue = true) {
    static zeek::EventHandlerPtr handler = zeek::event_registry->Lookup("ZeekMgmt::Agent::log");
    bool queued = false;
    if ( may_queue && handler && handler->GetFunc() && the_agent ) {
        zeek::event_mgr.Enqueue(handler, zeek::val_mgr->Count(level), zeek::make_intrusive<zeek::StringVal>(msg));
        queued = true;
    }
    if ( level >= ZMA_LOG_ERROR )
        zeek::reporter->Error("ZeekMgmt::Agent: %s", msg.c_str());
    else if ( level >= ZMA_LOG_WARNING )
        zeek::reporter->Warning("ZeekMgmt::Agent: %s", msg.c_str());
    else if ( ! queued )
        zeek::reporter->Info("ZeekMgmt::Agent: %s", msg.c_str());
}

void on_log(void*, int level, const char* message) { log_line(level, message ? message : ""); }

// Zeek's Supervisor answers a destroy_request as soon as it has passed the
// request on to its stem, before the node process is gone. main.zeek holds
// the answer back until then; for that it learns here which node each
// destroy request is about (the agent forgets the node when it sends it).
void note_destroy(const zeek::cluster::Event& ev) {
    static zeek::EventHandlerPtr handler = zeek::event_registry->Lookup("ZeekMgmt::Agent::destroy_sent");
    const auto& args = ev.Args();
    if ( ! handler || ! handler->GetFunc() || args.size() != 2 || args[0]->GetType()->Tag() != zeek::TYPE_STRING ||
         args[1]->GetType()->Tag() != zeek::TYPE_STRING )
        return;
    zeek::event_mgr.Enqueue(handler, args[0], args[1]);
}

// Every library output (response, notification, node dispatch, Supervisor
// request) arrives as Broker JSON with its topic. Zeek's own broker-json-v1
// serializer (the WebSocket format) turns it into a typed cluster::Event,
// with each argument converted to the type the event registry declares
// (`any` fields such as Management::Result$data become Broker::Data, as
// for events from any Broker peer), and the cluster backend publishes it.
void on_event(void*, const char* topic, const char* event_json) {
    static zeek::cluster::detail::BrokerJsonV1_Serializer serializer;
    std::string_view json{event_json};
    auto ev = serializer.UnserializeEvent(
        zeek::byte_buffer_span{reinterpret_cast<const std::byte*>(json.data()), json.size()});
    if ( ! ev ) {
        log_line(ZMA_LOG_ERROR, std::string("cannot convert outbound event on topic ") + topic + ": " +
                                    std::string(json.substr(0, 512)));
        return;
    }
    if ( ev->HandlerName() == "SupervisorControl::destroy_request" )
        note_destroy(*ev);
    if ( ! zeek::cluster::backend || ! zeek::cluster::backend->PublishEvent(topic, *ev) )
        log_line(ZMA_LOG_ERROR,
                 std::string("could not publish ") + std::string(ev->HandlerName()) + " on topic " + topic);
}

} // namespace

uint64_t AgentSource::NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - clock_start)
        .count();
}

AgentSource::AgentSource(zma_agent* a) : agent(a) {}

AgentSource::~AgentSource() = default;

bool AgentSource::Start(const std::string& options_json) {
    if ( the_agent ) {
        zeek::reporter->Error("ZeekMgmt::Agent: the agent is already running");
        return false;
    }
    char* error = nullptr;
    zma_agent* agent = zma_agent_new(options_json.c_str(), &error);
    if ( ! agent ) {
        zeek::reporter->Error("ZeekMgmt::Agent: cannot create the agent: %s", error ? error : last_error());
        zma_string_free(error);
        return false;
    }
    the_agent = agent;
    zma_agent_set_log_callback(agent, on_log, nullptr);
    zma_agent_set_response_callback(agent, on_event, nullptr);
    zma_agent_set_notification_callback(agent, on_event, nullptr);
    zma_agent_set_publish_callback(agent, on_event, nullptr);

    if ( ! the_source ) {
        the_source = new AgentSource(agent);
        // dont_count: the agent alone must not keep Zeek running;
        // lifetime is ours (the object lives until the process ends).
        zeek::iosource_mgr->Register(the_source, true, false);
    }
    the_source->agent = agent;
    the_source->fd = zma_agent_fd(agent);
    if ( the_source->fd >= 0 && ! zeek::iosource_mgr->RegisterFd(the_source->fd, the_source) )
        zeek::reporter->Warning("ZeekMgmt::Agent: could not register the agent's descriptor");
    // Fire anything due at once (and pick up the first deadline).
    zma_agent_poll(agent, NowMs());
    return true;
}

int AgentSource::Handle(const std::string& event_json) {
    if ( ! the_agent ) {
        zeek::reporter->Error("ZeekMgmt::Agent: no agent running (call ZeekMgmt::Agent::start first)");
        return ZMA_ERR_STATE;
    }
    // Bring the agent's clock up to now before it looks at the event.
    zma_agent_poll(the_agent, NowMs());
    int rc = zma_agent_handle_request(the_agent, event_json.c_str());
    if ( rc != ZMA_OK )
        log_line(ZMA_LOG_WARNING, std::string("event refused (") + std::to_string(rc) + "): " + last_error());
    return rc;
}

std::string AgentSource::State() {
    if ( ! the_agent )
        return "";
    char* out = nullptr;
    if ( zma_agent_state_json(the_agent, &out) != ZMA_OK || ! out )
        return "";
    std::string s{out};
    zma_string_free(out);
    return s;
}

void AgentSource::Shutdown() {
    if ( ! the_agent )
        return;
    zma_agent* agent = the_agent;
    if ( the_source ) {
        if ( the_source->fd >= 0 && zeek::iosource_mgr )
            zeek::iosource_mgr->UnregisterFd(the_source->fd, the_source);
        the_source->fd = -1;
        the_source->agent = nullptr;
    }
    the_agent = nullptr;
    zma_agent_free(agent);
}

double AgentSource::GetNextTimeout() {
    if ( ! agent )
        return -1;
    int64_t at = zma_agent_next_timeout_ms(agent);
    if ( at < 0 )
        return -1;
    int64_t now = static_cast<int64_t>(NowMs());
    return at <= now ? 0.0 : static_cast<double>(at - now) / 1000.0;
}

void AgentSource::Process() {
    if ( ! agent )
        return;
    int rc = zma_agent_poll(agent, NowMs());
    if ( rc != ZMA_OK )
        log_line(ZMA_LOG_ERROR, std::string("poll failed (") + std::to_string(rc) + "): " + last_error());
}

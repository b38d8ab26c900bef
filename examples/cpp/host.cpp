// How a C++ host (a Zeek plugin, say) would hold the agent: a small RAII
// wrapper that owns the zma_agent, turns status codes into exceptions and
// takes std::function callbacks. Exceptions never cross into the library:
// the trampolines catch them and hand them back after the call returns.
//
// Build: c++ -std=c++17 host.cpp $(pkg-config --cflags --libs zeek-mgmt-agent)

#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zeek_mgmt_agent.h"

namespace zma {

class Error : public std::runtime_error {
public:
    Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

using EventHandler = std::function<void(std::string_view topic, std::string_view event_json)>;

class Agent {
public:
    explicit Agent(const std::string& options_json) : handlers_(std::make_unique<Handlers>())
    {
        int status = zma_agent_create(options_json.c_str(), &agent_);
        if (status != ZMA_OK) {  // ZMA_ERR_OPTIONS, ZMA_ERR_IO, ...; agent_ is NULL
            const char* message = zma_last_error();
            throw Error(status, message ? message : "unknown error");
        }
    }
    ~Agent() { zma_agent_free(agent_); }
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    void on_response(EventHandler h) { set(zma_agent_set_response_callback, handlers_->response, std::move(h)); }
    void on_notification(EventHandler h) { set(zma_agent_set_notification_callback, handlers_->notification, std::move(h)); }
    void on_publish(EventHandler h) { set(zma_agent_set_publish_callback, handlers_->publish, std::move(h)); }

    void handle(const std::string& event_json) { check(zma_agent_handle_request(agent_, event_json.c_str())); }
    void poll(uint64_t now_ms) { check(zma_agent_poll(agent_, now_ms)); }
    int fd() const { return zma_agent_fd(agent_); }

    std::optional<uint64_t> next_timeout_ms() const
    {
        int64_t t = zma_agent_next_timeout_ms(agent_);
        return t < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(t));
    }

    std::string state() const
    {
        char* json = nullptr;
        check(zma_agent_state_json(agent_, &json));
        std::unique_ptr<char, decltype(&zma_string_free)> owned(json, zma_string_free);
        return owned.get();
    }

private:
    // Stable addresses for the library's user_data pointers.
    struct Slot {
        EventHandler handler;
        std::exception_ptr error;
    };
    struct Handlers {
        Slot response, notification, publish;
    };

    static void trampoline(void* user_data, const char* topic, const char* event_json)
    {
        auto* slot = static_cast<Slot*>(user_data);
        try {
            slot->handler(topic, event_json);
        } catch (...) {
            if (!slot->error)
                slot->error = std::current_exception();
        }
    }

    void set(int (*setter)(zma_agent*, zma_event_fn, void*), Slot& slot, EventHandler handler)
    {
        slot.handler = std::move(handler);
        check(setter(agent_, slot.handler ? trampoline : nullptr, &slot));
    }

    // A status code becomes an exception; so does an exception thrown by a
    // handler during the call.
    void check(int status) const
    {
        for (Slot* slot : {&handlers_->response, &handlers_->notification, &handlers_->publish}) {
            if (slot->error) {
                std::exception_ptr e = slot->error;
                slot->error = nullptr;
                std::rethrow_exception(e);
            }
        }
        if (status != ZMA_OK) {
            const char* message = zma_last_error();
            throw Error(status, message ? message : "unknown error");
        }
    }

    zma_agent* agent_ = nullptr;
    std::unique_ptr<Handlers> handlers_;
};

} // namespace zma

int main()
{
    try {
        zma::Agent agent(R"({"name": "instance-1", "mode": "polled", "dialect": "zeek7",
                             "encoding": "plain", "supervisor": {"kind": "host"}})");
        std::vector<std::string> responses, published;
        agent.on_response([&](std::string_view, std::string_view json) { responses.emplace_back(json); });
        agent.on_publish([&](std::string_view, std::string_view json) { published.emplace_back(json); });

        agent.handle(R"({"event": "agent_welcome_request", "args": {"reqid": "w1"}})");
        agent.handle(R"({"event": "get_nodes_request", "args": {"reqid": "g1"}})");
        std::cout << "published: " << published.at(0) << "\n";
        std::cout << "next deadline: " << agent.next_timeout_ms().value_or(0) << " ms\n";

        // Nobody answers the status request: at the deadline it times out.
        agent.poll(agent.next_timeout_ms().value_or(0));
        for (const auto& r : responses)
            std::cout << "response: " << r << "\n";

        // Refusals are exceptions carrying the library's message.
        try {
            agent.handle(R"({"event": "deploy_request", "args": {"reqid": 5}})");
        } catch (const zma::Error& e) {
            std::cout << "refused (" << e.status() << "): " << e.what() << "\n";
        }
        // An exception in a handler comes back after the call returned.
        agent.on_response([](std::string_view, std::string_view) { throw std::logic_error("handler failed"); });
        try {
            agent.handle(R"({"event": "agent_welcome_request", "args": {"reqid": "w2"}})");
        } catch (const std::logic_error& e) {
            std::cout << "handler exception re-raised: " << e.what() << "\n";
        }
        std::cout << "state: " << agent.state() << "\n";
        bool ok = responses.size() == 2 && responses[1].find("request timed out") != std::string::npos;
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

/*
 * A small C host of zeek-mgmt-agent.
 *
 * It creates an agent in polled mode with a host-delegated Supervisor, hands
 * it a deploy of a four-node cluster, and plays the Zeek Supervisor and the
 * nodes itself: it answers every SupervisorControl request the agent
 * publishes and lets each started node check in. Its event loop waits on the
 * agent's descriptor with poll(2) until the agent's next deadline. It prints
 * every response and exits 0 if the deploy succeeded.
 *
 * Build: cc -std=c11 host.c $(pkg-config --cflags --libs zeek-mgmt-agent)
 *        (or `make examples` in the source tree)
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zeek_mgmt_agent.h"

/* The agent publishes events for the Supervisor and nodes; the main loop
 * answers them after the callback returned. */
#define MAX_QUEUED 64
static char *queued[MAX_QUEUED];
static int queued_count;

static int responses;
static int deploy_successes = -1;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Counts occurrences of `needle` in `text`. */
static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Copies the string value of "key":"..." out of a compact plain-JSON event
 * the agent wrote (names here never contain escaped quotes). */
static int field(const char *json, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (!start)
        return 0;
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (!end || (size_t)(end - start) >= size)
        return 0;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return 1;
}

static void on_response(void *user_data, const char *topic, const char *event_json)
{
    (void)user_data;
    responses++;
    printf("response on %s:\n  %s\n", topic, event_json);
    if (strstr(event_json, "\"Management::Agent::API::deploy_response\""))
        deploy_successes = count(event_json, "\"success\":true") - count(event_json, "\"success\":false") * 100;
}

static void on_notification(void *user_data, const char *topic, const char *event_json)
{
    (void)user_data;
    (void)topic;
    printf("notification: %.100s...\n", event_json);
}

static void on_publish(void *user_data, const char *topic, const char *event_json)
{
    (void)user_data;
    (void)topic;
    if (queued_count < MAX_QUEUED)
        queued[queued_count++] = strdup(event_json);
}

static void on_log(void *user_data, int level, const char *message)
{
    (void)user_data;
    if (level >= ZMA_LOG_WARNING)
        fprintf(stderr, "agent log (%d): %s\n", level, message);
}

/* Hands one event to the agent; reports and fails on refusal. */
static int handle(zma_agent *agent, const char *event_json)
{
    int status = zma_agent_handle_request(agent, event_json);
    if (status != ZMA_OK)
        fprintf(stderr, "refused (%d): %s\n", status, zma_last_error());
    return status;
}

/* Plays the Zeek Supervisor (and the nodes it starts) for one published
 * event. */
static int play(zma_agent *agent, const char *event_json)
{
    char reqid[64], node[64], answer[512];
    if (!field(event_json, "reqid", reqid, sizeof reqid))
        return ZMA_OK;
    if (strstr(event_json, "\"event\":\"SupervisorControl::status_request\"")) {
        snprintf(answer, sizeof answer,
                 "{\"event\":\"SupervisorControl::status_response\","
                 "\"args\":{\"reqid\":\"%s\",\"result\":{\"nodes\":{}}}}", reqid);
        return handle(agent, answer);
    }
    if (strstr(event_json, "\"event\":\"SupervisorControl::create_request\"")
        && field(event_json, "name", node, sizeof node)) {
        snprintf(answer, sizeof answer,
                 "{\"event\":\"SupervisorControl::create_response\","
                 "\"args\":{\"reqid\":\"%s\",\"result\":\"\"}}", reqid);
        int status = handle(agent, answer);
        if (status != ZMA_OK)
            return status;
        /* The node starts and checks in with its agent. */
        snprintf(answer, sizeof answer,
                 "{\"event\":\"Management::Node::API::notify_node_hello\",\"args\":{\"node\":\"%s\"}}", node);
        return handle(agent, answer);
    }
    return ZMA_OK;
}

int main(void)
{
    char state_dir[] = "/tmp/zma-c-host-XXXXXX";
    if (!mkdtemp(state_dir)) {
        perror("mkdtemp");
        return 1;
    }
    char options[512];
    snprintf(options, sizeof options,
             "{\"name\": \"instance-1\", \"mode\": \"polled\", \"dialect\": \"zeek7\","
             " \"encoding\": \"plain\", \"supervisor\": {\"kind\": \"host\"}, \"state_dir\": \"%s\"}",
             state_dir);

    zma_agent *agent = NULL;
    int rc = zma_agent_create(options, &agent);
    if (rc != ZMA_OK) {
        /* The status says what failed (ZMA_ERR_OPTIONS, ZMA_ERR_IO, ...),
         * the message how; agent is NULL. */
        fprintf(stderr, "zma_agent_create (%d): %s\n", rc, zma_last_error());
        return 1;
    }
    printf("zeek-mgmt-agent %s (ABI %u), polled mode, fd %d\n",
           zma_version(), zma_abi_version(), zma_agent_fd(agent));
    zma_agent_set_response_callback(agent, on_response, NULL);
    zma_agent_set_notification_callback(agent, on_notification, NULL);
    zma_agent_set_publish_callback(agent, on_publish, NULL);
    zma_agent_set_log_callback(agent, on_log, NULL);

    uint64_t start = now_ms();
    zma_agent_poll(agent, 0);
    /* The Supervisor peers with the agent (Zeek >= 5.0 waits for that). */
    int status = handle(agent,
        "{\"event\": \"Broker::peer_added\", \"args\": {\"endpoint\": {\"id\": \"supervisor\","
        " \"network\": {\"address\": \"127.0.0.1\", \"bound_port\": \"9999/tcp\"}}, \"msg\": \"hi\"}}");
    status = status ? status : handle(agent,
        "{\"event\": \"deploy_request\", \"args\": {\"reqid\": \"req-deploy\", \"config\": {"
        "\"id\": \"c-host\", \"instances\": [{\"name\": \"instance-1\", \"host\": \"127.0.0.1\"}],"
        "\"nodes\": ["
        " {\"name\": \"logger-01\", \"instance\": \"instance-1\", \"role\": \"LOGGER\", \"p\": 5001},"
        " {\"name\": \"manager\", \"instance\": \"instance-1\", \"role\": \"MANAGER\", \"p\": 5000},"
        " {\"name\": \"worker-01\", \"instance\": \"instance-1\", \"role\": \"WORKER\", \"interface\": \"lo\"},"
        " {\"name\": \"worker-02\", \"instance\": \"instance-1\", \"role\": \"WORKER\", \"interface\": \"lo\"}]}}}");

    /* The event loop: answer what the agent published, then wait on its
     * descriptor until its next deadline, then poll. */
    while (status == ZMA_OK && deploy_successes < 0 && now_ms() - start < 10000) {
        while (queued_count > 0 && status == ZMA_OK) {
            char *event = queued[0];
            memmove(queued, queued + 1, (size_t)(--queued_count) * sizeof queued[0]);
            status = play(agent, event);
            free(event);
        }
        if (status != ZMA_OK || deploy_successes >= 0)
            break;
        int64_t deadline = zma_agent_next_timeout_ms(agent);
        uint64_t now = now_ms() - start;
        int wait = deadline < 0 ? 100 : (deadline > (int64_t)now ? (int)(deadline - (int64_t)now) : 0);
        struct pollfd pfd = { .fd = zma_agent_fd(agent), .events = POLLIN, .revents = 0 };
        poll(&pfd, 1, wait > 100 ? 100 : wait);
        status = zma_agent_poll(agent, now_ms() - start);
    }

    char *state = NULL;
    if (zma_agent_state_json(agent, &state) == ZMA_OK)
        printf("state: %s\n", state);
    zma_string_free(state);
    zma_agent_free(agent);
    while (queued_count > 0)
        free(queued[--queued_count]);

    /* The agent made a directory per node under the state directory. */
    const char *names[] = { "logger-01", "manager", "worker-01", "worker-02" };
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/nodes/%s", state_dir, names[i]);
        rmdir(path);
    }
    snprintf(path, sizeof path, "%s/nodes", state_dir);
    rmdir(path);
    rmdir(state_dir);

    printf("%d responses; deploy: %d nodes running\n", responses, deploy_successes);
    return status == ZMA_OK && deploy_successes == 4 ? 0 : 1;
}

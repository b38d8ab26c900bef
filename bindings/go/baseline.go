package zeekagent

/*
#include <stdint.h>
#include "zeek_mgmt_agent.h"

static void zeekagent_baseline_count(void *user_data, const char *topic, const char *event_json) {
	(void)topic;
	(void)event_json;
	*(uint64_t *)user_data += 1;
}

// The C-level figure the package is measured against: a C host handing
// the agent the same event n times, its response callback counting the
// answers. Returns the number of answers, or a negative status.
static int64_t zeekagent_baseline_loop(zma_agent *agent, const char *event_json, int64_t n) {
	uint64_t answers = 0;
	int status = zma_agent_set_response_callback(agent, zeekagent_baseline_count, &answers);
	if (status != ZMA_OK) return status;
	for (int64_t i = 0; i < n; i++) {
		status = zma_agent_handle_request(agent, event_json);
		if (status != ZMA_OK) break;
	}
	zma_agent_set_response_callback(agent, NULL, NULL);
	return status == ZMA_OK ? (int64_t)answers : status;
}
*/
import "C"

import "runtime"

// baselineRoundTrips runs the C-level baseline on a (dedicated) agent:
// n round trips of event entirely in C. Afterwards the agent's responses
// no longer reach Go; use it for nothing else. For the benchmarks.
func baselineRoundTrips(a *Agent, event []byte, n int) (int64, error) {
	var answers int64
	runtime.LockOSThread() // lastError belongs to this OS thread
	defer runtime.UnlockOSThread()
	err := a.with(func(ptr *C.zma_agent) error {
		text := cBytes(event)
		defer freeCString(text)
		answers = int64(C.zeekagent_baseline_loop(ptr, text, C.int64_t(n)))
		if answers < 0 {
			return newError(int(answers), lastError())
		}
		return nil
	})
	return answers, err
}

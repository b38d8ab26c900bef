package zeekagent

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo !zma_dynamic LDFLAGS: ${SRCDIR}/../../target/release/libzeek_mgmt_agent.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#cgo zma_dynamic LDFLAGS: -L${SRCDIR}/../../target/release -lzeek_mgmt_agent -Wl,-rpath,${SRCDIR}/../../target/release
#include <stdint.h>
#include <stdlib.h>
#include "zeek_mgmt_agent.h"

// The exported Go trampolines (exports.go).
extern void zmaGoEvent(uintptr_t handle, int kind, char *topic, char *event_json);
extern void zmaGoLog(uintptr_t handle, int level, char *message);

// Shims with the C library's callback signatures. user_data carries a
// runtime/cgo.Handle (an integer, never a Go pointer); converting it here,
// in C, keeps unsafe.Pointer arithmetic out of the Go code.
static void zma_shim_response(void *user_data, const char *topic, const char *event_json) {
	zmaGoEvent((uintptr_t)user_data, 0, (char *)topic, (char *)event_json);
}
static void zma_shim_notification(void *user_data, const char *topic, const char *event_json) {
	zmaGoEvent((uintptr_t)user_data, 1, (char *)topic, (char *)event_json);
}
static void zma_shim_publish(void *user_data, const char *topic, const char *event_json) {
	zmaGoEvent((uintptr_t)user_data, 2, (char *)topic, (char *)event_json);
}
static void zma_shim_log(void *user_data, int level, const char *message) {
	zmaGoLog((uintptr_t)user_data, level, (char *)message);
}

// Registers the callbacks with the handle as user_data (agent.go); the log
// callback only when the host wants log records, since every crossing
// from C into Go costs.
int zeekagent_register_callbacks(zma_agent *agent, uintptr_t handle, int with_log) {
	void *user_data = (void *)handle;
	int status = zma_agent_set_response_callback(agent, zma_shim_response, user_data);
	if (status == ZMA_OK) status = zma_agent_set_notification_callback(agent, zma_shim_notification, user_data);
	if (status == ZMA_OK) status = zma_agent_set_publish_callback(agent, zma_shim_publish, user_data);
	if (status == ZMA_OK && with_log) status = zma_agent_set_log_callback(agent, zma_shim_log, user_data);
	return status;
}
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// lastError is zma_last_error, read on the calling OS thread (see call).
func lastError() string {
	message := C.zma_last_error()
	if message == nil {
		return "unknown error"
	}
	return C.GoString(message)
}

// call runs one C call that returns a status, locked to its OS thread so
// that zma_last_error (thread-local in the library) describes this call.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	status := f()
	if status == C.ZMA_OK {
		return nil
	}
	return newError(int(status), lastError())
}

// cString copies a Go string into C memory; free with freeCString.
func cString(s string) *C.char { return C.CString(s) }

// cBytes copies b into C memory with a terminating NUL, in one copy; free
// with freeCString.
func cBytes(b []byte) *C.char {
	text := C.malloc(C.size_t(len(b) + 1))
	buf := unsafe.Slice((*byte)(text), len(b)+1)
	copy(buf, b)
	buf[len(b)] = 0
	return (*C.char)(text)
}

func freeCString(s *C.char) { C.free(unsafe.Pointer(s)) }

// Version is the version of the linked C library (zma_version).
func Version() string { return C.GoString(C.zma_version()) }

// ABIVersion is the ABI version of the linked C library (zma_abi_version);
// this package speaks ABI version 1.
func ABIVersion() uint32 { return uint32(C.zma_abi_version()) }

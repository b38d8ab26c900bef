//! The C ABI that `docs/c-api.md` documents, and nothing else.
//!
//! Conventions (after rustls-ffi):
//! - `zma_agent *` is opaque; `zma_agent_create` (or `zma_agent_new`)
//!   creates it, `zma_agent_free` destroys it; free of NULL does nothing.
//! - Strings passed in are NUL-terminated UTF-8, borrowed for the call only.
//!   Strings returned through `char **` belong to the caller, who releases
//!   them with `zma_string_free`. Strings passed to callbacks are valid only
//!   during the callback.
//! - Every function returning `int` returns `ZMA_OK` (0) or a negative
//!   status; after a failure `zma_last_error()` describes it (thread-local,
//!   valid until the next call on that thread), after success it is NULL.
//! - Every entry point catches panics, and so does the agent's own thread:
//!   a panic anywhere (the engine, the process supervisor, a callback's
//!   delivery, the agent's thread) poisons the agent. The call during which
//!   it happened returns `ZMA_ERR_PANIC`, and so does every later call on
//!   the agent (`zma_agent_fd` and `zma_agent_next_timeout_ms` return -1 and
//!   set `zma_last_error()`); no callback is called any more.
//!   `zma_agent_free` still works and returns promptly.
//! - Every function is safe to call from any thread; calls on one agent are
//!   serialized inside. `zma_agent_free` must not race with other calls on
//!   the same agent.

#![allow(non_camel_case_types)]
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use crate::engine::{AgentError, LogLevel, RefusalKind};
use crate::options::parse_options;
use crate::runtime::{panic_message, panic_text, Agent, Runtime, RuntimeError};
use crate::wire::InputErrorKind;

/// Success.
pub const ZMA_OK: c_int = 0;
/// A required pointer argument was NULL.
pub const ZMA_ERR_NULL: c_int = -1;
/// A string argument was not valid UTF-8.
pub const ZMA_ERR_UTF8: c_int = -2;
/// An event was not JSON.
pub const ZMA_ERR_JSON: c_int = -3;
/// JSON, but not a valid event: unknown name, missing or mistyped
/// argument, a value out of range, or an event the agent does not take.
pub const ZMA_ERR_EVENT: c_int = -4;
/// Not allowed now: polling a threaded agent, a request id already in
/// flight, a closed agent.
pub const ZMA_ERR_STATE: c_int = -5;
/// The options were refused; the message names the key.
pub const ZMA_ERR_OPTIONS: c_int = -6;
/// The operating system refused something the agent needed.
pub const ZMA_ERR_IO: c_int = -7;
/// An internal bug (or a panic anywhere inside: an engine call, a
/// callback's delivery, the agent's own thread) was caught; the agent is
/// poisoned: every later call on it returns this, no callback is called
/// any more, and `zma_agent_free` still works.
pub const ZMA_ERR_PANIC: c_int = -8;
/// Input over a configured size or depth limit.
pub const ZMA_ERR_LIMIT: c_int = -9;

/// Bumped on any incompatible change of this ABI.
pub const ZMA_ABI_VERSION: u32 = 1;
/// The library version, also returned by `zma_version()`.
pub const ZMA_VERSION_MAJOR: u32 = 0;
pub const ZMA_VERSION_MINOR: u32 = 2;
pub const ZMA_VERSION_PATCH: u32 = 0;

/// Log levels passed to the log callback (the Management framework's).
pub const ZMA_LOG_DEBUG: c_int = 10;
pub const ZMA_LOG_INFO: c_int = 20;
pub const ZMA_LOG_WARNING: c_int = 30;
pub const ZMA_LOG_ERROR: c_int = 40;

/// An agent. Opaque; create with `zma_agent_create` (or `zma_agent_new`),
/// destroy with `zma_agent_free`.
pub struct zma_agent {
    agent: Agent,
}

/// Receives an event: `topic` and `event_json` are valid only during the
/// call. `user_data` is what was given when the callback was set.
pub type zma_event_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, topic: *const c_char, event_json: *const c_char),
>;

/// Receives a log line with its level (`ZMA_LOG_*`); `message` is valid only
/// during the call.
pub type zma_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: c_int, message: *const c_char)>;

// ---- errors -----------------------------------------------------------------

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last_error(message: &str) {
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(c_string(message)));
}

fn clear_last_error() {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
}

/// A C string of `s`; interior NUL bytes (which JSON never contains
/// unescaped, but messages might) are written as `\u0000`.
fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        let escaped = s.replace('\0', "\\u0000");
        CString::new(escaped).unwrap_or_default()
    })
}

/// A failure on its way out: status code and message.
struct Failure(c_int, String);

impl From<RuntimeError> for Failure {
    fn from(e: RuntimeError) -> Failure {
        let code = match &e {
            RuntimeError::Agent(AgentError::Input(input)) => match input.kind {
                InputErrorKind::Limit => ZMA_ERR_LIMIT,
                InputErrorKind::Utf8 => ZMA_ERR_UTF8,
                InputErrorKind::Json => ZMA_ERR_JSON,
                InputErrorKind::Event => ZMA_ERR_EVENT,
            },
            RuntimeError::Agent(AgentError::Refused(r)) => match r.kind {
                RefusalKind::DuplicateRequest => ZMA_ERR_STATE,
                RefusalKind::NotForAgent => ZMA_ERR_EVENT,
            },
            RuntimeError::State(_) => ZMA_ERR_STATE,
            RuntimeError::Io(_) => ZMA_ERR_IO,
            RuntimeError::Panic(_) => ZMA_ERR_PANIC,
        };
        Failure(code, e.to_string())
    }
}

/// What an entry point works on: the subject [`entry`] opens before the
/// body runs, and poisons if the body panics.
trait Subject {
    /// What the body gets.
    type Open;
    /// Checks the argument and opens it, or gives the failure to report.
    ///
    /// # Safety
    /// As the implementation says.
    unsafe fn open(self, function: &str) -> Result<Self::Open, Failure>;
    /// A panic was caught while the body ran on `open`.
    fn poison(open: &Self::Open, panic: String);
}

/// No agent: the functions creating one, freeing one, and those that need
/// none (strings, versions).
struct NoAgent;

impl Subject for NoAgent {
    type Open = ();
    unsafe fn open(self, _function: &str) -> Result<(), Failure> {
        Ok(())
    }
    fn poison(_open: &(), _panic: String) {}
}

/// The agent behind a pointer argument: NULL is `ZMA_ERR_NULL`, a poisoned
/// agent `ZMA_ERR_PANIC`, and a panic in the body poisons it. The body gets
/// its own reference-counted handle on the runtime and no reference into
/// the `zma_agent`: a callback may free the agent during the call, and the
/// runtime must outlive the call.
impl Subject for *const zma_agent {
    type Open = Arc<Runtime>;
    /// # Safety
    /// `self` must be NULL or a pointer from `zma_agent_new` or
    /// `zma_agent_create` not yet freed.
    unsafe fn open(self, function: &str) -> Result<Arc<Runtime>, Failure> {
        // SAFETY: the caller guarantees the pointer is NULL or live; the
        // reference lives only for this clone.
        let agent = unsafe { self.as_ref() }
            .ok_or_else(|| Failure(ZMA_ERR_NULL, format!("{function}: agent is NULL")))?;
        let runtime = Arc::clone(agent.agent.runtime());
        if runtime.is_poisoned() {
            return Err(Failure(
                ZMA_ERR_PANIC,
                format!("{function}: {}", runtime.poisoned_message()),
            ));
        }
        Ok(runtime)
    }
    fn poison(runtime: &Arc<Runtime>, panic: String) {
        runtime.poison(Some(panic));
    }
}

/// Whether an entry point takes part in the last-error protocol.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LastError {
    /// `zma_last_error()` is NULL after success and the message after a
    /// failure (a caught panic included).
    Set,
    /// `zma_last_error()` is left alone: the functions that cannot fail
    /// (`zma_last_error` itself, `zma_string_free`, `zma_version`,
    /// `zma_abi_version`, `zma_agent_free`).
    Keep,
}

/// The one way in: every exported `zma_*` function runs its body through
/// here. In order: the panic boundary is set up, the subject is opened
/// (for an agent: the NULL check and the poisoned-agent check), `body`
/// runs; then `zma_last_error()` is cleared or set (as `last_error` says)
/// and the body's value or the status code comes back. A panic anywhere in
/// it, opening the subject included, is caught (it never crosses the C
/// boundary), poisons the agent if one was opened, and is `ZMA_ERR_PANIC`
/// with the panic's message.
///
/// # Safety
/// `subject` as its [`Subject::open`] requires.
unsafe fn entry<S: Subject, T>(
    function: &str,
    subject: S,
    last_error: LastError,
    body: impl FnOnce(&S::Open) -> Result<T, Failure>,
) -> Result<T, c_int> {
    let mut opened: Option<S::Open> = None;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: forwarded contract.
        let open = opened.insert(unsafe { subject.open(function) }?);
        body(open)
    }));
    let (result, message) = match outcome {
        Ok(Ok(value)) => (Ok(value), None),
        Ok(Err(Failure(code, message))) => (Err(code), Some(message)),
        Err(payload) => {
            let text = panic_text(payload.as_ref());
            let message = panic_message(&text);
            if let Some(open) = &opened {
                S::poison(open, text);
            }
            (Err(ZMA_ERR_PANIC), Some(message))
        }
    };
    if last_error == LastError::Set {
        match message {
            None => clear_last_error(),
            Some(message) => set_last_error(&message),
        }
    }
    result
}

/// The status of an entry point returning `int`.
fn status(result: Result<(), c_int>) -> c_int {
    result.err().unwrap_or(ZMA_OK)
}

/// The string behind a pointer argument.
///
/// # Safety
/// `s` must be NULL or point to a NUL-terminated string live for the call.
unsafe fn str_arg<'a>(s: *const c_char, function: &str, what: &str) -> Result<&'a CStr, Failure> {
    if s.is_null() {
        return Err(Failure(ZMA_ERR_NULL, format!("{function}: {what} is NULL")));
    }
    // SAFETY: non-NULL, and the caller guarantees NUL termination.
    Ok(unsafe { CStr::from_ptr(s) })
}

// ---- lifecycle ----------------------------------------------------------------

/// Creates an agent from `options_json` (a JSON object; NULL or `"{}"` for
/// all defaults; see docs/options.md for the keys).
///
/// Returns the agent, owned by the caller until `zma_agent_free`. On failure
/// returns NULL and, if `error_out` is not NULL, stores an owned message
/// there (release it with `zma_string_free`); `zma_last_error()` has it too.
/// Unknown keys, wrong types and impossible values fail with a message that
/// names the key. The status code of the failure is not returned:
/// `zma_agent_create` is the same with the status.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `error_out` is NULL
/// or points to writable storage for one `char *`.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_new(
    options_json: *const c_char,
    error_out: *mut *mut c_char,
) -> *mut zma_agent {
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a writable `char *` slot.
        unsafe { *error_out = ptr::null_mut() };
    }
    const F: &str = "zma_agent_new";
    // SAFETY: NULL or NUL-terminated, by the caller's contract.
    let body = |_: &()| unsafe { create(F, options_json) };
    // SAFETY: no subject to open.
    let created = unsafe { entry(F, NoAgent, LastError::Set, body) };
    match created {
        Ok(agent) => agent,
        Err(_) => {
            if !error_out.is_null() {
                let message = LAST_ERROR.with(|e| e.borrow().clone()).unwrap_or_default();
                // SAFETY: checked non-NULL above; ownership of the string
                // passes to the caller, who frees it with zma_string_free.
                unsafe { *error_out = message.into_raw() };
            }
            ptr::null_mut()
        }
    }
}

/// Creates an agent from `options_json` (a JSON object; NULL or `"{}"` for
/// all defaults; see docs/options.md for the keys) and stores it in `*agent_out`,
/// owned by the caller until `zma_agent_free`.
///
/// Returns `ZMA_OK`, or the status of the failure with `zma_last_error()`
/// describing it: `ZMA_ERR_NULL` (`agent_out` is NULL; nothing is created),
/// `ZMA_ERR_UTF8` (the options are not UTF-8), `ZMA_ERR_OPTIONS` (the
/// options are not a JSON object, or an unknown key, a wrong type or an
/// impossible value: the message names the key), `ZMA_ERR_IO` (the
/// operating system refused something the agent needs: its epoll instance,
/// its thread, a state directory that cannot be created or that another
/// agent holds), `ZMA_ERR_PANIC`. `*agent_out` is set to NULL first, so it
/// is NULL after any failure. The same as `zma_agent_new`, but with the
/// status.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `agent_out` is NULL
/// or points to writable storage for one `zma_agent *`.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_create(
    options_json: *const c_char,
    agent_out: *mut *mut zma_agent,
) -> c_int {
    const F: &str = "zma_agent_create";
    let body = |_: &()| {
        if agent_out.is_null() {
            return Err(Failure(ZMA_ERR_NULL, format!("{F}: agent_out is NULL")));
        }
        // SAFETY: non-NULL, and by the caller's contract writable storage
        // for one `zma_agent *`.
        unsafe { *agent_out = ptr::null_mut() };
        // SAFETY: NULL or NUL-terminated, by the caller's contract.
        let agent = unsafe { create(F, options_json) }?;
        // SAFETY: as above; ownership of the agent passes to the caller,
        // who frees it with zma_agent_free.
        unsafe { *agent_out = agent };
        Ok(())
    };
    // SAFETY: no subject to open.
    status(unsafe { entry(F, NoAgent, LastError::Set, body) })
}

/// The body of `zma_agent_new` and `zma_agent_create`: a new agent from the
/// options, owned by the caller.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string.
unsafe fn create(function: &str, options_json: *const c_char) -> Result<*mut zma_agent, Failure> {
    let options = if options_json.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated by the caller's contract.
        let text = unsafe { CStr::from_ptr(options_json) }
            .to_str()
            .map_err(|e| {
                Failure(
                    ZMA_ERR_UTF8,
                    format!(
                        "{function}: options are not valid UTF-8 (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                )
            })?;
        Some(text)
    };
    let env = |var: &str| std::env::var(var).ok();
    let options = parse_options(options, &env, &random_id)
        .map_err(|e| Failure(ZMA_ERR_OPTIONS, e.to_string()))?;
    let agent = Agent::new(options).map_err(Failure::from)?;
    Ok(Box::into_raw(Box::new(zma_agent { agent })))
}

/// Destroys an agent: stops its thread, stops every node it supervises
/// (unless `"stop_nodes_on_free": false`), and frees it. No callback runs
/// after this returns. Free of NULL does nothing. The agent must not be
/// used by other threads during or after this call.
///
/// # Safety
/// `agent` is NULL or an agent from `zma_agent_create` or `zma_agent_new`
/// not yet freed, which no other thread uses during or after this call.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_free(agent: *mut zma_agent) {
    let body = |_: &()| {
        if agent.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL and, by contract, from zma_agent_create or
        // zma_agent_new and not yet freed; we take back the ownership given
        // out there.
        drop(unsafe { Box::from_raw(agent) });
        Ok(())
    };
    // SAFETY: no subject to open.
    let _ = unsafe { entry("zma_agent_free", NoAgent, LastError::Keep, body) };
}

// ---- callbacks ------------------------------------------------------------------

/// A host pointer handed back to the host's own callback.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: the pointer is never dereferenced here, only passed back to the
// host's callback; docs/c-api.md tells hosts that callbacks may run on the
// agent's thread, so the host makes what it points to usable from there.
unsafe impl Send for UserData {}
// SAFETY: as above; shared references only copy the pointer value.
unsafe impl Sync for UserData {}

fn event_sink(callback: zma_event_fn, user_data: *mut c_void) -> Option<crate::runtime::EventSink> {
    let callback = callback?;
    let user_data = UserData(user_data);
    Some(Arc::new(move |topic: &str, json: &str| {
        let (topic, json) = (c_string(topic), c_string(json));
        let user_data = user_data;
        // SAFETY: a host callback called as docs/c-api.md documents; the strings
        // live until it returns.
        unsafe { callback(user_data.0, topic.as_ptr(), json.as_ptr()) };
    }))
}

/// The body of the `zma_agent_set_*_callback` functions for events.
///
/// # Safety
/// As for `zma_agent_set_response_callback`.
unsafe fn set_event_callback(
    agent: *mut zma_agent,
    function: &str,
    callback: zma_event_fn,
    user_data: *mut c_void,
    pick: fn(&mut crate::runtime::Callbacks) -> &mut Option<crate::runtime::EventSink>,
) -> c_int {
    let body = |rt: &Arc<Runtime>| {
        let sink = event_sink(callback, user_data);
        rt.set_callbacks(|c| *pick(c) = sink);
        Ok(())
    };
    // SAFETY: NULL or live, by the caller's contract.
    status(unsafe { entry(function, agent.cast_const(), LastError::Set, body) })
}

/// Sets (or, with NULL, unsets) the callback for every `*_response` event
/// bound for the controller. It may call back into the library, this agent
/// or any other.
///
/// Replacing a callback (with another or NULL) waits until an invocation of
/// the old one running on another thread has returned: once this returns,
/// the old callback is not running and is never called again, so its
/// `user_data` may be freed. The one exception is a call from inside a
/// callback of this same agent: the old callback may then be the caller's
/// own frame (it cannot be waited for), but it is not called again either.
/// Do not call this while holding a lock that a running callback may wait
/// for. The same holds for every `zma_agent_set_*_callback`.
///
/// # Safety
/// `agent` is NULL or a live agent; `callback`, if set, may be called with
/// `user_data`, from the agent's thread or from any thread calling into the
/// agent, until the call replacing it or `zma_agent_free` returns.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_set_response_callback(
    agent: *mut zma_agent,
    callback: zma_event_fn,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        set_event_callback(
            agent,
            "zma_agent_set_response_callback",
            callback,
            user_data,
            |c| &mut c.response,
        )
    }
}

/// Sets (or unsets) the callback for every `notify_*` event bound for the
/// controller.
///
/// # Safety
/// As for `zma_agent_set_response_callback`.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_set_notification_callback(
    agent: *mut zma_agent,
    callback: zma_event_fn,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        set_event_callback(
            agent,
            "zma_agent_set_notification_callback",
            callback,
            user_data,
            |c| &mut c.notification,
        )
    }
}

/// Sets (or unsets) the callback for everything else the agent sends: node
/// dispatches on `zeek/management/node`, SupervisorControl requests on
/// `zeek/supervisor` (host-delegated Supervisor).
///
/// # Safety
/// As for `zma_agent_set_response_callback`.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_set_publish_callback(
    agent: *mut zma_agent,
    callback: zma_event_fn,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        set_event_callback(
            agent,
            "zma_agent_set_publish_callback",
            callback,
            user_data,
            |c| &mut c.publish,
        )
    }
}

/// Sets (or unsets) the callback for log lines.
///
/// # Safety
/// As for `zma_agent_set_response_callback`.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_set_log_callback(
    agent: *mut zma_agent,
    callback: zma_log_fn,
    user_data: *mut c_void,
) -> c_int {
    let body = |rt: &Arc<Runtime>| {
        let sink: Option<crate::runtime::LogSink> = callback.map(|callback| {
            let user_data = UserData(user_data);
            Arc::new(move |level: LogLevel, message: &str| {
                let message = c_string(message);
                let user_data = user_data;
                // SAFETY: a host callback called as documented; the message
                // lives until it returns.
                unsafe { callback(user_data.0, level as c_int, message.as_ptr()) };
            }) as crate::runtime::LogSink
        });
        rt.set_callbacks(|c| c.log = sink);
        Ok(())
    };
    // SAFETY: NULL or live, by the caller's contract.
    status(unsafe {
        entry(
            "zma_agent_set_log_callback",
            agent.cast_const(),
            LastError::Set,
            body,
        )
    })
}

// ---- events -----------------------------------------------------------------------

/// Hands the agent one inbound event, in Broker JSON or plain JSON:
/// controller requests, node events, Supervisor responses,
/// `Broker::peer_added`. Returns `ZMA_OK` once accepted; answers come
/// through the callbacks, in this call or later. On error nothing changed
/// and nothing was emitted. `event_json` is borrowed for the call.
///
/// # Safety
/// `agent` is NULL or a live agent; `event_json` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_handle_request(
    agent: *mut zma_agent,
    event_json: *const c_char,
) -> c_int {
    const F: &str = "zma_agent_handle_request";
    let body = |rt: &Arc<Runtime>| {
        // SAFETY: NULL or NUL-terminated, by the caller's contract.
        let json = unsafe { str_arg(event_json, F, "event_json") }?;
        // Size, then UTF-8, then JSON: checked in that order inside.
        rt.handle_request(json.to_bytes()).map_err(Failure::from)
    };
    // SAFETY: NULL or live, by the caller's contract.
    status(unsafe { entry(F, agent.cast_const(), LastError::Set, body) })
}

// ---- polled mode --------------------------------------------------------------------

/// Polled mode: advances the agent's clock to `now_ms` (a monotonic
/// millisecond clock of the host's choosing), fires due timers, collects
/// supervisor work, and delivers what results. `ZMA_ERR_STATE` in threaded
/// mode.
///
/// # Safety
/// `agent` is NULL or a live agent.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_poll(agent: *mut zma_agent, now_ms: u64) -> c_int {
    let body = |rt: &Arc<Runtime>| rt.poll(now_ms).map_err(Failure::from);
    // SAFETY: NULL or live, by the caller's contract.
    status(unsafe { entry("zma_agent_poll", agent.cast_const(), LastError::Set, body) })
}

/// Polled mode: the absolute time (in the `now_ms` clock) of the next
/// deadline, or -1 when there is none; always -1 in threaded mode. Also -1
/// for NULL and for a poisoned agent (see `ZMA_ERR_PANIC`): then, and only
/// then, `zma_last_error()` says why.
///
/// # Safety
/// `agent` is NULL or a live agent.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_next_timeout_ms(agent: *const zma_agent) -> i64 {
    let body = |rt: &Arc<Runtime>| {
        Ok(rt
            .next_timeout_ms()
            .map_or(-1, |ms| i64::try_from(ms).unwrap_or(i64::MAX)))
    };
    // SAFETY: NULL or live, by the caller's contract.
    unsafe { entry("zma_agent_next_timeout_ms", agent, LastError::Set, body) }.unwrap_or(-1)
}

/// Polled mode: a descriptor that is readable exactly when `zma_agent_poll`
/// has work (a child exited, output arrived), for the host's event loop.
/// -1 in threaded mode. Also -1 for NULL and for a poisoned agent (see
/// `ZMA_ERR_PANIC`): then, and only then, `zma_last_error()` says why. Owned
/// by the agent: do not close it.
///
/// # Safety
/// `agent` is NULL or a live agent.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_fd(agent: *const zma_agent) -> c_int {
    let body = |rt: &Arc<Runtime>| Ok(rt.fd().unwrap_or(-1));
    // SAFETY: NULL or live, by the caller's contract.
    unsafe { entry("zma_agent_fd", agent, LastError::Set, body) }.unwrap_or(-1)
}

// ---- diagnostics and strings -----------------------------------------------------------

/// Stores a JSON snapshot of the agent's state in `*json_out` (owned by the
/// caller; free with `zma_string_free`): name, dialect, config_id, nodes,
/// pending_requests (see docs/c-api.md).
///
/// # Safety
/// `agent` is NULL or a live agent; `json_out` is NULL or points to writable
/// storage for one `char *`.
#[no_mangle]
pub unsafe extern "C" fn zma_agent_state_json(
    agent: *const zma_agent,
    json_out: *mut *mut c_char,
) -> c_int {
    const F: &str = "zma_agent_state_json";
    let body = |rt: &Arc<Runtime>| {
        if json_out.is_null() {
            return Err(Failure(ZMA_ERR_NULL, format!("{F}: json_out is NULL")));
        }
        let json = c_string(&rt.state_json());
        // SAFETY: checked non-NULL; ownership passes to the caller.
        unsafe { *json_out = json.into_raw() };
        Ok(())
    };
    // SAFETY: NULL or live, by the caller's contract.
    status(unsafe { entry(F, agent, LastError::Set, body) })
}

/// The message of the last failed call on this thread, or NULL after a
/// successful one. Valid until the next call on this thread; do not free.
#[no_mangle]
pub extern "C" fn zma_last_error() -> *const c_char {
    let body =
        |_: &()| Ok(LAST_ERROR.with(|e| e.borrow().as_ref().map_or(ptr::null(), |s| s.as_ptr())));
    // SAFETY: no subject to open.
    unsafe { entry("zma_last_error", NoAgent, LastError::Keep, body) }.unwrap_or(ptr::null())
}

/// Frees a string the library returned through a `char **`. NULL is fine.
///
/// # Safety
/// `s` is NULL or a string this library returned and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn zma_string_free(s: *mut c_char) {
    let body = |_: &()| {
        if s.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL and, by contract, a string this library handed
        // out with CString::into_raw, not freed before.
        drop(unsafe { CString::from_raw(s) });
        Ok(())
    };
    // SAFETY: no subject to open.
    let _ = unsafe { entry("zma_string_free", NoAgent, LastError::Keep, body) };
}

/// The library version, e.g. `"0.2.0"`. Static; do not free.
#[no_mangle]
pub extern "C" fn zma_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    // SAFETY: no subject to open.
    unsafe {
        entry("zma_version", NoAgent, LastError::Keep, |_: &()| {
            Ok(VERSION.as_ptr())
        })
    }
    .unwrap_or(ptr::null())
}

/// The ABI version the library implements (`ZMA_ABI_VERSION` it was built
/// with).
#[no_mangle]
pub extern "C" fn zma_abi_version() -> u32 {
    // SAFETY: no subject to open.
    unsafe {
        entry("zma_abi_version", NoAgent, LastError::Keep, |_: &()| {
            Ok(ZMA_ABI_VERSION)
        })
    }
    .unwrap_or(ZMA_ABI_VERSION)
}

/// Test hook: the agent's next engine call panics, to prove that the
/// boundary catches it. Not part of the C ABI.
#[doc(hidden)]
///
/// # Safety
/// `agent` is NULL or a live agent.
pub unsafe fn zma_test_inject_panic(agent: *mut zma_agent) {
    // SAFETY: test code passes a live agent.
    if let Some(agent) = unsafe { agent.as_ref() } {
        agent.agent.runtime().inject_panic();
    }
}

/// Test hook: the agent's own thread (threaded mode) panics in its next
/// loop iteration, to prove that the panic poisons the agent instead of
/// killing the thread silently. Not part of the C ABI.
#[doc(hidden)]
///
/// # Safety
/// `agent` is NULL or a live agent.
pub unsafe fn zma_test_inject_thread_panic(agent: *mut zma_agent) {
    // SAFETY: test code passes a live agent.
    if let Some(agent) = unsafe { agent.as_ref() } {
        agent.agent.runtime().inject_thread_panic();
    }
}

/// 16 random bytes as hex, for the Broker id and request-id nonces.
fn random_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        // No /dev/urandom: time and pid still tell agent lifetimes apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..8].copy_from_slice(&(nanos as u64).to_le_bytes());
        bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

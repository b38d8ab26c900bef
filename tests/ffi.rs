//! The C ABI, exercised from Rust exactly as a C host uses it: pointers,
//! C strings, callbacks with user_data, status codes, zma_last_error.

#![allow(clippy::missing_safety_doc)]

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeek_mgmt_agent::ffi::*;

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> Option<String> {
    let p = zma_last_error();
    // SAFETY: the library's thread-local message, valid until the next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Creates an agent or panics with the library's message.
fn new_agent(options: &str) -> *mut zma_agent {
    let mut error: *mut c_char = ptr::null_mut();
    let options = cs(options);
    // SAFETY: valid C string and out pointer.
    let agent = unsafe { zma_agent_new(options.as_ptr(), &mut error) };
    if agent.is_null() {
        // SAFETY: an owned message from the library.
        let message = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        unsafe { zma_string_free(error) };
        panic!("zma_agent_new: {message}");
    }
    assert!(error.is_null());
    agent
}

/// Held by the tests creating an agent with the default options: its
/// process supervisor locks the default state directory.
static DEFAULT_STATE_DIR: Mutex<()> = Mutex::new(());

const POLLED_HOST: &str = r#"{"name": "instance-1", "mode": "polled", "dialect": "zeek7", "encoding": "plain",
    "supervisor": {"kind": "host"}, "state_dir": "/tmp/zma-ffi-tests"}"#;

fn handle(agent: *mut zma_agent, json: &str) -> c_int {
    let json = cs(json);
    // SAFETY: a live agent (test contract) and a valid C string.
    unsafe { zma_agent_handle_request(agent, json.as_ptr()) }
}

fn welcome(reqid: &str) -> String {
    format!(r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{reqid}"}}}}"#)
}

fn get_nodes(reqid: &str) -> String {
    format!(r#"{{"event": "get_nodes_request", "args": {{"reqid": "{reqid}"}}}}"#)
}

/// Collects what the agent sends.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, String, String)>>,
    logs: Mutex<Vec<(c_int, String)>>,
    /// When set, the publish callback answers SupervisorControl status
    /// requests right away, from inside the callback (re-entrant).
    answer_status: AtomicBool,
    agent: AtomicPtr<zma_agent>,
    after_free: AtomicBool,
    called_after_free: AtomicUsize,
}

impl Recorder {
    fn responses(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == "response")
            .map(|e| e.2.clone())
            .collect()
    }
}

unsafe fn record(
    user_data: *mut c_void,
    kind: &str,
    topic: *const c_char,
    json: *const c_char,
) -> &'static Recorder {
    // SAFETY: user_data is the Recorder the test registered; it outlives
    // the agent.
    let rec = unsafe { &*(user_data as *const Recorder) };
    if rec.after_free.load(Ordering::SeqCst) {
        rec.called_after_free.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: strings valid during the callback.
    let (topic, json) = unsafe { (CStr::from_ptr(topic), CStr::from_ptr(json)) };
    rec.events.lock().unwrap().push((
        kind.to_owned(),
        topic.to_string_lossy().into_owned(),
        json.to_string_lossy().into_owned(),
    ));
    rec
}

unsafe extern "C" fn on_response(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    unsafe { record(user_data, "response", topic, json) };
}

unsafe extern "C" fn on_notification(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    unsafe { record(user_data, "notification", topic, json) };
}

unsafe extern "C" fn on_publish(user_data: *mut c_void, topic: *const c_char, json: *const c_char) {
    let rec = unsafe { record(user_data, "publish", topic, json) };
    if !rec.answer_status.load(Ordering::SeqCst) {
        return;
    }
    // SAFETY: valid during the callback.
    let json = unsafe { CStr::from_ptr(json) }.to_string_lossy();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    if value["event"] == "SupervisorControl::status_request" {
        let reqid = value["args"]["reqid"].as_str().unwrap();
        let answer = format!(
            r#"{{"event": "SupervisorControl::status_response", "args": {{"reqid": "{reqid}", "result": {{"nodes": {{}}}}}}}}"#
        );
        // Re-entrant: the library must not hold a lock here.
        assert_eq!(handle(rec.agent.load(Ordering::SeqCst), &answer), ZMA_OK);
    }
}

unsafe extern "C" fn on_log(user_data: *mut c_void, level: c_int, message: *const c_char) {
    // SAFETY: as above.
    let rec = unsafe { &*(user_data as *const Recorder) };
    let message = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    rec.logs.lock().unwrap().push((level, message));
}

fn attach(agent: *mut zma_agent, rec: &Recorder) {
    let ud = rec as *const Recorder as *mut c_void;
    rec.agent.store(agent, Ordering::SeqCst);
    // SAFETY: live agent, C callbacks, user_data outliving the agent.
    unsafe {
        assert_eq!(
            zma_agent_set_response_callback(agent, Some(on_response), ud),
            ZMA_OK
        );
        assert_eq!(
            zma_agent_set_notification_callback(agent, Some(on_notification), ud),
            ZMA_OK
        );
        assert_eq!(
            zma_agent_set_publish_callback(agent, Some(on_publish), ud),
            ZMA_OK
        );
        assert_eq!(zma_agent_set_log_callback(agent, Some(on_log), ud), ZMA_OK);
    }
}

#[test]
fn null_pointers_are_refused_everywhere() {
    let agent = new_agent(POLLED_HOST);
    let json = cs(&welcome("r"));
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: every call passes NULL where the library must check for it.
    unsafe {
        assert_eq!(
            zma_agent_handle_request(ptr::null_mut(), json.as_ptr()),
            ZMA_ERR_NULL
        );
        assert_eq!(
            last_error().as_deref(),
            Some("zma_agent_handle_request: agent is NULL")
        );
        assert_eq!(zma_agent_handle_request(agent, ptr::null()), ZMA_ERR_NULL);
        assert_eq!(
            last_error().as_deref(),
            Some("zma_agent_handle_request: event_json is NULL")
        );
        assert_eq!(
            zma_agent_set_response_callback(ptr::null_mut(), Some(on_response), ptr::null_mut()),
            ZMA_ERR_NULL
        );
        assert_eq!(
            zma_agent_set_notification_callback(ptr::null_mut(), None, ptr::null_mut()),
            ZMA_ERR_NULL
        );
        assert_eq!(
            zma_agent_set_publish_callback(ptr::null_mut(), None, ptr::null_mut()),
            ZMA_ERR_NULL
        );
        assert_eq!(
            zma_agent_set_log_callback(ptr::null_mut(), None, ptr::null_mut()),
            ZMA_ERR_NULL
        );
        assert_eq!(zma_agent_poll(ptr::null_mut(), 0), ZMA_ERR_NULL);
        assert_eq!(zma_agent_state_json(ptr::null(), &mut out), ZMA_ERR_NULL);
        assert_eq!(zma_agent_state_json(agent, ptr::null_mut()), ZMA_ERR_NULL);
        assert_eq!(
            last_error().as_deref(),
            Some("zma_agent_state_json: json_out is NULL")
        );
        assert_eq!(zma_agent_next_timeout_ms(ptr::null()), -1);
        assert_eq!(zma_agent_fd(ptr::null()), -1);
        zma_agent_free(ptr::null_mut());
        zma_string_free(ptr::null_mut());
        // NULL options mean all defaults; NULL error_out is fine.
        let default_state_dir = DEFAULT_STATE_DIR.lock().unwrap();
        let defaults = zma_agent_new(ptr::null(), ptr::null_mut());
        assert!(!defaults.is_null());
        zma_agent_free(defaults);
        drop(default_state_dir);
        // Unsetting callbacks with NULL is allowed.
        assert_eq!(
            zma_agent_set_response_callback(agent, None, ptr::null_mut()),
            ZMA_OK
        );
        zma_agent_free(agent);
    }
}

#[test]
fn last_error_is_set_on_failure_and_cleared_on_success() {
    let agent = new_agent(POLLED_HOST);
    assert_eq!(handle(agent, "{"), ZMA_ERR_JSON);
    assert!(last_error().unwrap().starts_with("event is not JSON"));
    assert_eq!(handle(agent, &welcome("w")), ZMA_OK);
    assert_eq!(last_error(), None);
    unsafe { zma_agent_free(agent) };
}

#[test]
fn every_status_code_is_reachable() {
    let agent = new_agent(&POLLED_HOST.replace(
        "\"mode\": \"polled\"",
        "\"mode\": \"polled\", \"max_event_bytes\": 4096",
    ));
    assert_eq!(handle(agent, &welcome("ok")), ZMA_OK);
    // UTF-8: bytes that are not.
    let bad = CString::new(vec![b'{', 0xff, b'}']).unwrap();
    assert_eq!(
        unsafe { zma_agent_handle_request(agent, bad.as_ptr()) },
        ZMA_ERR_UTF8
    );
    assert!(last_error().unwrap().contains("not valid UTF-8"));
    assert_eq!(handle(agent, "not json"), ZMA_ERR_JSON);
    assert_eq!(
        handle(agent, r#"{"event": "no_such_event", "args": {}}"#),
        ZMA_ERR_EVENT
    );
    assert_eq!(
        last_error().as_deref(),
        Some("unknown event 'no_such_event'")
    );
    // A Broker count that is negative, even in an int field: refused while
    // the event is read, naming the field.
    let deploy = {
        use zeek_mgmt_agent::model::{ClusterRole, Configuration, Node};
        use zeek_mgmt_agent::wire::{encode, Dialect, Encoding, Event};
        let mut node = Node::new("w1", "instance-1", ClusterRole::Worker);
        node.cpu_affinity = Some(7);
        let event = Event::DeployRequest {
            reqid: "d".into(),
            config: Configuration {
                id: "c".into(),
                instances: Vec::new(),
                nodes: vec![node],
            },
            force: false,
        };
        encode(&event, "t", Encoding::Broker, Dialect::Zeek7).replace(
            r#"{"@data-type": "integer", "data": 7}"#,
            r#"{"@data-type": "count", "data": -1}"#,
        )
    };
    assert!(deploy.contains(r#""data": -1}"#));
    assert_eq!(handle(agent, &deploy), ZMA_ERR_EVENT);
    assert_eq!(
        last_error().as_deref(),
        Some("deploy_request: argument 'config': nodes[0].cpu_affinity: count -1 is negative")
    );
    assert_eq!(
        unsafe { zma_agent_next_timeout_ms(agent) },
        -1,
        "nothing started"
    );
    assert_eq!(handle(agent, &"x".repeat(5000)), ZMA_ERR_LIMIT);
    assert_eq!(
        handle(agent, &format!("{}{}", "[".repeat(100), "]".repeat(100))),
        ZMA_ERR_LIMIT
    );
    // STATE: a request id in flight.
    assert_eq!(handle(agent, &get_nodes("g")), ZMA_OK);
    assert_eq!(handle(agent, &get_nodes("g")), ZMA_ERR_STATE);
    assert_eq!(
        last_error().as_deref(),
        Some("get_nodes_request: request id 'g' is already in flight")
    );
    // OPTIONS.
    let mut error: *mut c_char = ptr::null_mut();
    let options = cs(r#"{"mode": "sideways"}"#);
    assert!(unsafe { zma_agent_new(options.as_ptr(), &mut error) }.is_null());
    let message = unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        message,
        "option 'mode': 'sideways' is not one of threaded, polled"
    );
    assert_eq!(last_error().as_deref(), Some(message.as_str()));
    unsafe { zma_string_free(error) };
    let bad = CString::new(vec![0xc3, 0x28]).unwrap();
    assert!(unsafe { zma_agent_new(bad.as_ptr(), ptr::null_mut()) }.is_null());
    assert!(last_error().unwrap().contains("not valid UTF-8"));
    unsafe { zma_agent_free(agent) };
    // STATE: polling a threaded agent. PANIC and IO have their own tests.
    let threaded = new_agent(r#"{"mode": "threaded", "supervisor": {"kind": "host"}}"#);
    assert_eq!(unsafe { zma_agent_poll(threaded, 0) }, ZMA_ERR_STATE);
    assert_eq!(
        last_error().as_deref(),
        Some("zma_agent_poll: the agent runs in threaded mode")
    );
    assert_eq!(unsafe { zma_agent_fd(threaded) }, -1);
    assert_eq!(unsafe { zma_agent_next_timeout_ms(threaded) }, -1);
    unsafe { zma_agent_free(threaded) };
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn the_os_refusing_a_descriptor_is_an_io_error() {
    // Lowering the descriptor limit affects the whole process, so the check
    // runs in a child: this test binary again, running only the helper.
    if std::env::var_os("ZMA_FFI_IO_CHILD").is_some() {
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 1024,
        };
        // SAFETY: a plain syscall with a valid struct, in a child process.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let options = cs(r#"{"mode": "polled"}"#);
        let agent = unsafe { zma_agent_new(options.as_ptr(), ptr::null_mut()) };
        assert!(agent.is_null());
        let message = last_error().unwrap();
        assert!(
            message.starts_with("cannot create the agent's poller"),
            "{message}"
        );
        std::process::exit(42);
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "the_os_refusing_a_descriptor_is_an_io_error",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZMA_FFI_IO_CHILD", "1")
        // Under AddressSanitizer, LeakSanitizer's exit check needs
        // descriptors the child no longer has; leaks are checked in the
        // parent and every other test.
        .env("ASAN_OPTIONS", "detect_leaks=0")
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "the child saw ZMA_ERR_IO's message"
    );
}

#[test]
fn a_panic_inside_poisons_the_agent_and_never_crosses_the_boundary() {
    let rec = Recorder::default();
    let agent = new_agent(POLLED_HOST);
    attach(agent, &rec);
    unsafe { zma_test_inject_panic(agent) };
    assert_eq!(handle(agent, &welcome("w")), ZMA_ERR_PANIC);
    assert!(last_error()
        .unwrap()
        .starts_with("internal error (panic: panic injected by a test)"));
    // Poisoned: everything refuses, free still works.
    assert_eq!(handle(agent, &welcome("w2")), ZMA_ERR_PANIC);
    assert_eq!(unsafe { zma_agent_poll(agent, 1) }, ZMA_ERR_PANIC);
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { zma_agent_state_json(agent, &mut out) },
        ZMA_ERR_PANIC
    );
    assert_eq!(
        unsafe { zma_agent_set_log_callback(agent, None, ptr::null_mut()) },
        ZMA_ERR_PANIC
    );
    assert!(rec.responses().is_empty());
    unsafe { zma_agent_free(agent) };
}

#[test]
fn polled_mode_runs_on_the_hosts_clock() {
    let rec = Recorder::default();
    let agent = new_agent(POLLED_HOST);
    attach(agent, &rec);
    let fd = unsafe { zma_agent_fd(agent) };
    assert!(fd >= 0);
    // Miri cannot poll an epoll descriptor; native runs check it.
    if !cfg!(miri) {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        assert_eq!(
            unsafe { libc::poll(&mut pfd, 1, 0) },
            0,
            "nothing to do yet"
        );
    }
    assert_eq!(unsafe { zma_agent_next_timeout_ms(agent) }, -1);
    assert_eq!(unsafe { zma_agent_poll(agent, 1000) }, ZMA_OK);
    assert_eq!(handle(agent, &get_nodes("g1")), ZMA_OK);
    assert_eq!(unsafe { zma_agent_next_timeout_ms(agent) }, 6000);
    let mut state = ptr::null_mut();
    assert_eq!(unsafe { zma_agent_state_json(agent, &mut state) }, ZMA_OK);
    let json: serde_json::Value =
        serde_json::from_str(&unsafe { CStr::from_ptr(state) }.to_string_lossy()).unwrap();
    unsafe { zma_string_free(state) };
    assert_eq!(
        json["pending_requests"][0],
        serde_json::json!({"id": "g1", "kind": "get_nodes", "deadline_ms": 6000})
    );
    assert_eq!(unsafe { zma_agent_poll(agent, 5999) }, ZMA_OK);
    assert!(rec.responses().is_empty());
    assert_eq!(unsafe { zma_agent_poll(agent, 6000) }, ZMA_OK);
    let responses = rec.responses();
    assert_eq!(responses.len(), 1);
    assert!(responses[0].contains("request timed out"));
    assert_eq!(unsafe { zma_agent_next_timeout_ms(agent) }, -1);
    // Every event went to its callback, logs too.
    let kinds: Vec<String> = rec
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.0.clone())
        .collect();
    assert_eq!(kinds, ["publish", "response"]);
    assert!(rec
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|(level, m)| *level == ZMA_LOG_INFO && m.contains("timed out")));
    unsafe { zma_agent_free(agent) };
}

#[test]
fn threaded_mode_fires_timers_on_its_own_thread() {
    let rec = Recorder::default();
    let agent = new_agent(
        r#"{"mode": "threaded", "request_timeout_ms": 30, "supervisor": {"kind": "host"}}"#,
    );
    attach(agent, &rec);
    assert_eq!(handle(agent, &get_nodes("g1")), ZMA_OK);
    let started = Instant::now();
    while rec.responses().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let responses = rec.responses();
    assert_eq!(responses.len(), 1, "the timeout fired without the host");
    assert!(responses[0].contains("request timed out"));
    unsafe { zma_agent_free(agent) };
}

#[test]
fn callbacks_may_call_back_into_the_agent() {
    let rec = Recorder::default();
    rec.answer_status.store(true, Ordering::SeqCst);
    let agent = new_agent(POLLED_HOST);
    attach(agent, &rec);
    assert_eq!(handle(agent, &get_nodes("g1")), ZMA_OK);
    // The status request was answered from inside the publish callback, and
    // the resulting response delivered before handle_request returned.
    let responses = rec.responses();
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert!(responses[0].contains("\"success\":true"));
    unsafe { zma_agent_free(agent) };
}

#[test]
fn eight_threads_at_once_get_exactly_one_answer_per_request() {
    for mode in ["threaded", "polled"] {
        let rec = Arc::new(Recorder::default());
        rec.answer_status.store(true, Ordering::SeqCst);
        let agent = new_agent(&format!(
            r#"{{"mode": "{mode}", "encoding": "plain", "supervisor": {{"kind": "host"}}}}"#
        ));
        attach(agent, &rec);
        let shared = AtomicPtr::new(agent);
        // Miri runs this interpreted: fewer requests, the same races.
        let per_thread = if cfg!(miri) { 8 } else { 500 };
        std::thread::scope(|s| {
            for t in 0..8 {
                let agent = shared.load(Ordering::SeqCst) as usize;
                s.spawn(move || {
                    let agent = agent as *mut zma_agent;
                    for i in 0..per_thread {
                        let request = if i % 2 == 0 {
                            welcome(&format!("t{t}-{i}"))
                        } else {
                            get_nodes(&format!("t{t}-{i}"))
                        };
                        assert_eq!(handle(agent, &request), ZMA_OK, "{:?}", last_error());
                    }
                });
            }
        });
        // Answers may come after the calls return (the agent's own thread
        // may be the one delivering): wait for them to settle.
        let started = Instant::now();
        while rec.responses().len() < 8 * per_thread && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut per_reqid: HashMap<String, usize> = HashMap::new();
        for response in rec.responses() {
            let v: serde_json::Value = serde_json::from_str(&response).unwrap();
            *per_reqid
                .entry(v["args"]["reqid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert_eq!(
            per_reqid.len(),
            8 * per_thread,
            "{mode}: every request answered"
        );
        assert!(per_reqid.values().all(|n| *n == 1), "{mode}: exactly once");
        unsafe { zma_agent_free(agent) };
    }
}

unsafe extern "C" fn free_from_callback(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    let rec = unsafe { record(user_data, "response", topic, json) };
    let agent = rec.agent.swap(ptr::null_mut(), Ordering::SeqCst);
    unsafe { zma_agent_free(agent) };
}

#[test]
fn an_agent_may_be_freed_from_its_own_callback() {
    for options in [
        POLLED_HOST,
        r#"{"mode": "threaded", "request_timeout_ms": 20, "supervisor": {"kind": "host"}}"#,
    ] {
        let rec = Recorder::default();
        let agent = new_agent(options);
        rec.agent.store(agent, Ordering::SeqCst);
        let ud = &rec as *const Recorder as *mut c_void;
        unsafe { zma_agent_set_response_callback(agent, Some(free_from_callback), ud) };
        if options.contains("polled") {
            assert_eq!(handle(agent, &welcome("w")), ZMA_OK);
        } else {
            assert_eq!(handle(agent, &get_nodes("g")), ZMA_OK); // answered by the thread
            let started = Instant::now();
            while !rec.agent.load(Ordering::SeqCst).is_null()
                && started.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        assert!(
            rec.agent.load(Ordering::SeqCst).is_null(),
            "freed inside the callback"
        );
        assert_eq!(rec.responses().len(), 1);
    }
}

unsafe extern "C" fn slow_response(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    std::thread::sleep(Duration::from_millis(2));
    unsafe { record(user_data, "response", topic, json) };
}

#[test]
fn free_while_the_thread_is_busy_stops_every_callback() {
    let rec = Recorder::default();
    let agent = new_agent(
        r#"{"mode": "threaded", "request_timeout_ms": 100, "supervisor": {"kind": "host"}}"#,
    );
    rec.agent.store(agent, Ordering::SeqCst);
    let ud = &rec as *const Recorder as *mut c_void;
    unsafe { zma_agent_set_response_callback(agent, Some(slow_response), ud) };
    for i in 0..200 {
        assert_eq!(handle(agent, &get_nodes(&format!("g{i}"))), ZMA_OK);
    }
    // At 100 ms the agent's thread starts delivering 200 timeouts, 2 ms each.
    let started = Instant::now();
    while rec.responses().len() < 5 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    unsafe { zma_agent_free(agent) };
    rec.after_free.store(true, Ordering::SeqCst);
    let delivered = rec.responses().len();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        rec.called_after_free.load(Ordering::SeqCst),
        0,
        "no callback after free returned"
    );
    assert_eq!(rec.responses().len(), delivered);
    // Natively the thread is still mid-delivery when free comes (Miri runs
    // too slowly for that timing to hold).
    if !cfg!(miri) {
        assert!(
            delivered < 200,
            "free stopped the delivery midway ({delivered} of 200)"
        );
    }
}

#[test]
fn version_and_abi() {
    let version = unsafe { CStr::from_ptr(zma_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        format!("{ZMA_VERSION_MAJOR}.{ZMA_VERSION_MINOR}.{ZMA_VERSION_PATCH}"),
        env!("CARGO_PKG_VERSION"),
        "the header's version macros follow Cargo.toml"
    );
    assert_eq!(zma_abi_version(), ZMA_ABI_VERSION);
}

#[test]
fn log_messages_with_nul_bytes_reach_c_intact() {
    let rec = Recorder::default();
    let agent = new_agent(POLLED_HOST);
    attach(agent, &rec);
    // A configuration id with a NUL byte is logged; C sees it escaped.
    let deploy = r#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "a\u0000b",
        "instances": [{"name": "instance-1", "host": "127.0.0.1"}],
        "nodes": [{"name": "bad name", "instance": "instance-1", "role": "WORKER"}]}}}"#;
    assert_eq!(handle(agent, deploy), ZMA_OK);
    let logs = rec.logs.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|(_, m)| m.contains("configuration a\\u0000b refused")),
        "{logs:?}"
    );
    unsafe { zma_agent_free(agent) };
}

/// Two agents; A's response callback hands B a request, and B's hands A
/// one back.
#[derive(Default)]
struct TwoAgents {
    a: Recorder,
    b: Recorder,
    /// B's responses as A's callback saw them right after B took its
    /// request.
    b_answers_seen_inside: Mutex<Option<usize>>,
}

unsafe extern "C" fn a_calls_b(user_data: *mut c_void, topic: *const c_char, json: *const c_char) {
    // SAFETY: user_data is the test's TwoAgents, which outlives both agents.
    let two = unsafe { &*(user_data as *const TwoAgents) };
    unsafe {
        record(
            &two.a as *const Recorder as *mut c_void,
            "response",
            topic,
            json,
        )
    };
    if two.a.responses().len() == 1 {
        let b = two.b.agent.load(Ordering::SeqCst);
        assert_eq!(handle(b, &welcome("b1")), ZMA_OK);
        *two.b_answers_seen_inside.lock().unwrap() = Some(two.b.responses().len());
    }
}

unsafe extern "C" fn b_calls_a(user_data: *mut c_void, topic: *const c_char, json: *const c_char) {
    // SAFETY: as above.
    let two = unsafe { &*(user_data as *const TwoAgents) };
    unsafe {
        record(
            &two.b as *const Recorder as *mut c_void,
            "response",
            topic,
            json,
        )
    };
    // Back into A, whose callback is further up this stack: re-entrant for
    // A, so it only queues; A's delivery up the stack sends the answer.
    let a = two.a.agent.load(Ordering::SeqCst);
    assert_eq!(handle(a, &welcome("a2")), ZMA_OK);
    assert_eq!(two.a.responses().len(), 1, "A's callback is not nested");
}

#[test]
fn a_callback_of_one_agent_may_call_another() {
    let two = TwoAgents::default();
    let a = new_agent(POLLED_HOST);
    let b = new_agent(POLLED_HOST);
    two.a.agent.store(a, Ordering::SeqCst);
    two.b.agent.store(b, Ordering::SeqCst);
    let ud = &two as *const TwoAgents as *mut c_void;
    // SAFETY: live agents, C callbacks, user_data outliving the agents.
    unsafe {
        assert_eq!(
            zma_agent_set_response_callback(a, Some(a_calls_b), ud),
            ZMA_OK
        );
        assert_eq!(
            zma_agent_set_response_callback(b, Some(b_calls_a), ud),
            ZMA_OK
        );
    }
    assert_eq!(handle(a, &welcome("a1")), ZMA_OK);
    // Being inside a callback of A is no reason to hold back B's answers:
    // B delivers them before its handle_request returns, and nothing later
    // is needed to get them out.
    assert_eq!(
        *two.b_answers_seen_inside.lock().unwrap(),
        Some(1),
        "B answered before its handle_request returned into A's callback"
    );
    assert_eq!(two.b.responses().len(), 1);
    // A's answer to B's callback came once A's callback had returned.
    let a_answers = two.a.responses();
    assert_eq!(a_answers.len(), 2, "{a_answers:?}");
    assert!(a_answers[1].contains("\"reqid\":\"a2\""), "{a_answers:?}");
    unsafe {
        zma_agent_free(a);
        zma_agent_free(b);
    }
}

/// A callback that takes its time, watched by the test.
#[derive(Default)]
struct Slow {
    started: AtomicUsize,
    running: AtomicBool,
    finished: AtomicUsize,
    /// Set once the callback was replaced.
    replaced: AtomicBool,
    called_after_replace: AtomicUsize,
}

unsafe extern "C" fn slow_old_callback(
    user_data: *mut c_void,
    _topic: *const c_char,
    _json: *const c_char,
) {
    // SAFETY: user_data is the test's Slow, which outlives the agent.
    let slow = unsafe { &*(user_data as *const Slow) };
    if slow.replaced.load(Ordering::SeqCst) {
        slow.called_after_replace.fetch_add(1, Ordering::SeqCst);
    }
    slow.running.store(true, Ordering::SeqCst);
    slow.started.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    slow.running.store(false, Ordering::SeqCst);
    slow.finished.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn replacing_a_callback_waits_for_the_old_one_to_return() {
    let slow = Slow::default();
    let rec = Recorder::default();
    let agent = new_agent(
        r#"{"mode": "threaded", "request_timeout_ms": 20, "supervisor": {"kind": "host"}}"#,
    );
    let old_ud = &slow as *const Slow as *mut c_void;
    // SAFETY: a live agent, a C callback, user_data outliving the agent.
    unsafe { zma_agent_set_response_callback(agent, Some(slow_old_callback), old_ud) };
    assert_eq!(handle(agent, &get_nodes("g1")), ZMA_OK);
    // After 20 ms the agent's thread delivers the timeout to the slow
    // callback; replace it from this thread while it runs.
    let started = Instant::now();
    while slow.started.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        slow.started.load(Ordering::SeqCst),
        1,
        "the old callback ran"
    );
    let new_ud = &rec as *const Recorder as *mut c_void;
    assert_eq!(
        unsafe { zma_agent_set_response_callback(agent, Some(on_response), new_ud) },
        ZMA_OK
    );
    slow.replaced.store(true, Ordering::SeqCst);
    // The host may free the old user_data now: the old callback is done.
    assert!(
        !slow.running.load(Ordering::SeqCst) && slow.finished.load(Ordering::SeqCst) == 1,
        "set_response_callback returned while the old callback still ran on the agent's thread"
    );
    // And it is never called again: answers go to the new one.
    assert_eq!(handle(agent, &welcome("w")), ZMA_OK);
    assert_eq!(handle(agent, &get_nodes("g2")), ZMA_OK);
    let started = Instant::now();
    while rec.responses().len() < 2 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(rec.responses().len(), 2, "{:?}", rec.responses());
    assert_eq!(slow.called_after_replace.load(Ordering::SeqCst), 0);
    unsafe { zma_agent_free(agent) };
}

unsafe extern "C" fn replace_itself(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    let rec = unsafe { record(user_data, "response", topic, json) };
    let agent = rec.agent.load(Ordering::SeqCst);
    // The old callback is this very frame: waiting for it would never end.
    assert_eq!(
        unsafe { zma_agent_set_response_callback(agent, Some(on_response), user_data) },
        ZMA_OK
    );
}

#[test]
fn a_callback_may_replace_itself() {
    let rec = Arc::new(Recorder::default());
    let agent = new_agent(POLLED_HOST);
    rec.agent.store(agent, Ordering::SeqCst);
    let ud = Arc::as_ptr(&rec) as *mut c_void;
    unsafe { zma_agent_set_response_callback(agent, Some(replace_itself), ud) };
    // On a thread of its own, so that a deadlock fails the test instead of
    // hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    let shared = agent as usize;
    let keep = Arc::clone(&rec);
    std::thread::spawn(move || {
        let agent = shared as *mut zma_agent;
        let _ = done.send((handle(agent, &welcome("w1")), handle(agent, &welcome("w2"))));
        drop(keep);
    });
    let statuses = finished
        .recv_timeout(Duration::from_secs(20))
        .expect("a callback replacing itself deadlocked");
    assert_eq!(statuses, (ZMA_OK, ZMA_OK));
    assert_eq!(rec.responses().len(), 2);
    unsafe { zma_agent_free(agent) };
}

/// `zma_agent_create` with a fresh out-pointer slot holding a marker: the
/// status, the slot afterwards, and `zma_last_error()`.
fn create(options: Option<&[u8]>) -> (c_int, *mut zma_agent, Option<String>) {
    let options = options.map(|o| CString::new(o).unwrap());
    let marker = 0x1 as *mut zma_agent; // never a real agent: not aligned
    let mut out = marker;
    let options_ptr = options.as_ref().map_or(ptr::null(), |o| o.as_ptr());
    // SAFETY: NULL or a valid C string, and a writable slot.
    let status = unsafe { zma_agent_create(options_ptr, &mut out) };
    assert_ne!(out, marker, "*agent_out is written on success and failure");
    (status, out, last_error())
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zma-ffi-create-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn agent_create_returns_the_agent_and_ok() {
    let (status, agent, message) = create(Some(POLLED_HOST.as_bytes()));
    assert_eq!(status, ZMA_OK);
    assert!(!agent.is_null());
    assert_eq!(message, None, "zma_last_error() is NULL after success");
    // A working agent, freed as any other.
    assert_eq!(handle(agent, &welcome("w")), ZMA_OK);
    unsafe { zma_agent_free(agent) };
}

#[test]
fn agent_create_with_null_options_gives_the_defaults() {
    let default_state_dir = DEFAULT_STATE_DIR.lock().unwrap();
    let (status, agent, message) = create(None);
    assert_eq!(status, ZMA_OK, "{message:?}");
    assert!(!agent.is_null());
    let mut json: *mut c_char = ptr::null_mut();
    assert_eq!(unsafe { zma_agent_state_json(agent, &mut json) }, ZMA_OK);
    let state = unsafe { CStr::from_ptr(json) }
        .to_string_lossy()
        .into_owned();
    unsafe { zma_string_free(json) };
    assert!(state.contains(r#""dialect":"seed""#), "{state}");
    unsafe { zma_agent_free(agent) };
    drop(default_state_dir);
}

#[test]
fn agent_create_with_a_null_out_pointer_is_null_and_creates_nothing() {
    let options = cs(POLLED_HOST);
    // SAFETY: a valid C string; a NULL out pointer is allowed.
    let status = unsafe { zma_agent_create(options.as_ptr(), ptr::null_mut()) };
    assert_eq!(status, ZMA_ERR_NULL);
    assert_eq!(
        last_error().as_deref(),
        Some("zma_agent_create: agent_out is NULL")
    );
    // Not even bad options are looked at.
    let bad = cs("{");
    assert_eq!(
        unsafe { zma_agent_create(bad.as_ptr(), ptr::null_mut()) },
        ZMA_ERR_NULL
    );
}

#[test]
fn agent_create_refuses_bad_options_with_their_status_and_a_null_agent() {
    // Not JSON: the options as a whole are refused.
    let (status, agent, message) = create(Some(b"{\"mode\": "));
    assert_eq!(status, ZMA_ERR_OPTIONS);
    assert!(agent.is_null(), "*agent_out is NULL after a failure");
    let message = message.unwrap();
    assert!(message.starts_with("options: not JSON"), "{message}");
    // Not an object.
    let (status, agent, message) = create(Some(b"[]"));
    assert_eq!(status, ZMA_ERR_OPTIONS);
    assert!(agent.is_null());
    assert!(message.unwrap().starts_with("options"));
    // A refused option: the message names the key, as zma_agent_new's.
    let (status, agent, message) = create(Some(br#"{"mode": "sideways"}"#));
    assert_eq!(status, ZMA_ERR_OPTIONS);
    assert!(agent.is_null());
    assert_eq!(
        message.as_deref(),
        Some("option 'mode': 'sideways' is not one of threaded, polled")
    );
    let (status, agent, _) = create(Some(br#"{"no_such_key": 1}"#));
    assert_eq!(status, ZMA_ERR_OPTIONS);
    assert!(agent.is_null());
    // Not UTF-8.
    let (status, agent, message) = create(Some(&[b'{', 0xc3, 0x28, b'}']));
    assert_eq!(status, ZMA_ERR_UTF8);
    assert!(agent.is_null());
    assert_eq!(
        message.as_deref(),
        Some("zma_agent_create: options are not valid UTF-8 (invalid byte at offset 1)")
    );
    // Success afterwards clears the message.
    let (status, agent, message) = create(Some(POLLED_HOST.as_bytes()));
    assert_eq!((status, message), (ZMA_OK, None));
    unsafe { zma_agent_free(agent) };
}

#[test]
#[cfg_attr(miri, ignore = "the process supervisor spawns processes")]
fn agent_create_reports_a_state_directory_it_cannot_use_as_io() {
    let dir = scratch_dir("state");
    // One that cannot be created: below a regular file.
    let file = dir.join("file");
    std::fs::write(&file, b"").unwrap();
    let options = format!(
        r#"{{"mode": "polled", "state_dir": "{}"}}"#,
        file.join("state").display()
    );
    let (status, agent, message) = create(Some(options.as_bytes()));
    assert_eq!(status, ZMA_ERR_IO, "{message:?}");
    assert!(agent.is_null());
    let message = message.unwrap();
    assert!(
        message.starts_with("cannot create the agent's process supervisor"),
        "{message}"
    );
    // One that another agent holds.
    let options = format!(
        r#"{{"mode": "polled", "state_dir": "{}"}}"#,
        dir.join("held").display()
    );
    let (status, holder, message) = create(Some(options.as_bytes()));
    assert_eq!(status, ZMA_OK, "{message:?}");
    let (status, agent, message) = create(Some(options.as_bytes()));
    assert_eq!(status, ZMA_ERR_IO, "{message:?}");
    assert!(agent.is_null());
    let message = message.unwrap();
    assert!(message.contains("is in use by another agent"), "{message}");
    // zma_agent_new fails the same way, with the same message.
    let c_options = cs(&options);
    let mut error: *mut c_char = ptr::null_mut();
    assert!(unsafe { zma_agent_new(c_options.as_ptr(), &mut error) }.is_null());
    let from_new = unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned();
    unsafe { zma_string_free(error) };
    assert_eq!(from_new, message);
    unsafe { zma_agent_free(holder) };
    // Free again once the holder is gone.
    let (status, agent, message) = create(Some(options.as_bytes()));
    assert_eq!(status, ZMA_OK, "{message:?}");
    unsafe { zma_agent_free(agent) };
    let _ = std::fs::remove_dir_all(&dir);
}

//! Panics are contained wherever they happen: on the agent's own thread
//! (threaded mode), in a callback delivered on the caller's thread or on
//! the agent's thread, in an engine call. Each case checks that the agent is
//! poisoned (every later call returns `ZMA_ERR_PANIC`, or
//! `RuntimeError::Panic` through the Rust API), that other threads calling
//! it do not hang, that free returns, and that no thread of the agent is
//! left.
//!
//! Every wait is bounded: a defect shows as a failed test, not a hung
//! suite. The cases count the agent's threads by name, so they run one at
//! a time.

#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, CStr, CString};
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use zeek_mgmt_agent::ffi::*;
use zeek_mgmt_agent::options::parse_options;
use zeek_mgmt_agent::runtime::{Agent, RuntimeError};

/// How long anything may take before the test calls it a hang.
const BOUND: Duration = Duration::from_secs(20);

const THREADED_HOST: &str = r#"{"name": "instance-1", "mode": "threaded", "dialect": "zeek7",
    "encoding": "plain", "request_timeout_ms": 50, "supervisor": {"kind": "host"},
    "state_dir": "/tmp/zma-panic-tests"}"#;
const POLLED_HOST: &str = r#"{"name": "instance-1", "mode": "polled", "dialect": "zeek7",
    "encoding": "plain", "supervisor": {"kind": "host"}, "state_dir": "/tmp/zma-panic-tests"}"#;

/// The agent's thread's name (`comm` holds at most 15 bytes: all of it).
const AGENT_THREAD: &str = "zeek-mgmt-agent";

/// The cases count threads of the whole process: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many threads of this process carry the agent's thread's name.
fn agent_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.trim_end() == AGENT_THREAD)
        })
        .count()
}

/// Fails unless the agent's thread is gone (within the bound: a thread
/// may take a moment to exit after it was joined or detached).
fn assert_no_agent_thread() {
    let started = Instant::now();
    while agent_threads() > 0 {
        assert!(
            started.elapsed() < BOUND,
            "a thread of the agent is still there after free"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `body` on a thread of its own; fails the test if it has not
/// returned within [`BOUND`] (the thread is left behind, hung).
fn bounded<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(BOUND) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: hung (no return within {BOUND:?})"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked instead of returning"),
    }
}

fn welcome(reqid: &str) -> String {
    format!(r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{reqid}"}}}}"#)
}

fn get_nodes(reqid: &str) -> String {
    format!(r#"{{"event": "get_nodes_request", "args": {{"reqid": "{reqid}"}}}}"#)
}

// ---- the C ABI --------------------------------------------------------------

/// An agent pointer that may cross threads (the library serializes calls).
#[derive(Clone, Copy)]
struct Shared(usize);

impl Shared {
    fn get(self) -> *mut zma_agent {
        self.0 as *mut zma_agent
    }
}

fn new_agent(options: &str) -> *mut zma_agent {
    let options = CString::new(options).unwrap();
    // SAFETY: a valid C string; NULL error_out is allowed.
    let agent = unsafe { zma_agent_new(options.as_ptr(), ptr::null_mut()) };
    assert!(!agent.is_null(), "{:?}", last_error());
    agent
}

fn last_error() -> Option<String> {
    let p = zma_last_error();
    // SAFETY: the library's thread-local message, valid until the next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

fn handle(agent: *mut zma_agent, json: &str) -> c_int {
    let json = CString::new(json).unwrap();
    // SAFETY: a live agent (test contract) and a valid C string.
    unsafe { zma_agent_handle_request(agent, json.as_ptr()) }
}

/// A call that succeeds on any agent, to clear `zma_last_error`.
fn clear_last_error() {
    let fresh = new_agent(POLLED_HOST);
    assert_eq!(handle(fresh, &welcome("clear")), ZMA_OK);
    assert_eq!(last_error(), None);
    // SAFETY: created above, used by nobody else.
    unsafe { zma_agent_free(fresh) };
}

/// Every entry point refuses a poisoned agent, and says so.
fn assert_poisoned(agent: *mut zma_agent) {
    let unusable = |function: &str| {
        let message = last_error().unwrap_or_else(|| panic!("{function}: no zma_last_error"));
        assert!(
            message.contains("unusable"),
            "{function}: zma_last_error is {message:?}"
        );
    };
    assert_eq!(handle(agent, &welcome("later")), ZMA_ERR_PANIC);
    unusable("zma_agent_handle_request");
    // SAFETY: a live agent; NULL callbacks and user data are allowed.
    unsafe {
        assert_eq!(zma_agent_poll(agent, 1), ZMA_ERR_PANIC);
        unusable("zma_agent_poll");
        let mut out: *mut c_char = ptr::null_mut();
        assert_eq!(zma_agent_state_json(agent, &mut out), ZMA_ERR_PANIC);
        unusable("zma_agent_state_json");
        assert!(out.is_null());
        for (function, status) in [
            (
                "zma_agent_set_response_callback",
                zma_agent_set_response_callback(agent, None, ptr::null_mut()),
            ),
            (
                "zma_agent_set_notification_callback",
                zma_agent_set_notification_callback(agent, None, ptr::null_mut()),
            ),
            (
                "zma_agent_set_publish_callback",
                zma_agent_set_publish_callback(agent, None, ptr::null_mut()),
            ),
            (
                "zma_agent_set_log_callback",
                zma_agent_set_log_callback(agent, None, ptr::null_mut()),
            ),
        ] {
            assert_eq!(status, ZMA_ERR_PANIC, "{function}");
            unusable(function);
        }
        // -1 is also an ordinary answer of these two: the error tells them
        // apart, so it must be set.
        clear_last_error();
        assert_eq!(zma_agent_fd(agent), -1);
        unusable("zma_agent_fd");
        clear_last_error();
        assert_eq!(zma_agent_next_timeout_ms(agent), -1);
        unusable("zma_agent_next_timeout_ms");
    }
}

/// Four threads calling the poisoned agent at once all return, refused.
fn assert_other_threads_return(agent: *mut zma_agent) {
    let shared = Shared(agent as usize);
    let statuses = bounded("calls of other threads on the poisoned agent", move || {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..100)
                        .map(|i| handle(shared.get(), &welcome(&format!("t{t}-{i}"))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(statuses.iter().all(|s| *s == ZMA_ERR_PANIC), "{statuses:?}");
}

fn free_bounded(agent: *mut zma_agent) {
    let shared = Shared(agent as usize);
    // SAFETY: a live agent no other thread uses any more.
    bounded("zma_agent_free", move || unsafe {
        zma_agent_free(shared.get())
    });
}

#[test]
fn a_panic_on_the_agents_thread_poisons_the_agent() {
    let _serial = serial();
    let agent = new_agent(THREADED_HOST);
    // The thread names itself once it runs.
    let started = Instant::now();
    while agent_threads() != 1 {
        assert!(started.elapsed() < BOUND, "the agent's thread never ran");
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: a live agent.
    unsafe { zma_test_inject_thread_panic(agent) };
    // The thread panics as soon as it wakes: from then on the agent refuses
    // every call.
    let started = Instant::now();
    loop {
        let status = handle(agent, &welcome("w"));
        if status == ZMA_ERR_PANIC {
            break;
        }
        assert!(
            started.elapsed() < BOUND,
            "the agent's thread panicked, yet calls still return {status} after {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(last_error()
        .unwrap()
        .contains("(panic: panic injected by a test)"));
    assert_poisoned(agent);
    assert_other_threads_return(agent);
    free_bounded(agent);
    assert_no_agent_thread();
}

#[test]
fn a_panic_in_an_engine_call_poisons_the_agent() {
    let _serial = serial();
    let agent = new_agent(THREADED_HOST);
    // SAFETY: a live agent.
    unsafe { zma_test_inject_panic(agent) };
    assert_eq!(handle(agent, &welcome("w")), ZMA_ERR_PANIC);
    assert!(last_error()
        .unwrap()
        .starts_with("internal error (panic: panic injected by a test)"));
    assert_poisoned(agent);
    assert_other_threads_return(agent);
    free_bounded(agent);
    assert_no_agent_thread();
}

// ---- the Rust API: callbacks that panic -------------------------------------------

/// An agent that a failing test leaks instead of dropping: dropping may be
/// what hangs, and the test must fail, not hang.
fn rust_agent(options: &str) -> ManuallyDrop<Agent> {
    let options = parse_options(Some(options), &|_| None, &|| "0123456789abcdef".into()).unwrap();
    ManuallyDrop::new(Agent::new(options).unwrap())
}

fn free_agent_bounded(agent: ManuallyDrop<Agent>) {
    bounded("free", move || drop(ManuallyDrop::into_inner(agent)));
}

fn is_panic<T: std::fmt::Debug>(result: &Result<T, RuntimeError>) -> bool {
    matches!(result, Err(RuntimeError::Panic(_)))
}

/// Every call of the Rust API refuses a poisoned agent.
fn assert_rust_poisoned(agent: &Agent) {
    let rt = agent.runtime();
    assert!(rt.is_poisoned());
    let result = rt.handle_request(welcome("later").as_bytes());
    assert!(is_panic(&result), "{result:?}");
    if rt.mode() == zeek_mgmt_agent::options::Mode::Polled {
        let result = rt.poll(1);
        assert!(is_panic(&result), "{result:?}");
    }
}

/// A thread hands the agent `n` requests; returns what each call returned.
fn spawn_requests(
    agent: &Agent,
    n: usize,
    done: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Vec<Result<(), RuntimeError>>> {
    let rt = Arc::clone(agent.runtime());
    std::thread::spawn(move || {
        (0..n)
            .map(|i| {
                let result = rt.handle_request(welcome(&format!("o{i}")).as_bytes());
                done.fetch_add(1, Ordering::SeqCst);
                result
            })
            .collect()
    })
}

/// Waits (bounded) for `thread`, and checks that each call either went
/// through before the panic or was refused after it.
fn assert_requests_returned(
    thread: std::thread::JoinHandle<Vec<Result<(), RuntimeError>>>,
    what: &str,
) {
    let results = bounded(what, move || thread.join().unwrap());
    assert!(
        results.iter().all(|r| r.is_ok() || is_panic(r)),
        "{what}: {:?}",
        results.iter().find(|r| !(r.is_ok() || is_panic(r)))
    );
    assert!(is_panic(results.last().unwrap()), "{what}: refused at last");
}

#[test]
fn a_callback_panicking_on_the_callers_thread_poisons_the_agent() {
    let _serial = serial();
    let agent = rust_agent(POLLED_HOST);
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let (entered_tx, released) = (Mutex::new(entered_tx), Mutex::new(released));
    agent.runtime().set_callbacks(|c| {
        c.response = Some(Arc::new(move |_topic: &str, json: &str| {
            if json.contains(r#""reqid":"first""#) {
                let _ = entered_tx.lock().unwrap().send(());
                let _ = released.lock().unwrap().recv_timeout(BOUND);
                panic!("a callback panicked");
            }
        }));
    });
    // The caller's thread becomes the drainer and waits in the callback.
    let rt = Arc::clone(agent.runtime());
    let caller = std::thread::spawn(move || rt.handle_request(welcome("first").as_bytes()));
    entered.recv_timeout(BOUND).unwrap();
    // Meanwhile another thread queues more than the drainer may be behind
    // by, and waits for room (backpressure).
    let done = Arc::new(AtomicUsize::new(0));
    let other = spawn_requests(&agent, 6000, Arc::clone(&done));
    let mut last = usize::MAX;
    while done.load(Ordering::SeqCst) != last {
        last = done.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The callback panics: the drainer is gone, and so must be the wait.
    release.send(()).unwrap();
    assert_requests_returned(other, "another thread queueing behind the panicked drainer");
    let result = bounded("the panicking call", move || caller.join().unwrap());
    assert!(is_panic(&result), "{result:?}");
    assert_rust_poisoned(&agent);
    free_agent_bounded(agent);
    assert_no_agent_thread();
}

#[test]
fn a_callback_panicking_on_the_agents_thread_poisons_the_agent() {
    let _serial = serial();
    let agent = rust_agent(THREADED_HOST);
    let panicked = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&panicked);
    agent.runtime().set_callbacks(|c| {
        c.response = Some(Arc::new(move |_topic: &str, _json: &str| {
            if std::thread::current().name() == Some(AGENT_THREAD) {
                flag.store(true, Ordering::SeqCst);
                panic!("a callback panicked on the agent's thread");
            }
        }));
    });
    // The request times out after 50 ms: the agent's thread delivers that.
    assert!(agent
        .runtime()
        .handle_request(get_nodes("g").as_bytes())
        .is_ok());
    let started = Instant::now();
    while !panicked.load(Ordering::SeqCst) {
        assert!(started.elapsed() < BOUND, "the timeout was never delivered");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Other threads' outputs queue behind the drainer that panicked; they
    // must not wait for it for ever.
    let other = spawn_requests(&agent, 6000, Arc::default());
    assert_requests_returned(other, "another thread queueing behind the panicked drainer");
    assert_rust_poisoned(&agent);
    free_agent_bounded(agent);
    assert_no_agent_thread();
}

// ---- the process supervisor's spawner thread --------------------------------------

/// How many threads of this process are named `comm`.
fn threads_named(comm: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .count()
}

#[test]
fn a_panic_on_the_spawner_thread_poisons_the_agent() {
    let _serial = serial();
    let state_dir = std::env::temp_dir().join(format!("zma-panic-spawner-{}", std::process::id()));
    let options = serde_json::json!({
        "name": "instance-1", "mode": "polled", "dialect": "zeek7", "encoding": "plain",
        "node_ready": "spawn", "ready_after_ms": 0, "state_dir": state_dir.display().to_string(),
        "supervisor": {"kind": "process", "zeek": env!("CARGO_BIN_EXE_zma-standin-node")},
    })
    .to_string();
    let spawners_before = threads_named("zma-spawner");
    let agent = rust_agent(&options);
    let rt = Arc::clone(agent.runtime());
    rt.inject_spawner_panic();
    let deploy = serde_json::json!({"event": "deploy_request", "args": {"reqid": "d1", "config": {
        "id": "c1", "instances": [{"name": "instance-1", "host": "127.0.0.1"}],
        "nodes": [{"name": "w1", "instance": "instance-1", "role": "WORKER"}]}}})
    .to_string();
    // The deploy's node start finds the spawner thread gone: the agent is
    // poisoned by the time the call returns (or refuses it, if it already is).
    let result = rt.handle_request(deploy.as_bytes());
    assert!(result.is_ok() || is_panic(&result), "{result:?}");
    assert!(
        rt.is_poisoned(),
        "a panicked spawner thread poisons the agent"
    );
    assert_rust_poisoned(&agent);
    free_agent_bounded(agent);
    let started = Instant::now();
    while threads_named("zma-spawner") > spawners_before && started.elapsed() < BOUND {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        threads_named("zma-spawner"),
        spawners_before,
        "the spawner thread is gone"
    );
    let _ = std::fs::remove_dir_all(&state_dir);
}

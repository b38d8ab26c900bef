//! The load that the stress test (`tests/stress.rs`) and the soak
//! (src/bin/soak.rs) drive through the C ABI, exactly as a C host would:
//! request builders, a ledger that proves every request id gets exactly one
//! answer, callbacks that call back into the library, a polled-mode clock
//! driver, and the "who is where" table a watchdog prints when the agent
//! stops making progress.
//!
//! Request ids are `t<slot>-<seq>`: `slot` names the thread that sent the
//! request (workers 0.., the callback-issued requests [`CALLBACK_SLOT`], the
//! soak's life-cycle thread [`LIFECYCLE_SLOT`]). Every id is written into
//! the ledger before it is handed to the agent, so an answer can never
//! arrive for an id the ledger does not know, and is closed once every call
//! with it has returned and every accepted call has been answered. Anything
//! else (an answer to a refused input, a second answer, an answer of the
//! wrong kind, an unknown id) is a violation.

#![allow(dead_code)]
#![allow(clippy::missing_safety_doc)]
// Lints for a crate's public API, which these helpers became when they moved
// from a test's module into this crate: they take the `zma_agent` pointer a
// C host holds, as the C ABI does, and `Rng::next` is not an iterator.
#![allow(clippy::not_unsafe_ptr_arg_deref, clippy::should_implement_trait)]

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeek_mgmt_agent::ffi::*;

/// The slot of requests issued from inside the response callback.
pub const CALLBACK_SLOT: usize = 1000;
/// The slot of the soak's life-cycle thread.
pub const LIFECYCLE_SLOT: usize = 1001;

// ---- the C ABI, used as a C host uses it -------------------------------------

pub fn cs(s: &str) -> CString {
    CString::new(s).expect("no NUL in test strings")
}

pub fn last_error() -> String {
    let p = zma_last_error();
    if p.is_null() {
        return "(no message)".to_owned();
    }
    // SAFETY: the library's thread-local message, valid until the next call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Creates an agent or panics with the library's message.
pub fn new_agent(options: &str) -> *mut zma_agent {
    let mut error: *mut c_char = ptr::null_mut();
    let options = cs(options);
    // SAFETY: a valid C string and out pointer.
    let agent = unsafe { zma_agent_new(options.as_ptr(), &mut error) };
    if agent.is_null() {
        // SAFETY: an owned message from the library.
        let message = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: the library's string, freed once.
        unsafe { zma_string_free(error) };
        panic!("zma_agent_new: {message}");
    }
    agent
}

pub fn handle(agent: *mut zma_agent, json: &str) -> c_int {
    let json = cs(json);
    // SAFETY: a live agent (the caller's contract) and a valid C string.
    unsafe { zma_agent_handle_request(agent, json.as_ptr()) }
}

/// `zma_agent_state_json`, parsed.
pub fn state(agent: *mut zma_agent) -> Result<serde_json::Value, String> {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: a live agent and a valid out pointer.
    let rc = unsafe { zma_agent_state_json(agent, &mut out) };
    if rc != ZMA_OK {
        return Err(format!("zma_agent_state_json: {rc}: {}", last_error()));
    }
    // SAFETY: an owned string from the library, freed once below.
    let text = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    unsafe { zma_string_free(out) };
    serde_json::from_str(&text).map_err(|e| format!("state JSON: {e}: {text}"))
}

/// A small fast random number generator (xorshift64*), one per thread.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---- requests -------------------------------------------------------------------

/// What a worker sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Welcome,
    GetNodes,
    /// A dispatch to all managed nodes (none: answered at once).
    Dispatch,
    /// A configuration whose nodes all run on another instance.
    DeployRemote,
    /// Two nodes of this instance: with a host Supervisor that answers
    /// only some commands, these wait, time out or are superseded.
    DeployLocal,
    /// No nodes at all.
    DeployEmpty,
    /// One fixed configuration id without force: answered at once when it
    /// is the current one, else a real deploy.
    DeploySameId,
    /// Refused by validation: answered at once with failed results.
    DeployInvalid,
    Standby,
    /// A restart of `w1` (a managed node or not, depending on the moment).
    Restart,
    /// A get_nodes sent twice with the same id: the second is refused with
    /// `ZMA_ERR_STATE` while the first is in flight, else accepted.
    Duplicate,
    /// Refused inputs: no answer, ever.
    BadJson,
    UnknownEvent,
    BadArgs,
}

pub const KINDS: [Kind; 14] = [
    Kind::Welcome,
    Kind::GetNodes,
    Kind::Dispatch,
    Kind::DeployRemote,
    Kind::DeployLocal,
    Kind::DeployEmpty,
    Kind::DeploySameId,
    Kind::DeployInvalid,
    Kind::Standby,
    Kind::Restart,
    Kind::Duplicate,
    Kind::BadJson,
    Kind::UnknownEvent,
    Kind::BadArgs,
];

impl Kind {
    pub fn from_u8(n: u8) -> Kind {
        KINDS[usize::from(n) % KINDS.len()]
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Welcome => "welcome",
            Kind::GetNodes => "get_nodes",
            Kind::Dispatch => "dispatch",
            Kind::DeployRemote => "deploy(remote)",
            Kind::DeployLocal => "deploy(local)",
            Kind::DeployEmpty => "deploy(empty)",
            Kind::DeploySameId => "deploy(same id)",
            Kind::DeployInvalid => "deploy(invalid)",
            Kind::Standby => "standby",
            Kind::Restart => "restart",
            Kind::Duplicate => "get_nodes(twice)",
            Kind::BadJson => "bad JSON",
            Kind::UnknownEvent => "unknown event",
            Kind::BadArgs => "bad arguments",
        }
    }

    /// The response event, or `None` for inputs that must be refused.
    pub fn response(self) -> Option<&'static str> {
        Some(match self {
            Kind::Welcome => "Management::Agent::API::agent_welcome_response",
            Kind::GetNodes | Kind::Duplicate => "Management::Agent::API::get_nodes_response",
            Kind::Dispatch => "Management::Agent::API::node_dispatch_response",
            Kind::DeployRemote
            | Kind::DeployLocal
            | Kind::DeployEmpty
            | Kind::DeploySameId
            | Kind::DeployInvalid => "Management::Agent::API::deploy_response",
            Kind::Standby => "Management::Agent::API::agent_standby_response",
            Kind::Restart => "Management::Agent::API::restart_response",
            Kind::BadJson | Kind::UnknownEvent | Kind::BadArgs => return None,
        })
    }

    /// The status the agent must return for this input.
    pub fn expected_status(self) -> c_int {
        match self {
            Kind::BadJson => ZMA_ERR_JSON,
            Kind::UnknownEvent | Kind::BadArgs => ZMA_ERR_EVENT,
            _ => ZMA_OK,
        }
    }
}

/// How often each kind is sent, out of the sum of the weights.
pub type Mix = &'static [(Kind, u32)];

/// The stress test's mix: every kind, the cheap ones most.
pub const STRESS_MIX: Mix = &[
    (Kind::Welcome, 20),
    (Kind::GetNodes, 18),
    (Kind::Dispatch, 12),
    (Kind::DeployRemote, 6),
    (Kind::DeployLocal, 8),
    (Kind::DeployEmpty, 3),
    (Kind::DeploySameId, 3),
    (Kind::DeployInvalid, 3),
    (Kind::Standby, 5),
    (Kind::Restart, 5),
    (Kind::Duplicate, 4),
    (Kind::BadJson, 6),
    (Kind::UnknownEvent, 4),
    (Kind::BadArgs, 3),
];

/// The soak's background mix: everything that does not change the
/// configuration (the life-cycle thread owns deploys and standbys).
pub const SOAK_MIX: Mix = &[
    (Kind::Welcome, 25),
    (Kind::GetNodes, 25),
    (Kind::Dispatch, 15),
    (Kind::DeployInvalid, 5),
    (Kind::BadJson, 15),
    (Kind::UnknownEvent, 10),
    (Kind::BadArgs, 5),
];

pub fn pick(mix: Mix, rng: &mut Rng) -> Kind {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut n = rng.below(u64::from(total)) as u32;
    for (kind, weight) in mix {
        if n < *weight {
            return *kind;
        }
        n -= weight;
    }
    mix[0].0
}

pub fn reqid(slot: usize, seq: u64) -> String {
    format!("t{slot}-{seq}")
}

fn key_of(slot: usize, seq: u64) -> u64 {
    ((slot as u64) << 44) | seq
}

/// The ledger key of a request id of ours.
pub fn parse_reqid(reqid: &str) -> Option<u64> {
    let (slot, seq) = reqid.strip_prefix('t')?.split_once('-')?;
    let slot: usize = slot.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    (slot < (1 << 19) && seq < (1 << 44)).then(|| key_of(slot, seq))
}

fn instances() -> &'static str {
    r#"[{"name": "instance-1", "host": "127.0.0.1"}, {"name": "instance-2", "host": "127.0.0.2"}]"#
}

fn deploy_json(reqid: &str, config_id: &str, nodes: &str, force: bool) -> String {
    format!(
        r#"{{"event": "deploy_request", "args": {{"reqid": "{reqid}", "force": {force},
            "config": {{"id": "{config_id}", "instances": {}, "nodes": [{nodes}]}}}}}}"#,
        instances()
    )
}

const LOCAL_NODES: &str = r#"{"name": "w1", "instance": "instance-1", "role": "WORKER", "interface": "lo"},
    {"name": "w2", "instance": "instance-1", "role": "WORKER", "interface": "lo"}"#;

/// The request of `kind` with this id, and the id's second use for
/// [`Kind::Duplicate`].
pub fn request(kind: Kind, reqid: &str) -> String {
    match kind {
        Kind::Welcome => {
            format!(r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{reqid}"}}}}"#)
        }
        Kind::GetNodes | Kind::Duplicate => {
            format!(r#"{{"event": "get_nodes_request", "args": {{"reqid": "{reqid}"}}}}"#)
        }
        Kind::Dispatch => format!(
            r#"{{"event": "node_dispatch_request", "args": {{"reqid": "{reqid}",
                "action": ["get_id_value", "Cluster::node"], "nodes": []}}}}"#
        ),
        Kind::DeployRemote => deploy_json(
            reqid,
            &format!("cfg-{reqid}"),
            r#"{"name": "r1", "instance": "instance-2", "role": "MANAGER", "p": 5000},
               {"name": "r2", "instance": "instance-2", "role": "WORKER", "interface": "lo"}"#,
            false,
        ),
        Kind::DeployLocal => deploy_json(reqid, &format!("cfg-{reqid}"), LOCAL_NODES, false),
        Kind::DeployEmpty => deploy_json(reqid, &format!("cfg-{reqid}"), "", true),
        Kind::DeploySameId => deploy_json(reqid, "cfg-same", LOCAL_NODES, false),
        Kind::DeployInvalid => deploy_json(
            reqid,
            &format!("cfg-{reqid}"),
            r#"{"name": "twin", "instance": "instance-1", "role": "WORKER"},
               {"name": "twin", "instance": "instance-1", "role": "WORKER"}"#,
            false,
        ),
        Kind::Standby => {
            format!(r#"{{"event": "agent_standby_request", "args": {{"reqid": "{reqid}"}}}}"#)
        }
        Kind::Restart => format!(
            r#"{{"event": "restart_request", "args": {{"reqid": "{reqid}", "nodes": ["w1"]}}}}"#
        ),
        Kind::BadJson => {
            format!(r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{reqid}""#)
        }
        Kind::UnknownEvent => {
            format!(r#"{{"event": "agent_wellcome_request", "args": {{"reqid": "{reqid}"}}}}"#)
        }
        Kind::BadArgs => deploy_json(
            reqid,
            &format!("cfg-{reqid}"),
            r#"{"name": "w1", "instance": "instance-1", "role": "WORKER", "p": 70000}"#,
            false,
        ),
    }
}

// ---- the ledger ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Entry {
    kind: Kind,
    /// Calls with this id that have not returned yet.
    calls: u8,
    /// Calls the agent accepted (`ZMA_OK`).
    accepted: u8,
    answered: u8,
}

const SHARDS: usize = 32;

/// Every request id in flight, and what went wrong.
pub struct Ledger {
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    pub calls: AtomicU64,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub answers: AtomicU64,
    pub violations: AtomicU64,
    messages: Mutex<Vec<String>>,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            calls: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            answers: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            messages: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ledger {
    fn shard(&self, key: u64) -> &Mutex<HashMap<u64, Entry>> {
        &self.shards[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as usize % SHARDS]
    }

    pub fn violation(&self, message: String) {
        self.violations.fetch_add(1, Ordering::SeqCst);
        let mut messages = lock(&self.messages);
        if messages.len() < 30 {
            messages.push(message);
        }
    }

    pub fn violation_messages(&self) -> Vec<String> {
        lock(&self.messages).clone()
    }

    /// Before handing the agent a request with this id.
    pub fn before(&self, key: u64, kind: Kind) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut shard = lock(self.shard(key));
        let entry = shard.entry(key).or_insert(Entry {
            kind,
            calls: 0,
            accepted: 0,
            answered: 0,
        });
        entry.calls += 1;
    }

    /// After the call returned; `accepted` when it returned `ZMA_OK`.
    pub fn after(&self, key: u64, accepted: bool, reqid: &str) {
        if accepted {
            self.accepted.fetch_add(1, Ordering::SeqCst);
        } else {
            self.refused.fetch_add(1, Ordering::SeqCst);
        }
        let mut shard = lock(self.shard(key));
        let Some(entry) = shard.get_mut(&key) else {
            drop(shard);
            self.violation(format!("{reqid}: the ledger lost the entry"));
            return;
        };
        entry.calls -= 1;
        if accepted {
            entry.accepted += 1;
        }
        let e = *entry;
        if e.calls == 0 && e.answered >= e.accepted {
            shard.remove(&key); // closed (a violation is reported, not kept open)
        }
        drop(shard);
        if e.calls == 0 && e.answered > e.accepted {
            self.violation(format!(
                "{reqid} ({}): {} answers for {} accepted calls",
                e.kind.name(),
                e.answered,
                e.accepted
            ));
        }
    }

    /// An answer arrived.
    pub fn answer(&self, reqid: &str, event: &str) {
        self.answers.fetch_add(1, Ordering::SeqCst);
        let Some(key) = parse_reqid(reqid) else {
            self.violation(format!("an answer for a foreign id {reqid:?} ({event})"));
            return;
        };
        let mut shard = lock(self.shard(key));
        let Some(entry) = shard.get_mut(&key) else {
            drop(shard);
            self.violation(format!(
                "an answer for {reqid}, unknown or answered already ({event})"
            ));
            return;
        };
        entry.answered += 1;
        let e = *entry;
        if e.calls == 0 && e.answered >= e.accepted {
            shard.remove(&key); // closed (a violation is reported, not kept open)
        }
        drop(shard);
        if e.kind.response() != Some(event) {
            self.violation(format!("{reqid} ({}) answered with {event}", e.kind.name()));
        }
        if e.answered > e.accepted + e.calls {
            self.violation(format!(
                "{reqid} ({}) answered {} times for {} accepted calls",
                e.kind.name(),
                e.answered,
                e.accepted
            ));
        }
    }

    /// Requests accepted and not answered yet (plus calls in progress).
    pub fn open(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Answers still missing: accepted calls not answered yet.
    pub fn missing(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                lock(s)
                    .values()
                    .map(|e| u64::from(e.accepted.saturating_sub(e.answered)))
                    .sum::<u64>()
            })
            .sum()
    }

    /// Up to `max` open ids with their kind and counts, for messages.
    pub fn open_sample(&self, max: usize) -> Vec<String> {
        let mut all: Vec<(u64, Entry)> = Vec::new();
        for shard in &self.shards {
            all.extend(lock(shard).iter().map(|(k, e)| (*k, *e)));
        }
        all.sort_by_key(|(k, _)| *k);
        all.iter()
            .take(max)
            .map(|(k, e)| {
                format!(
                    "t{}-{} ({}; calls running {}, accepted {}, answered {})",
                    k >> 44,
                    k & ((1 << 44) - 1),
                    e.kind.name(),
                    e.calls,
                    e.accepted,
                    e.answered
                )
            })
            .collect()
    }
}

// ---- who is where ---------------------------------------------------------------------

/// What a thread is doing, for the watchdog's message.
pub const DOING: &[&str] = &[
    "starting",                                           // 0
    "building a request",                                 // 1
    "in zma_agent_handle_request",                        // 2
    "done",                                               // 3
    "in zma_agent_poll",                                  // 4
    "waiting on zma_agent_fd",                            // 5
    "in the response callback",                           // 6
    "in the response callback, calling back in",          // 7
    "in the notification callback",                       // 8
    "in the notification callback, calling back in",      // 9
    "in the publish callback",                            // 10
    "in the publish callback, calling back in",           // 11
    "in the log callback",                                // 12
    "in zma_agent_handle_request (second call, same id)", // 13
    "waiting for a response",                             // 14
    "sleeping",                                           // 15
    "parked",                                             // 16
    "in zma_agent_state_json",                            // 17
];

pub const D_BUILD: u8 = 1;
pub const D_HANDLE: u8 = 2;
pub const D_DONE: u8 = 3;
pub const D_POLL: u8 = 4;
pub const D_FD: u8 = 5;
pub const D_RESPONSE: u8 = 6;
pub const D_NOTIFICATION: u8 = 8;
pub const D_PUBLISH: u8 = 10;
pub const D_LOG: u8 = 12;
pub const D_HANDLE2: u8 = 13;
pub const D_WAIT: u8 = 14;
pub const D_SLEEP: u8 = 15;
pub const D_PARKED: u8 = 16;
pub const D_STATE: u8 = 17;

#[derive(Default)]
pub struct Where {
    pub name: Mutex<String>,
    pub doing: AtomicU8,
    pub seq: AtomicU64,
    pub kind: AtomicU8,
    /// Callbacks this thread delivered.
    pub callbacks: AtomicU64,
    /// The ledger key + 1 of the response it delivers now (0: none).
    pub answering: AtomicU64,
}

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Names the calling thread's slot in the "who is where" table.
pub fn register_thread(slot: usize) {
    SLOT.with(|s| s.set(slot));
}

// ---- the shared state the callbacks get as user_data ------------------------------

/// Everything the callbacks and threads share. The callbacks get it as
/// `user_data`; it outlives the agent (or, after a stall, is leaked).
pub struct Load {
    pub agent: AtomicPtr<zma_agent>,
    pub polled: bool,
    /// Host-delegated Supervisor: the publish callback plays it.
    pub host_supervisor: bool,
    /// Polled mode: the host's clock (what the poll thread last gave).
    pub clock: AtomicU64,
    pub ledger: Ledger,
    /// Worker slots, then `extra` named slots, then "any other thread".
    pub slots: Vec<Where>,
    pub workers: usize,
    pub responses: AtomicU64,
    pub notifications: AtomicU64,
    pub publishes: AtomicU64,
    pub logs: AtomicU64,
    pub timed_out: AtomicU64,
    pub superseded: AtomicU64,
    pub reentrant_calls: AtomicU64,
    /// Second calls of [`Kind::Duplicate`].
    pub duplicate_calls: AtomicU64,
    pub state_snapshots: AtomicU64,
    pub polls: AtomicU64,
    /// Requests issued from the response callback so far, and the cap.
    pub callback_requests: AtomicU64,
    pub callback_request_cap: u64,
    /// Decides which Supervisor commands and node dispatches get answers.
    decisions: AtomicU64,
    /// Responses to ids of this slot are kept here (the soak's life-cycle
    /// thread waits for them).
    pub kept: Mutex<HashMap<String, String>>,
    pub keep_slot: usize,
}

impl Load {
    /// `extra`: names of the non-worker threads (poll thread, ...).
    pub fn new(workers: usize, extra: &[&str], polled: bool, host_supervisor: bool) -> Load {
        let slots: Vec<Where> = (0..workers + extra.len() + 1)
            .map(|_| Where::default())
            .collect();
        for (i, slot) in slots.iter().enumerate() {
            *lock(&slot.name) = if i < workers {
                format!("worker t{i}")
            } else if i < workers + extra.len() {
                extra[i - workers].to_owned()
            } else {
                "the agent's own thread (or another)".to_owned()
            };
        }
        Load {
            agent: AtomicPtr::new(ptr::null_mut()),
            polled,
            host_supervisor,
            clock: AtomicU64::new(0),
            ledger: Ledger::default(),
            slots,
            workers,
            responses: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
            publishes: AtomicU64::new(0),
            logs: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            reentrant_calls: AtomicU64::new(0),
            duplicate_calls: AtomicU64::new(0),
            state_snapshots: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            callback_requests: AtomicU64::new(0),
            callback_request_cap: u64::MAX,
            decisions: AtomicU64::new(0),
            kept: Mutex::default(),
            keep_slot: LIFECYCLE_SLOT,
        }
    }

    /// The slot of the calling thread.
    pub fn here(&self) -> &Where {
        let slot = SLOT.with(Cell::get);
        self.slots
            .get(slot)
            .unwrap_or_else(|| self.slots.last().expect("at least one slot"))
    }

    /// Sets what the calling thread does; returns what it did before.
    pub fn doing(&self, what: u8) -> u8 {
        self.here().doing.swap(what, Ordering::SeqCst)
    }

    pub fn agent(&self) -> *mut zma_agent {
        self.agent.load(Ordering::SeqCst)
    }

    /// Registers the four callbacks with `self` as user_data.
    pub fn attach(&self, agent: *mut zma_agent) {
        self.agent.store(agent, Ordering::SeqCst);
        let ud = self as *const Load as *mut c_void;
        // SAFETY: a live agent; C callbacks; user_data outlives the agent.
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

    /// Sends one request of `kind` through the ledger; returns the status.
    pub fn send(&self, slot: usize, seq: u64, kind: Kind) -> c_int {
        let before = self.doing(D_BUILD);
        let json = request(kind, &reqid(slot, seq));
        let rc = self.send_json(slot, seq, kind, &json);
        self.doing(before);
        rc
    }

    /// Sends `json`, a request with id `t<slot>-<seq>` answered like
    /// `kind`, through the ledger; returns the status.
    pub fn send_json(&self, slot: usize, seq: u64, kind: Kind, json: &str) -> c_int {
        let agent = self.agent();
        let id = reqid(slot, seq);
        let key = key_of(slot, seq);
        let here = self.here();
        if slot != CALLBACK_SLOT && SLOT.with(Cell::get) < self.slots.len() - 1 {
            here.seq.store(seq, Ordering::SeqCst);
            here.kind.store(kind as u8, Ordering::SeqCst);
        }
        let before = self.doing(D_BUILD);
        self.ledger.before(key, kind);
        self.doing(D_HANDLE);
        let rc = handle(agent, json);
        let message = if rc == ZMA_OK {
            String::new()
        } else {
            last_error()
        };
        self.ledger.after(key, rc == ZMA_OK, &id);
        if rc != kind.expected_status() {
            self.ledger.violation(format!(
                "{id} ({}): status {rc} ({message}), expected {}",
                kind.name(),
                kind.expected_status()
            ));
        }
        if kind == Kind::Duplicate && rc == ZMA_OK {
            // The same id again: refused while the first is in flight,
            // accepted (and answered again) once it is not.
            self.duplicate_calls.fetch_add(1, Ordering::SeqCst);
            self.ledger.before(key, kind);
            self.doing(D_HANDLE2);
            let rc = handle(agent, json);
            let message = if rc == ZMA_OK {
                String::new()
            } else {
                last_error()
            };
            self.ledger.after(key, rc == ZMA_OK, &id);
            if rc != ZMA_OK && rc != ZMA_ERR_STATE {
                self.ledger.violation(format!(
                    "{id} (second call): status {rc} ({message}), expected 0 or {ZMA_ERR_STATE}"
                ));
            } else if rc == ZMA_ERR_STATE && !message.contains("already in flight") {
                self.ledger
                    .violation(format!("{id} (second call): refused with {message:?}"));
            }
        }
        self.doing(before);
        rc
    }

    /// Whether to answer this Supervisor command or node dispatch: a
    /// fixed pattern, `yes` out of every `of`.
    fn decide(&self, yes: u64, of: u64) -> bool {
        self.decisions.fetch_add(1, Ordering::Relaxed) % of < yes
    }

    /// Hands the agent an event from inside a callback.
    fn reenter(&self, json: &str, what: &str) {
        self.reentrant_calls.fetch_add(1, Ordering::Relaxed);
        let rc = handle(self.agent(), json);
        if rc != ZMA_OK {
            self.ledger
                .violation(format!("re-entrant {what}: status {rc} ({})", last_error()));
        }
    }

    /// One line of counters.
    pub fn counters(&self) -> String {
        let l = &self.ledger;
        format!(
            "calls {} (accepted {}, refused {}), answers {}, open {}, notifications {}, \
             published {}, logs {}, timed out {}, superseded {}, re-entrant calls {}, polls {}",
            l.calls.load(Ordering::SeqCst),
            l.accepted.load(Ordering::SeqCst),
            l.refused.load(Ordering::SeqCst),
            l.answers.load(Ordering::SeqCst),
            l.open(),
            self.notifications.load(Ordering::SeqCst),
            self.publishes.load(Ordering::SeqCst),
            self.logs.load(Ordering::SeqCst),
            self.timed_out.load(Ordering::SeqCst),
            self.superseded.load(Ordering::SeqCst),
            self.reentrant_calls.load(Ordering::SeqCst),
            self.polls.load(Ordering::SeqCst),
        )
    }

    /// Where every thread is, one line each.
    pub fn whereabouts(&self) -> String {
        let mut out = String::new();
        for slot in &self.slots {
            let doing = usize::from(slot.doing.load(Ordering::SeqCst));
            let answering = match slot.answering.load(Ordering::SeqCst) {
                0 => String::new(),
                k => format!(
                    " delivering the answer to t{}-{}",
                    (k - 1) >> 44,
                    (k - 1) & ((1 << 44) - 1)
                ),
            };
            let _ = writeln!(
                out,
                "  {}: {}{answering} (last request #{} {}, {} callbacks delivered)",
                lock(&slot.name),
                DOING.get(doing).copied().unwrap_or("?"),
                slot.seq.load(Ordering::SeqCst),
                Kind::from_u8(slot.kind.load(Ordering::SeqCst)).name(),
                slot.callbacks.load(Ordering::SeqCst),
            );
        }
        out
    }
}

/// The `"event"` name and `args.reqid` of an event in plain JSON, found
/// without a full parse (this runs for every response).
pub fn event_and_reqid(json: &str) -> Option<(&str, &str)> {
    let field = |name: &str| {
        let start = json.find(name)? + name.len();
        let len = json[start..].find('"')?;
        Some(&json[start..start + len])
    };
    Some((field("\"event\":\"")?, field("\"reqid\":\"")?))
}

/// Runs a callback body; a panic becomes a violation (it must not unwind
/// into the library).
fn guarded(load: &Load, what: &str, body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        load.ledger
            .violation(format!("the {what} callback panicked: {text}"));
    }
}

unsafe fn args<'a>(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) -> (&'a Load, &'a str, &'a str) {
    // SAFETY: user_data is the Load attached to this agent; the strings
    // are valid during the callback.
    unsafe {
        (
            &*(user_data as *const Load),
            CStr::from_ptr(topic).to_str().unwrap_or("(not UTF-8)"),
            CStr::from_ptr(json).to_str().unwrap_or("(not UTF-8)"),
        )
    }
}

unsafe extern "C" fn on_response(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    // SAFETY: as the library calls it.
    let (load, _topic, json) = unsafe { args(user_data, topic, json) };
    let before = load.doing(D_RESPONSE);
    load.here().callbacks.fetch_add(1, Ordering::Relaxed);
    guarded(load, "response", || {
        let n = load.responses.fetch_add(1, Ordering::SeqCst) + 1;
        let Some((event, reqid)) = event_and_reqid(json) else {
            load.ledger
                .violation(format!("a response without event or reqid: {json}"));
            return;
        };
        if json.contains("request timed out") {
            load.timed_out.fetch_add(1, Ordering::Relaxed);
        }
        if json.contains("superseded by request") {
            load.superseded.fetch_add(1, Ordering::Relaxed);
        }
        let key = parse_reqid(reqid);
        load.here()
            .answering
            .store(key.map_or(0, |k| k + 1), Ordering::SeqCst);
        if key.is_some_and(|k| (k >> 44) as usize == load.keep_slot) {
            lock(&load.kept).insert(reqid.to_owned(), json.to_owned());
        }
        load.ledger.answer(reqid, event);

        // Call back in: cheap calls always, a request now and then, a
        // state snapshot rarely (it lists every pending request).
        load.doing(D_RESPONSE + 1);
        let agent = load.agent();
        // SAFETY: a live agent: callbacks stop before free returns.
        let next = unsafe { zma_agent_next_timeout_ms(agent) };
        if !load.polled && next != -1 {
            load.ledger
                .violation(format!("threaded mode: next_timeout_ms = {next}"));
        }
        if n % 64 == 0 && load.callback_requests.load(Ordering::SeqCst) < load.callback_request_cap
        {
            let seq = load.callback_requests.fetch_add(1, Ordering::SeqCst);
            let kind = if seq % 2 == 0 {
                Kind::Welcome
            } else {
                Kind::Dispatch
            };
            load.reentrant_calls.fetch_add(1, Ordering::Relaxed);
            load.send(CALLBACK_SLOT, seq, kind);
        }
        if n % 4096 == 0 {
            load.doing(D_STATE);
            load.state_snapshots.fetch_add(1, Ordering::Relaxed);
            match state(agent) {
                Ok(v) if v["pending_requests"].is_array() => {}
                Ok(v) => load
                    .ledger
                    .violation(format!("state without pending_requests: {v}")),
                Err(e) => load.ledger.violation(e),
            }
        }
    });
    load.here().answering.store(0, Ordering::SeqCst);
    load.doing(before);
}

unsafe extern "C" fn on_notification(
    user_data: *mut c_void,
    topic: *const c_char,
    json: *const c_char,
) {
    // SAFETY: as the library calls it.
    let (load, _topic, _json) = unsafe { args(user_data, topic, json) };
    let before = load.doing(D_NOTIFICATION);
    load.here().callbacks.fetch_add(1, Ordering::Relaxed);
    guarded(load, "notification", || {
        load.notifications.fetch_add(1, Ordering::Relaxed);
        load.doing(D_NOTIFICATION + 1);
        let now = load.clock.load(Ordering::SeqCst);
        // SAFETY: a live agent.
        let rc = unsafe { zma_agent_poll(load.agent(), now) };
        let expected = if load.polled { ZMA_OK } else { ZMA_ERR_STATE };
        if rc != expected {
            load.ledger.violation(format!(
                "zma_agent_poll from the notification callback: {rc} ({})",
                last_error()
            ));
        }
    });
    load.doing(before);
}

unsafe extern "C" fn on_publish(user_data: *mut c_void, topic: *const c_char, json: *const c_char) {
    // SAFETY: as the library calls it.
    let (load, topic, json) = unsafe { args(user_data, topic, json) };
    let before = load.doing(D_PUBLISH);
    load.here().callbacks.fetch_add(1, Ordering::Relaxed);
    guarded(load, "publish", || {
        load.publishes.fetch_add(1, Ordering::Relaxed);
        load.doing(D_PUBLISH + 1);
        if topic == "zeek/supervisor" && load.host_supervisor {
            play_supervisor(load, json);
        } else if topic == "zeek/management/node"
            && json.contains("Management::Node::API::node_dispatch_request")
        {
            play_nodes(load, json);
        }
    });
    load.doing(before);
}

/// The host-delegated Supervisor: answers most of its commands at once,
/// from inside the publish callback; the rest never.
fn play_supervisor(load: &Load, json: &str) {
    let v: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return load.ledger.violation(format!("published JSON: {e}")),
    };
    let event = v["event"].as_str().unwrap_or_default();
    let reqid = v["args"]["reqid"].as_str().unwrap_or_default();
    let answer = |name: &str, result: &str| {
        format!(
            r#"{{"event": "SupervisorControl::{name}", "args": {{"reqid": "{reqid}", "result": {result}}}}}"#
        )
    };
    match event {
        "SupervisorControl::status_request" if load.decide(3, 4) => load.reenter(
            &answer("status_response", r#"{"nodes": {}}"#),
            "status_response",
        ),
        "SupervisorControl::create_request" if load.decide(1, 2) => {
            load.reenter(&answer("create_response", r#""""#), "create_response");
            if load.decide(1, 2) {
                let node = v["args"]["node"]["name"].as_str().unwrap_or_default();
                load.reenter(
                    &format!(
                        r#"{{"event": "Management::Node::API::notify_node_hello", "args": {{"node": "{node}"}}}}"#
                    ),
                    "notify_node_hello",
                );
            }
        }
        "SupervisorControl::destroy_request" if load.decide(7, 8) => {
            load.reenter(&answer("destroy_response", "true"), "destroy_response")
        }
        "SupervisorControl::restart_request" if load.decide(1, 2) => {
            load.reenter(&answer("restart_response", "true"), "restart_response")
        }
        _ => {}
    }
}

/// The cluster nodes: half of the dispatches are answered by every
/// targeted node at once, the others time out.
fn play_nodes(load: &Load, json: &str) {
    if !load.decide(1, 2) {
        return;
    }
    let v: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return load.ledger.violation(format!("published JSON: {e}")),
    };
    let reqid = v["args"]["reqid"].as_str().unwrap_or_default();
    for node in v["args"]["nodes"].as_array().into_iter().flatten() {
        let node = node.as_str().unwrap_or_default();
        load.reenter(
            &format!(
                r#"{{"event": "Management::Node::API::node_dispatch_response", "args": {{"reqid": "{reqid}",
                    "result": {{"reqid": "{reqid}", "success": true, "data": "\"{node}\"", "node": "{node}"}}}}}}"#
            ),
            "node_dispatch_response",
        );
    }
}

unsafe extern "C" fn on_log(user_data: *mut c_void, _level: c_int, _message: *const c_char) {
    // SAFETY: user_data is the attached Load.
    let load = unsafe { &*(user_data as *const Load) };
    let before = load.doing(D_LOG);
    load.logs.fetch_add(1, Ordering::Relaxed);
    load.doing(before);
}

// ---- threads ------------------------------------------------------------------------------

/// A worker: `limit` requests (or until `stop`) of `mix`, as slot `slot`.
/// `pause` sleeps between requests (the soak's throttle).
pub fn run_worker(
    load: &Load,
    slot: usize,
    limit: Option<u64>,
    stop: &AtomicBool,
    mix: Mix,
    pause: Duration,
) -> u64 {
    register_thread(slot);
    let mut rng = Rng::new(slot as u64 + 1);
    let mut seq = 0;
    while limit.map_or(true, |l| seq < l) && !stop.load(Ordering::Relaxed) {
        let kind = pick(mix, &mut rng);
        load.send(slot, seq, kind);
        seq += 1;
        if !pause.is_zero() {
            load.doing(D_SLEEP);
            std::thread::sleep(pause);
        }
    }
    load.doing(D_DONE);
    seq
}

/// Polled mode's host loop: waits on the agent's descriptor until its next
/// deadline (at most 1 ms of real time), then polls with a clock that runs
/// `speed` times faster than real time. Once `finishing` is set it jumps
/// the clock to each next deadline instead, so that everything pending
/// times out. Runs until `stop`.
pub fn run_poller(load: &Load, slot: usize, speed: u64, finishing: &AtomicBool, stop: &AtomicBool) {
    register_thread(slot);
    let agent = load.agent();
    // SAFETY: a live agent.
    let fd = unsafe { zma_agent_fd(agent) };
    assert!(fd >= 0, "polled mode has a descriptor");
    let started = Instant::now();
    let mut now = load.clock.load(Ordering::SeqCst);
    while !stop.load(Ordering::SeqCst) {
        load.doing(D_FD);
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 1) };
        let real = started.elapsed().as_millis() as u64 * speed;
        now = now.max(real);
        if finishing.load(Ordering::SeqCst) {
            // SAFETY: a live agent.
            let next = unsafe { zma_agent_next_timeout_ms(agent) };
            if next >= 0 {
                now = now.max(next as u64);
            }
        }
        load.clock.store(now, Ordering::SeqCst);
        load.doing(D_POLL);
        // SAFETY: a live agent.
        let rc = unsafe { zma_agent_poll(agent, now) };
        load.polls.fetch_add(1, Ordering::Relaxed);
        if rc != ZMA_OK {
            load.ledger
                .violation(format!("zma_agent_poll({now}): {rc} ({})", last_error()));
        }
    }
    load.doing(D_DONE);
}

// ---- the process ---------------------------------------------------------------------------

/// VmRSS of this process, in KiB.
pub fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

/// Threads of this process.
pub fn threads() -> u64 {
    status_field("Threads:")
}

fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of this process (not counting the one reading them).
pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
        .saturating_sub(1)
}

/// Runs `body`; if it takes longer than `limit`, writes `what` to stderr
/// (unbuffered, so a test harness's capture cannot swallow it) and aborts
/// the process: a hang must fail, not block CI.
pub fn within<T>(limit: Duration, what: &str, body: impl FnOnce() -> T) -> T {
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    let what = what.to_owned();
    std::thread::spawn(move || {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !flag.load(Ordering::SeqCst) {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "STALL: {what} did not return within {limit:?}; aborting"
            );
            std::process::abort();
        }
    });
    let result = body();
    done.store(true, Ordering::SeqCst);
    result
}

/// Counts used for progress: calls made plus answers received.
pub fn progress(load: &Load) -> u64 {
    load.ledger.calls.load(Ordering::SeqCst) + load.ledger.answers.load(Ordering::SeqCst)
}

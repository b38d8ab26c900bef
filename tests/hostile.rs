//! The hostile-input corpus: every file of `tests/hostile/cases/` goes
//! through the C ABI as a host would hand it over, and the outcome is
//! checked against `tests/hostile/expectations.tsv` (written, with the
//! cases, by `tests/hostile/generate.py`; its header explains the columns).
//!
//! For each case a fresh agent (polled, host-delegated Supervisor unless the
//! case says otherwise) first deploys a small valid configuration, played
//! through to RUNNING, so that there is state to protect. Then the hostile
//! input goes in, and the test checks the exact status, that
//! `zma_last_error()` names the problem, and that a refused input changed
//! nothing and emitted nothing (docs/protocol.md, "Limits and refusals"); a
//! configuration refused by validation must be answered with failed results
//! and leave the running configuration alone (docs/behaviour.md, "Validation").
//!
//! The inputs too big to commit (a 50 MB string, a 100,000-node
//! configuration, a 64 MiB event) are `gen:` rows, built here at run time.
//! Every failing case is reported at the end, by file name.

#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};
use zeek_mgmt_agent::ffi::*;

const HOSTILE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hostile");
/// The stand-in node program: only ever named, never started here.
const STANDIN: &str = "target/release/zma-standin-node";

// ---- the table ------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Request,
    Options,
    Poll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateCheck {
    /// The state JSON is byte for byte the same.
    Same,
    /// `config_id` and `nodes` are the same.
    Config,
    /// The input is accepted and may change the state.
    Any,
}

#[derive(Clone, Debug)]
struct AgentSpec {
    dialect: String,
    encoding: String,
    process: bool,
    max_event_bytes: Option<u64>,
    max_json_depth: Option<u64>,
    base: bool,
}

#[derive(Clone, Debug)]
struct Case {
    line: usize,
    file: String,
    target: Target,
    agent: AgentSpec,
    status: c_int,
    message: Option<String>,
    response_error: Option<String>,
    state: StateCheck,
}

fn status_code(name: &str) -> Option<c_int> {
    Some(match name {
        "ZMA_OK" => ZMA_OK,
        "ZMA_ERR_NULL" => ZMA_ERR_NULL,
        "ZMA_ERR_UTF8" => ZMA_ERR_UTF8,
        "ZMA_ERR_JSON" => ZMA_ERR_JSON,
        "ZMA_ERR_EVENT" => ZMA_ERR_EVENT,
        "ZMA_ERR_STATE" => ZMA_ERR_STATE,
        "ZMA_ERR_OPTIONS" => ZMA_ERR_OPTIONS,
        "ZMA_ERR_IO" => ZMA_ERR_IO,
        "ZMA_ERR_PANIC" => ZMA_ERR_PANIC,
        "ZMA_ERR_LIMIT" => ZMA_ERR_LIMIT,
        _ => return None,
    })
}

fn status_name(code: c_int) -> String {
    [
        "ZMA_OK",
        "ZMA_ERR_NULL",
        "ZMA_ERR_UTF8",
        "ZMA_ERR_JSON",
        "ZMA_ERR_EVENT",
        "ZMA_ERR_STATE",
        "ZMA_ERR_OPTIONS",
        "ZMA_ERR_IO",
        "ZMA_ERR_PANIC",
        "ZMA_ERR_LIMIT",
    ]
    .into_iter()
    .find(|name| status_code(name) == Some(code))
    .map_or_else(|| format!("status {code}"), str::to_owned)
}

fn dash(column: &str) -> Option<String> {
    (column != "-").then(|| column.to_owned())
}

fn parse_agent(column: &str) -> Result<AgentSpec, String> {
    let mut spec = AgentSpec {
        dialect: "zeek7".into(),
        encoding: "plain".into(),
        process: false,
        max_event_bytes: None,
        max_json_depth: None,
        base: true,
    };
    if column == "-" {
        return Ok(spec);
    }
    for item in column.split(',') {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("agent override '{item}' is not key=value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("agent override '{item}': not a number"))
        };
        match key {
            "dialect" => spec.dialect = value.into(),
            "encoding" => spec.encoding = value.into(),
            "sup" => match value {
                "process" => spec.process = true,
                "host" => spec.process = false,
                _ => return Err(format!("agent override '{item}': host or process")),
            },
            "max_event_bytes" => spec.max_event_bytes = Some(number()?),
            "max_json_depth" => spec.max_json_depth = Some(number()?),
            "base" => spec.base = value != "none",
            _ => return Err(format!("unknown agent override '{key}'")),
        }
    }
    // The process supervisor is only used for refusals: nothing may start.
    if spec.process {
        spec.base = false;
    }
    Ok(spec)
}

fn load_table() -> Vec<Case> {
    let path = Path::new(HOSTILE_DIR).join("expectations.tsv");
    let text = std::fs::read_to_string(&path).expect("expectations.tsv");
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 7, "expectations.tsv:{line_no}: 7 columns");
        let target = match cols[1] {
            "request" => Target::Request,
            "options" => Target::Options,
            "poll" => Target::Poll,
            other => panic!("expectations.tsv:{line_no}: unknown target '{other}'"),
        };
        let status = status_code(cols[3])
            .unwrap_or_else(|| panic!("expectations.tsv:{line_no}: unknown status '{}'", cols[3]));
        let state = match cols[6] {
            "same" | "-" => StateCheck::Same,
            "config" => StateCheck::Config,
            "any" => StateCheck::Any,
            other => panic!("expectations.tsv:{line_no}: unknown state check '{other}'"),
        };
        assert!(
            status == ZMA_OK || state == StateCheck::Same,
            "expectations.tsv:{line_no}: a refused input must leave the state the same"
        );
        cases.push(Case {
            line: line_no,
            file: cols[0].to_owned(),
            target,
            agent: parse_agent(cols[2])
                .unwrap_or_else(|e| panic!("expectations.tsv:{line_no}: {e}")),
            status,
            message: dash(cols[4]),
            response_error: dash(cols[5]),
            state,
        });
    }
    cases
}

// ---- the C side ------------------------------------------------------------------

fn last_error() -> Option<String> {
    let p = zma_last_error();
    // SAFETY: the library's thread-local message, valid until the next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// `bytes` as a C string: a NUL is appended, and a C host's string ends at
/// its first NUL, so a raw NUL inside cuts the input there (as it would in C).
fn c_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Response,
    Notification,
    Publish,
    Log,
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(Kind, String)>>,
}

impl Recorder {
    fn take(&self, kind: Kind) -> Vec<String> {
        let mut events = self.events.lock().unwrap();
        let (taken, kept): (Vec<_>, Vec<_>) = events.drain(..).partition(|(k, _)| *k == kind);
        *events = kept;
        taken.into_iter().map(|(_, json)| json).collect()
    }

    fn take_all(&self) -> Vec<(Kind, String)> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

unsafe fn record(user_data: *mut c_void, kind: Kind, json: *const c_char) {
    // SAFETY: user_data is the Recorder registered below, which outlives
    // the agent; the string is valid during the callback.
    let rec = unsafe { &*(user_data as *const Recorder) };
    let json = unsafe { CStr::from_ptr(json) }
        .to_string_lossy()
        .into_owned();
    rec.events.lock().unwrap().push((kind, json));
}

unsafe extern "C" fn on_response(ud: *mut c_void, _topic: *const c_char, json: *const c_char) {
    unsafe { record(ud, Kind::Response, json) }
}

unsafe extern "C" fn on_notification(ud: *mut c_void, _topic: *const c_char, json: *const c_char) {
    unsafe { record(ud, Kind::Notification, json) }
}

unsafe extern "C" fn on_publish(ud: *mut c_void, _topic: *const c_char, json: *const c_char) {
    unsafe { record(ud, Kind::Publish, json) }
}

unsafe extern "C" fn on_log(ud: *mut c_void, _level: c_int, message: *const c_char) {
    unsafe { record(ud, Kind::Log, message) }
}

/// An agent with its recorder; frees the agent first when dropped.
struct Agent {
    ptr: *mut zma_agent,
    rec: Box<Recorder>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: an agent from zma_agent_new, freed once.
        unsafe { zma_agent_free(self.ptr) };
    }
}

impl Agent {
    fn handle(&self, bytes: &[u8]) -> c_int {
        let c = c_bytes(bytes);
        // SAFETY: a live agent and a NUL-terminated buffer.
        unsafe { zma_agent_handle_request(self.ptr, c.as_ptr() as *const c_char) }
    }

    fn handle_ok(&self, json: &str) -> Result<(), String> {
        match self.handle(json.as_bytes()) {
            ZMA_OK => Ok(()),
            code => Err(format!(
                "setup: {} for {}: {:?}",
                status_name(code),
                clip(json),
                last_error()
            )),
        }
    }

    fn state(&self) -> String {
        let mut out: *mut c_char = ptr::null_mut();
        // SAFETY: a live agent and a writable out pointer.
        let status = unsafe { zma_agent_state_json(self.ptr, &mut out) };
        assert_eq!(status, ZMA_OK, "zma_agent_state_json: {:?}", last_error());
        // SAFETY: an owned string from the library.
        let state = unsafe { CStr::from_ptr(out) }
            .to_string_lossy()
            .into_owned();
        unsafe { zma_string_free(out) };
        state
    }
}

fn agent_options(spec: &AgentSpec, state_dir: &Path) -> String {
    let supervisor = if spec.process {
        json!({"kind": "process", "zeek": STANDIN})
    } else {
        json!({"kind": "host"})
    };
    let mut options = json!({
        "name": "instance-1",
        "mode": "polled",
        "dialect": spec.dialect,
        "encoding": spec.encoding,
        "supervisor": supervisor,
        "state_dir": state_dir.to_str().unwrap(),
    });
    if let Some(n) = spec.max_event_bytes {
        options["max_event_bytes"] = json!(n);
    }
    if let Some(n) = spec.max_json_depth {
        options["max_json_depth"] = json!(n);
    }
    options.to_string()
}

fn new_agent(spec: &AgentSpec, state_dir: &Path) -> Result<Agent, String> {
    let options = c_bytes(agent_options(spec, state_dir).as_bytes());
    let mut error: *mut c_char = ptr::null_mut();
    // SAFETY: a NUL-terminated buffer and a writable out pointer.
    let ptr = unsafe { zma_agent_new(options.as_ptr() as *const c_char, &mut error) };
    if ptr.is_null() {
        // SAFETY: an owned message from the library.
        let message = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        unsafe { zma_string_free(error) };
        return Err(format!("setup: zma_agent_new: {message}"));
    }
    let agent = Agent {
        ptr,
        rec: Box::default(),
    };
    let ud = &*agent.rec as *const Recorder as *mut c_void;
    // SAFETY: a live agent; the recorder outlives it (Agent::drop frees the
    // agent before the box goes).
    unsafe {
        zma_agent_set_response_callback(ptr, Some(on_response), ud);
        zma_agent_set_notification_callback(ptr, Some(on_notification), ud);
        zma_agent_set_publish_callback(ptr, Some(on_publish), ud);
        zma_agent_set_log_callback(ptr, Some(on_log), ud);
    }
    Ok(agent)
}

// ---- the base deployment, played through -------------------------------------------

const BASE_DEPLOY: &str = r#"{"event": "deploy_request", "args": {"reqid": "base-deploy",
    "config": {"id": "base-config",
        "instances": [{"name": "instance-1", "host": "127.0.0.1", "listen_port": 2151}],
        "nodes": [
            {"name": "base-manager", "instance": "instance-1", "role": "MANAGER", "p": 5000},
            {"name": "base-worker", "instance": "instance-1", "role": "WORKER", "interface": "lo",
             "scripts": ["site/local"], "env": {"A": "1"}}]}}}"#;

/// The name, the request id and (create) the node name of an event the
/// agent published, in either encoding.
fn published(json: &str) -> Option<(String, String, Option<String>)> {
    let v: Value = serde_json::from_str(json).ok()?;
    if let Some(name) = v["event"].as_str() {
        let reqid = v["args"]["reqid"].as_str()?.to_owned();
        let node = v["args"]["node"]["name"].as_str().map(str::to_owned);
        return Some((name.to_owned(), reqid, node));
    }
    let inner = &v["data"][2]["data"];
    let name = inner[0]["data"].as_str()?.to_owned();
    let args = &inner[1]["data"];
    let reqid = args[0]["data"].as_str()?.to_owned();
    let node = args[1]["data"][0]["data"].as_str().map(str::to_owned);
    Some((name, reqid, node))
}

/// Deploys the base configuration and plays the Supervisor and the nodes
/// until both nodes run.
fn base_deploy(agent: &Agent) -> Result<(), String> {
    agent.handle_ok(BASE_DEPLOY)?;
    for _ in 0..20 {
        let out = agent.rec.take(Kind::Publish);
        if out.is_empty() {
            break;
        }
        for json in out {
            let Some((name, reqid, node)) = published(&json) else {
                continue;
            };
            let answer = |event: &str, result: Value| {
                json!({"event": event, "args": {"reqid": reqid, "result": result}}).to_string()
            };
            match name.as_str() {
                "SupervisorControl::status_request" => agent.handle_ok(&answer(
                    "SupervisorControl::status_response",
                    json!({"nodes": {}}),
                ))?,
                "SupervisorControl::create_request" => {
                    agent.handle_ok(&answer("SupervisorControl::create_response", json!("")))?;
                    let hello = json!({"event": "Management::Node::API::notify_node_hello",
                        "args": {"node": node.unwrap_or_default()}});
                    agent.handle_ok(&hello.to_string())?;
                }
                "SupervisorControl::destroy_request" => {
                    agent.handle_ok(&answer("SupervisorControl::destroy_response", json!(true)))?
                }
                _ => {}
            }
        }
    }
    let state: Value = serde_json::from_str(&agent.state()).unwrap();
    let running = state["nodes"]
        .as_array()
        .is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["state"] == "RUNNING"));
    if state["config_id"] != "base-config" || !running {
        return Err(format!(
            "setup: the base deployment did not come up: {state}"
        ));
    }
    let answered = agent
        .rec
        .take(Kind::Response)
        .iter()
        .any(|r| r.contains("base-deploy") && failed_errors(r).is_empty());
    if !answered {
        return Err("setup: the base deployment was not answered with success".into());
    }
    agent.rec.take_all();
    Ok(())
}

// ---- inspecting answers --------------------------------------------------------------

/// The `error` of every failed Result in a response, in either encoding.
fn failed_errors(json: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                // Plain: {"success": false, "error": "..."}.
                if map.get("success") == Some(&Value::Bool(false)) {
                    out.push(
                        map.get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .into(),
                    );
                }
                // Broker: a Result vector with a false boolean second (zeek5+)
                // or third (seed), its error fifth.
                if map.get("@data-type").and_then(Value::as_str) == Some("vector") {
                    if let Some(fields) = map.get("data").and_then(Value::as_array) {
                        let is_false = |f: &Value| {
                            f["@data-type"] == "boolean" && f["data"] == Value::Bool(false)
                        };
                        if fields.len() == 6 && (is_false(&fields[1]) || is_false(&fields[2])) {
                            out.push(fields[4]["data"].as_str().unwrap_or("").into());
                        }
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(json) {
        Ok(v) => walk(&v, &mut out),
        Err(e) => out.push(format!("<response is not JSON: {e}>")),
    }
    out
}

fn clip(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// The entries of `<state_dir>/nodes`, to see that nothing was created.
fn node_dirs(state_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state_dir.join("nodes"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// ---- inputs built at run time ----------------------------------------------------------

const MB50: usize = 50 * 1000 * 1000;

fn welcome_with_reqid(reqid: &str) -> Vec<u8> {
    format!(r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{reqid}"}}}}"#).into_bytes()
}

fn deploy_of(nodes: &str) -> Vec<u8> {
    format!(
        r#"{{"event": "deploy_request", "args": {{"reqid": "h-deploy", "config": {{"id": "hostile-config",
        "instances": [{{"name": "instance-1", "host": "127.0.0.1"}}], "nodes": [{nodes}]}}}}}}"#
    )
    .into_bytes()
}

fn plain_nodes(count: usize, last_name: &str) -> String {
    let mut s = String::with_capacity(count * 64);
    for i in 0..count {
        let name = if i + 1 == count {
            last_name.to_owned()
        } else {
            format!("n{i}")
        };
        if i > 0 {
            s.push(',');
        }
        write!(
            s,
            r#"{{"name":"{name}","instance":"instance-1","role":"WORKER"}}"#
        )
        .unwrap();
    }
    s
}

fn broker_deploy_100k_bad_port() -> Vec<u8> {
    let b = |t: &str, d: &str| format!(r#"{{"@data-type":"{t}","data":{d}}}"#);
    let s = |v: &str| b("string", &format!("\"{v}\""));
    let none = b("none", "{}");
    let mut nodes = String::with_capacity(100_000 * 700);
    for i in 0..100_000 {
        if i > 0 {
            nodes.push(',');
        }
        let port = if i == 99_999 { "70000/tcp" } else { "0/?" };
        let fields = [
            s(&format!("n{i}")),
            s("instance-1"),
            b("enum-value", "\"Supervisor::WORKER\""),
            b("enum-value", "\"Management::RUNNING\""),
            b("port", &format!("\"{port}\"")),
            none.clone(),
            none.clone(),
            none.clone(),
            none.clone(),
            b("table", "[]"),
            none.clone(),
        ];
        nodes.push_str(&b("vector", &format!("[{}]", fields.join(","))));
    }
    let instance = b(
        "vector",
        &format!(
            "[{},{},{}]",
            s("instance-1"),
            b("address", "\"127.0.0.1\""),
            none
        ),
    );
    let config = b(
        "vector",
        &format!(
            "[{},{},{}]",
            s("hostile-config"),
            b("set", &format!("[{instance}]")),
            b("set", &format!("[{nodes}]"))
        ),
    );
    let args = b(
        "vector",
        &format!("[{},{},{}]", s("h-deploy"), config, b("boolean", "false")),
    );
    let inner = b(
        "vector",
        &format!("[{},{}]", s("Management::Agent::API::deploy_request"), args),
    );
    format!(
        r#"{{"type":"data-message","topic":"zeek/management/agent/instance-1","@data-type":"vector","data":[{},{},{}]}}"#,
        b("count", "1"),
        b("count", "1"),
        inner
    )
    .into_bytes()
}

fn generated_input(name: &str) -> Vec<u8> {
    match name {
        "over-default-limit-64mib" => {
            let mut v = welcome_with_reqid("w");
            v.resize(64 * 1024 * 1024 + 1, b' ');
            v
        }
        "string-50mb-over-small-limit" | "string-50mb-reqid" => {
            welcome_with_reqid(&"r".repeat(MB50))
        }
        "string-50mb-node-name" => deploy_of(&format!(
            r#"{{"name": "{}", "instance": "instance-1", "role": "WORKER"}}"#,
            "n".repeat(MB50)
        )),
        "string-50mb-script-dash" => deploy_of(&format!(
            r#"{{"name": "h-worker", "instance": "instance-1", "role": "WORKER", "scripts": ["-{}"]}}"#,
            "e".repeat(MB50)
        )),
        "string-50mb-invalid-utf8-at-end" => {
            let mut v = format!(
                r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{}"#,
                "r".repeat(MB50)
            )
            .into_bytes();
            v.extend_from_slice(b"\xff\"}}");
            v
        }
        "string-50mb-unterminated" => format!(
            r#"{{"event": "agent_welcome_request", "args": {{"reqid": "{}"#,
            "r".repeat(MB50)
        )
        .into_bytes(),
        "config-100k-nodes-dup-name" => deploy_of(&plain_nodes(100_000, "n0")),
        "config-100k-nodes-traversal-last" => deploy_of(&plain_nodes(100_000, "../../n99999")),
        "config-100k-nodes-broker-bad-port" => broker_deploy_100k_bad_port(),
        "config-100k-nodes-all-bad-names" => {
            let nodes: Vec<String> = (0..100_000)
                .map(|i| format!(r#"{{"name":"n {i}","instance":"instance-1","role":"WORKER"}}"#))
                .collect();
            deploy_of(&nodes.join(","))
        }
        "config-100k-nodes-remote-accepted" => {
            let nodes = plain_nodes(100_000, "n99999").replace("instance-1", "instance-2");
            format!(
                r#"{{"event": "deploy_request", "args": {{"reqid": "h-deploy", "config": {{"id": "remote-config",
                "instances": [{{"name": "instance-1", "host": "127.0.0.1"}}, {{"name": "instance-2", "host": "10.0.0.2"}}],
                "nodes": [{nodes}]}}}}}}"#
            )
            .into_bytes()
        }
        "depth-1m-arrays" => {
            let mut v = vec![b'['; 1_000_000];
            v.resize(2_000_000, b']');
            v
        }
        other => panic!("no generator for gen:{other}"),
    }
}

fn input_of(case: &Case) -> Vec<u8> {
    match case.file.strip_prefix("gen:") {
        Some(name) => generated_input(name),
        None => std::fs::read(Path::new(HOSTILE_DIR).join("cases").join(&case.file))
            .unwrap_or_else(|e| panic!("cases/{}: {e}", case.file)),
    }
}

// ---- running one case -------------------------------------------------------------------

fn expect_message(case: &Case, message: &Option<String>) -> Result<(), String> {
    match (&case.message, message) {
        (None, None) => Ok(()),
        (None, Some(m)) => Err(format!("zma_last_error() is '{}', expected NULL", clip(m))),
        (Some(want), None) => Err(format!("zma_last_error() is NULL, expected '{want}'")),
        (Some(want), Some(m)) if m.contains(want.as_str()) => Ok(()),
        (Some(want), Some(m)) => Err(format!(
            "zma_last_error() is '{}', which does not contain '{want}'",
            clip(m)
        )),
    }
}

fn run_options(case: &Case, bytes: &[u8]) -> Result<(), String> {
    let c = c_bytes(bytes);
    // zma_agent_create gives the status ...
    let mut agent: *mut zma_agent = ptr::null_mut();
    // SAFETY: a NUL-terminated buffer and a writable out pointer.
    let got = unsafe { zma_agent_create(c.as_ptr() as *const c_char, &mut agent) };
    let message = last_error();
    if !agent.is_null() {
        // SAFETY: the agent just created.
        unsafe { zma_agent_free(agent) };
    }
    if got != case.status {
        return Err(format!(
            "zma_agent_create gave {} (message {:?}), expected {}",
            status_name(got),
            message.as_deref().map(clip),
            status_name(case.status)
        ));
    }
    if (got == ZMA_OK) == agent.is_null() {
        return Err(format!(
            "zma_agent_create gave {} with *agent_out {agent:?}",
            status_name(got)
        ));
    }
    // ... and zma_agent_new the same outcome, the message also in *error_out.
    let mut error: *mut c_char = ptr::null_mut();
    // SAFETY: a NUL-terminated buffer and a writable out pointer.
    let agent = unsafe { zma_agent_new(c.as_ptr() as *const c_char, &mut error) };
    let new_message = last_error();
    let error_out = (!error.is_null()).then(|| {
        // SAFETY: an owned message from the library.
        let s = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        unsafe { zma_string_free(error) };
        s
    });
    if !agent.is_null() {
        // SAFETY: the agent just created.
        unsafe { zma_agent_free(agent) };
    }
    if agent.is_null() != (got != ZMA_OK) {
        return Err(format!(
            "zma_agent_new gave {} where zma_agent_create gave {}",
            if agent.is_null() { "NULL" } else { "an agent" },
            status_name(got)
        ));
    }
    if error_out != new_message {
        return Err(format!(
            "*error_out {error_out:?} differs from zma_last_error() {new_message:?}"
        ));
    }
    // The same message but for the function's name (UTF-8 errors name it).
    let renamed = new_message
        .as_ref()
        .map(|m| m.replace("zma_agent_new:", "zma_agent_create:"));
    if renamed != message {
        return Err(format!(
            "zma_agent_new's message {renamed:?} differs from zma_agent_create's {message:?}"
        ));
    }
    // The expectations name zma_agent_new.
    expect_message(case, &new_message)
}

fn run_agent_case(case: &Case, bytes: &[u8], state_dir: &Path) -> Result<(), String> {
    let agent = new_agent(&case.agent, state_dir)?;
    if case.agent.base {
        base_deploy(&agent)?;
    }
    let before = agent.state();
    let dirs_before = node_dirs(state_dir);
    let status = match case.target {
        Target::Poll => {
            let now: u64 = std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or("a poll case holds a decimal now_ms")?;
            // SAFETY: a live agent.
            unsafe { zma_agent_poll(agent.ptr, now) }
        }
        _ => agent.handle(bytes),
    };
    let message = last_error();
    let after = agent.state();
    let emitted = agent.rec.take_all();
    let mut problems = Vec::new();
    if status != case.status {
        problems.push(format!(
            "status {}, expected {} (zma_last_error: {:?})",
            status_name(status),
            status_name(case.status),
            message.as_deref().map(clip)
        ));
    }
    if let Err(e) = expect_message(case, &message) {
        problems.push(e);
    }
    let responses: Vec<&str> = emitted
        .iter()
        .filter(|(k, _)| *k == Kind::Response)
        .map(|(_, j)| j.as_str())
        .collect();
    let failures: Vec<String> = responses.iter().flat_map(|r| failed_errors(r)).collect();
    if status != ZMA_OK {
        if !emitted.is_empty() {
            problems.push(format!(
                "a refused input emitted {} events or log lines, first {:?}",
                emitted.len(),
                clip(&emitted[0].1)
            ));
        }
    } else {
        match &case.response_error {
            Some(want) => {
                if !failures.iter().any(|e| e.contains(want.as_str())) {
                    problems.push(format!(
                        "no failed Result whose error contains '{want}'; failed results: {:?}; responses: {:?}",
                        failures.iter().map(|f| clip(f)).collect::<Vec<_>>(),
                        responses.iter().map(|r| clip(r)).collect::<Vec<_>>()
                    ));
                }
            }
            None => {
                if !failures.is_empty() {
                    problems.push(format!(
                        "unexpected failed Results: {:?}",
                        failures.iter().map(|f| clip(f)).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    let check = if status != ZMA_OK {
        StateCheck::Same
    } else {
        case.state
    };
    match check {
        StateCheck::Same => {
            if after != before {
                problems.push(format!(
                    "the state changed:\n      before {}\n      after  {}",
                    clip(&before),
                    clip(&after)
                ));
            }
        }
        StateCheck::Config => {
            let (b, a): (Value, Value) = (
                serde_json::from_str(&before).unwrap(),
                serde_json::from_str(&after).unwrap(),
            );
            if a["config_id"] != b["config_id"] || a["nodes"] != b["nodes"] {
                problems.push(format!(
                    "config_id or nodes changed:\n      before {}\n      after  {}",
                    clip(&before),
                    clip(&after)
                ));
            }
        }
        StateCheck::Any => {}
    }
    if check != StateCheck::Any && node_dirs(state_dir) != dirs_before {
        problems.push(format!(
            "node directories changed: {:?} -> {:?}",
            dirs_before,
            node_dirs(state_dir)
        ));
    }
    drop(agent);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

fn run_case(case: &Case, state_dir: &Path) -> Result<(), String> {
    let bytes = input_of(case);
    match case.target {
        Target::Options => run_options(case, &bytes),
        Target::Request | Target::Poll => run_agent_case(case, &bytes, state_dir),
    }
}

/// Runs the cases (committed files, or the `gen:` rows), each behind a
/// panic catcher, and fails listing every failing case.
fn run_all(generated: bool) {
    let cases: Vec<Case> = load_table()
        .into_iter()
        .filter(|c| c.file.starts_with("gen:") == generated)
        .collect();
    assert!(!cases.is_empty());
    let root: PathBuf = std::env::temp_dir().join(format!(
        "zma-hostile-{}-{}",
        if generated { "gen" } else { "files" },
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    let state_dir = root.join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let mut failures = Vec::new();
    let mut slow = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let outcome =
            catch_unwind(AssertUnwindSafe(|| run_case(case, &state_dir))).unwrap_or_else(|panic| {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Err(format!("panicked: {text}"))
            });
        let elapsed = started.elapsed();
        if elapsed.as_millis() >= 500 {
            slow.push(format!("{} {:.1}s", case.file, elapsed.as_secs_f64()));
        }
        if let Err(e) = outcome {
            failures.push(format!(
                "{} (expectations.tsv:{}): {e}",
                case.file, case.line
            ));
        }
    }
    // Nothing escaped the state directory (`../../etc` and friends).
    let mut outside: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "state")
        .collect();
    outside.sort();
    if !outside.is_empty() {
        failures.push(format!("created next to the state directory: {outside:?}"));
    }
    let _ = std::fs::remove_dir_all(&root);
    if !slow.is_empty() {
        eprintln!("slow cases: {}", slow.join(", "));
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

#[test]
fn committed_hostile_cases_get_their_documented_status() {
    run_all(false);
}

#[test]
fn generated_huge_inputs_get_their_documented_status() {
    run_all(true);
}

#[test]
fn every_case_file_is_in_the_table_and_every_row_has_a_file() {
    let table = load_table();
    let listed: std::collections::BTreeSet<&str> = table
        .iter()
        .filter(|c| !c.file.starts_with("gen:"))
        .map(|c| c.file.as_str())
        .collect();
    assert_eq!(
        listed.len(),
        table.iter().filter(|c| !c.file.starts_with("gen:")).count(),
        "a file listed twice"
    );
    let mut on_disk = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(Path::new(HOSTILE_DIR).join("cases")).unwrap() {
        on_disk.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
    }
    let on_disk: std::collections::BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
    assert_eq!(
        on_disk.difference(&listed).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "case files without a row"
    );
    assert_eq!(
        listed.difference(&on_disk).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "rows without a case file"
    );
    assert!(table.len() >= 200, "{} cases", table.len());
}

//! The agent options (`docs/options.md`): a JSON object, every key optional.
//!
//! Unknown keys (at any level, including keys that belong to the other
//! supervisor kind), wrong types (numbers must be whole) and impossible
//! values are refused with a message naming the key. `null` means "use the
//! default". Some defaults come from the environment, as Zeek's agent
//! takes them (`ZEEK_AGENT_NAME`, `ZEEK_AGENT_ADDR`, `ZEEK_AGENT_PORT`,
//! `ZEEK_MANAGEMENT_STATE_DIR`); the environment is passed in so that
//! tests control it.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use crate::engine::{AgentConfig, EncodingChoice, SupervisorKind};
use crate::text::escape_for_message;
use crate::wire::json::{self, Json, ParseError};
use crate::wire::{Dialect, Limits};

/// Who runs the clock and the supervision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The library's own thread fires timeouts and supervises.
    Threaded,
    /// Nothing runs behind the host's back; the host calls `poll`.
    Polled,
}

/// When a started node counts as RUNNING.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeReady {
    /// Its `notify_node_hello` arrived.
    Hello,
    /// Its process stayed up `ready_after_ms` (process supervisor only).
    Spawn,
}

/// Settings of the built-in process supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessOptions {
    /// The program started for each node.
    pub zeek: String,
    pub output_max_lines: usize,
    pub stop_grace_ms: u64,
    pub restart_delay_ms: u64,
    pub restart_delay_max_ms: u64,
    pub args_prefix: Vec<String>,
    pub max_start_failures: u32,
}

impl Default for ProcessOptions {
    fn default() -> ProcessOptions {
        ProcessOptions {
            zeek: "zeek".to_owned(),
            output_max_lines: 100,
            stop_grace_ms: 5000,
            restart_delay_ms: 1000,
            restart_delay_max_ms: 60_000,
            args_prefix: Vec::new(),
            max_start_failures: 5,
        }
    }
}

/// Everything `zma_agent_new` is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentOptions {
    pub engine: AgentConfig,
    pub mode: Mode,
    pub limits: Limits,
    pub process: ProcessOptions,
    pub node_ready: NodeReady,
    pub ready_after_ms: u64,
    pub stop_nodes_on_free: bool,
    /// With the process supervisor, a new agent takes over the nodes an
    /// earlier agent on the same state directory left running (with
    /// `stop_nodes_on_free: false`) instead of stopping them.
    pub adopt_nodes: bool,
    /// With the process supervisor, get_nodes lists the agent itself (its
    /// host process) as Zeek's Supervisor lists Zeek's agent; for hosts that
    /// are themselves the agent's Zeek node (the Zeek plugin).
    pub list_self: bool,
}

/// A refused option: which key, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsError {
    /// The key as a path (`supervisor.stop_grace_ms`), or `""` for the
    /// options as a whole.
    pub key: String,
    pub message: String,
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "options: {}", self.message)
        } else {
            write!(f, "option '{}': {}", self.key, self.message)
        }
    }
}

impl std::error::Error for OptionsError {}

type R<T> = Result<T, OptionsError>;

fn refuse<T>(key: &str, message: impl Into<String>) -> R<T> {
    Err(OptionsError {
        key: key.to_owned(),
        message: message.into(),
    })
}

/// Parses the options JSON (`None` or `"{}"` for all defaults). `env` looks
/// an environment variable up; `random_id` makes the random parts of the
/// defaults (the Broker id, the nonce of generated request ids).
pub fn parse_options(
    text: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    random_id: &dyn Fn() -> String,
) -> R<AgentOptions> {
    let text = text.unwrap_or("{}");
    let json = json::parse(text, 16).map_err(|e| OptionsError {
        key: String::new(),
        message: match e {
            ParseError::TooDeep { .. } => "nested too deeply".to_owned(),
            ParseError::Syntax(m) => format!("not JSON: {m}"),
        },
    })?;
    let top = Obj::new("", &json)?;
    top.only(&[
        "name",
        "dialect",
        "encoding",
        "topic_prefix",
        "request_timeout_ms",
        "listen_address",
        "listen_port",
        "controller_address",
        "controller_port",
        "state_dir",
        "mode",
        "supervisor",
        "node_ready",
        "ready_after_ms",
        "broker_id",
        "max_event_bytes",
        "max_json_depth",
        "stop_nodes_on_free",
        "adopt_nodes",
        "list_self",
        "stage_wait_ms",
        "supervisor_timeout_ms",
    ])?;

    let name = match top.string("name")? {
        Some(name) => name,
        None => match env("ZEEK_AGENT_NAME").filter(|n| !n.is_empty()) {
            Some(name) => name,
            None => format!("agent-{}", hostname(env)),
        },
    };
    check_name("name", &name)?;
    let mut engine = AgentConfig::new(name);

    if let Some(d) = top.string("dialect")? {
        engine.dialect = Dialect::parse(&d)
            .ok_or_else(|| bad_choice("dialect", &d, "seed, zeek5, zeek6, zeek7"))?;
    }
    if let Some(e) = top.string("encoding")? {
        engine.encoding = match e.as_str() {
            "auto" => EncodingChoice::Auto,
            "broker" => EncodingChoice::Broker,
            "plain" => EncodingChoice::Plain,
            _ => return Err(bad_choice("encoding", &e, "auto, broker, plain")),
        };
    }
    if let Some(prefix) = top.string("topic_prefix")? {
        if prefix.is_empty() || prefix.chars().any(char::is_control) {
            return refuse(
                "topic_prefix",
                "must be a non-empty topic without control characters",
            );
        }
        engine.topic_prefix = prefix;
    }
    if let Some(ms) = top.whole("request_timeout_ms")? {
        engine.request_timeout_ms = positive("request_timeout_ms", ms)?;
    }
    engine.listen_address = match top.address("listen_address")? {
        Some(a) => a,
        None => env_address(env, "ZEEK_AGENT_ADDR")?.unwrap_or(engine.listen_address),
    };
    engine.listen_port = match top.port("listen_port")? {
        Some(p) => p,
        None => env_port(env, "ZEEK_AGENT_PORT")?.unwrap_or(engine.listen_port),
    };
    if let Some(a) = top.address("controller_address")? {
        engine.controller_address = a;
    }
    if let Some(p) = top.port("controller_port")? {
        engine.controller_port = p;
    }
    engine.state_dir = match top.string("state_dir")? {
        Some(dir) => dir,
        None => env("ZEEK_MANAGEMENT_STATE_DIR")
            .filter(|d| !d.is_empty())
            .unwrap_or(engine.state_dir),
    };
    if engine.state_dir.is_empty() || engine.state_dir.contains('\0') {
        return refuse("state_dir", "must be a non-empty path without NUL");
    }
    let mode = match top.string("mode")?.as_deref() {
        None | Some("threaded") => Mode::Threaded,
        Some("polled") => Mode::Polled,
        Some(other) => return Err(bad_choice("mode", other, "threaded, polled")),
    };

    let mut process = ProcessOptions::default();
    match top.get("supervisor") {
        None => {}
        Some(json) => {
            let sup = Obj::new("supervisor", json)?;
            match sup.string("kind")?.as_deref() {
                None | Some("process") => {
                    sup.only(&[
                        "kind",
                        "zeek",
                        "output_max_lines",
                        "stop_grace_ms",
                        "restart_delay_ms",
                        "restart_delay_max_ms",
                        "args_prefix",
                        "max_start_failures",
                    ])?;
                    parse_process(&sup, &mut process)?;
                }
                Some("host") => {
                    sup.only(&["kind", "address", "port"])?;
                    let address = sup
                        .address("address")?
                        .map_or_else(|| "127.0.0.1".to_owned(), |a| a.to_string());
                    let port = sup.port("port")?.unwrap_or(9999);
                    engine.supervisor = SupervisorKind::Host { address, port };
                }
                Some(other) => return Err(bad_choice("supervisor.kind", other, "process, host")),
            }
        }
    }

    let node_ready = match top.string("node_ready")?.as_deref() {
        None | Some("hello") => NodeReady::Hello,
        Some("spawn") if engine.supervisor == SupervisorKind::Process => NodeReady::Spawn,
        Some("spawn") => return refuse("node_ready", "\"spawn\" needs the process supervisor"),
        Some(other) => return Err(bad_choice("node_ready", other, "hello, spawn")),
    };
    let ready_after_ms = top.whole("ready_after_ms")?.unwrap_or(500);
    engine.broker_id = match top.string("broker_id")? {
        Some(id) if id.is_empty() || id.chars().any(char::is_control) => {
            return refuse("broker_id", "must be non-empty, without control characters")
        }
        Some(id) => id,
        None => random_id(),
    };
    engine.id_prefix = format!("zma-{}-", random_id().chars().take(8).collect::<String>());

    let mut limits = Limits::default();
    if let Some(n) = top.whole("max_event_bytes")? {
        limits.max_event_bytes = usize::try_from(positive("max_event_bytes", n)?)
            .or_else(|_| refuse("max_event_bytes", "too large"))?;
    }
    if let Some(n) = top.whole("max_json_depth")? {
        if !(1..=MAX_JSON_DEPTH).contains(&n) {
            return refuse(
                "max_json_depth",
                format!("must be 1 to {MAX_JSON_DEPTH}, got {n}"),
            );
        }
        limits.max_json_depth = n as usize;
    }
    let stop_nodes_on_free = top.boolean("stop_nodes_on_free")?.unwrap_or(true);
    let adopt_nodes = top.boolean("adopt_nodes")?.unwrap_or(false);
    if adopt_nodes && engine.supervisor != SupervisorKind::Process {
        return refuse("adopt_nodes", "needs the process supervisor");
    }
    let list_self = top.boolean("list_self")?.unwrap_or(false);
    if let Some(ms) = top.whole("stage_wait_ms")? {
        engine.stage_wait_ms = ms;
    }
    if let Some(ms) = top.whole("supervisor_timeout_ms")? {
        engine.supervisor_timeout_ms = positive("supervisor_timeout_ms", ms)?;
    }

    Ok(AgentOptions {
        engine,
        mode,
        limits,
        process,
        node_ready,
        ready_after_ms,
        stop_nodes_on_free,
        adopt_nodes,
        list_self,
    })
}

/// The deepest nesting `max_json_depth` may allow: the JSON parser's own
/// stack guard stops at 128.
pub const MAX_JSON_DEPTH: u64 = 127;

fn parse_process(sup: &Obj<'_, '_>, process: &mut ProcessOptions) -> R<()> {
    if let Some(zeek) = sup.string("zeek")? {
        if zeek.is_empty() || zeek.contains('\0') {
            return refuse(
                "supervisor.zeek",
                "must be a program name or path without NUL",
            );
        }
        process.zeek = zeek;
    }
    if let Some(n) = sup.whole("output_max_lines")? {
        process.output_max_lines =
            usize::try_from(n).or_else(|_| refuse("supervisor.output_max_lines", "too large"))?;
    }
    if let Some(ms) = sup.whole("stop_grace_ms")? {
        process.stop_grace_ms = ms;
    }
    if let Some(ms) = sup.whole("restart_delay_ms")? {
        process.restart_delay_ms = positive("supervisor.restart_delay_ms", ms)?;
    }
    if let Some(ms) = sup.whole("restart_delay_max_ms")? {
        process.restart_delay_max_ms = positive("supervisor.restart_delay_max_ms", ms)?;
    }
    if process.restart_delay_max_ms < process.restart_delay_ms {
        return refuse(
            "supervisor.restart_delay_max_ms",
            format!(
                "{} is below restart_delay_ms ({})",
                process.restart_delay_max_ms, process.restart_delay_ms
            ),
        );
    }
    if let Some(n) = sup.whole("max_start_failures")? {
        let n = positive("supervisor.max_start_failures", n)?;
        process.max_start_failures =
            u32::try_from(n).or_else(|_| refuse("supervisor.max_start_failures", "too large"))?;
    }
    if let Some(json) = sup.get("args_prefix") {
        let Json::Array(items) = json else {
            return refuse(
                "supervisor.args_prefix",
                format!("expected an array of strings, got {}", json.kind()),
            );
        };
        process.args_prefix = items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::Str(s) if !s.contains('\0') => Ok(s.to_string()),
                Json::Str(_) => refuse(&format!("supervisor.args_prefix[{i}]"), "contains NUL"),
                other => refuse(
                    &format!("supervisor.args_prefix[{i}]"),
                    format!("expected a string, got {}", other.kind()),
                ),
            })
            .collect::<R<_>>()?;
    }
    Ok(())
}

fn bad_choice(key: &str, got: &str, choices: &str) -> OptionsError {
    OptionsError {
        key: key.to_owned(),
        message: format!("'{}' is not one of {choices}", escape_for_message(got)),
    }
}

fn positive(key: &str, n: u64) -> R<u64> {
    if n == 0 {
        refuse(key, "must be greater than 0")
    } else {
        Ok(n)
    }
}

/// An instance name: also a topic component and a process-name prefix.
fn check_name(key: &str, name: &str) -> R<()> {
    if name.is_empty()
        || name.contains('/')
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return refuse(
            key,
            format!(
                "'{}' is not usable as an instance name (empty, '/', whitespace or control characters)",
                escape_for_message(name)
            ),
        );
    }
    Ok(())
}

fn env_address(env: &dyn Fn(&str) -> Option<String>, var: &str) -> R<Option<IpAddr>> {
    match env(var).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).or_else(|_| {
            refuse(
                &format!("${var}"),
                format!("'{}' is not an IP address", escape_for_message(&v)),
            )
        }),
    }
}

fn env_port(env: &dyn Fn(&str) -> Option<String>, var: &str) -> R<Option<u16>> {
    match env(var).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => {
            // Zeek writes ports as "2151/tcp"; a bare number is fine too.
            let number = v.strip_suffix("/tcp").unwrap_or(&v);
            match number.parse::<u16>() {
                Ok(p) if p > 0 => Ok(Some(p)),
                _ => refuse(
                    &format!("${var}"),
                    format!("'{}' is not a TCP port", escape_for_message(&v)),
                ),
            }
        }
    }
}

fn hostname(env: &dyn Fn(&str) -> Option<String>) -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| env("HOSTNAME"))
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && *c != '/')
        .collect();
    if clean.is_empty() {
        "localhost".to_owned()
    } else {
        clean
    }
}

/// An options object: its members and its key path for messages.
struct Obj<'j, 'a> {
    path: String,
    members: &'j [(Cow<'a, str>, Json<'a>)],
}

impl<'j, 'a> Obj<'j, 'a> {
    fn new(path: &str, json: &'j Json<'a>) -> R<Obj<'j, 'a>> {
        match json {
            Json::Object(members) => Ok(Obj {
                path: path.to_owned(),
                members,
            }),
            other => refuse(
                path,
                format!("expected a JSON object, got {}", other.kind()),
            ),
        }
    }

    fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn only(&self, known: &[&str]) -> R<()> {
        match self
            .members
            .iter()
            .find(|(k, _)| !known.contains(&k.as_ref()))
        {
            Some((unknown, _)) => refuse(&self.key(&escape_for_message(unknown)), "unknown option"),
            None => Ok(()),
        }
    }

    /// The member, unless absent or null.
    fn get(&self, key: &str) -> Option<&'j Json<'a>> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Json::Null))
    }

    fn string(&self, key: &str) -> R<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Str(s)) => Ok(Some(s.to_string())),
            Some(other) => refuse(
                &self.key(key),
                format!("expected a string, got {}", other.kind()),
            ),
        }
    }

    fn boolean(&self, key: &str) -> R<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(other) => refuse(
                &self.key(key),
                format!("expected true or false, got {}", other.kind()),
            ),
        }
    }

    fn whole(&self, key: &str) -> R<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Unsigned(n)) => Ok(Some(*n)),
            Some(Json::Signed(n)) => {
                refuse(&self.key(key), format!("must not be negative, got {n}"))
            }
            Some(Json::Float(f)) => refuse(
                &self.key(key),
                format!("expected a whole number, got {f:?}"),
            ),
            Some(other) => refuse(
                &self.key(key),
                format!("expected a whole number, got {}", other.kind()),
            ),
        }
    }

    fn port(&self, key: &str) -> R<Option<u16>> {
        match self.whole(key)? {
            None => Ok(None),
            Some(n @ 1..=65535) => Ok(Some(n as u16)),
            Some(n) => refuse(&self.key(key), format!("port {n} out of range (1-65535)")),
        }
    }

    fn address(&self, key: &str) -> R<Option<IpAddr>> {
        match self.string(key)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).or_else(|_| {
                refuse(
                    &self.key(key),
                    format!("'{}' is not an IP address", escape_for_message(&s)),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn fixed_id() -> String {
        "0123456789abcdef".to_owned()
    }

    fn parse(text: &str) -> R<AgentOptions> {
        parse_options(Some(text), &no_env, &fixed_id)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_c_api_mds() {
        let o = parse_options(
            None,
            &|v| (v == "ZEEK_AGENT_NAME").then(|| "edge-7".to_owned()),
            &fixed_id,
        )
        .unwrap();
        assert_eq!(o.engine.name, "edge-7");
        assert_eq!(o.engine.dialect, Dialect::Seed);
        assert_eq!(o.engine.encoding, EncodingChoice::Auto);
        assert_eq!(o.engine.agent_topic(), "zeek/management/agent/edge-7");
        assert_eq!(o.engine.request_timeout_ms, 5000);
        assert_eq!(
            (o.engine.listen_address.to_string(), o.engine.listen_port),
            ("0.0.0.0".into(), 2151)
        );
        assert_eq!(
            (
                o.engine.controller_address.to_string(),
                o.engine.controller_port
            ),
            ("127.0.0.1".into(), 2150)
        );
        assert_eq!(o.engine.state_dir, "./zeek-agent-state");
        assert_eq!(o.engine.supervisor, SupervisorKind::Process);
        assert_eq!(o.engine.broker_id, "0123456789abcdef");
        assert_eq!(o.engine.id_prefix, "zma-01234567-");
        assert_eq!(
            (o.mode, o.node_ready, o.ready_after_ms, o.stop_nodes_on_free),
            (Mode::Threaded, NodeReady::Hello, 500, true)
        );
        assert_eq!(o.limits, Limits::default());
        assert_eq!(o.process, ProcessOptions::default());
        assert_eq!(
            parse("{}").unwrap().engine.name.split_once('-').unwrap().0,
            "agent"
        );
    }

    #[test]
    fn environment_supplies_defaults_and_options_win() {
        let env = |v: &str| match v {
            "ZEEK_AGENT_ADDR" => Some("10.1.2.3".to_owned()),
            "ZEEK_AGENT_PORT" => Some("2200/tcp".to_owned()),
            "ZEEK_MANAGEMENT_STATE_DIR" => Some("/var/lib/z".to_owned()),
            _ => None,
        };
        let o = parse_options(Some("{}"), &env, &fixed_id).unwrap();
        assert_eq!(
            (o.engine.listen_address.to_string(), o.engine.listen_port),
            ("10.1.2.3".into(), 2200)
        );
        assert_eq!(o.engine.state_dir, "/var/lib/z");
        let o = parse_options(
            Some(r#"{"listen_port": 3000, "state_dir": "/s"}"#),
            &env,
            &fixed_id,
        )
        .unwrap();
        assert_eq!(
            (o.engine.listen_port, o.engine.state_dir.as_str()),
            (3000, "/s")
        );
        let bad = |v: &str| (v == "ZEEK_AGENT_PORT").then(|| "nope".to_owned());
        assert_eq!(
            parse_options(None, &bad, &fixed_id)
                .unwrap_err()
                .to_string(),
            "option '$ZEEK_AGENT_PORT': 'nope' is not a TCP port"
        );
    }

    #[test]
    fn every_key_is_read() {
        let o = parse(
            r#"{"name": "i1", "dialect": "zeek7", "encoding": "plain", "topic_prefix": "t/p",
                "request_timeout_ms": 700, "listen_address": "::1", "listen_port": 1,
                "controller_address": "0.0.0.0", "controller_port": 65535, "state_dir": "/s",
                "mode": "polled", "supervisor": {"kind": "process", "zeek": "/opt/zeek/bin/zeek",
                "output_max_lines": 7, "stop_grace_ms": 0, "restart_delay_ms": 5,
                "restart_delay_max_ms": 50, "args_prefix": ["a", "b"], "max_start_failures": 2},
                "node_ready": "spawn", "ready_after_ms": 0, "broker_id": "b", "max_event_bytes": 10,
                "max_json_depth": 127, "stop_nodes_on_free": false, "stage_wait_ms": 0,
                "supervisor_timeout_ms": 9, "mode": null}"#,
        );
        // A key given twice is refused like any duplicate key.
        assert!(o
            .unwrap_err()
            .to_string()
            .contains("duplicate key \"mode\""));
        let o = parse(
            r#"{"name": "i1", "dialect": "zeek7", "encoding": "plain", "topic_prefix": "t/p",
                "request_timeout_ms": 700, "listen_address": "::1", "listen_port": 1,
                "controller_address": "0.0.0.0", "controller_port": 65535, "state_dir": "/s",
                "mode": "polled", "supervisor": {"kind": "process", "zeek": "/opt/zeek/bin/zeek",
                "output_max_lines": 7, "stop_grace_ms": 0, "restart_delay_ms": 5,
                "restart_delay_max_ms": 50, "args_prefix": ["a", "b"], "max_start_failures": 2},
                "node_ready": "spawn", "ready_after_ms": 0, "broker_id": "b", "max_event_bytes": 10,
                "max_json_depth": 127, "stop_nodes_on_free": false, "stage_wait_ms": 0,
                "supervisor_timeout_ms": 9}"#,
        )
        .unwrap();
        assert_eq!(o.engine.agent_topic(), "t/p/i1");
        assert_eq!(
            (o.engine.dialect, o.engine.encoding),
            (Dialect::Zeek7, EncodingChoice::Plain)
        );
        assert_eq!(o.engine.request_timeout_ms, 700);
        assert!(!o.engine.connects_to_controller());
        assert_eq!(o.mode, Mode::Polled);
        assert_eq!(
            o.process,
            ProcessOptions {
                zeek: "/opt/zeek/bin/zeek".into(),
                output_max_lines: 7,
                stop_grace_ms: 0,
                restart_delay_ms: 5,
                restart_delay_max_ms: 50,
                args_prefix: vec!["a".into(), "b".into()],
                max_start_failures: 2
            }
        );
        assert_eq!(
            (o.node_ready, o.ready_after_ms, o.stop_nodes_on_free),
            (NodeReady::Spawn, 0, false)
        );
        assert_eq!(
            o.limits,
            Limits {
                max_event_bytes: 10,
                max_json_depth: 127
            }
        );
        assert_eq!(
            (o.engine.stage_wait_ms, o.engine.supervisor_timeout_ms),
            (0, 9)
        );
        let host =
            parse(r#"{"supervisor": {"kind": "host", "address": "10.0.0.9", "port": 47761}}"#)
                .unwrap();
        assert_eq!(
            host.engine.supervisor,
            SupervisorKind::Host {
                address: "10.0.0.9".into(),
                port: 47761
            }
        );
    }

    #[test]
    fn refusals_name_the_key() {
        for (text, message) in [
            ("[]", "options: expected a JSON object, got array"),
            ("{", "options: not JSON: EOF while parsing an object at line 1 column 1"),
            (r#"{"nmae": "x"}"#, "option 'nmae': unknown option"),
            (r#"{"mode": "sideways"}"#, "option 'mode': 'sideways' is not one of threaded, polled"),
            (r#"{"request_timeout_ms": 0}"#, "option 'request_timeout_ms': must be greater than 0"),
            (r#"{"request_timeout_ms": -5}"#, "option 'request_timeout_ms': must not be negative, got -5"),
            (r#"{"request_timeout_ms": 1.5}"#, "option 'request_timeout_ms': expected a whole number, got 1.5"),
            (r#"{"request_timeout_ms": "5"}"#, "option 'request_timeout_ms': expected a whole number, got string"),
            (r#"{"listen_port": 70000}"#, "option 'listen_port': port 70000 out of range (1-65535)"),
            (r#"{"listen_address": "localhost"}"#, "option 'listen_address': 'localhost' is not an IP address"),
            (r#"{"name": "a/b"}"#, "option 'name': 'a/b' is not usable as an instance name (empty, '/', whitespace or control characters)"),
            (r#"{"dialect": "zeek8"}"#, "option 'dialect': 'zeek8' is not one of seed, zeek5, zeek6, zeek7"),
            (r#"{"supervisor": {"kind": "host", "zeek": "z"}}"#, "option 'supervisor.zeek': unknown option"),
            (r#"{"supervisor": {"address": "1.2.3.4"}}"#, "option 'supervisor.address': unknown option"),
            (r#"{"supervisor": {"kind": "docker"}}"#, "option 'supervisor.kind': 'docker' is not one of process, host"),
            (r#"{"supervisor": {"args_prefix": ["ok", 3]}}"#, "option 'supervisor.args_prefix[1]': expected a string, got number"),
            (r#"{"supervisor": {"restart_delay_ms": 500, "restart_delay_max_ms": 100}}"#, "option 'supervisor.restart_delay_max_ms': 100 is below restart_delay_ms (500)"),
            (r#"{"supervisor": 5}"#, "option 'supervisor': expected a JSON object, got number"),
            (r#"{"node_ready": "spawn", "supervisor": {"kind": "host"}}"#, "option 'node_ready': \"spawn\" needs the process supervisor"),
            (r#"{"max_json_depth": 500}"#, "option 'max_json_depth': must be 1 to 127, got 500"),
            (r#"{"stop_nodes_on_free": "no"}"#, "option 'stop_nodes_on_free': expected true or false, got string"),
            (r#"{"adopt_nodes": true, "supervisor": {"kind": "host"}}"#, "option 'adopt_nodes': needs the process supervisor"),
            (r#"{"broker_id": ""}"#, "option 'broker_id': must be non-empty, without control characters"),
        ] {
            assert_eq!(err(text), message, "{text}");
        }
    }

    #[test]
    fn null_means_the_default() {
        let o =
            parse(r#"{"mode": null, "dialect": null, "supervisor": null, "listen_port": null}"#)
                .unwrap();
        assert_eq!(
            (o.mode, o.engine.dialect, o.engine.listen_port),
            (Mode::Threaded, Dialect::Seed, 2151)
        );
    }
}

//! Driving an agent with the built-in process supervisor and real processes
//! (the stand-in node program) in tests: polled mode on the real clock.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use zeek_mgmt_agent::options::parse_options;
use zeek_mgmt_agent::runtime::Agent;

pub const STANDIN: &str = env!("CARGO_BIN_EXE_zma-standin-node");

/// What the agent sent: (callback kind, topic, parsed plain JSON).
pub type Sent = (String, String, Value);

pub struct Host {
    pub agent: Option<Agent>,
    pub sent: Arc<Mutex<Vec<Sent>>>,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub state_dir: PathBuf,
    started: Instant,
    polled: bool,
}

/// A fresh state directory for one test.
pub fn state_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zma-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A TCP port free right now, and never handed out before by this process:
/// two binds to port 0 one after the other may be given the same port, and
/// a configuration naming one port twice is refused.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Host {
    /// An agent in polled mode (unless `extra` says otherwise) running the
    /// stand-in; `extra` adds top-level options, `supervisor` process ones.
    pub fn new(test: &str, supervisor: &str, extra: &str) -> Host {
        Host::in_dir(state_dir(test), supervisor, extra)
    }

    pub fn in_dir(state_dir: PathBuf, supervisor: &str, extra: &str) -> Host {
        Host::try_in_dir(state_dir, supervisor, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Host::in_dir`], or why the agent could not be created.
    pub fn try_in_dir(state_dir: PathBuf, supervisor: &str, extra: &str) -> Result<Host, String> {
        let mut options = serde_json::json!({
            "name": "instance-1", "dialect": "zeek7", "encoding": "plain",
            "state_dir": state_dir.display().to_string(),
            "node_ready": "spawn", "ready_after_ms": 0, "mode": "polled",
            "supervisor": {"kind": "process", "zeek": STANDIN, "stop_grace_ms": 2000, "restart_delay_ms": 100},
        });
        let merge = |target: &mut Value, fragment: &str| {
            let fragment: Value = serde_json::from_str(&format!("{{{fragment}}}")).unwrap();
            for (key, value) in fragment.as_object().unwrap() {
                target[key] = value.clone();
            }
        };
        merge(&mut options["supervisor"], supervisor);
        merge(&mut options, extra);
        let options = options.to_string();
        let options =
            parse_options(Some(&options), &|_| None, &|| "0123456789abcdef".to_owned()).unwrap();
        let polled = options.mode == zeek_mgmt_agent::options::Mode::Polled;
        let agent = Agent::new(options).map_err(|e| e.to_string())?;
        let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = |kind: &'static str| {
            let sent = Arc::clone(&sent);
            Some(Arc::new(move |topic: &str, json: &str| {
                sent.lock().unwrap().push((
                    kind.to_owned(),
                    topic.to_owned(),
                    serde_json::from_str(json).unwrap(),
                ));
            }) as zeek_mgmt_agent::runtime::EventSink)
        };
        let log_sink = {
            let logs = Arc::clone(&logs);
            Arc::new(move |_level, message: &str| logs.lock().unwrap().push(message.to_owned()))
        };
        agent.runtime().set_callbacks(|c| {
            c.response = sink("response");
            c.notification = sink("notification");
            c.publish = sink("publish");
            c.log = Some(log_sink);
        });
        Ok(Host {
            agent: Some(agent),
            sent,
            logs,
            state_dir,
            started: Instant::now(),
            polled,
        })
    }

    pub fn runtime(&self) -> &Arc<zeek_mgmt_agent::runtime::Runtime> {
        self.agent.as_ref().unwrap().runtime()
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn send(&self, json: &str) {
        let rt = self.runtime();
        if self.polled {
            rt.poll(self.now_ms()).unwrap();
        }
        rt.handle_request(json.as_bytes())
            .unwrap_or_else(|e| panic!("refused: {e}\n{json}"));
    }

    /// Runs the agent (polled mode: waits on its descriptor and polls) until
    /// `done` holds or `limit` passes; returns whether it held.
    pub fn run_until(&self, limit: Duration, mut done: impl FnMut(&Host) -> bool) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if done(self) {
                return true;
            }
            if self.polled {
                let rt = self.runtime();
                let fd = rt.fd().unwrap();
                let wait = rt
                    .next_timeout_ms()
                    .map_or(20, |at| at.saturating_sub(self.now_ms()).min(20));
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, wait as i32) };
                rt.poll(self.now_ms()).unwrap();
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        done(self)
    }

    pub fn response(&self, reqid: &str) -> Option<Value> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .find(|(kind, _, v)| kind == "response" && v["args"]["reqid"] == reqid)
            .map(|(_, _, v)| v.clone())
    }

    /// Waits for the response to `reqid`.
    pub fn await_response(&self, reqid: &str, limit: Duration) -> Value {
        assert!(
            self.run_until(limit, |h| h.response(reqid).is_some()),
            "no response to {reqid}; logs: {:?}",
            self.logs.lock().unwrap()
        );
        self.response(reqid).unwrap()
    }

    /// (node, old, new) of every notify_change so far.
    pub fn changes(&self) -> Vec<(String, String, String)> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, v)| v["event"] == "Management::Agent::API::notify_change")
            .map(|(_, _, v)| {
                let a = &v["args"];
                let strip = |s: &Value| {
                    s.as_str()
                        .unwrap()
                        .trim_start_matches("Management::")
                        .to_owned()
                };
                (
                    a["n"]["name"].as_str().unwrap().to_owned(),
                    strip(&a["old"]),
                    strip(&a["new"]),
                )
            })
            .collect()
    }

    pub fn events_named(&self, name: &str) -> Vec<Value> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, v)| v["event"] == name)
            .map(|(_, _, v)| v.clone())
            .collect()
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&self.runtime().state_json()).unwrap()
    }

    /// The pid of a node, from the state snapshot.
    pub fn pid(&self, node: &str) -> Option<i32> {
        self.state()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .and_then(|n| n["pid"].as_i64())
            .map(|p| p as i32)
    }

    pub fn node_state(&self, node: &str) -> String {
        self.state()["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .map_or(String::new(), |n| n["state"].as_str().unwrap().to_owned())
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.state_dir.join("nodes").join(node)
    }

    /// Frees the agent.
    pub fn free(&mut self) {
        self.agent = None;
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.agent = None;
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            !after.starts_with('Z')
        }
        Err(_) => false,
    }
}

/// A deploy request in plain JSON. `nodes` are JSON objects without
/// `instance` (added here).
pub fn deploy(reqid: &str, config_id: &str, nodes: &[Value]) -> String {
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n["instance"] = Value::from("instance-1");
            n
        })
        .collect();
    serde_json::json!({
        "event": "deploy_request",
        "args": {"reqid": reqid, "config": {"id": config_id,
            "instances": [{"name": "instance-1", "host": "127.0.0.1"}], "nodes": nodes}}
    })
    .to_string()
}

/// The NUL-separated entries of `/proc/<pid>/<file>`. A process counts as
/// running once its start has returned, which can be a moment before the
/// kernel has finished setting up the new program's arguments and
/// environment (they read empty until then): wait up to 2 s for them.
fn proc_strings(pid: i32, file: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let bytes = std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
        if !bytes.is_empty() || Instant::now() >= deadline {
            return bytes
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn cmdline(pid: i32) -> Vec<String> {
    proc_strings(pid, "cmdline")
}

/// The kernel's name for a process (`/proc/<pid>/comm`, what `ps -o comm`,
/// `top` and `pgrep` show: at most 15 bytes).
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end_matches('\n')
        .to_owned()
}

/// What a node's process is called: `zeek.<node>`, cut at 15 bytes as the
/// kernel cuts `comm`.
pub fn expected_comm(node: &str) -> String {
    let mut name = format!("zeek.{node}");
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

pub fn environ(pid: i32) -> Vec<String> {
    proc_strings(pid, "environ")
}

pub fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

//! The real session: the agent runs four nodes as processes with its
//! built-in process supervisor, on this machine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zeek_mgmt_agent::options::parse_options;
use zeek_mgmt_agent::runtime::{Agent, EventSink};
use zeek_mgmt_agent::wire::{decode, encode, Dialect, Encoding, Limits};

use crate::find_zeek::{find_zeek, INSTALL_HINT};
use crate::{print_event, Options};

/// The node program: Zeek when it is installed (see `find_zeek`), else
/// this repository's stand-in (built if need be). Returns the program, how
/// to name it, and whether it is Zeek.
fn node_program() -> Result<(PathBuf, String, bool), String> {
    if let Some(zeek) = find_zeek() {
        return Ok((zeek.clone(), format!("Zeek ({})", zeek.display()), true));
    }
    // This example lives in target/<profile>/examples; the stand-in is a
    // binary of the same profile one directory up.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the build directory")?;
    let standin = profile_dir.join("zma-standin-node");
    if !standin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "--quiet", "--bin", "zma-standin-node"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .map_err(|e| format!("cannot build the stand-in node: {e}"))?;
        if !status.success() || !standin.is_file() {
            return Err(
                "cannot build the stand-in node (cargo build --bin zma-standin-node)".into(),
            );
        }
    }
    Ok((
        standin,
        format!("the stand-in node program (no Zeek found: {INSTALL_HINT})"),
        false,
    ))
}

/// A TCP port free right now and not handed out before by this program
/// (two binds one after the other may be given the same port).
fn free_port() -> Result<u16, String> {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
}

struct Host {
    agent: Agent,
    dialect: Dialect,
    started: Instant,
    sent: Arc<Mutex<Vec<Value>>>,
}

impl Host {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn send(&self, event: Value) -> Result<(), String> {
        let rt = self.agent.runtime();
        rt.poll(self.now()).map_err(|e| e.to_string())?;
        let json = event.to_string();
        // Printed as the agent reads it (its full name, arguments in the
        // event's order), as in the simulated mode.
        let event = decode(json.as_bytes(), &Limits::default())
            .map_err(|e| format!("the quickstart's own event is wrong: {e}"))?
            .event;
        let canonical = encode(&event, "", Encoding::Plain, self.dialect);
        print_event(self.now(), "controller", "agent", &canonical);
        rt.handle_request(json.as_bytes())
            .map_err(|e| format!("refused: {e}"))
    }

    /// Runs the agent's event loop until `done` or `limit`.
    fn run_until(&self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Result<(), String> {
        let rt = self.agent.runtime();
        let until = Instant::now() + limit;
        while !done(&self.sent.lock().map_err(|e| e.to_string())?) {
            if Instant::now() >= until {
                return Err("timed out waiting for the agent".into());
            }
            // A real host waits on rt.fd() (poll(2), epoll, an IOSource) up to
            // rt.next_timeout_ms(); a short sleep keeps this example simple.
            std::thread::sleep(Duration::from_millis(10));
            rt.poll(self.now()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn response(&self, reqid: &str) -> Option<Value> {
        self.sent
            .lock()
            .ok()?
            .iter()
            .find(|e| {
                e["args"]["reqid"] == reqid
                    && e["event"]
                        .as_str()
                        .is_some_and(|n| n.ends_with("_response"))
            })
            .cloned()
    }

    fn await_response(&self, reqid: &str) -> Result<Value, String> {
        self.run_until(Duration::from_secs(30), |sent| {
            sent.iter().any(|e| {
                e["args"]["reqid"] == reqid
                    && e["event"]
                        .as_str()
                        .is_some_and(|n| n.ends_with("_response"))
            })
        })?;
        self.response(reqid)
            .ok_or_else(|| format!("no response to {reqid}"))
    }

    fn state(&self) -> Value {
        serde_json::from_str(&self.agent.runtime().state_json()).unwrap_or(Value::Null)
    }

    fn pid(&self, node: &str) -> Option<i64> {
        self.state()["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["name"] == node)?["pid"]
            .as_i64()
    }
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s[s.rfind(')').unwrap_or(0)..].starts_with(") Z"))
}

pub fn run(options: &Options) -> Result<(), String> {
    let (program, which, is_zeek) = node_program()?;
    let state_dir =
        std::env::temp_dir().join(format!("zeek-mgmt-agent-quickstart-{}", std::process::id()));
    println!(
        "zeek-mgmt-agent quickstart: agent 'instance-1' (dialect {}) runs four nodes as processes,\n\
         with {which}.\nNode directories: {}/nodes\n",
        options.dialect,
        state_dir.display()
    );
    if is_zeek {
        println!(
            "Zeek nodes check in with their agent over Broker (notify_node_hello, to\n\
             ZEEK_AGENT_ADDR:ZEEK_AGENT_PORT, by default 0.0.0.0:2151). This program has no\n\
             Broker endpoint, so a node counts as running once it stayed up 3 s, and their\n\
             stderr shows Broker's PEER_UNAVAILABLE retries.\n"
        );
    }
    // Without Broker the agent cannot hear a node's hello: a node counts as
    // running once it stayed up this long. Zeek reads its scripts first and
    // dies of a script error within about a second, so it gets longer.
    let ready_after_ms = if is_zeek { 3000 } else { 500 };
    // Staged start as designed: each stage begins when the previous one is
    // ready; the stage wait is only the bound for a stage that never is.
    let stage_wait_ms = ready_after_ms * 3;
    // Three stages (loggers, the manager, the workers), each ready after
    // ready_after_ms, must fit in the deploy's request.
    let request_timeout_ms = ready_after_ms * 3 + 5000;
    let agent_options = json!({
        "name": "instance-1", "dialect": options.dialect.name(), "encoding": "plain", "mode": "polled",
        "state_dir": state_dir.display().to_string(), "node_ready": "spawn", "ready_after_ms": ready_after_ms,
        "stage_wait_ms": stage_wait_ms, "request_timeout_ms": request_timeout_ms,
        "supervisor": {"kind": "process", "zeek": program.display().to_string(), "stop_grace_ms": 3000}
    });
    let parsed = parse_options(
        Some(&agent_options.to_string()),
        &|v| std::env::var(v).ok(),
        &|| format!("{:032x}", std::process::id()),
    )
    .map_err(|e| e.to_string())?;
    let agent = Agent::new(parsed).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = |to: &'static str| -> Option<EventSink> {
        let sent = Arc::clone(&sent);
        Some(Arc::new(move |topic: &str, json: &str| {
            let to = if topic == "zeek/management/supervisor" {
                "host"
            } else {
                to
            };
            print_event(started.elapsed().as_millis() as u64, "agent", to, json);
            if let (Ok(value), Ok(mut sent)) = (serde_json::from_str(json), sent.lock()) {
                sent.push(value);
            }
        }))
    };
    let verbose = options.verbose;
    agent.runtime().set_callbacks(|c| {
        c.response = sink("controller");
        c.notification = sink("controller");
        c.publish = sink("nodes");
        c.log = Some(Arc::new(move |level, message| {
            if verbose || level >= zeek_mgmt_agent::engine::LogLevel::Warning {
                println!("{:>8}    log {}: {message}", "", level.name());
            }
        }));
    });
    let host = Host {
        agent,
        dialect: options.dialect,
        started,
        sent,
    };
    let outcome = session(&host, is_zeek);
    drop(host); // frees the agent: stops whatever still runs
    let _ = std::fs::remove_dir_all(&state_dir);
    outcome
}

fn session(host: &Host, is_zeek: bool) -> Result<(), String> {
    println!("# Deploy: loggers, then the manager, then the workers, each a process.");
    let mut nodes = json!([
        {"name": "logger-01", "instance": "instance-1", "role": "LOGGER", "p": free_port()?},
        {"name": "manager", "instance": "instance-1", "role": "MANAGER", "p": free_port()?},
        {"name": "worker-01", "instance": "instance-1", "role": "WORKER", "interface": "lo"},
        {"name": "worker-02", "instance": "instance-1", "role": "WORKER", "interface": "lo"}
    ]);
    if is_zeek {
        // Real workers join the cluster without sniffing anything, so the
        // quickstart needs no capture privilege.
        for worker in [2, 3] {
            if let Some(node) = nodes[worker].as_object_mut() {
                node.remove("interface");
            }
        }
    }
    host.send(json!({"event": "deploy_request", "args": {"reqid": "req-deploy", "config": {
        "id": "quickstart", "instances": [{"name": "instance-1", "host": "127.0.0.1"}], "nodes": nodes}}}))?;
    let deployed = host.await_response("req-deploy")?;
    let results = deployed["args"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if results.len() != 4 || !results.iter().all(|r| r["success"] == true) {
        return Err(format!("the deploy failed: {deployed}"));
    }

    println!("\n# get_nodes:");
    host.send(json!({"event": "get_nodes_request", "args": {"reqid": "req-nodes"}}))?;
    let nodes = host.await_response("req-nodes")?;
    println!(
        "\n    {:<10} {:<8} {:<8} {:>7} {:>10}",
        "node", "role", "state", "pid", "port"
    );
    for n in nodes["args"]["result"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let port = n["p"]["port"]
            .as_u64()
            .map(|p| format!("{p}/tcp"))
            .unwrap_or_default();
        let pid = n["pid"].as_i64().map(|p| p.to_string()).unwrap_or_default();
        let strip = |v: &Value| {
            v.as_str()
                .unwrap_or("")
                .rsplit("::")
                .next()
                .unwrap_or("")
                .to_owned()
        };
        println!(
            "    {:<10} {:<8} {:<8} {:>7} {:>10}",
            n["node"].as_str().unwrap_or(""),
            strip(&n["cluster_role"]),
            strip(&n["state"]),
            pid,
            port
        );
    }

    println!("\n# The node processes, as `ps -o pid,comm,args` shows them:\n");
    println!("    {:>7} {:<15} ARGS", "PID", "COMMAND");
    for node in ["logger-01", "manager", "worker-01", "worker-02"] {
        if let Some(pid) = host.pid(node) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> = args
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            println!("    {pid:>7} {:<15} {}", comm.trim_end(), args.join(" "));
        }
    }

    let victim = host.pid("worker-01").ok_or("worker-01 has no pid")?;
    println!("\n# Kill worker-01 (pid {victim}) with SIGKILL: the agent notices and restarts it.");
    std::process::Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    let healed = |sent: &[Value]| {
        let changes: Vec<(String, String)> = sent
            .iter()
            .filter(|e| {
                e["event"] == "Management::Agent::API::notify_change"
                    && e["args"]["n"]["name"] == "worker-01"
            })
            .map(|e| (e["args"]["old"].to_string(), e["args"]["new"].to_string()))
            .collect();
        changes.iter().any(|(_, new)| new.contains("CRASHED"))
            && changes
                .last()
                .is_some_and(|(_, new)| new.contains("RUNNING"))
    };
    host.run_until(Duration::from_secs(30), healed)?;
    let healed_pid = host.pid("worker-01").ok_or("worker-01 did not come back")?;
    println!(
        "\n    worker-01: pid {victim} crashed, pid {healed_pid} runs now (restarts: {}).",
        host.state()["nodes"][2]["restarts"]
    );

    println!("\n# Standby: every node is stopped, then the agent answers.");
    let pids: Vec<i64> = ["logger-01", "manager", "worker-01", "worker-02"]
        .iter()
        .filter_map(|n| host.pid(n))
        .collect();
    host.send(json!({"event": "agent_standby_request", "args": {"reqid": "req-standby"}}))?;
    let standby = host.await_response("req-standby")?;
    if standby["args"]["result"]["success"] != true {
        return Err(format!("standby failed: {standby}"));
    }
    let survivors: Vec<i64> = pids.iter().copied().filter(|p| alive(*p)).collect();
    if !survivors.is_empty() {
        return Err(format!(
            "processes still running after standby: {survivors:?}"
        ));
    }
    println!(
        "\nDone: every node process ({pids:?}) is gone; the agent has {} nodes.",
        host.state()["nodes"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}

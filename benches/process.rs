//! The process supervisor with real processes (the stand-in node program).
//!
//! (a) `deploy_50`: a deploy of 50 nodes until all are RUNNING (spawn
//!     readiness, `ready_after_ms` 0), against a baseline in the same run
//!     that starts the same 50 processes with `std::process::Command` and
//!     waits for each one's first line of output.
//! (b) `teardown_50`: standby of 50 nodes that each take 100 ms to exit
//!     after SIGTERM, until the agent answers (all gone).
//!
//! `cargo bench --bench process`; `scripts/bench_report.py` for the medians.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use zeek_mgmt_agent::options::parse_options;
use zeek_mgmt_agent::runtime::Agent;

const STANDIN: &str = env!("CARGO_BIN_EXE_zma-standin-node");
const NODES: usize = 50;

/// One agent with the process supervisor in polled mode, and its answers.
struct Host {
    agent: Option<Agent>,
    started: Instant,
    responses: Arc<Mutex<Vec<Value>>>,
    dir: PathBuf,
}

impl Host {
    /// An agent on the state directory `zma-bench-<pid>-<name>`.
    fn new(name: &str) -> Host {
        let dir = state_dir(name);
        let options = json!({
            "name": "instance-1", "dialect": "zeek7", "encoding": "plain", "mode": "polled",
            "state_dir": dir.display().to_string(), "node_ready": "spawn", "ready_after_ms": 0,
            "supervisor": {"kind": "process", "zeek": STANDIN, "stop_grace_ms": 5000}
        });
        let options =
            parse_options(Some(&options.to_string()), &|_| None, &|| "0".repeat(32)).unwrap();
        let agent = Agent::new(options).unwrap();
        let responses: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = Arc::clone(&responses);
        agent.runtime().set_callbacks(|c| {
            c.response = Some(Arc::new(move |_: &str, json: &str| {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(json).unwrap())
            }))
        });
        Host {
            agent: Some(agent),
            started: Instant::now(),
            responses,
            dir,
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn send(&self, event: Value) {
        let rt = self.agent.as_ref().unwrap().runtime();
        rt.poll(self.now()).unwrap();
        rt.handle_request(event.to_string().as_bytes()).unwrap();
    }

    /// The host's event loop: wait on the agent's descriptor, poll, until
    /// the answer to `reqid` is in.
    fn await_response(&self, reqid: &str) -> Value {
        let rt = self.agent.as_ref().unwrap().runtime();
        let fd = rt.fd().unwrap();
        loop {
            if let Some(r) = self
                .responses
                .lock()
                .unwrap()
                .iter()
                .find(|r| r["args"]["reqid"] == reqid)
            {
                return r.clone();
            }
            let wait = rt
                .next_timeout_ms()
                .map_or(100, |at| at.saturating_sub(self.now()).min(100));
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, wait as i32) };
            rt.poll(self.now()).unwrap();
        }
    }

    fn deploy(&self, reqid: &str, standin_mode: &str) {
        let nodes: Vec<Value> = (0..NODES)
            .map(|i| {
                json!({"name": format!("w{i:02}"), "instance": "instance-1", "role": "WORKER",
                       "env": {"ZMA_STANDIN": standin_mode}})
            })
            .collect();
        self.send(json!({"event": "deploy_request", "args": {"reqid": reqid, "config": {
            "id": reqid, "instances": [{"name": "instance-1", "host": "127.0.0.1"}], "nodes": nodes}}}));
        let answer = self.await_response(reqid);
        let results = answer["args"]["results"].as_array().unwrap();
        assert!(
            results.len() == NODES && results.iter().all(|r| r["success"] == true),
            "{answer}"
        );
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.agent = None; // stops what still runs
    }
}

fn state_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("zma-bench-{}-{name}", std::process::id()))
}

fn remove_state_dir(name: &str) {
    let _ = std::fs::remove_dir_all(state_dir(name));
}

fn deploy_50(c: &mut Criterion) {
    let mut group = c.benchmark_group("deploy_50");
    group.sample_size(10);
    // A new agent on the state directory the previous one used, as after a
    // host restart: the node directories are there, their files are
    // truncated and rewritten.
    group.bench_function("agent", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let host = Host::new("deploy");
                let start = Instant::now();
                host.deploy("d", "");
                total += start.elapsed();
            }
            total
        })
    });
    remove_state_dir("deploy");
    // A new agent on an empty state directory: every node directory and
    // file is created (the first deploy on a machine).
    let mut run = 0;
    group.bench_function("agent_empty_state_dir", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                run += 1;
                let name = format!("empty-{run}");
                let host = Host::new(&name);
                let start = Instant::now();
                host.deploy("d", "");
                total += start.elapsed();
                drop(host);
                remove_state_dir(&name);
            }
            total
        })
    });
    // The baseline starts the very processes the agent starts: same
    // program, arguments, environment and node directory (with the layout
    // a first, untimed deploy wrote), each waited for until its first line.
    let prepared = Host::new("baseline");
    prepared.deploy("setup", "");
    prepared.send(json!({"event": "agent_standby_request", "args": {"reqid": "setup-off"}}));
    prepared.await_response("setup-off");
    let nodes_dir = std::fs::canonicalize(prepared.dir.join("nodes")).unwrap();
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let mut children: Vec<_> = (0..NODES)
                    .map(|i| {
                        let name = format!("w{i:02}");
                        let dir = nodes_dir.join(&name);
                        Command::new(STANDIN)
                            .arg("policy/frameworks/management/node")
                            .env("CLUSTER_NODE", &name)
                            .env("ZEEKPATH", format!("{}:.", dir.display()))
                            .env("ZMA_STANDIN", "")
                            .current_dir(&dir)
                            .stdin(Stdio::null())
                            .stdout(Stdio::piped())
                            .stderr(Stdio::null())
                            .process_group(0)
                            .spawn()
                            .unwrap()
                    })
                    .collect();
                for child in &mut children {
                    let mut line = String::new();
                    BufReader::new(child.stdout.as_mut().unwrap())
                        .read_line(&mut line)
                        .unwrap();
                    assert!(line.contains("starting"));
                }
                total += start.elapsed();
                for mut child in children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            total
        })
    });
    drop(prepared);
    remove_state_dir("baseline");
    group.finish();
}

fn teardown_50(c: &mut Criterion) {
    let mut group = c.benchmark_group("teardown_50");
    group.sample_size(10);
    group.bench_function("agent", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let host = Host::new("teardown");
                host.deploy("d", "exit-after-term=100");
                // Every node's first line: its SIGTERM handling is in place.
                std::thread::sleep(Duration::from_millis(50));
                let start = Instant::now();
                host.send(json!({"event": "agent_standby_request", "args": {"reqid": "s"}}));
                let answer = host.await_response("s");
                total += start.elapsed();
                assert_eq!(answer["args"]["result"]["success"], true);
            }
            total
        })
    });
    remove_state_dir("teardown");
    group.finish();
}

criterion_group!(benches, deploy_50, teardown_50);
criterion_main!(benches);

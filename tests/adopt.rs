//! Adopting the nodes an earlier agent left running (`adopt_nodes`, project
//! issue 13): a host with `stop_nodes_on_free: false` is killed with
//! SIGKILL, and a new agent on its state directory takes its nodes over
//! (the same processes, RUNNING), keeps them for a deploy of the same
//! configuration id, and replaces them for another configuration. Pid
//! files that name dead or foreign processes adopt nothing.
//!
//! The killed host is this binary again, for one test, with
//! `ZMA_FAULT_CHILD` set (see `faults_support`). Its nodes, orphaned,
//! become children of this process (a child subreaper), which reaps them.

mod faults_support;
mod process_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faults_support::*;
use process_support::*;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(20);

fn worker(name: &str) -> Value {
    json!({"name": name, "role": "WORKER"})
}

fn all_succeeded(response: &Value) -> bool {
    response["args"]["results"]
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|r| r["success"] == true))
}

/// Reaps `pid` if it is a zombie child of this process (nodes orphaned by
/// a killed host are, this process being their subreaper); does not wait.
fn reap(pid: i32) {
    // SAFETY: waitpid on one pid, status not wanted.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
}

/// Waits (bounded) until `pid` is gone or a zombie, reaping it if it is
/// ours; returns whether it is gone.
fn gone_within(pid: i32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reap(pid);
    true
}

/// (node, state, pid) of every node in a get_nodes answer.
fn get_nodes(host: &Host, reqid: &str) -> Vec<(String, String, Option<i64>)> {
    host.send(&format!(
        r#"{{"event": "get_nodes_request", "args": {{"reqid": "{reqid}"}}}}"#
    ));
    let response = host.await_response(reqid, LONG);
    assert_eq!(response["args"]["result"]["success"], true, "{response}");
    let mut nodes: Vec<_> = response["args"]["result"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap().to_owned(),
                s["state"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("Management::")
                    .to_owned(),
                s["pid"].as_i64(),
            )
        })
        .collect();
    nodes.sort();
    nodes
}

const KILLED: &str = "a_new_agent_adopts_the_nodes_of_a_killed_host";

/// The whole story of issue 13 with real processes (see the file's
/// comment).
#[test]
fn a_new_agent_adopts_the_nodes_of_a_killed_host() {
    if child_case().as_deref() == Some("killed-host") {
        killed_host();
        return;
    }
    let _serial = serial();
    // SAFETY: prctl with integer arguments only.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0);
    let names = [node("a1"), node("a2")];
    let dir = scratch("adopt-killed").join("state");
    let mut host = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", KILLED, "--nocapture", "--test-threads=1"])
        .env(CHILD, "killed-host")
        .env("ZMA_ADOPT_DIR", &dir)
        .env("ZMA_ADOPT_NODES", names.join(","))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    for line in BufReader::new(host.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some((_, pid)) = line.split_once("NODE ") {
            pids.push(pid.trim().parse::<i64>().unwrap());
        }
        if line.contains("READY") {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "the host reports its nodes");
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        pids.iter().all(|&pid| alive(pid as i32)),
        "the nodes survive their host"
    );
    assert!(dir.join("configuration.json").exists());

    let outcome = std::panic::catch_unwind(|| adopt_and_replace(&dir, &names, &pids));
    // Nothing is left behind, whatever happened.
    for &pid in &pids {
        if !gone_within(pid as i32, Duration::from_millis(100)) {
            // SAFETY: kill has no memory preconditions; our orphan.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            gone_within(pid as i32, LONG);
        }
    }
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    let new_pids = outcome.unwrap_or_else(|e| std::panic::resume_unwind(e));
    for pid in pids.iter().chain(&new_pids) {
        assert!(!alive(*pid as i32), "node {pid} left behind");
    }
    assert!(
        node_processes(&names).is_empty(),
        "{:?}",
        node_processes(&names)
    );
}

/// The new agent: adopts, keeps the nodes for the same configuration id,
/// replaces them for another; frees (which stops the new nodes). Returns
/// the new nodes' pids.
fn adopt_and_replace(dir: &Path, names: &[String; 2], pids: &[i64]) -> Vec<i64> {
    let mut agent = Host::in_dir(dir.to_path_buf(), "", r#""adopt_nodes": true"#);
    assert_eq!(agent.state()["config_id"], "c1");
    let expected: Vec<_> = names
        .iter()
        .zip(pids)
        .map(|(n, &p)| (n.clone(), "RUNNING".to_owned(), Some(p)))
        .collect();
    assert_eq!(get_nodes(&agent, "g1"), expected, "adopted, the same pids");
    // (What the agent logged at its creation is delivered at its first call.)
    let logs = agent.logs.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("adopted configuration c1")),
        "{logs:?}"
    );
    for (n, &p) in names.iter().zip(pids) {
        assert_eq!(agent.node_state(n), "RUNNING");
        assert_eq!(agent.pid(n), Some(p as i32));
    }

    // The same configuration id: answered at once, nothing changes.
    agent.send(&deploy("r2", "c1", &[worker(&names[0]), worker(&names[1])]));
    let same = agent.response("r2").expect("answered at once");
    assert!(all_succeeded(&same), "{same}");
    assert_eq!(get_nodes(&agent, "g2"), expected, "still the same pids");
    assert!(agent.changes().is_empty(), "{:?}", agent.changes());

    // An adopted node that dies is a crash (its exit status is known only
    // if the kernel kept it for pidfd holders: it is not our child), and
    // it is restarted, now as this agent's child.
    // SAFETY: kill has no memory preconditions; an adopted node.
    unsafe { libc::kill(pids[1] as i32, libc::SIGKILL) };
    let restarted = |h: &Host| {
        h.pid(&names[1]).is_some_and(|p| i64::from(p) != pids[1])
            && h.node_state(&names[1]) == "RUNNING"
    };
    assert!(agent.run_until(LONG, restarted), "{:?}", agent.changes());
    let restarted = i64::from(agent.pid(&names[1]).unwrap());
    assert!(gone_within(pids[1] as i32, LONG));
    let changes = agent.changes();
    assert!(
        changes.contains(&(names[1].clone(), "RUNNING".into(), "CRASHED".into())),
        "{changes:?}"
    );
    let crash = agent
        .events_named("Management::Agent::API::notify_log")
        .into_iter()
        .filter_map(|e| e["args"]["msg"].as_str().map(str::to_owned))
        .find(|m| m.starts_with(&format!("node {} crashed", names[1])))
        .expect("the crash is reported");
    assert!(
        crash.contains("adopted from an earlier agent") || crash.contains("killed by signal 9"),
        "{crash}"
    );

    // Another configuration replaces them.
    agent.send(&deploy("r3", "c2", &[worker(&names[0]), worker(&names[1])]));
    assert!(all_succeeded(&agent.await_response("r3", LONG)));
    for &pid in pids.iter().chain([&restarted]) {
        assert!(gone_within(pid as i32, LONG), "node {pid} stopped");
    }
    let now = get_nodes(&agent, "g3");
    let new_pids: Vec<i64> = now.iter().filter_map(|n| n.2).collect();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.iter().all(|n| n.1 == "RUNNING"), "{now:?}");
    assert!(
        new_pids
            .iter()
            .all(|p| !pids.contains(p) && *p != restarted),
        "{now:?}"
    );
    assert!(new_pids.iter().all(|&p| alive(p as i32)), "{now:?}");
    // This agent's nodes die with it (`stop_nodes_on_free` true): what the
    // earlier one saved is stale now.
    assert!(!dir.join("configuration.json").exists());
    agent.free();
    new_pids
}

/// The host that is killed: deploys two nodes that are to survive it.
fn killed_host() {
    let dir = std::path::PathBuf::from(std::env::var("ZMA_ADOPT_DIR").unwrap());
    let names: Vec<String> = std::env::var("ZMA_ADOPT_NODES")
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let host = Host::in_dir(dir, "", r#""stop_nodes_on_free": false"#);
    host.send(&deploy("r1", "c1", &[worker(&names[0]), worker(&names[1])]));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    // The stand-in prints only at start; once that is done it no longer
    // needs its output pipes, which close with the host.
    let printed = |h: &Host| {
        names.iter().all(|n| {
            std::fs::read_to_string(h.node_dir(n).join("stdout"))
                .is_ok_and(|o| o.contains("started with signal mask"))
        })
    };
    assert!(host.run_until(LONG, printed));
    for n in &names {
        println!("NODE {}", host.pid(n).unwrap());
    }
    println!("READY");
    std::thread::sleep(Duration::from_secs(600));
}

/// The start time of a process, as a pid file records it.
fn start_time(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(19).unwrap().parse().unwrap()
}

/// An agent with `stop_nodes_on_free: false` deploys `nodes` and is freed
/// (they keep running, children of this process); `spoil` then changes
/// what the pid files say; a new agent with `adopt_nodes: true` must adopt
/// nothing: no configuration, no nodes, the saved configuration removed,
/// and every node of the earlier agent stopped.
fn adopts_nothing(test: &str, nodes: &[String], spoil: impl FnOnce(&Path, &[i32])) {
    let dir = state_dir(test);
    let mut first = Host::in_dir(dir.clone(), "", r#""stop_nodes_on_free": false"#);
    let workers: Vec<Value> = nodes.iter().map(|n| worker(n)).collect();
    first.send(&deploy("r1", "c1", &workers));
    assert!(all_succeeded(&first.await_response("r1", LONG)));
    let pids: Vec<i32> = nodes.iter().map(|n| first.pid(n).unwrap()).collect();
    // Freed; `first` (which removes the state directory when dropped) is
    // kept until the end.
    first.free();
    assert!(dir.join("configuration.json").exists());
    spoil(&dir, &pids);

    let second = Host::in_dir(dir.clone(), "", r#""adopt_nodes": true"#);
    assert_eq!(second.state()["config_id"], Value::Null);
    assert_eq!(get_nodes(&second, "g1"), Vec::new());
    let logs = second.logs.lock().unwrap().clone();
    assert!(
        logs.iter().any(|l| l.starts_with("adopting no nodes")),
        "{logs:?}"
    );
    assert!(!dir.join("configuration.json").exists(), "stale, removed");
    for &pid in &pids {
        assert!(gone_within(pid, LONG), "node {pid} stopped as a leftover");
    }
    drop(second);
    drop(first);
    assert!(node_processes(nodes).is_empty());
}

#[test]
fn pid_files_of_dead_processes_adopt_nothing() {
    let nodes = [node("d1"), node("d2")];
    case(&nodes, || {
        adopts_nothing("adopt-dead", &nodes, |_, pids| {
            // One node died after its agent: its pid file names a dead
            // process (reaped by the spawner thread that kept it).
            // SAFETY: kill has no memory preconditions; our node.
            unsafe { libc::kill(pids[0], libc::SIGKILL) };
            assert!(gone_within(pids[0], LONG));
        });
    });
}

#[test]
fn pid_files_of_foreign_processes_adopt_nothing() {
    let nodes = [node("f1")];
    case(&nodes, || {
        adopts_nothing("adopt-foreign", &nodes, |dir, pids| {
            // Its pid file names a live process that is no node (this
            // test, with its true start time): never adopted, never
            // signalled. The node itself is stopped by hand.
            let me = std::process::id() as i32;
            let record = format!("{me:<10} {:<20}\n", start_time(me));
            std::fs::write(dir.join("nodes").join(&nodes[0]).join("pid"), record).unwrap();
            // SAFETY: kill has no memory preconditions; our node.
            unsafe { libc::kill(pids[0], libc::SIGKILL) };
            assert!(gone_within(pids[0], LONG));
        });
    });
}

/// Adoption again and again: an agent that adopted with
/// `stop_nodes_on_free: false` leaves the adopted nodes running when it is
/// freed and keeps the saved configuration, so the next agent adopts the
/// very same processes; the last one (in threaded mode), freed, stops
/// them.
#[test]
fn adopted_nodes_can_be_adopted_again() {
    let nodes = [node("c1"), node("c2")];
    case(&nodes, || {
        let dir = state_dir("adopt-again");
        let keep = r#""stop_nodes_on_free": false"#;
        let mut first = Host::in_dir(dir.clone(), "", keep);
        let workers: Vec<Value> = nodes.iter().map(|n| worker(n)).collect();
        first.send(&deploy("r1", "c1", &workers));
        assert!(all_succeeded(&first.await_response("r1", LONG)));
        let pids: Vec<i32> = nodes.iter().map(|n| first.pid(n).unwrap()).collect();
        first.free();

        let adopt_and_keep = format!(r#""adopt_nodes": true, {keep}"#);
        let mut second = Host::in_dir(dir.clone(), "", &adopt_and_keep);
        let expected: Vec<_> = nodes
            .iter()
            .zip(&pids)
            .map(|(n, &p)| (n.clone(), "RUNNING".to_owned(), Some(i64::from(p))))
            .collect();
        assert_eq!(get_nodes(&second, "g1"), expected);
        second.free();
        assert!(pids.iter().all(|&p| alive(p)), "left running again");
        assert!(dir.join("configuration.json").exists());

        // (Threaded, this time: the agent's own thread watches them.)
        let threaded = r#""adopt_nodes": true, "mode": "threaded""#;
        let mut third = Host::in_dir(dir.clone(), "", threaded);
        assert_eq!(get_nodes(&third, "g1"), expected, "the very same processes");
        // One dies: the agent's thread notices it through its pidfd and
        // restarts it.
        // SAFETY: kill has no memory preconditions; an adopted node.
        unsafe { libc::kill(pids[1], libc::SIGKILL) };
        let restarted = |h: &Host| {
            h.pid(&nodes[1]).is_some_and(|p| p != pids[1]) && h.node_state(&nodes[1]) == "RUNNING"
        };
        assert!(third.run_until(LONG, restarted), "{:?}", third.changes());
        let new_pid = third.pid(&nodes[1]).unwrap();
        third.free();
        for &pid in pids.iter().chain([&new_pid]) {
            assert!(gone_within(pid, LONG), "node {pid} stopped at the free");
        }
        drop((first, second, third));
    });
}

//! The process supervisor running real Zeek, where it is installed (found
//! as the quickstart finds it: `zeek` on PATH, else the one of `zeek-config`
//! on PATH, else /opt/zeek/bin/zeek). Without Zeek the test passes after one
//! line saying what to install.
//!
//! Readiness: the agent has no Broker endpoint here, so it cannot hear the
//! nodes' `notify_node_hello`; a node counts as ready once it stayed up
//! `ready_after_ms` (`node_ready: "spawn"`). Zeek dies of a script error
//! within about a second, so 5 s tells a node that cannot start from one
//! that runs. On top of that the test checks that the cluster really
//! formed: the logger's `cluster.log` (in its node directory) records the
//! manager's Broker hellos from both workers.

mod process_support;

#[path = "../examples/quickstart/find_zeek.rs"]
mod find_zeek;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use process_support::*;
use serde_json::{json, Value};

/// Bounds for waits that normally take seconds; never tight.
const LONG: Duration = Duration::from_secs(90);

const GOOD: [&str; 4] = ["logger-01", "manager", "worker-01", "worker-02"];
const MISSING_SCRIPT: &str = "zma-no-such-script";

/// Zeek, or `None` after one line (past the test harness's capture) saying
/// what to install.
fn zeek_or_skip() -> Option<PathBuf> {
    let zeek = find_zeek::find_zeek();
    if zeek.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "real_zeek: skipped, Zeek is not installed: {}",
            find_zeek::INSTALL_HINT
        );
    }
    zeek
}

/// `ps -o pid,comm,args` for the given pids, as ps prints them (or why it
/// could not run).
fn ps(pids: &[i32]) -> Result<String, String> {
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    let output = std::process::Command::new("ps")
        .args(["-o", "pid,comm,args", "-p", &list.join(",")])
        .output()
        .map_err(|e| format!("cannot run ps: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Live processes anywhere whose argv[0] lies under `dir` (node processes
/// of this test: other runs on the machine use other state directories).
fn processes_under(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let argv0 =
            String::from_utf8_lossy(cmdline.split(|b| *b == 0).next().unwrap_or(&[])).into_owned();
        if argv0.starts_with(&prefix) && alive(pid) {
            found.push(format!("{pid} {argv0}"));
        }
    }
    found
}

/// The node's process is Zeek, named as Zeek's Supervisor names nodes.
fn check_named(host: &Host, zeek: &Path, node: &str, pid: i32) {
    assert!(alive(pid), "{node}: pid {pid} runs");
    assert_eq!(comm(pid), expected_comm(node), "{node}: comm");
    let link = host.node_dir(node).join(format!("zeek.{node}"));
    assert_eq!(
        cmdline(pid)[0],
        link.display().to_string(),
        "{node}: argv[0]"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
        std::fs::canonicalize(zeek).unwrap(),
        "{node}: the process is Zeek itself"
    );
    if let Ok(listing) = ps(&[pid]) {
        assert!(
            listing.lines().nth(1).is_some_and(|l| l
                .split_whitespace()
                .nth(1)
                .is_some_and(|c| c == expected_comm(node))),
            "{node}: ps -o comm shows zeek.{node}:\n{listing}"
        );
    }
}

/// The manager's Broker hellos from the workers, as the logger logs them.
fn cluster_formed(host: &Host) -> bool {
    let log =
        std::fs::read_to_string(host.node_dir("logger-01").join("cluster.log")).unwrap_or_default();
    // "<ts>\tmanager\tgot hello from worker-01 (<Broker id>)"
    ["worker-01", "worker-02"]
        .iter()
        .all(|w| log.contains(&format!("\tmanager\tgot hello from {w} (")))
}

fn result_for<'a>(response: &'a Value, node: &str) -> &'a Value {
    response["args"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["node"] == node)
        .unwrap_or_else(|| panic!("no result for {node}: {response}"))
}

#[test]
fn a_real_zeek_cluster_is_deployed_named_restarted_and_stopped() {
    let Some(zeek) = zeek_or_skip() else {
        return;
    };
    let supervisor = json!({
        "zeek": zeek.display().to_string(), "stop_grace_ms": 10_000,
        "restart_delay_ms": 200, "max_start_failures": 2,
    });
    let supervisor = supervisor.to_string();
    let host = Host::new(
        "real-zeek",
        supervisor.trim_start_matches('{').trim_end_matches('}'),
        r#""ready_after_ms": 5000, "request_timeout_ms": 120000"#,
    );
    let nodes = [
        json!({"name": "logger-01", "role": "LOGGER", "p": free_port()}),
        json!({"name": "manager", "role": "MANAGER", "p": free_port()}),
        json!({"name": "worker-01", "role": "WORKER"}),
        json!({"name": "worker-02", "role": "WORKER"}),
        // Cannot start: Zeek exits at once ("can't find ...").
        json!({"name": "worker-bad", "role": "WORKER", "scripts": [MISSING_SCRIPT]}),
    ];
    host.send(&deploy("r1", "c1", &nodes));
    let response = host.await_response("r1", LONG);

    // Answered once the four came up, the fifth failed with its stderr
    // (by the time the others are up it may also have been given up).
    for node in GOOD {
        assert_eq!(result_for(&response, node)["success"], true, "{response}");
    }
    let bad = result_for(&response, "worker-bad");
    assert_eq!(bad["success"], false);
    let error = bad["error"].as_str().unwrap();
    assert!(
        (error.starts_with("node worker-bad exited before it became ready (exit status 1)")
            || error.starts_with(
                "node worker-bad failed: it exited 2 times in a row before becoming ready"
            ))
            && error.ends_with(&format!("fatal error: can't find {MISSING_SCRIPT}")),
        "{error}"
    );

    let pids: Vec<i32> = GOOD
        .iter()
        .map(|n| host.pid(n).unwrap_or_else(|| panic!("{n} has a pid")))
        .collect();
    for (node, pid) in GOOD.iter().zip(&pids) {
        check_named(&host, &zeek, node, *pid);
    }
    println!(
        "{}",
        ps(&pids).unwrap_or_else(|e| e + " (checked in /proc instead)")
    );
    assert!(
        host.run_until(LONG, cluster_formed),
        "the workers joined the cluster; logger's cluster.log:\n{}",
        std::fs::read_to_string(host.node_dir("logger-01").join("cluster.log")).unwrap_or_default()
    );

    // The node that cannot start is given up on its schedule.
    assert!(host.run_until(LONG, |h| h.node_state("worker-bad") == "FAILED"));
    assert!(host
        .events_named("Management::Agent::API::notify_error")
        .iter()
        .any(|e| e["args"]["node"] == "worker-bad"));

    // A restart replaces worker-02's process with another Zeek of that name.
    let old = host.pid("worker-02").unwrap();
    host.send(r#"{"event": "restart_request", "args": {"reqid": "x1", "nodes": ["worker-02"]}}"#);
    let restart = host.await_response("x1", LONG);
    assert_eq!(restart["args"]["results"][0]["success"], true, "{restart}");
    assert!(host.run_until(LONG, |h| h.node_state("worker-02") == "RUNNING"));
    let new = host.pid("worker-02").unwrap();
    assert_ne!(new, old);
    assert!(!alive(old), "the old worker-02 is gone");
    check_named(&host, &zeek, "worker-02", new);

    // Standby stops every node before it is answered; nothing is left.
    host.send(r#"{"event": "agent_standby_request", "args": {"reqid": "s1"}}"#);
    let standby = host.await_response("s1", LONG);
    assert_eq!(standby["args"]["result"]["success"], true, "{standby}");
    for pid in pids.iter().chain([&new]) {
        assert!(!alive(*pid), "pid {pid} outlived the standby");
    }
    assert_eq!(processes_under(&host.state_dir), Vec::<String>::new());
    assert!(host.state()["nodes"].as_array().unwrap().is_empty());
}

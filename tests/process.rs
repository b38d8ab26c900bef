//! The built-in process supervisor with real processes (the stand-in node
//! program): start, output capture, crash recovery, giving up, stopping,
//! restarts, leftovers, port reuse.

mod process_support;

use std::time::Duration;

use process_support::*;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(20);

fn mini(logger_port: u16, manager_port: u16) -> Vec<Value> {
    vec![
        json!({"name": "logger-01", "role": "LOGGER", "p": logger_port}),
        json!({"name": "manager", "role": "MANAGER", "p": manager_port, "env": {"SITE": "lab"}}),
        json!({"name": "worker-01", "role": "WORKER", "interface": "lo", "cpu_affinity": 1,
               "scripts": ["local", "site/extra.zeek"]}),
        json!({"name": "worker-02", "role": "WORKER", "interface": "lo"}),
    ]
}

fn all_succeeded(response: &Value) -> bool {
    response["args"]["results"]
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|r| r["success"] == true))
}

#[test]
fn a_deploy_starts_nodes_as_zeek_wants_them() {
    let host = Host::new("deploy", "", "");
    let (lp, mp) = (free_port(), free_port());
    host.send(&deploy("r1", "c1", &mini(lp, mp)));
    let response = host.await_response("r1", LONG);
    assert!(all_succeeded(&response), "{response}");
    assert_eq!(response["args"]["results"].as_array().unwrap().len(), 4);

    for node in ["logger-01", "manager", "worker-01", "worker-02"] {
        let pid = host.pid(node).expect("a pid");
        assert!(alive(pid));
        let dir = std::fs::canonicalize(host.node_dir(node)).unwrap();
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
            dir,
            "{node} runs in its directory"
        );
        // Named as Zeek's Supervisor names nodes, through a link to the
        // program in the node directory: comm is the link's name, argv[0]
        // its absolute path (Zeek resolves its own binary through argv[0]).
        assert_eq!(comm(pid), expected_comm(node), "{node}: ps -o comm");
        let link = host.node_dir(node).join(format!("zeek.{node}"));
        let argv = cmdline(pid);
        assert_eq!(
            argv[0],
            link.display().to_string(),
            "argv[0] names the node"
        );
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            std::path::Path::new(STANDIN),
            "{node}: the link leads to the program"
        );
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
            std::fs::canonicalize(STANDIN).unwrap(),
            "{node} runs the program itself"
        );
        assert_eq!(
            argv[argv.len() - 2..],
            [
                "zeek-mgmt-agent-unsupervised",
                "policy/frameworks/management/node"
            ]
        );
        let env = environ(pid);
        assert!(env.contains(&format!("CLUSTER_NODE={node}")));
        let zeekpath = env
            .iter()
            .find_map(|e| e.strip_prefix("ZEEKPATH="))
            .unwrap();
        assert!(
            zeekpath.starts_with(&format!("{}:", dir.display())),
            "{zeekpath}"
        );
        // Its own process group.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let pgrp: i32 = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(pgrp, pid, "{node} leads its own process group");
        assert_eq!(file_mode(&dir), 0o700);
        for file in [
            "stdout",
            "stderr",
            "cluster-layout.zeek",
            "pid",
            "zeek-mgmt-agent-unsupervised.zeek",
        ] {
            assert_eq!(file_mode(&dir.join(file)), 0o600, "{node}/{file}");
        }
        let pid_file = std::fs::read_to_string(dir.join("pid")).unwrap();
        assert!(pid_file.starts_with(&format!("{pid} ")));
    }
    let w1 = host.pid("worker-01").unwrap();
    assert_eq!(
        &cmdline(w1)[1..],
        [
            "-i",
            "lo",
            "local",
            "site/extra.zeek",
            "zeek-mgmt-agent-unsupervised",
            "policy/frameworks/management/node"
        ]
    );
    let shim = std::fs::read_to_string(
        host.node_dir("worker-01")
            .join("zeek-mgmt-agent-unsupervised.zeek"),
    )
    .unwrap();
    assert!(shim.contains("redef Management::Log::level"), "{shim}");
    let status = std::fs::read_to_string(format!("/proc/{w1}/status")).unwrap();
    assert!(
        status.lines().any(|l| l == "Cpus_allowed_list:\t1"),
        "pinned to CPU 1"
    );
    assert!(environ(host.pid("manager").unwrap()).contains(&"SITE=lab".to_owned()));

    let layout =
        std::fs::read_to_string(host.node_dir("worker-02").join("cluster-layout.zeek")).unwrap();
    assert!(layout.contains(&format!("[\"logger-01\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p={lp}/tcp, $manager=\"manager\"],")), "{layout}");
    assert!(layout.contains(&format!(
        "[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p={mp}/tcp],"
    )));
    assert!(layout.contains(
        "[\"worker-01\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager=\"manager\"],"
    ));
    assert!(layout.contains("redef Cluster::manager_is_logger = F;"));
    // Output went to the files.
    assert!(host.run_until(LONG, |h| std::fs::read_to_string(
        h.node_dir("manager").join("stdout")
    )
    .is_ok_and(|s| s.contains(&format!("listening on 127.0.0.1:{mp}")))));
    let stderr = std::fs::read_to_string(host.node_dir("manager").join("stderr")).unwrap();
    assert!(stderr.contains("stand-in for Zeek"));

    // get_nodes shows the processes.
    host.send(r#"{"event": "get_nodes_request", "args": {"reqid": "g1"}}"#);
    let nodes = host.await_response("g1", LONG);
    let statuses = nodes["args"]["result"]["data"].as_array().unwrap().clone();
    // The four nodes; the agent itself only with `list_self`.
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    let manager = statuses.iter().find(|s| s["node"] == "manager").unwrap();
    assert_eq!(manager["state"], "Management::RUNNING");
    assert_eq!(manager["pid"], host.pid("manager").unwrap());
    assert_eq!(manager["p"], json!({"port": mp, "proto": "tcp"}));
}

#[test]
fn free_leaves_no_node_behind() {
    let mut host = Host::new("free", "", "");
    host.send(&deploy("r1", "c1", &mini(free_port(), free_port())));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let pids: Vec<i32> = ["logger-01", "manager", "worker-01", "worker-02"]
        .iter()
        .map(|n| host.pid(n).unwrap())
        .collect();
    host.free();
    for pid in pids {
        assert!(!alive(pid), "pid {pid} outlived free");
    }
}

#[test]
fn a_crash_is_noticed_reported_and_healed() {
    let host = Host::new("crash", "", "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=300"}})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let first = host.pid("w1").unwrap();
    assert!(host.run_until(LONG, |h| h
        .changes()
        .iter()
        .filter(|c| c.2 == "RUNNING")
        .count()
        >= 2));
    let changes = host.changes();
    let crash = changes
        .iter()
        .position(|c| c == &("w1".into(), "RUNNING".into(), "CRASHED".into()))
        .expect("crash noticed");
    assert_eq!(
        changes[crash + 1],
        ("w1".into(), "CRASHED".into(), "PENDING".into())
    );
    assert_eq!(
        changes[crash + 2],
        ("w1".into(), "PENDING".into(), "RUNNING".into())
    );
    let second = host.pid("w1").unwrap();
    assert_ne!(first, second, "a new process");
    assert!(!alive(first));
    // The outputs of the dead process, as Zeek's Supervisor shim reports them.
    let exits = host.events_named("Management::Supervisor::API::notify_node_exit");
    assert!(!exits.is_empty());
    assert_eq!(exits[0]["args"]["node"], "w1");
    assert!(exits[0]["args"]["outputs"]["stderr"]
        .as_str()
        .unwrap()
        .contains("a stand-in crash after start"));
    assert!(exits[0]["args"]["outputs"]["stdout"]
        .as_str()
        .unwrap()
        .contains("w1: zeek-mgmt-agent stand-in node starting"));
    let restarts = host.state()["nodes"][0]["restarts"].as_u64().unwrap();
    assert!(restarts >= 1);
}

/// Index in what the agent sent of the first entry that `is` matches.
fn position(host: &Host, is: impl Fn(&Sent) -> bool) -> Option<usize> {
    host.sent.lock().unwrap().iter().position(is)
}

fn is_change_to(node: &'static str, state: &'static str) -> impl Fn(&Sent) -> bool {
    move |(_, _, v): &Sent| {
        v["event"] == "Management::Agent::API::notify_change"
            && v["args"]["n"]["name"] == node
            && v["args"]["new"] == format!("Management::{state}")
    }
}

#[test]
fn a_deploy_is_answered_when_its_node_dies_before_ready_not_at_the_timeout() {
    // Nothing but the death can answer this deploy in the wait below: the
    // request times out after 600 s, the node would count as ready after
    // 600 s, and its restart (towards giving up) comes after 600 s.
    let far = 600_000;
    let host = Host::new(
        "early-answer",
        &format!(r#""restart_delay_ms": {far}, "restart_delay_max_ms": {far}"#),
        &format!(r#""ready_after_ms": {far}, "request_timeout_ms": {far}"#),
    );
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "broken", "role": "WORKER", "env": {"ZMA_STANDIN": "crash-at-start"}})],
    ));
    let response = host.await_response("r1", Duration::from_secs(60));
    let results = response["args"]["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        1,
        "{response}: no 'request timed out' result"
    );
    let result = &results[0];
    assert_eq!(
        (result["node"].as_str(), &result["success"]),
        (Some("broken"), &json!(false))
    );
    let error = result["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "node broken exited before it became ready (exit status 1); last stderr lines:\n"
        ) && error.contains("unknown identifier (a stand-in crash at start)"),
        "{error}"
    );
    assert!(result["data"]["stderr"]
        .as_str()
        .unwrap()
        .contains("a stand-in crash at start"));
    // Its one start died, and it waits for its restart: not given up.
    assert_eq!(host.node_state("broken"), "CRASHED");
    assert_eq!(
        host.changes().iter().filter(|c| c.2 == "PENDING").count(),
        1
    );
    assert!(host
        .events_named("Management::Agent::API::notify_error")
        .is_empty());
}

#[test]
fn a_node_that_never_starts_fails_its_deploy_at_once_and_is_given_up_on_schedule() {
    // With ready_after_ms 0 every spawn counts as ready at once: a readiness
    // wait makes dying at start dying before ready.
    let host = Host::new(
        "never",
        r#""max_start_failures": 5, "restart_delay_ms": 10"#,
        r#""ready_after_ms": 2000"#,
    );
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "broken", "role": "WORKER", "env": {"ZMA_STANDIN": "crash-at-start"}})],
    ));
    let response = host.await_response("r1", LONG);
    let result = &response["args"]["results"][0];
    assert_eq!(result["success"], false);
    let error = result["error"].as_str().unwrap();
    assert!(
        error.starts_with("node broken exited before it became ready (exit status 1)"),
        "answered on the first death: {error}"
    );
    assert!(
        error.contains("unknown identifier"),
        "the last stderr lines: {error}"
    );
    assert!(result["data"]["stderr"]
        .as_str()
        .unwrap()
        .contains("unknown identifier"));
    // The answer went out before the first restart began.
    let answered = position(&host, |(kind, _, v)| {
        kind == "response" && v["args"]["reqid"] == "r1"
    })
    .unwrap();
    let crashed = position(&host, is_change_to("broken", "CRASHED")).unwrap();
    assert!(crashed < answered);
    let restarted = host
        .sent
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, s)| is_change_to("broken", "PENDING")(s))
        .nth(1)
        .map(|(i, _)| i);
    assert!(
        restarted.map_or(true, |r| answered < r),
        "answered before the restart"
    );

    // Then the process supervisor keeps to its schedule and gives up.
    assert!(
        host.run_until(LONG, |h| h.node_state("broken") == "FAILED"),
        "given up; changes: {:?}",
        host.changes()
    );
    let errors = host.events_named("Management::Agent::API::notify_error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["args"]["node"], "broken");
    let message = errors[0]["args"]["msg"].as_str().unwrap();
    assert!(
        message.starts_with("node broken failed: it exited 5 times in a row before becoming ready")
            && message.contains("unknown identifier"),
        "{message}"
    );
    // No sixth try, and nothing answered twice.
    let spawned = host.changes().iter().filter(|c| c.2 == "PENDING").count();
    assert_eq!(spawned, 5);
    // Nor anything due: the readiness wait of its last try went with it (a
    // deadline left behind would come and stay in the past, and the host
    // would be told to poll again at once, forever).
    assert_eq!(host.runtime().next_timeout_ms(), None);
    std::thread::sleep(Duration::from_millis(200));
    host.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(
        host.changes().iter().filter(|c| c.2 == "PENDING").count(),
        5
    );
    assert_eq!(
        host.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, _, _)| kind == "response")
            .count(),
        1
    );
    // A restart revives it (and it fails again, later).
    host.send(r#"{"event": "restart_request", "args": {"reqid": "x1", "nodes": ["broken"]}}"#);
    let restart = host.await_response("x1", LONG);
    assert_eq!(restart["args"]["results"][0]["success"], true);
    assert_eq!(host.node_state("broken"), "PENDING");
}

#[test]
fn a_node_ignoring_sigterm_is_killed_after_the_grace_period() {
    let host = Host::new("sigterm", r#""stop_grace_ms": 300"#, "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "stubborn", "role": "WORKER", "env": {"ZMA_STANDIN": "ignore-sigterm"}})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let pid = host.pid("stubborn").unwrap();
    // Its first line means its SIGTERM handling is in place.
    assert!(host.run_until(LONG, |h| std::fs::read_to_string(
        h.node_dir("stubborn").join("stdout")
    )
    .is_ok_and(|s| s.contains("starting"))));
    let asked = host.now_ms();
    host.send(r#"{"event": "agent_standby_request", "args": {"reqid": "s1"}}"#);
    let standby = host.await_response("s1", LONG);
    assert_eq!(standby["args"]["result"]["success"], true);
    assert!(
        host.now_ms() - asked >= 300,
        "SIGKILL only after the grace period"
    );
    assert!(!alive(pid));
    assert!(host
        .changes()
        .contains(&("stubborn".into(), "RUNNING".into(), "STOPPED".into())));
}

#[test]
fn a_missing_program_fails_the_create_with_the_reason() {
    let host = Host::new("missing", r#""zeek": "/nonexistent/bin/zeek""#, "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    let response = host.await_response("r1", LONG);
    let result = &response["args"]["results"][0];
    assert_eq!(result["success"], false);
    assert_eq!(
        result["error"],
        "failed to create node w1: cannot start /nonexistent/bin/zeek: No such file or directory (os error 2)"
    );
    let errors = host.events_named("Management::Agent::API::notify_error");
    assert_eq!(errors[0]["args"]["msg"], result["error"]);
}

#[test]
fn nodes_start_with_no_signal_blocked() {
    // The agent's spawner thread blocks every signal; a node must not
    // inherit that. The stand-in reports the mask it was started with.
    let host = Host::new("sigmask", "", "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let stdout = host.node_dir("w1").join("stdout");
    assert!(host.run_until(LONG, |_| std::fs::read_to_string(&stdout)
        .is_ok_and(|s| s.contains("signal mask"))));
    let report = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        report.contains("started with signal mask 0000000000000000"),
        "{report}"
    );
}

#[test]
fn nodes_start_with_sigpipe_at_its_default() {
    // This test process ignores SIGPIPE (as Rust programs and Python do); a
    // node must not inherit that. A shell reports what it was started with
    // (the stand-in cannot: Rust's runtime ignores SIGPIPE itself).
    let script = "grep -E '^SigIgn' /proc/self/status; exec sleep 30";
    let supervisor = format!(r#""zeek": "/bin/sh", "args_prefix": ["-c", "{script}", "sh"]"#);
    let host = Host::new("sigpipe", &supervisor, "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let stdout = host.node_dir("w1").join("stdout");
    assert!(host.run_until(LONG, |_| std::fs::read_to_string(&stdout)
        .is_ok_and(|s| s.contains("SigIgn"))));
    let report = std::fs::read_to_string(&stdout).unwrap();
    let ignored = report
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .unwrap();
    let ignored = u64::from_str_radix(ignored, 16).unwrap();
    assert_eq!(ignored & 1 << (libc::SIGPIPE - 1), 0, "{report}");
}

#[test]
fn a_bad_environment_entry_fails_the_create_with_the_reason() {
    let host = Host::new("badenv", "", "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER", "env": {"A=B": "1"}})],
    ));
    let response = host.await_response("r1", LONG);
    let error = response["args"]["results"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("'A=B'"), "{response}");
    assert!(!host.state_dir.join("nodes/w1/pid").exists() || host.pid("w1").is_none());
}

#[test]
fn a_node_directory_that_is_a_symlink_is_refused() {
    let host = Host::new("symlink", "", "");
    let target = host.state_dir.join("elsewhere");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir_all(host.state_dir.join("nodes")).unwrap();
    std::os::unix::fs::symlink(&target, host.node_dir("w1")).unwrap();
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    let response = host.await_response("r1", LONG);
    let error = response["args"]["results"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("is a symbolic link; refusing to follow it"),
        "{error}"
    );
    assert!(
        std::fs::read_dir(&target).unwrap().next().is_none(),
        "nothing written through the link"
    );
}

#[test]
fn a_file_where_the_program_link_goes_is_refused_and_kept() {
    let host = Host::new("not-a-link", "", "");
    std::fs::create_dir_all(host.node_dir("w1")).unwrap();
    let squatter = host.node_dir("w1").join("zeek.w1");
    std::fs::write(&squatter, "not a link").unwrap();
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    let response = host.await_response("r1", LONG);
    let error = response["args"]["results"][0]["error"].as_str().unwrap();
    assert_eq!(
        error,
        format!(
            "failed to create node w1: {} is not a symbolic link; refusing to replace it",
            squatter.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&squatter).unwrap(), "not a link");
    // A stale link (the program moved) is replaced.
    std::fs::remove_file(&squatter).unwrap();
    std::os::unix::fs::symlink("/nonexistent/zeek", &squatter).unwrap();
    host.send(&deploy(
        "r2",
        "c2",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r2", LONG)));
    assert_eq!(
        std::fs::read_link(&squatter).unwrap(),
        std::path::Path::new(STANDIN)
    );
    assert_eq!(comm(host.pid("w1").unwrap()), "zeek.w1");
}

#[test]
fn a_name_too_long_for_its_program_link_fails_to_start_saying_so() {
    // Validation takes 255 bytes (a directory name); zeek.<name> must fit
    // in a file name too.
    let host = Host::new("long-name", "", "");
    let (fits, too_long) = ("n".repeat(250), "n".repeat(251));
    host.send(&deploy(
        "r1",
        "c1",
        &[
            json!({"name": fits, "role": "WORKER"}),
            json!({"name": too_long, "role": "WORKER"}),
        ],
    ));
    let response = host.await_response("r1", LONG);
    let results = response["args"]["results"].as_array().unwrap();
    assert_eq!(results[0]["success"], true, "{response}");
    assert_eq!(comm(host.pid(&fits).unwrap()), expected_comm(&fits));
    assert_eq!(
        results[1]["error"],
        format!(
            "failed to create node {too_long}: node name {too_long} is too long for the \
             process supervisor: its program link zeek.{too_long} would be longer than 255 bytes"
        )
    );
}

#[test]
fn a_redeploy_reuses_the_same_ports_without_clashes() {
    let host = Host::new("ports", "", "");
    let nodes = mini(free_port(), free_port());
    host.send(&deploy("r1", "c1", &nodes));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let old = host.pid("manager").unwrap();
    host.send(&deploy("r2", "c2", &nodes));
    let response = host.await_response("r2", LONG);
    assert!(all_succeeded(&response), "{response}");
    assert!(!alive(old));
    let crashed = host.run_until(Duration::from_millis(500), |h| {
        h.changes().iter().any(|c| c.2 == "CRASHED")
    });
    assert!(
        !crashed,
        "no node crashed on a port still held: {:?}",
        host.changes()
    );
}

#[test]
fn a_restart_replaces_the_process() {
    let host = Host::new("restart", "", "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let old = host.pid("w1").unwrap();
    host.send(r#"{"event": "restart_request", "args": {"reqid": "x1", "nodes": ["w1"]}}"#);
    let response = host.await_response("x1", LONG);
    assert_eq!(response["args"]["results"][0]["success"], true);
    assert!(host.run_until(LONG, |h| h.node_state("w1") == "RUNNING"));
    let new = host.pid("w1").unwrap();
    assert_ne!(old, new);
    assert!(!alive(old));
    assert_eq!(host.state()["nodes"][0]["restarts"], 1);
}

#[test]
fn leftovers_of_an_earlier_agent_are_stopped_not_duplicated() {
    let dir = state_dir("leftovers");
    let mut first = Host::in_dir(dir.clone(), "", r#""stop_nodes_on_free": false"#);
    first.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&first.await_response("r1", LONG)));
    let pid = first.pid("w1").unwrap();
    first.agent = None; // freed, node left running
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(pid), "stop_nodes_on_free false leaves it running");
    first.state_dir = std::path::PathBuf::new(); // keep the directory for `second`
    drop(first);
    let second = Host::in_dir(dir, "", "");
    assert!(
        !alive(pid),
        "the new agent stopped the leftover before anything else"
    );
    assert!(
        second.logs.lock().unwrap().is_empty()
            || second.run_until(Duration::from_millis(10), |_| true)
    );
    second.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&second.await_response("r1", LONG)));
    let logs = second.logs.lock().unwrap().clone();
    assert!(
        logs.iter().any(|l| l.contains(&format!(
            "stopped node w1 (pid {pid}) left running by an earlier agent"
        ))),
        "{logs:?}"
    );
}

#[test]
fn a_node_left_running_at_free_keeps_its_output_and_is_reaped() {
    // Freed with stop_nodes_on_free false, an agent must not take its nodes
    // down with it: not through the parent-death signal of the thread that
    // started them, nor through SIGPIPE on their output pipes.
    let mut host = Host::new("left-running", "", r#""stop_nodes_on_free": false"#);
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let pid = host.pid("w1").unwrap();
    let stdout = host.node_dir("w1").join("stdout");
    host.agent = None;
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid), "the node outlives the agent");
    // Its output still reaches its file: it prints a line on SIGTERM.
    // SAFETY: kill has no memory preconditions; the pid is our node.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + LONG;
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "exited and reaped, no zombie"
    );
    let output = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        output.contains("w1: received SIGTERM, shutting down"),
        "{output}"
    );
}

#[test]
fn threaded_mode_supervises_on_its_own_thread() {
    let host = Host::new("threaded", "", r#""mode": "threaded""#);
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=200"}})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    // The crash is noticed and healed with nobody polling.
    assert!(
        host.run_until(LONG, |h| h
            .changes()
            .iter()
            .filter(|c| c.2 == "RUNNING")
            .count()
            >= 2),
        "{:?}",
        host.changes()
    );
}

#[test]
fn the_descriptor_wakes_the_host_when_a_node_exits() {
    let host = Host::new("fd", "", "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    // Drain what there is, then the descriptor must be quiet until the node
    // dies.
    host.run_until(Duration::from_millis(200), |_| false);
    let rt = host.runtime();
    let fd = rt.fd().unwrap();
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 0, "nothing to do");
    let pid = host.pid("w1").unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(
        unsafe { libc::poll(&mut pfd, 1, 5000) },
        1,
        "readable once the node died"
    );
    // Its pipes close a moment before its pidfd reports the exit: keep going
    // while the descriptor says there is work.
    assert!(host.run_until(LONG, |h| h.changes().contains(&(
        "w1".into(),
        "RUNNING".into(),
        "CRASHED".into()
    ))));
}

#[test]
fn no_node_survives_its_host_being_killed() {
    if std::env::var_os("ZMA_HOST_TO_KILL").is_some() {
        // The child: host an agent with two nodes, say their pids, wait to die.
        let host = Host::new("killed-host", "", r#""mode": "threaded""#);
        host.send(&deploy(
            "r1",
            "c1",
            &[
                json!({"name": "a", "role": "WORKER"}),
                json!({"name": "b", "role": "WORKER"}),
            ],
        ));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        println!("PIDS {} {}", host.pid("a").unwrap(), host.pid("b").unwrap());
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "no_node_survives_its_host_being_killed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZMA_HOST_TO_KILL", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let pids: Vec<i32> = reader
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("PIDS ")
                .map(|(_, p)| p.split(' ').map(|x| x.parse().unwrap()).collect())
        })
        .expect("the child reported its nodes");
    assert!(pids.iter().all(|p| alive(*p)));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let gone = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        pids.iter().all(|p| !alive(*p))
    });
    assert!(gone, "nodes {pids:?} outlived their host");
}

#[test]
fn a_host_with_its_stdio_closed_still_captures_node_output() {
    // A daemon host may have closed descriptors 0-2; what the agent opens
    // for a node (its directory, its files) then gets those numbers, and
    // the node must still start in its directory with its output captured.
    // This test runs itself again in a child process, which closes 0-2 once
    // its agent exists (so that the agent's own descriptors are above them).
    const RESULT: &str = "ZMA_TEST_CLOSED_STDIO_RESULT";
    const NAME: &str = "a_host_with_its_stdio_closed_still_captures_node_output";
    if let Ok(result) = std::env::var(RESULT) {
        let host = Host::new("closed-stdio", "", "");
        for fd in 0..3 {
            // SAFETY: closes this child's own stdio; nothing here uses it.
            unsafe { libc::close(fd) };
        }
        host.send(&deploy(
            "r1",
            "c1",
            &[json!({"name": "w1", "role": "WORKER"})],
        ));
        let response = host.await_response("r1", LONG);
        let deployed = all_succeeded(&response);
        let read = |file: &str| {
            std::fs::read_to_string(host.node_dir("w1").join(file)).unwrap_or_default()
        };
        let captured = host.run_until(LONG, |_| {
            read("stdout").contains("starting") && read("stderr").contains("stand-in")
        });
        std::fs::write(
            result,
            format!("deployed={deployed} captured={captured}\n{response}"),
        )
        .unwrap();
        return;
    }
    let result = state_dir("closed-stdio-result").join("result");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--test-threads=1"])
        .env(RESULT, &result)
        .status()
        .unwrap();
    let outcome = std::fs::read_to_string(&result).unwrap_or_default();
    assert!(status.success(), "{status}: {outcome}");
    assert!(
        outcome.starts_with("deployed=true captured=true\n"),
        "{outcome}"
    );
}

/// Generous: only a real hang takes this long.
const HANG: Duration = Duration::from_secs(60);

/// Polled mode on a virtual clock: polls at `now` (which never moves here)
/// whenever the agent's descriptor is readable, until `done` holds; waits
/// for readiness in real time, at most [`HANG`] in all.
fn poll_at_until(host: &Host, now: u64, what: &str, mut done: impl FnMut(&Host) -> bool) {
    let rt = host.runtime();
    let fd = rt.fd().expect("polled mode has a descriptor");
    let until = std::time::Instant::now() + HANG;
    while !done(host) {
        assert!(
            std::time::Instant::now() < until,
            "{what}: nothing after {HANG:?}; logs: {:?}",
            host.logs.lock().unwrap()
        );
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 1000) };
        rt.poll(now).unwrap();
    }
}

/// A node that keeps crashing after it became ready is restarted on Zeek's
/// schedule: 1 s, and the delay doubles after every 3 attempts (1, 1, 1,
/// 2, 2, 2, 4 s). The host drives the clock (polled mode, `now_ms` chosen
/// here), so the delays are exact whatever the machine's speed; only the
/// nodes' deaths are waited for, on the agent's descriptor.
#[test]
fn restart_delays_grow_as_a_node_keeps_crashing() {
    let host = Host::new(
        "backoff",
        r#""restart_delay_ms": 1000, "restart_delay_max_ms": 60000"#,
        "",
    );
    let rt = host.runtime();
    // Far ahead of the real milliseconds `Host` would give, and only moved
    // by this test.
    let mut now: u64 = 1_000_000;
    rt.poll(now).unwrap();
    // Dies as soon as it has started; `node_ready: spawn` with
    // `ready_after_ms: 0` makes each death a crash after readiness.
    let node =
        json!({"name": "backoff-w", "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=0"}});
    rt.handle_request(deploy("r1", "c1", &[node]).as_bytes())
        .unwrap();
    assert!(all_succeeded(
        &host.response("r1").expect("answered at once")
    ));
    let expected = [1000, 1000, 1000, 2000, 2000, 2000, 4000];
    let mut delays = Vec::new();
    for attempt in 0..expected.len() {
        poll_at_until(&host, now, &format!("crash {}", attempt + 1), |h| {
            h.node_state("backoff-w") == "CRASHED"
        });
        let restart_at = rt
            .next_timeout_ms()
            .expect("a crashed node has a restart deadline");
        delays.push(restart_at - now);
        // Not a moment early.
        rt.poll(restart_at - 1).unwrap();
        assert_eq!(host.node_state("backoff-w"), "CRASHED");
        now = restart_at;
        rt.poll(now).unwrap();
        assert_ne!(
            host.node_state("backoff-w"),
            "CRASHED",
            "restarted at its deadline"
        );
    }
    assert_eq!(delays, expected, "restart delays after successive crashes");
}

/// The `pipe:[inode]` targets of a process's descriptors.
fn pipes_of(pid: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .filter(|t| t.starts_with("pipe:"))
        .collect()
}

/// The agent keeps the read ends of its nodes' output pipes open in the
/// host's process; they must be close-on-exec, or every program the host
/// starts (not only nodes) inherits them, holding them open.
#[test]
fn node_output_pipes_do_not_leak_into_other_programs() {
    let host = Host::new("cloexec", "", "");
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "cloexec-w", "role": "WORKER"})],
    ));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    let pid = host.pid("cloexec-w").unwrap();
    let node_pipes: Vec<String> = [1, 2]
        .iter()
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert!(
        node_pipes.iter().all(|p| p.starts_with("pipe:")),
        "{node_pipes:?}"
    );
    // The agent reads them here, in this process.
    let ours = pipes_of("self");
    assert!(
        node_pipes.iter().all(|p| ours.contains(p)),
        "{node_pipes:?} not open in the host: {ours:?}"
    );
    // An unrelated program the host starts meanwhile.
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `spawn` returns once the program was executed: its descriptors are
    // what it inherited.
    let inherited = pipes_of(&other.id().to_string());
    other.kill().unwrap();
    other.wait().unwrap();
    let leaked: Vec<&String> = node_pipes
        .iter()
        .filter(|p| inherited.contains(p))
        .collect();
    assert!(
        leaked.is_empty(),
        "the node's output pipes {leaked:?} leaked into another program"
    );
}

/// A node that checked in by hello counts as ready for the process
/// supervisor (the engine tells it so): its next death is a crash, healed
/// by a restart, not its one allowed failure to start.
#[test]
fn a_node_that_checked_in_by_hello_is_restarted_after_a_crash() {
    let host = Host::new(
        "hello-ready",
        r#""max_start_failures": 1, "restart_delay_ms": 10"#,
        r#""node_ready": "hello""#,
    );
    host.send(&deploy(
        "r1",
        "c1",
        &[json!({"name": "w1", "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=1500"}})],
    ));
    assert!(host.run_until(LONG, |h| h.pid("w1").is_some()));
    host.send(r#"{"event": "Management::Node::API::notify_node_hello", "args": {"node": "w1"}}"#);
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    assert!(host.run_until(LONG, |h| h
        .changes()
        .iter()
        .any(|c| c.1 == "CRASHED" || c.2 == "FAILED")));
    let changes = host.changes();
    let crash = changes
        .iter()
        .position(|c| c == &("w1".into(), "RUNNING".into(), "CRASHED".into()))
        .unwrap_or_else(|| panic!("a crash, not a failure: {changes:?}"));
    assert_eq!(
        changes.get(crash + 1),
        Some(&("w1".into(), "CRASHED".into(), "PENDING".into())),
        "restarted: {changes:?}"
    );
}

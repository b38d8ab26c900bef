//! Fault injection against the built-in process supervisor: process
//! limits, programs that cannot be executed, unusable state directories,
//! symbolic links where node directories and files belong, a full disk for
//! node output, nodes that take their time to stop (or refuse to), and
//! hosts that free the agent in the middle of a deploy.
//!
//! Every case must end in a clear error or failed result naming the
//! problem, and leave no descriptor, thread, child process or node process
//! behind (see `faults_support::case`). Cases that need a resource limit or
//! an unprivileged user (root ignores RLIMIT_NPROC and permission bits) run
//! in a child process: this binary again, for that one test, with
//! `ZMA_FAULT_CHILD` set; the child reports what it saw on an `OUTCOME`
//! line and the parent asserts on it.

mod faults_support;
mod process_support;

use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults_support::*;
use process_support::*;
use serde_json::{json, Value};
use zeek_mgmt_agent::ffi::*;

const LONG: Duration = Duration::from_secs(20);
/// Generous: a bounded wait this long only runs out on a real hang, never
/// because the machine is slow or busy.
const HANG: Duration = Duration::from_secs(60);
const NOTIFY_ERROR: &str = "Management::Agent::API::notify_error";

/// The (error, success) of a response's first result.
fn first_result(response: &Value) -> (String, bool) {
    let result = &response["args"]["results"][0];
    (
        result["error"].as_str().unwrap_or_default().to_owned(),
        result["success"] == true,
    )
}

fn all_succeeded(response: &Value) -> bool {
    response["args"]["results"]
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|r| r["success"] == true))
}

/// The results of a response by node: node -> error ("" on success).
fn errors_by_node(response: &Value) -> std::collections::BTreeMap<String, String> {
    response["args"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["node"].as_str().unwrap_or_default().to_owned(),
                r["error"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn notify_errors(host: &Host) -> Vec<String> {
    host.events_named(NOTIFY_ERROR)
        .iter()
        .map(|e| e["args"]["msg"].as_str().unwrap().to_owned())
        .collect()
}

fn worker(name: &str) -> Value {
    json!({"name": name, "role": "WORKER"})
}

fn worker_with(name: &str, standin: &str) -> Value {
    json!({"name": name, "role": "WORKER", "env": {"ZMA_STANDIN": standin}})
}

/// The supervisor option naming the program nodes run.
fn zeek_option(program: &Path) -> String {
    format!(r#""zeek": "{}""#, program.display())
}

// ---- 1. fork and exec failures ----------------------------------------------

const F1A: &str = "f1a_nproc_makes_node_starts_fail";

/// RLIMIT_NPROC reached: starting a node (clone) fails with EAGAIN, and so
/// does creating an agent (its spawner thread). Root ignores the limit, so
/// the child drops to `nobody` first.
#[test]
fn f1a_nproc_makes_node_starts_fail() {
    if child_case().as_deref() == Some("nproc") {
        report(&nproc_child());
        return;
    }
    let _serial = serial();
    let (outcome, all) = run_child(F1A, "nproc");
    let pid = outcome["pid"].as_u64().unwrap();
    let (w1, w2) = (format!("w1-{pid}"), format!("w2-{pid}"));
    if is_root() {
        assert_eq!(outcome["uid"], NOBODY, "{all}");
    }
    // Creating an agent at the limit: its spawner thread cannot start.
    assert_eq!(outcome["new_status"], "null agent", "{all}");
    assert_eq!(
        outcome["new_error"],
        "cannot create the agent's process supervisor: Resource temporarily unavailable (os error 11)",
        "{all}"
    );
    // Starting nodes at the limit: every create fails, naming the limit
    // (the first start, which also starts the node watchdog, fails there).
    let cannot = |node: &str| {
        format!(
            "failed to create node {node}: cannot start {STANDIN}: cannot start the node \
             watchdog: Resource temporarily unavailable (os error 11) (the process limit, \
             RLIMIT_NPROC or the system's, is reached)"
        )
    };
    assert_eq!(
        outcome["at_limit"],
        json!({w1.clone(): cannot(&w1), w2.clone(): cannot(&w2)}),
        "{all}"
    );
    assert_eq!(
        outcome["notify_errors"],
        json!([cannot(&w1), cannot(&w2)]),
        "{all}"
    );
    assert_eq!(outcome["states"], json!(["FAILED", "FAILED"]), "{all}");
    // Below the limit again, the same nodes start.
    assert_eq!(outcome["after_limit"], json!({w1: "", w2: ""}), "{all}");
    assert_eq!(outcome["alive"], json!([true, true]), "{all}");
    assert_eq!(outcome["leaks"], json!([]), "{all}");
    assert_eq!(outcome["node_processes"], json!([]), "{all}");
    let names: Vec<String> = ["w1", "w2"].iter().map(|n| format!("{n}-{pid}")).collect();
    assert!(node_processes(&names).is_empty());
    assert!(children().is_empty());
}

fn nproc_child() -> Value {
    let dir = scratch("nproc");
    give_to_nobody(&dir);
    let uid = drop_root();
    let before = usage();
    let (w1, w2) = (node("w1"), node("w2"));

    // An agent created at the limit.
    set_soft_limit(libc::RLIMIT_NPROC, 0);
    let options = json!({"name": "instance-1", "mode": "polled", "state_dir": dir.join("other").display().to_string(),
        "supervisor": {"kind": "process", "zeek": STANDIN}})
    .to_string();
    let options = CString::new(options).unwrap();
    let mut error: *mut c_char = std::ptr::null_mut();
    // SAFETY: a valid C string and out pointer.
    let agent = unsafe { zma_agent_new(options.as_ptr(), &mut error) };
    restore_limit(libc::RLIMIT_NPROC);
    let new_status = if agent.is_null() {
        "null agent"
    } else {
        // SAFETY: the agent just made.
        unsafe { zma_agent_free(agent) };
        "created"
    };
    let new_error = if error.is_null() {
        String::new()
    } else {
        // SAFETY: an owned message from the library, freed after copying.
        let text = unsafe { CStr::from_ptr(error) }
            .to_string_lossy()
            .into_owned();
        unsafe { zma_string_free(error) };
        text
    };

    // Node starts at the limit, then below it.
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let host = Host::in_dir(state, "", "");
    set_soft_limit(libc::RLIMIT_NPROC, 0);
    host.send(&deploy("r1", "c1", &[worker(&w1), worker(&w2)]));
    let at_limit = host.await_response("r1", LONG);
    restore_limit(libc::RLIMIT_NPROC);
    let states = vec![host.node_state(&w1), host.node_state(&w2)];
    host.send(&deploy("r2", "c2", &[worker(&w1), worker(&w2)]));
    let after_limit = host.await_response("r2", LONG);
    let pids = [host.pid(&w1), host.pid(&w2)];
    let alive: Vec<bool> = pids.iter().map(|p| p.is_some_and(alive)).collect();
    let notify_errors = notify_errors(&host);
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
    let names = [w1, w2];
    json!({
        "pid": std::process::id(), "uid": uid,
        "new_status": new_status, "new_error": new_error,
        "at_limit": errors_by_node(&at_limit), "states": states, "notify_errors": notify_errors,
        "after_limit": errors_by_node(&after_limit), "alive": alive,
        "leaks": leaks(&before, &names), "node_processes": node_processes(&names),
    })
}

/// Programs that cannot be executed: each create fails with the reason,
/// as a failed result and a notify_error, and nothing is left behind.
#[test]
fn f1b_exec_failures_name_the_reason() {
    let dir = scratch("exec");
    let missing = dir.join("missing-zeek");
    let plain = dir.join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let directory = dir.join("a-directory");
    std::fs::create_dir(&directory).unwrap();
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, [0x7f, b'E', b'L', b'F', 0, 0, 0, 0]).unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).unwrap();
    let no_interpreter = dir.join("no-interpreter");
    script(&no_interpreter, "#!/nonexistent/interpreter\n");
    let w = node("w1");
    let cases: Vec<(String, String)> = vec![
        (
            zeek_option(&missing),
            format!(
                "cannot start {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            zeek_option(&plain),
            format!(
                "cannot start {}: Permission denied (os error 13)",
                plain.display()
            ),
        ),
        (
            zeek_option(&directory),
            format!(
                "cannot start {}: Permission denied (os error 13)",
                directory.display()
            ),
        ),
        (
            zeek_option(&garbage),
            format!(
                "cannot start {}: Exec format error (os error 8)",
                garbage.display()
            ),
        ),
        (
            zeek_option(&no_interpreter),
            format!(
                "cannot start {}: No such file or directory (os error 2) \
                 (the file exists: an interpreter or library it needs is missing)",
                no_interpreter.display()
            ),
        ),
        (
            r#""zeek": "no-such-zeek-zma-fault""#.to_owned(),
            "program 'no-such-zeek-zma-fault' not found on PATH".to_owned(),
        ),
    ];
    for (supervisor, reason) in cases {
        case(std::slice::from_ref(&w), || {
            let host = Host::new("exec", &supervisor, "");
            host.send(&deploy("r1", "c1", &[worker(&w)]));
            let response = host.await_response("r1", LONG);
            let expected = format!("failed to create node {w}: {reason}");
            assert_eq!(first_result(&response), (expected.clone(), false));
            assert_eq!(notify_errors(&host), [expected]);
            assert_eq!(host.node_state(&w), "FAILED");
            assert_eq!(host.pid(&w), None);
            if supervisor.contains("no-such-zeek") {
                let logs = host.logs.lock().unwrap().clone();
                assert_eq!(
                    logs[0],
                    "nodes cannot start: program 'no-such-zeek-zma-fault' not found on PATH",
                    "logged at creation"
                );
            }
        });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The program disappears while its node runs: after the node's crash its
/// restarts fail, and after `max_start_failures` of those it is FAILED
/// with the reason.
#[test]
fn f1c_exec_failures_on_restart_give_the_node_up() {
    let dir = scratch("restart-exec");
    let program = dir.join("zeek");
    std::fs::copy(STANDIN, &program).unwrap();
    let w = node("w1");
    case(std::slice::from_ref(&w), || {
        let host = Host::new(
            "restart-exec",
            &format!(
                r#"{}, "restart_delay_ms": 10, "max_start_failures": 3"#,
                zeek_option(&program)
            ),
            "",
        );
        host.send(&deploy("r1", "c1", &[worker_with(&w, "crash-after=300")]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        std::fs::remove_file(&program).unwrap();
        assert!(
            host.run_until(LONG, |h| h.node_state(&w) == "FAILED"),
            "{:?}",
            host.changes()
        );
        let errors = notify_errors(&host);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let reason = format!(
            "cannot start {}: No such file or directory (os error 2)",
            program.display()
        );
        assert!(
            errors[0].starts_with(&format!(
                "node {w} failed: it could not be started 3 times in a row ({reason}); last stderr lines:\n"
            )),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("a stand-in crash after start"));
        assert!(errors[0].ends_with(&reason), "{}", errors[0]);
        assert_eq!(host.pid(&w), None);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- 2. unusable state directories ------------------------------------------

/// A state directory whose parent is a regular file, or under /sys (which
/// refuses even root): creates fail naming the path and the reason.
#[test]
fn f2a_state_dir_that_cannot_be_created() {
    let dir = scratch("under-file");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let w = node("w1");
    let sys = Path::new("/sys").join(format!("zma-fault-{}", std::process::id()));
    let cases = [
        (
            file.join("state"),
            format!(
                "cannot create state directory {}/state: Not a directory (os error 20)",
                file.display()
            ),
        ),
        (
            sys.clone(),
            format!(
                "cannot create state directory {}: Operation not permitted (os error 1)",
                sys.display()
            ),
        ),
    ];
    // The agent locks its state directory when it is created, so a state
    // directory it cannot make is refused then, naming it.
    for (state_dir, reason) in cases {
        if state_dir.starts_with("/sys") && !Path::new("/sys/kernel").exists() {
            continue; // no sysfs here
        }
        case(std::slice::from_ref(&w), || {
            let refused = Host::try_in_dir(state_dir.clone(), "", "").err();
            let expected = format!("cannot create the agent's process supervisor: {reason}");
            assert_eq!(refused, Some(expected));
        });
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
    std::fs::remove_dir_all(&dir).unwrap();
}

const F2B: &str = "f2b_state_dir_not_writable";

/// A state directory the agent's user may not write (an unprivileged
/// child: root bypasses permission bits): under a read-only directory,
/// and a node directory that is read-only.
#[test]
fn f2b_state_dir_not_writable() {
    if child_case().as_deref() == Some("read-only") {
        report(&read_only_child());
        return;
    }
    let _serial = serial();
    let (outcome, all) = run_child(F2B, "read-only");
    let pid = outcome["pid"].as_u64().unwrap();
    let w = format!("w1-{pid}");
    let dir = outcome["dir"].as_str().unwrap();
    assert_eq!(
        outcome["under_read_only"],
        json!(format!("cannot create the agent's process supervisor: cannot create state directory {dir}/read-only/state: Permission denied (os error 13)")),
        "{all}"
    );
    assert_eq!(
        outcome["node_dir_read_only"],
        json!({w.clone(): format!("failed to create node {w}: cannot write {dir}/own/nodes/{w}/cluster-layout.zeek: Permission denied (os error 13)")}),
        "{all}"
    );
    assert_eq!(outcome["notify_errors"], json!([1]), "{all}");
    assert_eq!(outcome["leaks"], json!([]), "{all}");
    assert!(node_processes(&[w]).is_empty());
    // Its read-only directory is root's to remove.
    make_writable(Path::new(dir));
    std::fs::remove_dir_all(dir).unwrap();
    assert!(children().is_empty());
}

fn read_only_child() -> Value {
    let dir = scratch("read-only");
    // As root: a directory nobody may write to, and one it owns.
    let read_only = dir.join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let own = dir.join("own");
    std::fs::create_dir(&own).unwrap();
    give_to_nobody(&own);
    give_to_nobody(&dir);
    let uid = drop_root();
    let before = usage();
    let w = node("w1");

    let under_read_only = Host::try_in_dir(read_only.join("state"), "", "")
        .err()
        .unwrap_or_default();

    let node_dir = own.join("nodes").join(&w);
    std::fs::create_dir_all(&node_dir).unwrap();
    std::fs::set_permissions(&node_dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let host = Host::in_dir(own.clone(), "", "");
    host.send(&deploy("r1", "c1", &[worker(&w)]));
    let node_dir_read_only = errors_by_node(&host.await_response("r1", LONG));
    let second_errors = notify_errors(&host).len();
    make_writable(&own);
    drop(host);
    let _ = std::fs::remove_dir_all(&own);
    let names = [w];
    json!({
        "pid": std::process::id(), "uid": uid, "dir": dir.display().to_string(),
        "under_read_only": under_read_only, "node_dir_read_only": node_dir_read_only,
        "notify_errors": [second_errors],
        "leaks": leaks(&before, &names),
    })
}

/// The state directory removed after the agent was created (it is made
/// again, mode 0700: the deploy works), removed while its nodes run (a
/// redeploy stops them and starts the new ones), and replaced by a file
/// (the creates fail naming it).
#[test]
fn f2c_state_dir_deleted_or_replaced() {
    let w = node("w1");
    case(std::slice::from_ref(&w), || {
        let host = Host::new("deleted", "", "");
        std::fs::remove_dir_all(&host.state_dir).unwrap();
        host.send(&deploy("r1", "c1", &[worker(&w)]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        assert_eq!(file_mode(&host.state_dir), 0o700);
        let first = host.pid(&w).unwrap();
        assert!(alive(first));

        // Removed under a running node: the redeploy stops it and starts
        // the new one in a directory made again.
        std::fs::remove_dir_all(&host.state_dir).unwrap();
        host.send(&deploy("r2", "c2", &[worker(&w)]));
        assert!(all_succeeded(&host.await_response("r2", LONG)));
        assert!(!alive(first));
        let second = host.pid(&w).unwrap();
        assert!(alive(second));
        assert!(host.node_dir(&w).join("stdout").is_file());

        // Replaced by a regular file.
        std::fs::remove_dir_all(&host.state_dir).unwrap();
        std::fs::write(&host.state_dir, "a file").unwrap();
        host.send(&deploy("r3", "c3", &[worker(&w)]));
        let response = host.await_response("r3", LONG);
        let expected = format!(
            "failed to create node {w}: cannot create {}/nodes: Not a directory (os error 20)",
            host.state_dir.display()
        );
        assert_eq!(first_result(&response), (expected.clone(), false));
        assert_eq!(notify_errors(&host), [expected]);
        assert!(!alive(second));
        assert_eq!(std::fs::read_to_string(&host.state_dir).unwrap(), "a file");
        std::fs::remove_file(&host.state_dir).unwrap();
    });
}

// ---- 3. symbolic links ------------------------------------------------------

/// A directory with one file, to check that nothing reaches it through a
/// link.
fn link_target(dir: &Path) -> std::path::PathBuf {
    let target = dir.join("elsewhere");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep"), "untouched").unwrap();
    target
}

fn assert_untouched(target: &Path) {
    let entries: Vec<String> = std::fs::read_dir(target)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["keep"], "nothing written through the link");
    assert_eq!(
        std::fs::read_to_string(target.join("keep")).unwrap(),
        "untouched"
    );
}

fn symlink_refused(host: &Host, node: &str) -> String {
    format!(
        "node directory {} is a symbolic link; refusing to follow it",
        host.node_dir(node).display()
    )
}

/// A node directory that is a symbolic link before the first deploy (to a
/// directory, and dangling): refused, the target untouched.
#[test]
fn f3a_node_dir_symlink_before_deploy() {
    let (w1, w2) = (node("w1"), node("w2"));
    case(&[w1.clone(), w2.clone()], || {
        let host = Host::new("link-before", "", "");
        let target = link_target(&host.state_dir);
        let dangling = host.state_dir.join("nowhere");
        std::fs::create_dir_all(host.state_dir.join("nodes")).unwrap();
        std::os::unix::fs::symlink(&target, host.node_dir(&w1)).unwrap();
        std::os::unix::fs::symlink(&dangling, host.node_dir(&w2)).unwrap();
        host.send(&deploy("r1", "c1", &[worker(&w1), worker(&w2)]));
        let response = host.await_response("r1", LONG);
        let errors = errors_by_node(&response);
        for w in [&w1, &w2] {
            assert_eq!(
                errors[w.as_str()],
                format!("failed to create node {w}: {}", symlink_refused(&host, w))
            );
            assert_eq!(host.node_state(w), "FAILED");
        }
        assert_eq!(notify_errors(&host).len(), 2);
        assert_untouched(&target);
        assert!(!dangling.exists(), "the dangling link's target not made");
    });
}

/// A node directory swapped for a symbolic link while its node runs:
/// the redeploy stops the old process and refuses to start the new one
/// there; a restart request and a crash's restarts are refused too (the
/// crash ones give the node up with the reason).
#[test]
fn f3b_node_dir_symlink_between_deploys() {
    let w = node("w1");
    case(std::slice::from_ref(&w), || {
        let host = Host::new(
            "link-between",
            r#""restart_delay_ms": 10, "max_start_failures": 2"#,
            "",
        );
        let target = link_target(&host.state_dir);
        host.send(&deploy("r1", "c1", &[worker(&w)]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        let first = host.pid(&w).unwrap();
        let swap = |host: &Host| {
            std::fs::remove_dir_all(host.node_dir(&w)).unwrap();
            std::os::unix::fs::symlink(&target, host.node_dir(&w)).unwrap();
        };

        // A redeploy.
        swap(&host);
        host.send(&deploy("r2", "c2", &[worker(&w)]));
        let response = host.await_response("r2", LONG);
        let expected = format!("failed to create node {w}: {}", symlink_refused(&host, &w));
        assert_eq!(first_result(&response), (expected.clone(), false));
        assert!(!alive(first), "the old process is stopped");
        assert_eq!(host.node_state(&w), "FAILED");
        assert_untouched(&target);

        // A restart request.
        std::fs::remove_file(host.node_dir(&w)).unwrap();
        host.send(&deploy("r3", "c3", &[worker(&w)]));
        assert!(all_succeeded(&host.await_response("r3", LONG)));
        let second = host.pid(&w).unwrap();
        swap(&host);
        host.send(&format!(
            r#"{{"event": "restart_request", "args": {{"reqid": "x1", "nodes": ["{w}"]}}}}"#
        ));
        let restart = host.await_response("x1", LONG);
        assert_eq!(
            first_result(&restart),
            (format!("could not restart node {w}"), false)
        );
        assert!(!alive(second));
        let logs = host.logs.lock().unwrap().clone();
        assert!(
            logs.contains(&format!(
                "cannot restart node {w}: {}",
                symlink_refused(&host, &w)
            )),
            "the reason is logged: {logs:?}"
        );
        assert_untouched(&target);

        // A crash's restarts.
        std::fs::remove_file(host.node_dir(&w)).unwrap();
        host.send(&deploy("r4", "c4", &[worker_with(&w, "crash-after=300")]));
        assert!(all_succeeded(&host.await_response("r4", LONG)));
        swap(&host);
        assert!(host.run_until(LONG, |h| h.node_state(&w) == "FAILED"));
        let last = notify_errors(&host).pop().unwrap();
        assert!(
            last.starts_with(&format!(
                "node {w} failed: it could not be started 2 times in a row ({})",
                symlink_refused(&host, &w)
            )),
            "{last}"
        );
        assert_untouched(&target);
    });
}

/// Files of a node directory replaced: the output file by a FIFO, a
/// directory or a link, the layout file by a link (each refused, naming
/// the file; no hang on the FIFO), the pid file by a link (the node runs,
/// the failure is logged, the target untouched).
#[test]
fn f3c_node_files_replaced() {
    let w = node("w1");
    let cases: [(&str, &str, &str); 5] = [
        ("stdout", "fifo", "not a regular file"),
        ("stdout", "dir", "Is a directory (os error 21)"),
        (
            "stdout",
            "link",
            "Too many levels of symbolic links (os error 40)",
        ),
        (
            "cluster-layout.zeek",
            "link",
            "Too many levels of symbolic links (os error 40)",
        ),
        ("pid", "link", ""),
    ];
    for (file, kind, reason) in cases {
        case(std::slice::from_ref(&w), || {
            let host = Host::new("files", "", "");
            let target = host.state_dir.join("target-file");
            std::fs::write(&target, "untouched").unwrap();
            let dir = host.node_dir(&w);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(file);
            match kind {
                "fifo" => {
                    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
                    // SAFETY: a valid path.
                    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
                }
                "dir" => std::fs::create_dir(&path).unwrap(),
                _ => std::os::unix::fs::symlink(&target, &path).unwrap(),
            }
            // No hang on the FIFO: opening it for writing would block until
            // a reader comes, and none comes unless the agent hangs for
            // HANG; then this watchdog opens it for reading (so the agent
            // goes on and the test can fail instead of hanging).
            let (done, finished) = std::sync::mpsc::channel::<()>();
            let fifo = (kind == "fifo").then(|| path.clone());
            let watchdog = std::thread::spawn(move || match finished.recv_timeout(HANG) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => fifo.map(|fifo| {
                    std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(fifo)
                }),
                _ => None,
            });
            host.send(&deploy("r1", "c1", &[worker(&w)]));
            let response = host.await_response("r1", HANG);
            done.send(()).unwrap();
            let rescued = watchdog.join().unwrap();
            assert!(
                rescued.is_none(),
                "the agent hung on the {kind} until a reader opened it"
            );
            if reason.is_empty() {
                assert!(all_succeeded(&response), "{response}");
                assert!(alive(host.pid(&w).unwrap()));
                let logs: Vec<String> = host
                    .logs
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|l| l.starts_with("cannot"))
                    .cloned()
                    .collect();
                assert_eq!(
                    logs,
                    [format!(
                        "cannot write the pid file of node {w}: Too many levels of symbolic links (os error 40)"
                    )]
                );
            } else {
                let expected = format!(
                    "failed to create node {w}: cannot write {}: {reason}",
                    path.display()
                );
                assert_eq!(first_result(&response), (expected.clone(), false));
                assert_eq!(notify_errors(&host), [expected]);
            }
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        });
    }
}

// ---- 4. a full disk for node output -----------------------------------------

const F4A: &str = "f4a_full_disk_for_node_output";
/// The largest file the child may write (RLIMIT_FSIZE).
const FSIZE: u64 = 64 * 1024;

/// Output files that cannot grow (RLIMIT_FSIZE in a child, SIGXFSZ
/// ignored, so writes fail with EFBIG): the nodes keep running, their
/// output is still kept in memory, the failure is logged once per file,
/// the agent does not spin (counted in read and write calls, not CPU time,
/// so a slow machine cannot fail it; what reading costs is measured in the
/// benchmarks, `benches/`), and the nodes stop cleanly, on SIGTERM.
#[test]
fn f4a_full_disk_for_node_output() {
    if child_case().as_deref() == Some("fsize") {
        report(&fsize_child());
        return;
    }
    let _serial = serial();
    let (outcome, all) = run_child(F4A, "fsize");
    let pid = outcome["pid"].as_u64().unwrap();
    let (a, b) = (format!("flood-{pid}"), format!("crash-{pid}"));
    let b = b.as_str();
    let dir = outcome["state_dir"].as_str().unwrap();
    let warning = |n: &str| {
        format!(
            "cannot write the output of node {n} to {dir}/nodes/{n}/stdout: File too large \
             (os error 27); it is incomplete there until the node restarts (its last lines are \
             still kept)"
        )
    };
    assert_eq!(
        outcome["warnings"],
        json!([warning(b), warning(&a)]),
        "{all}"
    );
    assert_eq!(outcome["sizes"], json!([FSIZE, FSIZE]), "{all}");
    assert_eq!(outcome["alive_after_flood"], true, "{all}");
    // Nothing is retried in a loop: while the floods are read each chunk
    // read is written at most once (a failed write is not retried), give or
    // take the writes that end in the limit and the layout and pid files;
    // and once they are read the agent sleeps: no read, no write, no
    // wakeup to speak of (calls and wakeups counted, not CPU time, which a slow machine
    // inflates; what reading costs is measured in the benchmarks).
    let flood_reads = outcome["flood_reads"].as_u64().unwrap();
    assert!(flood_reads > 0, "{all}");
    assert!(
        outcome["flood_writes"].as_u64().unwrap() <= flood_reads + 16,
        "{all}"
    );
    let idle: Vec<u64> = serde_json::from_value(outcome["idle"].clone()).unwrap();
    assert!(
        idle[0] == 0 && idle[1] == 0 && idle[2] <= 3,
        "reads, writes, wakeups while idle: {idle:?}; {all}"
    );
    // The crash's outputs still carry what the node wrote last (kept in
    // memory: 5 lines, the last of them the flood's).
    assert_eq!(
        outcome["exit_stderr"],
        format!(
            "{b}: warning: this is a stand-in for Zeek, not Zeek\n\
             {b}: fatal error: a stand-in crash after start"
        ),
        "{all}"
    );
    assert_eq!(outcome["exit_stdout_lines"], json!([5, 1023]), "{all}");
    // Its kill was ten minutes away: stopped means it exited on SIGTERM.
    assert_eq!(outcome["stopped"], json!(["STOPPED"]), "{all}");
    assert_eq!(outcome["leaks"], json!([]), "{all}");
    assert!(node_processes(&[a, b.to_owned()]).is_empty());
    assert!(children().is_empty());
}

fn fsize_child() -> Value {
    // SAFETY: sets this child's SIGXFSZ disposition; nothing else here
    // relies on it.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let before = usage();
    let (a, b) = (node("flood"), node("crash"));
    // The grace period (and the request timeout) far beyond the bounded
    // waits: a node that stops within them exited on SIGTERM, no SIGKILL.
    let host = Host::new(
        "fsize",
        r#""stop_grace_ms": 600000, "restart_delay_ms": 60000, "output_max_lines": 5"#,
        r#""mode": "threaded", "request_timeout_ms": 600000"#,
    );
    set_soft_limit(libc::RLIMIT_FSIZE, FSIZE);
    host.send(&deploy(
        "r1",
        "c1",
        &[
            worker_with(&a, "flood=1048576"),
            worker_with(&b, "flood=1048576,crash-after=2000"),
        ],
    ));
    let start = activity();
    assert!(all_succeeded(&host.await_response("r1", HANG)));
    let flooder = host.pid(&a).unwrap();
    // Both floods are read (the crash of b comes after its flood).
    let exits = "Management::Supervisor::API::notify_node_exit";
    assert!(host.run_until(HANG, |h| !h.events_named(exits).is_empty()));
    let flood = activity() - start;
    let alive_after_flood = alive(flooder);
    // The agent is idle now: count what it does over a while.
    let idle_from = activity();
    std::thread::sleep(Duration::from_millis(1500));
    let idle = activity() - idle_from;
    let outputs = host.events_named(exits)[0]["args"]["outputs"].clone();
    let exit_stderr = outputs["stderr"].clone();
    let stdout: Vec<&str> = outputs["stdout"].as_str().unwrap().split('\n').collect();
    let exit_stdout_lines = [stdout.len(), stdout.last().unwrap().len()];
    let size = |n: &str| {
        std::fs::metadata(host.node_dir(n).join("stdout"))
            .unwrap()
            .len()
    };
    let sizes = [size(&a), size(&b)];
    let mut warnings: Vec<String> = host
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("cannot"))
        .cloned()
        .collect();
    warnings.sort();
    host.send(r#"{"event": "agent_standby_request", "args": {"reqid": "s1"}}"#);
    let standby = host.await_response("s1", HANG);
    assert_eq!(standby["args"]["result"]["success"], true);
    let stopped: Vec<String> = host
        .changes()
        .iter()
        .filter(|c| c.0 == a && c.2 == "STOPPED")
        .map(|c| c.2.clone())
        .collect();
    let state_dir = host.state_dir.display().to_string();
    drop(host);
    restore_limit(libc::RLIMIT_FSIZE);
    let names = [a, b];
    json!({
        "pid": std::process::id(), "state_dir": state_dir, "warnings": warnings,
        "sizes": sizes, "alive_after_flood": alive_after_flood,
        "flood_reads": flood.reads, "flood_writes": flood.writes,
        "idle": [idle.reads, idle.writes, idle.wakeups], "exit_stderr": exit_stderr, "exit_stdout_lines": exit_stdout_lines, "stopped": stopped,
        "leaks": leaks(&before, &names),
    })
}

/// What the other threads of this process (the agent's, whichever it reads
/// and writes node output on, and the rest) did so far: their read and
/// write calls (`syscr`, `syscw` of /proc/self/task/*/io; the process's
/// own /proc/self/io would add the calls of its reaped children, here the
/// nodes) and their wakeups (context switches, voluntary or not, from
/// /proc/self/task/*/status). The calling thread, which reads these files,
/// is left out.
#[derive(Clone, Copy, Debug, Default)]
struct Activity {
    reads: u64,
    writes: u64,
    wakeups: u64,
}

fn activity() -> Activity {
    let me = std::fs::read_link("/proc/thread-self").unwrap();
    let me = me.file_name().unwrap().to_owned();
    let mut total = Activity::default();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if task.file_name() == me {
            continue;
        }
        // A thread that just ended has no files any more.
        let (Ok(io), Ok(status)) = (
            std::fs::read_to_string(task.path().join("io")),
            std::fs::read_to_string(task.path().join("status")),
        ) else {
            continue;
        };
        let field = |text: &str, name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in {text}"))
        };
        total.reads += field(&io, "syscr:");
        total.writes += field(&io, "syscw:");
        total.wakeups += field(&status, "voluntary_ctxt_switches:")
            + field(&status, "nonvoluntary_ctxt_switches:");
    }
    total
}

impl std::ops::Sub for Activity {
    type Output = Activity;
    fn sub(self, earlier: Activity) -> Activity {
        Activity {
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
            wakeups: self.wakeups.saturating_sub(earlier.wakeups),
        }
    }
}

// ---- 5. nodes between SIGTERM and SIGKILL ------------------------------------

/// Polls until every node in `nodes` reached STOPPED; returns when each
/// did, in ms after `from`.
fn stop_times(host: &Host, nodes: &[String], from: Instant) -> Vec<u64> {
    let mut times = vec![None; nodes.len()];
    host.run_until(LONG, |h| {
        let changes = h.changes();
        for (i, n) in nodes.iter().enumerate() {
            if times[i].is_none() && changes.iter().any(|c| &c.0 == n && c.2 == "STOPPED") {
                times[i] = Some(from.elapsed().as_millis() as u64);
            }
        }
        times.iter().all(Option::is_some)
    });
    times.into_iter().map(|t| t.expect("stopped")).collect()
}

const GRACE: u64 = 1000;
/// The earliest a SIGKILL can come, on the millisecond clock the host
/// gives the polled agent (truncated: up to a millisecond early against
/// an `Instant` taken just before the request).
const KILL_AT: u64 = GRACE - 2;

/// Stand-in nodes stopped with a 400 ms grace period: one exits on SIGTERM
/// at once, one 150 ms after it (inside the grace period), one would take
/// 3 s (SIGKILL at 400 ms), one ignores SIGTERM (SIGKILL at 400 ms).
#[test]
fn f5a_standin_nodes_between_sigterm_and_sigkill() {
    let nodes: Vec<String> = ["prompt", "slow", "late", "deaf"]
        .iter()
        .map(|n| node(n))
        .collect();
    case(&nodes, || {
        let host = Host::new("term", &format!(r#""stop_grace_ms": {GRACE}"#), "");
        let modes = [
            "",
            "exit-after-term=150",
            "exit-after-term=5000",
            "ignore-sigterm",
        ];
        let config: Vec<Value> = nodes
            .iter()
            .zip(modes)
            .map(|(n, m)| worker_with(n, m))
            .collect();
        host.send(&deploy("r1", "c1", &config));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        let pids: Vec<i32> = nodes.iter().map(|n| host.pid(n).unwrap()).collect();
        // Their signal handling is in place once they printed.
        assert!(host.run_until(LONG, |h| nodes.iter().all(|n| {
            std::fs::read_to_string(h.node_dir(n).join("stdout")).is_ok_and(|s| s.contains("role"))
        })));
        let asked = Instant::now();
        host.send(r#"{"event": "agent_standby_request", "args": {"reqid": "s1"}}"#);
        let times = stop_times(&host, &nodes, asked);
        let standby = host.await_response("s1", LONG);
        assert_eq!(standby["args"]["result"]["success"], true);
        let (prompt, slow, late, deaf) = (times[0], times[1], times[2], times[3]);
        assert!(prompt < GRACE, "{times:?}");
        assert!((150..GRACE).contains(&slow), "{times:?}");
        assert!((KILL_AT..GRACE + 1500).contains(&late), "{times:?}");
        assert!((KILL_AT..GRACE + 1500).contains(&deaf), "{times:?}");
        assert!(pids.iter().all(|p| !alive(*p)));
        for n in &nodes[..3] {
            let out = std::fs::read_to_string(host.node_dir(n).join("stdout")).unwrap();
            assert!(
                out.contains("received SIGTERM, shutting down"),
                "{n}: {out}"
            );
        }
        // Stops, not crashes.
        assert!(host
            .events_named("Management::Supervisor::API::notify_node_exit")
            .is_empty());
        assert!(!host.changes().iter().any(|c| c.2 == "CRASHED"));
    });
}

/// Script nodes (the command line is `<zeek> <args> ... scripts`): one
/// traps SIGTERM away and has a child of its own (both gone after the
/// SIGKILL to its process group), one exits 3 on SIGTERM (a stop, not a
/// crash).
#[test]
fn f5b_script_nodes_between_sigterm_and_sigkill() {
    let dir = scratch("term-script");
    let program = dir.join("zeek");
    script(
        &program,
        "#!/bin/sh\n\
         case \"$CLUSTER_NODE\" in\n\
         deaf-*) trap '' TERM; sleep 30 & echo $! > grandchild; echo ready; wait ;;\n\
         code3-*) trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 1 & wait $!; done ;;\n\
         esac\n",
    );
    let nodes = vec![node("deaf"), node("code3")];
    case(&nodes, || {
        let host = Host::new(
            "term-script",
            &format!(r#"{}, "stop_grace_ms": {GRACE}"#, zeek_option(&program)),
            "",
        );
        let config: Vec<Value> = nodes.iter().map(|n| worker(n)).collect();
        host.send(&deploy("r1", "c1", &config));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        assert!(host.run_until(LONG, |h| nodes.iter().all(|n| {
            std::fs::read_to_string(h.node_dir(n).join("stdout")).is_ok_and(|s| s.contains("ready"))
        })));
        let grandchild: i32 = std::fs::read_to_string(host.node_dir(&nodes[0]).join("grandchild"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(grandchild));
        let pids: Vec<i32> = nodes.iter().map(|n| host.pid(n).unwrap()).collect();
        let asked = Instant::now();
        host.send(r#"{"event": "agent_standby_request", "args": {"reqid": "s1"}}"#);
        let times = stop_times(&host, &nodes, asked);
        assert!((KILL_AT..GRACE + 1500).contains(&times[0]), "{times:?}");
        assert!(times[1] < GRACE, "{times:?}");
        let standby = host.await_response("s1", LONG);
        assert_eq!(standby["args"]["result"]["success"], true);
        assert!(pids.iter().all(|p| !alive(*p)));
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !alive(grandchild)
        });
        assert!(gone, "the node's own child went with its process group");
        let out = std::fs::read_to_string(host.node_dir(&nodes[1]).join("stdout")).unwrap();
        assert!(out.contains("got TERM"), "{out}");
        assert!(!host.changes().iter().any(|c| c.2 == "CRASHED"));
        assert!(host
            .events_named("Management::Supervisor::API::notify_node_exit")
            .is_empty());
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Freeing an agent whose node ignores SIGTERM waits out the grace period,
/// then kills and reaps it: free takes at least the grace period (it cannot
/// kill earlier however fast the machine), the node is gone when it
/// returns, and it returns (the upper bound only catches a hang; how long a
/// free takes is for the benchmarks, `benches/`).
#[test]
fn f5c_free_kills_a_node_ignoring_sigterm() {
    let w = node("deaf");
    case(std::slice::from_ref(&w), || {
        let mut host = Host::new(
            "term-free",
            &format!(r#""stop_grace_ms": {GRACE}"#),
            r#""mode": "threaded""#,
        );
        host.send(&deploy("r1", "c1", &[worker_with(&w, "ignore-sigterm")]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        let pid = host.pid(&w).unwrap();
        assert!(host.run_until(LONG, |h| std::fs::read_to_string(
            h.node_dir(&w).join("stdout")
        )
        .is_ok_and(|s| s.contains("role"))));
        let freeing = Instant::now();
        host.free();
        let took = freeing.elapsed();
        assert!(
            took >= Duration::from_millis(GRACE),
            "killed early: {took:?}"
        );
        assert!(took < HANG, "free hung: {took:?}");
        assert!(!alive(pid));
    });
}

// ---- 6. freeing the agent mid-deploy ----------------------------------------

/// A staged deploy (logger, manager, two workers; each stage waits 400 ms
/// for readiness).
fn staged(prefix: &str) -> (Vec<String>, Vec<Value>) {
    let names: Vec<String> = ["logger", "manager", "worker-1", "worker-2"]
        .iter()
        .map(|n| node(&format!("{prefix}{n}")))
        .collect();
    let config = vec![
        json!({"name": names[0], "role": "LOGGER", "p": free_port()}),
        json!({"name": names[1], "role": "MANAGER", "p": free_port()}),
        worker(&names[2]),
        worker(&names[3]),
    ];
    (names, config)
}

const STAGED: &str = r#""ready_after_ms": 400, "request_timeout_ms": 60000"#;
/// Ten minutes: a deadline no test waits for.
const FAR: u64 = 600_000;

/// Freed from the host's thread while the first stage waits (threaded and
/// polled) and while the second does (polled): every node started is
/// stopped, none of the later stages starts.
#[test]
fn f6a_free_while_a_stage_waits() {
    for (mode, stages_started) in [("threaded", 1), ("polled", 1), ("polled", 2)] {
        let (names, config) = staged("s");
        case(&names, || {
            let mut host = Host::new(
                "free-stage",
                r#""stop_grace_ms": 2000"#,
                &format!(r#""mode": "{mode}", {STAGED}"#),
            );
            host.send(&deploy("r1", "c1", &config));
            let started = &names[..stages_started];
            assert!(host.run_until(LONG, |h| started.iter().all(|n| h.pid(n).is_some())));
            let pids: Vec<i32> = started.iter().map(|n| host.pid(n).unwrap()).collect();
            assert!(host.pid(&names[stages_started]).is_none());
            assert!(host.response("r1").is_none(), "still deploying");
            host.free();
            assert!(pids.iter().all(|p| !alive(*p)), "{mode}: {pids:?}");
        });
    }
}

/// What a callback that frees its agent needs.
struct FreeFrom {
    agent: AtomicPtr<zma_agent>,
    /// Free once a notify_change to this state arrives for this node.
    node: String,
    state: String,
    freed: AtomicBool,
    /// The pids of the agent's nodes when it was freed.
    pids: Mutex<Vec<i32>>,
}

unsafe extern "C" fn free_on_change(
    user_data: *mut c_void,
    _topic: *const c_char,
    json: *const c_char,
) {
    // SAFETY: the FreeFrom the test keeps alive past the agent, and a
    // string valid during the call.
    let (this, json) = unsafe { (&*user_data.cast::<FreeFrom>(), CStr::from_ptr(json)) };
    let event: Value = serde_json::from_str(&json.to_string_lossy()).unwrap();
    let args = &event["args"];
    if event["event"] == "Management::Agent::API::notify_change"
        && args["n"]["name"] == this.node.as_str()
        && args["new"]
            .as_str()
            .is_some_and(|s| s.ends_with(&this.state))
    {
        let agent = this.agent.swap(std::ptr::null_mut(), Ordering::SeqCst);
        if !agent.is_null() {
            let mut state: *mut c_char = std::ptr::null_mut();
            // SAFETY: the live agent (callbacks may call into it) and an
            // out pointer; the string is ours to free.
            let state = unsafe {
                assert_eq!(zma_agent_state_json(agent, &mut state), ZMA_OK);
                let text = CStr::from_ptr(state).to_string_lossy().into_owned();
                zma_string_free(state);
                text
            };
            let state: Value = serde_json::from_str(&state).unwrap();
            *this.pids.lock().unwrap() = state["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|n| n["pid"].as_i64())
                .map(|p| p as i32)
                .collect();
            // SAFETY: the live agent, freed once, from its own callback.
            unsafe { zma_agent_free(agent) };
            this.freed.store(true, Ordering::SeqCst);
        }
    }
}

/// Every deadline that could wake the agent's thread once the nodes are
/// stopped (the request's timeout, a stage's wait, a supervisor command's
/// timeout, a restart) is [`FAR`] away, far beyond [`HANG`].
fn ffi_agent(state_dir: &Path, mode: &str) -> *mut zma_agent {
    let options = json!({
        "name": "instance-1", "dialect": "zeek7", "encoding": "plain", "mode": mode,
        "state_dir": state_dir.display().to_string(), "node_ready": "spawn",
        "ready_after_ms": 400, "request_timeout_ms": FAR, "stage_wait_ms": FAR,
        "supervisor_timeout_ms": FAR,
        "supervisor": {"kind": "process", "zeek": STANDIN, "stop_grace_ms": 2000,
                       "restart_delay_ms": FAR, "restart_delay_max_ms": FAR},
    })
    .to_string();
    let options = CString::new(options).unwrap();
    // SAFETY: a valid C string; no error out pointer.
    let agent = unsafe { zma_agent_new(options.as_ptr(), std::ptr::null_mut()) };
    assert!(!agent.is_null());
    agent
}

/// Pids of live processes of `nodes` (argv[0] `<node dir>/zeek.<node>`).
fn node_pids(nodes: &[String]) -> Vec<i32> {
    node_processes(nodes)
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// Deploys `config` through the C ABI with a notification callback that
/// frees the agent when `names[trigger]` changes to `state`; drives the
/// agent (polled mode) until then. Returns the pids of the nodes running
/// when it was freed (and any seen before), once the agent's thread is
/// gone.
fn free_from_callback(
    mode: &str,
    names: &[String],
    config: &[Value],
    trigger: usize,
    state: &str,
) -> Vec<i32> {
    let dir = scratch("free-callback");
    let agent = ffi_agent(&dir, mode);
    let free_from = Box::new(FreeFrom {
        agent: AtomicPtr::new(agent),
        node: names[trigger].clone(),
        state: state.to_owned(),
        freed: AtomicBool::new(false),
        pids: Mutex::new(Vec::new()),
    });
    let user_data = std::ptr::from_ref::<FreeFrom>(&free_from).cast_mut().cast();
    // SAFETY: a live agent and a callback whose user data outlives it.
    let status =
        unsafe { zma_agent_set_notification_callback(agent, Some(free_on_change), user_data) };
    assert_eq!(status, ZMA_OK);
    let request = CString::new(deploy("r1", "c1", config)).unwrap();
    // SAFETY: a live agent (the callback may free it during the call,
    // which the library allows).
    let status = unsafe { zma_agent_handle_request(agent, request.as_ptr()) };
    assert_eq!(status, ZMA_OK);
    let mut seen = Vec::new();
    let start = Instant::now();
    loop {
        for pid in node_pids(names) {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        if free_from.freed.load(Ordering::SeqCst) || start.elapsed() > LONG {
            break;
        }
        if mode == "polled" {
            let now = start.elapsed().as_millis() as u64;
            // SAFETY: not freed yet; the callback may free it inside.
            assert_eq!(unsafe { zma_agent_poll(agent, now) }, ZMA_OK);
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(free_from.freed.load(Ordering::SeqCst), "freed");
    let freed = Instant::now();
    // Freed from its own thread, the agent's thread ends when the callback
    // returns: it must not sleep on until some deadline (or for ever). The
    // nearest deadline it could sleep to is FAR away, so a thread still
    // there after HANG sleeps on: a causal bound, not a speed one.
    while thread_named("zeek-mgmt-agent").is_some() && freed.elapsed() < HANG {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        thread_named("zeek-mgmt-agent").is_none(),
        "the agent's thread outlived its agent by {:?}: it sleeps on",
        freed.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
    for pid in free_from.pids.lock().unwrap().iter() {
        if !seen.contains(pid) {
            seen.push(*pid);
        }
    }
    seen
}

/// A callback frees its agent mid-deploy: threaded (on the agent's thread,
/// when the logger is RUNNING and the manager was just started) and polled
/// (inside `zma_agent_handle_request`, when the logger was just started,
/// and inside `zma_agent_poll`, when the logger is RUNNING). The call
/// returns, every node started is stopped, the agent's thread ends.
#[test]
fn f6b_free_from_a_callback_mid_deploy() {
    for (mode, state, started) in [
        ("threaded", "RUNNING", 2),
        ("polled", "PENDING", 1),
        ("polled", "RUNNING", 2),
    ] {
        let (names, config) = staged("c");
        case(&names, || {
            let seen = free_from_callback(mode, &names, &config, 0, state);
            // At least the nodes started by then; a slow run (a sanitizer
            // build) may start the next stage before the free lands.
            assert!(
                (started..=names.len()).contains(&seen.len()),
                "{mode} {state}: {seen:?}"
            );
            assert!(seen.iter().all(|p| !alive(*p)), "{mode}: {seen:?}");
        });
    }
}

/// A callback on the agent's thread frees the agent when a node crashed,
/// after the deploy is done (no request pending, so no deadline of the
/// engine would wake the thread): the other node is stopped and the
/// thread ends.
#[test]
fn f6d_free_from_a_callback_on_a_crash() {
    let names = vec![node("crashing"), node("steady")];
    let config = vec![
        worker_with(&names[0], "crash-after=1000"),
        worker(&names[1]),
    ];
    case(&names, || {
        let seen = free_from_callback("threaded", &names, &config, 0, "CRASHED");
        // Two nodes, plus any restart a slow run (a sanitizer build) let in
        // before the free: every one of them must be gone.
        assert!(seen.len() >= 2, "{seen:?}");
        assert!(seen.iter().all(|p| !alive(*p)), "{seen:?}");
    });
}

/// The Rust API lets other threads hold the runtime: an agent dropped
/// while a deploy is on its way into the engine (past the check that the
/// agent is open, waiting for the engine lock, which a third thread keeps
/// busy) must stop every node started, and start none after its stop.
/// The window is small: each round tries it once, at a different moment.
#[test]
fn f6c_drop_racing_a_deploy() {
    let names: Vec<String> = (0..3).map(|i| node(&format!("race{i}"))).collect();
    let rounds: u64 = std::env::var("ZMA_FAULT_ROUNDS").map_or(200, |r| r.parse().unwrap());
    case(&names, || {
        for round in 0..rounds {
            let mut host = Host::new("race", r#""stop_grace_ms": 2000"#, "");
            let runtime = Arc::clone(host.runtime());
            let agent = host.agent.take().unwrap();
            let busy = Arc::new(AtomicBool::new(true));
            let contender = {
                let runtime = Arc::clone(&runtime);
                let busy = Arc::clone(&busy);
                std::thread::spawn(move || {
                    while busy.load(Ordering::SeqCst) {
                        let _ = runtime.state_json();
                    }
                })
            };
            let request = deploy(
                "r1",
                "c1",
                &names.iter().map(|n| worker(n)).collect::<Vec<_>>(),
            );
            let deployer = {
                let runtime = Arc::clone(&runtime);
                std::thread::spawn(move || runtime.handle_request(request.as_bytes()).is_ok())
            };
            std::thread::sleep(Duration::from_micros(round % 40 * 10));
            drop(agent);
            let accepted = deployer.join().unwrap();
            busy.store(false, Ordering::SeqCst);
            contender.join().unwrap();
            let survivors = node_processes(&names);
            assert!(
                survivors.is_empty(),
                "round {round} (deploy accepted: {accepted}): {survivors:?} outlived the agent"
            );
            drop(runtime);
            drop(host);
            let zombies = children();
            assert!(zombies.is_empty(), "round {round}: {zombies:?}");
        }
    });
}

//! Safety properties of the process supervisor that a review found broken:
//!
//! - no node outlives the host, even one whose program gains file
//!   capabilities (the kernel clears the parent-death signal at such an
//!   exec);
//! - one agent per state directory: a second one is refused and leaves the
//!   first one's nodes alone; a dead agent's lock does not block;
//! - nodes inherit no descriptor of the host;
//! - a node's exit status reaches the agent even when the host reaps every
//!   child or ignores SIGCHLD.
//!
//! Cases that change process-wide state (credentials, SIGCHLD, a reaper
//! thread) or must be killed run in a child process: this binary again, for
//! that one test, with `ZMA_FAULT_CHILD` set (see `faults_support`).

mod faults_support;
mod process_support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
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

/// Waits (bounded) until `pid` is gone or a zombie; returns whether it is.
fn gone_within(pid: i32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The effective capabilities of a process (`CapEff` in its status).
fn effective_capabilities(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

// ---- no node outlives the host ------------------------------------------------

const CAPS: &str = "capability_bearing_nodes_die_with_a_killed_host";

/// A copy of the stand-in node with a file capability, run by a host that
/// is an unprivileged user: the exec gains a capability, so the kernel
/// clears the node's parent-death signal. The host is killed with SIGKILL;
/// the node must die too (the watchdog kills it).
#[test]
fn capability_bearing_nodes_die_with_a_killed_host() {
    if child_case().as_deref() == Some("caps") {
        caps_host();
        return;
    }
    if !is_root() {
        println!("skipped: needs root (to set a file capability and run the host as nobody)");
        return;
    }
    let dir = scratch("caps");
    let program = dir.join("zeek-with-caps");
    std::fs::copy(STANDIN, &program).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let setcap = ["/usr/sbin/setcap", "/sbin/setcap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("setcap");
    let setcap = Command::new(setcap)
        .args(["cap_net_bind_service+ep", &program.display().to_string()])
        .status();
    assert!(
        setcap.as_ref().is_ok_and(|s| s.success()),
        "setcap failed ({setcap:?}): install libcap2-bin"
    );
    let _serial = serial();
    let mut host = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CAPS, "--nocapture", "--test-threads=1"])
        .env(CHILD, "caps")
        .env("ZMA_CAPS_PROGRAM", &program)
        .env("ZMA_CAPS_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut node = None;
    for line in BufReader::new(host.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // (after the harness's "test <name> ... " on the same line)
        if let Some((_, pid)) = line.split_once("NODE ") {
            node = pid.trim().parse::<i32>().ok();
            break;
        }
    }
    let node = node.expect("the host reports its node");
    assert!(alive(node));
    assert_ne!(
        effective_capabilities(node),
        0,
        "the node gained a capability at exec"
    );
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();
    let died = gone_within(node, LONG);
    if !died {
        // SAFETY: kill has no memory preconditions; clean up the survivor.
        unsafe { libc::kill(node, libc::SIGKILL) };
    }
    assert!(died, "node {node} outlived its host (SIGKILL)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The host of the case above: as nobody, deploys one node running the
/// capability-bearing program, reports its pid and waits to be killed.
fn caps_host() {
    let program = std::env::var("ZMA_CAPS_PROGRAM").unwrap();
    let dir = std::path::PathBuf::from(std::env::var("ZMA_CAPS_DIR").unwrap());
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    give_to_nobody(&state);
    drop_root();
    let host = Host::in_dir(state, &format!(r#""zeek": "{program}""#), "");
    let w = node("w1");
    host.send(&deploy("r1", "c1", &[worker(&w)]));
    assert!(all_succeeded(&host.await_response("r1", LONG)));
    println!("NODE {}", host.pid(&w).unwrap());
    std::thread::sleep(Duration::from_secs(600));
}

const SURVIVE: &str = "nodes_survive_a_killed_host_only_with_stop_nodes_on_free_false";

/// A host killed with SIGKILL while its agent runs two nodes: with
/// `stop_nodes_on_free: false` the nodes survive it (no parent-death
/// signal, and no watchdog kills them; a later agent is to take them
/// over); with true they die with it. The test kills the survivors itself
/// and reaps every node (it is their subreaper), leaving nothing behind.
#[test]
fn nodes_survive_a_killed_host_only_with_stop_nodes_on_free_false() {
    if child_case().as_deref() == Some("survive") {
        let dir = std::path::PathBuf::from(std::env::var("ZMA_SURVIVE_DIR").unwrap());
        let stop = std::env::var("ZMA_STOP_NODES_ON_FREE").unwrap();
        let host = Host::in_dir(dir, "", &format!(r#""stop_nodes_on_free": {stop}"#));
        let nodes = [node("s1"), node("s2")];
        host.send(&deploy("r1", "c1", &[worker(&nodes[0]), worker(&nodes[1])]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        // The stand-in prints only at start: once that is done, nothing it
        // does afterwards depends on the host (its output pipes close with
        // the host; a write to them then would kill it with SIGPIPE).
        let printed = |h: &Host| {
            nodes.iter().all(|n| {
                std::fs::read_to_string(h.node_dir(n).join("stdout"))
                    .is_ok_and(|o| o.contains("started with signal mask"))
            })
        };
        assert!(host.run_until(LONG, printed));
        for n in &nodes {
            println!("NODE {}", host.pid(n).unwrap());
        }
        println!("READY");
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let _serial = serial();
    // Nodes orphaned by the killed host become children of this process
    // (not of PID 1, which may not reap), so that they can be reaped here.
    // SAFETY: prctl with integer arguments only.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0);
    let reap = |pid: i32| {
        // SAFETY: waitpid on one pid, status not wanted.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    };
    for stop_nodes_on_free in [false, true] {
        let dir = scratch(&format!("survive-{stop_nodes_on_free}")).join("state");
        let mut host = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", SURVIVE, "--nocapture", "--test-threads=1"])
            .env(CHILD, "survive")
            .env("ZMA_SURVIVE_DIR", &dir)
            .env("ZMA_STOP_NODES_ON_FREE", stop_nodes_on_free.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut nodes = Vec::new();
        for line in BufReader::new(host.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some((_, pid)) = line.split_once("NODE ") {
                nodes.push(pid.trim().parse::<i32>().unwrap());
            }
            if line.contains("READY") {
                break;
            }
        }
        assert_eq!(nodes.len(), 2, "the host reports its nodes");
        assert!(nodes.iter().all(|&pid| alive(pid)));
        host.kill().unwrap(); // SIGKILL
        host.wait().unwrap();
        if stop_nodes_on_free {
            for &pid in &nodes {
                let died = gone_within(pid, LONG);
                if !died {
                    // SAFETY: kill has no memory preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                reap(pid);
                assert!(
                    died,
                    "node {pid} outlived its host (stop_nodes_on_free true)"
                );
            }
        } else {
            // Give a parent-death signal or a watchdog ample time to act.
            std::thread::sleep(Duration::from_millis(1500));
            let survivors: Vec<bool> = nodes.iter().map(|&pid| alive(pid)).collect();
            for &pid in &nodes {
                // SAFETY: kill has no memory preconditions; our node.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                reap(pid);
            }
            assert_eq!(
                survivors,
                [true, true],
                "nodes {nodes:?} did not survive their host (stop_nodes_on_free false)"
            );
        }
        for &pid in &nodes {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "node {pid} left behind"
            );
        }
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}

// ---- one agent per state directory ---------------------------------------------

#[test]
fn a_second_agent_on_a_state_directory_is_refused_and_leaves_the_first_ones_nodes_alone() {
    let w = node("w1");
    case(std::slice::from_ref(&w), || {
        let first = Host::new("second-agent", "", "");
        first.send(&deploy("r1", "c1", &[worker(&w)]));
        assert!(all_succeeded(&first.await_response("r1", LONG)));
        let pid = first.pid(&w).unwrap();

        let refused = Host::try_in_dir(first.state_dir.clone(), "", "").err();
        let expected = format!(
            "cannot create the agent's process supervisor: state directory {} is in use by \
             another agent (pid {}); give each agent a state_dir of its own",
            first.state_dir.display(),
            std::process::id()
        );
        assert_eq!(refused, Some(expected));
        assert!(
            alive(pid),
            "the refused agent left the first one's node alone"
        );
        assert_eq!(first.node_state(&w), "RUNNING");

        // Once the first agent is gone, the directory is free again.
        let dir = first.state_dir.clone();
        let mut first = first;
        first.free();
        assert!(!alive(pid));
        let second = Host::try_in_dir(dir, "", "");
        assert!(second.is_ok(), "{:?}", second.err());
    });
}

const DEAD_LOCK: &str = "the_lock_of_a_killed_agent_does_not_block_a_new_one";

/// An agent killed with SIGKILL while it holds its state directory (and
/// runs a node): a new agent on that directory is not refused, and stops
/// the node the dead one left (if it still runs).
#[test]
fn the_lock_of_a_killed_agent_does_not_block_a_new_one() {
    if child_case().as_deref() == Some("holder") {
        let dir = std::path::PathBuf::from(std::env::var("ZMA_LOCK_DIR").unwrap());
        let host = Host::in_dir(dir, r#""stop_grace_ms": 500"#, "");
        let w = node("w1");
        host.send(&deploy("r1", "c1", &[worker(&w)]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        println!("READY");
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let _serial = serial();
    let dir = scratch("dead-lock").join("state");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", DEAD_LOCK, "--nocapture", "--test-threads=1"])
        .env(CHILD, "holder")
        .env("ZMA_LOCK_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = BufReader::new(holder.stdout.take().unwrap())
        .lines()
        .any(|l| l.is_ok_and(|l| l.contains("READY")));
    assert!(ready);
    assert!(
        Host::try_in_dir(dir.clone(), "", "").is_err(),
        "held while it lives"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let host = Host::try_in_dir(dir.clone(), "", "");
    assert!(host.is_ok(), "{:?}", host.err());
}

// ---- descriptors -----------------------------------------------------------------

/// The host holds descriptors without close-on-exec (a file and a pipe, as
/// a careless host or a build tool leaves them): no node may get them.
#[test]
fn nodes_inherit_no_descriptor_of_the_host() {
    let w = node("w1");
    case(std::slice::from_ref(&w), || {
        // SAFETY: plain descriptor calls on our own new descriptors.
        let (null, pipe) = unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            let mut pipe = [0; 2];
            assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
            (null, pipe)
        };
        assert!(null > 2);
        let target = |fd: i32| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .display()
                .to_string()
        };
        let leaked: Vec<String> = [null, pipe[0], pipe[1]]
            .iter()
            .map(|fd| target(*fd))
            .collect();

        let host = Host::new("no-inherit", "", "");
        host.send(&deploy("r1", "c1", &[worker(&w)]));
        assert!(all_succeeded(&host.await_response("r1", LONG)));
        let pid = host.pid(&w).unwrap();
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
        {
            let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap();
            let to = std::fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            if fd > 2 {
                seen.push(format!("{fd} -> {to}"));
            }
        }
        let inherited: Vec<&String> = seen
            .iter()
            .filter(|s| leaked.iter().any(|l| s.ends_with(&format!("-> {l}"))))
            .collect();
        assert!(
            inherited.is_empty(),
            "the node holds the host's {inherited:?} (all above 2: {seen:?})"
        );
        drop(host);
        // SAFETY: our own descriptors, closed once.
        unsafe {
            libc::close(null);
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
    });
}

// ---- exit statuses ---------------------------------------------------------------

const REAPING: &str = "exit_statuses_survive_a_host_that_reaps_every_child";

/// A node that dies before it is ready (the stand-in exits 3) is `FAILED`
/// with its exit status, even when the host ignores SIGCHLD (the kernel
/// then reaps SIGCHLD children itself) or runs a thread that reaps every
/// child with `waitpid(-1)`. Either used to make every exit look like
/// status 0.
#[test]
fn exit_statuses_survive_a_host_that_reaps_every_child() {
    if child_case().as_deref() == Some("reaping") {
        report(&reaping_child());
        return;
    }
    let _serial = serial();
    let (outcome, all) = run_child(REAPING, "reaping");
    let pid = outcome["pid"].as_u64().unwrap();
    for case in ["baseline", "sigchld_ignored", "reaper_thread"] {
        let w = format!("{case}-{pid}");
        let said = outcome[case].as_str().unwrap_or_default();
        let exact = format!(
            "node {w} failed: it exited 1 times in a row before becoming ready (last: exit status 3); \
             last stderr lines:"
        );
        if case == "baseline" || kernel_keeps_exit_status() {
            assert_eq!(said, exact, "{case}: {all}");
        } else {
            // Reaped by the host and no pidfd exit information: the
            // agent must say it does not know, never invent status 0.
            assert!(
                said == exact || said.contains("an exit status the agent could not read"),
                "{case}: {all}"
            );
        }
    }
}

/// Whether this kernel keeps a reaped process's exit status for pidfd
/// holders (`PIDFD_INFO_EXIT`, Linux 6.15).
fn kernel_keeps_exit_status() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (6, 15)
}

fn reaping_child() -> Value {
    let failed_with = |name: &str| {
        let w = name.to_owned();
        let host = Host::new(
            name,
            r#""max_start_failures": 1"#,
            r#""node_ready": "hello""#,
        );
        let node = json!({"name": w, "role": "WORKER", "env": {"ZMA_STANDIN": "crash-after=0"}});
        host.send(&deploy("r1", "c1", &[node]));
        host.run_until(LONG, |h| {
            !h.events_named("Management::Agent::API::notify_error")
                .is_empty()
        });
        host.events_named("Management::Agent::API::notify_error")
            .first()
            .map(|e| {
                let msg = e["args"]["msg"].as_str().unwrap_or_default();
                // The reason, without the output lines that follow it.
                msg.lines().next().unwrap_or_default().to_owned()
            })
            .unwrap_or_default()
    };
    let pid = std::process::id();
    let baseline = failed_with(&format!("baseline-{pid}"));
    // SAFETY: this child process changes its own SIGCHLD disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let sigchld_ignored = failed_with(&format!("sigchld_ignored-{pid}"));
    // SAFETY: back to the default.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reaper = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut status = 0;
                // SAFETY: waitpid writes into the integer given.
                unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let reaper_thread = failed_with(&format!("reaper_thread-{pid}"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reaper.join().unwrap();
    json!({"pid": pid, "baseline": baseline, "sigchld_ignored": sigchld_ignored, "reaper_thread": reaper_thread})
}

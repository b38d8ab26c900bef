//! Node processes an earlier agent left running on the same state
//! directory (it was killed, or freed with `stop_nodes_on_free: false`).
//!
//! Each node directory records `<pid> <start time>` in its `pid` file. A
//! process counts as a leftover only if it is alive, started at that very
//! time (so a reused pid is never touched), and is named `zeek.<node>`.
//! A pidfd is opened before those checks and every signal goes through it,
//! so the process checked is the process signalled, even if it exits and
//! its pid is reused in between.
//! Leftovers are stopped, unless the agent adopts them (`adopt_nodes`, see
//! `ProcessSupervisor::new`): then they are checked the same way, and
//! their pidfds are handed over.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use super::node_dir::argv0_names_node;
use super::pid_file::PID_FILE;
use crate::sys::poller::Poller;
use crate::sys::proc::{pidfd_open, pidfd_send_signal, process_start_time, signal_group};

pub(crate) struct Found {
    pub(crate) node: String,
    pub(crate) pid: i32,
    /// Opened before the checks: the process they passed.
    pidfd: OwnedFd,
}

impl Found {
    /// The node's name, its pid and its pidfd.
    pub(crate) fn into_parts(self) -> (String, i32, OwnedFd) {
        (self.node, self.pid, self.pidfd)
    }
    /// Signals the process through its pidfd and, while that proves its
    /// pid is still its own, its process group.
    fn signal(&self, signal: libc::c_int) {
        if pidfd_send_signal(self.pidfd.as_raw_fd(), signal) {
            signal_group(self.pid, signal);
        }
    }
}

/// Live leftover node processes under `<state_dir>/nodes`.
pub(crate) fn find(state_dir: &str) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(Path::new(state_dir).join("nodes")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Ok(node) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join(PID_FILE)) else {
            continue;
        };
        let mut fields = text.split_whitespace();
        let (Some(Ok(pid)), Some(Ok(start))) = (
            fields.next().map(str::parse::<i32>),
            fields.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        if pid <= 1 {
            continue;
        }
        let Ok(pidfd) = pidfd_open(pid) else {
            continue; // gone
        };
        if process_start_time(pid) == Some(start)
            && argv0(pid).is_some_and(|argv0| argv0_names_node(&argv0, &node))
        {
            found.push(Found { node, pid, pidfd });
        }
    }
    found
}

/// Stops leftovers: SIGTERM to all at once, SIGKILL to those still there
/// after `grace`, and waits (a little longer) until they are gone.
pub(crate) fn stop(found: &[Found], grace: Duration, poller: &Poller) {
    // Tokens far from the supervisor's own, which start at 1.
    let watched: Vec<_> = found
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let token = u64::MAX - i as u64;
            poller.add(f.pidfd.as_raw_fd(), token).ok()?;
            f.signal(libc::SIGTERM);
            Some((token, f))
        })
        .collect();
    let mut alive = watched.clone();
    let started = Instant::now();
    let mut killed = false;
    while !alive.is_empty() && started.elapsed() < grace + Duration::from_secs(5) {
        if !killed && started.elapsed() >= grace {
            for (_, found) in &alive {
                found.signal(libc::SIGKILL);
            }
            killed = true;
        }
        let ready = poller.wait(Some(Duration::from_millis(50)));
        alive.retain(|(token, _)| !ready.contains(token));
    }
    for (_, found) in &watched {
        poller.remove(found.pidfd.as_raw_fd());
    }
}

/// The process name (argv[0]) of a live process. A process whose exec has
/// not finished yet (it was started a moment ago) shows an empty command
/// line; that is waited out, briefly.
fn argv0(pid: i32) -> Option<String> {
    let deadline = Instant::now() + EXEC_WAIT;
    loop {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if !cmdline.is_empty() {
            let first = cmdline.split(|b| *b == 0).next()?;
            return String::from_utf8(first.to_vec()).ok();
        }
        if Instant::now() >= deadline {
            return None; // a kernel thread, a zombie, or stuck: not a node
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long [`argv0`] waits for an exec in progress.
const EXEC_WAIT: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// A `sleep` named `<node dir>/zeek.<node>` in a process group of its
    /// own, as a node of an earlier agent would be.
    fn fake_node(node_dir: &Path, node: &str) -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .arg0(node_dir.join(format!("zeek.{node}")))
            .process_group(0)
            .spawn()
            .unwrap()
    }

    /// Starts a process that gets `pid` (through `ns_last_pid`), if this
    /// machine lets us; other tests may take the pid first, so this tries
    /// a few times.
    fn process_with_pid(pid: u32) -> Option<std::process::Child> {
        for _ in 0..20 {
            std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
            let child = std::process::Command::new("sleep")
                .arg("30")
                .process_group(0)
                .spawn()
                .ok()?;
            if child.id() == pid {
                return Some(child);
            }
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    /// A leftover exits between the check and the stop, and its pid goes to
    /// an unrelated process that leads a group of the same number: the stop
    /// must not touch it (signals go through the pidfd of the check).
    #[test]
    fn a_leftover_whose_pid_was_reused_after_the_check_is_not_signalled() {
        let dir = std::env::temp_dir().join(format!("zma-leftovers-reuse-{}", std::process::id()));
        let node_dir = dir.join("nodes/w1");
        std::fs::create_dir_all(&node_dir).unwrap();
        let mut leftover = fake_node(&node_dir, "w1");
        let pid = leftover.id();
        // The name is in place once the exec is done: wait for it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !argv0(pid as i32).is_some_and(|a| argv0_names_node(&a, "w1"))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let start = process_start_time(pid as i32).unwrap();
        std::fs::write(node_dir.join(PID_FILE), format!("{pid} {start}\n")).unwrap();
        let found = find(dir.to_str().unwrap());
        assert_eq!(found.len(), 1);
        leftover.kill().unwrap();
        leftover.wait().unwrap();
        let Some(mut stranger) = process_with_pid(pid) else {
            println!("skipped: cannot make a process with pid {pid} here (ns_last_pid)");
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        };
        let poller = Poller::new().unwrap();
        stop(&found, Duration::from_millis(50), &poller);
        std::thread::sleep(Duration::from_millis(100));
        let untouched = stranger.try_wait().unwrap().is_none();
        let _ = stranger.kill();
        let _ = stranger.wait();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            untouched,
            "the stop signalled pid {pid}, now an unrelated process"
        );
    }

    #[test]
    fn a_stale_pid_file_finds_nothing() {
        let dir = std::env::temp_dir().join(format!("zma-leftovers-{}", std::process::id()));
        let node = dir.join("nodes/w1");
        std::fs::create_dir_all(&node).unwrap();
        // Our own pid with a wrong start time, and a wrong name: never a leftover.
        std::fs::write(node.join(PID_FILE), format!("{} 1\n", std::process::id())).unwrap();
        assert!(find(dir.to_str().unwrap()).is_empty());
        let start = process_start_time(std::process::id() as i32).unwrap();
        std::fs::write(
            node.join(PID_FILE),
            format!("{} {start}\n", std::process::id()),
        )
        .unwrap();
        assert!(
            find(dir.to_str().unwrap()).is_empty(),
            "alive, but not named zeek.w1"
        );
        std::fs::write(node.join(PID_FILE), "garbage").unwrap();
        assert!(find(dir.to_str().unwrap()).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

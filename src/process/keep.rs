//! Nodes left running when an agent is freed with `stop_nodes_on_free:
//! false`.
//!
//! With that setting nodes survive the agent and the host process alike
//! (for a later agent to take over): they get no parent-death signal and
//! are not registered with a watchdog (the supervisor starts none; see
//! `watchdog`), so neither the end of the thread that started them nor the
//! host's exit, however it ends, signals them.
//!
//! What would still end them at free is their stdout and stderr pipes
//! losing their reader: their next write would kill them with SIGPIPE. So
//! the spawner thread, which started them, stays with them while the host
//! lives: it keeps copying their output into their `stdout` and `stderr`
//! files and reaps each one when it exits, and ends when the last one is
//! gone. When the host process exits, that copying ends with it: a node
//! that writes to its stdout or stderr afterwards meets a closed pipe
//! (SIGPIPE, or EPIPE if it ignores that signal) until a later agent gives
//! it somewhere to write; one that stays quiet runs on.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;

use super::launch::NodeProcess;
use crate::sys::poller::Poller;

/// A node the agent leaves running: its process and its output.
pub(crate) struct Kept {
    pub(crate) process: NodeProcess,
    /// (pipe read end, the file its output goes to).
    pub(crate) outputs: Vec<(File, File)>,
}

/// What the keeper watches, by token.
enum Watched {
    Exit(NodeProcess),
    Output { pipe: File, file: File },
}

/// Looks after `kept` until every one has exited and closed its output
/// (on the spawner thread; returns then).
pub(crate) fn keep(kept: Vec<Kept>) -> io::Result<()> {
    let poller = Poller::new()?;
    let mut watched: Vec<Option<Watched>> = Vec::new();
    for node in kept {
        watched.push(Some(Watched::Exit(node.process)));
        for (pipe, file) in node.outputs {
            watched.push(Some(Watched::Output { pipe, file }));
        }
    }
    for (index, entry) in watched.iter().enumerate() {
        let fd = match entry {
            Some(Watched::Exit(process)) => process.pidfd.as_raw_fd(),
            Some(Watched::Output { pipe, .. }) => pipe.as_raw_fd(),
            None => continue,
        };
        // Tokens above the poller's own (0).
        poller.add(fd, index as u64 + 1)?;
    }
    let mut buf = vec![0u8; 1 << 16];
    while watched.iter().any(Option::is_some) {
        for token in poller.wait(None) {
            let Some(index) = usize::try_from(token).ok().and_then(|t| t.checked_sub(1)) else {
                continue;
            };
            let done = match watched.get_mut(index) {
                // Reaped (or not ours to reap): done.
                Some(Some(Watched::Exit(process))) => !matches!(process.try_wait(), Ok(None)),
                Some(Some(Watched::Output { pipe, file })) => copy(pipe, file, &mut buf),
                _ => false,
            };
            if done {
                if let Some(Some(entry)) = watched.get_mut(index).map(Option::take) {
                    let fd = match &entry {
                        Watched::Exit(process) => process.pidfd.as_raw_fd(),
                        Watched::Output { pipe, .. } => pipe.as_raw_fd(),
                    };
                    poller.remove(fd);
                }
            }
        }
    }
    Ok(())
}

/// Copies what a pipe has into its file; true once the pipe is closed.
fn copy(pipe: &mut File, file: &mut File, buf: &mut [u8]) -> bool {
    loop {
        match pipe.read(buf) {
            Ok(0) => return true,
            // Best effort, as while the agent ran: a full disk must not
            // stop the node.
            Ok(n) => {
                let _ = file.write_all(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

//! The pid file of a node directory: which process the node is, so that
//! an agent started after a crash of the host can find and stop it (see
//! `leftovers`).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

use super::node_dir::{open_in, Existing};
use crate::sys::proc::process_start_time;

pub(crate) const PID_FILE: &str = "pid";

/// Records the node's pid (and its start time, to tell a reused pid
/// apart) in the node directory. The record has a fixed width, so that it
/// is overwritten in place rather than truncated.
pub(crate) fn write_pid_file(dir: &OwnedFd, pid: i32) -> io::Result<()> {
    let start = process_start_time(pid).unwrap_or(0);
    let record = format!("{pid:<10} {start:<20}\n");
    let file = open_in(dir.as_raw_fd(), PID_FILE, Existing::Keep)?;
    file.write_all_at(record.as_bytes(), 0)?;
    file.set_len(record.len() as u64)
}

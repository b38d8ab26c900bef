//! One agent per state directory.
//!
//! Two agents on one state directory would each take the other's nodes for
//! leftovers of a dead agent and stop them, and write the same node
//! directories. So a process supervisor holds an exclusive `flock` on
//! `<state_dir>/agent.lock` for its whole life; the file also names the
//! holder's pid, for the message a second agent gets. The kernel drops the
//! lock when its holder dies, so a dead agent's lock never blocks a new
//! one. The descriptor is close-on-exec, and nodes close everything above
//! their standard three anyway, so no node keeps the lock alive.
//!
//! (A host that forks without exec while it holds an agent hands the lock's
//! descriptor to that child too, as any descriptor; the lock then lasts
//! until both are gone.)

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// The lock file's name inside the state directory.
pub(crate) const LOCK_FILE: &str = "agent.lock";

/// The held lock; released by [`StateLock::release`] or when dropped.
pub(crate) struct StateLock {
    file: File,
}

impl StateLock {
    /// Releases the lock now. Explicitly, not by closing: a child being
    /// started by another thread of the host holds a copy of the
    /// descriptor until its exec, and closing ours would leave the lock
    /// held through that copy. Idempotent.
    pub(crate) fn release(&self) {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        self.release();
    }
}

/// How long a lock whose holder has died is waited for.
const HOLDER_GONE_WAIT: Duration = Duration::from_secs(5);

/// Locks `state_dir` (creating it, mode 0700, if needed) for this agent.
pub(crate) fn acquire(state_dir: &str) -> io::Result<StateLock> {
    let dir = Path::new(state_dir);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create state directory {state_dir}: {e}"),
            )
        })?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    // A host that just died may hold the lock a moment longer: its node
    // watchdog shares its descriptors and exits once it has killed the
    // nodes. So a lock whose holder is gone is waited for, briefly.
    let patience = Instant::now() + HOLDER_GONE_WAIT;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot lock {}: {e}", path.display()),
            ));
        }
        let holder = holder_pid(&mut file);
        if holder.is_some_and(|pid| !alive(pid)) && Instant::now() < patience {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let holder = holder.map_or_else(|| "pid unknown".to_owned(), |pid| format!("pid {pid}"));
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "state directory {state_dir} is in use by another agent ({holder}); \
                 give each agent a state_dir of its own"
            ),
        ));
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(StateLock { file })
}

/// The pid the lock file names.
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rfind(')')
                .map(|i| stat[i + 1..].trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_and_a_released_one_is_free() {
        let dir = std::env::temp_dir().join(format!("zma-lock-{}", std::process::id()));
        let state_dir = dir.join("state");
        let state_dir = state_dir.to_str().unwrap();
        let held = acquire(state_dir).unwrap();
        let e = acquire(state_dir).err().unwrap();
        let message = e.to_string();
        assert!(message.contains(state_dir), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(held);
        let again = acquire(state_dir).unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

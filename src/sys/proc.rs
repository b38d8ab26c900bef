//! Processes and their descriptors as the kernel offers them: pidfds,
//! process groups, `/proc`, non-blocking pipes.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Opens a pidfd for a process: readable once it has exited. Close-on-exec.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Puts a descriptor in non-blocking mode.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL take no memory.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `signal` to the process group `pid` leads (a node's: each node
/// starts a group of its own).
pub(crate) fn signal_group(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(-pid, signal) };
}

/// A process's start time in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`).
pub(crate) fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow
    // the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19)?.parse().ok()
}

/// Whether the process behind a pidfd has exited (its pidfd is readable).
pub(crate) fn pidfd_exited(pidfd: RawFd) -> bool {
    let mut fds = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd on our stack, without waiting.
    unsafe { libc::poll(&mut fds, 1, 0) > 0 }
}

/// Sends `signal` to the process behind a pidfd; true if it was sent (the
/// process exists and is not reaped).
pub(crate) fn pidfd_send_signal(pidfd: RawFd, signal: libc::c_int) -> bool {
    // SAFETY: pidfd_send_signal with no siginfo; no memory is passed.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        ) == 0
    }
}

/// Reaps the child behind `pidfd` (`waitid(P_PIDFD)`, any kind of child),
/// or with `WNOHANG` returns `None` while it runs.
pub(crate) fn wait_pidfd(pidfd: RawFd, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid fills it in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes into the siginfo_t given.
        let done = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd as libc::id_t,
                &mut info,
                libc::WEXITED | libc::__WALL | flags,
            )
        };
        if done != 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Someone else reaped it: the kernel may still know how it
                // ended.
                Some(libc::ECHILD) => return exit_info(pidfd).map(Some).ok_or(e),
                _ => return Err(e),
            }
        }
        // SAFETY: filled in by waitid for an exited child.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None); // WNOHANG, still running
        }
        // Back to a wait status: an exit code in the second byte, or the
        // signal in the low bits (and the core flag).
        let raw = match info.si_code {
            libc::CLD_EXITED => (status & 0xff) << 8,
            libc::CLD_DUMPED => (status & 0x7f) | 0x80,
            _ => status & 0x7f,
        };
        return Ok(Some(ExitStatus::from_raw(raw)));
    }
}

/// `struct pidfd_info` of `<linux/pidfd.h>`, as first published (64
/// bytes); `exit_code` (Linux 6.15) took the place of a spare field.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

/// How the process behind `pidfd` ended (a wait status), if it has and the
/// kernel kept it: readable even after someone else reaped it.
fn exit_info(pidfd: RawFd) -> Option<ExitStatus> {
    const PIDFD_INFO_EXIT: u64 = 1 << 3;
    // _IOWR(PIDFS_IOCTL_MAGIC = 0xFF, 11, struct pidfd_info)
    const PIDFD_GET_INFO: u64 =
        (3 << 30) | ((std::mem::size_of::<PidfdInfo>() as u64) << 16) | (0xFF << 8) | 11;
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: the ioctl fills in the struct given, whose size the request
    // encodes.
    let done = unsafe { libc::ioctl(pidfd, PIDFD_GET_INFO as _, &mut info) };
    (done == 0 && info.mask & PIDFD_INFO_EXIT != 0).then(|| ExitStatus::from_raw(info.exit_code))
}

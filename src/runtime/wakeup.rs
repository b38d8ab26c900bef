//! The polled mode's readiness descriptor: an eventfd that is readable
//! exactly while `zma_agent_poll` has work waiting.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd has no memory-safety preconditions; a negative
        // result is an error reported through errno.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    pub(crate) fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Makes the descriptor readable.
    #[allow(dead_code)] // used by the process supervisor
    pub(crate) fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. A
        // full counter (EAGAIN) still leaves it readable, which is all we
        // need.
        let _ = unsafe { libc::write(self.raw(), (&one as *const u64).cast(), 8) };
    }

    /// Makes the descriptor unreadable again (before `poll` does its work).
    pub(crate) fn clear(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from an eventfd we own; it
        // is non-blocking, so an empty counter returns EAGAIN at once.
        let _ = unsafe { libc::read(self.raw(), (&mut value as *mut u64).cast(), 8) };
    }
}

//! The agent's readiness source: an epoll instance holding the kick
//! eventfd and, with the process supervisor, every child's output pipes
//! and pidfd.
//!
//! In polled mode its descriptor is what `zma_agent_fd` returns: readable
//! exactly when `zma_agent_poll` has work (a child wrote or exited, or the
//! agent was kicked). In threaded mode the agent's thread sleeps on it until
//! the next deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The token of the kick eventfd; other sources use tokens from 1 up.
pub(crate) const KICK: u64 = 0;

pub(crate) struct Poller {
    epoll: OwnedFd,
    kick: OwnedFd,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 has no memory-safety preconditions.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        // SAFETY: eventfd has no memory-safety preconditions.
        let kick = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if kick < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let kick = unsafe { OwnedFd::from_raw_fd(kick) };
        let poller = Poller { epoll, kick };
        poller.add(poller.kick.as_raw_fd(), KICK)?;
        Ok(poller)
    }

    /// The epoll descriptor (readable when any source is).
    pub(crate) fn fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    /// Watches `fd` for input (level-triggered), reporting it as `token`.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both descriptors are open; `event` is a valid struct for
        // the duration of the call.
        if unsafe { libc::epoll_ctl(self.fd(), libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (call before closing it).
    pub(crate) fn remove(&self, fd: RawFd) {
        // SAFETY: a NULL event is allowed for EPOLL_CTL_DEL; an fd not in
        // the set only yields an error, which does not matter here.
        unsafe { libc::epoll_ctl(self.fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
    }

    /// Waits until a source is ready or `timeout` passes (`None`: forever);
    /// returns the ready tokens. The kick is drained here.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Vec<u64> {
        let millis = timeout.map_or(-1, |t| {
            i32::try_from(t.as_millis().min(i32::MAX as u128)).unwrap_or(i32::MAX)
        });
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: `events` is a valid buffer of 64 entries.
        let n = unsafe {
            libc::epoll_wait(self.fd(), events.as_mut_ptr(), events.len() as i32, millis)
        };
        let ready: Vec<u64> = events[..usize::try_from(n).unwrap_or(0)]
            .iter()
            .map(|e| e.u64)
            .collect();
        if ready.contains(&KICK) {
            self.drain_kick();
        }
        ready
    }

    /// Wakes whoever waits (threaded mode: new deadlines, free).
    pub(crate) fn kick(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd; a full
        // counter (EAGAIN) still leaves it readable, which is enough.
        let _ = unsafe { libc::write(self.kick.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn drain_kick(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our non-blocking
        // eventfd.
        let _ = unsafe { libc::read(self.kick.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kicks_wake_and_are_drained() {
        let poller = Poller::new().unwrap();
        assert!(poller.wait(Some(Duration::ZERO)).is_empty());
        poller.kick();
        poller.kick();
        assert_eq!(poller.wait(Some(Duration::ZERO)), vec![KICK]);
        assert!(poller.wait(Some(Duration::ZERO)).is_empty(), "drained");
    }

    #[test]
    fn other_sources_report_their_token() {
        let poller = Poller::new().unwrap();
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        poller.add(reader.as_raw_fd(), 7).unwrap();
        use std::io::Write;
        writer.write_all(b"x").unwrap();
        assert_eq!(poller.wait(Some(Duration::ZERO)), vec![7]);
        poller.remove(reader.as_raw_fd());
        assert!(poller.wait(Some(Duration::ZERO)).is_empty());
    }
}

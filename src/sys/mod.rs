//! The operating system's plumbing that the upper layers share: epoll and
//! eventfd ([`poller`]), pidfds, process groups and `/proc` ([`proc`]). Beside `text`, the lowest layer: it uses nothing
//! of the crate.

#[allow(unsafe_code)] // epoll and eventfd: the OS edge
pub(crate) mod poller;
#[allow(unsafe_code)] // pidfd_open, fcntl, kill
pub(crate) mod proc;

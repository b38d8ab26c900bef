//! The operating system's plumbing that the upper layers share: epoll and
//! eventfd ([`poller`]). Beside `text`, the lowest layer: it uses nothing
//! of the crate.

#[allow(unsafe_code)] // epoll and eventfd: the OS edge
pub(crate) mod poller;
